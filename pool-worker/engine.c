/*
 * engine.c — firing events: look the transition up (fsm.c), record it in
 * one registry transaction (record), then act (act); the driver reports,
 * the timers, and what happens when the registry refuses a write. The
 * requests that start it all are in engine_req.c, recovery in recover.c,
 * the batch and a registry that cannot take writes for now in
 * engine_commit.c (engine_int.h is what they share).
 *
 * Order inside one transition: the failure noted (first reason wins), the
 * row updated and written with its events (a SPAWNED event's pid and start
 * time included), the state set, the state's timer stopped (a new state
 * arms its own), the `changed` hook, the action. An action may fire further events
 * (a KILL with no process is its own EXIT; a VM whose tap is ready goes on
 * to spawn) and may free the VM (FINISH/DELETE): nothing touches vm after
 * pw_eng_act().
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "cmdline.h"
#include "daemon.h"
#include "engine.h"
#include "engine_int.h"
#include "log.h"
#include "shm.h"
#include "vmm_priv.h"
#include "vmm_proc.h"

static bool has_process(const struct pw_vm *vm)
{
	return vm->vmm.drv && vm->vmm.data;
}

/* ---- failure bookkeeping ------------------------------------------------- */

static void note_failure(struct pw_vm *vm, int status, const char *error)
{
	if (vm->fail_status)
		return; /* the first reason is the one the user needs */
	vm->fail_status = status ? status : -EIO;
	snprintf(vm->row.error, sizeof(vm->row.error), "%s", error ? error : "failed");
}

/* Does this transition fail the VM (or the slot)? */
static bool is_failure(enum pw_state from, enum pw_event ev, enum pw_state next)
{
	if (next == PW_S_FAILING || next == PW_S_FAILED)
		return true;
	if (next != PW_S_RETIRING && next != PW_S_GONE)
		return false;
	return from != PW_S_RETIRING && ev != PW_E_RETIRE;
}

/* ---- replies ----------------------------------------------------------------- */

void pw_eng_reply_all(struct pw_vm *vm, struct pw_waiter **list, int status,
		      uint32_t flags, const char *err)
{
	struct pw_engine *e = pw_eng(vm);
	struct pw_waiter *x;

	while ((x = pw_waiter_pop(list))) {
		e->hooks.reply(e, x, status, flags, vm->row.id, status ? err : NULL);
		free(x);
	}
}

/* vm->row is what the registry holds: its running is committed and no
 * later change of it waits for a commit (a reply may then carry the row:
 * a read after the answer sees no older state than the answer showed). */
static bool row_committed(struct pw_vm *vm)
{
	return vm->state == PW_S_RUNNING && vm->stored == PW_S_RUNNING &&
	       !pw_eng_has_deferred(pw_eng(vm), vm);
}

/* Running: the runs are answered — those with "wait": "ready" once the
 * guest is ready too — with the VM when its row is as committed. */
static void reply_running(struct pw_vm *vm)
{
	struct pw_engine *e = pw_eng(vm);
	struct pw_waiter **pp = &vm->run_waiters, *x;
	bool ready = vm->row.ready_at[0], carry = row_committed(vm);

	while ((x = *pp)) {
		if (x->want_ready && !ready) {
			pp = &x->next;
			continue;
		}
		*pp = x->next;
		if (carry)
			e->hooks.reply_vm(e, x, &vm->row);
		else
			e->hooks.reply(e, x, 0, 0, vm->row.id, NULL);
		free(x);
	}
	pw_eng_reply_all(vm, &vm->replay_waiters, 0, UI_REPLY_REPLAYED, NULL);
}

/* Not ready by the deadline: the runs that waited for it are told so (504);
 * the VM is left running. */
static void reply_unready(struct pw_vm *vm)
{
	char err[160];

	snprintf(err, sizeof(err), "VM %s runs, but its guest was not ready within %u ms "
		 "(the VM is left running)", vm->row.id, pw_eng(vm)->cfg->ready_timeout_ms);
	pw_eng_reply_all(vm, &vm->run_waiters, -ETIMEDOUT, 0, err);
}

/* ---- readiness -------------------------------------------------------------- */

static const struct ui_image *image_of(const struct pw_vm *vm)
{
	return vm->row.image[0] ? ui_config_image(pw_eng(vm)->cfg, vm->row.image) : NULL;
}

