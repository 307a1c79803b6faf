/*
 * registry.c — the sqlite3 registry's connection: open, migrations, the
 * statement table, transactions and error translation (see registry.h for
 * the schema and who writes what; registry_vm.c and registry_net.c hold the
 * row operations).
 *
 * One connection per process (struct ui_registry), opened after exec; sqlite
 * opens its files O_CLOEXEC. Every connection sets busy_timeout 5 s (the
 * daemons then shorten it: registry.h); a writer
 * (any connection not UI_REG_RDONLY) puts the file in WAL mode and sets
 * synchronous=NORMAL (registry.h says what that keeps across which crash).
 * Statements are prepared on first use and kept (SQLITE_PREPARE_PERSISTENT)
 * until close.
 *
 * Writes: every public write is one BEGIN IMMEDIATE ... COMMIT (ROLLBACK on
 * any error), so two processes writing at once queue on the write lock
 * through busy_timeout instead of failing on a lock upgrade. A read-only
 * connection refuses writes with -EROFS before touching sqlite.
 *
 * Migrations: migrations[i] takes user_version i to i+1, each in its own
 * BEGIN IMMEDIATE transaction together with the user_version bump; the
 * version is re-read inside the transaction, so two processes migrating at
 * once cannot both apply a step. Version 0 is any file without our schema
 * (new and empty, or holding unrelated tables). A file whose version is newer
 * than UI_REGISTRY_VERSION was written by a newer uigniter: -EPROTO, and so
 * is an older one opened without UI_REG_CREATE (only uigniterd migrates).
 * Every open also checks that the file has the tables and columns of the
 * version it claims (before migrating, and at the end): a half-made file is
 * -EPROTO with what is missing logged ("schema verification" below).
 *
 * Write health: ui_registry_write_error keeps the last write that failed
 * for the registry's sake until one succeeds (note_write).
 *
 * Values: "" in an optional text column is stored as NULL and read back as
 * "" (so idempotency_key UNIQUE admits any number of VMs without a key);
 * integer columns have a value stored as NULL (registry_int.h).
 *
 * Errors: sqlite result codes stop here, logged with ui_error and mapped:
 * CONSTRAINT -EEXIST, BUSY/LOCKED -EBUSY, READONLY -EROFS, FULL -ENOSPC,
 * CANTOPEN the system errno (-ENOENT for a missing file), NOMEM -ENOMEM,
 * anything else -EIO. No such row is -ENOENT and is not logged.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "registry_int.h"


static const char *const migrations[] = {
	/* 0 → 1: the first schema */
	"CREATE TABLE vms ("
	"  id TEXT PRIMARY KEY NOT NULL,"
	"  name TEXT,"
	"  state TEXT NOT NULL,"
	"  image TEXT,"
	"  kernel TEXT,"
	"  initrd TEXT,"
	"  rootfs TEXT,"
	"  boot_args TEXT,"
	"  vcpus INTEGER NOT NULL,"
	"  mem_mib INTEGER NOT NULL,"
	"  driver TEXT,"
	"  vmm_pid INTEGER,"
	"  vmm_start_time INTEGER,"
	"  api_socket TEXT,"
	"  console_log TEXT,"
	"  tap TEXT,"
	"  ip TEXT,"
	"  mac TEXT,"
	"  idempotency_key TEXT UNIQUE,"
	"  created_at TEXT NOT NULL,"
	"  started_at TEXT,"
	"  stopped_at TEXT,"
	"  exit_status INTEGER,"
	"  error TEXT);"
	"CREATE INDEX vms_state ON vms(state);"
	"CREATE TABLE leases ("
	"  ip TEXT PRIMARY KEY NOT NULL,"
	"  mac TEXT NOT NULL UNIQUE,"
	"  tap TEXT NOT NULL UNIQUE,"
	"  vm_id TEXT NOT NULL,"
	"  state TEXT NOT NULL,"
	"  updated_at TEXT NOT NULL);"
	"CREATE INDEX leases_vm_id ON leases(vm_id);"
	"CREATE TABLE events ("
	"  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  time TEXT NOT NULL,"
	"  vm_id TEXT,"
	"  kind TEXT NOT NULL,"
	"  detail TEXT);",
	/* 1 → 2: netd's taps (the tap stock); events by VM, and without
	 * AUTOINCREMENT (seq stays increasing: events are never deleted; it
	 * spares every event insert a write of sqlite_sequence); `failing`
	 * (schema 1 wrote a failing VM as `stopping` with its error set) */
	"CREATE TABLE taps ("
	"  name TEXT PRIMARY KEY NOT NULL,"
	"  ip TEXT NOT NULL UNIQUE,"
	"  state TEXT NOT NULL,"
	"  updated_at TEXT NOT NULL);"
	"CREATE TABLE events2 ("
	"  seq INTEGER PRIMARY KEY,"
	"  time TEXT NOT NULL,"
	"  vm_id TEXT,"
	"  kind TEXT NOT NULL,"
	"  detail TEXT);"
	"INSERT INTO events2 (seq, time, vm_id, kind, detail) "
	"  SELECT seq, time, vm_id, kind, detail FROM events;"
	"DROP TABLE events;"
	"ALTER TABLE events2 RENAME TO events;"
	"CREATE INDEX events_vm_id ON events(vm_id);"
	"UPDATE vms SET state = 'failing' WHERE state = 'stopping' AND error IS NOT NULL;",
	/* 2 → 3: the list is paged by id (ids sort by creation time), per
	 * state too; (state, id) also serves every lookup by state */
	("DROP INDEX vms_state;"
	 "CREATE INDEX vms_state_id ON vms(state, id);"),
	/* 3 → 4: when the guest's app answered (its image's ready rule) */
	"ALTER TABLE vms ADD COLUMN ready_at TEXT;",
};

