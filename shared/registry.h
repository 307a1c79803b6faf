/*
 * registry.h — the sqlite3 registry of VMs, leases and events.
 *
 * <state_dir>/registry.db, WAL, busy_timeout 5 s, every write inside
 * BEGIN IMMEDIATE. One connection per process, opened after exec. The schema
 * is versioned with PRAGMA user_version and migrated forward by
 * ui_registry_open(UI_REG_CREATE); it is a documented interface (admin tools
 * and `sqlite3 registry.db 'select id,state,ip from vms'` read it directly):
 *
 *   vms(id TEXT PK, name, state, image, kernel, initrd, rootfs, boot_args,
 *       vcpus INT, mem_mib INT, driver, vmm_pid INT, vmm_start_time INT,
 *       api_socket, console_log, tap, ip, mac, idempotency_key UNIQUE,
 *       created_at, started_at, stopped_at, exit_status INT, error)
 *   leases(ip TEXT PK, mac UNIQUE, tap UNIQUE, vm_id, state, updated_at)
 *       state: 'bound' while a VM owns it; released leases are deleted.
 *   events(seq INTEGER PK AUTOINCREMENT, time, vm_id, kind, detail)
 *
 * Times are TEXT, ISO-8601 UTC with milliseconds ("2026-11-29T14:50:49.123Z").
 * Who writes: pool-worker writes vms and events; netd writes leases and
 * events; uigniterd creates/migrates; apid and tools only read.
 *
 * Errors: sqlite codes are translated here; callers see negative errno
 * (-ENOENT no such row, -EEXIST constraint violation, -EBUSY locked,
 * -EIO anything else, -EROFS write on a read-only connection).
 */
#ifndef UI_REGISTRY_H
#define UI_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UI_REGISTRY_VERSION 1

enum ui_reg_flags {
	UI_REG_RDONLY = 1, /* read-only connection (apid, tools) */
	UI_REG_CREATE = 2, /* create the file and migrate to UI_REGISTRY_VERSION */
};

struct ui_registry; /* opaque: one sqlite3 connection + prepared statements */

/* VM states, in lifecycle order; "failed" may follow any of the first four. */
#define UI_VM_CREATING "creating"
#define UI_VM_STARTING "starting"
#define UI_VM_RUNNING "running"
#define UI_VM_STOPPING "stopping"
#define UI_VM_STOPPED "stopped"
#define UI_VM_FAILED "failed"
/* A pool-worker warm slot (pool-worker/pool.h): a VMM spawned ahead of any
 * run, never a user's VM; hidden by apid, deleted when retired. A run that
 * takes the slot moves it to `starting` and keeps its id. */
#define UI_VM_WARM "warm"

/* One row of vms. Caller-embedded; strings are "" when NULL in the db. */
struct ui_vm {
	char id[48];
	char name[64];
	char state[16];
	char image[64];
	char kernel[4096];
	char initrd[4096];
	char rootfs[4096];
	char boot_args[1024];
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
};

struct ui_lease {
	char ip[16];
	char mac[18];
	char tap[16];
	char vm_id[48];
	char state[16];
	char updated_at[32];
};

/* Opens (and with UI_REG_CREATE creates + migrates) path. */
int ui_registry_open(const char *path, int flags, struct ui_registry **out);
void ui_registry_close(struct ui_registry *reg); /* NULL-safe */

/* The file's PRAGMA user_version. */
int ui_registry_version(struct ui_registry *reg);

/* Fills buf with the current time in the registry's format. */
void ui_registry_now(char *buf, size_t len);

/* vms */
int ui_reg_vm_insert(struct ui_registry *reg, const struct ui_vm *vm); /* -EEXIST */
int ui_reg_vm_update(struct ui_registry *reg, const struct ui_vm *vm); /* all columns by id; -ENOENT */
int ui_reg_vm_get(struct ui_registry *reg, const char *id, struct ui_vm *out); /* -ENOENT */
int ui_reg_vm_get_by_key(struct ui_registry *reg, const char *idempotency_key, struct ui_vm *out);
int ui_reg_vm_delete(struct ui_registry *reg, const char *id); /* -ENOENT */
/* Calls cb for each row (state_filter NULL = all), ordered by created_at.
 * A non-zero return from cb stops the walk and is returned. */
int ui_reg_vm_list(struct ui_registry *reg, const char *state_filter,
		   int (*cb)(const struct ui_vm *vm, void *arg), void *arg);
/* Number of rows in state (NULL = all). */
int ui_reg_vm_count(struct ui_registry *reg, const char *state, unsigned *out);

/* leases */
int ui_reg_lease_insert(struct ui_registry *reg, const struct ui_lease *l); /* -EEXIST */
int ui_reg_lease_delete(struct ui_registry *reg, const char *ip);          /* -ENOENT */
int ui_reg_lease_get_by_vm(struct ui_registry *reg, const char *vm_id, struct ui_lease *out);
int ui_reg_lease_list(struct ui_registry *reg,
		      int (*cb)(const struct ui_lease *l, void *arg), void *arg);

/* events (append-only) */
int ui_reg_event(struct ui_registry *reg, const char *vm_id, const char *kind,
		 const char *detail);
/* Calls cb for each event of vm_id, oldest first (by seq). The strings are
 * valid only during the call; detail is "" when NULL. Same rules for cb as
 * ui_reg_vm_list: a non-zero return stops the walk and is returned. */
int ui_reg_event_list(struct ui_registry *reg, const char *vm_id,
		      int (*cb)(const char *time, const char *kind, const char *detail,
				void *arg),
		      void *arg);

#endif
