/*
 * test_registry.c — the sqlite3 registry: creation and migration (fresh,
 * reopen, too new, version 0 with a foreign table), read-only connections,
 * CRUD of vms/leases/events with their constraint errors, the per-VM event
 * list, and two processes writing at once. Raw sqlite3 is used only to set up
 * odd files and to look at what was stored.
 */
#include <errno.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "metrics.h"
#include "reg_helpers.h"

/* ---- schema and migration --------------------------------------------- */

static void t_create_fresh(void)
{
	const char *path = db_path();
	struct ui_registry *reg = open_ok(path, UI_REG_CREATE);

	T_EQ_INT(ui_registry_version(reg), UI_REGISTRY_VERSION);
	T_EQ_INT(raw(path, "PRAGMA user_version"), UI_REGISTRY_VERSION);
	T_EQ_INT(raw(path, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND "
			   "name IN ('vms', 'leases', 'events')"), 3);
	T_EQ_INT(raw(path, "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND "
			   "name IN ('vms_state_id', 'leases_vm_id')"), 2);
	T_EQ_INT(raw(path, "SELECT count(*) FROM pragma_table_info('vms')"), 25);
	T_EQ_INT(raw(path, "SELECT count(*) FROM pragma_table_info('vms') WHERE name = 'ready_at'"), 1);
	T_EQ_INT(raw(path, "SELECT count(*) FROM pragma_table_info('leases')"), 6);
	T_EQ_INT(raw(path, "SELECT count(*) FROM pragma_table_info('events')"), 5);
	T_EQ_INT(raw(path, "SELECT journal_mode = 'wal' FROM pragma_journal_mode"), 1);
	ui_registry_close(reg);
	ui_registry_close(NULL);
}

static void t_reopen_keeps_data(void)
{
	const char *path = db_path();
	struct ui_registry *reg = open_ok(path, UI_REG_CREATE);
	struct ui_vm vm;

	make_vm(&vm, "vm-1", UI_VM_RUNNING, "2026-01-01T00:00:00.000Z");
	T_EQ_INT(ui_reg_vm_insert(reg, &vm), 0);
	ui_registry_close(reg);
	/* a migration step re-run would fail on CREATE TABLE and lose nothing,
	 * but the open would fail: both reopen modes must succeed */
	reg = open_ok(path, UI_REG_CREATE);
	T_EQ_INT(ui_registry_version(reg), UI_REGISTRY_VERSION);
	T_EQ_INT(ui_reg_vm_get(reg, "vm-1", &vm), 0);
	T_EQ_STR(vm.state, "running");
	ui_registry_close(reg);
	reg = open_ok(path, 0);
	T_EQ_INT(ui_reg_vm_get(reg, "vm-1", &vm), 0);
	ui_registry_close(reg);
	T_EQ_INT(raw(path, "SELECT count(*) FROM vms"), 1);
}

static void t_too_new(void)
{
	const char *path = db_path();
	struct ui_registry *reg = (void *)1;

	raw_exec(path, "CREATE TABLE future(x); PRAGMA user_version = 99");
	T_EQ_INT(ui_registry_open(path, UI_REG_CREATE, &reg), -EPROTO);
	T_ASSERT(reg == NULL);
	T_EQ_INT(ui_registry_open(path, 0, &reg), -EPROTO);
	T_EQ_INT(ui_registry_open(path, UI_REG_RDONLY, &reg), -EPROTO);
	/* untouched */
	T_EQ_INT(raw(path, "PRAGMA user_version"), 99);
	T_EQ_INT(raw(path, "SELECT count(*) FROM sqlite_master WHERE name = 'vms'"), 0);
}

/* A file whose tables or columns are not those of the version it claims
 * is refused by every kind of open, named, and never migrated. */
static void t_half_made(void)
{
	const char *path = db_path();
	struct ui_registry *reg = open_ok(path, UI_REG_CREATE);
	char why[512];

	T_EQ_INT(ui_registry_verify(reg, why, sizeof(why)), 0);
	T_EQ_STR(why, "");
	ui_registry_close(reg);
	raw_exec(path, "DROP TABLE taps; ALTER TABLE vms DROP COLUMN error");
	T_EQ_INT(ui_registry_open(path, UI_REG_CREATE, &reg), -EPROTO);
	T_ASSERT(reg == NULL);
	T_EQ_INT(ui_registry_open(path, 0, &reg), -EPROTO);
	T_EQ_INT(ui_registry_open(path, UI_REG_RDONLY, &reg), -EPROTO);
	/* schema 1 claimed with a table of schema 1 missing: not migrated */
	raw_exec(path, "DROP TABLE events; PRAGMA user_version = 1");
	T_EQ_INT(ui_registry_open(path, UI_REG_CREATE, &reg), -EPROTO);
	T_EQ_INT(raw(path, "PRAGMA user_version"), 1);
	T_EQ_INT(raw(path, "SELECT count(*) FROM sqlite_master WHERE name = 'taps'"), 0);
}

