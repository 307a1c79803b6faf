/*
 * plan.h — netd's decisions, pure: given what the registry says (leases,
 * taps rows) and what the kernel has (the links named with the tap prefix),
 * what one reconciliation pass must do. No registry, no netlink, no clock:
 * pass.c reads the inputs and carries the plan out; tests/unit/
 * test_reconcile.c checks the rules without root.
 *
 * Tap names derive from addresses (ipam.h: tap = prefix + host index), so
 * a name is the key throughout: a lease names its tap, a row is its name.
 * The rules, phase by phase — the order items come out in and are done in
 * (what a run may wait on first, the kernel's slow deletions last):
 *   rows    FINISH a 'creating' row (a crash mid-create): ensure, → ready;
 *           REPAIR a leased 'ready' row whose device is missing, not
 *           enslaved to the bridge or down: ensure again
 *   leases  a lease's tap without row: ADOPT its device when in place
 *           (e.g. after an upgrade from the schema without `taps`): insert
 *           'ready'; else CREATE: insert 'creating', ensure, → ready
 *   stock   spares are the 'ready' and 'creating' rows no lease names;
 *           want = plan_stock_want(). REPAIR the 'ready' spares kept like
 *           leased rows; too few: STOCK new taps at the lowest free indices
 *           (assignable, not leased, no row, no device), at most
 *           PLAN_MAX_NEW per pass (`more`: another pass is needed); too
 *           many: RETIRE the highest-index 'ready' spares
 *   links   a tap device with neither row nor lease: ORPHAN — row
 *           'deleting' (guarded against a lease appearing), then delete;
 *           a non-tap link with the prefix (not the bridge): FOREIGN, left
 *           alone
 *   rows    DELETE a 'deleting' row's device, then the row
 */
#ifndef NETD_PLAN_H
#define NETD_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ipam.h"
#include "registry.h"
#include "vec.h"

#define PLAN_MAX_NEW 16          /* new spare taps per pass */
#define PLAN_PEAK_WINDOW_S 60

/* A link with the prefix, as the kernel has it; caller-embedded. */
struct plan_link {
	char name[UI_IPAM_TAP_LEN];
	bool is_tap;
	bool enslaved;           /* its master is the bridge */
	bool up;
};

struct plan_policy {
	unsigned tap_stock;      /* config: spares to keep; 0 = none */
	unsigned pool_size;      /* config: warm slots */
	unsigned peak;           /* most leases at once in the last 60 s */
};

/* Borrowed arrays; none is modified. */
struct plan_in {
	const struct ui_lease *leases;
	size_t n_leases;
	const struct ui_tap *rows;
	size_t n_rows;
	const struct plan_link *links;
	size_t n_links;
	const struct ui_ipam *ipam;
	const char *prefix;
	const char *bridge;
	struct plan_policy policy;
};

enum plan_op {
	PLAN_FINISH,
	PLAN_REPAIR,
	PLAN_ADOPT,
	PLAN_CREATE,
	PLAN_STOCK,
	PLAN_RETIRE,
	PLAN_ORPHAN,
	PLAN_DELETE,
	PLAN_FOREIGN,            /* last: nothing done (summaries stop here) */
};

struct plan_item {
	enum plan_op op;
	char name[UI_IPAM_TAP_LEN];
	char ip[UI_IPAM_IP_LEN];  /* "" only for an ORPHAN whose name is no
				   * address of the subnet */
	int rc;                   /* -EINPROGRESS until the executor sets 0
				   * (done) or -errno (failed, or -ESTALE:
				   * skipped, a lease moved in between) */
};

/* Ownership: caller-embedded; items owned, freed by plan_free. */
struct plan {
	struct vec items;         /* struct plan_item, in the order to do them */
	unsigned spares;          /* 'ready' + 'creating' rows no lease names */
	unsigned want;            /* spares wanted */
	bool more;                /* stock still short after this pass */
};

/* The plan for in into *out (initialised here); -ENOMEM. */
int plan_make(const struct plan_in *in, struct plan *out);
void plan_free(struct plan *p);
struct plan_item *plan_item(const struct plan *p, size_t i);
/* The lease that names tap, the row of name; NULL when none. */
const struct ui_lease *plan_lease_of(const struct plan_in *in, const char *tap);
const struct ui_tap *plan_row_of(const struct plan_in *in, const char *name);
/* The item that acts on name, or NULL. */
const struct plan_item *plan_find(const struct plan *p, const char *name);
/* "finish", "repair", ... (for logs). */
const char *plan_op_name(enum plan_op op);
/* Whether op leaves its tap 'ready' when it succeeds. */
bool plan_op_makes_ready(enum plan_op op);

/* 0 if tap_stock is 0, else max(tap_stock, pool_size, peak - leased). */
unsigned plan_stock_want(const struct plan_policy *p, unsigned leased);

/* The peak of the leased count over the last PLAN_PEAK_WINDOW_S seconds,
 * in one-second buckets. Caller-embedded, zero-initialised. */
struct plan_peak {
	uint64_t sec[PLAN_PEAK_WINDOW_S];
	unsigned max[PLAN_PEAK_WINDOW_S];
};

/* Notes `leased` at now_ms (a monotonic clock); returns the peak of the
 * window ending now. */
unsigned plan_peak_note(struct plan_peak *pk, uint64_t now_ms, unsigned leased);

#endif
