/*
 * reg_helpers.h — what the registry's unit tests share: a fresh directory
 * per case, raw sqlite3 access to set up odd files and look at what was
 * stored, and row builders. Header-only: each test is one file.
 */
#ifndef UI_REG_HELPERS_H
#define UI_REG_HELPERS_H

#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry.h"
#include "t.h"

static char tmpdir[PATH_MAX];
static char dbpath[PATH_MAX + 32];

static inline void cleanup(void)
{
	char cmd[PATH_MAX + 16];

	if (!tmpdir[0])
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0) {
		/* best effort */
	}
}

/* A fresh directory per case; returns <dir>/registry.db (not created). */
static inline const char *db_path(void)
{
	char tmpl[] = "/tmp/test_registry.XXXXXX";

	T_ASSERT(mkdtemp(tmpl));
	snprintf(tmpdir, sizeof(tmpdir), "%s", tmpl);
	snprintf(dbpath, sizeof(dbpath), "%s/registry.db", tmpdir);
	atexit(cleanup);
	return dbpath;
}

static inline sqlite3 *raw_open(const char *path)
{
	sqlite3 *db;

	T_ASSERT(sqlite3_open(path, &db) == SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	return db;
}

/* Runs sql (any number of statements) on a raw connection. */
static inline void raw_exec(const char *path, const char *sql)
{
	sqlite3 *db = raw_open(path);
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		T_FAIL("raw exec %s: %s", sql, msg);
	sqlite3_close(db);
}

/* The first column of the first row of a query (0 when no row). */
static inline long long raw(const char *path, const char *sql)
{
	sqlite3 *db = raw_open(path);
	sqlite3_stmt *st;
	long long v = 0;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		T_FAIL("raw prepare %s: %s", sql, sqlite3_errmsg(db));
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static inline struct ui_registry *open_ok(const char *path, int flags)
{
	struct ui_registry *reg = NULL;
	int r = ui_registry_open(path, flags, &reg);

	if (r != 0)
		T_FAIL("ui_registry_open(%s, %d) = %d", path, flags, r);
	T_ASSERT(reg);
	return reg;
}

static inline void make_vm(struct ui_vm *vm, const char *id, const char *state, const char *created)
{
	memset(vm, 0, sizeof(*vm));
	snprintf(vm->id, sizeof(vm->id), "%s", id);
	snprintf(vm->state, sizeof(vm->state), "%s", state);
	snprintf(vm->created_at, sizeof(vm->created_at), "%s", created);
	snprintf(vm->image, sizeof(vm->image), "hello");
	vm->vcpus = 1;
	vm->mem_mib = 128;
	vm->exit_status = -1;
}

static inline void make_lease(struct ui_lease *l, const char *ip, const char *mac, const char *tap,
		       const char *vm_id)
{
	memset(l, 0, sizeof(*l));
	snprintf(l->ip, sizeof(l->ip), "%s", ip);
	snprintf(l->mac, sizeof(l->mac), "%s", mac);
	snprintf(l->tap, sizeof(l->tap), "%s", tap);
	snprintf(l->vm_id, sizeof(l->vm_id), "%s", vm_id);
}

#endif
