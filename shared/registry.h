/*
 * registry.h — the sqlite3 registry of VMs, leases, taps and events.
 *
 * <state_dir>/registry.db, WAL, synchronous=NORMAL, busy_timeout 5 s (20 ms
 * in the daemons: ui_registry_set_busy_timeout), every
 * write one BEGIN IMMEDIATE transaction. One connection per process, opened
 * after exec. The schema is versioned with PRAGMA user_version and migrated
 * forward by ui_registry_open(UI_REG_CREATE); it is a documented interface
 * (admin tools and `sqlite3 registry.db 'select id,state,ip from vms'` read
 * it directly):
 *
 *   vms(id TEXT PK, name, state, image, kernel, initrd, rootfs, boot_args,
 *       vcpus INT, mem_mib INT, driver, vmm_pid INT, vmm_start_time INT,
 *       api_socket, console_log, tap, ip, mac, idempotency_key UNIQUE,
 *       created_at, started_at, stopped_at, exit_status INT, error)
 *   leases(ip TEXT PK, mac UNIQUE, tap UNIQUE, vm_id, state, updated_at)
 *       a row exists exactly while a VM holds the address (state 'bound'):
 *       inserted in the VM's creating transaction, deleted in its final one.
 *   taps(name TEXT PK, ip UNIQUE, state, updated_at)       (schema 2)
 *       every tap device netd has made: 'creating' (row written, device
 *       being made), 'ready' (exists, enslaved, up: usable by the lease of
 *       its ip, or spare), 'deleting' (being removed; its ip is not leased).
 *   events(seq INTEGER PK, time, vm_id, kind, detail)   append-only: seq
 *       increases (schema 1 had AUTOINCREMENT; 2 drops it: it spared a
 *       page write per event); deleted only with their VM, when
 *       limits.keep_stopped prunes old stopped/failed rows (pool-worker)
 *       or DELETE /vm removes one — a `deleted` mark (no VM) then keeps
 *       the newest seq from being given again (registry_events.c)
 *   index vms(state, id)                                   (schema 3)
 *   vms.ready_at: when the guest's app answered            (schema 4)
 *       the list's pages by id, per state too
 *
 * Who writes what — one owner per fact:
 *   pool-worker  vms (every state change, ui_reg_vm_change) and leases (bound
 *                in the same transaction as the VM row, released in the
 *                transaction of its final state), their events;
 *   netd         taps (the kernel's devices, as netd makes and removes them);
 *   uigniterd    creates and migrates; apid and tools only read.
 * The one place the two meet is guarded: netd may move a tap to 'deleting'
 * only while no lease names its ip (ui_reg_tap_retire), and an allocation
 * never picks the ip of a 'deleting' tap — both checks run inside write
 * transactions, so they serialise.
 *
 * Durability (synchronous=NORMAL in WAL mode): a committed transaction
 * survives any crash of a process (it is in the WAL, in the OS page cache);
 * a power loss or kernel crash can roll back the last transactions before a
 * WAL checkpoint — never corrupt the file. That is safe for VMs: such a crash
 * also kills every VMM, and recovery only has to find rows that say a VM is
 * alive when it is not (a lost row was for a VM that is gone anyway).
 *
 * Times are TEXT, ISO-8601 UTC with milliseconds ("2026-11-29T14:50:49.123Z").
 *
 * Errors: sqlite codes are translated here; callers see negative errno
 * (-ENOENT no such row, -EEXIST constraint violation, -ESTALE a guarded
 * change found another state, -EBUSY locked, -ENOSPC disk or database full,
 * -EADDRNOTAVAIL no free address, -EROFS write on a read-only connection,
 * -EIO anything else).
 */
#ifndef UI_REGISTRY_H
#define UI_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ipam.h"

#define UI_REGISTRY_VERSION 4

enum ui_reg_flags {
	UI_REG_RDONLY = 1, /* read-only connection (apid, tools) */
	UI_REG_CREATE = 2, /* create the file and migrate to UI_REGISTRY_VERSION */
};

struct ui_registry; /* opaque: one sqlite3 connection + prepared statements */