/* Damage after open: ui_registry_verify (GET /healthz) says what is gone. */
static void t_verify_after_open(void)
{
	const char *path = db_path();
	struct ui_registry *reg = open_ok(path, UI_REG_CREATE), *ro = open_ok(path, UI_REG_RDONLY);
	char why[512];

	raw_exec(path, "DROP TABLE taps; ALTER TABLE leases DROP COLUMN updated_at");
	T_EQ_INT(ui_registry_verify(ro, why, sizeof(why)), -EPROTO);
	T_EQ_STR(why, "table leases lacks column updated_at; table taps is missing");
	T_EQ_INT(ui_registry_verify(reg, why, sizeof(why)), -EPROTO);
	ui_registry_close(ro);
	ui_registry_close(reg);
}

static void t_migrate_version0_with_foreign_table(void)
{
	const char *path = db_path();
	struct ui_registry *reg = NULL;

	raw_exec(path, "CREATE TABLE notes(x TEXT); INSERT INTO notes VALUES ('keep me')");
	T_EQ_INT(raw(path, "PRAGMA user_version"), 0);
	/* only uigniterd (UI_REG_CREATE) migrates */
	T_EQ_INT(ui_registry_open(path, 0, &reg), -EPROTO);
	T_EQ_INT(ui_registry_open(path, UI_REG_RDONLY, &reg), -EPROTO);
	reg = open_ok(path, UI_REG_CREATE);
	T_EQ_INT(ui_registry_version(reg), UI_REGISTRY_VERSION);
	ui_registry_close(reg);
	T_EQ_INT(raw(path, "SELECT count(*) FROM notes WHERE x = 'keep me'"), 1);
	T_EQ_INT(raw(path, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND "
			   "name IN ('vms', 'leases', 'events')"), 3);
}

static void t_readonly(void)
{
	const char *path = db_path();
	struct ui_registry *reg = NULL, *ro;
	struct ui_vm vm;
	struct ui_lease l;
	unsigned n;

	T_EQ_INT(ui_registry_open(path, UI_REG_RDONLY, &reg), -ENOENT);
	T_EQ_INT(ui_registry_open(path, 0, &reg), -ENOENT);
	T_ASSERT(access(path, F_OK) != 0); /* neither created it */
	T_EQ_INT(ui_registry_open(path, UI_REG_RDONLY | UI_REG_CREATE, &reg), -EINVAL);

	reg = open_ok(path, UI_REG_CREATE);
	make_vm(&vm, "vm-1", UI_VM_RUNNING, "");
	T_EQ_INT(ui_reg_vm_insert(reg, &vm), 0);
	make_lease(&l, "172.31.0.2", "06:00:ac:1f:00:02", "uit-2", "vm-1");
	T_EQ_INT(ui_reg_lease_insert(reg, &l), 0);

	ro = open_ok(path, UI_REG_RDONLY);
	T_EQ_INT(ui_registry_version(ro), UI_REGISTRY_VERSION);
	T_EQ_INT(ui_reg_vm_get(ro, "vm-1", &vm), 0);
	T_EQ_INT(ui_reg_vm_count(ro, NULL, &n), 0);
	T_EQ_INT(n, 1);
	T_EQ_INT(ui_reg_lease_get_by_vm(ro, "vm-1", &l), 0);
	T_EQ_INT(ui_reg_vm_insert(ro, &vm), -EROFS);
	T_EQ_INT(ui_reg_vm_update(ro, &vm), -EROFS);
	T_EQ_INT(ui_reg_vm_delete(ro, "vm-1"), -EROFS);
	T_EQ_INT(ui_reg_lease_insert(ro, &l), -EROFS);
	T_EQ_INT(ui_reg_lease_delete(ro, l.ip), -EROFS);
	T_EQ_INT(ui_reg_event(ro, "vm-1", "create", NULL), -EROFS);
	/* the read-only connection sees the writer's later commits */
	make_vm(&vm, "vm-2", UI_VM_CREATING, "");
	T_EQ_INT(ui_reg_vm_insert(reg, &vm), 0);
	T_EQ_INT(ui_reg_vm_count(ro, NULL, &n), 0);
	T_EQ_INT(n, 2);
	ui_registry_close(ro);
	ui_registry_close(reg);

	/* read-only also works with no writer left (no -wal/-shm on disk) */
	ro = open_ok(path, UI_REG_RDONLY);
	T_EQ_INT(ui_reg_vm_get(ro, "vm-2", &vm), 0);
	ui_registry_close(ro);
}

/* ---- vms -------------------------------------------------------------- */

