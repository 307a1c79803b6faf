/*
 * pool.h — the warm pool's policy: pool.size warm slots kept filled in the
 * background, so that a run only has to start a VMM that is already there.
 * Above the engine (engine.h: the slots' states and transitions live
 * there), below the transport (worker.c).
 *
 * A warm slot is a VM of the engine in PENDING/WARMING/WARM/RETIRING with
 * its own VM id and lease; a run that fits a WARM one (driver.h: fits)
 * takes it and keeps the slot's id; any other run starts cold. The pool
 * never makes a run wait.
 *
 * Decisions here: refill after every change, PW_POOL_REFILL_MS later (so
 * never in the batch that answers a run: see pool.c's kick), at most
 * PW_POOL_MAX_WARMING preparing at once, none
 * while a run that took a slot is still starting; backoff after a failed
 * slot (1 s doubling to 30 s, counted in refill_errors); retirement of
 * surplus or stale slots (SIGHUP reloads pool.size and pool.warm_image);
 * the drain on SIGTERM (slots retired; VMs left running, or stopped with
 * shutdown_policy stop); the shm pool table (size, ready, in_use, hits,
 * misses, refill_errors, vms_running, vms_paused, and the memory held
 * paused: pool_mem.c), kept from per-state counts updated on every
 * transition (pw_pool_changed); pool.max_mem_mib caps new slots.
 *
 * Ownership: struct pw_pool is caller-embedded (worker.c); it borrows the
 * engine and the shm; its handles live on the engine's loop.
 */
#ifndef PW_POOL_H
#define PW_POOL_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "config.h"
#include "driver.h"
#include "engine.h"
#include "shm.h"
#include "snapshot.h"

#define PW_POOL_BACKOFF_MIN_MS 1000u
#define PW_POOL_BACKOFF_MAX_MS 30000u
#define PW_POOL_MAX_WARMING 4u     /* slots being prepared at once */
#define PW_POOL_MAX_BOOTING 1u     /* … booted ahead at once (pool.boot: ahead):
				    * a boot costs a core for seconds under TCG */
#define PW_POOL_REFILL_MS 1u       /* from a change to its refill */
#define PW_POOL_DRAIN_MS 2000u     /* SIGTERM: wait this long for the slots */

enum pw_pool_phase { PW_POOL_OFF, PW_POOL_ON, PW_POOL_DRAINING, PW_POOL_DRAINED };

/* What the driver showed it can do without a warm image. */
enum pw_pool_imageless { PW_IMAGELESS_UNKNOWN, PW_IMAGELESS_OK, PW_IMAGELESS_NO };

struct pw_pool {
	struct pw_engine *e;
	struct ui_shm *shm;
	enum pw_pool_phase phase;
	unsigned size;                 /* pool.size */
	char warm_image[64];           /* pool.warm_image, "" = none */
	enum pw_pool_imageless imageless;
	uint64_t hits, misses, refill_errors;
	uint64_t retired_image_changed; /* slots whose image files changed or went */
	unsigned backoff_ms;           /* 0: the last slot warmed fine */
	uint64_t retry_at_ms;          /* no new slot before (ui_now_ms) */
	unsigned count[PW_S_COUNT];    /* VMs per state (not NEW, not final) */
	unsigned taking;               /* runs on a slot still starting */
	unsigned in_use;               /* runs on a slot starting or running */
	/* memory held paused (pool_mem.c): VMs paused and ready slots */
	uint64_t paused_rss_kib;
	unsigned n_rss;
	struct ui_pool_rss rss[UI_POOL_RSS_MAX];
	unsigned n_slot_rss;           /* ready slots measured … */
	uint64_t slot_rss_kib;         /* … and their RSS */
	bool mem_capped;               /* pool.max_mem_mib reached (said once) */
	struct pw_snap snap;           /* pool.boot snapshot's template (snapshot.h) */
	uv_timer_t refill, drain;
	void (*drained)(struct pw_pool *p); /* the drain is over */
	void *arg;
};

int pw_pool_init(struct pw_pool *p, struct pw_engine *e, struct ui_shm *shm,
		 void (*drained)(struct pw_pool *p), void *arg);
/* After recovery: counts from the engine's VMs, first refill. */
void pw_pool_start(struct pw_pool *p);
/* The engine's `changed` hook goes here. */
void pw_pool_changed(struct pw_pool *p, struct pw_vm *vm, enum pw_state from);
/* A ready slot for this run, or NULL (counts a hit or a miss). custom: the
 * run's cmd or boot_args are not the image's — only a slot whose image is
 * applied at run (Firecracker without pool.warm_image) can serve it; a slot
 * spawned with its kernel command line (QEMU, pool.boot: ahead) cannot. */
struct pw_vm *pw_pool_take(struct pw_pool *p, const struct ui_image *img, unsigned vcpus,
			   unsigned mem_mib, bool custom);
/* SIGTERM: retire every slot (and stop the VMs with shutdown_policy stop),
 * then `drained` — at most PW_POOL_DRAIN_MS (+ stop_timeout_ms) later. */
void pw_pool_drain(struct pw_pool *p);
/* SIGHUP: pool.size and pool.warm_image from the config file. */
void pw_pool_reload(struct pw_pool *p);

/* Each second: the memory held paused measured and published. */
void pw_pool_tick(struct pw_pool *p);

/* ---- memory held paused (pool_mem.c) ---- */

/* The VmRSS of pid in KiB. -errno (-ENOENT: gone). */
int pw_proc_rss_kib(int64_t pid, uint64_t *kib);
/* Measures paused VMs' and ready slots' VMMs into p (paused_rss_kib, rss[]). */
void pw_pool_measure(struct pw_pool *p);
/* pool.max_mem_mib (0: no cap) leaves room for one more slot, as big as
 * the ready ones are on average (said once when it does not). */
bool pw_pool_mem_allows(struct pw_pool *p);

/* ---- a slot's image on disk (pool_image.c) ---- */

/* A stamp of row's kernel/initrd/rootfs identity (dev, inode, size, mtime,
 * ctime); -errno with the path in why when one cannot be stat'ed. */
int pw_image_stamp(const struct ui_vm *row, uint64_t *out, char *why, size_t len);
/* The slot's image files are those it was made with; false: why says. */
bool pw_image_unchanged(const struct pw_vm *slot, char *why, size_t len);

/* ---- pure helpers (pool_policy.c; unit-tested in test_pool.c) ---- */

/* Backoff after one more failed slot: 0 → 1 s, doubling, at most 30 s. */
unsigned pw_pool_backoff_next(unsigned prev_ms);
/* How many slots to start now: the deficit (size - slots), at most
 * PW_POOL_MAX_WARMING - warming in flight. */
unsigned pw_pool_to_spawn(unsigned size, unsigned slots, unsigned warming, unsigned max);
/* The oldest WARM slot of drv in list (newest first) that fits the run. */
struct pw_vm *pw_pool_pick(struct pw_vm *list, const struct ui_vmm_driver *drv,
			   const struct ui_image *img, unsigned vcpus, unsigned mem_mib);
/* Whether slot was warmed for what the pool now wants: warm image img (NULL:
 * none, the default shape) and driver drv. */
bool pw_pool_slot_current(const struct pw_vm *slot, const struct ui_vmm_driver *drv,
			  const struct ui_image *img);

#endif