/* VM states as stored (pool-worker/fsm.h is the state machine over them). */
#define UI_VM_CREATING "creating"   /* row + lease; its tap is being made */
#define UI_VM_STARTING "starting"   /* VMM spawned, guest being started */
#define UI_VM_RUNNING "running"
#define UI_VM_PAUSING "pausing"
#define UI_VM_PAUSED "paused"
#define UI_VM_RESUMING "resuming"
#define UI_VM_STOPPING "stopping"   /* powering off; SIGKILL at the deadline */
#define UI_VM_FAILING "failing"     /* failed; its VMM is being killed */
#define UI_VM_STOPPED "stopped"     /* final */
#define UI_VM_FAILED "failed"       /* final */
/* Warm-pool slots (pool-worker/pool.h): VMMs prepared ahead of any run,
 * nobody's VM; hidden by apid; the row is deleted when the slot goes. A
 * run that takes a `warm` slot moves it to `starting` and keeps its id. */
#define UI_VM_WARMING "warming"     /* lease; tap, then VMM being prepared */
#define UI_VM_WARM "warm"           /* prepared, idle, ready to be taken */
#define UI_VM_RETIRING "retiring"   /* being discarded; VMM being killed */

/* A slot state (hidden from users). */
bool ui_vm_state_is_slot(const char *state);
/* stopped or failed. */
bool ui_vm_state_is_final(const char *state);

/* One row of vms. Caller-embedded; strings are "" when NULL in the db. */
struct ui_vm {
	char id[48];
	char name[64];
	char state[16];
	char image[64];
	char kernel[4096];
	char initrd[4096];
	char rootfs[4096];
	char boot_args[2048];     /* x86 Linux takes 2048 (COMMAND_LINE_SIZE) */
	unsigned vcpus;
	unsigned mem_mib;
	char driver[16];
	int64_t vmm_pid;         /* 0 when none */
	int64_t vmm_start_time;  /* field 22 of /proc/PID/stat; 0 when none */
	char api_socket[256];    /* QMP or Firecracker API socket path */
	char console_log[4096];
	char tap[16];
	char ip[16];
	char mac[18];
	char idempotency_key[128];
	char created_at[32];
	char started_at[32];
	char stopped_at[32];
	int64_t exit_status;     /* -1 when unknown / not exited */
	char error[512];
	char ready_at[32];       /* the image's ready rule held ("" not yet) */
};

struct ui_lease {
	char ip[16];
	char mac[18];
	char tap[16];
	char vm_id[48];
	char state[16];
	char updated_at[32];
};

#define UI_TAP_CREATING "creating"
#define UI_TAP_READY "ready"
#define UI_TAP_DELETING "deleting"

struct ui_tap {
	char name[16];
	char ip[16];
	char state[16];
	char updated_at[32];
};

/* Opens (and with UI_REG_CREATE creates + migrates) path. */
int ui_registry_open(const char *path, int flags, struct ui_registry **out);

/* How long a write waits for another process's lock before -EBUSY: 5 s as
 * opened (tools, the supervisor's migration), UI_REG_LOOP_BUSY_MS for the
 * daemons, whose loops must not stop on a lock another process holds (the
 * watchdog would kill them): they retry from the loop instead. */
#define UI_REG_BUSY_MS 5000
#define UI_REG_LOOP_BUSY_MS 20
void ui_registry_set_busy_timeout(struct ui_registry *reg, int ms);
void ui_registry_close(struct ui_registry *reg); /* NULL-safe */

/* The file's PRAGMA user_version. */
int ui_registry_version(struct ui_registry *reg);
/* Write transactions this connection has committed (for /healthz, bench). */
uint64_t ui_registry_commits(const struct ui_registry *reg);
/* 0, or -errno of the connection's last write that failed for the
 * registry's sake (-EIO, -ENOSPC, -EBUSY, -EROFS, -ENOMEM) while no write
 * has succeeded since; refusals by the data (-EEXIST, -ESTALE…) do not
 * count. The daemons publish it in shm (reg_error) each heartbeat. */
int ui_registry_write_error(const struct ui_registry *reg);
/* The file still holds every table and column of our schema version: 0,
 * or -EPROTO with what is missing in why ("table taps is missing; …"), or
 * another -errno (why says it). ui_registry_open does this check too, and
 * refuses a file that fails it — whatever version it claims — -EPROTO. */
int ui_registry_verify(struct ui_registry *reg, char *why, size_t len);

/* Counts this connection's write transactions in m (shm: metrics.reg[d]):
 * the latency of each commit, the failed ones, and — bumped after the
 * commit — those that added events. NULL stops counting. */
