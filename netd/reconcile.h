/*
 * reconcile.h — netd's level-triggered reconciler: when passes run, and
 * who hears about them. One code path — a pass (pass.h: read the world,
 * plan.h: decide, pass.h: act) — serves start-up, every wake-up and the
 * periodic check, and is safe to re-run after any crash.
 *
 * When: the start-up pass runs before netd is ready; afterwards one timer
 * holds the next pass — 0 ms after a kick (kicks coalesce: many kicks in a
 * loop turn make one pass), 1 ms when the stock is still short, else
 * RECONCILE_PERIOD_MS. A pass that failed is retried on the next kick or
 * period — after RECONCILE_RETRY_MS when the registry was locked by another
 * process (our busy timeout is short: registry.h) or full.
 *
 * Ring 2 (pool-worker → netd): UI_OP_NET_KICK {vm_id, ip, tap} says leases
 * changed; a non-empty tap is a lease waiting for its tap, remembered in
 * `requested` until answered. Other ops are logged and ignored.
 * Ring 3 (netd → pool-worker): after each pass, UI_OP_TAP_READY {tap, ip,
 * vm_id of the lease, status 0 or -errno + error} for every requested tap
 * that is ready or whose making failed (req_id 0, gen 0: notifications, not
 * replies); a request whose lease is gone is dropped unanswered. The
 * start-up pass requests every leased tap (pool-worker may have VMs waiting
 * from before a netd restart; it ignores notes it does not need).
 *
 * Ownership: struct reconciler is caller-embedded; it borrows the daemon's
 * registry, config and loop, nl and the writer, and owns its handles (the
 * timer, the deletion queue's) and the requested names.
 */
#ifndef NETD_RECONCILE_H
#define NETD_RECONCILE_H

#include <stdbool.h>
#include <uv.h>

#include "daemon.h"
#include "delq.h"
#include "netlink.h"
#include "pass.h"
#include "plan.h"
#include "ringio.h"
#include "vec.h"

#define RECONCILE_PERIOD_MS 10000
#define RECONCILE_RETRY_MS 250
#define RECONCILE_AGAIN_MS 1   /* not 0: see delq.h on libuv's 0 ms timers */

struct reconciler {
	struct pass_env env;
	struct ui_ipam ipam;
	struct delq dq;
	uv_loop_t *loop;
	uv_timer_t timer;          /* the next pass */
	bool timer_ok;             /* timer initialised */
	struct ui_ring_writer *out;
	struct plan_peak peak;
	struct vec requested;      /* tap names a kick waits on */
	int reg_down;              /* the last pass's -EBUSY/-ENOSPC, or 0 */
	struct ui_shm *shm;        /* netd's fault: the last pass's outcome */
	unsigned failed_ops;       /* operations the last pass failed */
};

/* Checks the network config (-EINVAL), makes sure of the bridge and its
 * address (-EEXIST: a link of that name is no bridge), sets up the
 * handles. Errors are logged. */
int reconcile_init(struct reconciler *r, struct ui_daemon_ctx *d, struct netlink *nl,
		   struct ui_ring_writer *out);
/* The start-up pass, then the timer; its error if the pass failed. */
int reconcile_start(struct reconciler *r);
/* A pass as soon as the loop can (the policy changed: SIGHUP). */
void reconcile_kick(struct reconciler *r);
/* The ring 2 handler (reader data: the reconciler). */
void reconcile_on_msg(struct ui_ring_reader *rd, struct ui_msg *m);
/* Closes the handles, frees the rest; safe on a zeroed or closed one. */
void reconcile_close(struct reconciler *r);

#endif
