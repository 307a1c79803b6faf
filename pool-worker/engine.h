/*
 * engine.h — the VM state machine at work: every VM and warm slot of this
 * pool-worker, and the events that move them — requests (run, stop), driver
 * reports (booted, warmed, failed, exited), netd's tap notes, timers
 * (stop ticks and deadlines), recovery after a restart. Below the pool
 * (pool.h) and the transport (worker.h), above the VM record (vm.h) and
 * the drivers (driver.h); it calls up only through the hooks it is given.
 *
 * The rule, for every event: look the transition up (fsm.h; an illegal
 * event is refused and logged), record it in ONE registry change — the
 * row's new state guarded by the state the registry holds, its events, and
 * its lease bound (creating) or released (final), all or nothing — and
 * only then act. Group commit: the changes of one loop turn are one
 * registry transaction (a batch, registry.h); their actions — replies
 * included — are taken once it has committed, at the start of the next
 * turn (an idle handle), in the order they were recorded. A batch that
 * does not commit is undone as its writes are: each VM as below.
 * A registry that cannot take writes for now — its write lock held by
 * another process past our short busy timeout (registry.h), or its disk
 * full — changes nothing: a request (RUN, STOP) is refused with -EAGAIN /
 * -ENOSPC and a sentence saying so (apid: 503, Retry-After), and any other
 * event (a fact: a VMM spawned, booted, exited; a timer) is held on its VM,
 * in order, and fired again every PW_REG_RETRY_MS until the registry takes
 * it; the VM stays in the state the registry holds meanwhile, and no write
 * is even tried before the next retry, so the loop never waits on the lock.
 * Any other failed write (state changed underneath, I/O error) means
 * the action is not taken and the VM fails with the reason, in memory
 * first (its VMM killed); its final write is retried every second until
 * the registry takes it. A spawn is the one act whose record can only
 * follow it: the pid exists once the process does (SPAWNED writes it) — a
 * crash in between leaves a row in `creating`/`warming`, which recovery
 * fails, and a VMM no row owns, which the orphan scan kills (orphans.h).
 * The exec runs off the loop (vmm_proc.h), so a spawn never holds it.
 *
 * Replies: a RUN is answered when its VM is running (or final), a STOP when
 * the VM is final; any number of requests may wait on one VM.
 *
 * Ownership: struct pw_engine is caller-embedded; it borrows cfg, reg and
 * the loop (they outlive it) and owns its VMs.
 */
#ifndef PW_ENGINE_H
#define PW_ENGINE_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "config.h"
#include "driver.h"
#include "fsm.h"
#include "ipam.h"
#include "registry.h"
#include "ring.h"
#include "vm.h"

/* How long a VM waits in creating/warming for netd to make its tap. */
#define PW_TAP_TIMEOUT_MS 10000u
/* How often the power button is pressed again while a guest is stopping
 * (a press before the guest has loaded its ACPI button driver is lost). */
#define PW_POWERDOWN_RETRY_MS 1000u
/* A killed VMM whose exit is not seen by then is killed again. */
#define PW_KILL_RETRY_MS 5000u
/* The shape of a slot warmed without an image (the image defaults). */
#define PW_SLOT_VCPUS 1u
#define PW_SLOT_MEM_MIB 128u
#define PW_REG_RETRY_MS 250u       /* a locked or full registry: retried every */

struct pw_engine;

/* The layer above; every hook is required. */
struct pw_engine_hooks {
	/* Answer one waiting request (status 0 or -errno; flags UI_REPLY_*). */
	void (*reply)(struct pw_engine *e, const struct pw_waiter *w, int status,
		      uint32_t flags, const char *vm_id, const char *err);
	/* Leases changed: row's lease was bound (tap_wait: the VM waits for
	 * its tap) or released. */
	void (*net_kick)(struct pw_engine *e, const struct ui_vm *row, bool tap_wait);
	/* netd runs, or is starting (a VM without a ready tap needs it: when
	 * netd is down the run is refused at once, -EAGAIN). */
	bool (*netd_up)(struct pw_engine *e);
	/* vm moved from `from` to vm->state (it is freed right after when
	 * final and recorded). Called inside the transition: it must not fire
	 * events or free VMs itself (defer that to the loop). */
	void (*changed)(struct pw_engine *e, struct pw_vm *vm, enum pw_state from);
	/* Answer a run (status 0) with its VM: row as committed, nothing of it
	 * waiting for a commit (ring_vm.h: carried when it fits). */
	void (*reply_vm)(struct pw_engine *e, const struct pw_waiter *w, const struct ui_vm *row);
	void *arg;
};

/* A transition recorded in the open batch: its action waits for the
 * commit (engine.c). */
struct pw_deferred {
	struct pw_vm *vm;              /* NULL: the VM was freed meanwhile */
	struct pw_transition t;
	bool tap_ready;
	enum pw_state prev_state;      /* the VM's state before it */
	enum pw_state prev_stored;     /* what the registry held before it */
	enum pw_event ev;              /* PW_E_COUNT: a final write retried */
	struct pw_held why;            /* the event's cause (ev, strings copied) */
	bool replayed;                 /* a held event fired again */
};

struct pw_deferred_list {
	struct pw_deferred *v;
	size_t n, cap;
};

