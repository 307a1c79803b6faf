/*
 * registry.c — the sqlite3 registry (see registry.h for the schema and who
 * writes what).
 *
 * One connection per process (struct ui_registry), opened after exec; sqlite
 * opens its files O_CLOEXEC. Every connection sets busy_timeout 5 s; a writer
 * (any connection not UI_REG_RDONLY) puts the file in WAL mode. Statements
 * are prepared on first use and kept (SQLITE_PREPARE_PERSISTENT) until close.
 *
 * Writes: each public write is one statement inside BEGIN IMMEDIATE ... COMMIT
 * (ROLLBACK on any error), so two processes writing at once queue on the
 * write lock through busy_timeout instead of failing on a lock upgrade.
 * A read-only connection refuses writes with -EROFS before touching sqlite.
 *
 * Migrations: migrations[i] takes user_version i to i+1, each in its own
 * BEGIN IMMEDIATE transaction together with the user_version bump; the
 * version is re-read inside the transaction, so two processes migrating at
 * once cannot both apply a step. Version 0 is any file without our schema
 * (new and empty, or holding unrelated tables). A file whose version is newer
 * than UI_REGISTRY_VERSION was written by a newer uigniter: -EPROTO, and so
 * is an older one opened without UI_REG_CREATE (only uigniterd migrates).
 *
 * Values: "" in an optional text column is stored as NULL and read back as
 * "" (so idempotency_key UNIQUE admits any number of VMs without a key);
 * vmm_pid and vmm_start_time 0 ↔ NULL, exit_status -1 ↔ NULL. An empty
 * vms.created_at or leases.updated_at is filled with the current time, an
 * empty lease state with "bound". Required: vms.id and state; leases ip,
 * mac, tap, vm_id; events kind — else -EINVAL.
 *
 * Errors: sqlite result codes stop here, logged with ui_error and mapped:
 * CONSTRAINT -EEXIST, BUSY/LOCKED -EBUSY, READONLY -EROFS, CANTOPEN the
 * system errno (-ENOENT for a missing file), NOMEM -ENOMEM, anything else
 * -EIO. No such row is -ENOENT and is not logged.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sqlite3.h>

#include "log.h"
#include "registry.h"

#define BUSY_TIMEOUT_MS 5000

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
};

_Static_assert(sizeof(migrations) / sizeof(migrations[0]) == UI_REGISTRY_VERSION,
	       "one migration step per schema version");

/* vms columns in bind/read order: parameter ?N is column N-1. */
enum vm_col {
	C_ID, C_NAME, C_STATE, C_IMAGE, C_KERNEL, C_INITRD, C_ROOTFS, C_BOOT_ARGS,
	C_VCPUS, C_MEM_MIB, C_DRIVER, C_VMM_PID, C_VMM_START_TIME, C_API_SOCKET,
	C_CONSOLE_LOG, C_TAP, C_IP, C_MAC, C_IDEMPOTENCY_KEY, C_CREATED_AT,
	C_STARTED_AT, C_STOPPED_AT, C_EXIT_STATUS, C_ERROR,
};

#define VM_COLS                                                                   \
	"id, name, state, image, kernel, initrd, rootfs, boot_args, vcpus, mem_mib, " \
	"driver, vmm_pid, vmm_start_time, api_socket, console_log, tap, ip, mac, "    \
	"idempotency_key, created_at, started_at, stopped_at, exit_status, error"
#define LEASE_COLS "ip, mac, tap, vm_id, state, updated_at"

enum stmt_id {
	ST_BEGIN, ST_COMMIT, ST_ROLLBACK, ST_USER_VERSION,
	ST_VM_INSERT, ST_VM_UPDATE, ST_VM_GET, ST_VM_GET_BY_KEY, ST_VM_DELETE,
	ST_VM_LIST, ST_VM_LIST_STATE, ST_VM_COUNT, ST_VM_COUNT_STATE,
	ST_LEASE_INSERT, ST_LEASE_DELETE, ST_LEASE_GET_BY_VM, ST_LEASE_LIST,
	ST_EVENT_INSERT, ST_EVENT_LIST,
	ST_COUNT
};

