/*
 * query.h — the one walk over a query string that every route with
 * parameters uses (GET /vm, GET /events, GET /vm/{id}/console): split on
 * '&', each "name=value" (value NULL without '='), names from a fixed list,
 * each at most once. Pure, no allocation; used by the http fuzz target.
 */
#ifndef APID_QUERY_H
#define APID_QUERY_H

#include <stddef.h>

#include "http.h"

#define QUERY_MAX 255 /* bytes of a query string; longer is a 400 */

/* One parameter: k is its index in names. Returns 0, or < 0 after setting
 * the 400 in resp. */
typedef int (*query_param_fn)(unsigned k, const char *val, void *ctx);

/* Walks q (n bytes, not terminated; NULL = none). A query too long, a name
 * not in names (the message adds " (expected <expect>)" when expect is set),
 * a name given twice: 400 invalid_argument in resp, -EINVAL. Otherwise what
 * fn returns for the first parameter that fails, or 0. */
int query_walk(const char *q, size_t n, const char *const *names, unsigned n_names,
	       const char *expect, query_param_fn fn, void *ctx, struct http_response *resp);

#endif
