/*
 * events_query.c — the query of GET /events (events.h): since, wait,
 * limit, vm; each at most once, nothing else. Pure (routes.c calls it;
 * the http fuzz target runs it), apart from the events' waits in events.c.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "events.h"
#include "json.h"
#include "query.h"
#include "routes.h"

static bool id_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

/* A decimal integer in 0..max (at most 19 digits). */
static int parse_uint(const char *v, uint64_t max, uint64_t *out)
{
	uint64_t n = 0;
	size_t i = 0;

	for (; v && v[i] >= '0' && v[i] <= '9' && i < 19; i++)
		n = n * 10 + (uint64_t)(v[i] - '0');
	if (!v || i == 0 || v[i] || n > max)
		return -EINVAL;
	*out = n;
	return 0;
}

static int bad(struct route *out, const char *msg, const char *name)
{
	char echo[64];

	safe_echo(name, echo, sizeof(echo));
	api_error(&out->resp, 400, "invalid_argument", msg, echo);
	return -EINVAL;
}

static int one_param(unsigned k, const char *val, struct route *out)
{
	uint64_t n;
	size_t len;

	switch (k) {
	case 0:
		if (parse_uint(val, INT64_MAX, &out->since) < 0)
			return bad(out, "%s must be an event seq (an integer >= 0)", "since");
		return 0;
	case 1:
		if (parse_uint(val, EVENTS_WAIT_MAX, &n) < 0)
			return bad(out, "%s must be an integer between 0 and "
				   "60 (seconds)", "wait");
		out->wait_s = (unsigned)n;
		return 0;
	case 2:
		if (parse_uint(val, EVENTS_LIMIT_MAX, &n) < 0 || n == 0)
			return bad(out, "%s must be an integer between 1 and 1000", "limit");
		out->limit = (unsigned)n;
		return 0;
	default:
		len = val ? strlen(val) : 0;
		for (size_t i = 0; i < len; i++)
			if (!id_char(val[i]))
				len = 0;
		if (len == 0 || len >= sizeof(out->vm_id))
			return bad(out, "%s must be a VM id", "vm");
		memcpy(out->vm_id, val, len + 1);
		return 0;
	}
}

_Static_assert(EVENTS_WAIT_MAX == 60 && EVENTS_LIMIT_MAX == 1000, "messages above");

static int events_param(unsigned k, const char *val, void *out)
{
	return one_param(k, val, out);
}

int events_parse_query(const char *q, size_t n, struct route *out)
{
	static const char *const names[] = { "since", "wait", "limit", "vm" };

	out->limit = EVENTS_LIMIT_DEFAULT;
	return query_walk(q, n, names, 4, NULL, events_param, out, &out->resp);
}
