/*
 * query.c — the query-string walk (query.h).
 */
#include <errno.h>
#include <string.h>

#include "json.h"
#include "query.h"
#include "routes.h"

int query_walk(const char *q, size_t n, const char *const *names, unsigned n_names,
	       const char *expect, query_param_fn fn, void *ctx, struct http_response *resp)
{
	char buf[QUERY_MAX + 1], echo[64];
	char *save = NULL, *tok;
	unsigned seen = 0;

	if (!q)
		return 0;
	if (n > QUERY_MAX) {
		api_error(resp, 400, "invalid_argument", "query string too long");
		return -EINVAL;
	}
	memcpy(buf, q, n);
	buf[n] = '\0';
	for (tok = strtok_r(buf, "&", &save); tok; tok = strtok_r(NULL, "&", &save)) {
		char *val = strchr(tok, '=');
		unsigned k = 0;
		int rc;

		if (val)
			*val++ = '\0';
		while (k < n_names && strcmp(tok, names[k]) != 0)
			k++;
		safe_echo(tok, echo, sizeof(echo));
		if (k == n_names) {
			if (expect)
				api_error(resp, 400, "invalid_argument",
					  "unknown query parameter \"%s\" (expected %s)", echo, expect);
			else
				api_error(resp, 400, "invalid_argument",
					  "unknown query parameter \"%s\"", echo);
			return -EINVAL;
		}
		if (seen & (1u << k)) {
			api_error(resp, 400, "invalid_argument", "%s given twice", echo);
			return -EINVAL;
		}
		seen |= 1u << k;
		if ((rc = fn(k, val, ctx)) < 0)
			return rc;
	}
	return 0;
}
