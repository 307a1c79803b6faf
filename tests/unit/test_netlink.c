/*
 * test_netlink.c — netd's libnl wrappers (netd/netlink.c) against the real
 * kernel. Every case runs in its own forked process (t.h) and first moves
 * into a fresh network namespace with unshare(CLONE_NEWNET), so it needs no
 * `ip netns`, sees only its own links, and leaves nothing behind: the
 * namespace and every device in it go away when the case exits.
 * Needs root (CAP_NET_ADMIN) and /dev/net/tun; skips otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <unistd.h>

#include <netlink/netlink.h>
#include <netlink/route/addr.h>

#include "../../netd/netlink.h"
#include "t.h"

#define IP4(a, b, c, d) (((uint32_t)(a) << 24) | ((b) << 16) | ((c) << 8) | (d))
#define GW IP4(172, 31, 0, 1)

/* Enters a private netns and opens the wrapper there. */
static struct netlink *setup(void)
{
	struct netlink *nl = NULL;

	if (geteuid() != 0)
		T_SKIP("needs root");
	if (access("/dev/net/tun", R_OK | W_OK) != 0)
		T_SKIP("no /dev/net/tun");
	if (unshare(CLONE_NEWNET | CLONE_NEWNS) != 0)
		T_SKIP("unshare(CLONE_NEWNET | CLONE_NEWNS) failed");
	/* /sys/class/net of the new namespace (tap owners are read there),
	 * as `ip netns exec` does; the mount dies with this process. */
	T_ASSERT(mount(NULL, "/", NULL, MS_PRIVATE | MS_REC, NULL) == 0);
	T_ASSERT(umount2("/sys", MNT_DETACH) == 0);
	T_ASSERT(mount("sysfs", "/sys", "sysfs", 0, NULL) == 0);
	T_EQ_INT(netlink_open(&nl), 0);
	return nl;
}

struct addr_seen {
	int ifindex;
	uint32_t want;
	int want_prefix;
	int count;
};

static void count_addr(struct nl_object *o, void *arg)
{
	struct rtnl_addr *a = (struct rtnl_addr *)o;
	struct addr_seen *s = arg;
	struct nl_addr *local = rtnl_addr_get_local(a);
	uint32_t be = htonl(s->want);

	if (rtnl_addr_get_ifindex(a) != s->ifindex || rtnl_addr_get_family(a) != AF_INET ||
	    !local || nl_addr_get_len(local) != 4)
		return;
	if (memcmp(nl_addr_get_binary_addr(local), &be, 4) == 0 &&
	    rtnl_addr_get_prefixlen(a) == s->want_prefix)
		s->count++;
}

/* Number of times addr/prefix is configured on ifindex (read independently
 * of the code under test, with its own socket). */
static int addr_count(int ifindex, uint32_t addr, int prefix)
{
	struct addr_seen s = { ifindex, addr, prefix, 0 };
	struct nl_sock *sk = nl_socket_alloc();
	struct nl_cache *cache = NULL;

	T_ASSERT(sk);
	T_EQ_INT(nl_connect(sk, NETLINK_ROUTE), 0);
	T_EQ_INT(rtnl_addr_alloc_cache(sk, &cache), 0);
	nl_cache_foreach(cache, count_addr, &s);
	nl_cache_free(cache);
	nl_socket_free(sk);
	return s.count;
}

static void t_bridge_idempotent(void)
{
	struct netlink *nl = setup();
	struct netlink_link br, br2;

	T_EQ_INT(netlink_ensure_bridge(nl, "uitbr0", GW, 24), 0);
	T_EQ_INT(netlink_link_info(nl, "uitbr0", &br), 0);
	T_ASSERT(br.is_bridge);
	T_ASSERT(br.up);
	T_EQ_STR(br.kind, "bridge");
	T_EQ_INT(addr_count(br.ifindex, GW, 24), 1);
	/* again: same link, still one address, no error */
	T_EQ_INT(netlink_ensure_bridge(nl, "uitbr0", GW, 24), 0);
	T_EQ_INT(netlink_link_info(nl, "uitbr0", &br2), 0);
	T_EQ_INT(br2.ifindex, br.ifindex);
	T_EQ_INT(addr_count(br.ifindex, GW, 24), 1);
	netlink_close(nl);
}

