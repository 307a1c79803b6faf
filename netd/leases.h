/*
 * leases.h — netd's operations on the `leases` table and the devices that
 * go with them: allocate (address + tap), release, and reconcile the
 * kernel's links with the registry on start.
 *
 * Invariant netd keeps: a lease row exists for every tap named
 * <tap_prefix>N that it created, and every lease of a live VM has its tap,
 * enslaved to the bridge and up. The lease is written before the tap is
 * created and deleted after the tap is deleted, so a crash in between leaves
 * a lease without a tap (repaired or freed by leases_reconcile), never an
 * untraceable tap.
 *
 * Ownership: struct leases is caller-embedded; it borrows reg, nl and the
 * config strings (they must outlive it).
 */
#ifndef NETD_LEASES_H
#define NETD_LEASES_H

#include <stddef.h>

#include "config.h"
#include "ipam.h"
#include "netlink.h"
#include "registry.h"

struct leases {
	struct ui_registry *reg;
	struct netlink *nl;
	struct ipam ipam;
	const char *bridge;
	const char *tap_prefix;
};

/* Checks the network config (-EINVAL, message in err) and makes sure the
 * bridge exists with the gateway address and is up. */
int leases_init(struct leases *ls, const struct ui_config *cfg, struct ui_registry *reg,
		struct netlink *nl, char *err, size_t errlen);

/* The lease of vm_id into *out: the existing one (its tap re-ensured), or a
 * new one with the lowest free address, its tap created. On failure nothing
 * new is left behind and err says why (-ENOSPC when the subnet is full). */
int leases_alloc(struct leases *ls, const char *vm_id, struct ui_lease *out,
		 char *err, size_t errlen);

/* Deletes vm_id's tap and lease; no lease is not an error. *out is the
 * lease released (zeroed but for vm_id when there was none). */
int leases_release(struct leases *ls, const char *vm_id, struct ui_lease *out,
		   char *err, size_t errlen);

/* On start: frees the leases (and taps) of VMs that are gone, stopped or
 * failed; re-ensures the taps of the others; deletes taps named with the
 * prefix that no lease owns. Errors on single links are logged, not fatal. */
int leases_reconcile(struct leases *ls);

#endif