_Static_assert(sizeof(migrations) / sizeof(migrations[0]) == UI_REGISTRY_VERSION,
	       "one migration step per schema version");

static const char *const stmt_sql[ST_COUNT] = {
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_USER_VERSION] = "PRAGMA user_version",
	[ST_SAVEPOINT] = "SAVEPOINT change",
	[ST_RELEASE] = "RELEASE change",
	[ST_ROLLBACK_TO] = "ROLLBACK TO change",
	[ST_VM_INSERT] = "INSERT INTO vms (" UI_REG_VM_NAMES ") VALUES (" UI_REG_VM_PARAMS ")",
	[ST_VM_UPDATE] = "UPDATE vms SET " UI_REG_VM_SETS " WHERE id = ?1",
	[ST_VM_UPDATE_IF] = "UPDATE vms SET " UI_REG_VM_SETS " WHERE id = ?1 AND state = ?",
	[ST_VM_GET] = "SELECT " UI_REG_VM_NAMES " FROM vms WHERE id = ?1",
	[ST_VM_GET_BY_KEY] = "SELECT " UI_REG_VM_NAMES " FROM vms WHERE idempotency_key = ?1",
	[ST_VM_DELETE] = "DELETE FROM vms WHERE id = ?1",
	[ST_VM_DELETE_IF] = "DELETE FROM vms WHERE id = ?1 AND state = ?2",
	[ST_VM_LIST] = "SELECT " UI_REG_VM_NAMES " FROM vms ORDER BY created_at, rowid",
	[ST_VM_LIST_STATE] = "SELECT " UI_REG_VM_NAMES " FROM vms WHERE state = ?1 "
			     "ORDER BY created_at, rowid",
	[ST_VM_PAGE] = "SELECT " UI_REG_VM_NAMES " FROM vms WHERE id > ?1 AND state NOT IN "
		       "('" UI_VM_WARMING "', '" UI_VM_WARM "', '" UI_VM_RETIRING "') "
		       "ORDER BY id LIMIT ?2",
	[ST_VM_PAGE_STATE] = "SELECT " UI_REG_VM_NAMES " FROM vms WHERE state = ?3 AND id > ?1 "
			     "ORDER BY id LIMIT ?2",
	/* final rows, oldest first: "+state" keeps the planner on the id
	 * order (the primary key) instead of sorting every final row */
	[ST_VM_FINAL_COUNT] = "SELECT count(*) FROM vms WHERE state IN ('" UI_VM_STOPPED "', '"
			      UI_VM_FAILED "')",
	[ST_VM_FINAL_OLDEST] = "SELECT id FROM vms WHERE +state IN ('" UI_VM_STOPPED "', '"
			       UI_VM_FAILED "') ORDER BY id LIMIT ?1",
	[ST_VM_DELETE_FINAL] = "DELETE FROM vms WHERE id = ?1 AND state IN ('" UI_VM_STOPPED
			       "', '" UI_VM_FAILED "')",
	[ST_EVENT_DELETE_VM] = "DELETE FROM events WHERE vm_id = ?1",
	[ST_VM_COUNT] = "SELECT count(*) FROM vms",
	[ST_VM_COUNT_STATE] = "SELECT count(*) FROM vms WHERE state = ?1",
	[ST_LEASE_INSERT] = "INSERT INTO leases (" UI_REG_LEASE_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[ST_LEASE_DELETE] = "DELETE FROM leases WHERE ip = ?1",
	[ST_LEASE_DELETE_VM] = "DELETE FROM leases WHERE vm_id = ?1",
	[ST_LEASE_GET_BY_VM] = "SELECT " UI_REG_LEASE_COLS " FROM leases WHERE vm_id = ?1 "
			       "ORDER BY rowid LIMIT 1",
	[ST_LEASE_LIST] = "SELECT " UI_REG_LEASE_COLS " FROM leases ORDER BY rowid",
	[ST_LEASE_IPS] = "SELECT ip FROM leases",
	[ST_TAP_INSERT] = "INSERT INTO taps (" UI_REG_TAP_COLS ") VALUES (?1, ?2, ?3, ?4)",
	[ST_TAP_INSERT_UNLEASED] = "INSERT INTO taps (" UI_REG_TAP_COLS ") SELECT ?1, ?2, ?3, ?4 "
				   "WHERE ?2 NOT IN (SELECT ip FROM leases)",
	[ST_TAP_SET_STATE] = "UPDATE taps SET state = ?3, updated_at = ?4 "
			     "WHERE name = ?1 AND state = ?2",
	[ST_TAP_RETIRE] = "UPDATE taps SET state = 'deleting', updated_at = ?2 "
			  "WHERE name = ?1 AND state = 'ready' "
			  "AND ip NOT IN (SELECT ip FROM leases)",
	[ST_TAP_DELETE] = "DELETE FROM taps WHERE name = ?1",
	[ST_TAP_LIST] = "SELECT " UI_REG_TAP_COLS " FROM taps ORDER BY rowid",
	[ST_EVENT_INSERT] = "INSERT INTO events (time, vm_id, kind, detail) VALUES (?1, ?2, ?3, ?4)",
	[ST_EVENT_LIST] = "SELECT time, kind, detail FROM events WHERE vm_id = ?1 ORDER BY seq",
	/* the live VM of that name (names are unique among live VMs), else
	 * the newest one that had it */
	[ST_VM_GET_BY_NAME] = "SELECT " UI_REG_VM_NAMES " FROM vms WHERE name = ?1 AND state NOT IN "
			      "('" UI_VM_WARMING "', '" UI_VM_WARM "', '" UI_VM_RETIRING "') ORDER BY "
			      "state IN ('" UI_VM_STOPPED "', '" UI_VM_FAILED "'), id DESC LIMIT 1",
	[ST_VM_RELEASE_KEY] = "UPDATE vms SET idempotency_key = NULL "
			      "WHERE id = ?1 AND state = 'failed' AND idempotency_key IS NOT NULL",
};