/* The image says when its guest is ready (a port, a console pattern). */
static bool has_ready_rule(const struct pw_vm *vm)
{
	const struct ui_image *img = image_of(vm);

	return img && (img->ready_port || img->ready_pattern[0]);
}

static void on_ready(void *arg, int status, const char *how)
{
	struct pw_vm *vm = arg;
	char why[96];

	vm->ready = NULL; /* it ends itself */
	if (status == 0) {
		pw_engine_fire(vm, PW_E_READY, 0, how);
		return;
	}
	vm->ready_given_up = true;
	snprintf(why, sizeof(why), "not ready within %u ms", pw_eng(vm)->cfg->ready_timeout_ms);
	pw_engine_fire(vm, PW_E_UNREADY, -ETIMEDOUT, why);
}

/* Running and not known ready: the probe starts (once per pool-worker:
 * an adopted VM that was not ready is watched again). */
static void watch_ready(struct pw_vm *vm)
{
	const struct ui_image *img = image_of(vm);
	struct pw_engine *e = pw_eng(vm);
	struct pw_ready_rule rule;
	int rc;

	if (vm->ready || vm->ready_given_up || vm->row.ready_at[0] || !has_ready_rule(vm))
		return;
	rule = (struct pw_ready_rule){ vm->row.ip, img->ready_port, img->ready_pattern,
				       vm->row.console_log, e->cfg->ready_timeout_ms, img->ready_http };
	if ((rc = pw_ready_start(e->env.loop, &rule, on_ready, vm, &vm->ready)) < 0)
		ui_warn("%s: cannot watch for ready: %s", vm->row.id, strerror(-rc));
}

/* A run still waiting for ready when its VM stopped after running: by a
 * stop request, -EALREADY (apid: 409 conflict); by itself (an app that
 * ended, an OSv that found no app and powered off), -EPIPE (apid: 502
 * guest_stopped), with the VM's id, how it ended and its console's last
 * line, which usually says why. */
static void reply_stopped_unready(struct pw_vm *vm)
{
	char tail[256], msg[sizeof(tail) + 160];

	if (vm->stop_waiters) {
		snprintf(msg, sizeof(msg), "VM %s was stopped (a stop request) before it was ready",
			 vm->row.id);
		pw_eng_reply_all(vm, &vm->run_waiters, -EALREADY, 0, msg);
		return;
	}
	pw_file_last_line(vm->row.console_log, tail, sizeof(tail));
	snprintf(msg, sizeof(msg), "VM %s stopped before it was ready (exit status %lld)%s%s",
		 vm->row.id, (long long)vm->row.exit_status, tail[0] ? "; its console: " : "", tail);
	pw_eng_reply_all(vm, &vm->run_waiters, -EPIPE, 0, msg);
}

static void reply_final(struct pw_vm *vm)
{
	struct pw_engine *e = pw_eng(vm);
	struct pw_waiter *x;

	if (vm->state == PW_S_STOPPED && !vm->fail_status && vm->row.started_at[0])
		reply_stopped_unready(vm);
	else if (vm->state == PW_S_STOPPED && !vm->fail_status)
		pw_eng_reply_all(vm, &vm->run_waiters, -ECANCELED, 0,
			  "VM was stopped before it was running");
	else
		pw_eng_reply_all(vm, &vm->run_waiters, vm->fail_status ? vm->fail_status : -EIO, 0,
			  vm->row.error);
	pw_eng_reply_all(vm, &vm->stop_waiters, 0, 0, NULL);
	pw_eng_reply_all(vm, &vm->pause_waiters, -EIO, 0, vm->state == PW_S_STOPPED ?
			 "VM was stopped before the pause or resume was done" : vm->row.error);
	while ((x = pw_waiter_pop(&vm->replay_waiters))) { /* a failure stays one */
		pw_engine_replay_final(e, x, &vm->row);
		free(x);
	}
}

/* ---- recording ------------------------------------------------------------------ */

static void add_event(struct ui_vm_change *ch, const char *kind, const char *detail)
{
	if (kind && ch->n_ev < UI_REG_MAX_EVENTS)
		ch->ev[ch->n_ev++] = (struct ui_reg_event){ kind, detail };
}

