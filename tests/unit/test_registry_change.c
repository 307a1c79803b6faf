/*
 * test_registry_change.c — the registry as the engine uses it: a VM's
 * state change as one guarded transaction (row + events + lease), address
 * allocation inside it (reuse of ready taps, lowest free address, never an
 * address whose tap is being deleted, a full subnet), netd's guarded tap
 * rows, schema 1 → 2, and writes that must fail whole: a disk that is
 * full (a real tmpfs) and a write lock another connection holds.
 */
#include <errno.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "reg_helpers.h"

static struct ui_ipam net;

static void net_init(unsigned prefix)
{
	T_EQ_INT(ui_ipam_init(&net, 0xac1f0000u, prefix, 0xac1f0001u), 0);
}

/* A change creating vm id in `creating` with a lease. */
static int create(struct ui_registry *reg, struct ui_vm *vm, const char *id,
		  bool *tap_ready)
{
	struct ui_vm_change c = { .lease = UI_LEASE_BIND, .net = &net, .tap_prefix = "uit-",
				  .ev = { { "create", "hello" } }, .n_ev = 1 };
	int rc;

	make_vm(vm, id, UI_VM_CREATING, "");
	rc = ui_reg_vm_change(reg, vm, &c);
	if (tap_ready)
		*tap_ready = c.tap_ready;
	return rc;
}

static int move(struct ui_registry *reg, struct ui_vm *vm, const char *from,
		const char *to, enum ui_lease_op lease)
{
	struct ui_vm_change c = { .expect = from, .lease = lease,
				  .ev = { { to, NULL } }, .n_ev = 1 };

	snprintf(vm->state, sizeof(vm->state), "%s", to);
	return ui_reg_vm_change(reg, vm, &c);
}

static void add_tap(struct ui_registry *reg, const char *name, const char *ip,
		    const char *state)
{
	struct ui_tap t = { 0 };

	snprintf(t.name, sizeof(t.name), "%s", name);
	snprintf(t.ip, sizeof(t.ip), "%s", ip);
	snprintf(t.state, sizeof(t.state), "%s", state);
	T_EQ_INT(ui_reg_tap_insert(reg, &t), 0);
}

/* ---- the guarded change ------------------------------------------------ */

static void t_change_is_one_transaction(void)
{
	const char *path = db_path();
	struct ui_registry *reg = open_ok(path, UI_REG_CREATE);
	struct ui_vm vm;
	uint64_t before;

	net_init(24);
	before = ui_registry_commits(reg);
	T_EQ_INT(create(reg, &vm, "vm-a", NULL), 0);
	T_EQ_INT(ui_registry_commits(reg), before + 1);
	T_EQ_STR(vm.ip, "172.31.0.2");
	T_EQ_STR(vm.mac, "06:00:ac:1f:00:02");
	T_EQ_STR(vm.tap, "uit-2");
	T_EQ_INT(raw(path, "SELECT count(*) FROM vms WHERE id = 'vm-a' AND state = 'creating' "
			   "AND ip = '172.31.0.2' AND tap = 'uit-2'"), 1);
	T_EQ_INT(raw(path, "SELECT count(*) FROM leases WHERE vm_id = 'vm-a' AND "
			   "ip = '172.31.0.2' AND mac = '06:00:ac:1f:00:02'"), 1);
	T_EQ_INT(raw(path, "SELECT count(*) FROM events WHERE vm_id = 'vm-a' AND kind = 'create'"), 1);
	T_EQ_INT(raw(path, "SELECT count(*) FROM events WHERE vm_id = 'vm-a' AND kind = 'lease' AND "
			   "detail = 'ip=172.31.0.2 mac=06:00:ac:1f:00:02 tap=uit-2' AND "
			   "seq > (SELECT seq FROM events WHERE kind = 'create')"), 1);
	/* The guard: only from the state the registry holds. */
	T_EQ_INT(move(reg, &vm, UI_VM_RUNNING, UI_VM_STOPPING, UI_LEASE_KEEP), -ESTALE);
	T_EQ_INT(raw(path, "SELECT count(*) FROM vms WHERE state = 'creating'"), 1);
	T_EQ_INT(raw(path, "SELECT count(*) FROM events WHERE kind = 'stopping'"), 0);
	T_EQ_INT(move(reg, &vm, UI_VM_CREATING, UI_VM_RUNNING, UI_LEASE_KEEP), 0);
	/* Final: the lease goes in the same transaction. */
	T_EQ_INT(move(reg, &vm, UI_VM_RUNNING, UI_VM_STOPPED, UI_LEASE_RELEASE), 0);
	T_EQ_INT(raw(path, "SELECT count(*) FROM leases"), 0);
	T_EQ_INT(raw(path, "SELECT count(*) FROM vms WHERE state = 'stopped'"), 1);
	T_EQ_INT(ui_registry_commits(reg), before + 3);
	ui_registry_close(reg);
}

