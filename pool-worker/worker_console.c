/*
 * worker_console.c — the console logs' cap and sweep on pool-worker's
 * loop (the rule and its bound: console.h). One timer, every
 * PW_CONSOLE_CHECK_MS: each VM in memory with a VMM (spawned or adopted)
 * has its log checked (one stat) and rotated past limits.console_bytes;
 * and a sweep pass, started at start-up and every CONSOLE_SWEEP_MS, goes
 * on by CONSOLE_SWEEP_SLICE directory entries a tick, removing the files
 * of VMs that have neither a row nor a place in memory.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "shm.h"
#include "worker.h"

#define CONSOLE_SWEEP_MS 60000
#define CONSOLE_SWEEP_SLICE 256

static void rotate_all(struct pw_worker *w)
{
	uint64_t cap = w->d->cfg.console_bytes;

	for (struct pw_vm *vm = w->engine.vms; vm; vm = vm->next) {
		int rc;

		if (vm->row.vmm_pid <= 0 || !vm->row.console_log[0])
			continue;
		rc = pw_console_rotate(vm->row.console_log, cap);
		if (rc > 0)
			ui_debug("%s: console log rotated (limits.console_bytes %llu)", vm->row.id,
				 (unsigned long long)cap);
		else if (rc < 0)
			ui_warn("%s: cannot rotate its console log %s: %s", vm->row.id,
				vm->row.console_log, strerror(-rc));
	}
}

/* A VM's files stay while it is in memory or has a row (or the registry
 * cannot say). */
static bool console_owned(const char *id, void *arg)
{
	struct pw_worker *w = arg;
	static struct ui_vm row; /* ~20 KiB; the loop is single-threaded */

	if (pw_vm_find(w->engine.vms, id))
		return true;
	return ui_reg_vm_get(w->d->reg, id, &row) != -ENOENT;
}

static void sweep_step(struct pw_worker *w)
{
	char dir[PATH_MAX + 8];
	unsigned removed = 0;
	int rc;

	if (!w->console_sweep.dir && ui_now_ms() < w->console_sweep_at)
		return;
	snprintf(dir, sizeof(dir), "%s/vms", w->d->cfg.state_dir);
	rc = pw_console_sweep_step(&w->console_sweep, dir, CONSOLE_SWEEP_SLICE, console_owned, w,
				   &removed);
	if (rc <= 0)
		w->console_sweep_at = ui_now_ms() + CONSOLE_SWEEP_MS;
	if (rc < 0)
		ui_warn("console sweep: cannot read %s: %s", dir, strerror(-rc));
	if (removed)
		ui_info("console sweep: removed %u file(s) of VMs that are gone", removed);
}

static void on_console_timer(uv_timer_t *t)
{
	struct pw_worker *w = t->data;

	rotate_all(w);
	sweep_step(w);
}

int pw_worker_console_start(struct pw_worker *w)
{
	int rc;

	if ((rc = uv_timer_init(&w->d->loop, &w->console_timer)) < 0)
		return rc;
	w->console_timer.data = w;
	w->console_sweep_at = 0; /* a pass at once: what a crash or a prune left */
	uv_unref((uv_handle_t *)&w->console_timer);
	return uv_timer_start(&w->console_timer, on_console_timer, PW_CONSOLE_CHECK_MS,
			      PW_CONSOLE_CHECK_MS);
}

void pw_worker_console_fini(struct pw_worker *w)
{
	pw_console_sweep_end(&w->console_sweep);
}