/* The transition's row fields (set before the write). */
static void prepare_row(struct pw_vm *vm, enum pw_state from, enum pw_state next,
			enum pw_event ev)
{
	if (next == PW_S_RUNNING && from != PW_S_RUNNING && from != PW_S_RESUMING) {
		ui_registry_now(vm->row.started_at, sizeof(vm->row.started_at));
		if (!has_ready_rule(vm)) /* nothing to wait for: ready as it runs */
			memcpy(vm->row.ready_at, vm->row.started_at, sizeof(vm->row.ready_at));
	}
	if (ev == PW_E_READY && !vm->row.ready_at[0])
		ui_registry_now(vm->row.ready_at, sizeof(vm->row.ready_at));
	if (next == PW_S_STOPPED || next == PW_S_FAILED)
		ui_registry_now(vm->row.stopped_at, sizeof(vm->row.stopped_at));
}

/* The events a transition records, by its kind and its action. rel holds
 * the release detail; it must live until the write. */
static void change_events(struct ui_vm_change *ch, const struct pw_vm *vm,
			  const struct pw_transition *t, const struct pw_cause *c,
			  char *rel, size_t rel_len)
{
	add_event(ch, t->kind, c->detail);
	if (t->action == PW_A_KILL && has_process(vm))
		add_event(ch, "kill", c->error ? c->error : c->detail);
	if (t->action != PW_A_FINISH && t->action != PW_A_DELETE)
		return;
	snprintf(rel, rel_len, "ip=%s tap=%s", vm->row.ip, vm->row.tap);
	if (t->action == PW_A_FINISH)
		add_event(ch, pw_state_name(t->next),
			  t->next == PW_S_FAILED ? vm->row.error : NULL);
	else
		add_event(ch, "delete", vm->fail_status ? vm->row.error : "warm slot retired");
	add_event(ch, "release", rel);
}

/* Writes the transition to t->next; on success vm->stored follows. */
static int record(struct pw_vm *vm, const struct pw_transition *t,
		  const struct pw_cause *c, bool *tap_ready)
{
	struct pw_engine *e = pw_eng(vm);
	struct ui_vm_change ch = { 0 };
	char old[sizeof(vm->row.state)], rel[64];
	int rc;

	ch.expect = vm->stored == PW_S_NEW ? NULL : pw_state_name(vm->stored);
	ch.delete_row = t->action == PW_A_DELETE;
	if (t->action == PW_A_CREATE) {
		ch.lease = UI_LEASE_BIND;
		ch.net = &e->net;
		ch.tap_prefix = e->cfg->tap_prefix;
	} else if (t->action == PW_A_FINISH || t->action == PW_A_DELETE) {
		ch.lease = UI_LEASE_RELEASE;
	}
	change_events(&ch, vm, t, c, rel, sizeof(rel));
	if (!ui_reg_in_batch(e->reg)) {
		if (e->reg_down_until && ui_now_ms() < e->reg_down_until)
			return e->reg_down_rc; /* not before the retry */
		if ((rc = pw_eng_open_batch(e)) < 0) {
			if (pw_eng_unavailable(rc))
				pw_eng_reg_down(e, rc);
			return rc;
		}
	}
	memcpy(old, vm->row.state, sizeof(old));
	snprintf(vm->row.state, sizeof(vm->row.state), "%s", pw_state_name(t->next));
	rc = ui_reg_vm_change(e->reg, &vm->row, &ch);
	if (rc < 0) {
		memcpy(vm->row.state, old, sizeof(old));
		if (pw_eng_unavailable(rc))
			pw_eng_reg_down(e, rc);
		return rc;
	}
	vm->stored = t->next;
	if (tap_ready)
		*tap_ready = ch.tap_ready;
	return 0;
}

/* PRESS (same state, nothing to say) is the only transition not written. */
/* Not written: a transition that changes neither the stored state's name
 * nor says anything — a press of the button, the start of a spawn (its
 * pid is written when it exists). */
static bool needs_record(const struct pw_vm *vm, const struct pw_transition *t)
{
	bool silent = t->action == PW_A_PRESS || t->action == PW_A_SPAWN ||
		      t->action == PW_A_SPAWN_WARM;

	return strcmp(pw_state_name(t->next), pw_state_name(vm->stored)) != 0 || t->kind ||
	       !silent;
}