/* Frames in the WAL now (a passive checkpoint on a raw connection). */
static int wal_frames(const char *path)
{
	sqlite3 *db = raw_open(path);
	sqlite3_stmt *st;
	int n;

	T_ASSERT(sqlite3_prepare_v2(db, "PRAGMA wal_checkpoint", -1, &st, NULL) == SQLITE_OK);
	T_ASSERT(sqlite3_step(st) == SQLITE_ROW);
	n = sqlite3_column_int(st, 1);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

/* A state change (its row and event) writes the pages of what it changes:
 * the row, the state index, the key index (set, as the engine writes the
 * whole row), the event and its index — not the primary key's index,
 * which setting id too rewrote every time (docs/BENCHMARKS.md part 6). */
static void t_change_writes_few_pages(void)
{
	const char *path = db_path();
	struct ui_registry *reg = open_ok(path, UI_REG_CREATE);
	struct ui_vm vm;

	net_init(24);
	T_EQ_INT(create(reg, &vm, "vm-a", NULL), 0);
	snprintf(vm.idempotency_key, sizeof(vm.idempotency_key), "k-1");
	T_EQ_INT(move(reg, &vm, UI_VM_CREATING, UI_VM_STARTING, UI_LEASE_KEEP), 0);
	raw_exec(path, "PRAGMA wal_checkpoint(TRUNCATE)");
	T_EQ_INT(wal_frames(path), 0);
	T_EQ_INT(move(reg, &vm, UI_VM_STARTING, UI_VM_RUNNING, UI_LEASE_KEEP), 0);
	T_EQ_INT(wal_frames(path), 5);
	T_EQ_INT(raw(path, "SELECT count(*) FROM vms WHERE id = 'vm-a' AND state = 'running' "
			   "AND idempotency_key = 'k-1'"), 1);
	ui_registry_close(reg);
}

static void t_change_refuses_duplicates_whole(void)
{
	const char *path = db_path();
	struct ui_registry *reg = open_ok(path, UI_REG_CREATE);
	struct ui_vm vm;

	net_init(24);
	T_EQ_INT(create(reg, &vm, "vm-a", NULL), 0);
	T_EQ_INT(create(reg, &vm, "vm-a", NULL), -EEXIST);
	/* Nothing of the refused change stays: no second lease, no event. */
	T_EQ_INT(raw(path, "SELECT count(*) FROM leases"), 1);
	T_EQ_INT(raw(path, "SELECT count(*) FROM events"), 2); /* create, lease */
	ui_registry_close(reg);
}

static void t_delete_row_with_lease(void)
{
	const char *path = db_path();
	struct ui_registry *reg = open_ok(path, UI_REG_CREATE);
	struct ui_vm_change c = { .expect = UI_VM_WARMING, .delete_row = true,
				  .lease = UI_LEASE_RELEASE, .ev = { { "delete", "retired" } },
				  .n_ev = 1 };
	struct ui_vm vm;

	net_init(24);
	T_EQ_INT(create(reg, &vm, "vm-s", NULL), 0);
	T_EQ_INT(move(reg, &vm, UI_VM_CREATING, UI_VM_WARMING, UI_LEASE_KEEP), 0);
	T_EQ_INT(ui_reg_vm_change(reg, &vm, &c), 0);
	T_EQ_INT(raw(path, "SELECT count(*) FROM vms"), 0);
	T_EQ_INT(raw(path, "SELECT count(*) FROM leases"), 0);
	T_EQ_INT(raw(path, "SELECT count(*) FROM events WHERE kind = 'delete'"), 1);
	T_EQ_INT(ui_reg_vm_change(reg, &vm, &c), -ESTALE); /* gone already */
	ui_registry_close(reg);
}

/* A failed VM gives its key up once, with a `retried` event; no other. */
static void t_release_key(void)
{
	const char *path = db_path();
	struct ui_registry *reg = open_ok(path, UI_REG_CREATE);
	struct ui_vm vm, run;

	make_vm(&vm, "vm-f", UI_VM_FAILED, "2026-01-01T00:00:00.000Z");
	snprintf(vm.idempotency_key, sizeof(vm.idempotency_key), "k1");
	T_EQ_INT(ui_reg_vm_insert(reg, &vm), 0);
	make_vm(&run, "vm-r", UI_VM_RUNNING, "2026-01-01T00:00:01.000Z");
	snprintf(run.idempotency_key, sizeof(run.idempotency_key), "k2");
	T_EQ_INT(ui_reg_vm_insert(reg, &run), 0);
	T_EQ_INT(ui_reg_vm_release_key(reg, "vm-r", "as vm-x"), -ESTALE); /* not failed */
	T_EQ_INT(ui_reg_vm_release_key(reg, "vm-f", "as vm-n"), 0);
	T_EQ_INT(raw(path, "SELECT count(*) FROM vms WHERE idempotency_key IS NULL"), 1);
	T_EQ_INT(raw(path, "SELECT count(*) FROM events WHERE vm_id = 'vm-f' AND kind = 'retried'"
		      " AND detail = 'as vm-n'"), 1);
	T_EQ_INT(ui_reg_vm_release_key(reg, "vm-f", "again"), -ESTALE); /* no key left */
	T_EQ_INT(raw(path, "SELECT count(*) FROM events WHERE kind = 'retried'"), 1);
	T_EQ_INT(ui_reg_vm_get_by_key(reg, "k1", &vm), -ENOENT);
	ui_registry_close(reg);
}

/* ---- allocation ----------------------------------------------------------- */

static void t_bind_prefers_ready_taps(void)
{
	const char *path = db_path();
	struct ui_registry *reg = open_ok(path, UI_REG_CREATE);
	struct ui_vm a, b, c, d;
	bool ready;

	net_init(24);
	add_tap(reg, "uit-7", "172.31.0.7", UI_TAP_READY);
	add_tap(reg, "uit-5", "172.31.0.5", UI_TAP_READY);
	add_tap(reg, "uit-2", "172.31.0.2", UI_TAP_DELETING);
	add_tap(reg, "uit-3", "172.31.0.3", UI_TAP_CREATING);
	T_EQ_INT(create(reg, &a, "vm-a", &ready), 0);
	T_EQ_STR(a.ip, "172.31.0.5"); /* the lowest ready one */
	T_ASSERT(ready);
	T_EQ_INT(create(reg, &b, "vm-b", &ready), 0);
	T_EQ_STR(b.ip, "172.31.0.7");
	T_ASSERT(ready);
	/* No ready tap left: the lowest address neither leased nor being
	 * deleted (.2 is being deleted; .3's tap is still being made). */
	T_EQ_INT(create(reg, &c, "vm-c", &ready), 0);
	T_EQ_STR(c.ip, "172.31.0.3");
	T_ASSERT(!ready);
	T_EQ_INT(create(reg, &d, "vm-d", &ready), 0);
	T_EQ_STR(d.ip, "172.31.0.4");
	T_EQ_STR(d.tap, "uit-4");
	T_ASSERT(!ready);
	/* Released, its ready tap is the first one handed out again. */
	T_EQ_INT(move(reg, &a, UI_VM_CREATING, UI_VM_FAILED, UI_LEASE_RELEASE), 0);
	T_EQ_INT(create(reg, &a, "vm-e", &ready), 0);
	T_EQ_STR(a.ip, "172.31.0.5");
	T_ASSERT(ready);
	ui_registry_close(reg);
}

static void t_bind_full_subnet(void)
{
	const char *path = db_path();
	struct ui_registry *reg = open_ok(path, UI_REG_CREATE);
	struct ui_vm vm;
	char id[16];

	net_init(29); /* hosts .1-.6, .1 the gateway: five addresses */
	for (int i = 0; i < 5; i++) {
		snprintf(id, sizeof(id), "vm-%d", i);
		T_EQ_INT(create(reg, &vm, id, NULL), 0);
	}
	T_EQ_INT(create(reg, &vm, "vm-x", NULL), -EADDRNOTAVAIL);
	T_EQ_INT(raw(path, "SELECT count(*) FROM vms"), 5);
	T_EQ_INT(raw(path, "SELECT count(*) FROM leases"), 5);
	ui_registry_close(reg);
}

/* ---- taps ------------------------------------------------------------------ */

static void t_tap_retire_is_guarded(void)
{
	const char *path = db_path();
	struct ui_registry *reg = open_ok(path, UI_REG_CREATE);
	struct ui_tap t = { "uit-9", "172.31.0.9", UI_TAP_DELETING, "" };
	struct ui_vm vm;

	net_init(24);
	add_tap(reg, "uit-2", "172.31.0.2", UI_TAP_READY);
	add_tap(reg, "uit-3", "172.31.0.3", UI_TAP_READY);
	T_EQ_INT(create(reg, &vm, "vm-a", NULL), 0); /* takes uit-2 */
	T_EQ_INT(ui_reg_tap_retire(reg, "uit-2"), -ESTALE);
	T_EQ_INT(ui_reg_tap_retire(reg, "uit-3"), 0);
	T_EQ_INT(ui_reg_tap_retire(reg, "uit-3"), -ESTALE);
	T_EQ_INT(raw(path, "SELECT count(*) FROM taps WHERE state = 'deleting'"), 1);
	/* A device found without a row, recorded as being deleted: only while
	 * no lease names its address. */
	T_EQ_INT(ui_reg_tap_insert(reg, &t), 0);
	snprintf(t.name, sizeof(t.name), "uit-x");
	snprintf(t.ip, sizeof(t.ip), "172.31.0.2");
	T_EQ_INT(ui_reg_tap_insert(reg, &t), -ESTALE);
	T_EQ_INT(ui_reg_tap_set_state(reg, "uit-9", UI_TAP_READY, UI_TAP_DELETING), -ESTALE);
	T_EQ_INT(ui_reg_tap_set_state(reg, "uit-9", UI_TAP_DELETING, UI_TAP_READY), 0);
	T_EQ_INT(ui_reg_tap_delete(reg, "uit-9"), 0);
	T_EQ_INT(ui_reg_tap_delete(reg, "uit-9"), -ENOENT);
	ui_registry_close(reg);
}

/* ---- schema 1 → 2 -------------------------------------------------------------- */

static void t_migrate_from_1(void)
{
	const char *path = db_path();
	struct ui_registry *reg;

	raw_exec(path, "CREATE TABLE vms (id TEXT PRIMARY KEY NOT NULL, name TEXT, "
		 "state TEXT NOT NULL, image TEXT, kernel TEXT, initrd TEXT, rootfs TEXT, "
		 "boot_args TEXT, vcpus INTEGER NOT NULL, mem_mib INTEGER NOT NULL, "
		 "driver TEXT, vmm_pid INTEGER, vmm_start_time INTEGER, api_socket TEXT, "
		 "console_log TEXT, tap TEXT, ip TEXT, mac TEXT, idempotency_key TEXT UNIQUE, "
		 "created_at TEXT NOT NULL, started_at TEXT, stopped_at TEXT, "
		 "exit_status INTEGER, error TEXT);"
		 "CREATE INDEX vms_state ON vms(state);"
		 "CREATE TABLE leases (ip TEXT PRIMARY KEY NOT NULL, mac TEXT NOT NULL UNIQUE, "
		 "tap TEXT NOT NULL UNIQUE, vm_id TEXT NOT NULL, state TEXT NOT NULL, "
		 "updated_at TEXT NOT NULL);"
		 "CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT, time TEXT NOT NULL, "
		 "vm_id TEXT, kind TEXT NOT NULL, detail TEXT);"
		 "INSERT INTO vms (id, state, vcpus, mem_mib, created_at, error) VALUES "
		 "('vm-f', 'stopping', 1, 128, 'x', 'boot failed'), "
		 "('vm-s', 'stopping', 1, 128, 'x', NULL);"
		 "INSERT INTO events (seq, time, vm_id, kind) VALUES (7, 't', 'vm-f', 'create');"
		 "PRAGMA user_version = 1;");
	reg = open_ok(path, UI_REG_CREATE);
	T_EQ_INT(ui_registry_version(reg), UI_REGISTRY_VERSION);
	T_EQ_INT(raw(path, "SELECT count(*) FROM sqlite_master WHERE name IN "
			   "('taps', 'events_vm_id', 'vms_state_id')"), 3);
	/* Schema 1 wrote a failing VM as stopping with its error. */
	T_EQ_INT(raw(path, "SELECT count(*) FROM vms WHERE id = 'vm-f' AND state = 'failing'"), 1);
	T_EQ_INT(raw(path, "SELECT count(*) FROM vms WHERE id = 'vm-s' AND state = 'stopping'"), 1);
	/* Events kept, with their seq; new ones follow them. */
	T_EQ_INT(raw(path, "SELECT seq FROM events WHERE kind = 'create'"), 7);
	T_EQ_INT(ui_reg_event(reg, "vm-f", "failed", NULL), 0);
	T_EQ_INT(raw(path, "SELECT seq FROM events WHERE kind = 'failed'"), 8);
	ui_registry_close(reg);
}

/* ---- writes that must fail whole ------------------------------------------------ */

/* Fills the file system of dir to the last byte. */
static void fill_disk(const char *dir)
{
	char path[PATH_MAX + 8], block[4096] = { 0 };
	FILE *f;

	snprintf(path, sizeof(path), "%s/filler", dir);
	T_ASSERT((f = fopen(path, "w")));
	setvbuf(f, NULL, _IONBF, 0);
	while (fwrite(block, 1, sizeof(block), f) == sizeof(block))
		;
	while (fwrite(block, 1, 1, f) == 1)
		;
	fclose(f);
}

static void t_full_disk(void)
{
	char dir[] = "/tmp/test_registry_full.XXXXXX", path[PATH_MAX + 16], id[32];
	struct ui_registry *reg;
	struct ui_vm *vm = malloc(sizeof(*vm));
	int rc = 0, made = 0;

	T_ASSERT(vm && mkdtemp(dir));
	if (mount("tmpfs", dir, "tmpfs", 0, "size=512k") < 0)
		T_SKIP("cannot mount a tmpfs (needs root)");
	snprintf(path, sizeof(path), "%s/registry.db", dir);
	net_init(16);
	reg = open_ok(path, UI_REG_CREATE);
	T_EQ_INT(create(reg, vm, "vm-first", NULL), 0);
	fill_disk(dir);
	for (int i = 0; i < 5000 && rc == 0; i++) {
		snprintf(id, sizeof(id), "vm-%05d", i);
		if ((rc = create(reg, vm, id, NULL)) == 0)
			made++;
	}
	T_EQ_INT(rc, -ENOSPC);
	/* A state change of an existing VM fails whole, too. */
	T_EQ_INT(ui_reg_vm_get(reg, "vm-first", vm), 0);
	snprintf(vm->error, sizeof(vm->error), "%0500d", 0);
	rc = move(reg, vm, UI_VM_CREATING, UI_VM_FAILED, UI_LEASE_RELEASE);
	T_ASSERT(rc == 0 || rc == -ENOSPC);
	ui_registry_close(reg);
	/* Whatever was refused left nothing behind: every VM has its lease and
	 * its event, and no more. */
	T_EQ_INT(raw(path, "SELECT count(*) FROM vms"), made + 1);
	T_EQ_INT(raw(path, "SELECT count(*) FROM leases"), made + (rc == 0 ? 0 : 1));
	T_EQ_INT(raw(path, "SELECT count(*) FROM events WHERE kind = 'create'"), made + 1);
	T_EQ_INT(raw(path, "SELECT count(*) FROM vms v LEFT JOIN leases l ON l.vm_id = v.id "
			   "WHERE l.ip IS NULL AND v.state != 'failed'"), 0);
	T_ASSERT(umount2(dir, MNT_DETACH) == 0);
	rmdir(dir);
	free(vm);
}

/* Another connection holds the write lock (an admin's BEGIN IMMEDIATE):
 * the change fails with -EBUSY after the busy timeout, whole, and goes
 * through once the lock is released. */
static void t_locked_by_another_writer(void)
{
	const char *path = db_path();
	struct ui_registry *reg = open_ok(path, UI_REG_CREATE);
	sqlite3 *other = raw_open(path);
	struct ui_vm vm;

	net_init(24);
	T_EQ_INT(create(reg, &vm, "vm-a", NULL), 0);
	T_ASSERT(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK);
	T_EQ_INT(move(reg, &vm, UI_VM_CREATING, UI_VM_STARTING, UI_LEASE_KEEP), -EBUSY);
	T_EQ_INT(create(reg, &vm, "vm-b", NULL), -EBUSY);
	T_ASSERT(sqlite3_exec(other, "COMMIT", NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(other);
	T_EQ_INT(raw(path, "SELECT count(*) FROM vms WHERE state = 'creating'"), 1);
	T_EQ_INT(raw(path, "SELECT count(*) FROM leases"), 1);
	T_EQ_INT(ui_reg_vm_get(reg, "vm-a", &vm), 0);
	T_EQ_INT(move(reg, &vm, UI_VM_CREATING, UI_VM_STARTING, UI_LEASE_KEEP), 0);
	ui_registry_close(reg);
}

int main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		T_CASE(t_change_is_one_transaction),
		T_CASE(t_change_writes_few_pages),
		T_CASE(t_change_refuses_duplicates_whole),
		T_CASE(t_delete_row_with_lease),
		T_CASE(t_release_key),
		T_CASE(t_bind_prefers_ready_taps),
		T_CASE(t_bind_full_subnet),
		T_CASE(t_tap_retire_is_guarded),
		T_CASE(t_migrate_from_1),
		T_CASE_TIMEOUT(t_full_disk, 120),
		T_CASE_TIMEOUT(t_locked_by_another_writer, 60),
		{ 0 },
	};

	return t_run(argc, argv, cases);
}
