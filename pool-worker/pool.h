/*
 * pool.h — the warm pool: pool.size warm slots kept filled in the
 * background, so that a run only has to start a VMM that is already there.
 *
 * A warm slot is a pw_vm (vm.h, slot = true) with its own VM id (made here,
 * apid's format), its own lease (NET_ALLOC) and a VMM the driver has
 * prepared up to just before the guest starts (driver.h: warm). Its registry
 * row is in state `warm` from before the NET_ALLOC on, so a crash at any
 * point leaves a row recover.c reclaims (kill, release, delete). A run that
 * fits a ready slot (driver.h: fits) takes it and keeps the slot's id; any
 * other run starts cold. The pool never makes a run wait.
 *
 * Who does what: lifecycle.c moves slots through their states (create,
 * warmed, take, retire, exit); this file decides when — refill after every
 * change (a 0 ms timer, so after the current replies), backoff after a
 * failed slot (1 s doubling to 30 s), retirement of surplus or stale slots
 * (SIGHUP: pool.size / pool.warm_image reloaded), the drain on SIGTERM
 * (warm slots are killed, released and deleted; VMs are left running) —
 * and publishes the shm pool table (size, ready, in_use, hits, misses,
 * refill_errors, vms_running). in_use counts running or starting VMs that
 * came from a warm slot.
 *
 * Ownership: struct pw_pool is embedded in struct pw_worker; its handles
 * are closed with the worker's loop.
 */
#ifndef PW_POOL_H
#define PW_POOL_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "vmid.h"
#include "config.h"
#include "driver.h"

struct pw_worker;
struct pw_vm;

/* The shape of a slot warmed without an image (driver.h: warm). */
#define PW_POOL_VCPUS 1u
#define PW_POOL_MEM_MIB 128u
#define PW_POOL_BACKOFF_MIN_MS 1000u
#define PW_POOL_BACKOFF_MAX_MS 30000u
#define PW_POOL_MAX_WARMING 4u     /* slots being warmed at once */
#define PW_POOL_DRAIN_MS 2000u     /* SIGTERM: wait this long for releases */

struct pw_pool {
	unsigned size;              /* pool.size */
	char warm_image[64];        /* pool.warm_image, "" = none */
	uint64_t hits, misses, refill_errors;
	unsigned backoff_ms;        /* 0: last slot warmed fine */
	uint64_t retry_at_ms;       /* no new slot before (ui_now_ms) */
	bool cannot_warm;           /* the driver cannot: logged once */
	bool imageless_ok;          /* a slot without image warmed: the driver can */
	bool started;               /* after recovery */
	bool draining;              /* SIGTERM: no refill, retire all */
	uv_timer_t refill;
	uv_timer_t drain;
	uv_signal_t sig_hup;
};

/* Settings from the worker's config, handles on its loop. */
int pw_pool_init(struct pw_worker *w);
/* After recovery: SIGHUP handler on, first refill. */
void pw_pool_start(struct pw_worker *w);
/* Schedules a refill pass in the loop (deduplicated, never synchronous). */
void pw_pool_kick(struct pw_worker *w);
/* A ready slot for this run, or NULL (counts a hit or a miss). */
struct pw_vm *pw_pool_take(struct pw_worker *w, const struct ui_image *img,
			   unsigned vcpus, unsigned mem_mib);
/* lifecycle.c: a slot is warm / a slot's row is gone (vm is freed here). */
void pw_pool_slot_ready(struct pw_vm *vm);
void pw_pool_slot_done(struct pw_vm *vm);
/* SIGTERM: retire every slot, then stop the loop (at most
 * PW_POOL_DRAIN_MS). Returns false if there was nothing to drain. */
bool pw_pool_drain(struct pw_worker *w);
/* While draining: exits the loop once nothing is left to wait for. */
void pw_pool_drain_check(struct pw_worker *w);

/* ---- pure helpers (pool_policy.c; unit-tested in test_pool.c) ---- */

/* Backoff after one more failed slot: 0 → 1 s, doubling, at most 30 s. */
unsigned pw_pool_backoff_next(unsigned prev_ms);
/* How many slots to start now: the deficit (size - slots), at most
 * PW_POOL_MAX_WARMING - warming in flight. */
unsigned pw_pool_to_spawn(unsigned size, unsigned slots, unsigned warming);
/* The first ready slot (phase WARM) of drv in list that fits the run. */
struct pw_vm *pw_pool_pick(struct pw_vm *list, const struct ui_vmm_driver *drv,
			   const struct ui_image *img, unsigned vcpus,
			   unsigned mem_mib);
/* Whether slot was warmed for what the pool now wants: warm image img (NULL:
 * none, the default shape) and driver drv. */
bool pw_pool_slot_current(const struct pw_vm *slot,
			  const struct ui_vmm_driver *drv,
			  const struct ui_image *img);

#endif
