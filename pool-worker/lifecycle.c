/*
 * lifecycle.c — the per-VM state machine: RUN and STOP requests, driver
 * reports (booted, exited), failure, lease release and the final row.
 *
 * Rule: every state change is written to the registry before it is acted
 * upon (`stopping` before the powerdown, pid + start time before QMP), so a
 * crash at any point leaves a row that recover.c can resolve. A failing VM
 * whose VMM is still alive is written as `stopping` with `error` set; only
 * once the VMM is gone and the lease released does the row become `failed`.
 *
 *   RUN:  creating ─NET_ALLOC→ starting ─spawn, pid recorded, boot→ running
 *   STOP: running ─stopping, powerdown (SIGKILL after stop_timeout_ms)→
 *         VMM exit → NET_RELEASE → stopped
 *   any failure: kill the VMM, wait for its exit → NET_RELEASE → failed
 *
 * Replies: a RUN is answered when the guest is running (or failed); a STOP
 * when the row is final. Several requests may wait on one VM (a retried
 * idempotent RUN, repeated STOPs).
 *
 * Warm slots (pool.h decides when; the states are here). The row is `warm`
 * from the insert on, so a crash leaves it to recover.c:
 *   SLOT: warm/creating ─NET_ALLOC→ warm/starting ─driver warm, pid
 *         recorded, pw_vm_warmed→ warm/WARM
 *   RUN that fits: WARM ─row `starting` (the slot's id kept), boot→ running
 *   retire or failure: kill the VMM, wait for its exit → NET_RELEASE → row
 *         deleted (pw_pool_slot_done) — never `stopped`/`failed`.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmid.h"
#include "cmdline.h"
#include "log.h"
#include "pool.h"
#include "shm.h"
#include "worker.h"

static void release(struct pw_vm *vm);

/* ---------------------------------------------------------------- final */

static void finish(struct pw_vm *vm)
{
	struct pw_worker *w = vm->w;
	bool failed = vm->fail_status != 0;
	const char *state = failed ? UI_VM_FAILED : UI_VM_STOPPED;

	if (vm->slot) {
		pw_pool_slot_done(vm); /* deletes the row, frees vm */
		return;
	}
	ui_registry_now(vm->row.stopped_at, sizeof(vm->row.stopped_at));
	if (failed)
		snprintf(vm->row.error, sizeof(vm->row.error), "%s", vm->fail_error);
	pw_vm_save(vm, state, state, failed ? vm->fail_error : NULL);
	if (failed)
		pw_waiters_reply(vm, &vm->run_waiters, vm->fail_status, vm->fail_error);
	else
		pw_waiters_reply(vm, &vm->run_waiters, -ECANCELED,
				 "VM was stopped before it was running");
	pw_waiters_reply(vm, &vm->stop_waiters, 0, NULL);
	pw_waiters_reply(vm, &vm->replay_waiters, UI_REPLY_REPLAYED, NULL);
	pw_vm_free(vm);
	pw_pool_table_update(w);
	pw_pool_drain_check(w);
}

static void on_net_released(struct pw_vm *vm, const struct ui_msg *reply)
{
	/* netd frees leases of dead VMs when it reconciles; log and go on. */
	if (reply->status < 0)
		ui_warn("%s: NET_RELEASE: %s", vm->row.id, reply->error);
	vm->has_lease = false;
	finish(vm);
}

/* The VMM is gone (or never was): give the lease back, then finish. */
static void release(struct pw_vm *vm)
{
	struct pw_worker *w = vm->w;
	int rc;

	vm->phase = PW_RELEASING;
	pw_vm_stop_timer_cancel(vm);
	if (vm->row.api_socket[0])
		unlink(vm->row.api_socket);
	if (vm->net_busy)
		return; /* NET_ALLOC in flight: on_net_alloc comes back here */
	if (!vm->has_lease) {
		finish(vm);
		return;
	}
	rc = pw_net_request(w, vm, UI_OP_NET_RELEASE, on_net_released);
	if (rc < 0)
		ui_warn("%s: cannot send NET_RELEASE: %s", vm->row.id, strerror(-rc));
	/* A netd that is down serves the queued request when it is back. */
	if (rc < 0 || !pw_netd_up(w))
		finish(vm);
}

