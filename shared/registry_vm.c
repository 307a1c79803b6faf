/*
 * registry_vm.c — rows of vms and events: the guarded state change
 * (ui_reg_vm_change, one transaction: row + events + lease), the unguarded
 * single writes tools and tests use, and the reads. The column list is
 * UI_REG_VM_COLUMNS (registry_int.h); binding and reading follow it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "registry_int.h"

/* ---- binding and reading a row ------------------------------------------ */

/* Binds every column of vm to parameters 1..N in UI_REG_VM_COLUMNS order. */
static int bind_vm(sqlite3_stmt *st, const struct ui_vm *vm)
{
	int i = 1, rc = UI_REG_BIND_STR(st, i++, vm->id);

#define BIND_S(n) rc |= UI_REG_BIND_STR(st, i++, vm->n);
#define BIND_I(n, none) rc |= ui_reg_bind_int(st, i++, (int64_t)vm->n, none);
	UI_REG_VM_COLUMNS(BIND_S, BIND_I)
#undef BIND_S
#undef BIND_I
	return rc;
}

static void read_vm(sqlite3_stmt *st, void *out)
{
	struct ui_vm *vm = out;
	int i = 1;

	memset(vm, 0, sizeof(*vm));
	UI_REG_COL_STR(st, 0, vm->id);
#define READ_S(n) UI_REG_COL_STR(st, i++, vm->n);
#define READ_I(n, none) vm->n = (__typeof__(vm->n))ui_reg_col_int(st, i++, none);
	UI_REG_VM_COLUMNS(READ_S, READ_I)
#undef READ_S
#undef READ_I
}

static int check_row(const struct ui_vm *vm)
{
	return vm->id[0] && vm->state[0] ? 0 : -EINVAL;
}

/* Binds vm (and the expected state: an update's last parameter) to the
 * statement id and steps it, no transaction. */
static int vm_write(struct ui_registry *reg, enum ui_reg_stmt id, const struct ui_vm *vm,
		    const char *expect, const char *what)
{
	sqlite3_stmt *st = NULL;
	int r;

	if ((r = ui_reg_stmt(reg, id, &st)) < 0)
		return r;
	if (bind_vm(st, vm) != SQLITE_OK ||
	    (expect && sqlite3_bind_text(st, sqlite3_bind_parameter_count(st), expect, -1,
					 SQLITE_TRANSIENT) != SQLITE_OK))
		return ui_reg_bind_failed(reg, st);
	return ui_reg_step_write(reg, st, id != ST_VM_INSERT,
				 expect ? -ESTALE : -ENOENT, what);
}

static int vm_delete(struct ui_registry *reg, const char *id, const char *expect)
{
	sqlite3_stmt *st = NULL;
	int r;

	if ((r = ui_reg_stmt(reg, expect ? ST_VM_DELETE_IF : ST_VM_DELETE, &st)) < 0)
		return r;
	if (sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT) != SQLITE_OK ||
	    (expect && sqlite3_bind_text(st, 2, expect, -1, SQLITE_TRANSIENT) != SQLITE_OK))
		return ui_reg_bind_failed(reg, st);
	return ui_reg_step_write(reg, st, true, expect ? -ESTALE : -ENOENT, "delete vm");
}

/* ---- the guarded change ------------------------------------------------- */

/* The `lease` event of a bound address (after the caller's own events). */
static int lease_event(struct ui_registry *reg, const struct ui_vm *row)
{
	char detail[96];

	snprintf(detail, sizeof(detail), "ip=%s mac=%s tap=%s", row->ip, row->mac, row->tap);
	return ui_reg_event_add(reg, row->id, "lease", detail);
}

/* The row part of a change: insert, guarded update or guarded delete. */
static int change_row(struct ui_registry *reg, struct ui_vm *row,
		      const struct ui_vm_change *c)
{
	if (c->delete_row)
		return vm_delete(reg, row->id, c->expect);
	if (!c->expect)
		return vm_write(reg, ST_VM_INSERT, row, NULL, "insert vm");
	return vm_write(reg, ST_VM_UPDATE_IF, row, c->expect, "update vm");
}

static int change_body(struct ui_registry *reg, struct ui_vm *row, struct ui_vm_change *c)
{
	int r = 0;

	if (c->lease == UI_LEASE_BIND)
		r = ui_reg_lease_bind(reg, row, c->net, c->tap_prefix, &c->tap_ready);
	if (r == 0)
		r = change_row(reg, row, c);
	if (r == 0 && c->lease == UI_LEASE_RELEASE)
		r = ui_reg_lease_release(reg, row->id);
	for (unsigned i = 0; r == 0 && i < c->n_ev; i++)
		r = ui_reg_event_add(reg, row->id, c->ev[i].kind, c->ev[i].detail);
	if (r == 0 && c->lease == UI_LEASE_BIND)
		r = lease_event(reg, row);
	return r;
}

