/*
 * registry_events.c — the reads behind GET /events and GET /metrics: a page
 * of the event log by seq (the cursor of a long-poll), and the VMs counted
 * by state in one GROUP BY. Read-only; any connection.
 *
 * The statements are prepared per call (a long-poll reads once per change
 * for all its waiters, a scrape once): nothing to cache.
 *
 * seq is the events table's INTEGER PRIMARY KEY: increasing, so `seq > ?`
 * is a range of the table's own b-tree. Events go only with their VM
 * (DELETE /vm/{id}, limits.keep_stopped): a cursor older than what remains
 * simply reads what remains. Without AUTOINCREMENT sqlite gives a new row
 * max(seq) + 1, so deleting the newest events would hand their seqs out
 * again (and a client's cursor would skip the new ones):
 * ui_reg_event_keep_seq puts a `deleted` event (no VM, detail the VM's id)
 * above them first; only the newest such event is kept.
 */
#include <errno.h>
#include <string.h>

#include "registry_int.h"

/* The log's newest event is ?1's. */
static const char row_is_newest_sql[] =
	"SELECT vm_id IS ?1 FROM events ORDER BY seq DESC LIMIT 1";

static int prepare(struct ui_registry *reg, const char *sql, sqlite3_stmt **st)
{
	int rc = sqlite3_prepare_v2(reg->db, sql, -1, st, NULL);

	return rc == SQLITE_OK ? 0 : ui_reg_fail(reg, rc, "prepare");
}

int ui_reg_event_page(struct ui_registry *reg, uint64_t since, const char *vm_id,
		      unsigned limit, int (*cb)(const struct ui_reg_event_row *ev, void *arg),
		      void *arg, bool *more)
{
	static const char sql[] =
		"SELECT seq, time, vm_id, kind, detail FROM events "
		"WHERE seq > ?1 AND (?2 IS NULL OR vm_id = ?2) ORDER BY seq LIMIT ?3";
	sqlite3_stmt *st = NULL;
	unsigned n = 0;
	int r, rc;

	*more = false;
	if (since > INT64_MAX || limit == 0)
		return -EINVAL;
	if ((r = prepare(reg, sql, &st)) < 0)
		return r;
	rc = sqlite3_bind_int64(st, 1, (sqlite3_int64)since);
	if (rc == SQLITE_OK)
		rc = vm_id && vm_id[0] ? sqlite3_bind_text(st, 2, vm_id, -1, SQLITE_TRANSIENT)
				       : sqlite3_bind_null(st, 2);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 3, (sqlite3_int64)limit + 1);
	if (rc != SQLITE_OK) {
		r = ui_reg_fail(reg, rc, "bind");
		goto out;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct ui_reg_event_row ev;

		if (n++ == limit) {
			*more = true;
			break;
		}
		ev.seq = (uint64_t)sqlite3_column_int64(st, 0);
		ev.time = ui_reg_col_or_empty(st, 1);
		ev.vm_id = ui_reg_col_or_empty(st, 2);
		ev.kind = ui_reg_col_or_empty(st, 3);
		ev.detail = ui_reg_col_or_empty(st, 4);
		if ((r = cb(&ev, arg)) != 0)
			goto out;
	}
	r = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : ui_reg_fail(reg, rc, "list events");
out:
	sqlite3_finalize(st);
	return r;
}

int ui_reg_event_last_seq(struct ui_registry *reg, uint64_t *seq)
{
	sqlite3_stmt *st = NULL;
	int r, rc;

	*seq = 0;
	if ((r = prepare(reg, "SELECT max(seq) FROM events", &st)) < 0)
		return r;
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		*seq = (uint64_t)sqlite3_column_int64(st, 0); /* NULL (empty) reads 0 */
	r = rc == SQLITE_ROW ? 0 : ui_reg_fail(reg, rc, "last event seq");
	sqlite3_finalize(st);
	return r;
}

int ui_reg_vm_count_by_state(struct ui_registry *reg,
			     int (*cb)(const char *state, uint64_t n, void *arg), void *arg)
{
	static const char sql[] = "SELECT state, count(*) FROM vms GROUP BY state";
	sqlite3_stmt *st = NULL;
	int r, rc;

	if ((r = prepare(reg, sql, &st)) < 0)
		return r;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if ((r = cb(ui_reg_col_or_empty(st, 0), (uint64_t)sqlite3_column_int64(st, 1),
			    arg)) != 0)
			goto out;
	r = rc == SQLITE_DONE ? 0 : ui_reg_fail(reg, rc, "count vms by state");
out:
	sqlite3_finalize(st);
	return r;
}

/* Steps a prepared one-text-parameter statement to its end; *row: the
 * first column of its first row (0 without one). */
static int step_text(struct ui_registry *reg, const char *sql, const char *arg, int *row)
{
	sqlite3_stmt *st = NULL;
	int r, rc;

	if ((r = prepare(reg, sql, &st)) < 0)
		return r;
	rc = sqlite3_bind_text(st, 1, arg, -1, SQLITE_TRANSIENT);
	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (row)
			*row = sqlite3_column_int(st, 0);
		rc = SQLITE_DONE;
	}
	r = rc == SQLITE_DONE ? 0 : ui_reg_fail(reg, rc, "keep the event seq");
	sqlite3_finalize(st);
	return r;
}

int ui_reg_event_keep_seq(struct ui_registry *reg, const char *vm_id)
{
	int newest = 0, r;

	if ((r = step_text(reg, row_is_newest_sql, vm_id, &newest)) < 0)
		return r;
	if (!newest)
		return 0;
	if ((r = step_text(reg, "DELETE FROM events WHERE vm_id IS NULL AND kind = ?1",
			   UI_REG_EVENT_DELETED, NULL)) < 0)
		return r;
	return ui_reg_event_add(reg, NULL, UI_REG_EVENT_DELETED, vm_id);
}