static void t_vm_roundtrip(void)
{
	const char *path = db_path();
	struct ui_registry *reg = open_ok(path, UI_REG_CREATE);
	struct ui_vm vm, got;

	make_vm(&vm, "vm-0123456789abcdefghij", UI_VM_CREATING, "2026-11-29T14:50:49.123Z");
	snprintf(vm.name, sizeof(vm.name), "web");
	snprintf(vm.kernel, sizeof(vm.kernel), "/g/vmlinuz");
	snprintf(vm.initrd, sizeof(vm.initrd), "/g/initrd");
	snprintf(vm.rootfs, sizeof(vm.rootfs), "/g/root");
	snprintf(vm.boot_args, sizeof(vm.boot_args), "quiet");
	vm.vcpus = 2;
	vm.mem_mib = 256;
	snprintf(vm.driver, sizeof(vm.driver), "qemu");
	vm.vmm_pid = 4242;
	vm.vmm_start_time = 987654321;
	snprintf(vm.api_socket, sizeof(vm.api_socket), "/run/u/vm.qmp");
	snprintf(vm.console_log, sizeof(vm.console_log), "/var/lib/u/vms/x.console.log");
	snprintf(vm.tap, sizeof(vm.tap), "uit-2");
	snprintf(vm.ip, sizeof(vm.ip), "172.31.0.2");
	snprintf(vm.mac, sizeof(vm.mac), "06:00:ac:1f:00:02");
	snprintf(vm.idempotency_key, sizeof(vm.idempotency_key), "key-1");
	snprintf(vm.started_at, sizeof(vm.started_at), "2026-11-29T14:50:50.000Z");
	snprintf(vm.stopped_at, sizeof(vm.stopped_at), "2026-11-29T14:51:00.000Z");
	vm.exit_status = 0;
	snprintf(vm.error, sizeof(vm.error), "none");
	T_EQ_INT(ui_reg_vm_insert(reg, &vm), 0);
	T_EQ_INT(ui_reg_vm_get(reg, vm.id, &got), 0);
	T_ASSERT(memcmp(&vm, &got, sizeof(vm)) == 0);
	T_EQ_INT(ui_reg_vm_insert(reg, &vm), -EEXIST);

	/* update every column; "" and -1/0 go back to NULL */
	make_vm(&vm, "vm-0123456789abcdefghij", UI_VM_FAILED, "2026-11-29T14:50:49.123Z");
	snprintf(vm.error, sizeof(vm.error), "boot timed out");
	vm.exit_status = 137;
	T_EQ_INT(ui_reg_vm_update(reg, &vm), 0);
	T_EQ_INT(ui_reg_vm_get(reg, vm.id, &got), 0);
	T_ASSERT(memcmp(&vm, &got, sizeof(vm)) == 0);
	T_EQ_INT(raw(path, "SELECT count(*) FROM vms WHERE name IS NULL AND kernel IS NULL AND "
			   "idempotency_key IS NULL AND vmm_pid IS NULL AND "
			   "vmm_start_time IS NULL AND started_at IS NULL"), 1);
	vm.exit_status = -1;
	T_EQ_INT(ui_reg_vm_update(reg, &vm), 0);
	T_EQ_INT(raw(path, "SELECT count(*) FROM vms WHERE exit_status IS NULL"), 1);
	T_EQ_INT(ui_reg_vm_get(reg, vm.id, &got), 0);
	T_EQ_INT(got.exit_status, -1);

	/* missing rows */
	T_EQ_INT(ui_reg_vm_get(reg, "vm-nope", &got), -ENOENT);
	make_vm(&vm, "vm-nope", UI_VM_RUNNING, "");
	T_EQ_INT(ui_reg_vm_update(reg, &vm), -ENOENT);
	T_EQ_INT(ui_reg_vm_delete(reg, "vm-nope"), -ENOENT);
	T_EQ_INT(ui_reg_vm_delete(reg, "vm-0123456789abcdefghij"), 0);
	T_EQ_INT(ui_reg_vm_get(reg, "vm-0123456789abcdefghij", &got), -ENOENT);
	T_EQ_INT(ui_reg_vm_delete(reg, "vm-0123456789abcdefghij"), -ENOENT);

	/* required fields; created_at defaults to now */
	make_vm(&vm, "", UI_VM_RUNNING, "");
	T_EQ_INT(ui_reg_vm_insert(reg, &vm), -EINVAL);
	make_vm(&vm, "vm-x", "", "");
	T_EQ_INT(ui_reg_vm_insert(reg, &vm), -EINVAL);
	make_vm(&vm, "vm-x", UI_VM_CREATING, "");
	T_EQ_INT(ui_reg_vm_insert(reg, &vm), 0);
	T_EQ_INT(ui_reg_vm_get(reg, "vm-x", &got), 0);
	T_EQ_INT(strlen(got.created_at), 24);
	ui_registry_close(reg);
}

struct collect {
	char ids[16][48];
	int n, stop_at;
};

static int collect_cb(const struct ui_vm *vm, void *arg)
{
	struct collect *c = arg;

	snprintf(c->ids[c->n], sizeof(c->ids[0]), "%s", vm->id);
	if (++c->n == c->stop_at)
		return 42;
	return 0;
}

