/*
 * test_seed.c — the parser of the guest's uigniter-seed argument
 * (tools/guest/seed_hex.c): exactly 64 hex digits of either case, the bytes
 * in order; anything else (short, long, a non-hex character anywhere, a
 * 0x prefix, a newline, NULL) is -EINVAL with the output zeroed.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include "../../tools/guest/seed_hex.h"
#include "t.h"

#define HEX64 "000102030405060708090a0b0c0d0e0f" \
	      "f0e1d2c3b4a5968778695a4b3c2d1e0f"

static const uint8_t want64[UI_SEED_BYTES] = {
	0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
	0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
	0xf0, 0xe1, 0xd2, 0xc3, 0xb4, 0xa5, 0x96, 0x87,
	0x78, 0x69, 0x5a, 0x4b, 0x3c, 0x2d, 0x1e, 0x0f,
};

static bool all_zero(const uint8_t *b)
{
	for (int i = 0; i < UI_SEED_BYTES; i++)
		if (b[i])
			return false;
	return true;
}

/* s must be refused, and out (filled with 0xAA first) left all zero */
static void refused(const char *s)
{
	uint8_t out[UI_SEED_BYTES];

	memset(out, 0xaa, sizeof(out));
	if (ui_seed_parse_hex(s, out) != -EINVAL)
		T_FAIL("accepted \"%s\"", s ? s : "(null)");
	T_ASSERT(all_zero(out));
}

static void t_seed_lower(void)
{
	uint8_t out[UI_SEED_BYTES];

	T_EQ_INT(ui_seed_parse_hex(HEX64, out), 0);
	T_ASSERT(memcmp(out, want64, sizeof(out)) == 0);
}

static void t_seed_upper_and_mixed(void)
{
	uint8_t out[UI_SEED_BYTES];

	T_EQ_INT(ui_seed_parse_hex("000102030405060708090A0B0C0D0E0F"
				   "F0E1D2C3B4A5968778695A4B3C2D1E0F", out), 0);
	T_ASSERT(memcmp(out, want64, sizeof(out)) == 0);
	T_EQ_INT(ui_seed_parse_hex("000102030405060708090a0B0c0D0e0F"
				   "f0E1d2C3b4A5968778695a4B3c2D1e0F", out), 0);
	T_ASSERT(memcmp(out, want64, sizeof(out)) == 0);
}

static void t_seed_every_digit(void)
{
	uint8_t out[UI_SEED_BYTES];
	char s[UI_SEED_BYTES * 2 + 1];
	const char *digits = "0123456789abcdefABCDEF";

	/* each digit in the high and the low nibble of byte 7 */
	for (const char *d = digits; *d; d++) {
		int v = *d <= '9' ? *d - '0' : (*d | 0x20) - 'a' + 10;

		memset(s, '0', sizeof(s) - 1);
		s[sizeof(s) - 1] = '\0';
		s[14] = *d;
		s[15] = *d;
		T_EQ_INT(ui_seed_parse_hex(s, out), 0);
		T_EQ_INT(out[7], v << 4 | v);
		out[7] = 0;
		T_ASSERT(all_zero(out));
	}
}

static void t_seed_length(void)
{
	refused(NULL);
	refused("");
	refused("00");
	refused(HEX64 + 1);       /* 63 */
	refused(HEX64 "0");       /* 65 */
	refused(HEX64 HEX64);     /* 128 */
}

static void t_seed_bad_characters(void)
{
	char s[UI_SEED_BYTES * 2 + 1];
	const char bad[] = "gGxz -+.:\n\t\x7f\x80\xff";

	/* a bad character at each position, of a string of the right length */
	for (const char *c = bad; *c; c++) {
		for (int i = 0; i < UI_SEED_BYTES * 2; i++) {
			memcpy(s, HEX64, sizeof(s));
			s[i] = *c;
			refused(s);
		}
	}
	refused("0x0102030405060708090a0b0c0d0e0f" "f0e1d2c3b4a5968778695a4b3c2d1e0f");
	refused(HEX64 "\n");      /* a line as read, newline kept */
	refused(" " HEX64);
}

int main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		T_CASE(t_seed_lower),
		T_CASE(t_seed_upper_and_mixed),
		T_CASE(t_seed_every_digit),
		T_CASE(t_seed_length),
		T_CASE(t_seed_bad_characters),
		{ 0 },
	};
	return t_run(argc, argv, cases);
}