int ui_reg_vm_change(struct ui_registry *reg, struct ui_vm *row, struct ui_vm_change *c)
{
	int r;

	if ((r = ui_reg_writable(reg, "vm change")) < 0)
		return r;
	if (check_row(row) < 0 || c->n_ev > UI_REG_MAX_EVENTS ||
	    (c->lease == UI_LEASE_BIND && (!c->net || !c->tap_prefix)))
		return -EINVAL;
	if (!c->expect && !row->created_at[0])
		ui_registry_now(row->created_at, sizeof(row->created_at));
	c->tap_ready = false;
	if ((r = ui_reg_tx_begin(reg)) < 0)
		return r;
	return ui_reg_tx_end(reg, change_body(reg, row, c));
}

/* ---- unguarded single writes -------------------------------------------- */

int ui_reg_vm_insert(struct ui_registry *reg, const struct ui_vm *vm)
{
	struct ui_vm_change c = { 0 };
	struct ui_vm *copy;
	int r;

	if (!(copy = malloc(sizeof(*copy))))
		return -ENOMEM;
	*copy = *vm;
	r = ui_reg_vm_change(reg, copy, &c);
	free(copy);
	return r;
}

int ui_reg_vm_update(struct ui_registry *reg, const struct ui_vm *vm)
{
	int r;

	if ((r = ui_reg_writable(reg, "update vm")) < 0)
		return r;
	if (check_row(vm) < 0)
		return -EINVAL;
	if ((r = ui_reg_tx_begin(reg)) < 0)
		return r;
	return ui_reg_tx_end(reg, vm_write(reg, ST_VM_UPDATE, vm, NULL, "update vm"));
}

int ui_reg_vm_delete(struct ui_registry *reg, const char *id)
{
	int r;

	if ((r = ui_reg_writable(reg, "delete vm")) < 0)
		return r;
	if ((r = ui_reg_tx_begin(reg)) < 0)
		return r;
	return ui_reg_tx_end(reg, vm_delete(reg, id, NULL));
}

/* ---- reads ---------------------------------------------------------------- */

int ui_reg_vm_get(struct ui_registry *reg, const char *id, struct ui_vm *out)
{
	return ui_reg_select_one(reg, ST_VM_GET, id, read_vm, out);
}

int ui_reg_vm_get_by_name(struct ui_registry *reg, const char *name, struct ui_vm *out)
{
	if (!name || !name[0])
		return -ENOENT;
	return ui_reg_select_one(reg, ST_VM_GET_BY_NAME, name, read_vm, out);
}

/* "" never matches: VMs without a key store NULL. */
int ui_reg_vm_get_by_key(struct ui_registry *reg, const char *idempotency_key,
			 struct ui_vm *out)
{
	if (!idempotency_key || !idempotency_key[0])
		return -ENOENT;
	return ui_reg_select_one(reg, ST_VM_GET_BY_KEY, idempotency_key, read_vm, out);
}

struct vm_walk {
	int (*cb)(const struct ui_vm *vm, void *arg);
	void *arg;
	struct ui_vm *vm;           /* one row at a time (~20 KiB: not on the stack) */
};

static int each_vm(sqlite3_stmt *st, void *ctx)
{
	struct vm_walk *w = ctx;

	read_vm(st, w->vm);
	return w->cb(w->vm, w->arg);
}

/*
 * Streams rows to cb. cb must not call ui_reg_vm_list again (the statement is
 * in use: -EBUSY) and should not write through this connection (the walk
 * holds a read snapshot; collect ids and write after it).
 */
int ui_reg_vm_list(struct ui_registry *reg, const char *state_filter,
		   int (*cb)(const struct ui_vm *vm, void *arg), void *arg)
{
	struct vm_walk w = { cb, arg, malloc(sizeof(struct ui_vm)) };
	int r;

	if (!w.vm)
		return -ENOMEM;
	r = ui_reg_walk(reg, state_filter ? ST_VM_LIST_STATE : ST_VM_LIST, state_filter,
			each_vm, &w, "list vms");
	free(w.vm);
	return r;
}

