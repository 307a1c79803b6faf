/*
 * reconcile.c — the pass schedule, kicks and TAP_READY notes (see
 * reconcile.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "reconcile.h"

/* ---- notes to pool-worker ------------------------------------------------ */

/* Whether tap `name` is ready (0), failed (-errno) or still pending
 * (-EINPROGRESS: not reached, skipped, or waiting for a deletion). */
static int outcome(const struct plan_in *in, const struct plan *p, const char *name)
{
	const struct plan_item *it = plan_find(p, name);
	const struct ui_tap *row;

	if (it)
		return plan_op_makes_ready(it->op) && it->rc != -ESTALE ? it->rc : -EINPROGRESS;
	row = plan_row_of(in, name);
	return row && !strcmp(row->state, UI_TAP_READY) ? 0 : -EINPROGRESS;
}

static void send_note(struct reconciler *r, const struct ui_lease *l, int status)
{
	struct ui_msg m = { .op = UI_OP_TAP_READY, .status = status };
	int rc;

	snprintf(m.tap, sizeof(m.tap), "%s", l->tap);
	snprintf(m.ip, sizeof(m.ip), "%s", l->ip);
	snprintf(m.vm_id, sizeof(m.vm_id), "%s", l->vm_id);
	if (status < 0)
		snprintf(m.error, sizeof(m.error), "cannot create tap %s: %s", l->tap,
			 strerror(-status));
	rc = ui_ring_writer_send(r->out, &m);
	if (rc < 0)
		ui_error("TAP_READY %s for %s lost: %s", l->tap, l->vm_id, strerror(-rc));
}

/* Answers the requested taps that are settled; drops those nobody leases. */
static void notify(struct reconciler *r, const struct plan_in *in, const struct plan *p)
{
	for (size_t i = 0; i < r->requested.n;) {
		const char *name = names_at(&r->requested, i);
		const struct ui_lease *l = plan_lease_of(in, name);
		int st = l ? outcome(in, p, name) : 0;

		if (st == -EINPROGRESS) {
			i++;
			continue;
		}
		if (l)
			send_note(r, l, st);
		vec_remove(&r->requested, i);
	}
}

static void request(struct reconciler *r, const char *tap)
{
	int rc = names_add(&r->requested, tap);

	if (rc < 0)
		ui_warn("cannot remember that tap %s is awaited: %s", tap, strerror(-rc));
}

/* ---- one pass -------------------------------------------------------------- */

/* One line when the pass did something: what, per op, and the stock.
 * Returns how many of its operations failed. */
static unsigned summary(const struct plan *p, size_t leased)
{
	unsigned done[PLAN_FOREIGN + 1] = { 0 }, failed = 0;
	char buf[256] = "";
	size_t n = 0;

	for (size_t i = 0; i < p->items.n; i++) {
		const struct plan_item *it = plan_item(p, i);

		if (it->rc == 0)
			done[it->op]++;
		else if (it->rc != -EINPROGRESS && it->rc != -ESTALE && it->rc != -EALREADY)
			failed++;
	}
	for (int op = 0; op < PLAN_FOREIGN && n < sizeof(buf); op++)
		if (done[op])
			n += snprintf(buf + n, sizeof(buf) - n, " %s %u,", plan_op_name(op), done[op]);
	if (failed && n < sizeof(buf))
		n += snprintf(buf + n, sizeof(buf) - n, " failed %u,", failed);
	if (n == 0)
		return failed;
	buf[n < sizeof(buf) ? n - 1 : sizeof(buf) - 1] = '\0'; /* the last comma */
	ui_info("pass:%s; %zu leased, %u spare(s) before, %u wanted", buf, leased, p->spares,
		p->want);
	return failed;
}

static int plan_and_act(struct reconciler *r, struct plan_in *in, bool first, bool *more)
{
	struct plan p;
	int rc = plan_make(in, &p);

	if (rc < 0) {
		ui_warn("pass: cannot plan: %s", strerror(-rc));
		return rc;
	}
	rc = pass_act(&r->env, &p, first);
	notify(r, in, &p);
	r->failed_ops = summary(&p, in->n_leases);
	*more = p.more;
	plan_free(&p);
	return rc;
}

static int run_pass(struct reconciler *r, bool first, bool *more)
{
	const struct ui_config *cfg = r->env.cfg;
	struct plan_in in;
	struct world w;
	int rc = pass_read(&r->env, &w);

	*more = false;
	r->failed_ops = 0;
	if (rc < 0)
		return rc;
	world_plan_in(&w, &r->env, &in);
	for (size_t i = 0; first && i < in.n_leases; i++)
		request(r, in.leases[i].tap);
	in.policy.tap_stock = cfg->tap_stock;
	in.policy.pool_size = cfg->pool_size;
	in.policy.peak = plan_peak_note(&r->peak, uv_now(r->loop), (unsigned)in.n_leases);
	rc = plan_and_act(r, &in, first, more);
	world_free(&w);
	return rc;
}

/* ---- schedule ---------------------------------------------------------------- */

static void on_timer(uv_timer_t *t);

static void schedule(struct reconciler *r, uint64_t ms)
{
	int rc = uv_timer_start(&r->timer, on_timer, ms, 0);

	if (rc < 0)
		ui_error("cannot schedule a pass: %s", uv_strerror(rc));
}