static void t_bridge_brought_up_again(void)
{
	struct netlink *nl = setup();
	struct netlink_link br;

	T_EQ_INT(netlink_ensure_bridge(nl, "uitbr0", GW, 24), 0);
	T_EQ_INT(system("ip link set uitbr0 down"), 0);
	T_EQ_INT(netlink_link_info(nl, "uitbr0", &br), 0);
	T_ASSERT(!br.up);
	T_EQ_INT(netlink_ensure_bridge(nl, "uitbr0", GW, 24), 0);
	T_EQ_INT(netlink_link_info(nl, "uitbr0", &br), 0);
	T_ASSERT(br.up);
	netlink_close(nl);
}

static void t_bridge_name_taken_by_other_kind(void)
{
	struct netlink *nl = setup();

	T_EQ_INT(system("ip tuntap add uitbr0 mode tap"), 0);
	T_EQ_INT(netlink_ensure_bridge(nl, "uitbr0", GW, 24), -EEXIST);
	netlink_close(nl);
}

/* The flags the tun driver reports for an existing tap (attaching to it). */
static int tun_flags(const char *name)
{
	struct ifreq ifr;
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC), flags;

	T_ASSERT(fd >= 0);
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	T_EQ_INT(ioctl(fd, TUNSETIFF, &ifr), 0);
	T_EQ_INT(ioctl(fd, TUNGETIFF, &ifr), 0);
	flags = ifr.ifr_flags;
	close(fd);
	return flags;
}

static long sysfs_num(const char *dev, const char *what)
{
	char path[128], buf[32] = "";
	FILE *f;

	snprintf(path, sizeof(path), "/sys/class/net/%s/%s", dev, what);
	f = fopen(path, "r");
	T_ASSERT(f);
	T_ASSERT(fgets(buf, sizeof(buf), f));
	fclose(f);
	return strtol(buf, NULL, 10);
}

static void t_tap_create_enslave_up(void)
{
	struct netlink *nl = setup();
	struct netlink_link br, tap;
	int flags;

	T_EQ_INT(netlink_ensure_bridge(nl, "uitbr0", GW, 24), 0);
	T_EQ_INT(netlink_link_info(nl, "uitbr0", &br), 0);
	T_EQ_INT(netlink_ensure_tap(nl, "uit-2", "uitbr0"), 0);
	T_EQ_INT(netlink_link_info(nl, "uit-2", &tap), 0);
	T_ASSERT(tap.is_tap);
	T_ASSERT(!tap.is_bridge);
	T_EQ_STR(tap.kind, "tun");
	T_EQ_INT(tap.master, br.ifindex);
	T_ASSERT(tap.up);
	/* persistent: it outlived the fd that created it; and a tap */
	flags = tun_flags("uit-2");
	T_ASSERT(flags & IFF_TAP);
	T_ASSERT(flags & IFF_PERSIST);
	/* idempotent */
	T_EQ_INT(netlink_ensure_tap(nl, "uit-2", "uitbr0"), 0);
	T_EQ_INT(netlink_link_info(nl, "uit-2", &tap), 0);
	T_EQ_INT(tap.master, br.ifindex);
	T_EQ_INT(sysfs_num("uit-2", "owner"), -1); /* no owner set: root's */
	netlink_close(nl);
}

/* With an owner, a new tap belongs to it, and an existing detached one is
 * given to it (TUNSETOWNER/TUNSETGROUP): the VMM user opens its own tap. */
