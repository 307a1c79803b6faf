/*
 * worker.h — the pool-worker process: one libuv loop, the rings it serves
 * (ring 0 requests from apid, ring 3 replies from netd) and produces (ring 1
 * replies to apid, ring 2 requests to netd), the heartbeat, the signals, and
 * the list of VMs under management.
 *
 * Ownership: struct pw_worker is caller-embedded (main.c); it borrows cfg,
 * shm and reg, which outlive it. It owns the VMs (vm.h) and pending netd
 * requests.
 */
#ifndef PW_WORKER_H
#define PW_WORKER_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "config.h"
#include "pool.h"
#include "registry.h"
#include "shm.h"
#include "vm.h"

/* How long netd may take to answer NET_ALLOC / NET_RELEASE. */
#define PW_NET_TIMEOUT_MS 10000u

struct pw_net_req; /* worker.c */

struct pw_worker {
	uv_loop_t loop;
	const struct ui_config *cfg;
	struct ui_shm *shm;
	struct ui_registry *reg;
	uint32_t gen;               /* our generation, stamped on NET requests */
	enum ui_accel accel;        /* resolved: KVM or TCG */
	unsigned tsc_khz;           /* TCG: host TSC for Linux guests (accel.h) */
	uv_poll_t bell_req;         /* ring 0 doorbell */
	uv_poll_t bell_net;         /* ring 3 doorbell */
	uv_timer_t heartbeat;
	uv_signal_t sig_term, sig_int;
	struct pw_vm *vms;          /* list head (VMs and warm slots) */
	struct pw_pool pool;        /* pool.h */
	struct pw_net_req *net_pending;
	uint64_t next_req_id;
	bool exiting;
};

int pw_worker_init(struct pw_worker *w, const struct ui_config *cfg,
		   struct ui_shm *shm, struct ui_registry *reg, enum ui_accel accel);
/* Recovery, ready flag, then runs the loop until SIGTERM/SIGINT. */
int pw_worker_run(struct pw_worker *w);
/* Releases every VM (VMMs keep running), closes handles, closes the loop. */
void pw_worker_fini(struct pw_worker *w);

/* One reply on ring 1 (vm_id and err may be NULL). */
void pw_reply(struct pw_worker *w, uint64_t req_id, uint32_t gen, uint16_t op,
	      int status, const char *vm_id, const char *err);

/* netd, as seen in shm: spawned and ready. */
bool pw_netd_up(struct pw_worker *w);

/* Sends NET_ALLOC/NET_RELEASE for vm on ring 2. cb gets netd's reply, or a
 * synthesized one (status -ETIMEDOUT) after PW_NET_TIMEOUT_MS. */
typedef void (*pw_net_cb)(struct pw_vm *vm, const struct ui_msg *reply);
int pw_net_request(struct pw_worker *w, struct pw_vm *vm, enum ui_op op,
		   pw_net_cb cb);
/* Drops vm's pending netd requests (their callbacks are not called). */
void pw_net_forget(struct pw_worker *w, struct pw_vm *vm);

/* pool.c: publishes the pool table in shm and schedules a refill pass;
 * called after every change of a VM or slot. */
void pw_pool_table_update(struct pw_worker *w);

/* lifecycle.c */
void pw_handle_run(struct pw_worker *w, const struct ui_msg *m);
void pw_handle_stop(struct pw_worker *w, const struct ui_msg *m);
/* recover.c */
void pw_recover(struct pw_worker *w);
/* lifecycle.c, for recover.c: continue a VM whose VMM is gone (release the
 * lease, write final_state). */
void pw_vm_finish_gone(struct pw_vm *vm, const char *final_state,
		       const char *err);
/* lifecycle.c, for recover.c: resume stopping an adopted VM. */
void pw_vm_resume_stop(struct pw_vm *vm);
/* Stops a running VM as POST /vm/{id}/stop would (no one waits for it). */
void pw_vm_begin_stop(struct pw_vm *vm, const char *detail);
/* lifecycle.c: fail vm (kill its VMM, release, row `failed` with err). */
void pw_vm_fail(struct pw_vm *vm, int status, const char *err);
/* lifecycle.c: the driver runs use (vmm.driver; auto = qemu so far). */
const struct ui_vmm_driver *pw_pick_driver(const struct ui_config *cfg);
/* lifecycle.c, for pool.c: a new warm slot (row `warm`, NET_ALLOC sent);
 * img NULL = no image. A negative return leaves nothing behind. */
int pw_slot_create(struct pw_worker *w, const struct ui_vmm_driver *drv,
		   const struct ui_image *img);
/* lifecycle.c, for pool.c and recover.c: kill, release and delete a slot. */
void pw_slot_retire(struct pw_vm *vm, const char *why);

#endif