/* -------------------------------------------------------------- failure */

static void set_failure(struct pw_vm *vm, int status, const char *err)
{
	if (vm->fail_status)
		return; /* the first reason is the one the user needs */
	vm->fail_status = status ? status : -EIO;
	snprintf(vm->fail_error, sizeof(vm->fail_error), "%s", err);
}

static void kill_vmm(struct pw_vm *vm, const char *why)
{
	int rc;

	pw_vm_save(vm, NULL, "kill", why);
	rc = vm->drv->kill(vm);
	if (rc < 0)
		ui_warn("%s: kill: %s", vm->row.id, strerror(-rc));
}

static void fail(struct pw_vm *vm, int status, const char *err)
{
	set_failure(vm, status, err);
	ui_warn("%s: failed: %s", vm->row.id, vm->fail_error);
	if (!vm->vmm_alive) {
		release(vm);
		return;
	}
	vm->phase = PW_STOPPING;
	if (!vm->slot) { /* a slot's row stays `warm`: recover.c reclaims it */
		snprintf(vm->row.error, sizeof(vm->row.error), "%s", vm->fail_error);
		pw_vm_save(vm, UI_VM_STOPPING, NULL, NULL);
	}
	kill_vmm(vm, vm->fail_error);
	/* pw_vm_exited() continues with release(). */
}

void pw_vm_fail(struct pw_vm *vm, int status, const char *err)
{
	fail(vm, status, err);
}

/* ------------------------------------------------------------------ run */

static unsigned active_count(struct pw_worker *w)
{
	unsigned n = 0;

	for (struct pw_vm *vm = w->vms; vm; vm = vm->next)
		if (!vm->slot && vm->phase <= PW_RUNNING && !vm->fail_status)
			n++;
	return n;
}

/* A RUN whose Idempotency-Key is known: answer with that VM (never a
 * second one) — at once if its row is settled, else when it is. */
static bool run_idempotent(struct pw_worker *w, const struct ui_msg *m)
{
	struct ui_vm *row = malloc(sizeof(*row));
	struct pw_vm *vm;
	int rc;

	if (!row) {
		pw_reply(w, m->req_id, m->gen, m->op, -ENOMEM, NULL, "out of memory");
		return true;
	}
	rc = ui_reg_vm_get_by_key(w->reg, m->key, row);
	if (rc == -ENOENT) {
		free(row);
		return false;
	}
	vm = rc == 0 ? pw_vm_find(w, row->id) : NULL;
	if (rc < 0)
		pw_reply(w, m->req_id, m->gen, m->op, rc, NULL, "registry error");
	else if (vm && vm->phase <= PW_STARTING && !vm->fail_status &&
		 pw_waiter_add(&vm->run_waiters, m) == 0)
		ui_info("%s: idempotent RUN joins the run in progress", row->id);
	else if (vm && vm->phase != PW_RUNNING &&
		 pw_waiter_add(&vm->replay_waiters, m) == 0)
		/* failing, being recovered or stopped: answer once it settles */
		ui_info("%s: idempotent RUN waits for the VM to settle", row->id);
	else
		pw_reply(w, m->req_id, m->gen, m->op, UI_REPLY_REPLAYED, row->id, NULL);
	free(row);
	return true;
}

const struct ui_vmm_driver *pw_pick_driver(const struct ui_config *cfg)
{
	if (cfg->driver == UI_DRIVER_FIRECRACKER)
		return pw_driver_find("firecracker");
	return &pw_drv_qemu; /* auto: the only driver so far */
}

