/*
 * registry_net.c — leases (a VM's address) and taps (netd's devices), and
 * the address allocation done inside a VM's creating transaction
 * (ui_reg_lease_bind, called by ui_reg_vm_change).
 *
 * Allocation prefers reuse: the lowest address whose tap is `ready` and
 * that no lease holds (netd's stock: no kernel work before the VMM starts);
 * else the lowest address that is neither leased nor the ip of a tap being
 * deleted (its tap is made by netd, the caller waits for it). It reads every
 * lease and tap inside the write transaction — O(leases + taps) per
 * allocation, a few dozen rows on a host — so it cannot race another
 * allocation or netd's ui_reg_tap_retire.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "registry_int.h"

/* ---- leases --------------------------------------------------------------- */

static void read_lease(sqlite3_stmt *st, void *out)
{
	struct ui_lease *l = out;

	memset(l, 0, sizeof(*l));
	UI_REG_COL_STR(st, 0, l->ip);
	UI_REG_COL_STR(st, 1, l->mac);
	UI_REG_COL_STR(st, 2, l->tap);
	UI_REG_COL_STR(st, 3, l->vm_id);
	UI_REG_COL_STR(st, 4, l->state);
	UI_REG_COL_STR(st, 5, l->updated_at);
}

/* Inserts l inside the caller's transaction. */
static int lease_add(struct ui_registry *reg, const struct ui_lease *l)
{
	char now[32];
	sqlite3_stmt *st = NULL;
	int r, rc = SQLITE_OK;

	if (!l->ip[0] || !l->mac[0] || !l->tap[0] || !l->vm_id[0])
		return -EINVAL;
	ui_registry_now(now, sizeof(now));
	if ((r = ui_reg_stmt(reg, ST_LEASE_INSERT, &st)) < 0)
		return r;
	rc |= UI_REG_BIND_STR(st, 1, l->ip);
	rc |= UI_REG_BIND_STR(st, 2, l->mac);
	rc |= UI_REG_BIND_STR(st, 3, l->tap);
	rc |= UI_REG_BIND_STR(st, 4, l->vm_id);
	rc |= ui_reg_bind_text(st, 5, l->state[0] ? l->state : "bound", sizeof(l->state));
	rc |= ui_reg_bind_text(st, 6, l->updated_at[0] ? l->updated_at : now,
			       sizeof(l->updated_at));
	if (rc != SQLITE_OK)
		return ui_reg_bind_failed(reg, st);
	return ui_reg_step_write(reg, st, false, 0, "insert lease");
}

int ui_reg_lease_insert(struct ui_registry *reg, const struct ui_lease *l)
{
	int r;

	if ((r = ui_reg_writable(reg, "insert lease")) < 0)
		return r;
	if (!l->ip[0] || !l->mac[0] || !l->tap[0] || !l->vm_id[0])
		return -EINVAL;
	if ((r = ui_reg_tx_begin(reg)) < 0)
		return r;
	return ui_reg_tx_end(reg, lease_add(reg, l));
}

/* A write statement with one text parameter, in its own transaction. */
static int write_by_text(struct ui_registry *reg, enum ui_reg_stmt id, const char *arg,
			 const char *what)
{
	sqlite3_stmt *st = NULL;
	int r;

	if ((r = ui_reg_writable(reg, what)) < 0 || (r = ui_reg_stmt(reg, id, &st)) < 0)
		return r;
	if (sqlite3_bind_text(st, 1, arg, -1, SQLITE_TRANSIENT) != SQLITE_OK)
		return ui_reg_bind_failed(reg, st);
	return ui_reg_write1(reg, st, true, -ENOENT, what);
}

int ui_reg_lease_delete(struct ui_registry *reg, const char *ip)
{
	return write_by_text(reg, ST_LEASE_DELETE, ip, "delete lease");
}

int ui_reg_lease_release(struct ui_registry *reg, const char *vm_id)
{
	sqlite3_stmt *st = NULL;
	int r;

	if ((r = ui_reg_stmt(reg, ST_LEASE_DELETE_VM, &st)) < 0)
		return r;
	if (sqlite3_bind_text(st, 1, vm_id, -1, SQLITE_TRANSIENT) != SQLITE_OK)
		return ui_reg_bind_failed(reg, st);
	return ui_reg_step_write(reg, st, false, 0, "release lease");
}