static void t_tap_owner(void)
{
	struct netlink *nl = setup();

	T_EQ_INT(netlink_ensure_bridge(nl, "uitbr0", GW, 24), 0);
	netlink_set_tap_owner(nl, 4242, 4343);
	T_EQ_INT(netlink_ensure_tap(nl, "uit-3", "uitbr0"), 0);
	T_EQ_INT(sysfs_num("uit-3", "owner"), 4242);
	T_EQ_INT(sysfs_num("uit-3", "group"), 4343);
	netlink_set_tap_owner(nl, 4444, 4545);
	T_EQ_INT(netlink_ensure_tap(nl, "uit-3", "uitbr0"), 0);
	T_EQ_INT(sysfs_num("uit-3", "owner"), 4444);
	T_EQ_INT(sysfs_num("uit-3", "group"), 4545);
	netlink_close(nl);
}

static void t_tap_repaired_when_detached(void)
{
	struct netlink *nl = setup();
	struct netlink_link br, tap;

	T_EQ_INT(netlink_ensure_bridge(nl, "uitbr0", GW, 24), 0);
	T_EQ_INT(netlink_link_info(nl, "uitbr0", &br), 0);
	T_EQ_INT(netlink_ensure_tap(nl, "uit-3", "uitbr0"), 0);
	T_EQ_INT(system("ip link set uit-3 nomaster down"), 0);
	T_EQ_INT(netlink_link_info(nl, "uit-3", &tap), 0);
	T_EQ_INT(tap.master, 0);
	T_ASSERT(!tap.up);
	T_EQ_INT(netlink_ensure_tap(nl, "uit-3", "uitbr0"), 0);
	T_EQ_INT(netlink_link_info(nl, "uit-3", &tap), 0);
	T_EQ_INT(tap.master, br.ifindex);
	T_ASSERT(tap.up);
	netlink_close(nl);
}

static void t_tap_errors(void)
{
	struct netlink *nl = setup();
	struct netlink_link info;

	/* no bridge */
	T_EQ_INT(netlink_ensure_tap(nl, "uit-2", "nobr0"), -ENODEV);
	T_EQ_INT(netlink_link_info(nl, "uit-2", &(struct netlink_link){ 0 }), -ENODEV);
	T_EQ_INT(netlink_ensure_bridge(nl, "uitbr0", GW, 24), 0);
	/* name taken by something that is not a tap: refused, left alone */
	T_EQ_INT(system("ip tuntap add uit-9 mode tun"), 0);
	T_EQ_INT(netlink_ensure_tap(nl, "uit-9", "uitbr0"), -EEXIST);
	T_EQ_INT(netlink_link_info(nl, "uit-9", &info), 0);
	T_ASSERT(!info.is_tap);
	T_EQ_STR(info.kind, "tun");
	T_EQ_INT(system("ip link add uit-8 type bridge"), 0);
	T_EQ_INT(netlink_ensure_tap(nl, "uit-8", "uitbr0"), -EEXIST);
	/* the "bridge" is not one */
	T_EQ_INT(netlink_ensure_tap(nl, "uit-2", "uit-9"), -EINVAL);
	/* names the kernel would not take literally */
	T_EQ_INT(netlink_ensure_tap(nl, "uit-%d", "uitbr0"), -EINVAL);
	T_EQ_INT(netlink_ensure_tap(nl, "uit-0123456789ab", "uitbr0"), -EINVAL);
	T_EQ_INT(netlink_ensure_tap(nl, "", "uitbr0"), -EINVAL);
	netlink_close(nl);
}

static void t_delete(void)
{
	struct netlink *nl = setup();

	T_EQ_INT(netlink_ensure_bridge(nl, "uitbr0", GW, 24), 0);
	T_EQ_INT(netlink_ensure_tap(nl, "uit-2", "uitbr0"), 0);
	T_EQ_INT(netlink_delete_link(nl, "uit-2"), 0);
	T_EQ_INT(netlink_link_info(nl, "uit-2", &(struct netlink_link){ 0 }), -ENODEV);
	T_EQ_INT(netlink_delete_link(nl, "uit-2"), -ENODEV);
	/* and it can be created again under the same name */
	T_EQ_INT(netlink_ensure_tap(nl, "uit-2", "uitbr0"), 0);
	netlink_close(nl);
}