static int run_fill_row(struct pw_vm *vm, const struct ui_image *img,
			const struct ui_msg *m)
{
	struct ui_vm *r = &vm->row;

	snprintf(r->name, sizeof(r->name), "%s", m->name);
	snprintf(r->state, sizeof(r->state), "%s", UI_VM_CREATING);
	snprintf(r->image, sizeof(r->image), "%s", img->name);
	snprintf(r->kernel, sizeof(r->kernel), "%s", img->kernel);
	snprintf(r->initrd, sizeof(r->initrd), "%s", img->initrd);
	snprintf(r->rootfs, sizeof(r->rootfs), "%s", img->rootfs);
	snprintf(r->boot_args, sizeof(r->boot_args), "%s", img->boot_args);
	r->vcpus = m->vcpus ? m->vcpus : img->vcpus;
	r->mem_mib = m->mem_mib ? m->mem_mib : img->mem_mib;
	snprintf(r->driver, sizeof(r->driver), "%s", vm->drv->name);
	snprintf(r->idempotency_key, sizeof(r->idempotency_key), "%s", m->key);
	ui_registry_now(r->created_at, sizeof(r->created_at));
	if (r->vcpus < 1 || r->vcpus > 32 || r->mem_mib < 16 || r->mem_mib > 65536)
		return -EINVAL;
	return pw_vm_paths(vm->w->cfg, r);
}

/* The row's boot_args: the image's, with the VM's IP and id (cmdline.h). */
static int set_boot_args(struct pw_vm *vm, const struct ui_image *img)
{
	struct pw_worker *w = vm->w;
	char extra[64] = "";

	if (w->accel == UI_ACCEL_TCG && w->tsc_khz)
		snprintf(extra, sizeof(extra), "tsc_early_khz=%u tsc=reliable", w->tsc_khz);
	return pw_boot_args(w->cfg, img, vm->row.ip, vm->row.id, extra,
			    vm->row.boot_args, sizeof(vm->row.boot_args));
}

/* The VMM was spawned: pid and start time go to the registry first. */
static void record_spawn(struct pw_vm *vm)
{
	char detail[64];

	vm->vmm_alive = true;
	if (pw_proc_start_time(vm->row.vmm_pid, &vm->row.vmm_start_time) < 0)
		vm->row.vmm_start_time = 0; /* already gone: its exit is coming */
	snprintf(detail, sizeof(detail), "pid %lld", (long long)vm->row.vmm_pid);
	pw_vm_save(vm, NULL, "spawn", detail);
}

static void run_start(struct pw_vm *vm)
{
	struct pw_worker *w = vm->w;
	const struct ui_image *img = ui_config_image(w->cfg, vm->row.image);
	char err[512], detail[128];
	int rc;

	if (!img) {
		fail(vm, -ENOENT, "unknown image");
		return;
	}
	if (set_boot_args(vm, img) < 0) {
		fail(vm, -EINVAL, "kernel command line too long");
		return;
	}
	vm->phase = PW_STARTING;
	snprintf(detail, sizeof(detail), "%s %s %s", vm->row.ip, vm->row.mac,
		 vm->row.tap);
	pw_vm_save(vm, UI_VM_STARTING, "net", detail);
	rc = vm->drv->spawn(vm, err, sizeof(err));
	if (rc < 0) {
		fail(vm, rc, err);
		return;
	}
	record_spawn(vm);
	rc = vm->drv->boot(vm);
	if (rc < 0)
		fail(vm, rc, "cannot start the VMM API client");
}

/* A slot has its lease: the driver spawns and prepares the VMM. */
static void slot_warm(struct pw_vm *vm)
{
	struct pw_worker *w = vm->w;
	const struct ui_image *img = NULL;
	char err[512], detail[128];
	int rc;

	if (vm->row.image[0]) {
		img = ui_config_image(w->cfg, vm->row.image);
		if (!img || set_boot_args(vm, img) < 0) {
			fail(vm, -EINVAL, img ? "kernel command line too long" :
						"unknown warm image");
			return;
		}
	}
	vm->phase = PW_STARTING;
	snprintf(detail, sizeof(detail), "%s %s %s", vm->row.ip, vm->row.mac,
		 vm->row.tap);
	pw_vm_save(vm, NULL, "net", detail);
	rc = vm->drv->warm(vm, img, err, sizeof(err));
	if (rc == -ENOTSUP) { /* not an error: the pool logs it once */
		set_failure(vm, rc, err);
		release(vm);
		return;
	}
	if (rc < 0) {
		fail(vm, rc, err);
		return;
	}
	record_spawn(vm);
}

