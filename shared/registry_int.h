/*
 * registry_int.h — private to shared/registry*.c (the interface is
 * registry.h): the connection struct, the statement table, the one list of
 * vms columns, and the helpers every registry file uses.
 *
 *   registry.c      open, migrations, statements, transactions, errors
 *   registry_vm.c   vms rows, guarded state changes, events
 *   registry_net.c  leases, taps, address allocation
 */
#ifndef UI_REGISTRY_INT_H
#define UI_REGISTRY_INT_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "metrics.h"
#include "registry.h"

/*
 * The vms columns after `id`, in table order — the only list of them: the
 * statements, binding and reading are generated from it. S(name) is a text
 * column (struct ui_vm char[]), I(name, none) an integer one whose value
 * `none` is stored as NULL (NOT NULL columns use INT64_MIN: never none).
 */
#define UI_REG_VM_COLUMNS(S, I) S(name) UI_REG_VM_COLUMNS_AFTER_NAME(S, I)
#define UI_REG_VM_COLUMNS_AFTER_NAME(S, I)                                   \
	S(state) S(image) S(kernel) S(initrd) S(rootfs) S(boot_args) \
	I(vcpus, INT64_MIN) I(mem_mib, INT64_MIN) S(driver) I(vmm_pid, 0)    \
	I(vmm_start_time, 0) S(api_socket) S(console_log) S(tap) S(ip)       \
	S(mac) S(idempotency_key) S(created_at) S(started_at) S(stopped_at)  \
	I(exit_status, -1) S(error) S(ready_at)

#define UI_REG_COL_NAME_S(n) ", " #n
#define UI_REG_COL_NAME_I(n, none) ", " #n
#define UI_REG_COL_PARAM_S(n) ", :" #n
#define UI_REG_COL_PARAM_I(n, none) ", :" #n
#define UI_REG_COL_SET_S(n) ", " #n " = ?"
#define UI_REG_COL_SET_I(n, none) ", " #n " = ?"

#define UI_REG_VM_NAMES "id" UI_REG_VM_COLUMNS(UI_REG_COL_NAME_S, UI_REG_COL_NAME_I)
#define UI_REG_VM_PARAMS ":id" UI_REG_VM_COLUMNS(UI_REG_COL_PARAM_S, UI_REG_COL_PARAM_I)
/* An UPDATE's SET list: every column but id, as parameters 2..N in column
 * order ("?2", then each "?" one more), so "WHERE id = ?1" keeps id
 * parameter 1 and the binding is the INSERT's; a guard's expected state is
 * the last parameter. id is not set (it names the row): setting it made
 * every change rewrite the primary key's index, one WAL page of ~6 per
 * commit (docs/BENCHMARKS.md part 6). */
#define UI_REG_VM_SETS "name = ?2" UI_REG_VM_COLUMNS_AFTER_NAME(UI_REG_COL_SET_S, UI_REG_COL_SET_I)
#define UI_REG_LEASE_COLS "ip, mac, tap, vm_id, state, updated_at"
#define UI_REG_TAP_COLS "name, ip, state, updated_at"

struct ui_reg_schema;

enum ui_reg_stmt {
	ST_BEGIN, ST_COMMIT, ST_ROLLBACK, ST_USER_VERSION,
	ST_SAVEPOINT, ST_RELEASE, ST_ROLLBACK_TO,
	ST_VM_INSERT, ST_VM_UPDATE, ST_VM_UPDATE_IF, ST_VM_GET, ST_VM_GET_BY_KEY,
	ST_VM_DELETE, ST_VM_DELETE_IF, ST_VM_LIST, ST_VM_LIST_STATE, ST_VM_COUNT,
	ST_VM_COUNT_STATE, ST_VM_PAGE, ST_VM_PAGE_STATE, ST_VM_FINAL_COUNT,
	ST_VM_FINAL_OLDEST, ST_VM_DELETE_FINAL, ST_EVENT_DELETE_VM,
	ST_LEASE_INSERT, ST_LEASE_DELETE, ST_LEASE_DELETE_VM, ST_LEASE_GET_BY_VM,
	ST_LEASE_LIST, ST_LEASE_IPS,
	ST_TAP_INSERT, ST_TAP_INSERT_UNLEASED, ST_TAP_SET_STATE, ST_TAP_RETIRE, ST_TAP_DELETE, ST_TAP_LIST,
	ST_EVENT_INSERT, ST_EVENT_LIST,
	ST_VM_RELEASE_KEY, ST_VM_GET_BY_NAME,
	ST_COUNT
};

