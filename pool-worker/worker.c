/*
 * worker.c — pool-worker's transport (see worker.h): ring traffic, the
 * engine's hooks, signals and the tick.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "accel.h"
#include "log.h"
#include "pw_metrics.h"
#include "ring_vm.h"
#include "vmm_proc.h"
#include "worker.h"

static struct pw_worker *of_engine(struct pw_engine *e)
{
	return e->hooks.arg;
}

/* ---- the engine's hooks ----------------------------------------------------- */

static void hook_reply(struct pw_engine *e, const struct pw_waiter *x, int status,
		       uint32_t flags, const char *vm_id, const char *err)
{
	struct pw_worker *w = of_engine(e);
	struct ui_msg m = { .req_id = x->req_id, .gen = x->gen, .op = UI_OP_REPLY,
			    .req_op = x->op, .status = status, .flags = flags };

	if (vm_id)
		snprintf(m.vm_id, sizeof(m.vm_id), "%s", vm_id);
	if (err && status != 0)
		snprintf(m.error, sizeof(m.error), "%s", err);
	if (ui_ring_writer_send(&w->replies, &m) < 0)
		ui_error("out of memory: reply to request %llu lost",
			 (unsigned long long)x->req_id);
}

static void hook_reply_vm(struct pw_engine *e, const struct pw_waiter *x,
			  const struct ui_vm *row)
{
	struct pw_worker *w = of_engine(e);
	struct ui_msg m = { .req_id = x->req_id, .gen = x->gen, .op = UI_OP_REPLY,
			    .req_op = x->op };

	if (!ui_reply_put_vm(&m, row)) /* does not fit: apid reads the row */
		snprintf(m.vm_id, sizeof(m.vm_id), "%s", row->id);
	if (ui_ring_writer_send(&w->replies, &m) < 0)
		ui_error("out of memory: reply to request %llu lost",
			 (unsigned long long)x->req_id);
}

/* netd must act when a lease waits for its tap, or when a released tap is
 * not kept (no stock); otherwise its periodic pass tends the stock. */
static void hook_net_kick(struct pw_engine *e, const struct ui_vm *row, bool tap_wait)
{
	struct pw_worker *w = of_engine(e);
	struct ui_msg m = { .op = UI_OP_NET_KICK };

	if (!tap_wait && e->cfg->tap_stock > 0)
		return;
	snprintf(m.vm_id, sizeof(m.vm_id), "%s", row->id);
	snprintf(m.ip, sizeof(m.ip), "%s", row->ip);
	if (tap_wait)
		snprintf(m.tap, sizeof(m.tap), "%s", row->tap);
	if (ui_ring_writer_send(&w->kicks, &m) < 0)
		ui_error("%s: out of memory: netd not told", row->id);
}

/* netd runs (spawned: it may still be starting — its start-up pass will
 * make the taps kicked meanwhile), as opposed to down between restarts. */
static bool hook_netd_up(struct pw_engine *e)
{
	struct ui_daemon_status *d = &of_engine(e)->d->shm->daemon[UI_D_NETD];

	return atomic_load(&d->up);
}

static void hook_changed(struct pw_engine *e, struct pw_vm *vm, enum pw_state from)
{
	pw_metrics_changed(&of_engine(e)->d->shm->metrics.pool, vm, from);
	pw_pool_changed(&of_engine(e)->pool, vm, from);
}

/* ---- requests ------------------------------------------------------------------ */

static void reply_error(struct pw_worker *w, const struct ui_msg *m, int status,
			const char *err)
{
	struct pw_waiter x = { NULL, m->req_id, m->gen, m->op, false };

	ui_warn("%s %s refused: %s", m->op == UI_OP_RUN ? "RUN" : "request", m->vm_id, err);
	hook_reply(&w->engine, &x, status, 0, m->vm_id, err);
}

static void on_run(struct pw_worker *w, const struct ui_msg *m)
{
	const struct ui_image *img;
	const char *err = NULL;
	struct pw_vm *slot;
	int rc;

	if (pw_engine_replay(&w->engine, m))
		return;
	if ((rc = pw_engine_admit(&w->engine, m, &img, &err)) < 0) {
		reply_error(w, m, rc, err);
		return;
	}
	slot = pw_pool_take(&w->pool, img, m->vcpus ? m->vcpus : img->vcpus,
			    m->mem_mib ? m->mem_mib : img->mem_mib, pw_engine_run_custom(m, img));
	pw_engine_run(&w->engine, m, img, slot);
}

