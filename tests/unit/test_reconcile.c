/*
 * test_reconcile.c — netd's reconciliation rules (netd/plan.c), pure: no
 * registry, no netlink, no root. Each table case gives the world in a
 * short notation and the plan it must produce, item by item, in order.
 *
 * Notation (subnet 172.31.0.0/24, gateway .1, prefix "uit-"): a number N
 * is tap uit-N at 172.31.0.N; any other word is a link name as written.
 *   leases  "5 7"                  leases of uit-5 and uit-7
 *   rows    "3 4=creating 9=del"   rows ('ready' unless said)
 *   links   "3 4=loose 5=down 6=veth"  links: a tap, enslaved and up
 *                                  unless loose (no master), down, veth
 *   plan    "finish:4 stock:2"     op:name-without-prefix, in order
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "../../netd/plan.h"
#include "t.h"

#define IP4(a, b, c, d) (((uint32_t)(a) << 24) | ((b) << 16) | ((c) << 8) | (d))
#define MAXN 64

struct world {
	struct ui_ipam ipam;
	struct ui_lease leases[MAXN];
	struct ui_tap rows[MAXN];
	struct plan_link links[MAXN];
	struct plan_in in;
};

/* "7" -> "uit-7"; a word that is not a number is taken as written. */
static void tap_name(const char *tok, size_t len, char out[UI_IPAM_TAP_LEN])
{
	bool num = len && tok[0] >= '0' && tok[0] <= '9';

	snprintf(out, UI_IPAM_TAP_LEN, "%s%.*s", num ? "uit-" : "", (int)len, tok);
}

static void tap_ip(const char *name, char out[UI_IPAM_IP_LEN])
{
	unsigned n = 0;

	sscanf(name, "uit-%u", &n);
	ui_ipam_format_ip(IP4(172, 31, 0, 0) + n, out);
}

/* Calls each(world, name, attribute) for every "name[=attr]" word of s. */
static size_t each_word(struct world *w, const char *s,
			void (*each)(struct world *w, size_t i, const char *name, const char *attr))
{
	size_t n = 0;

	while (s && *s) {
		size_t len = strcspn(s, " "), nlen = strcspn(s, " =");
		char name[UI_IPAM_TAP_LEN], attr[32] = "";

		if (len) {
			T_ASSERT(n < MAXN);
			tap_name(s, nlen, name);
			if (nlen < len)
				snprintf(attr, sizeof(attr), "%.*s", (int)(len - nlen - 1), s + nlen + 1);
			each(w, n++, name, attr);
		}
		s += len + (s[len] == ' ');
	}
	return n;
}

static void put_lease(struct world *w, size_t i, const char *name, const char *attr)
{
	struct ui_lease *l = &w->leases[i];

	(void)attr;
	snprintf(l->tap, sizeof(l->tap), "%s", name);
	tap_ip(name, l->ip);
	snprintf(l->vm_id, sizeof(l->vm_id), "vm-%s", name);
	snprintf(l->state, sizeof(l->state), "bound");
}

static void put_row(struct world *w, size_t i, const char *name, const char *attr)
{
	struct ui_tap *t = &w->rows[i];

	snprintf(t->name, sizeof(t->name), "%s", name);
	tap_ip(name, t->ip);
	snprintf(t->state, sizeof(t->state), "%s",
		 !attr[0] ? UI_TAP_READY : !strcmp(attr, "del") ? UI_TAP_DELETING : attr);
}

static void put_link(struct world *w, size_t i, const char *name, const char *attr)
{
	struct plan_link *l = &w->links[i];

	snprintf(l->name, sizeof(l->name), "%s", name);
	l->is_tap = strcmp(attr, "veth") != 0;
	l->enslaved = strcmp(attr, "loose") != 0;
	l->up = strcmp(attr, "down") != 0;
}

static struct plan_in *world(struct world *w, const char *leases, const char *rows,
			     const char *links, struct plan_policy pol)
{
	memset(w, 0, sizeof(*w));
	T_EQ_INT(ui_ipam_init(&w->ipam, IP4(172, 31, 0, 0), 24, IP4(172, 31, 0, 1)), 0);
	w->in.leases = w->leases;
	w->in.n_leases = each_word(w, leases, put_lease);
	w->in.rows = w->rows;
	w->in.n_rows = each_word(w, rows, put_row);
	w->in.links = w->links;
	w->in.n_links = each_word(w, links, put_link);
	w->in.ipam = &w->ipam;
	w->in.prefix = "uit-";
	w->in.bridge = "uit-br";
	w->in.policy = pol;
	return &w->in;
}

/* "op:name op:name" (names without the prefix). */
static void render(const struct plan *p, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < p->items.n && n < len; i++) {
		const struct plan_item *it = plan_item(p, i);
		const char *name = strncmp(it->name, "uit-", 4) ? it->name : it->name + 4;

		n += snprintf(buf + n, len - n, "%s%s:%s", i ? " " : "", plan_op_name(it->op), name);
	}
}