int ui_reg_vm_page(struct ui_registry *reg, const char *state_filter, const char *after,
		   unsigned limit, int (*cb)(const struct ui_vm *vm, void *arg), void *arg,
		   bool *more)
{
	struct vm_walk w = { cb, arg, NULL };
	sqlite3_stmt *st = NULL;
	unsigned n = 0;
	int r, rc = SQLITE_OK;

	*more = false;
	if ((r = ui_reg_stmt(reg, state_filter ? ST_VM_PAGE_STATE : ST_VM_PAGE, &st)) < 0)
		return r;
	if (sqlite3_stmt_busy(st))
		return -EBUSY;
	rc |= sqlite3_bind_text(st, 1, after ? after : "", -1, SQLITE_TRANSIENT);
	rc |= sqlite3_bind_int64(st, 2, (sqlite3_int64)limit + 1); /* one more: *more */
	if (state_filter)
		rc |= sqlite3_bind_text(st, 3, state_filter, -1, SQLITE_TRANSIENT);
	if (rc != SQLITE_OK)
		return ui_reg_bind_failed(reg, st);
	if (!(w.vm = malloc(sizeof(*w.vm)))) {
		ui_reg_stmt_done(st);
		return -ENOMEM;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n++ == limit) {
			*more = true;
			break;
		}
		if ((r = each_vm(st, &w)) != 0)
			break;
	}
	if (r == 0 && rc != SQLITE_ROW && rc != SQLITE_DONE)
		r = ui_reg_fail(reg, rc, "list vms");
	ui_reg_stmt_done(st);
	free(w.vm);
	return r;
}

/* Up to max ids of the oldest final rows into ids (max * 48 bytes). */
static int final_oldest(struct ui_registry *reg, unsigned max, char (*ids)[48], unsigned *n)
{
	sqlite3_stmt *st = NULL;
	int r, rc = SQLITE_DONE;

	*n = 0;
	if ((r = ui_reg_stmt(reg, ST_VM_FINAL_OLDEST, &st)) < 0)
		return r;
	if (sqlite3_bind_int64(st, 1, max) != SQLITE_OK)
		return ui_reg_bind_failed(reg, st);
	while (*n < max && (rc = sqlite3_step(st)) == SQLITE_ROW)
		ui_reg_col_text(st, 0, ids[(*n)++], sizeof(ids[0]));
	if (*n < max && rc != SQLITE_DONE)
		r = ui_reg_fail(reg, rc, "list stopped vms");
	ui_reg_stmt_done(st);
	return r;
}

/* Deletes one final row and its events (inside the caller's tx). 1 when
 * the row was deleted, 0 when it is no longer final or gone. */
static int prune_one(struct ui_registry *reg, const char *id)
{
	sqlite3_stmt *st = NULL;
	int r;

	if ((r = ui_reg_stmt(reg, ST_VM_DELETE_FINAL, &st)) < 0)
		return r;
	if (sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT) != SQLITE_OK)
		return ui_reg_bind_failed(reg, st);
	r = ui_reg_step_write(reg, st, true, -ESTALE, "prune vm");
	if (r == -ESTALE)
		return 0;
	if (r < 0 || (r = ui_reg_event_keep_seq(reg, id)) < 0)
		return r;
	if ((r = ui_reg_stmt(reg, ST_EVENT_DELETE_VM, &st)) < 0)
		return r;
	if (sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT) != SQLITE_OK)
		return ui_reg_bind_failed(reg, st);
	r = ui_reg_step_write(reg, st, false, 0, "prune events");
	return r < 0 ? r : 1;
}

int ui_reg_vm_remove(struct ui_registry *reg, const char *id)
{
	int r;

	if ((r = ui_reg_writable(reg, "delete a vm")) < 0 || (r = ui_reg_tx_begin(reg)) < 0)
		return r;
	r = prune_one(reg, id);
	return ui_reg_tx_end(reg, r < 0 ? r : r == 1 ? 0 : -ESTALE);
}

static int prune_body(struct ui_registry *reg, unsigned keep, unsigned max_rows,
		      char (*ids)[48], unsigned *pruned)
{
	unsigned total, n, i;
	int r;

	if ((r = ui_reg_vm_count_final(reg, &total)) < 0 || total <= keep)
		return r;
	if (total - keep < max_rows)
		max_rows = total - keep;
	if ((r = final_oldest(reg, max_rows, ids, &n)) < 0)
		return r;
	for (i = 0; i < n && r >= 0; i++)
		if ((r = prune_one(reg, ids[i])) > 0)
			(*pruned)++;
	return r < 0 ? r : 0;
}

