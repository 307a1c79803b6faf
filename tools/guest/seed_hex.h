/*
 * seed_hex.h — the strict parser of uigniter-seed's argument (seed.c):
 * exactly UI_SEED_BYTES * 2 hex digits, upper or lower case, nothing else
 * (no 0x, no spaces, no newline). Pure: no I/O, shared by the guest helper
 * (a static binary, no libuishared) and tests/unit/test_seed.c.
 */
#ifndef UI_SEED_HEX_H
#define UI_SEED_HEX_H

#include <stddef.h>
#include <stdint.h>

#define UI_SEED_BYTES 32

/* Parses s into out[UI_SEED_BYTES]. Returns 0, or -EINVAL (s NULL, a
 * non-hex character, or not exactly 64 characters); on failure out is
 * zeroed, never half-written. */
int ui_seed_parse_hex(const char *s, uint8_t out[UI_SEED_BYTES]);

#endif
