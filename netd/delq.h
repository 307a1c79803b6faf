/*
 * delq.h — netd's background deletions: tap devices whose row is
 * 'deleting' (or orphans without a row), removed one per loop turn.
 *
 * A deletion costs the kernel ~21 ms (an RCU grace period), so passes
 * never delete: they queue, and this queue deletes one device per loop
 * turn — device first (netlink_delete_link; already gone is fine), then
 * its row (ui_reg_tap_delete; no row is fine) — so a kick that arrives
 * meanwhile gets its pass between two deletions: creation never waits
 * behind deletions. A name is queued at most once. A deletion that fails
 * is logged and dropped: its row is still 'deleting', so the next pass
 * queues it again (level-triggered; nothing here must survive a crash).
 *
 * "One per loop turn" is a uv_idle handle, not a re-armed 0 ms timer:
 * libuv 1.44 runs a 0 ms timer armed from its own callback again in the
 * same turn, which would drain the whole queue before any poll.
 *
 * Ownership: struct delq is caller-embedded; it borrows nl and reg and
 * owns its handle (on the loop given to init) and its names.
 */
#ifndef NETD_DELQ_H
#define NETD_DELQ_H

#include <stdbool.h>
#include <uv.h>

#include "netlink.h"
#include "registry.h"
#include "vec.h"

struct delq {
	struct netlink *nl;
	struct ui_registry *reg;
	struct vec names;        /* FIFO: the next deletion first */
	uv_idle_t idle;          /* active while names is non-empty */
	bool ok;                 /* idle initialised */
};

int delq_init(struct delq *q, uv_loop_t *loop, struct netlink *nl,
	      struct ui_registry *reg);
/* Queues name unless it is queued already. */
int delq_push(struct delq *q, const char *name);
bool delq_has(const struct delq *q, const char *name);
/* Drops what is queued (logged: the rows stay 'deleting'), closes. */
void delq_close(struct delq *q);

#endif
