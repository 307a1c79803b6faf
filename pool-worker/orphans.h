/*
 * orphans.h — kill VMM processes of this instance that no VM owns.
 */
#ifndef PW_ORPHANS_H
#define PW_ORPHANS_H

struct pw_worker;

/* Returns how many orphans were killed. Call after recovery has adopted
 * every live VMM the registry knows. */
int pw_kill_orphans(struct pw_worker *w);

#endif
