/*
 * recover.c — start-up recovery: every row a previous pool-worker left in a
 * non-final state is resolved through the state machine, like any event.
 *
 * The registry is the truth about intent, /proc about processes: a row's
 * VMM is alive and ours when its pid has the recorded start time (the
 * driver's adopt checks this through a pidfd). For each row:
 *   creating                  → ERROR: the run was interrupted (failed);
 *   VMM alive and ours        → ADOPTED: running stays running, starting is
 *                               booted again, a stop or failure that was
 *                               under way is finished with SIGKILL (the
 *                               guest already had the power button; a
 *                               worker that keeps crashing would otherwise
 *                               restart its grace period forever), a slot
 *                               is retired (never reused);
 *   otherwise                 → EXIT_ERROR "vmm gone after pool-worker
 *                               restart": stopping → stopped, slots → gone,
 *                               the rest → failed.
 * Rows are read into memory first, then resolved: no registry writes while
 * a SELECT walks. Last, VMMs of this instance that no row owns are killed
 * (orphans.c). Trusted: the registry, /proc; never shm or the dead
 * process's memory.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "fc_jail.h"
#include "log.h"
#include "orphans.h"

#define GONE "vmm gone after pool-worker restart"

struct rows {
	struct ui_vm *v;
	size_t n, cap;
};

static int collect(const struct ui_vm *vm, void *arg)
{
	struct rows *r = arg;

	if (ui_vm_state_is_final(vm->state))
		return 0;
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

/* A VM in memory for row, in the row's state (NULL: out of memory or an
 * unknown state, logged). */
static struct pw_vm *load(struct pw_engine *e, const struct ui_vm *row)
{
	const struct ui_vmm_driver *drv = pw_driver_find(row->driver);
	struct pw_vm *vm;
	enum pw_state s;

	if (pw_state_parse(row->state, &s) < 0) {
		ui_error("%s: unknown state %s in the registry: left alone", row->id,
			 row->state);
		return NULL;
	}
	if (!(vm = pw_vm_new(&e->vms, &e->env, row->id, e))) {
		ui_error("%s: out of memory during recovery", row->id);
		return NULL;
	}
	vm->row = *row;
	vm->state = vm->stored = s;
	vm->fail_status = row->error[0] && s == PW_S_FAILING ? -EIO : 0;
	pw_engine_attach(e, vm, drv ? drv : pw_engine_driver(e));
	return vm;
}

static void resolve(struct pw_engine *e, const struct ui_vm *row)
{
	struct pw_vm *vm = load(e, row);
	char err[256] = "";

	if (!vm)
		return;
	if (vm->state == PW_S_CREATING) {
		pw_engine_fire(vm, PW_E_ERROR, -EIO, "interrupted by a pool-worker restart");
		return;
	}
	if (row->vmm_pid > 0 && vm->vmm.drv->adopt(&vm->vmm, err, sizeof(err)) == 0) {
		ui_info("%s: adopted %s pid %lld (%s)", row->id, vm->vmm.drv->name,
			(long long)row->vmm_pid, row->state);
		pw_engine_fire(vm, PW_E_ADOPTED, 0, vm->state == PW_S_STOPPING ?
			       "stop interrupted by a pool-worker restart" : NULL);
		return;
	}
	ui_info("%s: %s, vmm pid %lld not adoptable%s%s", row->id, row->state,
		(long long)row->vmm_pid, err[0] ? ": " : "", err);
	pw_engine_fire(vm, PW_E_EXIT_ERROR, -EIO, GONE);
}

static void sweep(struct pw_engine *e, const char *dir)
{
	int rc = pw_sweep_vmm_dirs(e->vms, dir);

	if (rc > 0)
		ui_info("recovery: removed %d leftover VMM director%s under %s", rc,
			rc == 1 ? "y" : "ies", dir);
	else if (rc < 0)
		ui_warn("recovery: cannot sweep %s: %s", dir, strerror(-rc));
}

void pw_engine_recover(struct pw_engine *e)
{
	struct rows r = { 0 };
	char jails[PATH_MAX], vms_dir[PATH_MAX];
	int rc = ui_reg_vm_list(e->reg, NULL, collect, &r);

	if (rc < 0)
		ui_error("recovery: cannot list VMs: %s", strerror(-rc));
	if (r.n)
		ui_info("recovery: %zu VM(s) left by a previous pool-worker", r.n);
	for (size_t i = 0; i < r.n; i++)
		resolve(e, &r.v[i]);
	free(r.v);
	/* jailed Firecrackers: <chroot_base>/<exec name>/<id>/root (fc_jail.h) */
	if (!e->cfg->jailer_bin[0] || pw_jail_dir(e->cfg, "", jails, sizeof(jails)) < 0)
		jails[0] = '\0';
	else
		jails[strlen(jails) - 1] = '\0'; /* "<base>/<exec name>", no "/" */
	rc = pw_kill_orphans(e->vms, e->cfg->run_dir, jails);
	if (rc > 0)
		ui_warn("recovery: killed %d orphaned VMM process(es)", rc);
	else if (rc < 0)
		ui_warn("recovery: orphan scan: %s", strerror(-rc));
	/* what those (and VMMs gone with a crash) left: directories, jails */
	if (snprintf(vms_dir, sizeof(vms_dir), "%s/vms", e->cfg->run_dir) < (int)sizeof(vms_dir))
		sweep(e, vms_dir);
	if (*jails)
		sweep(e, jails);
}