/* ---- actions ----------------------------------------------------------------- */

static void on_timer(uv_timer_t *t);
static void start_spawn(struct pw_vm *vm, enum pw_action a);

static void arm(struct pw_vm *vm, unsigned ms, unsigned repeat, uint64_t deadline_ms)
{
	vm->deadline_ms = deadline_ms;
	if (pw_vm_timer_start(vm, pw_eng(vm)->env.loop, ms, repeat, on_timer) < 0)
		ui_error("%s: cannot arm the %s timer", vm->row.id, pw_state_name(vm->state));
}

static void boot(struct pw_vm *vm)
{
	int rc = vm->vmm.drv->boot(&vm->vmm);
	struct pw_cause c = { rc, "cannot start the guest", NULL };

	if (rc < 0)
		pw_eng_fire(vm, PW_E_ERROR, &c);
}

static void kill_vmm(struct pw_vm *vm)
{
	struct pw_cause gone = { -ESRCH, "no vmm process", NULL };
	int rc = has_process(vm) ? vm->vmm.drv->kill(&vm->vmm) : -ESRCH;

	if (rc == -ESRCH) {
		pw_eng_fire(vm, PW_E_EXIT_ERROR, &gone); /* nothing to wait for */
		return;
	}
	if (rc < 0)
		ui_warn("%s: kill: %s", vm->row.id, strerror(-rc));
	arm(vm, PW_KILL_RETRY_MS, 0, 0);
}

static void poweroff(struct pw_vm *vm)
{
	unsigned timeout = pw_eng(vm)->cfg->stop_timeout_ms;
	unsigned tick = timeout < PW_POWERDOWN_RETRY_MS ? timeout : PW_POWERDOWN_RETRY_MS;
	int rc = vm->vmm.drv->stop(&vm->vmm);
	char err[128];
	struct pw_cause c = { rc, err, NULL };

	if (rc < 0) {
		snprintf(err, sizeof(err), "power button: %s",
			 rc == -ENOTSUP ? "no guest that answers it (not started, or stop: kill)" :
			 strerror(-rc));
		pw_eng_fire(vm, PW_E_ERROR, &c);
		return;
	}
	arm(vm, tick, tick, ui_now_ms() + timeout);
}

static void press(struct pw_vm *vm)
{
	if (vm->vmm.drv->stop(&vm->vmm) < 0)
		ui_debug("%s: power button press not sent", vm->row.id);
}

static void engine_free(struct pw_engine *e, struct pw_vm *vm)
{
	pw_eng_forget_deferred(e, vm);
	pw_vm_free(&e->vms, vm);
}

/* Final: the VMM is gone and the row says so (or will, engine tick). */
static void finish(struct pw_vm *vm)
{
	struct pw_engine *e = pw_eng(vm);

	pw_vm_timer_stop(vm);
	if (vm->row.api_socket[0] && unlink(vm->row.api_socket) < 0 && errno != ENOENT)
		ui_warn("%s: cannot remove %s: %s", vm->row.id, vm->row.api_socket,
			strerror(errno));
	pw_vmm_dirs_remove(e->cfg, vm->row.id); /* its own directory, its jail */
	if (has_process(vm))
		vm->vmm.drv->release(&vm->vmm);
	vm->vmm.data = NULL;
	reply_final(vm);
	e->hooks.net_kick(e, &vm->row, false);
	if (vm->stored == vm->state)
		engine_free(e, vm);
}

/* A new row: go on at once if the tap is ready, else wait for netd. */
static void created(struct pw_vm *vm, bool tap_ready)
{
	struct pw_engine *e = pw_eng(vm);
	struct pw_cause now = { 0, NULL, NULL };
	struct pw_cause down = { -EAGAIN, NULL, "network daemon unavailable" };

	if (tap_ready) {
		pw_eng_fire(vm, PW_E_TAP_READY, &now);
		return;
	}
	if (!e->hooks.netd_up(e)) {
		pw_eng_fire(vm, PW_E_ERROR, &down);
		return;
	}
	e->hooks.net_kick(e, &vm->row, true);
	arm(vm, PW_TAP_TIMEOUT_MS, 0, 0);
}

