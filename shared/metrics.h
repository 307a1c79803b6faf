/*
 * metrics.h — the counters and histograms the daemons publish for
 * GET /metrics, as fixed structs of atomics in the shm segment (shm.h:
 * struct ui_metrics, versioned by UI_METRICS_VERSION).
 *
 * One writer per struct: a daemon's ui_reg_metrics is written by that
 * daemon's registry connection (registry.c: the latency of every write
 * transaction, and a counter bumped after each commit that added events —
 * apid's long-polls watch it), ui_pool_metrics by pool-worker
 * (pool-worker/metrics.c). apid only reads. Counters are monotonic; a
 * reader may see one counter a step ahead of another (no snapshot), never a
 * torn value. They live as long as the segment: a daemon's restart keeps
 * them, a manager's restart (a new segment) starts them at 0.
 *
 * A histogram keeps one count per bucket (not cumulative: an observation
 * bumps one bucket), their total and the sum; the bounds are a table per
 * kind (ui_hist_bounds), in µs.
 */
#ifndef UI_METRICS_H
#define UI_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define UI_METRICS_VERSION 1u
#define UI_HIST_MAX_BUCKETS 16 /* finite bounds at most; +1 for +Inf */

struct ui_hist {
	_Atomic uint64_t bucket[UI_HIST_MAX_BUCKETS + 1]; /* [n_bounds] is +Inf */
	_Atomic uint64_t count;
	_Atomic uint64_t sum_us;
};

enum ui_hist_kind {
	UI_HIST_REG_WRITE,  /* a registry write transaction, BEGIN → COMMIT */
	UI_HIST_PHASE,      /* a phase of a VM's start */
	UI_HIST_KIND_COUNT
};

/* The finite bounds of kind (µs, increasing); *n their number. */
const uint64_t *ui_hist_bounds(enum ui_hist_kind kind, size_t *n);
/* Records one observation of v µs (one writer per histogram). */
void ui_hist_observe(struct ui_hist *h, enum ui_hist_kind kind, uint64_t v_us);

/* A daemon's registry connection (written by registry.c). */
struct ui_reg_metrics {
	struct ui_hist write;              /* UI_HIST_REG_WRITE, committed ones */
	_Atomic uint64_t write_failures;   /* transactions that did not commit */
	_Atomic uint64_t event_commits;    /* commits that added events (release) */
};

/* The phases of a VM's start (pool-worker/metrics.c). */
enum ui_phase {
	UI_PHASE_LEASE,   /* row and lease created → its tap ready (spawning) */
	UI_PHASE_SPAWN,   /* spawning → VMM spawned (starting) */
	UI_PHASE_BOOT,    /* starting (spawned or slot taken) → running */
	UI_PHASE_READY,   /* running → the image's ready rule held */
	UI_PHASE_RUN,     /* the request → running, the whole of it */
	UI_PHASE_COUNT
};
const char *ui_phase_name(enum ui_phase p);

/* Why a VM failed, from its error sentence (ui_fail_reason_of). */
enum ui_fail_reason {
	UI_FAIL_OOM,         /* "out of memory (limit N MiB)" */
	UI_FAIL_VMM_EXIT,    /* its VMM exited or was killed on its own */
	UI_FAIL_TIMEOUT,     /* a deadline: boot, API, stop, tap */
	UI_FAIL_SPAWN,       /* its VMM could not be spawned or started */
	UI_FAIL_NETWORK,     /* "network: …" */
	UI_FAIL_REGISTRY,    /* "registry: …" */
	UI_FAIL_RESTART,     /* interrupted or lost by a pool-worker restart */
	UI_FAIL_OTHER,
	UI_FAIL_COUNT
};
const char *ui_fail_reason_name(enum ui_fail_reason r);
/* The reason of error (a VM's error column); spawning: it failed before
 * its VMM was started (creating, spawning). */
enum ui_fail_reason ui_fail_reason_of(const char *error, int spawning);

enum ui_run_origin { UI_RUN_COLD, UI_RUN_WARM, UI_RUN_ORIGIN_COUNT };

/* pool-worker's (pool-worker/metrics.c). */
struct ui_pool_metrics {
	_Atomic uint64_t runs[UI_RUN_ORIGIN_COUNT]; /* VMs that came to run */
	_Atomic uint64_t stops;                     /* VMs that came to stopped */
	_Atomic uint64_t failures[UI_FAIL_COUNT];   /* VMs that came to failed */
	struct ui_hist phase[UI_PHASE_COUNT];       /* UI_HIST_PHASE */
};

/* CLOCK_MONOTONIC in µs. */
uint64_t ui_now_us(void);

#endif