/* The last pass's outcome, for GET /healthz (netd_reconciled). */
static void publish(struct reconciler *r, int rc)
{
	char msg[128] = "";

	if (rc < 0)
		snprintf(msg, sizeof(msg), "the last pass failed: %s", strerror(-rc));
	else if (r->failed_ops)
		snprintf(msg, sizeof(msg), "the last pass: %u tap operation(s) failed (netd's log "
			 "says which)", r->failed_ops);
	if (r->shm)
		ui_daemon_set_fault(r->shm, UI_D_NETD, rc < 0 ? rc : r->failed_ops ? -EIO : 0, msg);
}

/* A pass now; the next one soon if it left work, else after the period. */
static int pass_now(struct reconciler *r, bool first)
{
	bool more;
	int rc = run_pass(r, first, &more);

	publish(r, rc);
	if (rc == -EBUSY || rc == -ENOSPC) { /* locked elsewhere or full: soon again */
		if (r->reg_down != rc)
			ui_warn("registry %s: passes retried every %u ms until it takes writes",
				rc == -EBUSY ? "locked by another process" : "full",
				RECONCILE_RETRY_MS);
		r->reg_down = rc;
		schedule(r, RECONCILE_RETRY_MS);
		return rc;
	}
	if (r->reg_down && rc == 0)
		ui_info("registry takes writes again");
	r->reg_down = rc == 0 ? 0 : r->reg_down;
	schedule(r, rc == 0 && more ? RECONCILE_AGAIN_MS : RECONCILE_PERIOD_MS);
	return rc;
}

static void on_timer(uv_timer_t *t)
{
	pass_now(t->data, false); /* a failure is logged; retried on the next wake */
}

void reconcile_kick(struct reconciler *r)
{
	schedule(r, 0);
}

void reconcile_on_msg(struct ui_ring_reader *rd, struct ui_msg *m)
{
	struct reconciler *r = rd->data;

	if (m->op != UI_OP_NET_KICK) {
		ui_warn("ring %d: op %u is not for netd; ignored", UI_RING_POOL_TO_NET, m->op);
		return;
	}
	ui_debug("kick: vm %s, tap %s", m->vm_id[0] ? m->vm_id : "-", m->tap[0] ? m->tap : "-");
	if (m->tap[0])
		request(r, m->tap);
	schedule(r, 0);
}

/* ---- life ------------------------------------------------------------------ */

static int network_check(struct reconciler *r, const struct ui_config *cfg)
{
	char gw[UI_IPAM_IP_LEN], net[UI_IPAM_IP_LEN];
	int ifindex, rc = ui_ipam_init(&r->ipam, cfg->subnet, cfg->prefix_len, cfg->gateway);

	ui_ipam_format_ip(cfg->gateway, gw);
	if (rc < 0) {
		ui_ipam_format_ip(cfg->subnet, net);
		ui_error("network: gateway %s is no host address of %s/%u", gw, net,
			 cfg->prefix_len);
		return rc;
	}
	rc = pass_bridge(&r->env, &ifindex);
	if (rc < 0)
		ui_error("bridge %s with %s/%u: %s%s", cfg->bridge, gw, cfg->prefix_len,
			 strerror(-rc), rc == -EEXIST ? " (a link of that name is no bridge)" : "");
	else
		ui_info("bridge %s up with %s/%u", cfg->bridge, gw, cfg->prefix_len);
	return rc;
}

static int handles_init(struct reconciler *r, uv_loop_t *loop, struct netlink *nl,
			struct ui_registry *reg)
{
	int rc = delq_init(&r->dq, loop, nl, reg);

	if (rc == 0)
		rc = uv_timer_init(loop, &r->timer);
	r->timer.data = r;
	r->timer_ok = rc == 0;
	return rc;
}

int reconcile_init(struct reconciler *r, struct ui_daemon_ctx *d, struct netlink *nl,
		   struct ui_ring_writer *out)
{
	int rc;

	memset(r, 0, sizeof(*r));
	r->env = (struct pass_env){ d->reg, nl, &r->dq, &r->ipam, &d->cfg };
	r->loop = &d->loop;
	r->out = out;
	r->shm = d->shm;
	r->requested = (struct vec)NAMES_INIT;
	rc = network_check(r, &d->cfg);
	if (rc == 0 && (rc = handles_init(r, &d->loop, nl, d->reg)) < 0)
		ui_error("event loop: %s", uv_strerror(rc));
	return rc;
}

int reconcile_start(struct reconciler *r)
{
	int rc = pass_now(r, true);

	if (rc == -EBUSY || rc == -ENOSPC) { /* the registry's fault, for now */
		ui_warn("start-up pass: registry %s; retried in %u ms",
			rc == -EBUSY ? "locked by another process" : "full", RECONCILE_RETRY_MS);
		return 0;
	}
	if (rc < 0)
		ui_error("start-up pass failed: %s", strerror(-rc));
	return rc;
}

void reconcile_close(struct reconciler *r)
{
	delq_close(&r->dq);
	if (r->timer_ok && !uv_is_closing((uv_handle_t *)&r->timer))
		uv_close((uv_handle_t *)&r->timer, NULL);
	r->timer_ok = false;
	vec_free(&r->requested);
}