static void on_net_alloc(struct pw_vm *vm, const struct ui_msg *reply)
{
	struct ui_vm *r = &vm->row;
	char err[256];
	int status = reply->status;

	if (status == 0 && (!reply->ip[0] || !reply->mac[0] || !reply->tap[0]))
		status = -EPROTO;
	if (status < 0 && status != -ETIMEDOUT)
		vm->has_lease = false; /* netd answered: nothing was allocated */
	if (status == 0) {
		snprintf(r->ip, sizeof(r->ip), "%s", reply->ip);
		snprintf(r->mac, sizeof(r->mac), "%s", reply->mac);
		snprintf(r->tap, sizeof(r->tap), "%s", reply->tap);
	}
	if (vm->phase != PW_CREATING) {
		release(vm); /* stopped while waiting for netd */
		return;
	}
	if (status < 0) {
		snprintf(err, sizeof(err), "network: %s",
			 reply->error[0] ? reply->error : strerror(-status));
		fail(vm, status == -EPROTO ? -EIO : status, err);
		return;
	}
	if (vm->slot)
		slot_warm(vm);
	else
		run_start(vm);
}

static void run_alloc_net(struct pw_vm *vm)
{
	struct pw_worker *w = vm->w;

	if (!pw_netd_up(w)) {
		fail(vm, -EAGAIN, "network daemon unavailable");
		return;
	}
	if (pw_net_request(w, vm, UI_OP_NET_ALLOC, on_net_alloc) < 0) {
		fail(vm, -EAGAIN, "network daemon unavailable (ring full)");
		return;
	}
	vm->has_lease = true; /* from here on a lease may exist */
}

static int run_check(struct pw_worker *w, const struct ui_msg *m,
		     const struct ui_image **img, const char **err)
{
	*img = ui_config_image(w->cfg, m->image);
	if (!m->vm_id[0])
		return *err = "missing VM id", -EINVAL;
	if (!*img)
		return *err = "unknown image", -ENOENT;
	if (!pw_pick_driver(w->cfg))
		return *err = "VMM driver not available", -ENOTSUP;
	if (active_count(w) >= w->cfg->max_vms)
		return *err = "VM limit reached", -ENOSPC;
	if (pw_vm_find(w, m->vm_id))
		return *err = "VM id already exists", -EEXIST;
	return 0;
}

/* A RUN that fits a warm slot: the VM is the slot (its id, lease and VMM);
 * the reply names the slot's id, not the one apid proposed. */
static void run_on_slot(struct pw_vm *vm, const struct ui_image *img,
			const struct ui_msg *m)
{
	struct ui_vm *r = &vm->row;
	char detail[128];
	int rc;

	vm->slot = false;
	vm->from_pool = true;
	vm->phase = PW_STARTING;
	pw_waiter_add(&vm->run_waiters, m);
	snprintf(r->name, sizeof(r->name), "%s", m->name);
	snprintf(r->idempotency_key, sizeof(r->idempotency_key), "%s", m->key);
	ui_registry_now(r->created_at, sizeof(r->created_at));
	if (!r->image[0]) { /* warmed without an image: the driver applies it */
		snprintf(r->image, sizeof(r->image), "%s", img->name);
		snprintf(r->kernel, sizeof(r->kernel), "%s", img->kernel);
		snprintf(r->initrd, sizeof(r->initrd), "%s", img->initrd);
		snprintf(r->rootfs, sizeof(r->rootfs), "%s", img->rootfs);
		if (set_boot_args(vm, img) < 0) {
			fail(vm, -EINVAL, "kernel command line too long");
			return;
		}
	}
	ui_info("%s: RUN (proposed id %s) takes this warm slot", r->id, m->vm_id);
	snprintf(detail, sizeof(detail), "%s (warm slot)", r->image);
	rc = pw_vm_save(vm, UI_VM_STARTING, "create", detail);
	if (rc < 0) {
		fail(vm, rc == -EEXIST ? -EEXIST : -EIO, "registry error");
		return;
	}
	pw_pool_table_update(vm->w);
	rc = vm->drv->boot(vm);
	if (rc < 0)
		fail(vm, rc, "cannot start the warm VMM");
}