void pw_eng_act(struct pw_vm *vm, const struct pw_transition *t, bool tap_ready)
{
	switch (t->action) {
	case PW_A_NONE:
		if (t->next != PW_S_RUNNING)
			break;
		if (vm->state == PW_S_RUNNING)
			watch_ready(vm);
		reply_running(vm); /* even if it has moved on since */
		break;
	case PW_A_UNREADY: reply_unready(vm); break;
	case PW_A_ANSWER:
		if (vm->state == PW_S_RUNNING) /* resumed: not ready yet? watched again */
			watch_ready(vm);
		/* fall through */
	case PW_A_PAUSE:
	case PW_A_RESUME: pw_eng_pause_act(vm, t->action); break;
	case PW_A_CREATE: created(vm, tap_ready); break;
	case PW_A_SPAWN:
	case PW_A_SPAWN_WARM: start_spawn(vm, t->action); break;
	case PW_A_BOOT: boot(vm); break;
	case PW_A_POWEROFF: poweroff(vm); break;
	case PW_A_PRESS: press(vm); break;
	case PW_A_KILL: kill_vmm(vm); break;
	case PW_A_FINISH:
	case PW_A_DELETE: finish(vm); break;
	case PW_A_IGNORE:
	case PW_A_COUNT: break;
	}
}

/* ---- spawning (before the record: its pid is part of it) -------------------- */

/* The row's boot_args: the image's, with the VM's IP and id (cmdline.h). */
int pw_engine_boot_args(struct pw_engine *e, struct pw_vm *vm, const struct ui_image *img)
{
	char extra[64] = "";

	const char *why;
	bool fc = vm->vmm.drv == &pw_drv_firecracker;
	struct pw_boot_in in = {
		.ip = vm->row.ip, .id = vm->row.id, .linux_extra = extra,
		.cmd = vm->has_cmd ? &vm->run_cmd : NULL, .run_args = vm->run_args,
		.nopci = fc || pw_machine(img, e->env.accel, &why) == UI_MACHINE_MICROVM,
	};

	if (e->env.accel == UI_ACCEL_TCG && e->tsc_khz)
		snprintf(extra, sizeof(extra), "tsc_early_khz=%u tsc=reliable", e->tsc_khz);
	return pw_boot_line(e->cfg, img, &in, vm->row.boot_args, sizeof(vm->row.boot_args));
}

/* Starts spawning (SPAWNED follows); -errno + err when it cannot even start. */
static int spawn(struct pw_vm *vm, enum pw_action a, char *err, size_t len)
{
	struct pw_engine *e = pw_eng(vm);
	const struct ui_image *img = NULL;
	int rc;

	if (vm->row.image[0] && !(img = ui_config_image(e->cfg, vm->row.image))) {
		snprintf(err, len, "unknown image %s", vm->row.image);
		return -ENOENT;
	}
	if (img && pw_engine_boot_args(e, vm, img) < 0) {
		snprintf(err, len, "kernel command line too long");
		return -EINVAL;
	}
	rc = a == PW_A_SPAWN ? vm->vmm.drv->spawn(&vm->vmm, err, len)
			     : vm->vmm.drv->warm(&vm->vmm, img, err, len);
	return rc < 0 ? rc : 0;
}

static void start_spawn(struct pw_vm *vm, enum pw_action a)
{
	char err[512];
	struct pw_cause fail = { 0, NULL, err };

	if ((fail.status = spawn(vm, a, err, sizeof(err))) < 0)
		pw_eng_fire(vm, PW_E_ERROR, &fail);
}

/* ---- a write the registry refused ----------------------------------------- */

/* A new row that could not be written: the run is refused, nothing exists. */
static void refuse_new(struct pw_vm *vm, int rc)
{
	struct pw_engine *e = pw_eng(vm);
	int status = rc == -EEXIST ? -EEXIST : rc == -EADDRNOTAVAIL ? -ENOSPC :
		     rc == -EBUSY ? -EAGAIN : rc == -ENOSPC ? -ENOSPC : -EIO;
	const char *msg = rc == -EEXIST ? "VM id or Idempotency-Key already exists" :
			  rc == -EADDRNOTAVAIL ? "no free address left in the VM subnet" :
			  rc == -EBUSY ? REG_BUSY_MSG : rc == -ENOSPC ? REG_FULL_MSG :
			  "registry error";

	note_failure(vm, status, msg);
	vm->state = PW_S_GONE;
	e->hooks.changed(e, vm, PW_S_NEW);
	reply_final(vm);
	engine_free(e, vm);
}

