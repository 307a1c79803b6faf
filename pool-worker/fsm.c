/*
 * fsm.c — the lifecycle table (see fsm.h) and the pure helpers around it.
 *
 * Reading the table: each row is a state, each entry an event that is legal
 * there. Absent entries are illegal. KILL actions also record a `kill`
 * event (engine.c), FINISH a `stopped`/`failed` and a `release` one, so a
 * kind here is the cause (stop, exit, error, adopt, …) and NULL means the
 * action's own event says it all.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "fsm.h"

#define T(n, a, k) { PW_S_##n, PW_A_##a, k }
#define IGN(s) { PW_S_##s, PW_A_IGNORE, NULL }
#define EXIT_TO(n, a) [PW_E_EXIT_CLEAN] = T(n, a, "exit"), [PW_E_EXIT_ERROR] = T(n, a, "exit")
/* What PAUSING, PAUSED and RESUMING share: a stop presses the button (the
 * driver resumes the guest first), a failure kills, an exit ends it. */
#define PAUSE_COMMON(s) \
	[PW_E_TAP_READY] = IGN(s), [PW_E_BOOTED] = IGN(s), \
	[PW_E_ERROR] = T(FAILING, KILL, "error"), \
	[PW_E_STOP] = T(STOPPING, POWEROFF, "stop"), \
	[PW_E_EXIT_CLEAN] = T(STOPPED, FINISH, "exit"), \
	[PW_E_EXIT_ERROR] = T(FAILED, FINISH, "exit"), \
	[PW_E_READY] = IGN(s), [PW_E_UNREADY] = IGN(s)