struct tcase {
	const char *what;
	const char *leases, *rows, *links;
	struct plan_policy pol;
	const char *want;
};

#define POL(stock, pool, peak) ((struct plan_policy){ stock, pool, peak })

static const struct tcase cases[] = {
	{ "empty registry: tap_stock spares at the lowest indices (.1 is the gateway)",
	  "", "", "", POL(3, 0, 0), "stock:2 stock:3 stock:4" },
	{ "nothing to do", "2", "2 3", "2 3", POL(1, 0, 1), "" },
	{ "a lease without row or device: create", "5", "", "", POL(0, 0, 0), "create:5" },
	{ "a lease whose device is in place but has no row: adopt",
	  "5", "", "5", POL(0, 0, 0), "adopt:5" },
	{ "a lease, no row, device not on the bridge: create (ensure)",
	  "5", "", "5=loose", POL(0, 0, 0), "create:5" },
	{ "a lease, no row, device down: create (ensure)",
	  "5", "", "5=down", POL(0, 0, 0), "create:5" },
	{ "a leased ready row whose device is missing: repair",
	  "5", "5", "", POL(0, 0, 0), "repair:5" },
	{ "a leased ready row whose device is not enslaved: repair",
	  "5", "5", "5=loose", POL(0, 0, 0), "repair:5" },
	{ "a leased ready row whose device is down: repair",
	  "5", "5", "5=down", POL(0, 0, 0), "repair:5" },
	{ "a kept spare whose device is missing: repair",
	  "", "3", "", POL(1, 0, 0), "repair:3" },
	{ "a creating row (crash mid-create): finish, leased or not",
	  "4", "4=creating 6=creating", "4", POL(1, 0, 0), "finish:4 finish:6" },
	{ "an orphan tap device: delete", "", "", "7", POL(0, 0, 0), "orphan:7" },
	{ "an orphan named as no address is deleted too",
	  "", "", "uit-x uit-05", POL(0, 0, 0), "orphan:x orphan:05" },
	{ "a non-tap link with the prefix: left alone (foreign), the bridge ignored",
	  "", "", "9=veth uit-br=veth", POL(0, 0, 0), "foreign:9" },
	{ "a deleting row: delete", "", "9=del", "9", POL(0, 0, 0), "delete:9" },
	{ "surplus spares: retire the highest",
	  "2", "2 3 4 5 6", "2 3 4 5 6", POL(2, 0, 0), "retire:6 retire:5" },
	{ "tap_stock 0: every spare retired, leased rows kept",
	  "2", "2 3 4", "2 3 4", POL(0, 5, 9), "retire:4 retire:3" },
	{ "tap_stock 0: a creating spare is finished, not retired (ready→deleting only)",
	  "", "3 4=creating", "3 4", POL(0, 0, 0), "finish:4 retire:3" },
	{ "creating spares count: no new stock while they are made",
	  "", "3=creating 4=creating", "", POL(2, 0, 0), "finish:3 finish:4" },
	{ "the peak keeps spares: peak 6, 2 leased -> 4 wanted",
	  "2 3", "2 3 4 5 6 7", "2 3 4 5 6 7", POL(2, 0, 6), "" },
	{ "past the peak: back to tap_stock",
	  "2 3", "2 3 4 5 6 7", "2 3 4 5 6 7", POL(2, 0, 2), "retire:7 retire:6" },
	{ "the pool size raises the stock",
	  "", "", "", POL(1, 2, 0), "stock:2 stock:3" },
	{ "lowest free index skips leases, the gateway, rows being deleted, devices",
	  "2 4", "2 4 3=del", "2 4 5", POL(2, 0, 0), "stock:6 stock:7 orphan:5 delete:3" },
	{ "lowest free index skips an unleased creating row",
	  "", "2=creating", "", POL(2, 0, 0), "finish:2 stock:3" },
	{ "lowest free index skips a lease whose tap is not made yet",
	  "2", "", "", POL(1, 0, 0), "create:2 stock:3" },
	{ "leased work first, then the stock, then deletions",
	  "8", "9=del", "9 10", POL(1, 0, 0), "create:8 stock:2 orphan:10 delete:9" },
};

static void t_table(void)
{
	char got[1024];
	int bad = 0;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct tcase *c = &cases[i];
		struct world w;
		struct plan p;

		T_EQ_INT(plan_make(world(&w, c->leases, c->rows, c->links, c->pol), &p), 0);
		render(&p, got, sizeof(got));
		if (strcmp(got, c->want)) {
			fprintf(stderr, "  %s:\n    got  \"%s\"\n    want \"%s\"\n", c->what, got,
				c->want);
			bad++;
		}
		plan_free(&p);
	}
	T_EQ_INT(bad, 0);
}

static const struct plan_item *item(const struct plan *p, const char *name)
{
	const struct plan_item *it = plan_find(p, name);

	if (!it)
		T_FAIL("no item for %s", name);
	return it;
}