int ui_reg_lease_get_by_vm(struct ui_registry *reg, const char *vm_id, struct ui_lease *out)
{
	return ui_reg_select_one(reg, ST_LEASE_GET_BY_VM, vm_id, read_lease, out);
}

struct lease_walk {
	int (*cb)(const struct ui_lease *l, void *arg);
	void *arg;
};

static int each_lease(sqlite3_stmt *st, void *arg)
{
	struct lease_walk *w = arg;
	struct ui_lease l;

	read_lease(st, &l);
	return w->cb(&l, w->arg);
}

int ui_reg_lease_list(struct ui_registry *reg,
		      int (*cb)(const struct ui_lease *l, void *arg), void *arg)
{
	struct lease_walk w = { cb, arg };

	return ui_reg_walk(reg, ST_LEASE_LIST, NULL, each_lease, &w, "list leases");
}

/* ---- taps ------------------------------------------------------------------ */

static void read_tap(sqlite3_stmt *st, void *out)
{
	struct ui_tap *t = out;

	memset(t, 0, sizeof(*t));
	UI_REG_COL_STR(st, 0, t->name);
	UI_REG_COL_STR(st, 1, t->ip);
	UI_REG_COL_STR(st, 2, t->state);
	UI_REG_COL_STR(st, 3, t->updated_at);
}

struct tap_walk {
	int (*cb)(const struct ui_tap *t, void *arg);
	void *arg;
};

static int each_tap(sqlite3_stmt *st, void *arg)
{
	struct tap_walk *w = arg;
	struct ui_tap t;

	read_tap(st, &t);
	return w->cb(&t, w->arg);
}

int ui_reg_tap_insert(struct ui_registry *reg, const struct ui_tap *t)
{
	bool deleting = !strcmp(t->state, UI_TAP_DELETING);
	char now[32];
	sqlite3_stmt *st = NULL;
	int r, rc = SQLITE_OK;

	if ((r = ui_reg_writable(reg, "insert tap")) < 0)
		return r;
	if (!t->name[0] || !t->ip[0] || !t->state[0])
		return -EINVAL;
	ui_registry_now(now, sizeof(now));
	if ((r = ui_reg_stmt(reg, deleting ? ST_TAP_INSERT_UNLEASED : ST_TAP_INSERT, &st)) < 0)
		return r;
	rc |= UI_REG_BIND_STR(st, 1, t->name);
	rc |= UI_REG_BIND_STR(st, 2, t->ip);
	rc |= UI_REG_BIND_STR(st, 3, t->state);
	rc |= ui_reg_bind_text(st, 4, now, sizeof(now));
	if (rc != SQLITE_OK)
		return ui_reg_bind_failed(reg, st);
	return ui_reg_write1(reg, st, deleting, -ESTALE, "insert tap");
}

int ui_reg_tap_set_state(struct ui_registry *reg, const char *name, const char *from,
			 const char *to)
{
	char now[32];
	sqlite3_stmt *st = NULL;
	int r, rc = SQLITE_OK;

	if ((r = ui_reg_writable(reg, "tap state")) < 0 ||
	    (r = ui_reg_stmt(reg, ST_TAP_SET_STATE, &st)) < 0)
		return r;
	ui_registry_now(now, sizeof(now));
	rc |= sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
	rc |= sqlite3_bind_text(st, 2, from, -1, SQLITE_TRANSIENT);
	rc |= sqlite3_bind_text(st, 3, to, -1, SQLITE_TRANSIENT);
	rc |= sqlite3_bind_text(st, 4, now, -1, SQLITE_TRANSIENT);
	if (rc != SQLITE_OK)
		return ui_reg_bind_failed(reg, st);
	return ui_reg_write1(reg, st, true, -ESTALE, "tap state");
}

int ui_reg_tap_retire(struct ui_registry *reg, const char *name)
{
	char now[32];
	sqlite3_stmt *st = NULL;
	int r;

	if ((r = ui_reg_writable(reg, "retire tap")) < 0 ||
	    (r = ui_reg_stmt(reg, ST_TAP_RETIRE, &st)) < 0)
		return r;
	ui_registry_now(now, sizeof(now));
	if (sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT) != SQLITE_OK ||
	    sqlite3_bind_text(st, 2, now, -1, SQLITE_TRANSIENT) != SQLITE_OK)
		return ui_reg_bind_failed(reg, st);
	return ui_reg_write1(reg, st, true, -ESTALE, "retire tap");
}