/* ---- errors ----------------------------------------------------------- */

static int map_rc(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_CONSTRAINT: return -EEXIST;
	case SQLITE_BUSY:
	case SQLITE_LOCKED: return -EBUSY;
	case SQLITE_READONLY: return -EROFS;
	case SQLITE_FULL: return -ENOSPC;
	case SQLITE_CANTOPEN: return -ENOENT;
	case SQLITE_NOMEM: return -ENOMEM;
	default: return -EIO;
	}
}

int ui_reg_fail(struct ui_registry *reg, int rc, const char *what)
{
	int r = map_rc(rc);

	/* A lock held elsewhere, a full disk: retried from the daemons' loops
	 * every fraction of a second; their callers say once what it means
	 * (engine.c, netd). */
	ui_log(r == -EBUSY || r == -ENOSPC ? UI_LOG_DEBUG : UI_LOG_ERROR, "registry %s: %s: %s", reg->path,
	       what, sqlite3_errmsg(reg->db));
	return r;
}

int ui_reg_bind_failed(struct ui_registry *reg, sqlite3_stmt *st)
{
	ui_reg_stmt_done(st);
	return ui_reg_fail(reg, sqlite3_errcode(reg->db), "bind");
}

int ui_reg_writable(struct ui_registry *reg, const char *what)
{
	if (!reg->rdonly)
		return 0;
	ui_error("registry %s: %s: connection is read-only", reg->path, what);
	return -EROFS;
}