struct ui_registry {
	sqlite3 *db;
	bool rdonly;
	char *path;                    /* for log messages */
	uint64_t commits;              /* write transactions committed */
	bool batch;                    /* a batch is open (ui_reg_batch_begin) */
	sqlite3_stmt *stmt[ST_COUNT];  /* prepared on first use */
	struct ui_reg_schema *schema;  /* tables and columns of our version (owned) */
	int write_error;               /* registry.h: ui_registry_write_error */
	struct ui_reg_metrics *metrics; /* NULL, or where writes are counted (metrics.h) */
	uint64_t tx_t0_us;             /* the open write transaction's BEGIN */
	bool tx_events;                /* it inserted events */
};

/* Logs the connection's sqlite error for `what` and maps rc to -errno. */
int ui_reg_fail(struct ui_registry *reg, int rc, const char *what);
/* A bind failed: reset st, map the connection's last error. */
int ui_reg_bind_failed(struct ui_registry *reg, sqlite3_stmt *st);
/* -EROFS (logged) on a read-only connection. */
int ui_reg_writable(struct ui_registry *reg, const char *what);

int ui_reg_stmt(struct ui_registry *reg, enum ui_reg_stmt id, sqlite3_stmt **out);
void ui_reg_stmt_done(sqlite3_stmt *st); /* reset + clear bindings */

/* BEGIN IMMEDIATE ... then ui_reg_tx_end(reg, r): COMMIT if r == 0 (a
 * failed COMMIT becomes the result), else ROLLBACK; returns the result.
 * Inside a batch they are a savepoint and its release (or rollback to it):
 * the change is all-or-nothing, and commits with the batch. */
int ui_reg_tx_begin(struct ui_registry *reg);
int ui_reg_tx_end(struct ui_registry *reg, int r);

/* Steps a bound write statement once; must_change: no row affected is
 * -ENOENT (or `none`); always resets st. No transaction of its own. */
int ui_reg_step_write(struct ui_registry *reg, sqlite3_stmt *st, bool must_change,
		      int none, const char *what);
/* ui_reg_step_write inside its own transaction. */
int ui_reg_write1(struct ui_registry *reg, sqlite3_stmt *st, bool must_change,
		  int none, const char *what);

/* Binds s (at most size bytes; "" or NULL → NULL) to parameter idx (1-based). */
int ui_reg_bind_text(sqlite3_stmt *st, int idx, const char *s, size_t size);
/* Binds v, or NULL when v == none. */
int ui_reg_bind_int(sqlite3_stmt *st, int idx, int64_t v, int64_t none);
/* Column i into dst ("" for NULL). */
void ui_reg_col_text(sqlite3_stmt *st, int i, char *dst, size_t size);
int64_t ui_reg_col_int(sqlite3_stmt *st, int i, int64_t null);
/* Column i as a string; "" for NULL (or sqlite out of memory). */
const char *ui_reg_col_or_empty(sqlite3_stmt *st, int i);

#define UI_REG_BIND_STR(st, idx, field) ui_reg_bind_text(st, idx, field, sizeof(field))
#define UI_REG_COL_STR(st, i, field) ui_reg_col_text(st, i, field, sizeof(field))

/* Walks the select `id` (text parameter 1 = arg, unless arg is NULL):
 * each(st, ctx) for every row; a non-zero return from each stops the walk
 * and is returned. -EBUSY when the statement is already walking (each must
 * not walk it again). */
int ui_reg_walk(struct ui_registry *reg, enum ui_reg_stmt id, const char *arg,
		int (*each)(sqlite3_stmt *st, void *ctx), void *ctx, const char *what);

/* One-text-parameter select of one row; -ENOENT when none. */
int ui_reg_select_one(struct ui_registry *reg, enum ui_reg_stmt id, const char *arg,
		      void (*read)(sqlite3_stmt *st, void *out), void *out);

/* Inside a transaction, before vm_id's events are deleted: keeps the
 * log's newest seq from being reused (registry_events.c). */
#define UI_REG_EVENT_DELETED "deleted"
int ui_reg_event_keep_seq(struct ui_registry *reg, const char *vm_id);

/* registry_vm.c: appends one event inside the caller's transaction. */
int ui_reg_event_add(struct ui_registry *reg, const char *vm_id, const char *kind,
		     const char *detail);
/* registry_net.c: the lease steps of ui_reg_vm_change, inside its tx. */
int ui_reg_lease_bind(struct ui_registry *reg, struct ui_vm *row,
		      const struct ui_ipam *net, const char *tap_prefix, bool *tap_ready);
int ui_reg_lease_release(struct ui_registry *reg, const char *vm_id);

#endif
