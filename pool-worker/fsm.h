/*
 * fsm.h — the VM lifecycle as one pure table: [state][event] → {next state,
 * action, event kind recorded}. No I/O; the engine (engine.c) looks a
 * transition up, records it in one registry transaction, then performs its
 * action. Unit-tested exhaustively (tests/unit/test_fsm.c): every state ×
 * every event.
 *
 *   run:   NEW ─RUN→ CREATING ─TAP_READY→ SPAWNING ─SPAWNED→ STARTING
 *          ─BOOTED→ RUNNING (─READY / UNREADY: recorded, stays) ─STOP→
 *          STOPPING ─EXIT→ STOPPED
 *   slot:  NEW ─SLOT→ PENDING ─TAP_READY→ WARMING (─SPAWNED: pid) ─WARMED→
 *          WARM ─RUN→ STARTING …;  RETIRE/ERROR → RETIRING ─EXIT→ GONE
 *   failure: CREATING ─ERROR→ FAILED; STARTING/RUNNING ─ERROR→ FAILING
 *          ─EXIT→ FAILED
 *   pause: RUNNING ─PAUSE→ PAUSING ─PAUSED→ PAUSED ─RESUME→ RESUMING
 *          ─RESUMED→ RUNNING; STOP from any of them → STOPPING (poweroff:
 *          the driver resumes the guest first, it must hear the button)
 *
 * docs/ARCHITECTURE.md shows the whole table. A NULL lookup is an illegal
 * event: the engine refuses and logs it (nothing is recorded or done). An
 * IGNORE entry is legal but changes nothing (a late report: a driver's
 * "booted" after a stop began, a tap note for a VM that has its tap).
 */
#ifndef PW_FSM_H
#define PW_FSM_H

#include <stdbool.h>

#include "driver.h"
#include "vm.h"

enum pw_event {
	PW_E_RUN,         /* a run: creates the VM, or takes a warm slot */
	PW_E_SLOT,        /* the pool creates a slot */
	PW_E_TAP_READY,   /* the lease's tap exists */
	PW_E_SPAWNED,     /* driver: the VMM process exists (its pid) */
	PW_E_WARMED,      /* driver: the slot is prepared */
	PW_E_BOOTED,      /* driver: the guest runs */
	PW_E_ERROR,       /* something failed: spawn, boot, warm, tap, registry */
	PW_E_STOP,        /* a stop request */
	PW_E_TICK,        /* while stopping: press the power button again */
	PW_E_TIMEOUT,     /* the state's deadline passed */
	PW_E_RETIRE,      /* the pool discards a slot */
	PW_E_EXIT_CLEAN,  /* VMM gone after the guest powered off */
	PW_E_EXIT_ERROR,  /* VMM gone otherwise (crash, signal, not found) */
	PW_E_ADOPTED,     /* recovery: the row's VMM is alive and ours */
	PW_E_READY,       /* the image's ready rule held (ready.h) */
	PW_E_UNREADY,     /* it did not by limits.ready_timeout_ms */
	PW_E_PAUSE,       /* a pause request */
	PW_E_RESUME,      /* a resume request */
	PW_E_PAUSED,      /* driver: the guest's vcpus are stopped */
	PW_E_RESUMED,     /* driver: they run again */
	PW_E_COUNT
};

enum pw_action {
	PW_A_NONE,        /* record only */
	PW_A_IGNORE,      /* legal; nothing recorded, nothing done */
	PW_A_CREATE,      /* insert row + bind lease; go on once the tap is ready */
	PW_A_SPAWN,       /* start spawning the VMM (SPAWNED follows) */
	PW_A_SPAWN_WARM,  /* start spawning and preparing it (SPAWNED, WARMED) */
	PW_A_BOOT,        /* (re)start the guest of a spawned VMM */
	PW_A_POWEROFF,    /* press the power button; tick + deadline */
	PW_A_PRESS,       /* press it again */
	PW_A_KILL,        /* SIGKILL; the exit (or its absence) comes as EXIT */
	PW_A_FINISH,      /* final row, lease released, everyone answered */
	PW_A_DELETE,      /* slot gone: row and lease deleted */
	PW_A_UNREADY,     /* runs waiting for ready: answered "not ready" */
	PW_A_PAUSE,       /* the driver pauses the guest (PAUSED follows) */
	PW_A_RESUME,      /* the driver resumes it (RESUMED follows) */
	PW_A_ANSWER,      /* pause/resume requests answered */
	PW_A_COUNT
};

struct pw_transition {
	enum pw_state next;
	enum pw_action action;
	const char *kind;     /* event row recorded with it; NULL: none */
};

/* The transition, or NULL when ev is illegal in s. */
const struct pw_transition *pw_fsm_step(enum pw_state s, enum pw_event ev);

const char *pw_state_name(enum pw_state s);   /* the registry's string */
const char *pw_event_name(enum pw_event ev);
const char *pw_action_name(enum pw_action a);
/* The state a registry string names; -EINVAL for an unknown one. */
int pw_state_parse(const char *name, enum pw_state *out);

bool pw_state_is_final(enum pw_state s);     /* STOPPED, FAILED, GONE */
bool pw_state_is_slot(enum pw_state s);      /* PENDING … RETIRING */
/* RUNNING, PAUSING, PAUSED, RESUMING: a run's guest that was started. */
bool pw_state_is_live(enum pw_state s);
/* A state in which the VM has (or may have) a VMM process. */
bool pw_state_has_vmm(enum pw_state s);

/*
 * How a VMM's exit counts: EXIT_CLEAN when the guest powered itself off
 * (status 0 and no reset or panic seen, or — adopted, status unknown — QMP
 * saw "guest-shutdown"), else EXIT_ERROR. how (the event's detail): "status
 * 1", "signal 9", "unknown status"; why (the error, for EXIT_ERROR): "vmm
 * exited with signal 9", "guest panicked (vmm exited with status 0)". Both
 * buffers are len bytes.
 */
enum pw_event pw_exit_event(const struct pw_exit_info *x, char *how, char *why,
			    size_t len);

#endif