struct pw_engine {
	struct pw_vmm_env env;
	const struct ui_config *cfg;
	struct ui_registry *reg;
	struct ui_ipam net;
	unsigned tsc_khz;              /* TCG: host TSC for Linux guests */
	struct pw_vm *vms;             /* VMs and slots, newest first */
	struct pw_engine_hooks hooks;
	uv_idle_t commit;              /* ends the open batch (a loop turn's) */
	struct pw_deferred_list deferred; /* actions waiting for its commit */
	struct pw_deferred_list acting;   /* the ones being carried out */
	uv_timer_t retry;              /* replays held events (PW_REG_RETRY_MS) */
	uint64_t reg_down_until;       /* no write tried before (0: registry up) */
	int reg_down_rc;               /* why: -EBUSY (locked) or -ENOSPC (full) */
	struct pw_vm *replaying;       /* on_retry is firing this VM's held events */
};

int pw_engine_init(struct pw_engine *e, uv_loop_t *loop, const struct ui_config *cfg,
		   struct ui_registry *reg, enum ui_accel accel,
		   const struct pw_engine_hooks *hooks);
/* Frees every VM (their VMMs keep running). */
void pw_engine_fini(struct pw_engine *e);

/* The driver runs use (vmm.driver, resolved at start). */
const struct ui_vmm_driver *pw_engine_driver(const struct pw_engine *e);

/* ---- requests -------------------------------------------------------------- */

/* A RUN with an Idempotency-Key that names an earlier run: answered (or
 * queued until that VM settles) — true; false: no such run, go on. */
bool pw_engine_replay(struct pw_engine *e, const struct ui_msg *m);
/* The answer to a replayed RUN (w) of a VM that is final (row). */
void pw_engine_replay_final(struct pw_engine *e, const struct pw_waiter *w,
			    const struct ui_vm *row);
/* Checks a RUN (id, image, driver, max_vms): 0 with *img, or -errno with
 * a sentence in *err. */
int pw_engine_admit(struct pw_engine *e, const struct ui_msg *m,
		    const struct ui_image **img, const char **err);
/* Starts an admitted run: on slot (a warm slot the pool handed over: the
 * VM keeps the slot's id and lease) or cold (slot NULL: a new VM with the
 * id apid proposed). The reply comes when it is running or has failed. */
/* The RUN's cmd or boot_args are not its image's (pool.h: pw_pool_take). */
bool pw_engine_run_custom(const struct ui_msg *m, const struct ui_image *img);
void pw_engine_run(struct pw_engine *e, const struct ui_msg *m, const struct ui_image *img,
		   struct pw_vm *slot);
/* STOP: answered once the VM is final (at once if it already is). */
void pw_engine_stop(struct pw_engine *e, const struct ui_msg *m);
/* PAUSE / RESUME (m->op): a running VM paused, a paused one resumed;
 * answered once the driver has done it; 409 in any other state
 * (engine_pause.c). */
void pw_engine_pause(struct pw_engine *e, const struct ui_msg *m);
/* DELETE: a stopped or failed VM's row (and events) removed; 409 else. */
void pw_engine_delete(struct pw_engine *e, const struct ui_msg *m);

/* ---- the pool's operations ------------------------------------------------- */

/* A new warm slot of drv, prepared with img (NULL: none). -errno only when
 * it could not even be made; how it fares later comes through `changed`. */
int pw_engine_slot_new(struct pw_engine *e, const struct ui_vmm_driver *drv,
		       const struct ui_image *img);
/* Discards a slot (killed, released, row deleted). */
void pw_engine_retire(struct pw_vm *vm, const char *why);
/* Stops a running VM as POST /vm/{id}/stop would, nobody waiting. */
void pw_engine_stop_vm(struct pw_vm *vm, const char *why);

/* ---- notes and time ---------------------------------------------------------- */

/* netd says a lease's tap is made (status 0) or could not be (-errno). */
void pw_engine_tap_note(struct pw_engine *e, const struct ui_msg *note);
/* Each second: final writes the registry refused are tried again. */
void pw_engine_tick(struct pw_engine *e);

/* ---- recovery (recover.c) ----------------------------------------------------- */

/* At start: every row a previous pool-worker left unfinished is adopted or
 * resolved; then VMMs no row owns are killed. */
void pw_engine_recover(struct pw_engine *e);

/* A VM's driver view: drv, and the engine's report hooks. */
void pw_engine_attach(struct pw_engine *e, struct pw_vm *vm, const struct ui_vmm_driver *drv);
/* vm's boot_args: img's, with the VM's IP and id, and under TCG the TSC
 * arguments Linux guests need (cmdline.h, accel.h). */
int pw_engine_boot_args(struct pw_engine *e, struct pw_vm *vm, const struct ui_image *img);

/* Fires ev at vm with a cause (status, detail: the event's detail and, for
 * a failure, the error). -EPERM when illegal in vm's state (logged). */
int pw_engine_fire(struct pw_vm *vm, enum pw_event ev, int status, const char *detail);

/* Counts (in memory). */
unsigned pw_engine_count(const struct pw_engine *e, enum pw_state s);
/* VMs a run owns that are not final (max_vms counts these). */
unsigned pw_engine_active(const struct pw_engine *e);

#endif