static const char *const stmt_sql[ST_COUNT] = {
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_USER_VERSION] = "PRAGMA user_version",
	[ST_VM_INSERT] = "INSERT INTO vms (" VM_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
			 "?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, "
			 "?21, ?22, ?23, ?24)",
	[ST_VM_UPDATE] = "UPDATE vms SET name = ?2, state = ?3, image = ?4, kernel = ?5, "
			 "initrd = ?6, rootfs = ?7, boot_args = ?8, vcpus = ?9, mem_mib = ?10, "
			 "driver = ?11, vmm_pid = ?12, vmm_start_time = ?13, api_socket = ?14, "
			 "console_log = ?15, tap = ?16, ip = ?17, mac = ?18, "
			 "idempotency_key = ?19, created_at = ?20, started_at = ?21, "
			 "stopped_at = ?22, exit_status = ?23, error = ?24 WHERE id = ?1",
	[ST_VM_GET] = "SELECT " VM_COLS " FROM vms WHERE id = ?1",
	[ST_VM_GET_BY_KEY] = "SELECT " VM_COLS " FROM vms WHERE idempotency_key = ?1",
	[ST_VM_DELETE] = "DELETE FROM vms WHERE id = ?1",
	[ST_VM_LIST] = "SELECT " VM_COLS " FROM vms ORDER BY created_at, rowid",
	[ST_VM_LIST_STATE] = "SELECT " VM_COLS " FROM vms WHERE state = ?1 "
			     "ORDER BY created_at, rowid",
	[ST_VM_COUNT] = "SELECT count(*) FROM vms",
	[ST_VM_COUNT_STATE] = "SELECT count(*) FROM vms WHERE state = ?1",
	[ST_LEASE_INSERT] = "INSERT INTO leases (" LEASE_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[ST_LEASE_DELETE] = "DELETE FROM leases WHERE ip = ?1",
	[ST_LEASE_GET_BY_VM] = "SELECT " LEASE_COLS " FROM leases WHERE vm_id = ?1 "
			       "ORDER BY rowid LIMIT 1",
	[ST_LEASE_LIST] = "SELECT " LEASE_COLS " FROM leases ORDER BY rowid",
	[ST_EVENT_INSERT] = "INSERT INTO events (time, vm_id, kind, detail) VALUES (?1, ?2, ?3, ?4)",
	[ST_EVENT_LIST] = "SELECT time, kind, detail FROM events WHERE vm_id = ?1 ORDER BY seq",
};

struct ui_registry {
	sqlite3 *db;
	bool rdonly;
	char *path;                    /* for log messages */
	sqlite3_stmt *stmt[ST_COUNT];  /* prepared on first use */
};

/* ---- errors ----------------------------------------------------------- */

static int map_rc(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_CONSTRAINT: return -EEXIST;
	case SQLITE_BUSY:
	case SQLITE_LOCKED: return -EBUSY;
	case SQLITE_READONLY: return -EROFS;
	case SQLITE_CANTOPEN: return -ENOENT;
	case SQLITE_NOMEM: return -ENOMEM;
	default: return -EIO;
	}
}

/* Logs the connection's sqlite error for `what` and maps rc to -errno. */
static int reg_fail(struct ui_registry *reg, int rc, const char *what)
{
	ui_error("registry %s: %s: %s", reg->path, what, sqlite3_errmsg(reg->db));
	return map_rc(rc);
}

/* ---- statements and transactions -------------------------------------- */

static int stmt_get(struct ui_registry *reg, enum stmt_id id, sqlite3_stmt **out)
{
	int rc;

	if (!reg->stmt[id]) {
		rc = sqlite3_prepare_v3(reg->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
					&reg->stmt[id], NULL);
		if (rc != SQLITE_OK)
			return reg_fail(reg, rc, "prepare");
	}
	*out = reg->stmt[id];
	return 0;
}