static void t_vm_list_count(void)
{
	struct ui_registry *reg = open_ok(db_path(), UI_REG_CREATE);
	static const char *const rows[][3] = {
		{ "vm-c", UI_VM_RUNNING, "2026-01-01T00:00:03.000Z" },
		{ "vm-a", UI_VM_STOPPED, "2026-01-01T00:00:01.000Z" },
		{ "vm-d", UI_VM_RUNNING, "2026-01-01T00:00:04.000Z" },
		{ "vm-b", UI_VM_RUNNING, "2026-01-01T00:00:02.000Z" },
		{ "vm-e", UI_VM_FAILED, "2026-01-01T00:00:00.500Z" },
	};
	struct collect c = { .n = 0 };
	struct ui_vm vm;
	unsigned n = 99;

	T_EQ_INT(ui_reg_vm_count(reg, NULL, &n), 0);
	T_EQ_INT(n, 0);
	T_EQ_INT(ui_reg_vm_list(reg, NULL, collect_cb, &c), 0);
	T_EQ_INT(c.n, 0);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		make_vm(&vm, rows[i][0], rows[i][1], rows[i][2]);
		T_EQ_INT(ui_reg_vm_insert(reg, &vm), 0);
	}
	T_EQ_INT(ui_reg_vm_count(reg, NULL, &n), 0);
	T_EQ_INT(n, 5);
	T_EQ_INT(ui_reg_vm_count(reg, UI_VM_RUNNING, &n), 0);
	T_EQ_INT(n, 3);
	T_EQ_INT(ui_reg_vm_count(reg, UI_VM_STOPPING, &n), 0);
	T_EQ_INT(n, 0);

	T_EQ_INT(ui_reg_vm_list(reg, NULL, collect_cb, &c), 0);
	T_EQ_INT(c.n, 5);
	T_EQ_STR(c.ids[0], "vm-e");
	T_EQ_STR(c.ids[1], "vm-a");
	T_EQ_STR(c.ids[2], "vm-b");
	T_EQ_STR(c.ids[3], "vm-c");
	T_EQ_STR(c.ids[4], "vm-d");

	c.n = 0;
	T_EQ_INT(ui_reg_vm_list(reg, UI_VM_RUNNING, collect_cb, &c), 0);
	T_EQ_INT(c.n, 3);
	T_EQ_STR(c.ids[0], "vm-b");
	T_EQ_STR(c.ids[2], "vm-d");

	/* a non-zero callback return stops the walk and is returned; the
	 * statement is reset, so the next walk starts over */
	c.n = 0;
	c.stop_at = 2;
	T_EQ_INT(ui_reg_vm_list(reg, NULL, collect_cb, &c), 42);
	T_EQ_INT(c.n, 2);
	c.n = 0;
	c.stop_at = 0;
	T_EQ_INT(ui_reg_vm_list(reg, NULL, collect_cb, &c), 0);
	T_EQ_INT(c.n, 5);
	ui_registry_close(reg);
}

static void t_idempotency_key(void)
{
	const char *path = db_path();
	struct ui_registry *reg = open_ok(path, UI_REG_CREATE);
	struct ui_vm vm, got;

	/* any number of VMs without a key */
	for (int i = 0; i < 3; i++) {
		char id[16];

		snprintf(id, sizeof(id), "vm-nokey-%d", i);
		make_vm(&vm, id, UI_VM_RUNNING, "");
		T_EQ_INT(ui_reg_vm_insert(reg, &vm), 0);
	}
	make_vm(&vm, "vm-k1", UI_VM_RUNNING, "");
	snprintf(vm.idempotency_key, sizeof(vm.idempotency_key), "k1");
	T_EQ_INT(ui_reg_vm_insert(reg, &vm), 0);
	make_vm(&vm, "vm-k1-again", UI_VM_RUNNING, "");
	snprintf(vm.idempotency_key, sizeof(vm.idempotency_key), "k1");
	T_EQ_INT(ui_reg_vm_insert(reg, &vm), -EEXIST);
	T_EQ_INT(ui_reg_vm_get(reg, "vm-k1-again", &got), -ENOENT); /* rolled back */

	T_EQ_INT(ui_reg_vm_get_by_key(reg, "k1", &got), 0);
	T_EQ_STR(got.id, "vm-k1");
	T_EQ_STR(got.idempotency_key, "k1");
	T_EQ_INT(ui_reg_vm_get_by_key(reg, "k2", &got), -ENOENT);
	T_EQ_INT(ui_reg_vm_get_by_key(reg, "", &got), -ENOENT);

	/* an update may not steal a key either */
	make_vm(&vm, "vm-nokey-0", UI_VM_RUNNING, "");
	snprintf(vm.idempotency_key, sizeof(vm.idempotency_key), "k1");
	T_EQ_INT(ui_reg_vm_update(reg, &vm), -EEXIST);
	T_EQ_INT(raw(path, "SELECT count(*) FROM vms WHERE idempotency_key IS NULL"), 3);
	ui_registry_close(reg);
}

