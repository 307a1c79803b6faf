/*
 * vm.h — one VM under management: its registry row (authoritative copy,
 * written through on every change), its place in the lifecycle, and the
 * requests waiting for it.
 *
 * Phases (in memory; the row's state says what the registry knows):
 *   CREATING   row `creating`, NET_ALLOC in flight
 *   STARTING   row `starting`, VMM spawned, driver booting
 *   RUNNING    row `running`
 *   STOPPING   row `stopping`: powerdown sent or VMM being killed; also a
 *              failing VM (fail_status != 0) whose VMM is being killed
 *   RELEASING  VMM gone; NET_RELEASE in flight; then the final row
 *              (`stopped` or `failed`) is written and the VM is freed.
 *   WARM       a warm slot (pool.h) ready to be taken: VMM idle.
 *
 * A warm slot (slot = true, row `warm` throughout) goes CREATING (its own
 * NET_ALLOC) → STARTING (driver warming) → WARM; a run that takes it clears
 * `slot` and continues from STARTING like any run (from_pool = true). A slot
 * that fails or is retired goes STOPPING (VMM killed) → RELEASING, and its
 * row is deleted instead of written final.
 *
 * Ownership: struct pw_vm is heap-allocated by pw_vm_new(), linked in the
 * worker's list, and freed by pw_vm_free() (which releases the driver).
 * The stop timer is heap-allocated and freed by its own close callback, so
 * freeing a VM never waits for the loop.
 */
#ifndef PW_VM_H
#define PW_VM_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "config.h"
#include "driver.h"
#include "registry.h"
#include "ring.h"

struct pw_worker;

enum pw_phase { PW_CREATING, PW_STARTING, PW_RUNNING, PW_STOPPING, PW_RELEASING,
	       PW_WARM };

/* A request waiting for a VM's completion (reply goes to ring 1). */
struct pw_waiter {
	struct pw_waiter *next;
	uint64_t req_id;
	uint32_t gen;
	uint16_t op;
};

struct pw_vm {
	struct pw_vm *next, *prev;     /* worker list */
	struct pw_worker *w;
	struct ui_vm row;
	enum pw_phase phase;
	const struct ui_vmm_driver *drv;
	void *drv_data;                /* driver-owned */
	bool vmm_alive;                /* spawned/adopted, exit not yet seen */
	bool has_lease;                /* NET_ALLOC sent: release before final */
	bool net_busy;                 /* a NET request is in flight */
	bool adopted;
	bool slot;                     /* a warm slot not taken by a run */
	bool from_pool;                /* a run that took a warm slot */
	int fail_status;               /* != 0: failing, final state `failed` */
	char fail_error[512];
	uv_timer_t *stop_timer;        /* NULL or the repeating stop tick */
	uint64_t stop_deadline_ms;     /* ui_now_ms() after which we SIGKILL */
	struct pw_waiter *run_waiters;
	struct pw_waiter *stop_waiters;
	struct pw_waiter *replay_waiters; /* replayed RUNs waiting for a settled row */
};

struct pw_vm *pw_vm_new(struct pw_worker *w, const char *id);
void pw_vm_free(struct pw_vm *vm); /* NULL-safe; driver released, unlinked */
struct pw_vm *pw_vm_find(struct pw_worker *w, const char *id);

/* Writes the row with a new state (NULL: keep) and appends an event
 * (kind NULL: none). Logs; a registry error is logged and returned. */
int pw_vm_save(struct pw_vm *vm, const char *state, const char *kind,
	       const char *detail);

int pw_waiter_add(struct pw_waiter **list, const struct ui_msg *req);
/* Replies to and frees every waiter in *list. */
void pw_waiters_reply(struct pw_vm *vm, struct pw_waiter **list, int status,
		      const char *err);

void pw_vm_stop_timer_cancel(struct pw_vm *vm);
/* Starts (replacing) the VM's timer: cb every ms until cancelled. */
int pw_vm_stop_timer_start(struct pw_vm *vm, unsigned ms, uv_timer_cb cb);

/* Field 22 of /proc/PID/stat; -ESRCH when the process is gone or a zombie. */
int pw_proc_start_time(int64_t pid, int64_t *out);

/* The last non-empty line of a text file (e.g. qemu's stderr in the
 * console log), at most len-1 bytes; "" if none. */
void pw_file_last_line(const char *path, char *buf, size_t len);

/* <state_dir>/vms/<id>.console.log and <run_dir>/vms/<id>.qmp.
 * -ENAMETOOLONG if the socket path does not fit a sockaddr_un. */
int pw_vm_paths(const struct ui_config *cfg, struct ui_vm *row);

#endif