int ui_reg_vm_prune(struct ui_registry *reg, unsigned keep, unsigned max_rows,
		    unsigned *pruned)
{
	char (*ids)[48];
	int r;

	*pruned = 0;
	if ((r = ui_reg_writable(reg, "prune vms")) < 0)
		return r;
	if (max_rows == 0)
		return 0;
	if (!(ids = calloc(max_rows, sizeof(*ids))))
		return -ENOMEM;
	if ((r = ui_reg_tx_begin(reg)) == 0)
		r = ui_reg_tx_end(reg, prune_body(reg, keep, max_rows, ids, pruned));
	if (r < 0)
		*pruned = 0;
	free(ids);
	return r;
}

static int vm_count(struct ui_registry *reg, enum ui_reg_stmt id, const char *state,
		    unsigned *out)
{
	sqlite3_stmt *st = NULL;
	int r, rc;

	if ((r = ui_reg_stmt(reg, id, &st)) < 0)
		return r;
	if (state && sqlite3_bind_text(st, 1, state, -1, SQLITE_TRANSIENT) != SQLITE_OK)
		return ui_reg_bind_failed(reg, st);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*out = (unsigned)sqlite3_column_int64(st, 0);
	else
		r = ui_reg_fail(reg, rc, "count vms");
	ui_reg_stmt_done(st);
	return r;
}

int ui_reg_vm_count(struct ui_registry *reg, const char *state, unsigned *out)
{
	return vm_count(reg, state ? ST_VM_COUNT_STATE : ST_VM_COUNT, state, out);
}

int ui_reg_vm_count_final(struct ui_registry *reg, unsigned *out)
{
	return vm_count(reg, ST_VM_FINAL_COUNT, NULL, out);
}

/* ---- events --------------------------------------------------------------- */

int ui_reg_event_add(struct ui_registry *reg, const char *vm_id, const char *kind,
		     const char *detail)
{
	char now[32];
	sqlite3_stmt *st = NULL;
	int r, rc = SQLITE_OK;

	if (!kind || !kind[0])
		return -EINVAL;
	ui_registry_now(now, sizeof(now));
	if ((r = ui_reg_stmt(reg, ST_EVENT_INSERT, &st)) < 0)
		return r;
	rc |= ui_reg_bind_text(st, 1, now, sizeof(now));
	rc |= ui_reg_bind_text(st, 2, vm_id, 4096);
	rc |= ui_reg_bind_text(st, 3, kind, 4096);
	rc |= ui_reg_bind_text(st, 4, detail, 65536);
	if (rc != SQLITE_OK)
		return ui_reg_bind_failed(reg, st);
	if ((r = ui_reg_step_write(reg, st, false, 0, "insert event")) == 0)
		reg->tx_events = true; /* counted at the commit (registry.c) */
	return r;
}

int ui_reg_event(struct ui_registry *reg, const char *vm_id, const char *kind,
		 const char *detail)
{
	int r;

	if ((r = ui_reg_writable(reg, "insert event")) < 0)
		return r;
	if (!kind || !kind[0])
		return -EINVAL;
	if ((r = ui_reg_tx_begin(reg)) < 0)
		return r;
	return ui_reg_tx_end(reg, ui_reg_event_add(reg, vm_id, kind, detail));
}

int ui_reg_vm_release_key(struct ui_registry *reg, const char *id, const char *detail)
{
	sqlite3_stmt *st = NULL;
	int r;

	if ((r = ui_reg_writable(reg, "release a key")) < 0 ||
	    (r = ui_reg_stmt(reg, ST_VM_RELEASE_KEY, &st)) < 0)
		return r;
	if (ui_reg_bind_text(st, 1, id, 4096) != SQLITE_OK)
		return ui_reg_bind_failed(reg, st);
	if ((r = ui_reg_tx_begin(reg)) < 0) {
		ui_reg_stmt_done(st);
		return r;
	}
	r = ui_reg_step_write(reg, st, true, -ESTALE, "release a key");
	if (r == 0)
		r = ui_reg_event_add(reg, id, "retried", detail);
	return ui_reg_tx_end(reg, r);
}

struct event_walk {
	int (*cb)(const char *time, const char *kind, const char *detail, void *arg);
	void *arg;
};

static int each_event(sqlite3_stmt *st, void *ctx)
{
	struct event_walk *w = ctx;

	return w->cb(ui_reg_col_or_empty(st, 0), ui_reg_col_or_empty(st, 1),
		     ui_reg_col_or_empty(st, 2), w->arg);
}

int ui_reg_event_list(struct ui_registry *reg, const char *vm_id,
		      int (*cb)(const char *time, const char *kind, const char *detail,
				void *arg),
		      void *arg)
{
	struct event_walk w = { cb, arg };

	return ui_reg_walk(reg, ST_EVENT_LIST, vm_id, each_event, &w, "list events");
}
