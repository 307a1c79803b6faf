/*
 * test_fsm.c — the VM lifecycle table (pool-worker/fsm.c), every state ×
 * every event. The expected lifecycle is written here independently of
 * the table (the legal pairs and where they lead), and the table is held
 * to properties any lifecycle must have: nothing returns to NEW, final
 * states only ignore, a VMM can die in any state that has one, every state
 * is reachable and can reach an end, recovery can resolve every stored
 * state, kills only where there is a VMM.
 */
#include <errno.h>
#include <string.h>

#include "../../pool-worker/fsm.h"
#include "t.h"

struct want {
	enum pw_state s;
	enum pw_event ev;
	enum pw_state next;
	enum pw_action a;
};

#define W(s, e, n, a) { PW_S_##s, PW_E_##e, PW_S_##n, PW_A_##a }

/* Every legal pair that does something (IGNORE ones are listed apart). */
static const struct want lifecycle[] = {
	W(NEW, RUN, CREATING, CREATE), W(NEW, SLOT, PENDING, CREATE),
	W(CREATING, TAP_READY, SPAWNING, SPAWN), W(CREATING, ERROR, FAILED, FINISH),
	W(CREATING, STOP, STOPPED, FINISH), W(CREATING, TIMEOUT, FAILED, FINISH),
	W(PENDING, TAP_READY, WARMING, SPAWN_WARM), W(PENDING, ERROR, GONE, DELETE),
	W(PENDING, TIMEOUT, GONE, DELETE), W(PENDING, RETIRE, GONE, DELETE),
	W(PENDING, EXIT_CLEAN, GONE, DELETE), W(PENDING, EXIT_ERROR, GONE, DELETE),
	W(SPAWNING, SPAWNED, STARTING, BOOT), W(SPAWNING, ERROR, FAILED, FINISH),
	W(SPAWNING, STOP, STOPPING, KILL), W(SPAWNING, EXIT_CLEAN, FAILED, FINISH),
	W(SPAWNING, EXIT_ERROR, FAILED, FINISH),
	W(WARMING, SPAWNED, WARMING, NONE),
	W(WARMING, WARMED, WARM, NONE), W(WARMING, ERROR, RETIRING, KILL),
	W(WARMING, TIMEOUT, RETIRING, KILL), W(WARMING, RETIRE, RETIRING, KILL),
	W(WARMING, EXIT_CLEAN, GONE, DELETE), W(WARMING, EXIT_ERROR, GONE, DELETE),
	W(WARMING, ADOPTED, RETIRING, KILL),
	W(WARM, RUN, STARTING, BOOT), W(WARM, ERROR, RETIRING, KILL),
	W(WARM, RETIRE, RETIRING, KILL), W(WARM, EXIT_CLEAN, GONE, DELETE),
	W(WARM, EXIT_ERROR, GONE, DELETE), W(WARM, ADOPTED, RETIRING, KILL),
	W(STARTING, BOOTED, RUNNING, NONE), W(STARTING, ERROR, FAILING, KILL),
	W(STARTING, STOP, STOPPING, KILL), W(STARTING, EXIT_CLEAN, FAILED, FINISH),
	W(STARTING, EXIT_ERROR, FAILED, FINISH), W(STARTING, ADOPTED, STARTING, BOOT),
	W(RUNNING, ERROR, FAILING, KILL), W(RUNNING, STOP, STOPPING, POWEROFF),
	W(RUNNING, EXIT_CLEAN, STOPPED, FINISH), W(RUNNING, EXIT_ERROR, FAILED, FINISH),
	W(RUNNING, ADOPTED, RUNNING, NONE), W(RUNNING, READY, RUNNING, NONE),
	W(RUNNING, UNREADY, RUNNING, UNREADY), W(RUNNING, PAUSE, PAUSING, PAUSE),
	/* pause and resume: the driver acts after the record; a stop presses
	 * the button (the driver resumes first), a failure kills; after a
	 * restart the row wins (the adopted VMM is paused / resumed again) */
	W(PAUSING, PAUSED, PAUSED, ANSWER), W(PAUSING, ERROR, FAILING, KILL),
	W(PAUSING, STOP, STOPPING, POWEROFF), W(PAUSING, EXIT_CLEAN, STOPPED, FINISH),
	W(PAUSING, EXIT_ERROR, FAILED, FINISH), W(PAUSING, ADOPTED, PAUSING, PAUSE),
	W(PAUSED, RESUME, RESUMING, RESUME), W(PAUSED, ERROR, FAILING, KILL),
	W(PAUSED, STOP, STOPPING, POWEROFF), W(PAUSED, EXIT_CLEAN, STOPPED, FINISH),
	W(PAUSED, EXIT_ERROR, FAILED, FINISH), W(PAUSED, ADOPTED, PAUSED, PAUSE),
	W(RESUMING, RESUMED, RUNNING, ANSWER), W(RESUMING, ERROR, FAILING, KILL),
	W(RESUMING, STOP, STOPPING, POWEROFF), W(RESUMING, EXIT_CLEAN, STOPPED, FINISH),
	W(RESUMING, EXIT_ERROR, FAILED, FINISH), W(RESUMING, ADOPTED, RESUMING, RESUME),
	W(STOPPING, ERROR, STOPPING, KILL), W(STOPPING, TICK, STOPPING, PRESS),
	W(STOPPING, TIMEOUT, STOPPING, KILL), W(STOPPING, EXIT_CLEAN, STOPPED, FINISH),
	W(STOPPING, EXIT_ERROR, STOPPED, FINISH), W(STOPPING, ADOPTED, STOPPING, KILL),
	W(FAILING, TIMEOUT, FAILING, KILL), W(FAILING, EXIT_CLEAN, FAILED, FINISH),
	W(FAILING, EXIT_ERROR, FAILED, FINISH), W(FAILING, ADOPTED, FAILING, KILL),
	W(RETIRING, TIMEOUT, RETIRING, KILL), W(RETIRING, EXIT_CLEAN, GONE, DELETE),
	W(RETIRING, EXIT_ERROR, GONE, DELETE), W(RETIRING, ADOPTED, RETIRING, KILL),
};

