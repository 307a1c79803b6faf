/*
 * fuzz_fc_answer.c — libFuzzer target: what pool-worker makes of a
 * Firecracker API answer (pool-worker/fc_answer.c, fed by fc_client.c's
 * libcurl write callback). Input: two bytes for the HTTP status code
 * (100 + big-endian value mod 500), one byte of shape (bit 7: the body is
 * sent 20 times, to cross the 64 KiB cap; low bits: the size of the pieces
 * curl hands over), then the body.
 *
 * Oracle, beyond the sanitizers: the kept body is the answer's first
 * FC_MAX_RESPONSE bytes, NUL-terminated; a 2xx is success with no fault, a
 * 4xx -EINVAL and anything else -EIO, each with a non-empty sentence.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../pool-worker/fc_answer.h"

#define FAULT_LEN 400 /* as fc_client.c's */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fc_answer a = { 0 };
	char fault[FAULT_LEN];
	const char *body;
	size_t blen, piece, total = 0;
	unsigned repeat;
	long code;
	int st;

	if (size < 3)
		return 0;
	code = 100 + ((data[0] << 8) | data[1]) % 500;
	repeat = data[2] & 0x80 ? 20 : 1;
	piece = 1 + (data[2] & 0x7f) * 37u;
	body = (const char *)data + 3;
	blen = size - 3;
	for (unsigned i = 0; i < repeat; i++) {
		for (size_t off = 0; off < blen; off += piece) {
			size_t n = blen - off < piece ? blen - off : piece;

			if (fc_answer_append(&a, body + off, n) < 0)
				abort();
		}
		total += blen;
	}
	if (a.len != (total < FC_MAX_RESPONSE ? total : FC_MAX_RESPONSE) ||
	    (a.len && (!a.body || a.body[a.len] || memcmp(a.body, body, a.len < blen ? a.len : blen))))
		abort();
	st = fc_answer_status(code, fc_answer_body(&a), fault, sizeof(fault));
	if (code >= 200 && code <= 299 ? st != 0 || fault[0] :
	    st != (code >= 400 && code <= 499 ? -EINVAL : -EIO) || !fault[0])
		abort();
	fc_answer_free(&a);
	return 0;
}