void pw_handle_run(struct pw_worker *w, const struct ui_msg *m)
{
	const struct ui_image *img;
	const char *err = NULL;
	struct pw_vm *vm;
	int rc;

	if (m->key[0] && run_idempotent(w, m))
		return;
	rc = run_check(w, m, &img, &err);
	if (rc == 0) {
		vm = pw_pool_take(w, img, m->vcpus ? m->vcpus : img->vcpus,
				  m->mem_mib ? m->mem_mib : img->mem_mib);
		if (vm) {
			run_on_slot(vm, img, m);
			return;
		}
	}
	vm = rc == 0 ? pw_vm_new(w, m->vm_id) : NULL;
	if (rc == 0 && !vm)
		rc = -ENOMEM, err = "out of memory";
	if (rc < 0)
		goto reply;
	vm->drv = pw_pick_driver(w->cfg);
	rc = run_fill_row(vm, img, m);
	if (rc < 0) {
		err = rc == -EINVAL ? "vcpus or mem_mib out of range" : "path too long";
		goto free_vm;
	}
	rc = ui_reg_vm_insert(w->reg, &vm->row);
	if (rc < 0) {
		err = rc == -EEXIST ? "VM id already exists" : "registry error";
		goto free_vm;
	}
	ui_info("%s: created (image %s)", vm->row.id, vm->row.image);
	ui_reg_event(w->reg, vm->row.id, "create", vm->row.image);
	vm->phase = PW_CREATING;
	pw_waiter_add(&vm->run_waiters, m);
	run_alloc_net(vm);
	return;

free_vm:
	pw_vm_free(vm);
reply:
	ui_warn("RUN %s refused: %s", m->vm_id, err);
	pw_reply(w, m->req_id, m->gen, m->op, rc, m->vm_id, err);
}

/* ------------------------------------------------------- driver reports */

void pw_vm_booted(struct pw_vm *vm, int status, const char *err)
{
	if (vm->phase != PW_STARTING || vm->fail_status)
		return; /* a stop or a failure is already under way */
	if (status < 0) {
		fail(vm, status, err);
		return;
	}
	vm->phase = PW_RUNNING;
	ui_registry_now(vm->row.started_at, sizeof(vm->row.started_at));
	pw_vm_save(vm, UI_VM_RUNNING, "running", NULL);
	pw_waiters_reply(vm, &vm->run_waiters, 0, NULL);
	pw_waiters_reply(vm, &vm->replay_waiters, UI_REPLY_REPLAYED, NULL);
	pw_pool_table_update(vm->w);
}

static void describe_exit(const struct pw_exit_info *x, char *buf, size_t len)
{
	if (x->signal)
		snprintf(buf, len, "signal %d", x->signal);
	else if (x->status >= 0)
		snprintf(buf, len, "status %lld", (long long)x->status);
	else
		snprintf(buf, len, "unknown status");
}

/* A VMM that exits while running: a guest poweroff is a clean stop. */
static void exited_while_running(struct pw_vm *vm, const struct pw_exit_info *x,
				 const char *how)
{
	const char *reason = x->guest_shutdown;
	bool guest_off = reason && strcmp(reason, "guest-shutdown") == 0;
	bool guest_reset = reason && (strcmp(reason, "guest-reset") == 0 ||
				      strcmp(reason, "guest-panic") == 0);
	char err[160];

	if (x->signal == 0 && x->status == 0 && !guest_reset)
		return; /* guest shut itself down */
	if (x->status < 0 && x->signal == 0 && guest_off)
		return; /* adopted: status unknown, but QMP saw the poweroff */
	if (x->signal == 0 && x->status == 0)
		snprintf(err, sizeof(err), "guest %s (vmm exited with status 0)",
			 strcmp(reason, "guest-panic") == 0 ? "panicked" : "reset");
	else
		snprintf(err, sizeof(err), "vmm exited with %s", how);
	set_failure(vm, -EIO, err);
}

void pw_vm_exited(struct pw_vm *vm, const struct pw_exit_info *x)
{
	char how[64], tail[256], err[512];

	vm->vmm_alive = false;
	vm->row.exit_status = x->signal ? 128 + x->signal : x->status;
	describe_exit(x, how, sizeof(how));
	pw_vm_save(vm, NULL, "exit", how);
	if (vm->phase == PW_STARTING || vm->phase == PW_WARM) {
		pw_file_last_line(vm->row.console_log, tail, sizeof(tail));
		snprintf(err, sizeof(err), "%s exited with %s%s%s", vm->drv->name,
			 how, tail[0] ? ": " : "", tail);
		set_failure(vm, -EIO, err);
	} else if (vm->phase == PW_RUNNING) {
		exited_while_running(vm, x, how);
	}
	release(vm);
}