struct ui_reg_metrics;
void ui_registry_set_metrics(struct ui_registry *reg, struct ui_reg_metrics *m);

/* Fills buf with the current time in the registry's format. */
void ui_registry_now(char *buf, size_t len);

/* ---- vms ---------------------------------------------------------------- */

#define UI_REG_MAX_EVENTS 4

struct ui_reg_event {
	const char *kind;
	const char *detail; /* NULL or "" = none */
};

enum ui_lease_op {
	UI_LEASE_KEEP,    /* leases untouched */
	UI_LEASE_BIND,    /* allocate an address for the VM (see below) */
	UI_LEASE_RELEASE, /* delete the VM's lease (no lease is fine) */
};

/*
 * One state change of a VM, as one transaction: the row is written (every
 * column) only if the stored state is still `expect`, its events are
 * appended, and its lease bound or released; on any failure nothing is.
 *   expect NULL        the row is new: INSERT (-EEXIST if id or key exists)
 *   delete_row         DELETE the row instead of writing it (a slot gone)
 *   lease BIND         picks the address: the lowest one whose tap is ready
 *                      and unleased, else the lowest free one (never one
 *                      whose tap is being deleted); writes the lease and
 *                      sets row->ip/mac/tap; *tap_ready says whether its tap
 *                      was ready (else netd has to make it); a `lease`
 *                      event (ip, mac, tap) follows the caller's events.
 *                      -EADDRNOTAVAIL when the subnet is full.
 * -ESTALE: the row is not in state expect (or gone). An empty created_at of
 * a new row is filled with the current time.
 */
struct ui_vm_change {
	const char *expect;
	bool delete_row;
	enum ui_lease_op lease;
	const struct ui_ipam *net;     /* BIND: the subnet */
	const char *tap_prefix;        /* BIND */
	struct ui_reg_event ev[UI_REG_MAX_EVENTS];
	unsigned n_ev;
	bool tap_ready;                /* out, BIND */
};
int ui_reg_vm_change(struct ui_registry *reg, struct ui_vm *row,
		     struct ui_vm_change *c);

/*
 * A batch (group commit): the writes made until ui_reg_batch_end are one
 * transaction — each still all-or-nothing on its own (a savepoint), and
 * none of them durable, nor to be acted upon, before ui_reg_batch_end has
 * returned 0. A failed batch end leaves none of them. pool-worker writes
 * everything a loop turn records as one batch (engine.c).
 */
int ui_reg_batch_begin(struct ui_registry *reg);   /* -EALREADY if open */
int ui_reg_batch_end(struct ui_registry *reg);     /* commit; 0 if none open */
bool ui_reg_in_batch(const struct ui_registry *reg);

/* Unguarded single writes (tools, tests): each its own transaction. */
int ui_reg_vm_insert(struct ui_registry *reg, const struct ui_vm *vm); /* -EEXIST */
int ui_reg_vm_update(struct ui_registry *reg, const struct ui_vm *vm); /* -ENOENT */
int ui_reg_vm_delete(struct ui_registry *reg, const char *id);        /* -ENOENT */

int ui_reg_vm_get(struct ui_registry *reg, const char *id, struct ui_vm *out); /* -ENOENT */
/* A failed VM gives its Idempotency-Key up (a retry with the key runs
 * anew), with a `retried` event saying detail; -ESTALE if id is not a
 * failed VM holding a key. One transaction (a savepoint in a batch). */
int ui_reg_vm_release_key(struct ui_registry *reg, const char *id, const char *detail);
/* DELETE /vm/{id}: a stopped or failed row and its events go; -ESTALE when
 * the row is not final (or gone). One transaction (a savepoint in a batch). */
int ui_reg_vm_remove(struct ui_registry *reg, const char *id);
/* GET /vm/{name}: the live VM of that name, else the newest that had it
 * (slots have no name); -ENOENT. */
int ui_reg_vm_get_by_name(struct ui_registry *reg, const char *name, struct ui_vm *out);
int ui_reg_vm_get_by_key(struct ui_registry *reg, const char *idempotency_key,
			 struct ui_vm *out);
/* Calls cb for each row (state_filter NULL = all), ordered by created_at.
 * A non-zero return from cb stops the walk and is returned. */
int ui_reg_vm_list(struct ui_registry *reg, const char *state_filter,
		   int (*cb)(const struct ui_vm *vm, void *arg), void *arg);