/* Legal, but changing nothing: late reports and repeated requests. */
static const struct { enum pw_state s; enum pw_event ev; } ignored[] = {
	{ PW_S_SPAWNING, PW_E_TAP_READY },
	{ PW_S_WARMING, PW_E_TAP_READY }, { PW_S_WARM, PW_E_TAP_READY },
	{ PW_S_STARTING, PW_E_TAP_READY }, { PW_S_RUNNING, PW_E_TAP_READY },
	{ PW_S_RUNNING, PW_E_BOOTED }, { PW_S_STOPPING, PW_E_TAP_READY },
	{ PW_S_STOPPING, PW_E_BOOTED }, { PW_S_STOPPING, PW_E_STOP },
	{ PW_S_STOPPING, PW_E_SPAWNED }, { PW_S_FAILING, PW_E_SPAWNED },
	{ PW_S_RETIRING, PW_E_SPAWNED },
	{ PW_S_FAILING, PW_E_TAP_READY }, { PW_S_FAILING, PW_E_BOOTED },
	{ PW_S_FAILING, PW_E_ERROR }, { PW_S_FAILING, PW_E_STOP },
	{ PW_S_RETIRING, PW_E_TAP_READY }, { PW_S_RETIRING, PW_E_WARMED },
	{ PW_S_RETIRING, PW_E_ERROR }, { PW_S_RETIRING, PW_E_RETIRE },
	{ PW_S_STOPPED, PW_E_STOP }, { PW_S_STOPPED, PW_E_TAP_READY },
	{ PW_S_FAILED, PW_E_STOP }, { PW_S_FAILED, PW_E_TAP_READY },
	{ PW_S_GONE, PW_E_TAP_READY },
	{ PW_S_STOPPING, PW_E_READY }, { PW_S_STOPPING, PW_E_UNREADY },
	{ PW_S_FAILING, PW_E_READY }, { PW_S_FAILING, PW_E_UNREADY },
	{ PW_S_STOPPED, PW_E_READY }, { PW_S_STOPPED, PW_E_UNREADY },
	{ PW_S_FAILED, PW_E_READY }, { PW_S_FAILED, PW_E_UNREADY },
	{ PW_S_PAUSING, PW_E_TAP_READY }, { PW_S_PAUSING, PW_E_BOOTED },
	{ PW_S_PAUSING, PW_E_READY }, { PW_S_PAUSING, PW_E_UNREADY },
	{ PW_S_PAUSED, PW_E_TAP_READY }, { PW_S_PAUSED, PW_E_BOOTED },
	{ PW_S_PAUSED, PW_E_READY }, { PW_S_PAUSED, PW_E_UNREADY },
	{ PW_S_PAUSED, PW_E_PAUSED },
	{ PW_S_RESUMING, PW_E_TAP_READY }, { PW_S_RESUMING, PW_E_BOOTED },
	{ PW_S_RESUMING, PW_E_READY }, { PW_S_RESUMING, PW_E_UNREADY },
	{ PW_S_STOPPING, PW_E_PAUSED }, { PW_S_STOPPING, PW_E_RESUMED },
	{ PW_S_FAILING, PW_E_PAUSED }, { PW_S_FAILING, PW_E_RESUMED },
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const struct want *wanted(enum pw_state s, enum pw_event ev)
{
	for (size_t i = 0; i < N(lifecycle); i++)
		if (lifecycle[i].s == s && lifecycle[i].ev == ev)
			return &lifecycle[i];
	return NULL;
}

static bool is_ignored(enum pw_state s, enum pw_event ev)
{
	for (size_t i = 0; i < N(ignored); i++)
		if (ignored[i].s == s && ignored[i].ev == ev)
			return true;
	return false;
}

/* Every state × every event: legal ones as the lifecycle says, ignored
 * ones ignored, every other one refused. */
static void t_every_pair(void)
{
	unsigned legal = 0, refused = 0;

	for (int s = 0; s < PW_S_COUNT; s++) {
		for (int ev = 0; ev < PW_E_COUNT; ev++) {
			const struct pw_transition *t = pw_fsm_step(s, ev);
			const struct want *w = wanted(s, ev);

			if (w) {
				if (!t || t->next != w->next || t->action != w->a)
					T_FAIL("%s × %s: got %s/%s, want %s/%s", pw_state_name(s),
					       pw_event_name(ev), t ? pw_state_name(t->next) : "refused",
					       t ? pw_action_name(t->action) : "-",
					       pw_state_name(w->next), pw_action_name(w->a));
				legal++;
			} else if (is_ignored(s, ev)) {
				if (!t || t->action != PW_A_IGNORE || t->next != (enum pw_state)s)
					T_FAIL("%s × %s: should be ignored", pw_state_name(s),
					       pw_event_name(ev));
			} else if (t) {
				T_FAIL("%s × %s: should be refused, goes to %s", pw_state_name(s),
				       pw_event_name(ev), pw_state_name(t->next));
			} else {
				refused++;
			}
		}
	}
	T_EQ_INT(legal, N(lifecycle));
	T_ASSERT(refused > 0);
	T_ASSERT(pw_fsm_step(PW_S_COUNT, PW_E_RUN) == NULL);
	T_ASSERT(pw_fsm_step(PW_S_RUNNING, PW_E_COUNT) == NULL);
}

static void t_never_back_to_new(void)
{
	for (int s = 0; s < PW_S_COUNT; s++)
		for (int ev = 0; ev < PW_E_COUNT; ev++) {
			const struct pw_transition *t = pw_fsm_step(s, ev);

			T_ASSERT(!t || t->next != PW_S_NEW);
		}
}

static void t_final_states_only_ignore(void)
{
	for (int s = 0; s < PW_S_COUNT; s++) {
		if (!pw_state_is_final(s))
			continue;
		for (int ev = 0; ev < PW_E_COUNT; ev++) {
			const struct pw_transition *t = pw_fsm_step(s, ev);

			T_ASSERT(!t || t->action == PW_A_IGNORE);
		}
	}
}

/* A VMM can die at any moment: every state that may have one takes both
 * exits, towards an end. */
static void t_vmm_can_die_anywhere(void)
{
	for (int s = 0; s < PW_S_COUNT; s++) {
		if (!pw_state_has_vmm(s))
			continue;
		for (int ev = PW_E_EXIT_CLEAN; ev <= PW_E_EXIT_ERROR; ev++) {
			const struct pw_transition *t = pw_fsm_step(s, ev);

			if (!t || !pw_state_is_final(t->next))
				T_FAIL("%s × %s does not end the VM", pw_state_name(s),
				       pw_event_name(ev));
		}
	}
}

/* Kills only where a VMM may be; final writes only into final states. */
static void t_actions_fit_states(void)
{
	for (int s = 0; s < PW_S_COUNT; s++)
		for (int ev = 0; ev < PW_E_COUNT; ev++) {
			const struct pw_transition *t = pw_fsm_step(s, ev);

			if (!t)
				continue;
			if (t->action == PW_A_KILL || t->action == PW_A_POWEROFF ||
			    t->action == PW_A_PRESS || t->action == PW_A_BOOT ||
			    t->action == PW_A_PAUSE || t->action == PW_A_RESUME)
				T_ASSERT(pw_state_has_vmm(s) && pw_state_has_vmm(t->next));
			if (t->action == PW_A_FINISH)
				T_ASSERT(t->next == PW_S_STOPPED || t->next == PW_S_FAILED);
			if (t->action == PW_A_DELETE)
				T_ASSERT(t->next == PW_S_GONE && pw_state_is_slot(s));
			if (t->action == PW_A_CREATE)
				T_ASSERT(s == PW_S_NEW);
			if (t->action == PW_A_SPAWN || t->action == PW_A_SPAWN_WARM)
				T_ASSERT(!pw_state_has_vmm(s) && pw_state_has_vmm(t->next));
		}
}

/* Breadth-first over the table from NEW: every state is reachable; from
 * every state an end is reachable. */
static void t_reachable_and_live(void)
{
	bool seen[PW_S_COUNT] = { [PW_S_NEW] = true };
	bool ends[PW_S_COUNT] = { false };
	bool grew = true;

	while (grew) {
		grew = false;
		for (int s = 0; s < PW_S_COUNT; s++)
			for (int ev = 0; ev < PW_E_COUNT; ev++) {
				const struct pw_transition *t = pw_fsm_step(s, ev);

				if (t && seen[s] && !seen[t->next])
					seen[t->next] = grew = true;
				if (t && !ends[s] && (pw_state_is_final(t->next) || ends[t->next]))
					ends[s] = grew = true;
			}
	}
	for (int s = 0; s < PW_S_COUNT; s++) {
		if (!seen[s])
			T_FAIL("%s is unreachable", pw_state_name(s));
		if (!pw_state_is_final(s) && !ends[s])
			T_FAIL("%s can never end", pw_state_name(s));
	}
}

/* Recovery fires ERROR at a creating row, ADOPTED or EXIT_ERROR at any
 * other stored state: each must be legal for every state a row can hold. */
static void t_recovery_resolves_every_stored_state(void)
{
	static const char *const stored[] = {
		UI_VM_CREATING, UI_VM_WARMING, UI_VM_WARM, UI_VM_STARTING, UI_VM_RUNNING,
		UI_VM_STOPPING, UI_VM_FAILING, UI_VM_RETIRING,
	};

	for (size_t i = 0; i < N(stored); i++) {
		enum pw_state s;

		T_EQ_INT(pw_state_parse(stored[i], &s), 0);
		T_EQ_STR(pw_state_name(s), stored[i]);
		if (s == PW_S_CREATING) {
			T_ASSERT(pw_state_is_final(pw_fsm_step(s, PW_E_ERROR)->next));
			continue;
		}
		T_ASSERT(pw_fsm_step(s, PW_E_ADOPTED) != NULL);
		T_ASSERT(pw_fsm_step(s, PW_E_EXIT_ERROR) != NULL);
	}
	T_EQ_INT(pw_state_parse("bogus", &(enum pw_state){ 0 }), -EINVAL);
	T_EQ_INT(pw_state_parse("new", &(enum pw_state){ 0 }), -EINVAL);
	T_EQ_STR(pw_state_name(PW_S_PENDING), UI_VM_WARMING);
	T_EQ_STR(pw_state_name(PW_S_SPAWNING), UI_VM_CREATING);
}

static void t_slots_hidden_runs_visible(void)
{
	for (int s = 0; s < PW_S_COUNT; s++)
		T_EQ_INT(pw_state_is_slot(s), ui_vm_state_is_slot(pw_state_name(s)));
	T_ASSERT(pw_fsm_step(PW_S_WARM, PW_E_STOP) == NULL);   /* nobody's VM */
	T_ASSERT(pw_fsm_step(PW_S_RUNNING, PW_E_RETIRE) == NULL);
}

static void t_exit_classification(void)
{
	static const struct {
		struct pw_exit_info x;
		enum pw_event ev;
		const char *how, *why;
	} cases[] = {
		{ { 0, 0, NULL }, PW_E_EXIT_CLEAN, "status 0", "vmm exited with status 0" },
		{ { 0, 0, "guest-shutdown" }, PW_E_EXIT_CLEAN, "status 0", NULL },
		{ { -1, 0, "guest-shutdown" }, PW_E_EXIT_CLEAN, "unknown status", NULL },
		{ { 0, 0, "guest-panic" }, PW_E_EXIT_ERROR, "status 0",
		  "guest panicked (vmm exited with status 0)" },
		{ { 0, 0, "guest-reset" }, PW_E_EXIT_ERROR, "status 0",
		  "guest reset (vmm exited with status 0)" },
		{ { 1, 0, NULL }, PW_E_EXIT_ERROR, "status 1", "vmm exited with status 1" },
		{ { -1, 0, NULL }, PW_E_EXIT_ERROR, "unknown status",
		  "vmm exited with unknown status" },
		{ { -1, 9, NULL }, PW_E_EXIT_ERROR, "signal 9", "vmm exited with signal 9" },
		{ { 0, 15, "guest-shutdown" }, PW_E_EXIT_ERROR, "signal 15", NULL },
	};

	for (size_t i = 0; i < N(cases); i++) {
		char how[64], why[64];

		T_EQ_INT(pw_exit_event(&cases[i].x, how, why, sizeof(how)), cases[i].ev);
		T_EQ_STR(how, cases[i].how);
		if (cases[i].why)
			T_EQ_STR(why, cases[i].why);
	}
}

int main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		T_CASE(t_every_pair), T_CASE(t_never_back_to_new),
		T_CASE(t_final_states_only_ignore), T_CASE(t_vmm_can_die_anywhere),
		T_CASE(t_actions_fit_states), T_CASE(t_reachable_and_live),
		T_CASE(t_recovery_resolves_every_stored_state),
		T_CASE(t_slots_hidden_runs_visible), T_CASE(t_exit_classification),
		{ 0 },
	};
	return t_run(argc, argv, cases);
}
