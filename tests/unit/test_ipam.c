/*
 * test_ipam.c — netd's address choice and naming (netd/ipam.c): order of
 * allocation, the addresses never handed out, exhaustion, reuse after
 * release, and the MAC/tap names derived from an address.
 */
#include <errno.h>
#include <stdint.h>

#include "ipam.h"
#include "t.h"

#define IP4(a, b, c, d) (((uint32_t)(a) << 24) | ((b) << 16) | ((c) << 8) | (d))

static struct ui_ipam net24(void)
{
	struct ui_ipam p;

	T_EQ_INT(ui_ipam_init(&p, IP4(172, 31, 0, 0), 24, IP4(172, 31, 0, 1)), 0);
	return p;
}

/* Picks n addresses in a row into got[], each added to used[] as a lease
 * would be (ui_ipam_pick reorders used[], so results are read from got[]). */
static void pick_n(const struct ui_ipam *p, uint32_t *used, size_t *n_used, size_t n,
		   uint32_t *got)
{
	for (size_t i = 0; i < n; i++) {
		T_EQ_INT(ui_ipam_pick(p, used, *n_used, &got[i]), 0);
		used[(*n_used)++] = got[i];
	}
}

static void t_first_is_dot2(void)
{
	struct ui_ipam p = net24();
	uint32_t used[4], got[3], ip = 0;
	size_t n_used = 0;

	T_EQ_INT(ui_ipam_pick(&p, used, 0, &ip), 0);
	T_EQ_INT(ip, IP4(172, 31, 0, 2));
	pick_n(&p, used, &n_used, 3, got);
	T_EQ_INT(got[0], IP4(172, 31, 0, 2));
	T_EQ_INT(got[1], IP4(172, 31, 0, 3));
	T_EQ_INT(got[2], IP4(172, 31, 0, 4));
}

static void t_never_network_gateway_broadcast(void)
{
	struct ui_ipam p = net24();
	uint32_t used[256], got[253], ip = 0;
	size_t n_used = 0;

	pick_n(&p, used, &n_used, 253, got); /* every host but the gateway */
	for (size_t i = 0; i < 253; i++) {
		T_EQ_INT(got[i], IP4(172, 31, 0, 2 + i));
		T_ASSERT(ui_ipam_is_assignable(&p, got[i]));
	}
	T_EQ_INT(ui_ipam_pick(&p, used, n_used, &ip), -ENOSPC);
	T_ASSERT(!ui_ipam_is_assignable(&p, IP4(172, 31, 0, 0)));
	T_ASSERT(!ui_ipam_is_assignable(&p, IP4(172, 31, 0, 1)));
	T_ASSERT(!ui_ipam_is_assignable(&p, IP4(172, 31, 0, 255)));
	T_ASSERT(!ui_ipam_is_assignable(&p, IP4(172, 31, 1, 2)));
}

static void t_gateway_not_dot1(void)
{
	struct ui_ipam p;
	uint32_t used[8], got[5], ip = 0;
	size_t n_used = 0;

	/* 10.0.0.0/29: hosts .1-.6, gateway .3 -> .1 .2 .4 .5 .6 */
	T_EQ_INT(ui_ipam_init(&p, IP4(10, 0, 0, 0), 29, IP4(10, 0, 0, 3)), 0);
	pick_n(&p, used, &n_used, 5, got);
	T_EQ_INT(got[0], IP4(10, 0, 0, 1));
	T_EQ_INT(got[1], IP4(10, 0, 0, 2));
	T_EQ_INT(got[2], IP4(10, 0, 0, 4));
	T_EQ_INT(got[3], IP4(10, 0, 0, 5));
	T_EQ_INT(got[4], IP4(10, 0, 0, 6));
	T_EQ_INT(ui_ipam_pick(&p, used, n_used, &ip), -ENOSPC);
}

