/*
 * engine_commit.c — the engine's side of the registry (engine.h): the loop
 * turn's batch (group commit) and the actions waiting for its commit; what
 * a batch that did not commit undoes; and a registry that cannot take
 * writes for now (locked elsewhere, full): requests refused, facts held
 * per VM and replayed every PW_REG_RETRY_MS. engine.c fires the events and
 * takes the actions; engine_int.h is what the two share.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "engine_int.h"
#include "log.h"
#include "shm.h"

static void on_commit(uv_idle_t *h);

/* ---- a registry that cannot take writes for now ------------------------------ */

/* Locked past our busy timeout, or full: it will take writes again. */
bool pw_eng_unavailable(int rc)
{
	return rc == -EBUSY || rc == -ENOSPC;
}

/* Requests can be refused (their client retries); facts cannot. */
bool pw_eng_is_request(enum pw_event ev)
{
	return ev == PW_E_RUN || ev == PW_E_STOP || ev == PW_E_PAUSE || ev == PW_E_RESUME;
}

static void on_retry(uv_timer_t *t);

static void arm_retry(struct pw_engine *e)
{
	if (!uv_is_active((uv_handle_t *)&e->retry) &&
	    uv_timer_start(&e->retry, on_retry, PW_REG_RETRY_MS, PW_REG_RETRY_MS) < 0)
		ui_error("registry: cannot arm the retry timer");
}

/* No write is tried before the next retry: the loop does not wait on a lock
 * again and again in one turn. */
void pw_eng_reg_down(struct pw_engine *e, int rc)
{
	if (!e->reg_down_rc || e->reg_down_rc != rc)
		ui_warn("registry %s: holding events and refusing requests until it takes writes",
			rc == -EBUSY ? "locked by another process" : "full");
	e->reg_down_until = ui_now_ms() + PW_REG_RETRY_MS;
	e->reg_down_rc = rc;
	arm_retry(e);
}

static void reg_up(struct pw_engine *e)
{
	if (e->reg_down_rc)
		ui_info("registry takes writes again");
	e->reg_down_until = 0;
	e->reg_down_rc = 0;
}

static void keep_cause(struct pw_held *h, enum pw_event ev, const struct pw_cause *c)
{
	memset(h, 0, sizeof(*h));
	h->ev = (int)ev;
	h->status = c->status;
	if ((h->has_detail = c->detail != NULL))
		snprintf(h->detail, sizeof(h->detail), "%s", c->detail);
	if ((h->has_error = c->error != NULL))
		snprintf(h->error, sizeof(h->error), "%s", c->error);
}

static struct pw_cause cause_of(const struct pw_held *h)
{
	return (struct pw_cause){ h->status, h->has_detail ? h->detail : NULL,
				  h->has_error ? h->error : NULL };
}

/* The request's waiters are answered; the VM stays as it is. A slot a run
 * wanted is again nobody's. */
void pw_eng_refuse(struct pw_vm *vm, enum pw_event ev, int rc)
{
	int status = rc == -ENOSPC ? -ENOSPC : -EAGAIN;
	const char *msg = rc == -ENOSPC ? REG_FULL_MSG : REG_BUSY_MSG;

	ui_warn("%s: %s refused: %s", vm->row.id, pw_event_name(ev), msg);
	if (ev == PW_E_STOP || ev == PW_E_PAUSE || ev == PW_E_RESUME) {
		pw_eng_reply_all(vm, ev == PW_E_STOP ? &vm->stop_waiters : &vm->pause_waiters,
				 status, 0, msg);
		return;
	}
	pw_eng_reply_all(vm, &vm->run_waiters, status, 0, msg);
	if (pw_state_is_slot(vm->state)) {
		vm->row.name[0] = vm->row.idempotency_key[0] = '\0';
		vm->origin = PW_ORIGIN_COLD;
	}
}

/* Holds h (a copy) at the tail, or — one taken off to be fired again —
 * back at the head. */
static int hold_copy(struct pw_vm *vm, const struct pw_held *h, bool front)
{
	struct pw_held *x = malloc(sizeof(*x)), **pp = &vm->held;

	if (!x)
		return -ENOMEM;
	*x = *h;
	if (front) {
		x->next = vm->held;
		vm->held = x;
	} else {
		while (*pp)
			pp = &(*pp)->next;
		x->next = NULL;
		*pp = x;
	}
	arm_retry(pw_eng(vm));
	return 0;
}

