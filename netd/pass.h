/*
 * pass.h — the I/O of one reconciliation pass: read the world (leases and
 * taps rows from the registry, the bridge and every link with the tap
 * prefix from the kernel, in one dump), then carry out a plan (plan.h)
 * item by item. Read everything, then act; the decisions are plan.c's.
 *
 * Who writes what: of the registry, netd writes only `taps` rows; it is the
 * only process that makes or removes devices. A row is written before its
 * device is made ('creating'), so a crash leaves a row, never an
 * untraceable device; deletions go to the queue (delq.h), never done here.
 *
 * Errors: a netlink failure on one tap fails that item (logged, item.rc);
 * a guarded change that found another state (-ESTALE: a lease moved in
 * between) skips the item, a constraint (-EEXIST) fails it; any other
 * registry error aborts the pass and is returned — a later pass retries
 * from a fresh read, as every pass is idempotent.
 *
 * Ownership: pass_env borrows everything it points to. struct world is
 * caller-embedded and owns its vectors (world_free).
 */
#ifndef NETD_PASS_H
#define NETD_PASS_H

#include <stdbool.h>

#include "config.h"
#include "delq.h"
#include "netlink.h"
#include "plan.h"
#include "registry.h"

struct pass_env {
	struct ui_registry *reg;
	struct netlink *nl;
	struct delq *dq;
	const struct ui_ipam *ipam;
	const struct ui_config *cfg;   /* bridge, gateway, prefix_len, tap_prefix */
};

struct world {
	struct vec leases;             /* struct ui_lease */
	struct vec rows;               /* struct ui_tap */
	struct vec links;              /* struct plan_link */
};

/* The bridge with the gateway address, up (idempotent); its ifindex. */
int pass_bridge(const struct pass_env *e, int *ifindex);

/* Reads the world (failures logged); on failure *w is left empty. */
int pass_read(const struct pass_env *e, struct world *w);
void world_free(struct world *w);
/* The planner's view of w (borrowing it), policy left to the caller. */
void world_plan_in(const struct world *w, const struct pass_env *e, struct plan_in *in);

/* Carries out p's items in order, setting each item's rc. first: the
 * start-up pass (logs what later passes only mention at debug level).
 * 0, or the registry error that aborted the pass. */
int pass_act(const struct pass_env *e, struct plan *p, bool first);

#endif
