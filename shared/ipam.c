/*
 * ipam.c — address choice and the names derived from an address; see ipam.h.
 *
 * ui_ipam_pick sorts the used list and walks the host range upwards alongside
 * it, so it costs O(n log n) in the number of leases, not in the size of the
 * subnet (a /16 has 65534 hosts, a host rarely more than a few dozen VMs).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipam.h"

static uint32_t prefix_mask(unsigned prefix_len)
{
	return prefix_len == 0 ? 0 : ~(uint32_t)0 << (32 - prefix_len);
}

int ui_ipam_init(struct ui_ipam *p, uint32_t subnet, unsigned prefix_len, uint32_t gateway)
{
	uint32_t mask;

	if (prefix_len < 1 || prefix_len > 30)
		return -EINVAL;
	mask = prefix_mask(prefix_len);
	p->network = subnet & mask;
	p->broadcast = p->network | ~mask;
	p->prefix_len = prefix_len;
	p->gateway = gateway;
	if (gateway <= p->network || gateway >= p->broadcast)
		return -EINVAL;
	return 0;
}

bool ui_ipam_is_assignable(const struct ui_ipam *p, uint32_t ip)
{
	return ip > p->network && ip < p->broadcast && ip != p->gateway;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

int ui_ipam_pick(const struct ui_ipam *p, uint32_t *used, size_t n_used, uint32_t *out)
{
	size_t i = 0;

	if (n_used > 1)
		qsort(used, n_used, sizeof(*used), cmp_u32);
	for (uint32_t ip = p->network + 1; ip < p->broadcast; ip++) {
		/* Skip leases below the candidate (and any outside the subnet). */
		while (i < n_used && used[i] < ip)
			i++;
		if (ip == p->gateway || (i < n_used && used[i] == ip))
			continue;
		*out = ip;
		return 0;
	}
	return -ENOSPC;
}

void ui_ipam_format_ip(uint32_t ip, char buf[UI_IPAM_IP_LEN])
{
	snprintf(buf, UI_IPAM_IP_LEN, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 0xff,
		 (ip >> 8) & 0xff, ip & 0xff);
}

void ui_ipam_format_mac(uint32_t ip, char buf[UI_IPAM_MAC_LEN])
{
	snprintf(buf, UI_IPAM_MAC_LEN, "06:00:%02x:%02x:%02x:%02x", ip >> 24,
		 (ip >> 16) & 0xff, (ip >> 8) & 0xff, ip & 0xff);
}

int ui_ipam_format_tap(const struct ui_ipam *p, const char *tap_prefix, uint32_t ip,
		    char buf[UI_IPAM_TAP_LEN])
{
	int n;

	if (ip <= p->network || ip >= p->broadcast)
		return -EINVAL;
	n = snprintf(buf, UI_IPAM_TAP_LEN, "%s%u", tap_prefix, ip - p->network);
	if (n < 0 || n >= UI_IPAM_TAP_LEN)
		return -ENAMETOOLONG;
	return 0;
}

int ui_ipam_describe(const struct ui_ipam *p, const char *tap_prefix, uint32_t ip,
		  struct ui_ipam_addr *out)
{
	ui_ipam_format_ip(ip, out->ip);
	ui_ipam_format_mac(ip, out->mac);
	return ui_ipam_format_tap(p, tap_prefix, ip, out->tap);
}

int ui_ipam_parse_ip(const char *s, uint32_t *out)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1)
		return -EINVAL;
	*out = ntohl(a.s_addr);
	return 0;
}