/* Items carry the address of their tap: from the lease, the row, the name;
 * an orphan named as no address has none. */
static void t_item_addresses(void)
{
	struct world w;
	struct plan p;

	T_EQ_INT(plan_make(world(&w, "5", "9=del", "uit-x 7 uit-05", POL(1, 0, 0)), &p), 0);
	T_EQ_STR(item(&p, "uit-5")->ip, "172.31.0.5");
	T_EQ_INT(item(&p, "uit-5")->op, PLAN_CREATE);
	T_EQ_STR(item(&p, "uit-2")->ip, "172.31.0.2");
	T_EQ_INT(item(&p, "uit-2")->op, PLAN_STOCK);
	T_EQ_STR(item(&p, "uit-7")->ip, "172.31.0.7");
	T_EQ_STR(item(&p, "uit-x")->ip, "");
	T_EQ_STR(item(&p, "uit-05")->ip, ""); /* not how an address is written */
	T_EQ_STR(item(&p, "uit-9")->ip, "172.31.0.9");
	for (size_t i = 0; i < p.items.n; i++)
		T_EQ_INT(plan_item(&p, i)->rc, -EINPROGRESS);
	T_ASSERT(!plan_find(&p, "uit-3"));
	plan_free(&p);
}

/* At most PLAN_MAX_NEW new taps a pass; `more` asks for another pass. */
static void t_new_stock_capped(void)
{
	struct world w;
	struct plan p;

	T_EQ_INT(plan_make(world(&w, "", "", "", POL(40, 0, 0)), &p), 0);
	T_EQ_INT(p.items.n, PLAN_MAX_NEW);
	T_ASSERT(p.more);
	T_EQ_INT(p.want, 40);
	T_EQ_INT(p.spares, 0);
	T_EQ_STR(plan_item(&p, PLAN_MAX_NEW - 1)->name, "uit-17");
	plan_free(&p);
	T_EQ_INT(plan_make(world(&w, "", "", "", POL(PLAN_MAX_NEW, 0, 0)), &p), 0);
	T_EQ_INT(p.items.n, PLAN_MAX_NEW);
	T_ASSERT(!p.more);
	plan_free(&p);
}

/* A full subnet ends the stock without asking for more. */
static void t_subnet_full(void)
{
	struct world w;
	struct plan p;

	world(&w, "", "", "", POL(40, 0, 0));
	/* 10.0.0.0/29: hosts .1-.6, gateway .3 */
	T_EQ_INT(ui_ipam_init(&w.ipam, IP4(10, 0, 0, 0), 29, IP4(10, 0, 0, 3)), 0);
	T_EQ_INT(plan_make(&w.in, &p), 0);
	T_EQ_INT(p.items.n, 5);
	T_EQ_STR(plan_item(&p, 2)->ip, "10.0.0.4");
	T_ASSERT(!p.more);
	plan_free(&p);
}

static void t_stock_want(void)
{
	static const struct {
		struct plan_policy pol;
		unsigned leased, want;
	} t[] = {
		{ POL(0, 4, 20), 0, 0 },  /* 0 = no stock, whatever else */
		{ POL(8, 0, 0), 0, 8 },
		{ POL(8, 12, 0), 3, 12 },
		{ POL(8, 0, 20), 5, 15 },
		{ POL(8, 0, 20), 20, 8 },
		{ POL(8, 0, 3), 5, 8 },   /* peak below the leases now */
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		T_EQ_INT(plan_stock_want(&t[i].pol, t[i].leased), t[i].want);
}

/* The peak is the most leases noted in the last 60 s. */
static void t_peak_window(void)
{
	static struct plan_peak pk;
	uint64_t t0 = 1000000;

	T_EQ_INT(plan_peak_note(&pk, t0, 5), 5);
	T_EQ_INT(plan_peak_note(&pk, t0 + 400, 1), 5);        /* same second */
	T_EQ_INT(plan_peak_note(&pk, t0 + 30000, 2), 5);
	T_EQ_INT(plan_peak_note(&pk, t0 + 59999, 0), 5);
	T_EQ_INT(plan_peak_note(&pk, t0 + 60000, 0), 2);      /* t0's second is out */
	T_EQ_INT(plan_peak_note(&pk, t0 + 90000, 0), 0);
	T_EQ_INT(plan_peak_note(&pk, t0 + 90500, 7), 7);
	T_EQ_INT(plan_peak_note(&pk, t0 + 3600000, 1), 1);    /* long quiet: all out */
}

int main(int argc, char **argv)
{
	static const struct t_case tc[] = {
		T_CASE(t_table),
		T_CASE(t_item_addresses),
		T_CASE(t_new_stock_capped),
		T_CASE(t_subnet_full),
		T_CASE(t_stock_want),
		T_CASE(t_peak_window),
		{ 0 },
	};

	return t_run(argc, argv, tc);
}
