/*
 * netlink.c — bridge, tap and link operations over libnl-route-3; see
 * netlink.h.
 *
 * Everything is done with rtnetlink except creating the tap itself, which
 * only the tun driver can do: open /dev/net/tun, TUNSETIFF (IFF_TAP |
 * IFF_NO_PI | IFF_VNET_HDR), TUNSETPERSIST 1, close. The device then outlives
 * the fd, and a VMM attaches to it later by name with its own TUNSETIFF.
 * Deletion is an ordinary RTM_DELLINK.
 *
 * Every operation reads the link from the kernel first and only changes
 * what differs, so all of them can be repeated (netd reconciles on start).
 * NLE_* codes from libnl become negative errno in nle_errno() and nowhere
 * else.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/bridge.h>

#include "netlink.h"

struct netlink {
	struct nl_sock *sk;
	bool owned;        /* taps get owner uid / group gid (TUNSETOWNER/GROUP) */
	uid_t uid;
	gid_t gid;
};

/* libnl error (negative NLE_*) -> negative errno. */
static int nle_errno(int err)
{
	switch (err < 0 ? -err : err) {
	case NLE_SUCCESS: return 0;
	case NLE_INTR: return -EINTR;
	case NLE_BAD_SOCK: return -EBADF;
	case NLE_AGAIN: return -EAGAIN;
	case NLE_NOMEM: return -ENOMEM;
	case NLE_EXIST: return -EEXIST;
	case NLE_INVAL: return -EINVAL;
	case NLE_RANGE: return -ERANGE;
	case NLE_MSGSIZE: return -EMSGSIZE;
	case NLE_OPNOTSUPP: return -EOPNOTSUPP;
	case NLE_AF_NOSUPPORT: return -EAFNOSUPPORT;
	case NLE_OBJ_NOTFOUND: return -ENODEV;
	case NLE_NODEV: return -ENODEV;
	case NLE_NOADDR: return -EADDRNOTAVAIL;
	case NLE_BUSY: return -EBUSY;
	case NLE_NOACCESS: return -EACCES;
	case NLE_PERM: return -EPERM;
	case NLE_IMMUTABLE: return -EROFS;
	case NLE_DUMP_INTR: return -EINTR;
	default: return -EIO;
	}
}

/* A name the kernel takes literally: 1..15 bytes, no '/', no '%' (TUNSETIFF
 * would expand "%d" into a new name). */
static bool ifname_ok(const char *name)
{
	size_t n = strlen(name);

	return n > 0 && n < IFNAMSIZ && !strpbrk(name, "/%") &&
	       strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
}

int netlink_open(struct netlink **out)
{
	struct netlink *nl = calloc(1, sizeof(*nl));
	int rc;

	if (!nl)
		return -ENOMEM;
	nl->sk = nl_socket_alloc();
	if (!nl->sk) {
		rc = -ENOMEM;
		goto free_nl;
	}
	rc = nle_errno(nl_connect(nl->sk, NETLINK_ROUTE));
	if (rc < 0)
		goto free_sock;
	/* libnl opens it SOCK_CLOEXEC; make sure regardless of version. */
	if (fcntl(nl_socket_get_fd(nl->sk), F_SETFD, FD_CLOEXEC) < 0) {
		rc = -errno;
		goto free_sock;
	}
	*out = nl;
	return 0;
free_sock:
	nl_socket_free(nl->sk);
free_nl:
	free(nl);
	return rc;
}

void netlink_close(struct netlink *nl)
{
	if (!nl)
		return;
	nl_socket_free(nl->sk); /* closes the socket */
	free(nl);
}

/* The kernel's view of link `name` (returned-new, rtnl_link_put it). */
static int link_get(struct netlink *nl, const char *name, struct rtnl_link **out)
{
	if (!ifname_ok(name))
		return -EINVAL;
	return nle_errno(rtnl_link_get_kernel(nl->sk, 0, name, out));
}

static void link_describe(struct rtnl_link *l, struct netlink_link *out)
{
	const char *kind = rtnl_link_get_type(l);

	memset(out, 0, sizeof(*out));
	out->ifindex = rtnl_link_get_ifindex(l);
	out->master = rtnl_link_get_master(l);
	out->up = (rtnl_link_get_flags(l) & IFF_UP) != 0;
	snprintf(out->kind, sizeof(out->kind), "%s", kind ? kind : "");
	out->is_bridge = strcmp(out->kind, "bridge") == 0;
	/* tun and tap share the kind; a tap is the Ethernet one. */
	out->is_tap = strcmp(out->kind, "tun") == 0 &&
		      rtnl_link_get_arptype(l) == ARPHRD_ETHER;
}