int ui_reg_tap_delete(struct ui_registry *reg, const char *name)
{
	return write_by_text(reg, ST_TAP_DELETE, name, "delete tap");
}

int ui_reg_tap_list(struct ui_registry *reg,
		    int (*cb)(const struct ui_tap *t, void *arg), void *arg)
{
	struct tap_walk w = { cb, arg };

	return ui_reg_walk(reg, ST_TAP_LIST, NULL, each_tap, &w, "list taps");
}

/* ---- allocation ------------------------------------------------------------ */

/* Addresses, grown as needed. */
struct ips {
	uint32_t *v;
	size_t n, cap;
};

static int ips_add(struct ips *s, uint32_t ip)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		uint32_t *v = realloc(s->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = ip;
	return 0;
}

static bool ips_has(const struct ips *s, uint32_t ip)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i] == ip)
			return true;
	return false;
}

static int each_leased_ip(sqlite3_stmt *st, void *arg)
{
	uint32_t ip;

	if (ui_ipam_parse_ip(ui_reg_col_or_empty(st, 0), &ip) < 0)
		return 0;
	return ips_add(arg, ip);
}

struct tap_scan {
	const struct ui_ipam *net;
	const struct ips *leased;
	struct ips *blocked;     /* ips of taps being deleted */
	uint32_t best_ready;     /* lowest ready, unleased; 0 = none */
};

static int scan_tap(const struct ui_tap *t, void *arg)
{
	struct tap_scan *s = arg;
	uint32_t ip;

	if (ui_ipam_parse_ip(t->ip, &ip) < 0 || !ui_ipam_is_assignable(s->net, ip))
		return 0;
	if (!strcmp(t->state, UI_TAP_DELETING))
		return ips_add(s->blocked, ip);
	if (!strcmp(t->state, UI_TAP_READY) && !ips_has(s->leased, ip) &&
	    (!s->best_ready || ip < s->best_ready))
		s->best_ready = ip;
	return 0;
}

/* Chooses the address (see the top of this file). */
static int pick(struct ui_registry *reg, const struct ui_ipam *net, uint32_t *ip,
		bool *ready)
{
	struct ips used = { 0 }, blocked = { 0 };
	struct tap_scan s = { net, &used, &blocked, 0 };
	int r = ui_reg_walk(reg, ST_LEASE_IPS, NULL, each_leased_ip, &used,
			    "list leased addresses");

	if (r == 0)
		r = ui_reg_tap_list(reg, scan_tap, &s);
	*ready = r == 0 && s.best_ready;
	if (r == 0 && s.best_ready)
		*ip = s.best_ready;
	for (size_t i = 0; r == 0 && !*ready && i < blocked.n; i++)
		r = ips_add(&used, blocked.v[i]);
	if (r == 0 && !*ready)
		r = ui_ipam_pick(net, used.v, used.n, ip) == -ENOSPC ? -EADDRNOTAVAIL : 0;
	free(used.v);
	free(blocked.v);
	return r;
}

int ui_reg_lease_bind(struct ui_registry *reg, struct ui_vm *row,
		      const struct ui_ipam *net, const char *tap_prefix, bool *tap_ready)
{
	struct ui_ipam_addr a;
	struct ui_lease l = { 0 };
	uint32_t ip = 0;
	int r = pick(reg, net, &ip, tap_ready);

	if (r == 0)
		r = ui_ipam_describe(net, tap_prefix, ip, &a);
	if (r < 0)
		return r;
	snprintf(row->ip, sizeof(row->ip), "%s", a.ip);
	snprintf(row->mac, sizeof(row->mac), "%s", a.mac);
	snprintf(row->tap, sizeof(row->tap), "%s", a.tap);
	memcpy(l.ip, a.ip, sizeof(l.ip));
	memcpy(l.mac, a.mac, sizeof(l.mac));
	memcpy(l.tap, a.tap, sizeof(l.tap));
	snprintf(l.vm_id, sizeof(l.vm_id), "%s", row->id);
	return lease_add(reg, &l);
}