/*
 * One page of the list, ordered by id (ids sort by creation time): the
 * rows with id > after ("" or NULL: from the first), in state state_filter
 * (NULL: every state but the slot states), at most limit of them, to cb.
 * *more says whether a row follows the last one given (the next page
 * starts after it). Same rules for cb as ui_reg_vm_list.
 */
int ui_reg_vm_page(struct ui_registry *reg, const char *state_filter, const char *after,
		   unsigned limit, int (*cb)(const struct ui_vm *vm, void *arg), void *arg,
		   bool *more);
/*
 * limits.keep_stopped: deletes the oldest (by id) stopped/failed rows
 * beyond the newest keep, with their events, at most max_rows of them, in
 * one transaction (call again while *pruned == max_rows). A row that
 * changed state meanwhile is not deleted.
 */
int ui_reg_vm_prune(struct ui_registry *reg, unsigned keep, unsigned max_rows,
		    unsigned *pruned);
/* Number of rows in state (NULL = all). */
int ui_reg_vm_count(struct ui_registry *reg, const char *state, unsigned *out);
/* Number of stopped and failed rows. */
int ui_reg_vm_count_final(struct ui_registry *reg, unsigned *out);

/* ---- leases --------------------------------------------------------------- */

int ui_reg_lease_insert(struct ui_registry *reg, const struct ui_lease *l); /* -EEXIST */
int ui_reg_lease_delete(struct ui_registry *reg, const char *ip);          /* -ENOENT */
int ui_reg_lease_get_by_vm(struct ui_registry *reg, const char *vm_id, struct ui_lease *out);
int ui_reg_lease_list(struct ui_registry *reg,
		      int (*cb)(const struct ui_lease *l, void *arg), void *arg);

/* ---- taps (netd) ---------------------------------------------------------- */

/* A new row (-EEXIST if the name or ip has one). A row inserted as
 * 'deleting' (a device found without a row) is guarded like retire: only
 * while no lease names its ip, else -ESTALE. */
int ui_reg_tap_insert(struct ui_registry *reg, const struct ui_tap *t);
/* state from → to, guarded; -ESTALE if the row is not in `from`. */
int ui_reg_tap_set_state(struct ui_registry *reg, const char *name,
			 const char *from, const char *to);
/* ready → deleting, only while no lease names its ip; -ESTALE otherwise. */
int ui_reg_tap_retire(struct ui_registry *reg, const char *name);
int ui_reg_tap_delete(struct ui_registry *reg, const char *name); /* -ENOENT */
int ui_reg_tap_list(struct ui_registry *reg,
		    int (*cb)(const struct ui_tap *t, void *arg), void *arg);

/* ---- events (append-only; deleted only with their VM, ui_reg_vm_prune) -- */

int ui_reg_event(struct ui_registry *reg, const char *vm_id, const char *kind,
		 const char *detail);
/* Calls cb for each event of vm_id, oldest first (by seq). The strings are
 * valid only during the call; detail is "" when NULL. Same rules for cb as
 * ui_reg_vm_list: a non-zero return stops the walk and is returned. */
int ui_reg_event_list(struct ui_registry *reg, const char *vm_id,
		      int (*cb)(const char *time, const char *kind, const char *detail,
				void *arg),
		      void *arg);

/* An event as GET /events shows it; the strings are valid during the
 * callback only ("" for NULL). */
struct ui_reg_event_row {
	uint64_t seq;
	const char *time, *vm_id, *kind, *detail;
};
/* The events with seq > since (of vm_id only, unless NULL or ""), oldest
 * first, at most limit of them, to cb; *more: another follows the last one
 * given. A non-zero return from cb stops the walk and is returned.
 * registry_events.c. */
int ui_reg_event_page(struct ui_registry *reg, uint64_t since, const char *vm_id,
		      unsigned limit, int (*cb)(const struct ui_reg_event_row *ev, void *arg),
		      void *arg, bool *more);
/* The newest event's seq (0: none). */
int ui_reg_event_last_seq(struct ui_registry *reg, uint64_t *seq);
/* Calls cb once per state that has rows, with their number (one query). */
int ui_reg_vm_count_by_state(struct ui_registry *reg,
			     int (*cb)(const char *state, uint64_t n, void *arg), void *arg);

#endif