static void stmt_done(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

/* Runs a statement that returns no rows (BEGIN, COMMIT, ROLLBACK). */
static int stmt_exec(struct ui_registry *reg, enum stmt_id id, const char *what)
{
	sqlite3_stmt *st = NULL;
	int r, rc;

	if ((r = stmt_get(reg, id, &st)) < 0)
		return r;
	rc = sqlite3_step(st);
	r = rc == SQLITE_DONE ? 0 : reg_fail(reg, rc, what);
	stmt_done(st);
	return r;
}

static void tx_rollback(struct ui_registry *reg)
{
	if (!sqlite3_get_autocommit(reg->db))
		stmt_exec(reg, ST_ROLLBACK, "rollback");
}

static int writable(struct ui_registry *reg, const char *what)
{
	if (!reg->rdonly)
		return 0;
	ui_error("registry %s: %s: connection is read-only", reg->path, what);
	return -EROFS;
}

/*
 * Steps the bound write statement st once inside BEGIN IMMEDIATE ... COMMIT.
 * must_change: no row affected is -ENOENT (update/delete by key).
 * Always resets st.
 */
static int tx_write(struct ui_registry *reg, sqlite3_stmt *st, bool must_change,
		    const char *what)
{
	int r, rc;

	if ((r = stmt_exec(reg, ST_BEGIN, "begin")) < 0)
		goto reset;
	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE) {
		r = reg_fail(reg, rc, what);
		goto rollback;
	}
	if (must_change && sqlite3_changes(reg->db) == 0) {
		r = -ENOENT;
		goto rollback;
	}
	if ((r = stmt_exec(reg, ST_COMMIT, "commit")) == 0)
		goto reset;
rollback:
	tx_rollback(reg);
reset:
	stmt_done(st);
	return r;
}

/* ---- binding and reading ---------------------------------------------- */

/* Binds s (at most size bytes, "" → NULL) to parameter col+1. */
static int bind_text(sqlite3_stmt *st, int col, const char *s, size_t size)
{
	size_t n = s ? strnlen(s, size) : 0;

	if (n == 0)
		return sqlite3_bind_null(st, col + 1);
	return sqlite3_bind_text(st, col + 1, s, (int)n, SQLITE_TRANSIENT);
}

/* Binds v, or NULL when v == none. */
static int bind_int(sqlite3_stmt *st, int col, int64_t v, int64_t none)
{
	if (v == none)
		return sqlite3_bind_null(st, col + 1);
	return sqlite3_bind_int64(st, col + 1, v);
}

#define BIND_STR(st, col, field) bind_text(st, col, field, sizeof(field))

static void col_text(sqlite3_stmt *st, int col, char *dst, size_t size)
{
	const unsigned char *t = sqlite3_column_text(st, col);

	snprintf(dst, size, "%s", t ? (const char *)t : "");
}

static int64_t col_int(sqlite3_stmt *st, int col, int64_t null)
{
	if (sqlite3_column_type(st, col) == SQLITE_NULL)
		return null;
	return sqlite3_column_int64(st, col);
}

#define COL_STR(st, col, field) col_text(st, col, field, sizeof(field))

/* Column i as a string; "" for NULL (or sqlite out of memory). */
static const char *col_or_empty(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	return t ? (const char *)t : "";
}

static int bind_vm(sqlite3_stmt *st, const struct ui_vm *vm, const char *created_at)
{
	int rc = SQLITE_OK;

	rc |= BIND_STR(st, C_ID, vm->id);
	rc |= BIND_STR(st, C_NAME, vm->name);
	rc |= BIND_STR(st, C_STATE, vm->state);
	rc |= BIND_STR(st, C_IMAGE, vm->image);
	rc |= BIND_STR(st, C_KERNEL, vm->kernel);
	rc |= BIND_STR(st, C_INITRD, vm->initrd);
	rc |= BIND_STR(st, C_ROOTFS, vm->rootfs);
	rc |= BIND_STR(st, C_BOOT_ARGS, vm->boot_args);
	rc |= sqlite3_bind_int64(st, C_VCPUS + 1, vm->vcpus);
	rc |= sqlite3_bind_int64(st, C_MEM_MIB + 1, vm->mem_mib);
	rc |= BIND_STR(st, C_DRIVER, vm->driver);
	rc |= bind_int(st, C_VMM_PID, vm->vmm_pid, 0);
	rc |= bind_int(st, C_VMM_START_TIME, vm->vmm_start_time, 0);
	rc |= BIND_STR(st, C_API_SOCKET, vm->api_socket);
	rc |= BIND_STR(st, C_CONSOLE_LOG, vm->console_log);
	rc |= BIND_STR(st, C_TAP, vm->tap);
	rc |= BIND_STR(st, C_IP, vm->ip);
	rc |= BIND_STR(st, C_MAC, vm->mac);
	rc |= BIND_STR(st, C_IDEMPOTENCY_KEY, vm->idempotency_key);
	rc |= bind_text(st, C_CREATED_AT, created_at, sizeof(vm->created_at));
	rc |= BIND_STR(st, C_STARTED_AT, vm->started_at);
	rc |= BIND_STR(st, C_STOPPED_AT, vm->stopped_at);
	rc |= bind_int(st, C_EXIT_STATUS, vm->exit_status, -1);
	rc |= BIND_STR(st, C_ERROR, vm->error);
	return rc;
}