/* ---- statements and transactions -------------------------------------- */

int ui_reg_stmt(struct ui_registry *reg, enum ui_reg_stmt id, sqlite3_stmt **out)
{
	int rc;

	if (!reg->stmt[id]) {
		rc = sqlite3_prepare_v3(reg->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
					&reg->stmt[id], NULL);
		if (rc != SQLITE_OK)
			return ui_reg_fail(reg, rc, "prepare");
	}
	*out = reg->stmt[id];
	return 0;
}

void ui_reg_stmt_done(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

/* Runs a statement that returns no rows (BEGIN, COMMIT, ROLLBACK). */
static int stmt_exec(struct ui_registry *reg, enum ui_reg_stmt id, const char *what)
{
	sqlite3_stmt *st = NULL;
	int r, rc;

	if ((r = ui_reg_stmt(reg, id, &st)) < 0)
		return r;
	rc = sqlite3_step(st);
	r = rc == SQLITE_DONE ? 0 : ui_reg_fail(reg, rc, what);
	ui_reg_stmt_done(st);
	return r;
}

static void tx_rollback(struct ui_registry *reg)
{
	if (!sqlite3_get_autocommit(reg->db) && stmt_exec(reg, ST_ROLLBACK, "rollback") < 0)
		ui_warn("registry %s: rollback failed", reg->path);
}

/* A write's outcome for ui_registry_write_error: a failure of the
 * registry itself (its disk, its lock, its file) is kept until a later
 * write succeeds; a refusal by the data (-EEXIST, -ENOENT, -ESTALE…) says
 * nothing about the registry and changes nothing. */
static int note_write(struct ui_registry *reg, int r)
{
	if (r == 0)
		reg->write_error = 0;
	else if (r == -EIO || r == -ENOSPC || r == -EBUSY || r == -EROFS || r == -ENOMEM)
		reg->write_error = r;
	return r;
}

static void tx_started(struct ui_registry *reg);

int ui_reg_tx_begin(struct ui_registry *reg)
{
	int r = stmt_exec(reg, reg->batch ? ST_SAVEPOINT : ST_BEGIN, "begin");

	if (r == 0 && !reg->batch)
		tx_started(reg);
	return r < 0 ? note_write(reg, r) : 0;
}

/* A top-level write transaction begins (not a savepoint). */
static void tx_started(struct ui_registry *reg)
{
	reg->tx_events = false;
	if (reg->metrics)
		reg->tx_t0_us = ui_now_us();
}

/* Counts a top-level transaction's end. The event counter is bumped after
 * the commit (release; apid's acquire load pairs with it): whoever sees
 * the new count reads the events. */
static void tx_counted(struct ui_registry *reg, bool committed)
{
	struct ui_reg_metrics *m = reg->metrics;
	uint64_t now;

	if (!m)
		return;
	if (!committed) {
		atomic_fetch_add_explicit(&m->write_failures, 1, memory_order_relaxed);
		return;
	}
	now = ui_now_us();
	ui_hist_observe(&m->write, UI_HIST_REG_WRITE,
			now > reg->tx_t0_us ? now - reg->tx_t0_us : 0);
	if (reg->tx_events)
		atomic_fetch_add_explicit(&m->event_commits, 1, memory_order_release);
}

static int tx_commit(struct ui_registry *reg, int r)
{
	if (r == 0 && (r = stmt_exec(reg, ST_COMMIT, "commit")) == 0) {
		reg->commits++;
		tx_counted(reg, true);
		reg->tx_events = false;
		return 0;
	}
	tx_rollback(reg);
	tx_counted(reg, false);
	reg->tx_events = false;
	return r;
}

void ui_registry_set_metrics(struct ui_registry *reg, struct ui_reg_metrics *m)
{
	reg->metrics = m;
}

int ui_reg_tx_end(struct ui_registry *reg, int r)
{
	if (reg->batch) {
		if (r < 0 && stmt_exec(reg, ST_ROLLBACK_TO, "rollback to") < 0)
			ui_warn("registry %s: rollback to a savepoint failed", reg->path);
		if (stmt_exec(reg, ST_RELEASE, "release") < 0 && r == 0)
			r = -EIO;
		return note_write(reg, r);
	}
	return note_write(reg, tx_commit(reg, r));
}

int ui_reg_batch_begin(struct ui_registry *reg)
{
	int r;

	if (reg->batch)
		return -EALREADY;
	if ((r = ui_reg_writable(reg, "batch")) < 0 || (r = stmt_exec(reg, ST_BEGIN, "begin")) < 0)
		return r;
	tx_started(reg);
	reg->batch = true;
	return 0;
}

int ui_reg_batch_end(struct ui_registry *reg)
{
	int r;

	if (!reg->batch)
		return 0;
	reg->batch = false;
	r = tx_commit(reg, 0);
	/* A batch that commits keeps what its changes said about the registry. */
	return r < 0 ? note_write(reg, r) : 0;
}

bool ui_reg_in_batch(const struct ui_registry *reg)
{
	return reg->batch;
}

int ui_reg_step_write(struct ui_registry *reg, sqlite3_stmt *st, bool must_change,
		      int none, const char *what)
{
	int r = 0, rc = sqlite3_step(st);

	if (rc != SQLITE_DONE)
		r = ui_reg_fail(reg, rc, what);
	else if (must_change && sqlite3_changes(reg->db) == 0)
		r = none;
	ui_reg_stmt_done(st);
	return r;
}

int ui_reg_write1(struct ui_registry *reg, sqlite3_stmt *st, bool must_change,
		  int none, const char *what)
{
	int r = ui_reg_tx_begin(reg);

	if (r < 0) {
		ui_reg_stmt_done(st);
		return r;
	}
	return ui_reg_tx_end(reg, ui_reg_step_write(reg, st, must_change, none, what));
}

/* ---- binding and reading ---------------------------------------------- */

int ui_reg_bind_text(sqlite3_stmt *st, int idx, const char *s, size_t size)
{
	size_t n = s ? strnlen(s, size) : 0;

	if (n == 0)
		return sqlite3_bind_null(st, idx);
	return sqlite3_bind_text(st, idx, s, (int)n, SQLITE_TRANSIENT);
}

int ui_reg_bind_int(sqlite3_stmt *st, int idx, int64_t v, int64_t none)
{
	if (v == none)
		return sqlite3_bind_null(st, idx);
	return sqlite3_bind_int64(st, idx, v);
}

void ui_reg_col_text(sqlite3_stmt *st, int i, char *dst, size_t size)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	snprintf(dst, size, "%s", t ? (const char *)t : "");
}

