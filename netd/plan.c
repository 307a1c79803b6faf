/*
 * plan.c — the reconciliation rules (see plan.h), as phases over the
 * inputs, each appending its items in the order they are to be done.
 *
 * Lookups are linear: a pass costs O(taps²) string compares — nothing for
 * the few dozen taps of a host, a few ms at a thousand.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan.h"

const struct ui_lease *plan_lease_of(const struct plan_in *in, const char *tap)
{
	for (size_t i = 0; i < in->n_leases; i++)
		if (!strcmp(in->leases[i].tap, tap))
			return &in->leases[i];
	return NULL;
}

const struct ui_tap *plan_row_of(const struct plan_in *in, const char *name)
{
	for (size_t i = 0; i < in->n_rows; i++)
		if (!strcmp(in->rows[i].name, name))
			return &in->rows[i];
	return NULL;
}

static const struct plan_link *link_of(const struct plan_in *in, const char *name)
{
	for (size_t i = 0; i < in->n_links; i++)
		if (!strcmp(in->links[i].name, name))
			return &in->links[i];
	return NULL;
}

/* The device is what a 'ready' row promises. */
static bool in_place(const struct plan_link *l)
{
	return l && l->is_tap && l->enslaved && l->up;
}

/* The address a tap name stands for: prefix + host index, written as
 * ui_ipam_format_tap writes it (so "uit-05" is no address). */
static bool name_ip(const struct plan_in *in, const char *name, uint32_t *ip)
{
	size_t plen = strlen(in->prefix);
	char canon[UI_IPAM_TAP_LEN], *end;
	unsigned long idx;

	if (strncmp(name, in->prefix, plen) || name[plen] < '0' || name[plen] > '9')
		return false;
	idx = strtoul(name + plen, &end, 10);
	if (*end || idx >= in->ipam->broadcast - in->ipam->network)
		return false;
	*ip = in->ipam->network + (uint32_t)idx;
	return ui_ipam_format_tap(in->ipam, in->prefix, *ip, canon) == 0 &&
	       !strcmp(canon, name);
}

static int add(struct plan *p, enum plan_op op, const char *name, const char *ip)
{
	struct plan_item it = { .op = op, .rc = -EINPROGRESS };

	snprintf(it.name, sizeof(it.name), "%s", name);
	snprintf(it.ip, sizeof(it.ip), "%s", ip);
	return vec_push(&p->items, &it);
}

/* Rows: FINISH 'creating' ones, REPAIR leased 'ready' ones out of place. */
static int plan_rows(const struct plan_in *in, struct plan *p)
{
	int rc = 0;

	for (size_t i = 0; i < in->n_rows && rc == 0; i++) {
		const struct ui_tap *t = &in->rows[i];

		if (!strcmp(t->state, UI_TAP_CREATING))
			rc = add(p, PLAN_FINISH, t->name, t->ip);
		else if (!strcmp(t->state, UI_TAP_READY) && plan_lease_of(in, t->name) &&
			 !in_place(link_of(in, t->name)))
			rc = add(p, PLAN_REPAIR, t->name, t->ip);
	}
	return rc;
}

/* Leases whose tap has no row: ADOPT its device if in place, else CREATE. */
static int plan_leases(const struct plan_in *in, struct plan *p)
{
	int rc = 0;

	for (size_t i = 0; i < in->n_leases && rc == 0; i++) {
		const struct ui_lease *l = &in->leases[i];

		if (plan_row_of(in, l->tap))
			continue;
		rc = add(p, in_place(link_of(in, l->tap)) ? PLAN_ADOPT : PLAN_CREATE, l->tap,
			 l->ip);
	}
	return rc;
}

unsigned plan_stock_want(const struct plan_policy *p, unsigned leased)
{
	unsigned want = p->tap_stock;

	if (want == 0)
		return 0;
	if (p->pool_size > want)
		want = p->pool_size;
	if (p->peak > leased && p->peak - leased > want)
		want = p->peak - leased;
	return want;
}