/*
 * The action is not taken; the VM fails in memory: its VMM (if any) is
 * killed and its exit leads to the final state, whose write is retried
 * until the registry takes it (pw_engine_tick). A final transition that
 * could not be written stands in memory the same way.
 */
void pw_eng_record_failed(struct pw_vm *vm, enum pw_state target, int rc)
{
	struct pw_engine *e = pw_eng(vm);
	enum pw_state from = vm->state;
	bool slot = pw_state_is_slot(from) || pw_state_is_slot(target);
	char err[256];

	if (rc == -ESTALE)
		snprintf(err, sizeof(err), "registry: the row changed underneath (was %s)",
			 pw_state_name(vm->stored));
	else
		snprintf(err, sizeof(err), "registry: cannot record %s: %s",
			 pw_state_name(target), strerror(-rc));
	ui_error("%s: %s", vm->row.id, err);
	if (vm->stored == PW_S_NEW) {
		refuse_new(vm, rc);
		return;
	}
	note_failure(vm, rc == -ENOSPC || rc == -EBUSY ? -EAGAIN : -EIO, err);
	if (pw_state_is_final(target))
		vm->state = target;
	else if (has_process(vm) && pw_state_has_vmm(from))
		vm->state = slot ? PW_S_RETIRING : PW_S_FAILING;
	else
		vm->state = slot ? PW_S_GONE : PW_S_FAILED;
	pw_vm_timer_stop(vm);
	e->hooks.changed(e, vm, from);
	if (pw_state_is_final(vm->state))
		finish(vm);
	else
		kill_vmm(vm);
}

/* ---- firing --------------------------------------------------------------------- */

static int transition(struct pw_vm *vm, enum pw_event ev, const struct pw_transition *t,
		      const struct pw_cause *c)
{
	struct pw_engine *e = pw_eng(vm);
	enum pw_state from = vm->state;
	struct pw_cause sc = *c;
	enum pw_state prev = vm->stored;
	bool tap_ready = false, recorded = needs_record(vm, t);
	char pid[32];
	int rc;

	if (ev == PW_E_SPAWNED) { /* the pid and start time go into the record */
		if (pw_proc_start_time(vm->row.vmm_pid, &vm->row.vmm_start_time) < 0)
			vm->row.vmm_start_time = 0; /* already gone: its exit is coming */
		snprintf(pid, sizeof(pid), "pid %lld", (long long)vm->row.vmm_pid);
		sc.detail = pid;
	}
	if (is_failure(from, ev, t->next))
		note_failure(vm, sc.status, sc.error ? sc.error : sc.detail);
	prepare_row(vm, from, t->next, ev);
	if (recorded && (rc = record(vm, t, &sc, &tap_ready)) < 0) {
		if (pw_eng_unavailable(rc) && vm->stored != PW_S_NEW) { /* nothing changes */
			if (pw_eng_is_request(ev)) {
				pw_eng_refuse(vm, ev, rc);
				return -EAGAIN;
			}
			if (pw_eng_hold(vm, ev, &sc, pw_eng(vm)->replaying == vm) == 0)
				return -EAGAIN;
		}
		pw_eng_record_failed(vm, t->next, rc);
		return rc;
	}
	vm->state = t->next;
	if (from != vm->state) {
		pw_vm_timer_stop(vm);
		if (from == PW_S_RUNNING) { /* ready or not, it no longer matters */
			pw_ready_stop(vm->ready);
			vm->ready = NULL;
		}
		/* a held event tried again every 250 ms: said once, when held */
		ui_log_vm(e->replaying == vm ? UI_LOG_DEBUG : UI_LOG_INFO, vm->row.id,
			  pw_event_name(ev), pw_state_name(from), pw_state_name(vm->state),
			  "%s", sc.error ? sc.error : sc.detail ? sc.detail : "");
	}
	e->hooks.changed(e, vm, from);
	if (recorded || pw_eng_has_deferred(e, vm))
		pw_eng_defer(e, vm, t, tap_ready, from, prev, ev, &sc);
	else
		pw_eng_act(vm, t, tap_ready);
	return 0;
}

