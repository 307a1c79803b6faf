/*
 * fc_answer.h — what pool-worker makes of a Firecracker API answer, without
 * I/O: the body kept as it arrives (capped) and the status and sentence a
 * non-2xx answer turns into. fc_client.c feeds it from libcurl; tests and
 * tests/fuzz/fuzz_fc_answer.c feed it bytes.
 *
 * Ownership: struct fc_answer is caller-embedded, zero-initialised; its body
 * is owned by it — release with fc_answer_free().
 */
#ifndef PW_FC_ANSWER_H
#define PW_FC_ANSWER_H

#include <stddef.h>

/* At most this much of a body is kept (the rest is read and dropped). */
#define FC_MAX_RESPONSE (64u * 1024)

struct fc_answer {
	char *body;  /* NUL-terminated, or NULL before the first byte */
	size_t len;  /* bytes kept, ≤ FC_MAX_RESPONSE */
};

/* Appends a chunk, keeping only the first FC_MAX_RESPONSE bytes. -ENOMEM. */
int fc_answer_append(struct fc_answer *a, const char *data, size_t n);

/* The body as a string: "" when none came. */
const char *fc_answer_body(const struct fc_answer *a);

void fc_answer_free(struct fc_answer *a); /* NULL-safe */

/*
 * The result of an answer with HTTP status code: 0 for 2xx; else -EINVAL for
 * a 4xx and -EIO for anything else, with the user's sentence in fault: the
 * body's fault_message (Firecracker's fault) or "error" member when not
 * empty, else "HTTP <code>: " and the body's first line, else "HTTP <code>".
 */
int fc_answer_status(long code, const char *body, char *fault, size_t len);

#endif