int pw_eng_hold(struct pw_vm *vm, enum pw_event ev, const struct pw_cause *c, bool front)
{
	struct pw_held h;

	keep_cause(&h, ev, c);
	if (!vm->held && !front)
		ui_info("%s: %s waits for the registry", vm->row.id, pw_event_name(ev));
	return hold_copy(vm, &h, front);
}

/* The loop turn's batch; committed by on_commit (an idle handle: the loop
 * does not block in its poll while a batch is open). */
int pw_eng_open_batch(struct pw_engine *e)
{
	int rc = ui_reg_batch_begin(e->reg);

	if (rc == 0 && (rc = uv_idle_start(&e->commit, on_commit)) < 0) {
		ui_error("cannot arm the commit handle: %s", uv_strerror(rc));
		if (ui_reg_batch_end(e->reg) < 0)
			ui_error("registry: an empty batch did not commit");
	}
	return rc;
}

/* ---- group commit ------------------------------------------------------------- */

void pw_eng_defer(struct pw_engine *e, struct pw_vm *vm, const struct pw_transition *t,
		  bool tap_ready, enum pw_state prev_state, enum pw_state prev_stored,
		  enum pw_event ev, const struct pw_cause *c)
{
	struct pw_deferred_list *l = &e->deferred;
	struct pw_deferred *d;

	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 64;
		struct pw_deferred *v = realloc(l->v, cap * sizeof(*v));

		if (!v) { /* cannot wait for the commit: act now (logged) */
			ui_error("%s: out of memory: acting before the commit", vm->row.id);
			pw_eng_act(vm, t, tap_ready);
			return;
		}
		l->v = v;
		l->cap = cap;
	}
	d = &l->v[l->n++];
	*d = (struct pw_deferred){ vm, *t, tap_ready, prev_state, prev_stored, ev, { 0 }, false };
	if (c)
		keep_cause(&d->why, ev, c);
	d->replayed = e->replaying == vm;
}

static bool in_list(const struct pw_deferred_list *l, const struct pw_vm *vm)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].vm == vm)
			return true;
	return false;
}

/* vm waits for the commit already: what follows for it waits too. */
bool pw_eng_has_deferred(const struct pw_engine *e, const struct pw_vm *vm)
{
	return in_list(&e->deferred, vm);
}

/* A deferred action whose VM has since moved on (a later transition of the
 * same batch, whose own action follows) is moot — but for answers and
 * final writes, which always stand. */
static bool still_due(const struct pw_deferred *d)
{
	enum pw_action a = d->t.action;

	return a == PW_A_NONE || a == PW_A_FINISH || a == PW_A_DELETE ||
	       d->vm->state == d->t.next;
}

static void forget_in(struct pw_deferred_list *l, const struct pw_vm *vm)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].vm == vm)
			l->v[i].vm = NULL;
}

void pw_eng_forget_deferred(struct pw_engine *e, struct pw_vm *vm)
{
	forget_in(&e->deferred, vm);
	forget_in(&e->acting, vm);
}

/* A registry that could not take the batch for now: the VM is back where
 * it was before the batch (d: its first entry), its requests refused, its
 * other events held in order, ahead of any it held already. */
static void batch_undo(struct pw_engine *e, struct pw_deferred_list *l, size_t first, int rc)
{
	struct pw_vm *vm = l->v[first].vm;
	enum pw_state from = vm->state;
	struct pw_held *mine = NULL, **tail = &mine;

	vm->state = l->v[first].prev_state;
	snprintf(vm->row.state, sizeof(vm->row.state), "%s", pw_state_name(vm->stored));
	if (from != vm->state) {
		pw_vm_timer_stop(vm);
		/* once, not every retry */
		ui_log_vm(l->v[first].replayed ? UI_LOG_DEBUG : UI_LOG_INFO, vm->row.id,
			  "undo", pw_state_name(from), pw_state_name(vm->state),
			  "the registry did not take it");
		e->hooks.changed(e, vm, from);
	}
	for (size_t k = first; k < l->n; k++) {
		struct pw_held *x;

		if (l->v[k].vm != vm)
			continue;
		l->v[k].vm = NULL;
		if (l->v[k].ev == PW_E_COUNT)
			continue; /* a final write: retried by the tick */
		if (pw_eng_is_request(l->v[k].ev)) {
			pw_eng_refuse(vm, l->v[k].ev, rc);
		} else if ((x = malloc(sizeof(*x)))) {
			*x = l->v[k].why;
			x->next = NULL;
			*tail = x;
			tail = &x->next;
		} else {
			ui_error("%s: out of memory: %s lost", vm->row.id,
				 pw_event_name(l->v[k].ev));
		}
	}
	if (mine) {
		*tail = vm->held;
		vm->held = mine;
		arm_retry(e);
	}
}