static const struct pw_transition table[PW_S_COUNT][PW_E_COUNT] = {
	[PW_S_NEW] = {
		[PW_E_RUN] = T(CREATING, CREATE, "create"),
		[PW_E_SLOT] = T(PENDING, CREATE, "create"),
	},
	[PW_S_CREATING] = {
		[PW_E_TAP_READY] = T(SPAWNING, SPAWN, NULL),
		[PW_E_ERROR] = T(FAILED, FINISH, "error"),
		[PW_E_STOP] = T(STOPPED, FINISH, "stop"),
		[PW_E_TIMEOUT] = T(FAILED, FINISH, "error"),
	},
	[PW_S_PENDING] = {
		[PW_E_TAP_READY] = T(WARMING, SPAWN_WARM, NULL),
		[PW_E_ERROR] = T(GONE, DELETE, "error"),
		[PW_E_TIMEOUT] = T(GONE, DELETE, "error"),
		[PW_E_RETIRE] = T(GONE, DELETE, "retire"),
		EXIT_TO(GONE, DELETE),
	},
	[PW_S_SPAWNING] = {
		[PW_E_TAP_READY] = IGN(SPAWNING),
		[PW_E_SPAWNED] = T(STARTING, BOOT, "spawn"),
		[PW_E_ERROR] = T(FAILED, FINISH, "error"),
		[PW_E_STOP] = T(STOPPING, KILL, "stop"),
		EXIT_TO(FAILED, FINISH),
	},
	[PW_S_WARMING] = {
		[PW_E_TAP_READY] = IGN(WARMING),
		[PW_E_SPAWNED] = T(WARMING, NONE, "spawn"),
		[PW_E_WARMED] = T(WARM, NONE, "warm"),
		[PW_E_ERROR] = T(RETIRING, KILL, "error"),
		[PW_E_TIMEOUT] = T(RETIRING, KILL, "error"),
		[PW_E_RETIRE] = T(RETIRING, KILL, "retire"),
		EXIT_TO(GONE, DELETE),
		[PW_E_ADOPTED] = T(RETIRING, KILL, "adopt"),
	},
	[PW_S_WARM] = {
		[PW_E_RUN] = T(STARTING, BOOT, "create"),
		[PW_E_TAP_READY] = IGN(WARM),
		[PW_E_ERROR] = T(RETIRING, KILL, "error"),
		[PW_E_RETIRE] = T(RETIRING, KILL, "retire"),
		EXIT_TO(GONE, DELETE),
		[PW_E_ADOPTED] = T(RETIRING, KILL, "adopt"),
	},
	[PW_S_STARTING] = {
		[PW_E_TAP_READY] = IGN(STARTING),
		[PW_E_BOOTED] = T(RUNNING, NONE, "running"),
		[PW_E_ERROR] = T(FAILING, KILL, "error"),
		[PW_E_STOP] = T(STOPPING, KILL, "stop"),
		EXIT_TO(FAILED, FINISH),
		[PW_E_ADOPTED] = T(STARTING, BOOT, "adopt"),
	},
	[PW_S_RUNNING] = {
		[PW_E_TAP_READY] = IGN(RUNNING),
		[PW_E_BOOTED] = IGN(RUNNING),
		[PW_E_ERROR] = T(FAILING, KILL, "error"),
		[PW_E_STOP] = T(STOPPING, POWEROFF, "stop"),
		[PW_E_EXIT_CLEAN] = T(STOPPED, FINISH, "exit"),
		[PW_E_EXIT_ERROR] = T(FAILED, FINISH, "exit"),
		[PW_E_ADOPTED] = T(RUNNING, NONE, "adopt"),
		[PW_E_READY] = T(RUNNING, NONE, "ready"),
		[PW_E_UNREADY] = T(RUNNING, UNREADY, "not-ready"),
		[PW_E_PAUSE] = T(PAUSING, PAUSE, "pause"),
	},
	/* Recorded first, then acted: after a restart the row wins — a VMM
	 * adopted in any of these is paused or resumed as the row says. */
	[PW_S_PAUSING] = {
		PAUSE_COMMON(PAUSING),
		[PW_E_PAUSED] = T(PAUSED, ANSWER, "paused"),
		[PW_E_ADOPTED] = T(PAUSING, PAUSE, "adopt"),
	},
	[PW_S_PAUSED] = {
		PAUSE_COMMON(PAUSED),
		[PW_E_PAUSED] = IGN(PAUSED), /* re-paused after adoption */
		[PW_E_RESUME] = T(RESUMING, RESUME, "resume"),
		[PW_E_ADOPTED] = T(PAUSED, PAUSE, "adopt"),
	},
	[PW_S_RESUMING] = {
		PAUSE_COMMON(RESUMING),
		[PW_E_RESUMED] = T(RUNNING, ANSWER, "resumed"),
		[PW_E_ADOPTED] = T(RESUMING, RESUME, "adopt"),
	},
	[PW_S_STOPPING] = {
		[PW_E_TAP_READY] = IGN(STOPPING),
		[PW_E_SPAWNED] = IGN(STOPPING), /* stopped while spawning: killed */
		[PW_E_BOOTED] = IGN(STOPPING),
		[PW_E_ERROR] = T(STOPPING, KILL, NULL),
		[PW_E_STOP] = IGN(STOPPING),
		[PW_E_TICK] = T(STOPPING, PRESS, NULL),
		[PW_E_TIMEOUT] = T(STOPPING, KILL, NULL),
		EXIT_TO(STOPPED, FINISH),
		[PW_E_ADOPTED] = T(STOPPING, KILL, "adopt"),
		[PW_E_READY] = IGN(STOPPING),
		[PW_E_UNREADY] = IGN(STOPPING),
		[PW_E_PAUSED] = IGN(STOPPING),
		[PW_E_RESUMED] = IGN(STOPPING),
	},
	[PW_S_FAILING] = {
		[PW_E_TAP_READY] = IGN(FAILING),
		[PW_E_SPAWNED] = IGN(FAILING),
		[PW_E_BOOTED] = IGN(FAILING),
		[PW_E_ERROR] = IGN(FAILING),
		[PW_E_STOP] = IGN(FAILING),
		[PW_E_TIMEOUT] = T(FAILING, KILL, NULL),
		EXIT_TO(FAILED, FINISH),
		[PW_E_ADOPTED] = T(FAILING, KILL, "adopt"),
		[PW_E_READY] = IGN(FAILING),
		[PW_E_UNREADY] = IGN(FAILING),
		[PW_E_PAUSED] = IGN(FAILING),
		[PW_E_RESUMED] = IGN(FAILING),
	},
	[PW_S_RETIRING] = {
		[PW_E_TAP_READY] = IGN(RETIRING),
		[PW_E_SPAWNED] = IGN(RETIRING),
		[PW_E_WARMED] = IGN(RETIRING),
		[PW_E_ERROR] = IGN(RETIRING),
		[PW_E_RETIRE] = IGN(RETIRING),
		[PW_E_TIMEOUT] = T(RETIRING, KILL, NULL),
		EXIT_TO(GONE, DELETE),
		[PW_E_ADOPTED] = T(RETIRING, KILL, "adopt"),
	},
	[PW_S_STOPPED] = {
		[PW_E_STOP] = IGN(STOPPED),
		[PW_E_TAP_READY] = IGN(STOPPED),
		[PW_E_READY] = IGN(STOPPED),
		[PW_E_UNREADY] = IGN(STOPPED),
	},
	[PW_S_FAILED] = {
		[PW_E_STOP] = IGN(FAILED),
		[PW_E_TAP_READY] = IGN(FAILED),
		[PW_E_READY] = IGN(FAILED),
		[PW_E_UNREADY] = IGN(FAILED),
	},
	[PW_S_GONE] = {
		[PW_E_TAP_READY] = IGN(GONE),
	},
};

/* An entry is present when it names an action or moves somewhere: NEW is
 * never a target and NONE always records something, so an all-zero entry
 * (NEW, NONE, NULL) is an absent one. */