int pw_eng_fire(struct pw_vm *vm, enum pw_event ev, const struct pw_cause *c)
{
	const struct pw_transition *t;

	if (vm->held && pw_eng(vm)->replaying != vm) { /* after the ones that wait */
		if (pw_eng_is_request(ev)) {
			pw_eng_refuse(vm, ev, pw_eng(vm)->reg_down_rc ? pw_eng(vm)->reg_down_rc : -EBUSY);
			return -EAGAIN;
		}
		return pw_eng_hold(vm, ev, c, false) == 0 ? -EAGAIN : -ENOMEM;
	}
	t = pw_fsm_step(vm->state, ev);

	if (!t) {
		ui_warn("%s: event %s refused in state %s", vm->row.id, pw_event_name(ev),
			pw_state_name(vm->state));
		return -EPERM;
	}
	if (t->action == PW_A_IGNORE)
		return 0;
	return transition(vm, ev, t, c);
}

int pw_engine_fire(struct pw_vm *vm, enum pw_event ev, int status, const char *detail)
{
	struct pw_cause c = { status, detail, NULL };

	return pw_eng_fire(vm, ev, &c);
}

/* ---- reports and timers ------------------------------------------------------ */

static void on_report(struct pw_vmm *v, enum pw_vmm_report r, int status, const char *err)
{
	struct pw_cause c = { status, NULL, err };
	enum pw_event ev = r == PW_VMM_SPAWNED ? PW_E_SPAWNED : r == PW_VMM_BOOTED ?
			   PW_E_BOOTED : r == PW_VMM_WARMED ? PW_E_WARMED :
			   r == PW_VMM_PAUSED ? PW_E_PAUSED : r == PW_VMM_RESUMED ?
			   PW_E_RESUMED : PW_E_ERROR;

	pw_eng_fire(pw_vm_of(v), ev, &c);
}

static void on_exited(struct pw_vmm *v, const struct pw_exit_info *x)
{
	struct pw_vm *vm = pw_vm_of(v);
	char how[128], why[128], tail[256], err[640];
	enum pw_event ev = pw_exit_event(x, how, why, sizeof(how));
	unsigned limit = 0;
	struct pw_cause c = { -EIO, how, why };

	vm->row.exit_status = x->signal ? 128 + x->signal : x->status;
	if (vm->state == PW_S_STARTING || vm->state == PW_S_WARMING ||
	    vm->state == PW_S_WARM) {
		pw_file_last_line(vm->row.console_log, tail, sizeof(tail));
		snprintf(err, sizeof(err), "%s exited with %s%s%s", v->drv->name, how,
			 tail[0] ? ": " : "", tail);
		c.error = err;
	}
	if (pw_cg_end(v->env->cgroups, vm->row.id, &limit)) { /* removes its cgroup */
		snprintf(err, sizeof(err), "out of memory (limit %u MiB)", limit);
		c.error = err;
		ev = PW_E_EXIT_ERROR;
	}
	pw_eng_fire(vm, ev, &c);
}

static void on_timer(uv_timer_t *t)
{
	struct pw_vm *vm = t->data;
	char err[128];
	struct pw_cause c = { -ETIMEDOUT, NULL, err };

	if (vm->state == PW_S_STOPPING && vm->deadline_ms && ui_now_ms() < vm->deadline_ms) {
		pw_engine_fire(vm, PW_E_TICK, 0, NULL);
		return;
	}
	if (vm->state == PW_S_STOPPING) {
		ui_warn("%s: no poweroff within %u ms, killing", vm->row.id,
			pw_eng(vm)->cfg->stop_timeout_ms);
		c.error = "stop timeout";
	} else if (vm->state == PW_S_CREATING || vm->state == PW_S_PENDING) {
		snprintf(err, sizeof(err), "network: tap %s was not made within %u ms",
			 vm->row.tap, PW_TAP_TIMEOUT_MS);
	} else {
		snprintf(err, sizeof(err), "vmm pid %lld: exit not seen %u ms after SIGKILL",
			 (long long)vm->row.vmm_pid, PW_KILL_RETRY_MS);
	}
	pw_eng_fire(vm, PW_E_TIMEOUT, &c);
}

/* ---- lifetime and the tick ------------------------------------------------------ */

