/*
 * pass.c — reading the world and acting on a plan (see pass.h for the
 * error rules). Each plan op has one act_* function; the order of the
 * registry and netlink steps inside it is what keeps a crash traceable:
 *   FINISH   ensure device → row creating→ready
 *   CREATE,  row 'creating' → FINISH's steps
 *   STOCK
 *   ADOPT    row 'ready' (the device is already in place)
 *   REPAIR   ensure device
 *   RETIRE   row ready→deleting (guarded: no lease) → queue the deletion
 *   ORPHAN   row 'deleting' (guarded: no lease) → queue the deletion
 *   DELETE   queue the deletion (already queued: nothing to do)
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "pass.h"

/* ---- reading ------------------------------------------------------------- */

int pass_bridge(const struct pass_env *e, int *ifindex)
{
	const struct ui_config *cfg = e->cfg;
	struct netlink_link br;
	int rc = netlink_ensure_bridge(e->nl, cfg->bridge, cfg->gateway, cfg->prefix_len);

	if (rc == 0)
		rc = netlink_link_info(e->nl, cfg->bridge, &br);
	if (rc == 0)
		*ifindex = br.ifindex;
	return rc;
}

static int push_lease(const struct ui_lease *l, void *arg)
{
	return vec_push(arg, l);
}

static int push_row(const struct ui_tap *t, void *arg)
{
	return vec_push(arg, t);
}

struct link_walk {
	struct vec *links;
	int bridge;                    /* its ifindex */
};

static int push_link(const char *name, const struct netlink_link *info, void *arg)
{
	struct link_walk *lw = arg;
	struct plan_link l = {
		.is_tap = info->is_tap,
		.enslaved = info->master == lw->bridge,
		.up = info->up,
	};

	snprintf(l.name, sizeof(l.name), "%s", name);
	return vec_push(lw->links, &l);
}

static int read_failed(int rc, const char *what)
{
	ui_warn("pass: cannot read %s: %s; retried later", what, strerror(-rc));
	return rc;
}

int pass_read(const struct pass_env *e, struct world *w)
{
	struct link_walk lw = { &w->links, 0 };
	int rc;

	*w = (struct world){ VEC_INIT(struct ui_lease), VEC_INIT(struct ui_tap),
			     VEC_INIT(struct plan_link) };
	if ((rc = pass_bridge(e, &lw.bridge)) < 0)
		read_failed(rc, "the bridge");
	else if ((rc = ui_reg_lease_list(e->reg, push_lease, &w->leases)) < 0)
		read_failed(rc, "the leases");
	else if ((rc = ui_reg_tap_list(e->reg, push_row, &w->rows)) < 0)
		read_failed(rc, "the taps rows");
	else if ((rc = netlink_list_links(e->nl, e->cfg->tap_prefix, push_link, &lw)) < 0)
		read_failed(rc, "the kernel's links");
	if (rc < 0)
		world_free(w);
	return rc;
}

void world_free(struct world *w)
{
	vec_free(&w->leases);
	vec_free(&w->rows);
	vec_free(&w->links);
}

void world_plan_in(const struct world *w, const struct pass_env *e, struct plan_in *in)
{
	memset(in, 0, sizeof(*in));
	in->leases = w->leases.v;
	in->n_leases = w->leases.n;
	in->rows = w->rows.v;
	in->n_rows = w->rows.n;
	in->links = w->links.v;
	in->n_links = w->links.n;
	in->ipam = e->ipam;
	in->prefix = e->cfg->tap_prefix;
	in->bridge = e->cfg->bridge;
}

/* ---- acting -------------------------------------------------------------- */

/* A registry result for item it: 0 goes on; -ESTALE (skipped: a lease
 * moved in between) and -EEXIST (failed) concern this tap only; anything
 * else aborts the pass (the registry has logged the cause). */
static int reg_result(struct plan_item *it, int rc, const char *what)
{
	if (rc == 0)
		return 0;
	if (rc == -ESTALE) {
		ui_info("tap %s: %s: changed meanwhile, left to the next pass", it->name, what);
		it->rc = rc;
		return 0;
	}
	if (rc == -EEXIST) {
		ui_warn("tap %s: %s: %s", it->name, what, strerror(-rc));
		it->rc = rc;
		return 0;
	}
	/* A locked or full registry is said once, by the schedule (reconcile.c). */
	ui_log(rc == -EBUSY || rc == -ENOSPC ? UI_LOG_DEBUG : UI_LOG_WARN,
	       "tap %s: %s: %s; pass aborted", it->name, what, strerror(-rc));
	return rc;
}