static void on_request(struct ui_ring_reader *r, struct ui_msg *m)
{
	struct pw_worker *w = r->data;

	if (m->op == UI_OP_RUN)
		on_run(w, m);
	else if (m->op == UI_OP_STOP)
		pw_engine_stop(&w->engine, m);
	else if (m->op == UI_OP_DELETE)
		pw_engine_delete(&w->engine, m);
	else if (m->op == UI_OP_PAUSE || m->op == UI_OP_RESUME)
		pw_engine_pause(&w->engine, m);
	else
		reply_error(w, m, -EINVAL, "unknown operation");
}

static void on_note(struct ui_ring_reader *r, struct ui_msg *m)
{
	struct pw_worker *w = r->data;

	if (m->op == UI_OP_TAP_READY)
		pw_engine_tap_note(&w->engine, m);
	else
		ui_debug("netd message op %u ignored", m->op);
}

/* ---- signals and the tick ------------------------------------------------------- */

/* Leaves: VMs are forgotten (their VMMs keep running; the drivers close
 * their handles with their own callbacks), then every other handle. */
static void leave(struct pw_worker *w)
{
	pw_worker_fini(w);
	ui_daemon_exit(w->d);
}

static void on_drained(struct pw_pool *p)
{
	leave(p->arg);
}

/* SIGTERM/SIGINT: warm slots are retired first (and with shutdown_policy
 * stop every VM is stopped); VMs are left running otherwise. */
static void on_stop(struct ui_daemon_ctx *d, int signum)
{
	struct pw_worker *w = d->data;

	if (w->pool.phase == PW_POOL_DRAINING) {
		ui_info("signal %d: exiting now, VMs left running", signum);
		leave(w);
		return;
	}
	ui_info("signal %d: draining the pool, then exiting", signum);
	ui_ring_reader_stop(&w->requests); /* queued for the next pool-worker */
	pw_pool_drain(&w->pool);
}

static void on_reload(struct ui_daemon_ctx *d)
{
	pw_pool_reload(&((struct pw_worker *)d->data)->pool);
}

/* Whether the VMM binary is there, published as pool-worker's fault for
 * GET /healthz (no run can be served without it); at start and every
 * heartbeat, so a binary put back is seen within a second. Running VMs
 * need no binary: they stay managed either way. */
static void check_vmm(struct pw_worker *w)
{
	const struct ui_config *cfg = &w->d->cfg;
	const char *prog = cfg->driver == UI_DRIVER_FIRECRACKER ? cfg->firecracker_bin
							       : cfg->qemu_bin;
	char path[PATH_MAX], msg[PATH_MAX + 64] = "";
	bool missing = pw_find_program(prog, path, sizeof(path)) < 0;

	if (missing)
		snprintf(msg, sizeof(msg), "the VMM binary %s is missing or not executable", prog);
	if (missing && !w->vmm_missing)
		ui_error("%s: runs fail until it is back", msg);
	else if (!missing && w->vmm_missing)
		ui_info("the VMM binary %s is back", path);
	w->vmm_missing = missing;
	ui_daemon_set_fault(w->d->shm, UI_D_POOL, missing ? PW_VMM_UNAVAILABLE : 0, msg);
}

/* A VM cgroup is live while its VM is in memory and not final. */
static bool cgroup_live(const char *id, void *arg)
{
	const struct pw_worker *w = arg;

	if (strcmp(id, PW_SNAP_ID) == 0) /* the template's VMM, while it is built */
		return pw_snap_building(&w->pool.snap);
	for (const struct pw_vm *vm = w->engine.vms; vm; vm = vm->next)
		if (!strcmp(vm->row.id, id))
			return !pw_state_is_final(vm->state);
	return false;
}

static void on_tick(struct ui_daemon_ctx *d)
{
	struct pw_worker *w = d->data;

	check_vmm(w);
	pw_engine_tick(&w->engine);
	pw_pool_tick(&w->pool);
	/* Level-triggered: what no live VM owns goes (after a crash, or an
	 * exit whose removal found the cgroup still busy). */
	(void)pw_cg_sweep(w->cgroups, cgroup_live, w);
}

/* ---- lifetime ------------------------------------------------------------------------ */

static int mkdir_p(const char *path)
{
	char buf[PATH_MAX];
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, n + 1);
	for (char *p = buf + 1;; p++) {
		if (*p && *p != '/')
			continue;
		char c = *p;

		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		if (!(*p = c))
			return 0;
	}
}

static int make_dirs(const struct ui_config *cfg)
{
	const char *bases[2] = { cfg->state_dir, cfg->run_dir };
	char path[PATH_MAX + 8];
	int rc;

	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/vms", bases[i]);
		if ((rc = mkdir_p(path)) < 0) {
			ui_error("cannot create %s: %s", path, strerror(-rc));
			return rc;
		}
	}
	return 0;
}