int64_t ui_reg_col_int(sqlite3_stmt *st, int i, int64_t null)
{
	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		return null;
	return sqlite3_column_int64(st, i);
}

const char *ui_reg_col_or_empty(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	return t ? (const char *)t : "";
}

int ui_reg_walk(struct ui_registry *reg, enum ui_reg_stmt id, const char *arg,
		int (*each)(sqlite3_stmt *st, void *ctx), void *ctx, const char *what)
{
	sqlite3_stmt *st = NULL;
	int r, rc;

	if ((r = ui_reg_stmt(reg, id, &st)) < 0)
		return r;
	if (sqlite3_stmt_busy(st))
		return -EBUSY;
	if (arg && sqlite3_bind_text(st, 1, arg, -1, SQLITE_TRANSIENT) != SQLITE_OK)
		return ui_reg_bind_failed(reg, st);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if ((r = each(st, ctx)) != 0)
			break;
	if (r == 0 && rc != SQLITE_DONE)
		r = ui_reg_fail(reg, rc, what);
	ui_reg_stmt_done(st);
	return r;
}

int ui_reg_select_one(struct ui_registry *reg, enum ui_reg_stmt id, const char *arg,
		      void (*read)(sqlite3_stmt *st, void *out), void *out)
{
	sqlite3_stmt *st = NULL;
	int r, rc;

	if ((r = ui_reg_stmt(reg, id, &st)) < 0)
		return r;
	if (sqlite3_bind_text(st, 1, arg, -1, SQLITE_TRANSIENT) != SQLITE_OK)
		return ui_reg_bind_failed(reg, st);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		read(st, out);
	else
		r = rc == SQLITE_DONE ? -ENOENT : ui_reg_fail(reg, rc, "select");
	ui_reg_stmt_done(st);
	return r;
}

/* ---- open, migrate, close --------------------------------------------- */