static void t_exhaustion_slash30(void)
{
	struct ui_ipam p;
	uint32_t used[4], got[1], ip = 0;
	size_t n_used = 0;

	/* /30: network .0, hosts .1 .2, broadcast .3; gateway .1 -> one address */
	T_EQ_INT(ui_ipam_init(&p, IP4(192, 168, 7, 0), 30, IP4(192, 168, 7, 1)), 0);
	pick_n(&p, used, &n_used, 1, got);
	T_EQ_INT(got[0], IP4(192, 168, 7, 2));
	T_EQ_INT(ui_ipam_pick(&p, used, n_used, &ip), -ENOSPC);
	T_EQ_INT(ui_ipam_pick(&p, used, n_used, &ip), -ENOSPC); /* stays so */
}

static void t_exhaustion_slash29(void)
{
	struct ui_ipam p;
	uint32_t used[8], got[5], ip = 0;
	size_t n_used = 0;

	/* 192.168.7.8/29: hosts .9-.14, gateway .9 -> .10 .. .14 */
	T_EQ_INT(ui_ipam_init(&p, IP4(192, 168, 7, 8), 29, IP4(192, 168, 7, 9)), 0);
	pick_n(&p, used, &n_used, 5, got);
	T_EQ_INT(got[0], IP4(192, 168, 7, 10));
	T_EQ_INT(got[4], IP4(192, 168, 7, 14));
	T_EQ_INT(ui_ipam_pick(&p, used, n_used, &ip), -ENOSPC);
}

static void t_release_reuses_lowest(void)
{
	struct ui_ipam p = net24();
	uint32_t used[8], got[5];
	size_t n_used = 0;

	pick_n(&p, used, &n_used, 5, got); /* .2 .3 .4 .5 .6 */
	T_EQ_INT(got[4], IP4(172, 31, 0, 6));
	/* .3 and .5 released; the order of used[] does not matter */
	used[0] = IP4(172, 31, 0, 6);
	used[1] = IP4(172, 31, 0, 2);
	used[2] = IP4(172, 31, 0, 4);
	n_used = 3;
	pick_n(&p, used, &n_used, 3, got);
	T_EQ_INT(got[0], IP4(172, 31, 0, 3));
	T_EQ_INT(got[1], IP4(172, 31, 0, 5));
	T_EQ_INT(got[2], IP4(172, 31, 0, 7));
}

static void t_ignores_foreign_and_duplicate_used(void)
{
	struct ui_ipam p = net24();
	uint32_t used[] = { IP4(10, 0, 0, 2), IP4(172, 31, 0, 2),
			    IP4(172, 31, 0, 2), IP4(172, 31, 1, 3) };
	uint32_t ip = 0;

	T_EQ_INT(ui_ipam_pick(&p, used, 4, &ip), 0);
	T_EQ_INT(ip, IP4(172, 31, 0, 3));
}

static void t_init_rejects(void)
{
	struct ui_ipam p;

	T_EQ_INT(ui_ipam_init(&p, IP4(172, 31, 0, 0), 31, IP4(172, 31, 0, 1)), -EINVAL);
	T_EQ_INT(ui_ipam_init(&p, IP4(172, 31, 0, 0), 0, IP4(172, 31, 0, 1)), -EINVAL);
	T_EQ_INT(ui_ipam_init(&p, IP4(172, 31, 0, 0), 24, IP4(172, 31, 0, 0)), -EINVAL);
	T_EQ_INT(ui_ipam_init(&p, IP4(172, 31, 0, 0), 24, IP4(172, 31, 0, 255)), -EINVAL);
	T_EQ_INT(ui_ipam_init(&p, IP4(172, 31, 0, 0), 24, IP4(172, 31, 1, 1)), -EINVAL);
	/* host bits in the subnet are cleared */
	T_EQ_INT(ui_ipam_init(&p, IP4(172, 31, 0, 77), 24, IP4(172, 31, 0, 1)), 0);
	T_EQ_INT(p.network, IP4(172, 31, 0, 0));
	T_EQ_INT(p.broadcast, IP4(172, 31, 0, 255));
}

