/*
 * fsmtable.c — prints the state machine of pool-worker/fsm.c as the
 * Markdown table in docs/ARCHITECTURE.md ("The VM state machine"), so the
 * document is generated from the table itself:
 *   make build/tools/fsmtable && build/tools/fsmtable
 * A cell: the next state and its action ("RUNNING "), the action alone
 * when the state stays ("kill"), "·" for a legal event that changes
 * nothing, empty for an illegal one.
 */
#include <stdio.h>

#include "../../pool-worker/fsm.h"

static const char *const upper[PW_S_COUNT] = {
	"NEW", "CREATING", "PENDING", "SPAWNING", "WARMING", "WARM", "STARTING", "RUNNING",
	"PAUSING", "PAUSED", "RESUMING", "STOPPING", "FAILING", "RETIRING", "STOPPED",
	"FAILED", "GONE",
};

int main(void)
{
	printf("| state ╲ event |");
	for (int ev = 0; ev < PW_E_COUNT; ev++)
		printf(" %s |", pw_event_name(ev));
	printf("\n|---|");
	for (int ev = 0; ev < PW_E_COUNT; ev++)
		printf("---|");
	printf("\n");
	for (int s = 0; s < PW_S_COUNT; s++) {
		printf("| **%s** |", upper[s] ? upper[s] : "?");
		for (int ev = 0; ev < PW_E_COUNT; ev++) {
			const struct pw_transition *t = pw_fsm_step(s, ev);

			if (!t)
				printf(" |");
			else if (t->action == PW_A_IGNORE)
				printf(" · |");
			else if (t->next == (enum pw_state)s)
				printf(" %s |", pw_action_name(t->action));
			else
				printf(" %s %s |", upper[t->next],
				       t->action == PW_A_NONE ? "" : pw_action_name(t->action));
		}
		printf("\n");
	}
	return 0;
}
