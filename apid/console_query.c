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
#include "query.h"
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

struct console_ctx {
	const struct ui_config *cfg;
	struct route *out;
};

static int console_param(unsigned k, const char *val, void *p)
{
	struct console_ctx *c = p;

	return k == 0 ? parse_bytes(val, c->cfg, c->out) : parse_follow(val, c->out);
}

int console_parse_query(const char *q, size_t n, const struct ui_config *cfg, struct route *out)
{
	static const char *const names[] = { "bytes", "follow" };
	struct console_ctx c = { cfg, out };

	out->console_bytes = cfg->console_bytes < CONSOLE_DEFAULT_BYTES ? cfg->console_bytes
									 : CONSOLE_DEFAULT_BYTES;
	out->console_follow = false;
	return query_walk(q, n, names, 2, "bytes, follow", console_param, &c, &out->resp);
}
