/*
 * console_query.c — the parameters of GET /vm/{id}/console (console.h):
 * pure, so routes.c (and its unit tests and fuzz target) link it without
 * the console's I/O.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "console.h"
#include "json.h"
#include "routes.h"

static int parse_bytes(const char *val, const struct ui_config *cfg, struct route *out)
{
	unsigned long long n = 0;
	size_t i = 0;

	for (; val && val[i] >= '0' && val[i] <= '9' && n <= cfg->console_bytes; i++)
		n = n * 10 + (unsigned)(val[i] - '0');
	if (!val || i == 0 || val[i] || n < 1 || n > cfg->console_bytes) {
		api_error(&out->resp, 400, "invalid_argument",
			  "bytes must be an integer in 1..%u (limits.console_bytes)",
			  cfg->console_bytes);
		return -EINVAL;
	}
	out->console_bytes = (unsigned)n;
	return 0;
}

static int parse_follow(const char *val, struct route *out)
{
	if (val && (!strcmp(val, "1") || !strcmp(val, "true"))) {
		out->console_follow = true;
		return 0;
	}
	if (val && (!strcmp(val, "0") || !strcmp(val, "false")))
		return 0;
	api_error(&out->resp, 400, "invalid_argument", "follow must be 1 or 0");
	return -EINVAL;
}

int console_parse_query(const char *q, size_t n, const struct ui_config *cfg, struct route *out)
{
	char buf[128], echo[64];
	char *save = NULL, *tok;
	unsigned seen = 0;

	out->console_bytes = cfg->console_bytes < CONSOLE_DEFAULT_BYTES ? cfg->console_bytes
									 : CONSOLE_DEFAULT_BYTES;
	out->console_follow = false;
	if (!q)
		return 0;
	if (n >= sizeof(buf)) {
		api_error(&out->resp, 400, "invalid_argument", "query string too long");
		return -EINVAL;
	}
	memcpy(buf, q, n);
	buf[n] = '\0';
	for (tok = strtok_r(buf, "&", &save); tok; tok = strtok_r(NULL, "&", &save)) {
		char *val = strchr(tok, '=');
		unsigned k = 2;
		int rc;

		if (val)
			*val++ = '\0';
		k = !strcmp(tok, "bytes") ? 0 : !strcmp(tok, "follow") ? 1 : 2;
		safe_echo(tok, echo, sizeof(echo));
		if (k == 2 || (seen & (1u << k))) {
			api_error(&out->resp, 400, "invalid_argument", k == 2 ?
				  "unknown query parameter \"%s\" (expected bytes, follow)" :
				  "%s given twice", echo);
			return -EINVAL;
		}
		seen |= 1u << k;
		if ((rc = k == 0 ? parse_bytes(val, cfg, out) : parse_follow(val, out)) < 0)
			return rc;
	}
	return 0;
}