/* ---- leases and events ------------------------------------------------ */

static int lease_cb(const struct ui_lease *l, void *arg)
{
	struct collect *c = arg;

	snprintf(c->ids[c->n++], sizeof(c->ids[0]), "%s", l->ip);
	return 0;
}

static void t_leases(void)
{
	struct ui_registry *reg = open_ok(db_path(), UI_REG_CREATE);
	struct ui_lease l, got;
	struct collect c = { .n = 0 };

	make_lease(&l, "172.31.0.2", "06:00:ac:1f:00:02", "uit-2", "vm-a");
	snprintf(l.updated_at, sizeof(l.updated_at), "2026-01-01T00:00:00.000Z");
	T_EQ_INT(ui_reg_lease_insert(reg, &l), 0);
	make_lease(&l, "172.31.0.10", "06:00:ac:1f:00:0a", "uit-10", "vm-b");
	T_EQ_INT(ui_reg_lease_insert(reg, &l), 0);

	make_lease(&l, "172.31.0.2", "06:00:ac:1f:00:63", "uit-99", "vm-c");
	T_EQ_INT(ui_reg_lease_insert(reg, &l), -EEXIST); /* ip */
	make_lease(&l, "172.31.0.99", "06:00:ac:1f:00:02", "uit-99", "vm-c");
	T_EQ_INT(ui_reg_lease_insert(reg, &l), -EEXIST); /* mac */
	make_lease(&l, "172.31.0.99", "06:00:ac:1f:00:63", "uit-2", "vm-c");
	T_EQ_INT(ui_reg_lease_insert(reg, &l), -EEXIST); /* tap */
	make_lease(&l, "", "06:00:ac:1f:00:63", "uit-99", "vm-c");
	T_EQ_INT(ui_reg_lease_insert(reg, &l), -EINVAL);

	T_EQ_INT(ui_reg_lease_get_by_vm(reg, "vm-a", &got), 0);
	T_EQ_STR(got.ip, "172.31.0.2");
	T_EQ_STR(got.mac, "06:00:ac:1f:00:02");
	T_EQ_STR(got.tap, "uit-2");
	T_EQ_STR(got.vm_id, "vm-a");
	T_EQ_STR(got.state, "bound");
	T_EQ_STR(got.updated_at, "2026-01-01T00:00:00.000Z");
	T_EQ_INT(ui_reg_lease_get_by_vm(reg, "vm-b", &got), 0);
	T_EQ_STR(got.ip, "172.31.0.10");
	T_EQ_INT(strlen(got.updated_at), 24);
	T_EQ_INT(ui_reg_lease_get_by_vm(reg, "vm-c", &got), -ENOENT);

	T_EQ_INT(ui_reg_lease_list(reg, lease_cb, &c), 0);
	T_EQ_INT(c.n, 2);
	T_EQ_STR(c.ids[0], "172.31.0.2");
	T_EQ_STR(c.ids[1], "172.31.0.10");

	T_EQ_INT(ui_reg_lease_delete(reg, "172.31.0.2"), 0);
	T_EQ_INT(ui_reg_lease_delete(reg, "172.31.0.2"), -ENOENT);
	T_EQ_INT(ui_reg_lease_get_by_vm(reg, "vm-a", &got), -ENOENT);
	/* the freed ip, mac and tap can be leased again */
	make_lease(&l, "172.31.0.2", "06:00:ac:1f:00:02", "uit-2", "vm-d");
	T_EQ_INT(ui_reg_lease_insert(reg, &l), 0);
	c.n = 0;
	T_EQ_INT(ui_reg_lease_list(reg, lease_cb, &c), 0);
	T_EQ_INT(c.n, 2);
	ui_registry_close(reg);
}

static void t_events(void)
{
	const char *path = db_path();
	struct ui_registry *reg = open_ok(path, UI_REG_CREATE);

	T_EQ_INT(ui_reg_event(reg, "vm-a", "create", "image hello"), 0);
	T_EQ_INT(ui_reg_event(reg, "vm-a", "running", ""), 0);
	T_EQ_INT(ui_reg_event(reg, NULL, "netd-start", NULL), 0);
	T_EQ_INT(ui_reg_event(reg, "vm-a", "", NULL), -EINVAL);
	ui_registry_close(reg);
	T_EQ_INT(raw(path, "SELECT count(*) FROM events"), 3);
	T_EQ_INT(raw(path, "SELECT seq FROM events WHERE kind = 'netd-start'"), 3);
	T_EQ_INT(raw(path, "SELECT count(*) FROM events WHERE vm_id = 'vm-a' AND "
			   "detail IS NULL AND kind = 'running'"), 1);
	T_EQ_INT(raw(path, "SELECT count(*) FROM events WHERE vm_id IS NULL"), 1);
	T_EQ_INT(raw(path, "SELECT count(*) FROM events WHERE time LIKE '____-__-__T__:__:__.___Z'"),
		 3);
}

