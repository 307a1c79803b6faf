/*
 * recover.c — start-up recovery: resolve every registry row a previous
 * pool-worker left in a non-final state.
 *
 * For each row in creating/starting/running/stopping:
 *   - its VMM is alive and is the same process (pidfd + /proc start time,
 *     checked by the driver's adopt) → adopt it: watch its exit, reconnect
 *     its API; a `starting` row is booted to `running` (QMP query-status),
 *     a `stopping` row is stopped again (or killed, if it was failing:
 *     `stopping` with `error` set);
 *   - otherwise → release its lease and write `stopped` (it was stopping)
 *     or `failed` "vmm gone after pool-worker restart".
 * Rows in `warm` (warm slots, pool.h) are never re-used: their VMM is killed
 * if it is still ours (adopt, then SIGKILL through the pidfd), the lease is
 * released and the row deleted; the pool then warms new slots.
 * Rows are read into memory first, then resolved: no registry writes while
 * a SELECT is walking. Last, VMMs of this instance that no row owns are
 * killed (orphans.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "orphans.h"
#include "worker.h"

#define GONE "vmm gone after pool-worker restart"

struct rows {
	struct ui_vm *v;
	size_t n, cap;
};

static int collect(const struct ui_vm *vm, void *arg)
{
	struct rows *r = arg;

	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 16;
		struct ui_vm *nv = realloc(r->v, cap * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		r->v = nv;
		r->cap = cap;
	}
	r->v[r->n++] = *vm;
	return 0;
}

static void recover_gone(struct pw_vm *vm)
{
	bool was_stopping = strcmp(vm->row.state, UI_VM_STOPPING) == 0;

	if (was_stopping && !vm->row.error[0])
		pw_vm_finish_gone(vm, UI_VM_STOPPED, NULL);
	else
		pw_vm_finish_gone(vm, UI_VM_FAILED,
				  vm->row.error[0] ? vm->row.error : GONE);
}

static void recover_adopted(struct pw_vm *vm)
{
	const char *state = vm->row.state;
	int rc;

	vm->vmm_alive = true;
	vm->adopted = true;
	pw_vm_save(vm, NULL, "adopt", NULL);
	if (strcmp(state, UI_VM_RUNNING) == 0) {
		vm->phase = PW_RUNNING;
	} else if (strcmp(state, UI_VM_STARTING) == 0) {
		vm->phase = PW_STARTING;
		rc = vm->drv->boot(vm);
		if (rc < 0)
			pw_vm_fail(vm, rc, "cannot reconnect to the VMM");
	} else if (vm->row.error[0]) { /* stopping because it was failing */
		pw_vm_fail(vm, -EIO, vm->row.error);
	} else {
		vm->phase = PW_STOPPING;
		pw_vm_resume_stop(vm);
	}
}

static void recover_slot(struct pw_vm *vm, bool alive)
{
	ui_info("%s: warm slot left by a previous pool-worker (vmm pid %lld %s): "
		"reclaiming", vm->row.id, (long long)vm->row.vmm_pid,
		alive ? "alive" : "gone");
	vm->slot = true;
	vm->vmm_alive = alive;
	vm->adopted = alive;
	vm->phase = PW_WARM;
	pw_slot_retire(vm, "left by a previous pool-worker");
}

static void recover_one(struct pw_worker *w, const struct ui_vm *row)
{
	struct pw_vm *vm = pw_vm_new(w, row->id);
	char err[256] = "";
	int rc = -ESRCH;

	if (!vm) {
		ui_error("%s: out of memory during recovery", row->id);
		return;
	}
	vm->row = *row;
	vm->has_lease = true; /* NET_RELEASE of a lease netd lacks is harmless */
	vm->drv = pw_driver_find(row->driver);
	if (strcmp(row->state, UI_VM_CREATING) != 0 && vm->drv)
		rc = vm->drv->adopt(vm, err, sizeof(err));
	if (strcmp(row->state, UI_VM_WARM) == 0) {
		recover_slot(vm, rc == 0);
		return;
	}
	if (rc == 0) {
		ui_info("%s: adopted %s pid %lld (%s)", row->id, row->driver,
			(long long)row->vmm_pid, row->state);
		recover_adopted(vm);
		return;
	}
	ui_info("%s: %s, vmm pid %lld not adoptable%s%s", row->id, row->state,
		(long long)row->vmm_pid, err[0] ? ": " : "", err);
	recover_gone(vm);
}

void pw_recover(struct pw_worker *w)
{
	static const char *const states[] = { UI_VM_CREATING, UI_VM_STARTING,
					      UI_VM_RUNNING, UI_VM_STOPPING,
					      UI_VM_WARM };
	struct rows r = { 0 };
	int rc;

	for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++) {
		rc = ui_reg_vm_list(w->reg, states[i], collect, &r);

		if (rc < 0)
			ui_error("recovery: cannot list %s VMs: %s", states[i],
				 strerror(-rc));
	}
	if (r.n)
		ui_info("recovery: %zu VM(s) left by a previous pool-worker", r.n);
	for (size_t i = 0; i < r.n; i++)
		recover_one(w, &r.v[i]);
	free(r.v);
	rc = pw_kill_orphans(w);
	if (rc > 0)
		ui_warn("recovery: killed %d orphaned VMM process(es)", rc);
	pw_pool_table_update(w);
}
