/*
 * netlink.h — the host network operations netd needs, over libnl-route-3:
 * the bridge with the gateway address, persistent tap devices enslaved to
 * it, deletion and listing of links. Every operation acts on the network
 * namespace of the calling process.
 *
 * Errors are negative errno; libnl's NLE_* codes are translated here and
 * never returned. A missing link is -ENODEV.
 *
 * Ownership: struct netlink (one connected NETLINK_ROUTE socket, O_CLOEXEC)
 * is returned-new by netlink_open and freed by netlink_close (NULL-safe).
 * Not thread-safe: one user at a time.
 */
#ifndef NETD_NETLINK_H
#define NETD_NETLINK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct netlink;

/* What netlink_link_info reports about one link; caller-embedded. */
struct netlink_link {
	int ifindex;
	int master;        /* ifindex of the master, 0 when none */
	bool up;           /* IFF_UP set (administratively up) */
	bool is_bridge;
	bool is_tap;       /* a tun/tap device in tap (Ethernet) mode */
	char kind[16];     /* IFLA_INFO_KIND ("bridge", "tun", ...) or "" */
};

int netlink_open(struct netlink **out);
void netlink_close(struct netlink *nl);

/* Taps made from now on (and existing detached ones netlink_ensure_tap
 * meets) are owned by uid and group gid — the VMM user (vmm_user.h) —
 * so an unprivileged VMM opens its own tap. Unset: root's only. */
void netlink_set_tap_owner(struct netlink *nl, uid_t uid, gid_t gid);

/* Creates the bridge `name` unless it exists, adds addr/prefix_len (host
 * byte order) unless present, and sets it up. Idempotent. -EEXIST if a link
 * of that name exists but is not a bridge. */
int netlink_ensure_bridge(struct netlink *nl, const char *name, uint32_t addr,
			  unsigned prefix_len);

/* Makes sure `name` is a persistent tap (IFF_TAP|IFF_NO_PI|IFF_VNET_HDR),
 * enslaved to `bridge` and up. Idempotent: an existing tap is reused (it may
 * be attached to a running VMM). -EEXIST if a non-tap link has that name;
 * -ENODEV if the bridge is missing. On failure a tap created by this call is
 * deleted again. */
int netlink_ensure_tap(struct netlink *nl, const char *name, const char *bridge);

/* Deletes the link `name`; -ENODEV if there is none. */
int netlink_delete_link(struct netlink *nl, const char *name);

/* Fills *out for link `name`; -ENODEV if there is none. */
int netlink_link_info(struct netlink *nl, const char *name, struct netlink_link *out);

/* Calls cb(name, info, arg) for each link whose name starts with prefix,
 * from one snapshot (cb may delete links). A non-zero return from cb stops
 * the walk and is returned. */
int netlink_list_links(struct netlink *nl, const char *prefix,
		       int (*cb)(const char *name, const struct netlink_link *info,
				 void *arg),
		       void *arg);

#endif
