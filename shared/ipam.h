/*
 * ipam.h — IPv4 address management for netd: pure logic, no I/O, so it is
 * unit-tested on its own (tests/unit/test_ipam.c).
 *
 * The subnet is <network>/<prefix_len> with the gateway inside it. A VM gets
 * the lowest host address that is not the network, the gateway, the
 * broadcast address, nor already leased. From the address follow, with no
 * other state:
 *   MAC  06:00:<the 4 address bytes in hex>    172.31.0.2 -> 06:00:ac:1f:00:02
 *   tap  <tap_prefix><host index>              172.31.0.2 -> uit-2
 * where host index = address - network, so a tap always names its lease.
 *
 * Addresses are uint32_t in host byte order throughout.
 * Ownership: struct ui_ipam is caller-embedded and holds no pointers.
 */
#ifndef UI_IPAM_H
#define UI_IPAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UI_IPAM_IP_LEN 16   /* "255.255.255.255" + NUL */
#define UI_IPAM_MAC_LEN 18  /* "06:00:ac:1f:00:02" + NUL */
#define UI_IPAM_TAP_LEN 16  /* IFNAMSIZ: at most 15 chars + NUL */

struct ui_ipam {
	uint32_t network;    /* subnet with the host bits cleared */
	uint32_t broadcast;  /* network | ~mask */
	uint32_t gateway;
	unsigned prefix_len; /* 1..30 */
};

/* The strings that describe one lease; caller-embedded. */
struct ui_ipam_addr {
	char ip[UI_IPAM_IP_LEN];
	char mac[UI_IPAM_MAC_LEN];
	char tap[UI_IPAM_TAP_LEN];
};

/* -EINVAL unless prefix_len is 1..30 and gateway is a host address of the
 * subnet (host bits of subnet are ignored). */
int ui_ipam_init(struct ui_ipam *p, uint32_t subnet, unsigned prefix_len, uint32_t gateway);

/* Picks the lowest free host address into *out; -ENOSPC when none is left.
 * used[] (addresses already leased; ones outside the subnet are ignored) is
 * sorted in place. */
int ui_ipam_pick(const struct ui_ipam *p, uint32_t *used, size_t n_used, uint32_t *out);

/* true if ip is an address ui_ipam_pick could return (a host, not the gateway). */
bool ui_ipam_is_assignable(const struct ui_ipam *p, uint32_t ip);

/* Formatting. buf sizes as above. */
void ui_ipam_format_ip(uint32_t ip, char buf[UI_IPAM_IP_LEN]);
void ui_ipam_format_mac(uint32_t ip, char buf[UI_IPAM_MAC_LEN]);
/* -ENAMETOOLONG if the name would not fit IFNAMSIZ; -EINVAL if ip is
 * outside the subnet. */
int ui_ipam_format_tap(const struct ui_ipam *p, const char *tap_prefix, uint32_t ip,
		    char buf[UI_IPAM_TAP_LEN]);
/* All three at once (ui_ipam_format_tap's errors). */
int ui_ipam_describe(const struct ui_ipam *p, const char *tap_prefix, uint32_t ip,
		  struct ui_ipam_addr *out);

/* Dotted quad -> host order; -EINVAL if s is not one. */
int ui_ipam_parse_ip(const char *s, uint32_t *out);

#endif