static int user_version(struct ui_registry *reg, int *out)
{
	sqlite3_stmt *st = NULL;
	int r, rc;

	if ((r = ui_reg_stmt(reg, ST_USER_VERSION, &st)) < 0)
		return r;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int(st, 0);
	else
		r = ui_reg_fail(reg, rc, "read user_version");
	ui_reg_stmt_done(st);
	return r;
}

/* Runs migrations[from] and bumps user_version, inside the caller's tx. */
static int migrate_step(struct ui_registry *reg, int from)
{
	char sql[64];
	int rc;

	rc = sqlite3_exec(reg->db, migrations[from], NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return ui_reg_fail(reg, rc, "migrate");
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", from + 1);
	rc = sqlite3_exec(reg->db, sql, NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return ui_reg_fail(reg, rc, "set user_version");
	return 0;
}

static int too_new(struct ui_registry *reg, int v)
{
	ui_error("registry %s: schema version %d is newer than this uigniter's (%d)",
		 reg->path, v, UI_REGISTRY_VERSION);
	return -EPROTO;
}

/* Migrates one step at a time up to target, each step its own transaction. */
static int migrate(struct ui_registry *reg, int target)
{
	int r, v;

	for (;;) {
		if ((r = ui_reg_tx_begin(reg)) < 0)
			return r;
		if ((r = user_version(reg, &v)) < 0)
			goto rollback;
		if (v > UI_REGISTRY_VERSION) {
			r = too_new(reg, v);
			goto rollback;
		}
		if (v >= target)
			break;
		if ((r = migrate_step(reg, v)) < 0 || (r = ui_reg_tx_end(reg, 0)) < 0)
			goto rollback;
		ui_info("registry %s: migrated to schema version %d", reg->path, v + 1);
	}
	tx_rollback(reg); /* nothing was written */
	return 0;
rollback:
	tx_rollback(reg);
	return r;
}

/* ---- schema verification ----------------------------------------------- *
 *
 * user_version is a claim; the tables and columns are checked against it,
 * so a half-made file (a lost table, a column dropped by hand) is refused
 * at open with what is missing instead of failing every statement later.
 * What version v has is never written down twice: migrations[0..v-1] are
 * run on an in-memory database and its tables and columns are the
 * expectation. Extra tables, columns or indexes are not refused. */

#define SCHEMA_COLUMNS_SQL                                                   \
	"SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p " \
	"WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' ORDER BY 1, 2"

struct ui_reg_schema {
	size_t n;
	char **col; /* "table\tcolumn", sorted */
};

static void schema_free(struct ui_reg_schema *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		free(s->col[i]);
	free(s->col);
	*s = (struct ui_reg_schema){ 0 };
}

static int schema_add(struct ui_reg_schema *s, const char *table, const char *column)
{
	char **col = realloc(s->col, (s->n + 1) * sizeof(*col));

	if (!col)
		return -ENOMEM;
	s->col = col;
	if (asprintf(&col[s->n], "%s\t%s", table, column) < 0)
		return -ENOMEM;
	s->n++;
	return 0;
}

/* The tables and columns db has; *s is emptied first. sqlite codes are
 * returned as they are (the callers translate with their connection). */
static int schema_read(sqlite3 *db, struct ui_reg_schema *s, int *sqlite_rc)
{
	sqlite3_stmt *st = NULL;
	int r = 0, rc;

	*s = (struct ui_reg_schema){ 0 };
	rc = sqlite3_prepare_v2(db, SCHEMA_COLUMNS_SQL, -1, &st, NULL);
	if (rc == SQLITE_OK)
		while (r == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW)
			r = schema_add(s, ui_reg_col_or_empty(st, 0), ui_reg_col_or_empty(st, 1));
	sqlite3_finalize(st);
	*sqlite_rc = rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
	if (r == 0 && *sqlite_rc != SQLITE_OK)
		r = map_rc(rc);
	if (r < 0)
		schema_free(s);
	return r;
}

/* The schema of version v, built from the migrations in memory. */
static int schema_expected(struct ui_registry *reg, int v, struct ui_reg_schema *s)
{
	sqlite3 *mem = NULL;
	int rc = sqlite3_open_v2(":memory:", &mem, SQLITE_OPEN_READWRITE, NULL);
	int r = 0;

	for (int i = 0; rc == SQLITE_OK && i < v; i++)
		rc = sqlite3_exec(mem, migrations[i], NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		r = schema_read(mem, s, &rc);
	if (rc != SQLITE_OK) {
		ui_error("registry %s: cannot build schema %d in memory: %s", reg->path, v,
			 mem ? sqlite3_errmsg(mem) : sqlite3_errstr(rc));
		r = map_rc(rc);
	}
	sqlite3_close_v2(mem);
	return r;
}

static bool schema_has(const struct ui_reg_schema *s, const char *col, size_t len)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strncmp(s->col[i], col, len) && (len == strlen(col) ? !s->col[i][len] :
						     s->col[i][len] == '\t'))
			return true;
	return false;
}

/* "table taps is missing; table vms lacks column error" into why. */
static int schema_diff(const struct ui_reg_schema *want, const struct ui_reg_schema *got,
		       char *why, size_t len)
{
	size_t n = 0, missing = 0;

	why[0] = '\0';
	for (size_t i = 0; i < want->n; i++) {
		const char *col = want->col[i], *tab = strchr(col, '\t');
		size_t tlen = (size_t)(tab - col);

		if (schema_has(got, col, strlen(col)))
			continue;
		if (!schema_has(got, col, tlen)) {
			if (i > 0 && !strncmp(want->col[i - 1], col, tlen + 1))
				continue; /* that table was named already */
			n += snprintf(why + n, n < len ? len - n : 0, "%stable %.*s is missing",
				      missing++ ? "; " : "", (int)tlen, col);
		} else {
			n += snprintf(why + n, n < len ? len - n : 0, "%stable %.*s lacks column %s",
				      missing++ ? "; " : "", (int)tlen, col, tab + 1);
		}
	}
	return missing ? -EPROTO : 0;
}

/* Checks the file's tables and columns against schema v (0: nothing to
 * check, a file without our schema); -EPROTO with why when some are missing. */
static int schema_check(struct ui_registry *reg, int v, const struct ui_reg_schema *want,
			char *why, size_t len)
{
	struct ui_reg_schema mine = { 0 }, got;
	int r, rc;

	why[0] = '\0';
	if (v == 0)
		return 0;
	if (!want) {
		if ((r = schema_expected(reg, v, &mine)) < 0)
			return r;
		want = &mine;
	}
	if ((r = schema_read(reg->db, &got, &rc)) < 0) {
		if (rc != SQLITE_OK)
			r = ui_reg_fail(reg, rc, "read the schema");
	} else {
		r = schema_diff(want, &got, why, len);
		schema_free(&got);
	}
	schema_free(&mine);
	return r;
}

static int schema_refuse(struct ui_registry *reg, int v, const char *why)
{
	ui_error("registry %s: the file claims schema version %d but %s: it is damaged or "
		 "was changed by hand; restore it from a backup or move it away (a new one "
		 "is created)", reg->path, v, why);
	return -EPROTO;
}

/* The file holds the tables and columns of the version it claims. */
static int verify_claimed(struct ui_registry *reg)
{
	char why[512];
	int r, v;

	if ((r = user_version(reg, &v)) < 0)
		return r;
	if (v > UI_REGISTRY_VERSION)
		return too_new(reg, v);
	r = schema_check(reg, v, v == UI_REGISTRY_VERSION ? reg->schema : NULL, why, sizeof(why));
	return r == -EPROTO ? schema_refuse(reg, v, why) : r;
}

int ui_registry_verify(struct ui_registry *reg, char *why, size_t len)
{
	int r = schema_check(reg, UI_REGISTRY_VERSION, reg->schema, why, len);

	if (r < 0 && r != -EPROTO)
		snprintf(why, len, "cannot read the schema: %s", strerror(-r));
	return r;
}

/* Without UI_REG_CREATE the file must already be at our version. */
static int check_version(struct ui_registry *reg)
{
	int r, v;

	if ((r = user_version(reg, &v)) < 0)
		return r;
	if (v > UI_REGISTRY_VERSION)
		return too_new(reg, v);
	if (v < UI_REGISTRY_VERSION) {
		ui_error("registry %s: schema version %d, expected %d (uigniterd migrates it)",
			 reg->path, v, UI_REGISTRY_VERSION);
		return -EPROTO;
	}
	return 0;
}

/* A PRAGMA that answers one text row; warns unless it answers `want`. */
static int pragma(struct ui_registry *reg, const char *sql, const char *want)
{
	sqlite3_stmt *st = NULL;
	const unsigned char *got;
	int r = 0, rc;

	rc = sqlite3_prepare_v2(reg->db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return ui_reg_fail(reg, rc, sql);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		r = ui_reg_fail(reg, rc, sql);
	else if (want && (rc != SQLITE_ROW || !(got = sqlite3_column_text(st, 0)) ||
			  strcmp((const char *)got, want)))
		ui_warn("registry %s: %s did not give %s", reg->path, sql, want);
	sqlite3_finalize(st);
	return r;
}

static int open_db(struct ui_registry *reg, const char *path, int flags)
{
	int oflags, rc, err;

	if (flags & UI_REG_RDONLY)
		oflags = SQLITE_OPEN_READONLY;
	else
		oflags = SQLITE_OPEN_READWRITE | (flags & UI_REG_CREATE ? SQLITE_OPEN_CREATE : 0);
	rc = sqlite3_open_v2(path, &reg->db, oflags, NULL);
	if (rc == SQLITE_OK)
		return 0;
	err = (rc & 0xff) == SQLITE_CANTOPEN ? sqlite3_system_errno(reg->db) : 0;
	ui_error("registry %s: cannot open: %s%s%s", path,
		 reg->db ? sqlite3_errmsg(reg->db) : sqlite3_errstr(rc), err ? ": " : "",
		 err ? strerror(err) : "");
	return err > 0 ? -err : map_rc(rc);
}

/* A writer: WAL, and commits that do not fsync (registry.h: durability). */
static int set_write_mode(struct ui_registry *reg)
{
	int r = pragma(reg, "PRAGMA journal_mode = WAL", "wal");

	return r < 0 ? r : pragma(reg, "PRAGMA synchronous = NORMAL", NULL);
}

int ui_registry_open(const char *path, int flags, struct ui_registry **out)
{
	struct ui_registry *reg;
	int r;

	*out = NULL;
	if ((flags & UI_REG_RDONLY) && (flags & UI_REG_CREATE))
		return -EINVAL;
	if (!(reg = calloc(1, sizeof(*reg))) || !(reg->path = strdup(path)) ||
	    !(reg->schema = calloc(1, sizeof(*reg->schema)))) {
		if (reg)
			free(reg->path);
		free(reg);
		return -ENOMEM;
	}
	reg->rdonly = flags & UI_REG_RDONLY;
	if ((r = open_db(reg, path, flags)) < 0)
		goto close;
	sqlite3_busy_timeout(reg->db, UI_REG_BUSY_MS);
	if (!reg->rdonly && (r = set_write_mode(reg)) < 0)
		goto close;
	if ((r = schema_expected(reg, UI_REGISTRY_VERSION, reg->schema)) < 0)
		goto close;
	if (!(flags & UI_REG_CREATE))
		r = check_version(reg);
	else if ((r = verify_claimed(reg)) == 0) /* never migrate a half-made file */
		r = migrate(reg, UI_REGISTRY_VERSION);
	if (r < 0 || (r = verify_claimed(reg)) < 0)
		goto close;
	*out = reg;
	return 0;
close:
	ui_registry_close(reg);
	return r;
}

void ui_registry_set_busy_timeout(struct ui_registry *reg, int ms)
{
	sqlite3_busy_timeout(reg->db, ms); /* SQLITE_OK always: it sets a handler */
}

void ui_registry_close(struct ui_registry *reg)
{
	if (!reg)
		return;
	for (int i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(reg->stmt[i]);
	sqlite3_close_v2(reg->db);
	schema_free(reg->schema);
	free(reg->schema);
	free(reg->path);
	free(reg);
}

int ui_registry_version(struct ui_registry *reg)
{
	int r, v;

	if ((r = user_version(reg, &v)) < 0)
		return r;
	return v;
}

uint64_t ui_registry_commits(const struct ui_registry *reg)
{
	return reg->commits;
}

int ui_registry_write_error(const struct ui_registry *reg)
{
	return reg ? reg->write_error : 0;
}

void ui_registry_now(char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;
	char sec[32];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(sec, sizeof(sec), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%03ldZ", sec, ts.tv_nsec / 1000000);
}

bool ui_vm_state_is_slot(const char *state)
{
	return !strcmp(state, UI_VM_WARMING) || !strcmp(state, UI_VM_WARM) ||
	       !strcmp(state, UI_VM_RETIRING);
}

bool ui_vm_state_is_final(const char *state)
{
	return !strcmp(state, UI_VM_STOPPED) || !strcmp(state, UI_VM_FAILED);
}