struct seen {
	char names[8][16];
	int n, taps;
};

static int collect(const char *name, const struct netlink_link *info, void *arg)
{
	struct seen *s = arg;

	T_ASSERT(s->n < 8);
	snprintf(s->names[s->n++], sizeof(s->names[0]), "%s", name);
	s->taps += info->is_tap;
	return 0;
}

static bool seen_has(const struct seen *s, const char *name)
{
	for (int i = 0; i < s->n; i++)
		if (strcmp(s->names[i], name) == 0)
			return true;
	return false;
}

static int stop_at_first(const char *name, const struct netlink_link *info, void *arg)
{
	(void)name;
	(void)info;
	(*(int *)arg)++;
	return 42;
}

/* Deletes every listed link: the walk is over a snapshot. */
static int delete_each(const char *name, const struct netlink_link *info, void *arg)
{
	(void)info;
	T_EQ_INT(netlink_delete_link(arg, name), 0);
	return 0;
}

static void t_list_by_prefix(void)
{
	struct netlink *nl = setup();
	struct seen s = { .n = 0 };
	int calls = 0;

	T_EQ_INT(netlink_ensure_bridge(nl, "uitbr0", GW, 24), 0);
	T_EQ_INT(netlink_ensure_tap(nl, "uit-2", "uitbr0"), 0);
	T_EQ_INT(netlink_ensure_tap(nl, "uit-3", "uitbr0"), 0);
	T_EQ_INT(netlink_ensure_tap(nl, "other-4", "uitbr0"), 0);
	T_EQ_INT(system("ip tuntap add uit-x mode tun"), 0);
	T_EQ_INT(netlink_list_links(nl, "uit-", collect, &s), 0);
	T_EQ_INT(s.n, 3);
	T_EQ_INT(s.taps, 2);
	T_ASSERT(seen_has(&s, "uit-2"));
	T_ASSERT(seen_has(&s, "uit-3"));
	T_ASSERT(seen_has(&s, "uit-x"));
	T_ASSERT(!seen_has(&s, "other-4"));
	T_EQ_INT(netlink_list_links(nl, "uit-", stop_at_first, &calls), 42);
	T_EQ_INT(calls, 1);
	T_EQ_INT(netlink_list_links(nl, "uit-", delete_each, nl), 0);
	memset(&s, 0, sizeof(s));
	T_EQ_INT(netlink_list_links(nl, "uit-", collect, &s), 0);
	T_EQ_INT(s.n, 0);
	T_EQ_INT(netlink_list_links(nl, "", collect, &s), 0);
	T_ASSERT(seen_has(&s, "other-4"));
	T_ASSERT(seen_has(&s, "uitbr0"));
	T_ASSERT(seen_has(&s, "lo"));
	netlink_close(nl);
}

static void t_socket_is_cloexec(void)
{
	struct netlink *nl = setup();
	int sockets = 0;

	/* every socket this process holds (the wrapper's) must be O_CLOEXEC */
	for (int fd = 3; fd < 256; fd++) {
		char path[64], target[64] = "";
		int fl = fcntl(fd, F_GETFD);

		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		if (fl < 0 || readlink(path, target, sizeof(target) - 1) <= 0 ||
		    strncmp(target, "socket:", 7) != 0)
			continue;
		T_ASSERT(fl & FD_CLOEXEC);
		sockets++;
	}
	T_ASSERT(sockets >= 1);
	netlink_close(nl);
}

int main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		T_CASE(t_bridge_idempotent),
		T_CASE(t_bridge_brought_up_again),
		T_CASE(t_bridge_name_taken_by_other_kind),
		T_CASE(t_tap_create_enslave_up),
		T_CASE(t_tap_owner),
		T_CASE(t_tap_repaired_when_detached),
		T_CASE(t_tap_errors),
		T_CASE(t_delete),
		T_CASE(t_list_by_prefix),
		T_CASE(t_socket_is_cloexec),
		{ 0 },
	};

	return t_run(argc, argv, cases);
}