int netlink_link_info(struct netlink *nl, const char *name, struct netlink_link *out)
{
	struct rtnl_link *l = NULL;
	int rc = link_get(nl, name, &l);

	if (rc < 0)
		return rc;
	link_describe(l, out);
	rtnl_link_put(l);
	return 0;
}

/* Sets IFF_UP and, when master > 0, the master, in one RTM_NEWLINK. */
static int link_set_up(struct netlink *nl, struct rtnl_link *l, int master)
{
	struct rtnl_link *change;
	int rc;

	if ((rtnl_link_get_flags(l) & IFF_UP) &&
	    (master <= 0 || rtnl_link_get_master(l) == master))
		return 0;
	change = rtnl_link_alloc();
	if (!change)
		return -ENOMEM;
	rtnl_link_set_flags(change, IFF_UP);
	if (master > 0)
		rtnl_link_set_master(change, master);
	rc = nle_errno(rtnl_link_change(nl->sk, l, change, 0));
	rtnl_link_put(change);
	return rc;
}

static int bridge_add(struct netlink *nl, const char *name)
{
	struct rtnl_link *br = rtnl_link_bridge_alloc();
	int rc;

	if (!br)
		return -ENOMEM;
	rtnl_link_set_name(br, name);
	rc = nle_errno(rtnl_link_add(nl->sk, br, NLM_F_CREATE | NLM_F_EXCL));
	rtnl_link_put(br);
	return rc == -EEXIST ? 0 : rc; /* lost a race: fine, checked after */
}

/* Adds addr/prefix_len (with its broadcast) to ifindex; present is fine. */
static int addr_add(struct netlink *nl, int ifindex, uint32_t addr, unsigned prefix_len)
{
	uint32_t mask = prefix_len ? ~(uint32_t)0 << (32 - prefix_len) : 0;
	uint32_t local_be = htonl(addr), brd_be = htonl(addr | ~mask);
	struct nl_addr *local = NULL, *brd = NULL;
	struct rtnl_addr *a = NULL;
	int rc = -ENOMEM;

	local = nl_addr_build(AF_INET, &local_be, sizeof(local_be));
	brd = nl_addr_build(AF_INET, &brd_be, sizeof(brd_be));
	a = rtnl_addr_alloc();
	if (!local || !brd || !a)
		goto cleanup;
	nl_addr_set_prefixlen(local, (int)prefix_len);
	rtnl_addr_set_ifindex(a, ifindex);
	rtnl_addr_set_family(a, AF_INET);
	rc = nle_errno(rtnl_addr_set_local(a, local));
	if (rc == 0)
		rc = nle_errno(rtnl_addr_set_broadcast(a, brd));
	if (rc == 0)
		rc = nle_errno(rtnl_addr_add(nl->sk, a, 0));
	if (rc == -EEXIST)
		rc = 0;
cleanup:
	rtnl_addr_put(a);
	nl_addr_put(brd);
	nl_addr_put(local);
	return rc;
}

int netlink_ensure_bridge(struct netlink *nl, const char *name, uint32_t addr,
			  unsigned prefix_len)
{
	struct rtnl_link *br = NULL;
	struct netlink_link info;
	int rc = link_get(nl, name, &br);

	if (rc == -ENODEV) {
		rc = bridge_add(nl, name);
		if (rc == 0)
			rc = link_get(nl, name, &br);
	}
	if (rc < 0)
		return rc;
	link_describe(br, &info);
	if (!info.is_bridge) {
		rc = -EEXIST;
		goto put_br;
	}
	rc = addr_add(nl, info.ifindex, addr, prefix_len);
	if (rc == 0)
		rc = link_set_up(nl, br, 0);
put_br:
	rtnl_link_put(br);
	return rc;
}

void netlink_set_tap_owner(struct netlink *nl, uid_t uid, gid_t gid)
{
	nl->owned = true;
	nl->uid = uid;
	nl->gid = gid;
}

/* Creates (or, existing and detached, opens) the persistent tap `name` with
 * the tun driver, owned by nl's uid/gid when set: the VMM user may then
 * attach to it without CAP_NET_ADMIN. */