static void read_vm(sqlite3_stmt *st, struct ui_vm *vm)
{
	memset(vm, 0, sizeof(*vm));
	COL_STR(st, C_ID, vm->id);
	COL_STR(st, C_NAME, vm->name);
	COL_STR(st, C_STATE, vm->state);
	COL_STR(st, C_IMAGE, vm->image);
	COL_STR(st, C_KERNEL, vm->kernel);
	COL_STR(st, C_INITRD, vm->initrd);
	COL_STR(st, C_ROOTFS, vm->rootfs);
	COL_STR(st, C_BOOT_ARGS, vm->boot_args);
	vm->vcpus = (unsigned)col_int(st, C_VCPUS, 0);
	vm->mem_mib = (unsigned)col_int(st, C_MEM_MIB, 0);
	COL_STR(st, C_DRIVER, vm->driver);
	vm->vmm_pid = col_int(st, C_VMM_PID, 0);
	vm->vmm_start_time = col_int(st, C_VMM_START_TIME, 0);
	COL_STR(st, C_API_SOCKET, vm->api_socket);
	COL_STR(st, C_CONSOLE_LOG, vm->console_log);
	COL_STR(st, C_TAP, vm->tap);
	COL_STR(st, C_IP, vm->ip);
	COL_STR(st, C_MAC, vm->mac);
	COL_STR(st, C_IDEMPOTENCY_KEY, vm->idempotency_key);
	COL_STR(st, C_CREATED_AT, vm->created_at);
	COL_STR(st, C_STARTED_AT, vm->started_at);
	COL_STR(st, C_STOPPED_AT, vm->stopped_at);
	vm->exit_status = col_int(st, C_EXIT_STATUS, -1);
	COL_STR(st, C_ERROR, vm->error);
}

static void read_lease(sqlite3_stmt *st, struct ui_lease *l)
{
	memset(l, 0, sizeof(*l));
	COL_STR(st, 0, l->ip);
	COL_STR(st, 1, l->mac);
	COL_STR(st, 2, l->tap);
	COL_STR(st, 3, l->vm_id);
	COL_STR(st, 4, l->state);
	COL_STR(st, 5, l->updated_at);
}

/* A bind failure (NOMEM, TOOBIG): rc may be several codes or-ed together,
 * so map the connection's own last error code instead. */
static int bind_failed(struct ui_registry *reg, sqlite3_stmt *st, int rc)
{
	(void)rc;
	stmt_done(st);
	return reg_fail(reg, sqlite3_errcode(reg->db), "bind");
}

/* ---- open, migrate, close --------------------------------------------- */

static int user_version(struct ui_registry *reg, int *out)
{
	sqlite3_stmt *st = NULL;
	int r, rc;

	if ((r = stmt_get(reg, ST_USER_VERSION, &st)) < 0)
		return r;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int(st, 0);
	else
		r = reg_fail(reg, rc, "read user_version");
	stmt_done(st);
	return r;
}