/* ----------------------------------------------------------------- stop */

/* How often the power button is pressed again while a guest is stopping: a
 * press before the guest has loaded its ACPI button driver is lost. */
#define PW_POWERDOWN_RETRY_MS 1000u

static void on_stop_tick(uv_timer_t *t)
{
	struct pw_vm *vm = t->data;

	if (ui_now_ms() >= vm->stop_deadline_ms) {
		pw_vm_stop_timer_cancel(vm);
		ui_warn("%s: no poweroff within %u ms, killing", vm->row.id,
			vm->w->cfg->stop_timeout_ms);
		kill_vmm(vm, "stop timeout");
		return;
	}
	if (vm->drv->stop(vm) < 0)
		ui_debug("%s: powerdown retry not sent", vm->row.id);
}

static void begin_stop(struct pw_vm *vm, const char *detail)
{
	unsigned tick = vm->w->cfg->stop_timeout_ms < PW_POWERDOWN_RETRY_MS ?
			vm->w->cfg->stop_timeout_ms : PW_POWERDOWN_RETRY_MS;
	int rc;

	vm->phase = PW_STOPPING;
	pw_vm_save(vm, UI_VM_STOPPING, "stop", detail);
	pw_pool_table_update(vm->w);
	rc = vm->drv->stop(vm);
	if (rc < 0) {
		ui_warn("%s: powerdown: %s", vm->row.id, strerror(-rc));
		kill_vmm(vm, "powerdown request failed");
		return;
	}
	vm->stop_deadline_ms = ui_now_ms() + vm->w->cfg->stop_timeout_ms;
	if (pw_vm_stop_timer_start(vm, tick, on_stop_tick) < 0)
		kill_vmm(vm, "no stop timer");
}

void pw_vm_begin_stop(struct pw_vm *vm, const char *detail)
{
	begin_stop(vm, detail);
}

/*
 * A stop a crashed pool-worker had begun: the guest has had the power
 * button already, and the grace period cannot be trusted to run out (a
 * worker that keeps crashing would restart it each time, so the VM would
 * never stop). Finish it now: SIGKILL, then release as usual.
 */
void pw_vm_resume_stop(struct pw_vm *vm)
{
	vm->phase = PW_STOPPING;
	kill_vmm(vm, "stop interrupted by a pool-worker restart");
}

/* STOP for a VM we do not manage: final rows are fine, others are not ours. */
static void stop_unmanaged(struct pw_worker *w, const struct ui_msg *m)
{
	struct ui_vm *row = malloc(sizeof(*row));
	int rc = row ? ui_reg_vm_get(w->reg, m->vm_id, row) : -ENOMEM;

	if (rc == -ENOENT)
		pw_reply(w, m->req_id, m->gen, m->op, rc, m->vm_id, "no such VM");
	else if (rc < 0)
		pw_reply(w, m->req_id, m->gen, m->op, rc, m->vm_id, "registry error");
	else if (!strcmp(row->state, UI_VM_STOPPED) || !strcmp(row->state, UI_VM_FAILED))
		pw_reply(w, m->req_id, m->gen, m->op, 0, m->vm_id, NULL);
	else
		pw_reply(w, m->req_id, m->gen, m->op, -EIO, m->vm_id,
			 "VM is not managed by this pool-worker");
	free(row);
}

