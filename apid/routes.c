/*
 * routes.c — the route table, path matching and validation of request
 * bodies and parameters (see routes.h). Pure: reads only its arguments and
 * the config, never the registry, the rings or the clock.
 *
 * Matching is per path segment; "*" in a pattern matches one non-empty
 * segment (the VM id). The table is ordered so that exact routes win over
 * patterns (POST /vm/run before /vm/{id}). Every message that echoes client
 * input goes through safe_echo(), so error bodies are always valid JSON.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "events.h"
#include "console.h"
#include "json.h"
#include "registry.h"
#include "query.h"
#include "routes.h"

struct route_def {
	const char *method;
	const char *pattern;
	enum route_action action;
};

static const struct route_def route_table[] = {
	{ "POST", "/vm/run", RA_RUN },
	{ "POST", "/vm/*/stop", RA_STOP },
	{ "POST", "/vm/*/pause", RA_PAUSE },
	{ "POST", "/vm/*/resume", RA_RESUME },
	{ "GET", "/vm", RA_LIST_VMS },
	{ "GET", "/vm/*", RA_GET_VM },
	{ "DELETE", "/vm/*", RA_DELETE },
	{ "GET", "/healthz", RA_HEALTH },
	{ "GET", "/pool", RA_POOL },
	{ "GET", "/images", RA_IMAGES },
	{ "GET", "/events", RA_EVENTS },
	{ "GET", "/metrics", RA_METRICS },
	{ "GET", "/vm/*/console", RA_CONSOLE },
};
#define N_ROUTES (sizeof(route_table) / sizeof(route_table[0]))

/* What ?state= takes: every stored state; slot states show the pool's
 * slots (hidden otherwise). */
static const char *const vm_states[] = {
	UI_VM_CREATING, UI_VM_STARTING, UI_VM_RUNNING, UI_VM_STOPPING, UI_VM_FAILING,
	UI_VM_STOPPED, UI_VM_FAILED, UI_VM_WARMING, UI_VM_WARM, UI_VM_RETIRING,
	UI_VM_PAUSING, UI_VM_PAUSED, UI_VM_RESUMING,
};

void safe_echo(const char *s, char *buf, size_t len)
{
	size_t i = 0;

	for (; *s && i + 1 < len; s++)
		buf[i++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
	if (*s && len >= 4)
		memcpy(buf + len - 4, "...", 3), i = len - 1;
	buf[i] = '\0';
}

static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

/* [a-zA-Z0-9_.-]{1,max} */
static bool valid_name(const char *s, size_t n, size_t max)
{
	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!name_char(s[i]))
			return false;
	return true;
}

/*
 * Matches path (path_len bytes, no query) against pattern; the segment
 * matched by "*" is copied to id (which has idlen bytes) if it fits, else
 * id is set to "" (an id that long names no VM).
 */
static bool path_match(const char *pattern, const char *path, size_t path_len,
		       char *id, size_t idlen)
{
	const char *p = path, *end = path + path_len;

	while (*pattern) {
		if (p >= end || *p != '/' || *pattern != '/')
			return false;
		pattern++, p++;
		if (*pattern == '*') {
			const char *seg = p;

			while (p < end && *p != '/')
				p++;
			if (p == seg)
				return false;
			if ((size_t)(p - seg) < idlen) {
				memcpy(id, seg, (size_t)(p - seg));
				id[p - seg] = '\0';
			} else {
				id[0] = '\0';
			}
			pattern++;
			continue;
		}
		while (*pattern && *pattern != '/') {
			if (p >= end || *p != *pattern)
				return false;
			p++, pattern++;
		}
	}
	return p == end;
}

/* Appends m to the comma-separated allow list unless already present. */
static void allow_add(char *allow, size_t len, const char *m)
{
	if (strstr(allow, m))
		return;
	if (allow[0])
		strncat(allow, ", ", len - strlen(allow) - 1);
	strncat(allow, m, len - strlen(allow) - 1);
}

static int list_state(const char *val, struct route *out)
{
	for (size_t i = 0; val && i < sizeof(vm_states) / sizeof(vm_states[0]); i++)
		if (strcmp(val, vm_states[i]) == 0) {
			snprintf(out->state, sizeof(out->state), "%s", val);
			return 0;
		}
	api_error(&out->resp, 400, "invalid_argument",
		  "state must be one of creating, starting, running, stopping, failing, "
		  "stopped, failed, warming, warm, retiring, pausing, paused, resuming");
	return -EINVAL;
}

/* limit: a decimal integer in 1..ROUTE_LIST_MAX. */
static int list_limit(const char *val, struct route *out)
{
	unsigned long n = 0;
	size_t i = 0;

	for (; val && val[i] >= '0' && val[i] <= '9' && i < 8; i++)
		n = n * 10 + (unsigned long)(val[i] - '0');
	if (!val || i == 0 || val[i] || n < 1 || n > ROUTE_LIST_MAX) {
		api_error(&out->resp, 400, "invalid_argument",
			  "limit must be an integer between 1 and %u", ROUTE_LIST_MAX);
		return -EINVAL;
	}
	out->limit = (unsigned)n;
	return 0;
}