static int row_insert(const struct pass_env *e, struct plan_item *it, const char *state)
{
	struct ui_tap t = { 0 };

	snprintf(t.name, sizeof(t.name), "%s", it->name);
	snprintf(t.ip, sizeof(t.ip), "%s", it->ip);
	snprintf(t.state, sizeof(t.state), "%s", state);
	return reg_result(it, ui_reg_tap_insert(e->reg, &t), "insert row");
}

/* The device in place; a failure fails the item only (recorded in it). */
static int ensure(const struct pass_env *e, struct plan_item *it)
{
	int rc = netlink_ensure_tap(e->nl, it->name, e->cfg->bridge);

	if (rc < 0) {
		ui_warn("cannot %s tap %s: %s", it->op == PLAN_REPAIR ? "repair" : "create",
			it->name, strerror(-rc));
		it->rc = rc;
	}
	return rc;
}

static int act_finish(const struct pass_env *e, struct plan_item *it)
{
	static const char *const why[] = {
		[PLAN_FINISH] = "after an interrupted create",
		[PLAN_CREATE] = "for its lease",
		[PLAN_STOCK] = "as a spare",
	};
	int rc;

	if (ensure(e, it) < 0)
		return 0;
	rc = ui_reg_tap_set_state(e->reg, it->name, UI_TAP_CREATING, UI_TAP_READY);
	if (rc == 0) {
		it->rc = 0;
		ui_info("tap %s created %s (%s)", it->name, why[it->op], it->ip);
	}
	return reg_result(it, rc, "creating→ready");
}

static int act_create(const struct pass_env *e, struct plan_item *it)
{
	int rc = row_insert(e, it, UI_TAP_CREATING);

	return rc < 0 || it->rc != -EINPROGRESS ? rc : act_finish(e, it);
}

static int act_adopt(const struct pass_env *e, struct plan_item *it)
{
	int rc = row_insert(e, it, UI_TAP_READY);

	if (rc == 0 && it->rc == -EINPROGRESS) {
		it->rc = 0;
		ui_info("tap %s adopted: in place for its lease, had no row", it->name);
	}
	return rc;
}

static int act_repair(const struct pass_env *e, struct plan_item *it)
{
	if (ensure(e, it) == 0) {
		it->rc = 0;
		ui_info("tap %s repaired (missing, not on the bridge or down)", it->name);
	}
	return 0;
}

static void queue(const struct pass_env *e, struct plan_item *it)
{
	if (delq_has(e->dq, it->name))
		it->rc = -EALREADY;
	else
		it->rc = delq_push(e->dq, it->name);
}

static int act_retire(const struct pass_env *e, struct plan_item *it)
{
	int rc = reg_result(it, ui_reg_tap_retire(e->reg, it->name), "ready→deleting");

	if (rc == 0 && it->rc == -EINPROGRESS) {
		ui_info("tap %s retired: a spare beyond the stock", it->name);
		queue(e, it);
	}
	return rc;
}

/* An orphan named as no address of the subnet has no row to write: its
 * deletion is queued alone (and no lease can name it). */
static int act_orphan(const struct pass_env *e, struct plan_item *it)
{
	int rc = it->ip[0] ? row_insert(e, it, UI_TAP_DELETING) : 0;

	if (rc == 0 && it->rc == -EINPROGRESS) {
		ui_info("tap %s has neither row nor lease: deleting it", it->name);
		queue(e, it);
	}
	return rc;
}

static int act_foreign(struct plan_item *it, bool first)
{
	if (first)
		ui_warn("%s has the tap prefix but is not a tap: left alone", it->name);
	else
		ui_debug("%s has the tap prefix but is not a tap: left alone", it->name);
	it->rc = -EALREADY;
	return 0;
}

static int act(const struct pass_env *e, struct plan_item *it, bool first)
{
	switch (it->op) {
	case PLAN_FINISH:
		return act_finish(e, it);
	case PLAN_CREATE:
	case PLAN_STOCK:
		return act_create(e, it);
	case PLAN_ADOPT:
		return act_adopt(e, it);
	case PLAN_REPAIR:
		return act_repair(e, it);
	case PLAN_RETIRE:
		return act_retire(e, it);
	case PLAN_ORPHAN:
		return act_orphan(e, it);
	case PLAN_DELETE:
		queue(e, it);
		return 0;
	case PLAN_FOREIGN:
		return act_foreign(it, first);
	}
	return 0;
}

int pass_act(const struct pass_env *e, struct plan *p, bool first)
{
	int rc = 0;

	for (size_t i = 0; i < p->items.n && rc == 0; i++)
		rc = act(e, plan_item(p, i), first);
	return rc;
}