static int tap_create(struct netlink *nl, const char *name)
{
	struct ifreq ifr;
	int fd, rc = 0;

	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, name, strlen(name)); /* ifname_ok: < IFNAMSIZ */
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0 || ioctl(fd, TUNSETPERSIST, 1) < 0 ||
	    (nl->owned && (ioctl(fd, TUNSETOWNER, (unsigned long)nl->uid) < 0 ||
			   ioctl(fd, TUNSETGROUP, (unsigned long)nl->gid) < 0)))
		rc = -errno;
	close(fd); /* a TUNSETIFF without TUNSETPERSIST vanishes here */
	return rc;
}

/* /sys/class/net/<name>/<what> as a number (-1: no owner); -errno. */
static long long tap_sysfs_id(const char *name, const char *what)
{
	char path[96], buf[32];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/sys/class/net/%s/%s", name, what);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = '\0';
	return strtoll(buf, NULL, 10);
}

/* An existing tap's owner made nl's (a stock tap from before a vmm.user
 * change). A tap attached to a running VMM refuses (EBUSY): it keeps its
 * owner, the VMM keeps its fd. */
static void tap_fix_owner(struct netlink *nl, const char *name)
{
	if (!nl->owned || (tap_sysfs_id(name, "owner") == (long long)nl->uid &&
			   tap_sysfs_id(name, "group") == (long long)nl->gid))
		return;
	(void)tap_create(nl, name);
}

/* The master and IFF_UP as requested, read back from the kernel (a link
 * type that ignores IFLA_MASTER reports success without doing it). */
static int tap_check(struct netlink *nl, const char *name, int master)
{
	struct netlink_link info;
	int rc = netlink_link_info(nl, name, &info);

	if (rc < 0)
		return rc;
	return info.master == master && info.up ? 0 : -EIO;
}

/* Enslaves the existing link `name` (must be a tap) to master, sets it up. */
static int tap_attach(struct netlink *nl, const char *name, int master)
{
	struct rtnl_link *tap = NULL;
	struct netlink_link info;
	int rc = link_get(nl, name, &tap);

	if (rc < 0)
		return rc;
	link_describe(tap, &info);
	rc = info.is_tap ? link_set_up(nl, tap, master) : -EEXIST;
	rtnl_link_put(tap);
	return rc == 0 ? tap_check(nl, name, master) : rc;
}

int netlink_ensure_tap(struct netlink *nl, const char *name, const char *bridge)
{
	struct netlink_link br, tap;
	bool created = false;
	int rc;

	rc = netlink_link_info(nl, bridge, &br);
	if (rc < 0)
		return rc;
	if (!br.is_bridge)
		return -EINVAL;
	rc = netlink_link_info(nl, name, &tap);
	if (rc == -ENODEV) {
		rc = tap_create(nl, name);
		created = rc == 0;
	} else if (rc == 0 && tap.is_tap) {
		tap_fix_owner(nl, name);
	}
	if (rc == 0)
		rc = tap_attach(nl, name, br.ifindex);
	if (rc < 0 && created)
		netlink_delete_link(nl, name);
	return rc;
}

int netlink_delete_link(struct netlink *nl, const char *name)
{
	struct rtnl_link *l;
	int rc;

	if (!ifname_ok(name))
		return -EINVAL;
	l = rtnl_link_alloc();
	if (!l)
		return -ENOMEM;
	rtnl_link_set_name(l, name);
	rc = nle_errno(rtnl_link_delete(nl->sk, l));
	rtnl_link_put(l);
	return rc;
}

int netlink_list_links(struct netlink *nl, const char *prefix,
		       int (*cb)(const char *name, const struct netlink_link *info,
				 void *arg),
		       void *arg)
{
	size_t plen = strlen(prefix);
	struct nl_cache *cache = NULL;
	struct nl_object *o;
	int rc;

	rc = nle_errno(rtnl_link_alloc_cache(nl->sk, AF_UNSPEC, &cache));
	if (rc < 0)
		return rc;
	for (o = nl_cache_get_first(cache); o && rc == 0; o = nl_cache_get_next(o)) {
		struct rtnl_link *l = (struct rtnl_link *)o;
		const char *name = rtnl_link_get_name(l);
		struct netlink_link info;

		if (!name || strncmp(name, prefix, plen) != 0)
			continue;
		link_describe(l, &info);
		rc = cb(name, &info, arg);
	}
	nl_cache_free(cache);
	return rc;
}