static bool present(const struct pw_transition *t)
{
	return t->next != PW_S_NEW || t->action != PW_A_NONE || t->kind;
}

const struct pw_transition *pw_fsm_step(enum pw_state s, enum pw_event ev)
{
	const struct pw_transition *t;

	if ((unsigned)s >= PW_S_COUNT || (unsigned)ev >= PW_E_COUNT)
		return NULL;
	t = &table[s][ev];
	return present(t) ? t : NULL;
}

static const char *const state_names[PW_S_COUNT] = {
	[PW_S_NEW] = "new", [PW_S_CREATING] = UI_VM_CREATING,
	[PW_S_PENDING] = UI_VM_WARMING, [PW_S_SPAWNING] = UI_VM_CREATING,
	[PW_S_WARMING] = UI_VM_WARMING, [PW_S_WARM] = UI_VM_WARM,
	[PW_S_STARTING] = UI_VM_STARTING, [PW_S_RUNNING] = UI_VM_RUNNING,
	[PW_S_PAUSING] = UI_VM_PAUSING, [PW_S_PAUSED] = UI_VM_PAUSED,
	[PW_S_RESUMING] = UI_VM_RESUMING,
	[PW_S_STOPPING] = UI_VM_STOPPING, [PW_S_FAILING] = UI_VM_FAILING,
	[PW_S_RETIRING] = UI_VM_RETIRING, [PW_S_STOPPED] = UI_VM_STOPPED,
	[PW_S_FAILED] = UI_VM_FAILED, [PW_S_GONE] = "gone",
};

static const char *const event_names[PW_E_COUNT] = {
	"run", "slot", "tap-ready", "spawned", "warmed", "booted", "error", "stop", "tick",
	"timeout", "retire", "exit-clean", "exit-error", "adopted", "ready", "not-ready",
	"pause", "resume", "paused", "resumed",
};

static const char *const action_names[PW_A_COUNT] = {
	"none", "ignore", "create", "spawn", "spawn-warm", "boot", "poweroff",
	"press", "kill", "finish", "delete", "unready", "pause", "resume", "answer",
};

const char *pw_state_name(enum pw_state s)
{
	return (unsigned)s < PW_S_COUNT ? state_names[s] : "?";
}

const char *pw_event_name(enum pw_event ev)
{
	return (unsigned)ev < PW_E_COUNT ? event_names[ev] : "?";
}

const char *pw_action_name(enum pw_action a)
{
	return (unsigned)a < PW_A_COUNT ? action_names[a] : "?";
}

/* PENDING and WARMING share "warming", CREATING and SPAWNING "creating"
 * (the spawn's pid is recorded with `starting`): a row parses as WARMING
 * or CREATING (recovery treats the pairs alike). */
int pw_state_parse(const char *name, enum pw_state *out)
{
	for (int s = PW_S_CREATING; s < PW_S_GONE; s++) {
		if (s == PW_S_PENDING || s == PW_S_SPAWNING)
			continue;
		if (strcmp(state_names[s], name) == 0) {
			*out = (enum pw_state)s;
			return 0;
		}
	}
	return -EINVAL;
}

bool pw_state_is_final(enum pw_state s)
{
	return s == PW_S_STOPPED || s == PW_S_FAILED || s == PW_S_GONE;
}

bool pw_state_is_slot(enum pw_state s)
{
	return s == PW_S_PENDING || s == PW_S_WARMING || s == PW_S_WARM ||
	       s == PW_S_RETIRING;
}

bool pw_state_is_live(enum pw_state s)
{
	return s >= PW_S_RUNNING && s <= PW_S_RESUMING;
}

bool pw_state_has_vmm(enum pw_state s)
{
	return s >= PW_S_SPAWNING && s <= PW_S_RETIRING;
}

static void describe_exit(const struct pw_exit_info *x, char *how, size_t len)
{
	if (x->signal)
		snprintf(how, len, "signal %d", x->signal);
	else if (x->status >= 0)
		snprintf(how, len, "status %lld", (long long)x->status);
	else
		snprintf(how, len, "unknown status");
}

enum pw_event pw_exit_event(const struct pw_exit_info *x, char *how, char *why, size_t len)
{
	const char *r = x->guest_shutdown;
	bool reset = r && (!strcmp(r, "guest-reset") || !strcmp(r, "guest-panic"));
	bool off = r && !strcmp(r, "guest-shutdown");

	describe_exit(x, how, len);
	if (x->signal == 0 && x->status == 0 && reset) {
		snprintf(why, len, "guest %s (vmm exited with status 0)",
			 !strcmp(r, "guest-panic") ? "panicked" : "reset");
		return PW_E_EXIT_ERROR;
	}
	snprintf(why, len, "vmm exited with %s", how);
	if (x->signal == 0 && (x->status == 0 || (x->status < 0 && off)))
		return PW_E_EXIT_CLEAN;
	return PW_E_EXIT_ERROR;
}