/* after: a VM id (the `next` of the previous page). */
static int list_after(const char *val, struct route *out)
{
	if (!val || !valid_name(val, strlen(val), sizeof(out->after) - 1)) {
		api_error(&out->resp, 400, "invalid_argument",
			  "after must be a VM id (the next of the previous page)");
		return -EINVAL;
	}
	snprintf(out->after, sizeof(out->after), "%s", val);
	return 0;
}

static int list_param(unsigned k, const char *val, void *out)
{
	return k == 0 ? list_state(val, out) : k == 1 ? list_limit(val, out) : list_after(val, out);
}

/* Parses state=, limit= and after= (each at most once) of GET /vm. */
static int parse_list_query(const char *q, size_t n, struct route *out)
{
	static const char *const names[] = { "state", "limit", "after" };

	return query_walk(q, n, names, 3, NULL, list_param, out, &out->resp);
}

/* Idempotency-Key: 1..127 printable ASCII characters. */
static int check_key(const struct http_req *req, struct route *out)
{
	size_t n = strlen(req->key);

	if (!req->has_key)
		return 0;
	if (req->key_too_long || n == 0 || n > 127)
		goto bad;
	for (size_t i = 0; i < n; i++)
		if (req->key[i] < 0x20 || req->key[i] > 0x7e)
			goto bad;
	memcpy(out->run.key, req->key, n + 1);
	return 0;
bad:
	api_error(&out->resp, 400, "invalid_argument",
		  "Idempotency-Key must be 1 to 127 printable characters");
	return -EINVAL;
}

/* The action for a route that matched both path and method. */
static void route_matched(const struct route_def *d, const struct http_req *req,
			  const char *query, size_t qlen,
			  const struct ui_config *cfg, struct route *out)
{
	out->action = d->action;
	if ((d->action == RA_GET_VM || d->action == RA_STOP || d->action == RA_DELETE ||
	     d->action == RA_CONSOLE || d->action == RA_PAUSE || d->action == RA_RESUME) &&
	    !valid_name(out->vm_id, strlen(out->vm_id), sizeof(out->vm_id) - 1)) {
		out->action = RA_RESPOND;
		api_error(&out->resp, 404, "not_found", "no such VM");
		return;
	}
	if (d->action == RA_LIST_VMS)
		out->limit = ROUTE_LIST_DEFAULT;
	if (d->action == RA_LIST_VMS && query && parse_list_query(query, qlen, out) < 0) {
		out->action = RA_RESPOND;
		return;
	}
	if (d->action == RA_EVENTS && events_parse_query(query, qlen, out) < 0) {
		out->action = RA_RESPOND;
		return;
	}
	if (d->action == RA_CONSOLE && console_parse_query(query, qlen, cfg, out) < 0) {
		out->action = RA_RESPOND;
		return;
	}
	if (d->action == RA_RUN &&
	    (check_key(req, out) < 0 ||
	     route_parse_run(req->body, req->body_len, cfg, &out->run, &out->resp) < 0))
		out->action = RA_RESPOND;
}

void route_request(const struct http_req *req, const struct ui_config *cfg,
		   struct route *out)
{
	struct http_parser_url u;
	const char *path, *query = NULL;
	size_t plen, qlen = 0;
	char allow[64] = "", echo[96];

	memset(out, 0, sizeof(*out));
	out->action = RA_RESPOND;
	http_parser_url_init(&u);
	if (http_parser_parse_url(req->url, req->url_len, 0, &u) != 0 ||
	    !(u.field_set & (1 << UF_PATH))) {
		safe_echo(req->url, echo, sizeof(echo));
		api_error(&out->resp, 404, "not_found", "no route for %s %s",
			  req->method, echo);
		return;
	}
	path = req->url + u.field_data[UF_PATH].off;
	plen = u.field_data[UF_PATH].len;
	if (u.field_set & (1 << UF_QUERY)) {
		query = req->url + u.field_data[UF_QUERY].off;
		qlen = u.field_data[UF_QUERY].len;
	}
	for (size_t i = 0; i < N_ROUTES; i++) {
		const struct route_def *d = &route_table[i];

		if (!path_match(d->pattern, path, plen, out->vm_id, sizeof(out->vm_id)))
			continue;
		if (strcmp(d->method, req->method) == 0) {
			route_matched(d, req, query, qlen, cfg, out);
			return;
		}
		allow_add(allow, sizeof(allow), d->method);
	}
	safe_echo(req->url, echo, sizeof(echo));
	if (allow[0]) {
		api_error(&out->resp, 405, "method_not_allowed",
			  "method %s is not allowed on %s", req->method, echo);
		snprintf(out->resp.allow, sizeof(out->resp.allow), "%s", allow);
	} else {
		api_error(&out->resp, 404, "not_found", "no route for %s %s",
			  req->method, echo);
	}
	out->vm_id[0] = '\0';
}