struct events {
	char lines[8][96]; /* "time|kind|detail" */
	int n, stop_at;
};

static int event_cb(const char *time, const char *kind, const char *detail, void *arg)
{
	struct events *e = arg;

	T_ASSERT(e->n < 8);
	snprintf(e->lines[e->n], sizeof(e->lines[0]), "%s|%s|%s", time, kind, detail);
	if (++e->n == e->stop_at)
		return 7;
	return 0;
}

static void t_event_list(void)
{
	const char *path = db_path();
	struct ui_registry *reg = open_ok(path, UI_REG_CREATE), *ro;
	struct events e = { .n = 0 };

	T_EQ_INT(ui_reg_event(reg, "vm-a", "create", "image hello"), 0);
	T_EQ_INT(ui_reg_event(reg, "vm-b", "create", NULL), 0);
	T_EQ_INT(ui_reg_event(reg, NULL, "netd-start", NULL), 0);
	T_EQ_INT(ui_reg_event(reg, "vm-a", "running", NULL), 0);
	T_EQ_INT(ui_reg_event(reg, "vm-a", "stopped", "exit 0"), 0);
	/* one time text for all: the order is by seq, not by time */
	raw_exec(path, "UPDATE events SET time = '2026-01-01T00:00:00.000Z'");

	ro = open_ok(path, UI_REG_RDONLY);
	T_EQ_INT(ui_reg_event_list(ro, "vm-a", event_cb, &e), 0);
	T_EQ_INT(e.n, 3);
	T_EQ_STR(e.lines[0], "2026-01-01T00:00:00.000Z|create|image hello");
	T_EQ_STR(e.lines[1], "2026-01-01T00:00:00.000Z|running|"); /* NULL detail → "" */
	T_EQ_STR(e.lines[2], "2026-01-01T00:00:00.000Z|stopped|exit 0");

	e.n = 0;
	T_EQ_INT(ui_reg_event_list(ro, "vm-nope", event_cb, &e), 0);
	T_EQ_INT(e.n, 0);

	/* a non-zero return stops the walk; the next walk starts over */
	e.stop_at = 2;
	T_EQ_INT(ui_reg_event_list(ro, "vm-a", event_cb, &e), 7);
	T_EQ_INT(e.n, 2);
	e.n = e.stop_at = 0;
	T_EQ_INT(ui_reg_event_list(ro, "vm-b", event_cb, &e), 0);
	T_EQ_INT(e.n, 1);
	T_EQ_STR(e.lines[0], "2026-01-01T00:00:00.000Z|create|");
	ui_registry_close(ro);
	ui_registry_close(reg);
}

static void t_now(void)
{
	char buf[32];

	ui_registry_now(buf, sizeof(buf));
	T_EQ_INT(strlen(buf), 24);
	for (int i = 0; i < 24; i++) {
		const char *fmt = "dddd-dd-ddTdd:dd:dd.dddZ";

		if (fmt[i] == 'd')
			T_ASSERT(buf[i] >= '0' && buf[i] <= '9');
		else
			T_ASSERT(buf[i] == fmt[i]);
	}
	T_ASSERT(strncmp(buf, "20", 2) == 0);
}

/* ---- concurrency ------------------------------------------------------ */

#define PER_WRITER 200

/* One writer process: waits on the start pipe, then inserts its rows. */
static void writer(const char *path, char tag, int start_fd)
{
	struct ui_registry *reg = NULL;
	struct ui_vm vm;
	char id[32], go;

	if (read(start_fd, &go, 1) != 1)
		_exit(2);
	if (ui_registry_open(path, 0, &reg) != 0)
		_exit(3);
	for (int i = 0; i < PER_WRITER; i++) {
		snprintf(id, sizeof(id), "vm-%c-%03d", tag, i);
		make_vm(&vm, id, UI_VM_RUNNING, "");
		if (ui_reg_vm_insert(reg, &vm) != 0 || ui_reg_event(reg, id, "create", NULL) != 0)
			_exit(4);
	}
	ui_registry_close(reg);
	_exit(0);
}