static void t_mac_and_tap_format(void)
{
	struct ui_ipam p = net24();
	struct ui_ipam_addr a;
	char tap[UI_IPAM_TAP_LEN];

	T_EQ_INT(ui_ipam_describe(&p, "uit-", IP4(172, 31, 0, 2), &a), 0);
	T_EQ_STR(a.ip, "172.31.0.2");
	T_EQ_STR(a.mac, "06:00:ac:1f:00:02");
	T_EQ_STR(a.tap, "uit-2");
	T_EQ_INT(ui_ipam_describe(&p, "uit-", IP4(172, 31, 0, 254), &a), 0);
	T_EQ_STR(a.mac, "06:00:ac:1f:00:fe");
	T_EQ_STR(a.tap, "uit-254");
	/* names that do not fit IFNAMSIZ are refused */
	T_EQ_INT(ui_ipam_format_tap(&p, "abcdefghijklm", IP4(172, 31, 0, 254), tap),
		 -ENAMETOOLONG);
	T_EQ_INT(ui_ipam_format_tap(&p, "abcdefghijkl", IP4(172, 31, 0, 254), tap), 0);
	T_EQ_STR(tap, "abcdefghijkl254");
	T_EQ_INT(ui_ipam_format_tap(&p, "uit-", IP4(172, 31, 1, 2), tap), -EINVAL);
}

static void t_slash16_host_index(void)
{
	struct ui_ipam p;
	struct ui_ipam_addr a;
	uint32_t used[300], got[256];
	size_t n_used = 0;

	T_EQ_INT(ui_ipam_init(&p, IP4(10, 20, 0, 0), 16, IP4(10, 20, 0, 1)), 0);
	T_EQ_INT(ui_ipam_describe(&p, "uit-", IP4(10, 20, 1, 2), &a), 0);
	T_EQ_STR(a.tap, "uit-258");
	T_EQ_STR(a.mac, "06:00:0a:14:01:02");
	T_EQ_INT(ui_ipam_describe(&p, "uit-", IP4(10, 20, 255, 254), &a), 0);
	T_EQ_STR(a.tap, "uit-65534");
	T_EQ_STR(a.ip, "10.20.255.254");
	/* allocation walks across the .255 → .0 boundary of the third byte */
	pick_n(&p, used, &n_used, 256, got);
	T_EQ_INT(got[0], IP4(10, 20, 0, 2));
	T_EQ_INT(got[253], IP4(10, 20, 0, 255));
	T_EQ_INT(got[254], IP4(10, 20, 1, 0));
	T_EQ_INT(got[255], IP4(10, 20, 1, 1));
	T_EQ_INT(ui_ipam_describe(&p, "uit-", got[253], &a), 0);
	T_EQ_STR(a.tap, "uit-255");
	T_EQ_INT(ui_ipam_describe(&p, "uit-", got[254], &a), 0);
	T_EQ_STR(a.tap, "uit-256");
}

static void t_parse_ip(void)
{
	uint32_t ip = 0;

	T_EQ_INT(ui_ipam_parse_ip("172.31.0.2", &ip), 0);
	T_EQ_INT(ip, IP4(172, 31, 0, 2));
	T_EQ_INT(ui_ipam_parse_ip("172.31.0", &ip), -EINVAL);
	T_EQ_INT(ui_ipam_parse_ip("", &ip), -EINVAL);
	T_EQ_INT(ui_ipam_parse_ip("1.2.3.256", &ip), -EINVAL);
}

int main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		T_CASE(t_first_is_dot2),
		T_CASE(t_never_network_gateway_broadcast),
		T_CASE(t_gateway_not_dot1),
		T_CASE(t_exhaustion_slash30),
		T_CASE(t_exhaustion_slash29),
		T_CASE(t_release_reuses_lowest),
		T_CASE(t_ignores_foreign_and_duplicate_used),
		T_CASE(t_init_rejects),
		T_CASE(t_mac_and_tap_format),
		T_CASE(t_slash16_host_index),
		T_CASE(t_parse_ip),
		{ 0 },
	};

	return t_run(argc, argv, cases);
}
