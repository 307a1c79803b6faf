/*
 * pw_metrics.c — what pool-worker counts for GET /metrics (pw_metrics.h),
 * from the transitions the engine reports:
 *   runs{origin}     STARTING → RUNNING of a VM whose start this process
 *                    saw (a VM re-adopted after a restart is not a new run)
 *   stops            a user's VM → STOPPED (slots end GONE, not counted)
 *   failures{reason} a user's VM → FAILED, by its error sentence
 *   phases           lease (CREATING → SPAWNING: its tap made), spawn
 *                    (SPAWNING → STARTING), boot (STARTING → RUNNING; a
 *                    taken slot starts here), ready (RUNNING → ready_at
 *                    set), run (the request → RUNNING)
 * The hook runs as the transition is recorded, before its batch commits: a
 * batch that does not commit (rare: a registry locked past the busy
 * timeout) has been counted all the same. The counters live in shm and
 * survive a pool-worker restart; the per-VM clocks (vm->clk) do not.
 */
#include <stdatomic.h>

#include "fsm.h"
#include "pw_metrics.h"

static void inc(_Atomic uint64_t *c)
{
	atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

static void phase(struct ui_pool_metrics *m, enum ui_phase p, uint64_t since, uint64_t now)
{
	if (since)
		ui_hist_observe(&m->phase[p], UI_HIST_PHASE, now > since ? now - since : 0);
}

/* A state left: the phase it ends, and what it counts. */
static void moved(struct ui_pool_metrics *m, struct pw_vm *vm, enum pw_state from,
		  uint64_t now)
{
	enum pw_state to = vm->state;

	if (from == PW_S_NEW && to == PW_S_CREATING)
		vm->clk.run_us = now;
	if (from == PW_S_WARM && to == PW_S_STARTING) /* a slot taken by a run */
		vm->clk.run_us = vm->clk.phase_us = now;
	if (from == PW_S_CREATING && to == PW_S_SPAWNING)
		phase(m, UI_PHASE_LEASE, vm->clk.phase_us, now);
	if (from == PW_S_SPAWNING && to == PW_S_STARTING)
		phase(m, UI_PHASE_SPAWN, vm->clk.phase_us, now);
	if (from == PW_S_STARTING && to == PW_S_RUNNING && vm->clk.run_us) {
		phase(m, UI_PHASE_BOOT, vm->clk.phase_us, now);
		phase(m, UI_PHASE_RUN, vm->clk.run_us, now);
		inc(&m->runs[vm->origin == PW_ORIGIN_SLOT ? UI_RUN_WARM : UI_RUN_COLD]);
	}
	if ((to == PW_S_FAILING || to == PW_S_FAILED) &&
	    (from == PW_S_NEW || from == PW_S_CREATING || from == PW_S_SPAWNING))
		vm->clk.early_fail = true;
	if (to == PW_S_STOPPED)
		inc(&m->stops);
	if (to == PW_S_FAILED)
		inc(&m->failures[ui_fail_reason_of(vm->row.error, vm->clk.early_fail)]);
	vm->clk.phase_us = now;
}

void pw_metrics_changed(struct ui_pool_metrics *m, struct pw_vm *vm, enum pw_state from)
{
	uint64_t now = ui_now_us();

	if (from != vm->state)
		moved(m, vm, from, now);
	if (vm->state == PW_S_RUNNING && vm->row.ready_at[0] && !vm->clk.ready_seen) {
		vm->clk.ready_seen = true;
		if (vm->clk.run_us) /* its start was ours */
			phase(m, UI_PHASE_READY, vm->clk.phase_us, now);
	}
}