static void t_two_writers(void)
{
	const char *path = db_path();
	struct ui_registry *reg = open_ok(path, UI_REG_CREATE);
	int fds[2], st;
	pid_t pids[2];
	unsigned n;

	T_ASSERT(pipe(fds) == 0);
	for (int i = 0; i < 2; i++) {
		T_ASSERT((pids[i] = fork()) >= 0);
		if (pids[i] == 0) {
			close(fds[1]);
			writer(path, (char)('a' + i), fds[0]);
		}
	}
	close(fds[0]);
	T_ASSERT(write(fds[1], "gg", 2) == 2); /* start both at once */
	close(fds[1]);
	for (int i = 0; i < 2; i++) {
		T_ASSERT(waitpid(pids[i], &st, 0) == pids[i]);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			T_FAIL("writer %d: status 0x%x", i, st);
	}
	T_EQ_INT(ui_reg_vm_count(reg, NULL, &n), 0);
	T_EQ_INT(n, 2 * PER_WRITER);
	T_EQ_INT(raw(path, "SELECT count(*) FROM vms WHERE id LIKE 'vm-a-%'"), PER_WRITER);
	T_EQ_INT(raw(path, "SELECT count(*) FROM events"), 2 * PER_WRITER);
	ui_registry_close(reg);
}

/* ---- GET /events and /metrics reads, the write counters ----------------- */

struct seqs {
	uint64_t seq[8];
	char vm[8][16];
	int n;
};

static int seq_cb(const struct ui_reg_event_row *ev, void *arg)
{
	struct seqs *s = arg;

	T_ASSERT(s->n < 8);
	snprintf(s->vm[s->n], sizeof(s->vm[0]), "%s", ev->vm_id);
	s->seq[s->n++] = ev->seq;
	return 0;
}

static void t_event_page(void)
{
	struct ui_registry *reg = open_ok(db_path(), UI_REG_CREATE);
	struct seqs s = { 0 };
	bool more = true;

	for (int i = 0; i < 5; i++)
		T_EQ_INT(ui_reg_event(reg, i % 2 ? "vm-b" : "vm-a", "create", NULL), 0);
	T_EQ_INT(ui_reg_event_page(reg, 0, NULL, 10, seq_cb, &s, &more), 0);
	T_EQ_INT(s.n, 5);
	T_ASSERT(!more);
	T_EQ_INT(s.seq[0], 1);
	T_EQ_INT(s.seq[4], 5);
	memset(&s, 0, sizeof(s));
	T_EQ_INT(ui_reg_event_page(reg, 1, NULL, 2, seq_cb, &s, &more), 0);
	T_EQ_INT(s.n, 2);
	T_ASSERT(more);
	T_EQ_INT(s.seq[0], 2);
	T_EQ_INT(s.seq[1], 3);
	memset(&s, 0, sizeof(s));
	T_EQ_INT(ui_reg_event_page(reg, 1, "vm-a", 10, seq_cb, &s, &more), 0);
	T_EQ_INT(s.n, 2); /* seq 3 and 5 */
	T_EQ_INT(s.seq[0], 3);
	T_EQ_STR(s.vm[1], "vm-a");
	memset(&s, 0, sizeof(s));
	T_EQ_INT(ui_reg_event_page(reg, 5, NULL, 10, seq_cb, &s, &more), 0);
	T_EQ_INT(s.n, 0);
	T_ASSERT(!more);
	T_EQ_INT(ui_reg_event_page(reg, 0, NULL, 0, seq_cb, &s, &more), -EINVAL);
	ui_registry_close(reg);
}

/* Deleting the newest events must not hand their seqs out again: a
 * `deleted` event (no VM) takes the top; only the newest one is kept. */
static void t_event_seq_not_reused(void)
{
	const char *path = db_path();
	struct ui_registry *reg = open_ok(path, UI_REG_CREATE);
	struct ui_vm vm;

	make_vm(&vm, "vm-1", UI_VM_STOPPED, "2026-01-01T00:00:00.000Z");
	T_EQ_INT(ui_reg_vm_insert(reg, &vm), 0);
	make_vm(&vm, "vm-2", UI_VM_STOPPED, "2026-01-01T00:00:01.000Z");
	T_EQ_INT(ui_reg_vm_insert(reg, &vm), 0);
	T_EQ_INT(ui_reg_event(reg, "vm-2", "create", NULL), 0); /* 1 */
	T_EQ_INT(ui_reg_event(reg, "vm-1", "create", NULL), 0); /* 2 */
	T_EQ_INT(ui_reg_event(reg, "vm-1", "stopped", NULL), 0); /* 3 */
	T_EQ_INT(ui_reg_vm_remove(reg, "vm-1"), 0);
	T_EQ_INT(raw(path, "SELECT seq FROM events WHERE kind = 'deleted' AND vm_id IS NULL "
			   "AND detail = 'vm-1'"), 4);
	T_EQ_INT(ui_reg_event(reg, "vm-2", "stopped", NULL), 0);
	T_EQ_INT(raw(path, "SELECT max(seq) FROM events"), 5);
	T_EQ_INT(ui_reg_vm_remove(reg, "vm-2"), 0);
	T_EQ_INT(raw(path, "SELECT count(*) FROM events"), 1);
	T_EQ_INT(raw(path, "SELECT seq FROM events WHERE detail = 'vm-2'"), 6);
	make_vm(&vm, "vm-3", UI_VM_STOPPED, "2026-01-01T00:00:02.000Z");
	T_EQ_INT(ui_reg_vm_insert(reg, &vm), 0);
	T_EQ_INT(ui_reg_event(reg, "vm-3", "create", NULL), 0);
	T_EQ_INT(raw(path, "SELECT max(seq) FROM events"), 7);
	make_vm(&vm, "vm-4", UI_VM_STOPPED, "2026-01-01T00:00:03.000Z");
	T_EQ_INT(ui_reg_vm_insert(reg, &vm), 0);
	T_EQ_INT(ui_reg_event(reg, "vm-4", "create", NULL), 0); /* 8 */
	T_EQ_INT(ui_reg_vm_remove(reg, "vm-3"), 0); /* not the newest: no mark */
	T_EQ_INT(raw(path, "SELECT count(*) FROM events WHERE kind = 'deleted'"), 1);
	ui_registry_close(reg);
}

