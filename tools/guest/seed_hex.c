/*
 * seed_hex.c — parse the 64 hex characters of `uigniter.seed=` (see
 * seed_hex.h). Strict on purpose: a seed the host mangled is reported,
 * never half-used.
 */
#include <errno.h>
#include <string.h>

#include "seed_hex.h"

/* One hex digit's value, or -1. Not isxdigit(): no locale. */
static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int ui_seed_parse_hex(const char *s, uint8_t out[UI_SEED_BYTES])
{
	size_t i;
	int hi, lo;

	memset(out, 0, UI_SEED_BYTES);
	if (!s || strnlen(s, UI_SEED_BYTES * 2 + 1) != UI_SEED_BYTES * 2)
		return -EINVAL;
	for (i = 0; i < UI_SEED_BYTES; i++) {
		hi = hexval(s[2 * i]);
		lo = hexval(s[2 * i + 1]);
		if (hi < 0 || lo < 0) {
			memset(out, 0, UI_SEED_BYTES);
			return -EINVAL;
		}
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}
