/*
 * shm.h — the instance's POSIX shared-memory segment.
 *
 * Created by uigniterd (ui_shm_create: unlink any stale segment, then
 * O_CREAT|O_EXCL, ftruncate, initialise), attached by the daemons
 * (ui_shm_attach validates magic, layout version and size; a mismatch is
 * -EPROTO and the daemon exits with a temporary failure). The segment holds
 * offsets-free fixed structs only — never pointers.
 *
 * Contents: header, per-daemon status, the pool table, and the four rings:
 *   UI_RING_API_TO_POOL  apid → pool-worker   requests  (RUN, STOP)
 *   UI_RING_POOL_TO_API  pool-worker → apid   replies
 *   UI_RING_POOL_TO_NET  pool-worker → netd   NET_KICK: leases changed
 *   UI_RING_NET_TO_POOL  netd → pool-worker   TAP_READY: a leased tap is made
 * Doorbells: uigniterd creates one eventfd per ring and every daemon gets
 * ring i's eventfd as fd UI_DOORBELL_FD(i) (3..6); the consumer polls it.
 *
 * Status: uigniterd writes pid/up on spawn and exit and bumps generation on
 * every (re)spawn; the daemon itself sets ready, heartbeat_ms, reg_commits
 * and reg_error (daemon.h: the skeleton does, each heartbeat) and its fault
 * (cleared by the skeleton on attach).
 *
 * Metrics (metrics.h, GET /metrics): a block of its own version
 * (UI_METRICS_VERSION, checked on attach); reg[d] is written by daemon d's
 * registry connection, pool by pool-worker; apid reads. Set to 0 with the
 * segment: they survive a daemon's restart, not the manager's.
 */
#ifndef UI_SHM_H
#define UI_SHM_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "metrics.h"
#include "ring.h"

#define UI_SHM_MAGIC 0x55494749474e5452ull /* "UIGIGNTR" */
#define UI_SHM_VERSION 8u /* 7: the pool table's template (pool.boot snapshot); 8: struct ui_msg carries a reply's VM (ring_vm.h) */

enum ui_ring_id {
	UI_RING_API_TO_POOL,
	UI_RING_POOL_TO_API,
	UI_RING_POOL_TO_NET,
	UI_RING_NET_TO_POOL,
	UI_RING_COUNT
};
#define UI_DOORBELL_FD(ring) (3 + (ring))
/* Readiness: uigniterd gives each daemon the write end of a pipe as fd
 * UI_READY_FD and names it in the environment; ui_daemon_set_ready() writes
 * one byte to it and closes it (as well as setting the shm flag). */
#define UI_READY_FD 7
#define UI_READY_FD_ENV "UIGNITER_READY_FD"

enum ui_daemon { UI_D_NETD, UI_D_POOL, UI_D_APID, UI_D_COUNT };

struct ui_daemon_status {
	_Atomic int32_t pid;           /* 0 when not running */
	_Atomic uint32_t generation;   /* bumped by uigniterd on each spawn */
	_Atomic uint32_t up;           /* 1 from spawn to exit (uigniterd) */
	_Atomic uint32_t ready;        /* set by the daemon once serving */
	_Atomic uint64_t heartbeat_ms; /* CLOCK_MONOTONIC ms, daemon writes */
	_Atomic uint32_t restarts;     /* uigniterd counts */
	_Atomic uint64_t reg_commits;  /* registry write transactions (daemon) */
	_Atomic int32_t reg_error;     /* 0, or -errno: its last registry write
					* failed for the registry's sake (daemon) */
	/* What keeps the daemon from doing its job right now (netd: its last
	 * pass failed; pool-worker: the VMM binary is missing): fault 0 or
	 * -errno and a sentence, under a seqlock (one writer: the daemon). */
	_Atomic uint32_t fault_seq;
	_Atomic int32_t fault;
	char fault_msg[192];
};

/* Pool table: seqlock — writer (pool-worker) bumps seq to odd, writes, bumps
 * to even; readers retry while seq is odd or changed. */
#define UI_POOL_RSS_MAX 32u /* paused VMMs listed one by one, at most */
struct ui_pool_rss {
	char id[24];                   /* the VM's or slot's id */
	uint8_t slot;                  /* 1: a ready slot; 0: a paused VM */
	uint64_t rss_kib;              /* its VMM's VmRSS */
};
struct ui_pool_table {
	_Atomic uint32_t seq;
	uint32_t size, ready, in_use;
	uint64_t hits, misses, refill_errors;
	uint32_t vms_running;
	uint32_t warming;              /* slots being prepared (pending, warming) */
	uint32_t vms_paused;
	uint64_t paused_rss_kib;       /* VmRSS of paused VMMs and ready slots */
	uint64_t retired_image_changed; /* slots retired: their image changed on disk */
	uint32_t n_rss;                /* entries in rss[] */
	struct ui_pool_rss rss[UI_POOL_RSS_MAX];
	/* pool.boot snapshot's template (pool-worker/snapshot.h): state 0 =
	 * not snapshot, else 1 none, 2 building, 3 ready, 4 failed */
	uint32_t tmpl_state;
	uint64_t tmpl_bytes;
	char tmpl_image[64];
	char tmpl_built_at[32];
	char tmpl_error[192];
};

struct ui_metrics {
	uint32_t version;              /* UI_METRICS_VERSION (uigniterd) */
	uint32_t size;                 /* sizeof(struct ui_metrics) */
	struct ui_reg_metrics reg[UI_D_COUNT];
	struct ui_pool_metrics pool;
};

struct ui_shm {
	uint64_t magic;
	uint32_t version;
	uint32_t size;                 /* sizeof(struct ui_shm) */
	_Atomic uint32_t generation;   /* bumped each time uigniterd creates it */
	int32_t supervisor_pid;
	struct ui_daemon_status daemon[UI_D_COUNT];
	struct ui_pool_table pool;
	struct ui_metrics metrics;
	struct ui_ring ring[UI_RING_COUNT];
};

int ui_shm_create(const char *name, struct ui_shm **out);
int ui_shm_attach(const char *name, struct ui_shm **out);
void ui_shm_detach(struct ui_shm *shm);   /* NULL-safe */
int ui_shm_unlink(const char *name);

/* Pool table helpers (seqlock). */
void ui_pool_table_write(struct ui_shm *shm, const struct ui_pool_table *src);
void ui_pool_table_read(struct ui_shm *shm, struct ui_pool_table *dst);

/* Daemon heartbeat/ready (the daemon's own slot). */
void ui_daemon_set_ready(struct ui_shm *shm, enum ui_daemon d);
void ui_daemon_heartbeat(struct ui_shm *shm, enum ui_daemon d);
/* The daemon's own fault (0: none; msg may be NULL then); a no-op when it
 * is unchanged. ui_daemon_fault_read copies it out: returns the fault. */
void ui_daemon_set_fault(struct ui_shm *shm, enum ui_daemon d, int fault, const char *msg);
int ui_daemon_fault_read(struct ui_shm *shm, enum ui_daemon d, char *msg, size_t len);
const char *ui_daemon_name(enum ui_daemon d);

/* CLOCK_MONOTONIC in ms. */
uint64_t ui_now_ms(void);

#endif