/* A 'ready' spare and the address it sorts by. */
struct spare {
	uint32_t ip;
	const struct ui_tap *row;
};

static int by_ip_desc(const void *a, const void *b)
{
	uint32_t x = ((const struct spare *)a)->ip, y = ((const struct spare *)b)->ip;

	return (x < y) - (x > y);
}

/* The 'ready' spares, highest address first; *creating counts the others. */
static int spares_collect(const struct plan_in *in, struct vec *ready, unsigned *creating)
{
	int rc = 0;

	*creating = 0;
	for (size_t i = 0; i < in->n_rows && rc == 0; i++) {
		const struct ui_tap *t = &in->rows[i];
		struct spare s = { 0, t };

		if (plan_lease_of(in, t->name))
			continue;
		if (!strcmp(t->state, UI_TAP_CREATING))
			(*creating)++;
		else if (!strcmp(t->state, UI_TAP_READY)) {
			if (ui_ipam_parse_ip(t->ip, &s.ip) < 0)
				s.ip = 0;
			rc = vec_push(ready, &s);
		}
	}
	if (rc == 0 && ready->n > 1)
		qsort(ready->v, ready->n, ready->size, by_ip_desc);
	return rc;
}

static int ip_add(struct vec *ips, const char *s)
{
	uint32_t ip;

	return ui_ipam_parse_ip(s, &ip) == 0 ? vec_push(ips, &ip) : 0;
}

/* Every address taken: leased, with a row (any state), or named by a link. */
static int ips_taken(const struct plan_in *in, struct vec *ips)
{
	int rc = 0;

	for (size_t i = 0; i < in->n_leases && rc == 0; i++)
		rc = ip_add(ips, in->leases[i].ip);
	for (size_t i = 0; i < in->n_rows && rc == 0; i++)
		rc = ip_add(ips, in->rows[i].ip);
	for (size_t i = 0; i < in->n_links && rc == 0; i++) {
		uint32_t ip;

		if (name_ip(in, in->links[i].name, &ip))
			rc = vec_push(ips, &ip);
	}
	return rc;
}

/* STOCK up to `need` new taps (at most PLAN_MAX_NEW) at the lowest free
 * indices; `more` when the stock stays short only because of the cap. */
static int plan_new(const struct plan_in *in, struct plan *p, unsigned need)
{
	struct vec taken = VEC_INIT(uint32_t);
	struct ui_ipam_addr a;
	unsigned made = 0;
	uint32_t ip;
	int rc = ips_taken(in, &taken);

	while (rc == 0 && made < need && made < PLAN_MAX_NEW &&
	       ui_ipam_pick(in->ipam, taken.v, taken.n, &ip) == 0 &&
	       ui_ipam_describe(in->ipam, in->prefix, ip, &a) == 0) {
		rc = add(p, PLAN_STOCK, a.tap, a.ip);
		if (rc == 0)
			rc = vec_push(&taken, &ip);
		made++;
	}
	p->more = rc == 0 && made == PLAN_MAX_NEW && need > PLAN_MAX_NEW;
	vec_free(&taken);
	return rc;
}

/* The stock: REPAIR the spares kept, STOCK what is short, RETIRE the
 * surplus (highest index first). */
static int plan_stock(const struct plan_in *in, struct plan *p)
{
	struct vec ready = VEC_INIT(struct spare);
	unsigned creating, retire = 0;
	int rc = spares_collect(in, &ready, &creating);

	p->spares = (unsigned)ready.n + creating;
	p->want = plan_stock_want(&in->policy, (unsigned)in->n_leases);
	if (p->spares > p->want)
		retire = p->spares - p->want < ready.n ? p->spares - p->want : (unsigned)ready.n;
	for (size_t i = retire; i < ready.n && rc == 0; i++) {
		const struct ui_tap *t = ((struct spare *)vec_at(&ready, i))->row;

		if (!in_place(link_of(in, t->name)))
			rc = add(p, PLAN_REPAIR, t->name, t->ip);
	}
	if (rc == 0 && p->spares < p->want)
		rc = plan_new(in, p, p->want - p->spares);
	for (size_t i = 0; i < retire && rc == 0; i++) {
		const struct ui_tap *t = ((struct spare *)vec_at(&ready, i))->row;

		rc = add(p, PLAN_RETIRE, t->name, t->ip);
	}
	vec_free(&ready);
	return rc;
}