/* Reads an integer field in [lo, hi]. */
static int run_uint(const char *field, json_t *v, unsigned lo, unsigned hi,
		    unsigned *out, struct http_response *resp)
{
	json_int_t n;

	if (!json_is_integer(v)) {
		api_error(resp, 400, "invalid_argument", "%s must be an integer", field);
		return -EINVAL;
	}
	n = json_integer_value(v);
	if (n < lo || n > hi) {
		api_error(resp, 400, "invalid_argument",
			  "%s must be between %u and %u", field, lo, hi);
		return -EINVAL;
	}
	*out = (unsigned)n;
	return 0;
}

/* name: a string of 1..63 [a-zA-Z0-9_.-]. */
static int run_name(json_t *v, struct run_params *out, struct http_response *resp)
{
	if (!json_is_string(v)) {
		api_error(resp, 400, "invalid_argument", "name must be a string");
		return -EINVAL;
	}
	if (!valid_name(json_string_value(v), json_string_length(v), sizeof(out->name) - 1)) {
		api_error(resp, 400, "invalid_argument",
			  "name must be 1 to %zu characters from [a-zA-Z0-9_.-]",
			  sizeof(out->name) - 1);
		return -EINVAL;
	}
	memcpy(out->name, json_string_value(v), json_string_length(v) + 1);
	return 0;
}

/* One member of the run body; image is only type-checked here. */
static int run_field(const char *key, json_t *v, struct run_params *out,
		     struct http_response *resp)
{
	char echo[64];

	if (strcmp(key, "image") == 0) {
		if (json_is_string(v))
			return 0;
		api_error(resp, 400, "invalid_argument", "image must be a string");
		return -EINVAL;
	}
	if (strcmp(key, "name") == 0)
		return run_name(v, out, resp);
	if (strcmp(key, "vcpus") == 0)
		return run_uint("vcpus", v, 1, 32, &out->vcpus, resp);
	if (strcmp(key, "mem_mib") == 0)
		return run_uint("mem_mib", v, 16, 65536, &out->mem_mib, resp);
	if (strcmp(key, "cmd") == 0)
		return route_run_cmd(v, out, resp);
	if (strcmp(key, "boot_args") == 0)
		return route_run_boot_args(v, out, resp);
	if (strcmp(key, "wait") == 0) {
		const char *w = json_is_string(v) ? json_string_value(v) : "";

		if (strcmp(w, "running") == 0 || strcmp(w, "ready") == 0) {
			out->wait_ready = strcmp(w, "ready") == 0;
			return 0;
		}
		api_error(resp, 400, "invalid_argument",
			  "wait must be \"running\" (the default) or \"ready\"");
		return -EINVAL;
	}
	safe_echo(key, echo, sizeof(echo));
	api_error(resp, 400, "invalid_argument", "unknown field \"%s\"", echo);
	return -EINVAL;
}

/* image: required, and must name a configured image. */
static int run_image(json_t *root, const struct ui_config *cfg,
		     struct run_params *out, struct http_response *resp)
{
	json_t *v = json_object_get(root, "image");
	const char *s;
	char echo[80];

	if (!v) {
		api_error(resp, 400, "invalid_argument", "image is required");
		return -EINVAL;
	}
	s = json_string_value(v);
	if (json_string_length(v) >= sizeof(out->image) || !ui_config_image(cfg, s)) {
		safe_echo(s, echo, sizeof(echo));
		api_error(resp, 404, "unknown_image", "no image named \"%s\"", echo);
		return -ENOENT;
	}
	memcpy(out->image, s, json_string_length(v) + 1);
	return 0;
}

int route_parse_run(const char *body, size_t len, const struct ui_config *cfg,
		    struct run_params *out, struct http_response *resp)
{
	json_error_t jerr;
	json_t *root, *v;
	const char *key;
	int rc = 0;

	root = json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		api_error(resp, 400, "bad_json", "malformed JSON at line %d, column %d: %s",
			  jerr.line, jerr.column, jerr.text);
		return -EINVAL;
	}
	if (!json_is_object(root)) {
		api_error(resp, 400, "bad_json", "the request body must be a JSON object");
		rc = -EINVAL;
		goto out_root;
	}
	json_object_foreach(root, key, v) {
		rc = run_field(key, v, out, resp);
		if (rc < 0)
			goto out_root;
	}
	rc = run_image(root, cfg, out, resp);
	if (rc == 0)
		rc = route_run_args_check(ui_config_image(cfg, out->image), out, resp);
out_root:
	json_decref(root);
	return rc < 0 ? -EINVAL : 0;
}

