/*
 * guest_main.h — the programs of uigniter-guest (main.c), the demo guest's
 * helpers in one static binary, each chosen by the name it is run as.
 */
#ifndef UI_GUEST_MAIN_H
#define UI_GUEST_MAIN_H

int ui_seed_main(int argc, char **argv);  /* uigniter-seed: seed.c */
int ui_agent_main(int argc, char **argv); /* uigniter-agent: agent.c */

#endif