static int state_cb(const char *state, uint64_t n, void *arg)
{
	char *out = arg;
	size_t len = strlen(out);

	snprintf(out + len, 128 - len, "%s=%llu ", state, (unsigned long long)n);
	return 0;
}

static void t_count_by_state(void)
{
	struct ui_registry *reg = open_ok(db_path(), UI_REG_CREATE);
	char out[128] = "";
	struct ui_vm vm;

	make_vm(&vm, "vm-1", UI_VM_RUNNING, "2026-01-01T00:00:00.000Z");
	T_EQ_INT(ui_reg_vm_insert(reg, &vm), 0);
	make_vm(&vm, "vm-2", UI_VM_STOPPED, "2026-01-01T00:00:01.000Z");
	T_EQ_INT(ui_reg_vm_insert(reg, &vm), 0);
	make_vm(&vm, "vm-3", UI_VM_RUNNING, "2026-01-01T00:00:02.000Z");
	T_EQ_INT(ui_reg_vm_insert(reg, &vm), 0);
	T_EQ_INT(ui_reg_vm_count_by_state(reg, state_cb, out), 0);
	T_EQ_STR(out, "running=2 stopped=1 ");
	ui_registry_close(reg);
}

/* Every committed write is timed; only commits that added events bump the
 * event counter (once per commit, a batch included); a failed one counts
 * as a failure. */
static void t_write_metrics(void)
{
	struct ui_registry *reg = open_ok(db_path(), UI_REG_CREATE);
	struct ui_reg_metrics m = { 0 };
	struct ui_vm vm;

	ui_registry_set_metrics(reg, &m);
	make_vm(&vm, "vm-1", UI_VM_RUNNING, "2026-01-01T00:00:00.000Z");
	T_EQ_INT(ui_reg_vm_insert(reg, &vm), 0);
	T_EQ_INT(atomic_load(&m.write.count), 1);
	T_EQ_INT(atomic_load(&m.event_commits), 0);
	T_EQ_INT(ui_reg_event(reg, "vm-1", "create", NULL), 0);
	T_EQ_INT(atomic_load(&m.write.count), 2);
	T_EQ_INT(atomic_load(&m.event_commits), 1);
	T_EQ_INT(ui_reg_batch_begin(reg), 0);
	T_EQ_INT(ui_reg_event(reg, "vm-1", "spawn", NULL), 0);
	T_EQ_INT(ui_reg_event(reg, "vm-1", "running", NULL), 0);
	T_EQ_INT(atomic_load(&m.event_commits), 1); /* not before the commit */
	T_EQ_INT(ui_reg_batch_end(reg), 0);
	T_EQ_INT(atomic_load(&m.event_commits), 2);
	T_EQ_INT(atomic_load(&m.write.count), 3);
	T_EQ_INT(ui_reg_vm_insert(reg, &vm), -EEXIST);
	T_EQ_INT(atomic_load(&m.write_failures), 1);
	T_EQ_INT(atomic_load(&m.write.count), 3);
	T_EQ_INT(atomic_load(&m.event_commits), 2);
	ui_registry_close(reg);
}

int main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		T_CASE(t_create_fresh),
		T_CASE(t_reopen_keeps_data),
		T_CASE(t_too_new),
		T_CASE(t_half_made),
		T_CASE(t_verify_after_open),
		T_CASE(t_migrate_version0_with_foreign_table),
		T_CASE(t_readonly),
		T_CASE(t_vm_roundtrip),
		T_CASE(t_vm_list_count),
		T_CASE(t_idempotency_key),
		T_CASE(t_leases),
		T_CASE(t_events),
		T_CASE(t_event_list),
		T_CASE(t_event_page),
		T_CASE(t_count_by_state),
		T_CASE(t_event_seq_not_reused),
		T_CASE(t_write_metrics),
		T_CASE(t_now),
		T_CASE_TIMEOUT(t_two_writers, 120),
		{ 0 },
	};

	return t_run(argc, argv, cases);
}