/* The batch did not commit: none of its writes happened. Each VM is given
 * back the stored state it had (the first entry of a VM holds it); when the
 * registry is only locked or full, batch_undo, else it fails as after a
 * refused write. */
static void batch_failed(struct pw_engine *e, struct pw_deferred_list *l, int rc)
{
	if (pw_eng_unavailable(rc))
		pw_eng_reg_down(e, rc);
	for (size_t i = l->n; i-- > 0;)
		if (l->v[i].vm)
			l->v[i].vm->stored = l->v[i].prev_stored;
	for (size_t i = 0; i < l->n; i++) {
		struct pw_vm *vm = l->v[i].vm;

		if (!vm)
			continue;
		if (pw_eng_unavailable(rc) && vm->stored != PW_S_NEW && l->v[i].ev != PW_E_COUNT) {
			batch_undo(e, l, i, rc);
			continue;
		}
		for (size_t k = i + 1; k < l->n; k++)
			if (l->v[k].vm == vm)
				l->v[k].vm = NULL; /* one failure per VM */
		pw_eng_record_failed(vm, vm->state, rc);
	}
}

/* Commits the open batch, then takes its actions in order; actions may
 * record more (a new batch): until none is open. */
void pw_eng_flush(struct pw_engine *e)
{
	for (unsigned round = 0; ui_reg_in_batch(e->reg); round++) {
		int rc;

		if (round == 64) {
			ui_warn("commit: still recording after 64 rounds; next turn");
			return;
		}
		e->acting = e->deferred;
		e->deferred = (struct pw_deferred_list){ 0 };
		if ((rc = ui_reg_batch_end(e->reg)) < 0) {
			batch_failed(e, &e->acting, rc);
		} else {
			reg_up(e);
			for (size_t i = 0; i < e->acting.n; i++)
				if (e->acting.v[i].vm && still_due(&e->acting.v[i]))
					pw_eng_act(e->acting.v[i].vm, &e->acting.v[i].t, e->acting.v[i].tap_ready);
		}
		free(e->acting.v);
		e->acting = (struct pw_deferred_list){ 0 };
	}
	uv_idle_stop(&e->commit);
}

static void on_commit(uv_idle_t *h)
{
	pw_eng_flush(h->data);
}

static bool listed(const struct pw_engine *e, const struct pw_vm *vm)
{
	for (const struct pw_vm *v = e->vms; v; v = v->next)
		if (v == vm)
			return true;
	return false;
}

/* Fires the held events again, oldest first per VM, until the registry
 * refuses one (it goes back to the head; the rest wait for the next try). */
static void on_retry(uv_timer_t *t)
{
	struct pw_engine *e = t->data;
	bool left = false;

	e->reg_down_until = 0; /* try */
	for (struct pw_vm *vm = e->vms, *next; vm; vm = next) {
		next = vm->next;
		bool had = vm->held != NULL;

		while (vm->held && !e->reg_down_until) {
			struct pw_held *h = vm->held;
			struct pw_cause c = cause_of(h);

			vm->held = h->next;
			e->replaying = vm;
			pw_eng_fire(vm, (enum pw_event)h->ev, &c); /* held again: at the head */
			e->replaying = NULL;
			free(h);
			if (!listed(e, vm))
				break;
		}
		if (!listed(e, vm))
			continue;
		if (vm->held)
			left = true;
		else if (had && !e->reg_down_until)
			ui_info("%s: its held events go to the registry", vm->row.id);
	}
	if (!left && !e->reg_down_until)
		uv_timer_stop(&e->retry);
}