/* Runs migrations[from] and bumps user_version, inside the caller's tx. */
static int migrate_step(struct ui_registry *reg, int from)
{
	char sql[64];
	int rc;

	rc = sqlite3_exec(reg->db, migrations[from], NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return reg_fail(reg, rc, "migrate");
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", from + 1);
	rc = sqlite3_exec(reg->db, sql, NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return reg_fail(reg, rc, "set user_version");
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
		if ((r = stmt_exec(reg, ST_BEGIN, "begin")) < 0)
			return r;
		if ((r = user_version(reg, &v)) < 0)
			goto rollback;
		if (v > UI_REGISTRY_VERSION) {
			r = too_new(reg, v);
			goto rollback;
		}
		if (v >= target)
			break;
		if ((r = migrate_step(reg, v)) < 0 ||
		    (r = stmt_exec(reg, ST_COMMIT, "commit")) < 0)
			goto rollback;
		ui_info("registry %s: migrated to schema version %d", reg->path, v + 1);
	}
	tx_rollback(reg); /* nothing was written */
	return 0;
rollback:
	tx_rollback(reg);
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

static int set_wal(struct ui_registry *reg)
{
	sqlite3_stmt *st = NULL;
	const unsigned char *mode;
	int r = 0, rc;

	rc = sqlite3_prepare_v2(reg->db, "PRAGMA journal_mode = WAL", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return reg_fail(reg, rc, "journal_mode");
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW)
		r = reg_fail(reg, rc, "journal_mode");
	else if (!(mode = sqlite3_column_text(st, 0)) || strcmp((const char *)mode, "wal"))
		ui_warn("registry %s: journal_mode is %s, not wal", reg->path,
			mode ? (const char *)mode : "unknown");
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

int ui_registry_open(const char *path, int flags, struct ui_registry **out)
{
	struct ui_registry *reg;
	int r;

	*out = NULL;
	if ((flags & UI_REG_RDONLY) && (flags & UI_REG_CREATE))
		return -EINVAL;
	if (!(reg = calloc(1, sizeof(*reg))) || !(reg->path = strdup(path))) {
		free(reg);
		return -ENOMEM;
	}
	reg->rdonly = flags & UI_REG_RDONLY;
	if ((r = open_db(reg, path, flags)) < 0)
		goto close;
	sqlite3_busy_timeout(reg->db, BUSY_TIMEOUT_MS);
	if (!reg->rdonly && (r = set_wal(reg)) < 0)
		goto close;
	r = flags & UI_REG_CREATE ? migrate(reg, UI_REGISTRY_VERSION) : check_version(reg);
	if (r < 0)
		goto close;
	*out = reg;
	return 0;
close:
	ui_registry_close(reg);
	return r;
}

void ui_registry_close(struct ui_registry *reg)
{
	if (!reg)
		return;
	for (int i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(reg->stmt[i]);
	sqlite3_close_v2(reg->db);
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

/* ---- vms -------------------------------------------------------------- */

/* Binds vm to a write statement and runs it in a transaction. */
static int vm_write(struct ui_registry *reg, enum stmt_id id, const struct ui_vm *vm,
		    const char *what)
{
	char now[32];
	const char *created_at = vm->created_at;
	sqlite3_stmt *st = NULL;
	int r, rc;

	if ((r = writable(reg, what)) < 0)
		return r;
	if (!vm->id[0] || !vm->state[0])
		return -EINVAL;
	if (!created_at[0]) {
		ui_registry_now(now, sizeof(now));
		created_at = now;
	}
	if ((r = stmt_get(reg, id, &st)) < 0)
		return r;
	if ((rc = bind_vm(st, vm, created_at)) != SQLITE_OK)
		return bind_failed(reg, st, rc);
	return tx_write(reg, st, id == ST_VM_UPDATE, what);
}

int ui_reg_vm_insert(struct ui_registry *reg, const struct ui_vm *vm)
{
	return vm_write(reg, ST_VM_INSERT, vm, "insert vm");
}

int ui_reg_vm_update(struct ui_registry *reg, const struct ui_vm *vm)
{
	return vm_write(reg, ST_VM_UPDATE, vm, "update vm");
}

/* Runs a one-text-parameter select; -ENOENT when it yields no row. */
static int select_one(struct ui_registry *reg, enum stmt_id id, const char *arg,
		      void (*read)(sqlite3_stmt *st, void *out), void *out)
{
	sqlite3_stmt *st = NULL;
	int r, rc;

	if ((r = stmt_get(reg, id, &st)) < 0)
		return r;
	if ((rc = sqlite3_bind_text(st, 1, arg, -1, SQLITE_TRANSIENT)) != SQLITE_OK)
		return bind_failed(reg, st, rc);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		read(st, out);
	else
		r = rc == SQLITE_DONE ? -ENOENT : reg_fail(reg, rc, "select");
	stmt_done(st);
	return r;
}

static void read_vm_cb(sqlite3_stmt *st, void *out)
{
	read_vm(st, out);
}

static void read_lease_cb(sqlite3_stmt *st, void *out)
{
	read_lease(st, out);
}

int ui_reg_vm_get(struct ui_registry *reg, const char *id, struct ui_vm *out)
{
	return select_one(reg, ST_VM_GET, id, read_vm_cb, out);
}

/* "" never matches: VMs without a key store NULL. */
int ui_reg_vm_get_by_key(struct ui_registry *reg, const char *idempotency_key,
			 struct ui_vm *out)
{
	if (!idempotency_key || !idempotency_key[0])
		return -ENOENT;
	return select_one(reg, ST_VM_GET_BY_KEY, idempotency_key, read_vm_cb, out);
}

int ui_reg_vm_delete(struct ui_registry *reg, const char *id)
{
	sqlite3_stmt *st = NULL;
	int r, rc;

	if ((r = writable(reg, "delete vm")) < 0 || (r = stmt_get(reg, ST_VM_DELETE, &st)) < 0)
		return r;
	if ((rc = sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT)) != SQLITE_OK)
		return bind_failed(reg, st, rc);
	return tx_write(reg, st, true, "delete vm");
}

/*
 * Streams rows to cb. cb must not call ui_reg_vm_list again (the statement is
 * in use: -EBUSY) and should not write through this connection (the walk
 * holds a read snapshot; collect ids and write after it).
 */
int ui_reg_vm_list(struct ui_registry *reg, const char *state_filter,
		   int (*cb)(const struct ui_vm *vm, void *arg), void *arg)
{
	enum stmt_id id = state_filter ? ST_VM_LIST_STATE : ST_VM_LIST;
	struct ui_vm *vm;
	sqlite3_stmt *st = NULL;
	int r, rc;

	if ((r = stmt_get(reg, id, &st)) < 0)
		return r;
	if (sqlite3_stmt_busy(st))
		return -EBUSY;
	if (!(vm = malloc(sizeof(*vm))))
		return -ENOMEM;
	if (state_filter && (rc = sqlite3_bind_text(st, 1, state_filter, -1,
						    SQLITE_TRANSIENT)) != SQLITE_OK) {
		r = bind_failed(reg, st, rc);
		goto free_vm;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		read_vm(st, vm);
		if ((r = cb(vm, arg)) != 0)
			break;
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = reg_fail(reg, rc, "list vms");
	stmt_done(st);
free_vm:
	free(vm);
	return r;
}

int ui_reg_vm_count(struct ui_registry *reg, const char *state, unsigned *out)
{
	sqlite3_stmt *st = NULL;
	int r, rc;

	if ((r = stmt_get(reg, state ? ST_VM_COUNT_STATE : ST_VM_COUNT, &st)) < 0)
		return r;
	if (state && (rc = sqlite3_bind_text(st, 1, state, -1, SQLITE_TRANSIENT)) != SQLITE_OK)
		return bind_failed(reg, st, rc);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*out = (unsigned)sqlite3_column_int64(st, 0);
	else
		r = reg_fail(reg, rc, "count vms");
	stmt_done(st);
	return r;
}

/* ---- leases ----------------------------------------------------------- */

int ui_reg_lease_insert(struct ui_registry *reg, const struct ui_lease *l)
{
	char now[32];
	sqlite3_stmt *st = NULL;
	int r, rc = SQLITE_OK;

	if ((r = writable(reg, "insert lease")) < 0)
		return r;
	if (!l->ip[0] || !l->mac[0] || !l->tap[0] || !l->vm_id[0])
		return -EINVAL;
	ui_registry_now(now, sizeof(now));
	if ((r = stmt_get(reg, ST_LEASE_INSERT, &st)) < 0)
		return r;
	rc |= BIND_STR(st, 0, l->ip);
	rc |= BIND_STR(st, 1, l->mac);
	rc |= BIND_STR(st, 2, l->tap);
	rc |= BIND_STR(st, 3, l->vm_id);
	rc |= bind_text(st, 4, l->state[0] ? l->state : "bound", sizeof(l->state));
	rc |= bind_text(st, 5, l->updated_at[0] ? l->updated_at : now, sizeof(l->updated_at));
	if (rc != SQLITE_OK)
		return bind_failed(reg, st, rc);
	return tx_write(reg, st, false, "insert lease");
}

int ui_reg_lease_delete(struct ui_registry *reg, const char *ip)
{
	sqlite3_stmt *st = NULL;
	int r, rc;

	if ((r = writable(reg, "delete lease")) < 0 ||
	    (r = stmt_get(reg, ST_LEASE_DELETE, &st)) < 0)
		return r;
	if ((rc = sqlite3_bind_text(st, 1, ip, -1, SQLITE_TRANSIENT)) != SQLITE_OK)
		return bind_failed(reg, st, rc);
	return tx_write(reg, st, true, "delete lease");
}

int ui_reg_lease_get_by_vm(struct ui_registry *reg, const char *vm_id, struct ui_lease *out)
{
	return select_one(reg, ST_LEASE_GET_BY_VM, vm_id, read_lease_cb, out);
}

/* Streams leases in insertion order; same rules for cb as ui_reg_vm_list. */
int ui_reg_lease_list(struct ui_registry *reg,
		      int (*cb)(const struct ui_lease *l, void *arg), void *arg)
{
	struct ui_lease l;
	sqlite3_stmt *st = NULL;
	int r, rc;

	if ((r = stmt_get(reg, ST_LEASE_LIST, &st)) < 0)
		return r;
	if (sqlite3_stmt_busy(st))
		return -EBUSY;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		read_lease(st, &l);
		if ((r = cb(&l, arg)) != 0)
			break;
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = reg_fail(reg, rc, "list leases");
	stmt_done(st);
	return r;
}

/* ---- events ----------------------------------------------------------- */

int ui_reg_event(struct ui_registry *reg, const char *vm_id, const char *kind,
		 const char *detail)
{
	char now[32];
	sqlite3_stmt *st = NULL;
	int r, rc = SQLITE_OK;

	if ((r = writable(reg, "insert event")) < 0)
		return r;
	if (!kind || !kind[0])
		return -EINVAL;
	ui_registry_now(now, sizeof(now));
	if ((r = stmt_get(reg, ST_EVENT_INSERT, &st)) < 0)
		return r;
	rc |= bind_text(st, 0, now, sizeof(now));
	rc |= bind_text(st, 1, vm_id, 4096);
	rc |= bind_text(st, 2, kind, 4096);
	rc |= bind_text(st, 3, detail, 65536);
	if (rc != SQLITE_OK)
		return bind_failed(reg, st, rc);
	return tx_write(reg, st, false, "insert event");
}

/* A full scan of events (no index on vm_id in schema 1): fine for the
 * admin tools that call it, not for a hot path. */
int ui_reg_event_list(struct ui_registry *reg, const char *vm_id,
		      int (*cb)(const char *time, const char *kind, const char *detail,
				void *arg),
		      void *arg)
{
	sqlite3_stmt *st = NULL;
	int r, rc;

	if ((r = stmt_get(reg, ST_EVENT_LIST, &st)) < 0)
		return r;
	if (sqlite3_stmt_busy(st))
		return -EBUSY;
	if ((rc = sqlite3_bind_text(st, 1, vm_id, -1, SQLITE_TRANSIENT)) != SQLITE_OK)
		return bind_failed(reg, st, rc);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		r = cb(col_or_empty(st, 0), col_or_empty(st, 1), col_or_empty(st, 2), arg);
		if (r != 0)
			break;
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = reg_fail(reg, rc, "list events");
	stmt_done(st);
	return r;
}
