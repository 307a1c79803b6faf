/*
 * fc_answer.c — a Firecracker API answer, without I/O (fc_answer.h).
 *
 * Firecracker answers a failed request with a JSON fault
 * ({"fault_message": "..."}, the contract's Error object); other servers in
 * front of it may say {"error": "..."} or plain text. The body is untrusted
 * input: it is kept capped, parsed with jansson only when a fault is to be
 * told, and never assumed to be JSON, text or NUL-free.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fc_answer.h"

int fc_answer_append(struct fc_answer *a, const char *data, size_t n)
{
	size_t take = n;
	char *p;

	if (a->len + take > FC_MAX_RESPONSE)
		take = FC_MAX_RESPONSE - a->len;
	if (take == 0)
		return 0; /* over the cap: read on, keep the start */
	p = realloc(a->body, a->len + take + 1);
	if (!p)
		return -ENOMEM;
	memcpy(p + a->len, data, take);
	a->body = p;
	a->len += take;
	a->body[a->len] = '\0';
	return 0;
}

const char *fc_answer_body(const struct fc_answer *a)
{
	return a->body ? a->body : "";
}

void fc_answer_free(struct fc_answer *a)
{
	if (!a)
		return;
	free(a->body);
	a->body = NULL;
	a->len = 0;
}

/* The user's sentence for a non-2xx answer. */
static void answer_fault(long code, const char *body, char *out, size_t len)
{
	json_t *j = body[0] ? json_loads(body, 0, NULL) : NULL;
	const char *msg = json_string_value(json_object_get(j, "fault_message"));
	size_t n;

	if (!msg || !msg[0])
		msg = json_string_value(json_object_get(j, "error"));
	if (msg && msg[0]) {
		snprintf(out, len, "%s", msg);
	} else if (body[0]) {
		n = strcspn(body, "\r\n");
		snprintf(out, len, "HTTP %ld: %.*s", code, (int)n, body);
	} else {
		snprintf(out, len, "HTTP %ld", code);
	}
	json_decref(j);
}

int fc_answer_status(long code, const char *body, char *fault, size_t len)
{
	if (len)
		fault[0] = '\0';
	if (code >= 200 && code <= 299)
		return 0;
	answer_fault(code, body, fault, len);
	return code >= 400 && code <= 499 ? -EINVAL : -EIO;
}