/* The priority VMMs run at: what uigniterd says (daemon.h), else ours. */
static int vmm_nice(void)
{
	const char *s = getenv(UI_VMM_NICE_ENV);
	char *end;
	long v;

	errno = 0;
	v = s ? strtol(s, &end, 10) : 0;
	if (s && !errno && *end == '\0' && v >= -20 && v <= 19)
		return (int)v;
	errno = 0;
	v = getpriority(PRIO_PROCESS, 0);
	return v == -1 && errno ? 0 : (int)v;
}

/* VMM sessions run UI_DAEMON_NICE_BOOST below ours (vmm_proc.c says why). */
static int vmm_autogroup_nice(void)
{
	int ours = pw_autogroup_nice();

	if (ours < -20)
		return PW_NO_AUTOGROUP;
	return ours + UI_DAEMON_NICE_BOOST > 19 ? 19 : ours + UI_DAEMON_NICE_BOOST;
}

int pw_engine_init(struct pw_engine *e, uv_loop_t *loop, const struct ui_config *cfg,
		   struct ui_registry *reg, enum ui_accel accel,
		   const struct pw_engine_hooks *hooks)
{
	int rc;

	memset(e, 0, sizeof(*e));
	e->env = (struct pw_vmm_env){ loop, cfg, accel, vmm_nice(), vmm_autogroup_nice(), NULL, NULL, NULL };
	e->cfg = cfg;
	e->reg = reg;
	e->hooks = *hooks;
	if ((rc = uv_idle_init(loop, &e->commit)) < 0)
		return rc;
	e->commit.data = e;
	if ((rc = uv_timer_init(loop, &e->retry)) < 0)
		return rc;
	e->retry.data = e;
	return ui_ipam_init(&e->net, cfg->subnet, cfg->prefix_len, cfg->gateway);
}

/* What was recorded is committed and acted upon, then every VM forgotten
 * (their VMMs keep running). */
void pw_engine_fini(struct pw_engine *e)
{
	uv_timer_stop(&e->retry); /* held events are lost: recovery resolves them */
	pw_eng_flush(e);
	while (e->vms)
		pw_vm_free(&e->vms, e->vms);
	free(e->deferred.v);
	e->deferred = (struct pw_deferred_list){ 0 };
}

/* Hooks every VM's driver view gets. */
void pw_engine_attach(struct pw_engine *e, struct pw_vm *vm, const struct ui_vmm_driver *drv)
{
	(void)e;
	vm->vmm.drv = drv;
	vm->vmm.report = on_report;
	vm->vmm.exited = on_exited;
}

/* A final state the registry refused: written again; freed once it is. */
static void retry_final(struct pw_vm *vm)
{
	struct pw_engine *e = pw_eng(vm);
	const struct pw_transition t = {
		vm->state, vm->state == PW_S_GONE ? PW_A_DELETE : PW_A_FINISH, NULL
	};
	struct pw_cause c = { 0, NULL, NULL };
	enum pw_state prev = vm->stored;
	int rc = record(vm, &t, &c, NULL);

	if (rc == 0) { /* finish() frees it once the batch has committed */
		ui_info("%s: %s recorded after all", vm->row.id, pw_state_name(vm->state));
		pw_eng_defer(e, vm, &t, false, vm->state, prev, PW_E_COUNT, NULL);
	} else if (rc == -ESTALE) {
		ui_error("%s: row changed underneath; giving it up", vm->row.id);
		e->hooks.net_kick(e, &vm->row, false);
		engine_free(e, vm);
	}
}

void pw_engine_tick(struct pw_engine *e)
{
	for (struct pw_vm *vm = e->vms, *next; vm; vm = next) {
		next = vm->next;
		if (pw_state_is_final(vm->state) && vm->stored != vm->state)
			retry_final(vm);
	}
}

unsigned pw_engine_count(const struct pw_engine *e, enum pw_state s)
{
	unsigned n = 0;

	for (const struct pw_vm *vm = e->vms; vm; vm = vm->next)
		n += vm->state == s;
	return n;
}

unsigned pw_engine_active(const struct pw_engine *e)
{
	unsigned n = 0;

	for (const struct pw_vm *vm = e->vms; vm; vm = vm->next)
		n += vm->state != PW_S_NEW && !pw_state_is_slot(vm->state) &&
		     !pw_state_is_final(vm->state);
	return n;
}