/* Links without row nor lease: ORPHAN taps, FOREIGN anything else. */
static int plan_links(const struct plan_in *in, struct plan *p)
{
	int rc = 0;

	for (size_t i = 0; i < in->n_links && rc == 0; i++) {
		const struct plan_link *l = &in->links[i];
		char ip[UI_IPAM_IP_LEN] = "";
		uint32_t addr;

		if (!strcmp(l->name, in->bridge) || plan_row_of(in, l->name) ||
		    plan_lease_of(in, l->name))
			continue;
		if (!l->is_tap) {
			rc = add(p, PLAN_FOREIGN, l->name, "");
			continue;
		}
		if (name_ip(in, l->name, &addr))
			ui_ipam_format_ip(addr, ip);
		rc = add(p, PLAN_ORPHAN, l->name, ip);
	}
	return rc;
}

static int plan_deleting(const struct plan_in *in, struct plan *p)
{
	int rc = 0;

	for (size_t i = 0; i < in->n_rows && rc == 0; i++)
		if (!strcmp(in->rows[i].state, UI_TAP_DELETING))
			rc = add(p, PLAN_DELETE, in->rows[i].name, in->rows[i].ip);
	return rc;
}

int plan_make(const struct plan_in *in, struct plan *out)
{
	int rc;

	memset(out, 0, sizeof(*out));
	out->items.size = sizeof(struct plan_item);
	rc = plan_rows(in, out);
	if (rc == 0)
		rc = plan_leases(in, out);
	if (rc == 0)
		rc = plan_stock(in, out);
	if (rc == 0)
		rc = plan_links(in, out);
	if (rc == 0)
		rc = plan_deleting(in, out);
	if (rc < 0)
		plan_free(out);
	return rc;
}

void plan_free(struct plan *p)
{
	vec_free(&p->items);
}

struct plan_item *plan_item(const struct plan *p, size_t i)
{
	return vec_at(&p->items, i);
}

const struct plan_item *plan_find(const struct plan *p, const char *name)
{
	for (size_t i = 0; i < p->items.n; i++)
		if (!strcmp(plan_item(p, i)->name, name))
			return plan_item(p, i);
	return NULL;
}

const char *plan_op_name(enum plan_op op)
{
	static const char *const names[] = {
		[PLAN_FINISH] = "finish", [PLAN_REPAIR] = "repair", [PLAN_ADOPT] = "adopt",
		[PLAN_CREATE] = "create", [PLAN_STOCK] = "stock", [PLAN_RETIRE] = "retire",
		[PLAN_ORPHAN] = "orphan", [PLAN_DELETE] = "delete", [PLAN_FOREIGN] = "foreign",
	};

	return op < sizeof(names) / sizeof(names[0]) ? names[op] : "?";
}

bool plan_op_makes_ready(enum plan_op op)
{
	return op == PLAN_FINISH || op == PLAN_REPAIR || op == PLAN_ADOPT ||
	       op == PLAN_CREATE || op == PLAN_STOCK;
}

unsigned plan_peak_note(struct plan_peak *pk, uint64_t now_ms, unsigned leased)
{
	uint64_t now = now_ms / 1000;
	size_t b = now % PLAN_PEAK_WINDOW_S;
	unsigned peak = 0;

	if (pk->sec[b] != now) {
		pk->sec[b] = now;
		pk->max[b] = 0;
	}
	if (leased > pk->max[b])
		pk->max[b] = leased;
	for (size_t i = 0; i < PLAN_PEAK_WINDOW_S; i++)
		if (now - pk->sec[i] < PLAN_PEAK_WINDOW_S && pk->max[i] > peak)
			peak = pk->max[i];
	return peak;
}