static int init_rings(struct pw_worker *w)
{
	uv_loop_t *loop = &w->d->loop;
	struct ui_shm *shm = w->d->shm;
	int rc;

	if ((rc = ui_ring_writer_init(&w->replies, loop, &shm->ring[UI_RING_POOL_TO_API],
				      UI_DOORBELL_FD(UI_RING_POOL_TO_API))) < 0 ||
	    (rc = ui_ring_writer_init(&w->kicks, loop, &shm->ring[UI_RING_POOL_TO_NET],
				      UI_DOORBELL_FD(UI_RING_POOL_TO_NET))) < 0 ||
	    (rc = ui_ring_reader_init(&w->requests, loop, &shm->ring[UI_RING_API_TO_POOL],
				      UI_DOORBELL_FD(UI_RING_API_TO_POOL), on_request, w)) < 0 ||
	    (rc = ui_ring_reader_init(&w->notes, loop, &shm->ring[UI_RING_NET_TO_POOL],
				      UI_DOORBELL_FD(UI_RING_NET_TO_POOL), on_note, w)) < 0)
		return rc;
	return ui_ring_reader_gate(&w->requests, &w->replies);
}

int pw_worker_init(struct pw_worker *w, struct ui_daemon_ctx *d, enum ui_accel accel,
		   const struct pw_cgroups *cg)
{
	const struct pw_engine_hooks hooks = {
		.reply = hook_reply, .net_kick = hook_net_kick, .netd_up = hook_netd_up,
		.changed = hook_changed, .reply_vm = hook_reply_vm, .arg = w,
	};
	char err[2 * PATH_MAX + 256], path[PATH_MAX + 8];
	int rc;

	memset(w, 0, sizeof(*w));
	w->d = d;
	w->cgroups = cg;
	d->data = w;
	if ((rc = make_dirs(&d->cfg)) < 0)
		return rc;
	if ((rc = pw_engine_init(&w->engine, &d->loop, &d->cfg, d->reg, accel, &hooks)) < 0) {
		ui_error("network: gateway and subnet do not fit");
		return rc;
	}
	w->engine.env.cgroups = cg;
	snprintf(path, sizeof(path), "%s/vms", d->cfg.run_dir);
	if ((rc = pw_vmm_priv_init(&w->priv, &d->cfg, err, sizeof(err))) < 0 ||
	    (rc = pw_vmm_priv_check_path(&w->priv, path, err, sizeof(err))) < 0) {
		ui_error("%s", err);
		return rc;
	}
	w->engine.env.priv = &w->priv;
	if (accel == UI_ACCEL_TCG) {
		w->engine.tsc_khz = pw_host_tsc_khz();
		ui_info("tcg: Linux guests get tsc_early_khz=%u tsc=reliable (host TSC)",
			w->engine.tsc_khz);
	}
	if ((rc = pw_pool_init(&w->pool, &w->engine, d->shm, on_drained, w)) < 0 ||
	    (rc = init_rings(w)) < 0) {
		ui_error("event loop set-up: %s", uv_strerror(rc));
		return rc;
	}
	d->on_stop = on_stop;
	d->on_reload = on_reload;
	d->on_tick = on_tick;
	return 0;
}

int pw_worker_start(struct pw_worker *w)
{
	int rc;

	/* Notes queued for our previous incarnation are stale: netd repeats
	 * what is still true (its start-up pass), and recovery reads the
	 * registry. Requests queued while we were down are served. */
	ui_ring_discard(&w->d->shm->ring[UI_RING_NET_TO_POOL]);
	check_vmm(w);
	pw_engine_recover(&w->engine);
	rc = pw_cg_sweep(w->cgroups, cgroup_live, w); /* adopted VMs keep theirs */
	if (rc > 0)
		ui_info("recovery: removed %d cgroup(s) no VM owns", rc);
	pw_pool_start(&w->pool);
	if ((rc = pw_worker_console_start(w)) < 0) {
		ui_error("console timer: %s", uv_strerror(rc));
		return rc;
	}
	if ((rc = ui_ring_reader_start(&w->notes)) < 0 ||
	    (rc = ui_ring_reader_start(&w->requests)) < 0) {
		ui_error("doorbells: %s", uv_strerror(rc));
		return rc;
	}
	ui_info("ready (generation %u, %s)",
		atomic_load(&w->d->shm->daemon[UI_D_POOL].generation),
		w->engine.env.accel == UI_ACCEL_KVM ? "kvm" : "tcg");
	return 0;
}

void pw_worker_fini(struct pw_worker *w)
{
	pw_worker_console_fini(w);
	pw_engine_fini(&w->engine);
	ui_ring_reader_close(&w->requests);
	ui_ring_reader_close(&w->notes);
	ui_ring_writer_close(&w->replies);
	ui_ring_writer_close(&w->kicks);
}