void pw_handle_stop(struct pw_worker *w, const struct ui_msg *m)
{
	struct pw_vm *vm = pw_vm_find(w, m->vm_id);

	if (vm && vm->slot) { /* a warm slot is nobody's VM */
		pw_reply(w, m->req_id, m->gen, m->op, -ENOENT, m->vm_id, "no such VM");
		return;
	}
	if (!vm) {
		stop_unmanaged(w, m);
		return;
	}
	if (pw_waiter_add(&vm->stop_waiters, m) < 0) {
		pw_reply(w, m->req_id, m->gen, m->op, -ENOMEM, m->vm_id, "out of memory");
		return;
	}
	switch (vm->phase) {
	case PW_CREATING: /* on_net_alloc releases when netd answers */
		vm->phase = PW_STOPPING;
		pw_vm_save(vm, UI_VM_STOPPING, "stop", "while creating");
		break;
	case PW_STARTING: /* no guest OS to power off yet */
		vm->phase = PW_STOPPING;
		pw_vm_save(vm, UI_VM_STOPPING, "stop", "while starting");
		kill_vmm(vm, "stopped while starting");
		break;
	case PW_RUNNING:
		begin_stop(vm, NULL);
		break;
	default: /* stopping or releasing: joins the same completion */
		break;
	}
}

/* ------------------------------------------------------------- recovery */

void pw_vm_finish_gone(struct pw_vm *vm, const char *final_state,
		       const char *err)
{
	vm->phase = PW_RELEASING;
	vm->has_lease = true; /* whether netd allocated is unknown: release */
	if (strcmp(final_state, UI_VM_FAILED) == 0)
		set_failure(vm, -EIO, err);
	release(vm);
}

/* ----------------------------------------------------------- warm slots */

int pw_slot_create(struct pw_worker *w, const struct ui_vmm_driver *drv,
		   const struct ui_image *img)
{
	char id[UI_VM_ID_LEN + 1];
	struct pw_vm *vm;
	struct ui_vm *r;
	int rc = ui_vm_id_new(id);

	if (rc < 0)
		return rc;
	vm = pw_vm_new(w, id);
	if (!vm)
		return -ENOMEM;
	vm->slot = true;
	vm->drv = drv;
	r = &vm->row;
	snprintf(r->state, sizeof(r->state), "%s", UI_VM_WARM);
	snprintf(r->driver, sizeof(r->driver), "%s", drv->name);
	r->vcpus = img ? img->vcpus : PW_POOL_VCPUS;
	r->mem_mib = img ? img->mem_mib : PW_POOL_MEM_MIB;
	if (img) {
		snprintf(r->image, sizeof(r->image), "%s", img->name);
		snprintf(r->kernel, sizeof(r->kernel), "%s", img->kernel);
		snprintf(r->initrd, sizeof(r->initrd), "%s", img->initrd);
		snprintf(r->rootfs, sizeof(r->rootfs), "%s", img->rootfs);
	}
	ui_registry_now(r->created_at, sizeof(r->created_at));
	rc = pw_vm_paths(w->cfg, r);
	if (rc == 0)
		rc = ui_reg_vm_insert(w->reg, r);
	if (rc < 0) {
		pw_vm_free(vm);
		return rc;
	}
	ui_info("%s: warm slot created (%s)", id, img ? img->name : "no image");
	ui_reg_event(w->reg, id, "create", "warm slot");
	vm->phase = PW_CREATING;
	if (pw_net_request(w, vm, UI_OP_NET_ALLOC, on_net_alloc) < 0)
		fail(vm, -EAGAIN, "network daemon unavailable (ring full)");
	else
		vm->has_lease = true;
	return 0;
}

void pw_vm_warmed(struct pw_vm *vm, int status, const char *err)
{
	char detail[64];

	if (!vm->slot || vm->phase != PW_STARTING || vm->fail_status)
		return; /* retired or failing meanwhile */
	if (status < 0) {
		fail(vm, status, err);
		return;
	}
	vm->phase = PW_WARM;
	snprintf(detail, sizeof(detail), "pid %lld", (long long)vm->row.vmm_pid);
	pw_vm_save(vm, NULL, "warm", detail);
	pw_pool_slot_ready(vm);
}

void pw_slot_retire(struct pw_vm *vm, const char *why)
{
	if (!vm->slot || vm->phase == PW_STOPPING || vm->phase == PW_RELEASING)
		return;
	ui_info("%s: retiring warm slot: %s", vm->row.id, why);
	vm->phase = PW_STOPPING;
	if (vm->vmm_alive)
		kill_vmm(vm, why); /* pw_vm_exited() continues with release() */
	else
		release(vm); /* NET_ALLOC in flight: on_net_alloc releases */
}
