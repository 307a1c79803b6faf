/*
 * pw_metrics.h — pool-worker's counters and phase histograms for GET /metrics
 * (shm: metrics.pool, shared/metrics.h), kept from the engine's `changed`
 * hook: one call per transition (and per event that changes no state, such
 * as `ready`).
 */
#ifndef PW_METRICS_H
#define PW_METRICS_H

#include "metrics.h"
#include "vm.h"

/* vm moved from `from` to vm->state (maybe the same state). */
void pw_metrics_changed(struct ui_pool_metrics *m, struct pw_vm *vm, enum pw_state from);

#endif
