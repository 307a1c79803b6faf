/*
 * worker.h — pool-worker's top layer: the transport. The rings it reads
 * (ring 0: RUN/STOP from apid; ring 3: TAP_READY notes from netd) and
 * writes (ring 1: replies to apid; ring 2: NET_KICK to netd), the daemon
 * skeleton's signals and tick, and the glue between them and the pool
 * (pool.h) and the engine (engine.h).
 *
 * Rules: replies and kicks go through ring writers (hold, never drop); the
 * ring 0 reader is gated on the reply writer, so a full reply ring stops
 * new requests instead of losing answers. A reply carries the requester's
 * generation; apid drops those of a dead generation. While the pool drains
 * (SIGTERM) requests stay queued in ring 0 for the next pool-worker.
 *
 * Ownership: struct pw_worker is caller-embedded (main.c); it borrows the
 * daemon context (loop, cfg, shm, registry).
 */
#ifndef PW_WORKER_H
#define PW_WORKER_H

#include "cgroup.h"
#include "console.h"
#include "daemon.h"
#include "engine.h"
#include "pool.h"
#include "ringio.h"
#include "vmm_priv.h"

struct pw_worker {
	struct ui_daemon_ctx *d;
	struct pw_engine engine;
	struct pw_pool pool;
	struct ui_ring_reader requests;   /* ring 0 */
	struct ui_ring_reader notes;      /* ring 3 */
	struct ui_ring_writer replies;    /* ring 1 */
	struct ui_ring_writer kicks;      /* ring 2 */
	bool vmm_missing;                 /* the VMM binary, as last checked */
	const struct pw_cgroups *cgroups; /* borrowed (main.c) */
	uv_timer_t console_timer;         /* console caps and sweep (worker_console.c) */
	struct pw_console_sweep console_sweep;
	uint64_t console_sweep_at;        /* ms: the next sweep pass starts */
	struct pw_vmm_priv priv;          /* who VMMs run as (read at start) */
};

/* worker_console.c: the console logs' cap and sweep on w's loop. */
int pw_worker_console_start(struct pw_worker *w);
void pw_worker_console_fini(struct pw_worker *w);

/* Engine, pool and rings on d's loop; accel is resolved, cg set up
 * (main.c; borrowed: outlives the worker). */
int pw_worker_init(struct pw_worker *w, struct ui_daemon_ctx *d, enum ui_accel accel,
		   const struct pw_cgroups *cg);
/* Recovery, pool start, then serving (ui_daemon_run runs the loop). */
int pw_worker_start(struct pw_worker *w);
void pw_worker_fini(struct pw_worker *w);

#endif
