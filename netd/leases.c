/*
 * leases.c — allocation, release and start-up reconciliation of leases and
 * their tap devices; see leases.h for the invariant.
 *
 * netd is the only writer of `leases` (one connection, one thread, requests
 * served one at a time), so "read all leases, pick the lowest free address,
 * insert" cannot race with another allocator; the UNIQUE constraints on
 * ip/mac/tap would turn a violation into -EEXIST anyway.
 * Reads `vms` (never writes it) to learn which VMs are still alive.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "leases.h"
#include "log.h"

/* A growable copy of lease rows (registry callbacks must not re-enter it). */
struct lease_vec {
	struct ui_lease *v;
	size_t n, cap;
};

static int lease_vec_push(const struct ui_lease *l, void *arg)
{
	struct lease_vec *lv = arg;

	if (lv->n == lv->cap) {
		size_t cap = lv->cap ? lv->cap * 2 : 16;
		struct ui_lease *v = realloc(lv->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		lv->v = v;
		lv->cap = cap;
	}
	lv->v[lv->n++] = *l;
	return 0;
}

static int lease_vec_load(struct leases *ls, struct lease_vec *lv)
{
	memset(lv, 0, sizeof(*lv));
	return ui_reg_lease_list(ls->reg, lease_vec_push, lv);
}

static void lease_vec_free(struct lease_vec *lv)
{
	free(lv->v);
	memset(lv, 0, sizeof(*lv));
}

static void errf(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

int leases_init(struct leases *ls, const struct ui_config *cfg, struct ui_registry *reg,
		struct netlink *nl, char *err, size_t errlen)
{
	char gw[IPAM_IP_LEN];
	int rc;

	memset(ls, 0, sizeof(*ls));
	ls->reg = reg;
	ls->nl = nl;
	ls->bridge = cfg->bridge;
	ls->tap_prefix = cfg->tap_prefix;
	rc = ipam_init(&ls->ipam, cfg->subnet, cfg->prefix_len, cfg->gateway);
	if (rc < 0) {
		errf(err, errlen, "network: gateway and subnet/prefix do not fit");
		return rc;
	}
	ipam_format_ip(cfg->gateway, gw);
	rc = netlink_ensure_bridge(nl, cfg->bridge, cfg->gateway, cfg->prefix_len);
	if (rc < 0)
		errf(err, errlen, "bridge %s with %s/%u: %s", cfg->bridge, gw,
		     cfg->prefix_len, strerror(-rc));
	else
		ui_info("bridge %s up with %s/%u", cfg->bridge, gw, cfg->prefix_len);
	return rc;
}

/* The lowest free address, given the leases in the registry. */
static int pick_ip(struct leases *ls, uint32_t *out)
{
	struct lease_vec lv;
	uint32_t *used = NULL;
	size_t n_used = 0;
	int rc = lease_vec_load(ls, &lv);

	if (rc < 0)
		goto free_vec;
	used = malloc((lv.n ? lv.n : 1) * sizeof(*used));
	if (!used) {
		rc = -ENOMEM;
		goto free_vec;
	}
	for (size_t i = 0; i < lv.n; i++)
		if (ipam_parse_ip(lv.v[i].ip, &used[n_used]) == 0)
			n_used++;
	rc = ipam_pick(&ls->ipam, used, n_used, out);
	free(used);
free_vec:
	lease_vec_free(&lv);
	return rc;
}

/* Fills l with a new lease for vm_id at ip (not yet stored). */
static int lease_make(struct leases *ls, const char *vm_id, uint32_t ip, struct ui_lease *l)
{
	struct ipam_addr a;
	int rc = ipam_describe(&ls->ipam, ls->tap_prefix, ip, &a);

	if (rc < 0)
		return rc;
	memset(l, 0, sizeof(*l));
	memcpy(l->ip, a.ip, sizeof(l->ip));
	memcpy(l->mac, a.mac, sizeof(l->mac));
	memcpy(l->tap, a.tap, sizeof(l->tap));
	snprintf(l->vm_id, sizeof(l->vm_id), "%s", vm_id);
	snprintf(l->state, sizeof(l->state), "bound");
	ui_registry_now(l->updated_at, sizeof(l->updated_at));
	return 0;
}

static void lease_event(struct leases *ls, const struct ui_lease *l, const char *kind,
			const char *why)
{
	char detail[160];

	snprintf(detail, sizeof(detail), "ip=%s mac=%s tap=%s%s%s", l->ip, l->mac,
		 l->tap, why ? " " : "", why ? why : "");
	if (ui_reg_event(ls->reg, l->vm_id, kind, detail) < 0)
		ui_warn("%s %s: could not record the event", kind, l->vm_id);
}

/* The existing lease of vm_id: make sure its tap is still in place. */
static int lease_reuse(struct leases *ls, struct ui_lease *l, char *err, size_t errlen)
{
	int rc = netlink_ensure_tap(ls->nl, l->tap, ls->bridge);

	if (rc < 0) {
		errf(err, errlen, "cannot set up tap %s: %s", l->tap, strerror(-rc));
		return rc;
	}
	ui_info("lease %s: ip=%s mac=%s tap=%s (existing)", l->vm_id, l->ip, l->mac, l->tap);
	return 0;
}

/* Stores a new lease and creates its tap; undoes the row if the tap fails. */
static int lease_new(struct leases *ls, const char *vm_id, struct ui_lease *l,
		     char *err, size_t errlen)
{
	uint32_t ip;
	int rc = pick_ip(ls, &ip);

	if (rc == -ENOSPC) {
		errf(err, errlen, "no free address left in the VM subnet");
		return rc;
	}
	if (rc == 0)
		rc = lease_make(ls, vm_id, ip, l);
	if (rc == 0)
		rc = ui_reg_lease_insert(ls->reg, l);
	if (rc < 0) {
		errf(err, errlen, "cannot allocate a lease: %s", strerror(-rc));
		return rc;
	}
	rc = netlink_ensure_tap(ls->nl, l->tap, ls->bridge);
	if (rc < 0) {
		errf(err, errlen, "cannot create tap %s: %s", l->tap, strerror(-rc));
		if (ui_reg_lease_delete(ls->reg, l->ip) < 0)
			ui_warn("lease %s: could not delete %s after failure", vm_id, l->ip);
		return rc;
	}
	lease_event(ls, l, "lease", NULL);
	ui_info("lease %s: ip=%s mac=%s tap=%s", vm_id, l->ip, l->mac, l->tap);
	return 0;
}

int leases_alloc(struct leases *ls, const char *vm_id, struct ui_lease *out,
		 char *err, size_t errlen)
{
	int rc;

	if (!vm_id[0]) {
		errf(err, errlen, "no VM id in the request");
		return -EINVAL;
	}
	rc = ui_reg_lease_get_by_vm(ls->reg, vm_id, out);
	if (rc == 0)
		return lease_reuse(ls, out, err, errlen);
	if (rc != -ENOENT) {
		errf(err, errlen, "cannot read leases: %s", strerror(-rc));
		return rc;
	}
	rc = lease_new(ls, vm_id, out, err, errlen);
	if (rc < 0)
		ui_warn("lease %s failed: %s", vm_id, err);
	return rc;
}

/* Deletes l's tap (already gone is fine), then its row. */
static int lease_free(struct leases *ls, const struct ui_lease *l, char *err, size_t errlen)
{
	int rc = netlink_delete_link(ls->nl, l->tap);

	if (rc < 0 && rc != -ENODEV) {
		errf(err, errlen, "cannot delete tap %s: %s", l->tap, strerror(-rc));
		return rc;
	}
	rc = ui_reg_lease_delete(ls->reg, l->ip);
	if (rc < 0 && rc != -ENOENT) {
		errf(err, errlen, "cannot delete the lease of %s: %s", l->ip, strerror(-rc));
		return rc;
	}
	return 0;
}

int leases_release(struct leases *ls, const char *vm_id, struct ui_lease *out,
		   char *err, size_t errlen)
{
	int rc;

	if (!vm_id[0]) {
		errf(err, errlen, "no VM id in the request");
		return -EINVAL;
	}
	rc = ui_reg_lease_get_by_vm(ls->reg, vm_id, out);
	if (rc == -ENOENT) {
		memset(out, 0, sizeof(*out));
		snprintf(out->vm_id, sizeof(out->vm_id), "%s", vm_id);
		ui_info("release %s: no lease", vm_id);
		return 0;
	}
	if (rc < 0) {
		errf(err, errlen, "cannot read leases: %s", strerror(-rc));
		return rc;
	}
	rc = lease_free(ls, out, err, errlen);
	if (rc < 0) {
		ui_warn("release %s failed: %s", vm_id, err);
		return rc;
	}
	lease_event(ls, out, "release", NULL);
	ui_info("release %s: ip=%s tap=%s", vm_id, out->ip, out->tap);
	return 0;
}

/* Whether vm_id's lease has lost its owner: no row, or stopped/failed.
 * vm->state says which ("missing" when there is no row). */
static int vm_is_gone(struct leases *ls, const char *vm_id, struct ui_vm *vm, bool *gone)
{
	int rc = ui_reg_vm_get(ls->reg, vm_id, vm);

	if (rc == -ENOENT) {
		snprintf(vm->state, sizeof(vm->state), "missing");
		*gone = true;
		return 0;
	}
	if (rc < 0)
		return rc;
	*gone = strcmp(vm->state, UI_VM_STOPPED) == 0 || strcmp(vm->state, UI_VM_FAILED) == 0;
	return 0;
}

/* One lease at start: free it if its VM is gone, else re-ensure its tap.
 * *kept says which (for the orphan-tap pass). */
static int reconcile_lease(struct leases *ls, const struct ui_lease *l, struct ui_vm *vm,
			   bool *kept)
{
	char err[160], why[48];
	bool gone;
	int rc = vm_is_gone(ls, l->vm_id, vm, &gone);

	*kept = true;
	if (rc < 0)
		return rc;
	if (!gone) {
		rc = netlink_ensure_tap(ls->nl, l->tap, ls->bridge);
		if (rc < 0)
			ui_warn("reconcile: tap %s of %s: %s", l->tap, l->vm_id, strerror(-rc));
		return 0;
	}
	if (lease_free(ls, l, err, sizeof(err)) < 0) {
		ui_warn("reconcile: %s", err);
		return 0;
	}
	*kept = false;
	snprintf(why, sizeof(why), "reconcile: vm %s", vm->state);
	lease_event(ls, l, "release", why);
	ui_info("reconcile: freed %s tap=%s of %s (vm %s)", l->ip, l->tap, l->vm_id,
		vm->state);
	return 0;
}

struct orphan_walk {
	struct leases *ls;
	const struct lease_vec *kept;
};

static bool lease_vec_has_tap(const struct lease_vec *lv, const char *tap)
{
	for (size_t i = 0; i < lv->n; i++)
		if (strcmp(lv->v[i].tap, tap) == 0)
			return true;
	return false;
}

/* A link named with the prefix: delete it if it is a tap nobody leases. */
static int reconcile_link(const char *name, const struct netlink_link *info, void *arg)
{
	struct orphan_walk *w = arg;
	int rc;

	if (strcmp(name, w->ls->bridge) == 0 || lease_vec_has_tap(w->kept, name))
		return 0;
	if (!info->is_tap) {
		ui_warn("reconcile: %s is not a tap (%s); left alone", name,
			info->kind[0] ? info->kind : "unknown kind");
		return 0;
	}
	rc = netlink_delete_link(w->ls->nl, name);
	if (rc < 0 && rc != -ENODEV)
		ui_warn("reconcile: cannot delete orphan tap %s: %s", name, strerror(-rc));
	else
		ui_info("reconcile: deleted orphan tap %s", name);
	return 0;
}

int leases_reconcile(struct leases *ls)
{
	struct lease_vec all = { 0 }, kept = { 0 };
	struct orphan_walk w = { ls, &kept };
	struct ui_vm *vm = malloc(sizeof(*vm)); /* ~20 KiB: not on the stack */
	int rc = vm ? lease_vec_load(ls, &all) : -ENOMEM;

	for (size_t i = 0; i < all.n && rc == 0; i++) {
		bool keep;

		rc = reconcile_lease(ls, &all.v[i], vm, &keep);
		if (rc == 0 && keep)
			rc = lease_vec_push(&all.v[i], &kept);
	}
	if (rc == 0)
		rc = netlink_list_links(ls->nl, ls->tap_prefix, reconcile_link, &w);
	if (rc == 0)
		ui_info("reconcile: %zu lease(s) kept, %zu freed", kept.n, all.n - kept.n);
	lease_vec_free(&kept);
	lease_vec_free(&all);
	free(vm);
	return rc;
}
