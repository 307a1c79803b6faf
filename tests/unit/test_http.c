/*
 * test_http.c — apid without sockets: routing (routes.c), run-body
 * validation, the error envelope (json.c), request parsing and limits
 * (http.c) and response serialisation. Socket-level tests are in
 * test_http_server.c.
 */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "vmid.h"
#include "t.h"

#include "../../apid/http.h"
#include "../../apid/json.h"
#include "../../apid/routes.h"

static struct ui_config cfg;

static void setup_cfg(void)
{
	ui_config_defaults(&cfg);
	cfg.images = calloc(1, sizeof(*cfg.images));
	T_ASSERT(cfg.images);
	snprintf(cfg.images[0].name, sizeof(cfg.images[0].name), "hello");
	cfg.n_images = 1;
}

/* A request as the parser would hand it over. */
static struct http_req mkreq(const char *method, const char *url, const char *body)
{
	struct http_req r = { 0 };

	r.method = method;
	r.url = (char *)url;
	r.url_len = strlen(url);
	r.body = (char *)(body ? body : "");
	r.body_len = strlen(r.body);
	r.keep_alive = true;
	return r;
}

/* Checks the envelope {"error":{"code":code,"message":"…"}} and nothing else. */
static void check_error(const struct http_response *r, int status, const char *code)
{
	json_error_t e;
	json_t *j, *err;

	T_EQ_INT(r->status, status);
	T_ASSERT(r->body);
	j = json_loadb(r->body, r->body_len, 0, &e);
	T_ASSERT(j);
	T_EQ_INT(json_object_size(j), 1);
	err = json_object_get(j, "error");
	T_ASSERT(json_is_object(err));
	T_EQ_INT(json_object_size(err), 2);
	T_EQ_STR(json_string_value(json_object_get(err, "code")), code);
	T_ASSERT(json_string_length(json_object_get(err, "message")) > 0);
	json_decref(j);
}

static const char *message_of(const struct http_response *r)
{
	static char buf[512];
	json_t *j = json_loadb(r->body, r->body_len, 0, NULL);

	snprintf(buf, sizeof(buf), "%s",
		 json_string_value(json_object_get(json_object_get(j, "error"), "message")));
	json_decref(j);
	return buf;
}

static void route(const char *method, const char *url, const char *body, struct route *rt)
{
	struct http_req r = mkreq(method, url, body);

	route_request(&r, &cfg, rt);
}

static void t_routes_each(void)
{
	struct route rt;

	setup_cfg();
	route("POST", "/vm/run", "{\"image\":\"hello\"}", &rt);
	T_EQ_INT(rt.action, RA_RUN);
	T_EQ_STR(rt.run.image, "hello");
	route("POST", "/vm/vm-abc/stop", NULL, &rt);
	T_EQ_INT(rt.action, RA_STOP);
	T_EQ_STR(rt.vm_id, "vm-abc");
	route("POST", "/vm/vm-abc/pause", NULL, &rt);
	T_EQ_INT(rt.action, RA_PAUSE);
	T_EQ_STR(rt.vm_id, "vm-abc");
	route("POST", "/vm/web1/resume", NULL, &rt); /* a name */
	T_EQ_INT(rt.action, RA_RESUME);
	T_EQ_STR(rt.vm_id, "web1");
	route("GET", "/vm?state=paused", NULL, &rt);
	T_EQ_INT(rt.action, RA_LIST_VMS);
	T_EQ_STR(rt.state, "paused");
	route("GET", "/vm", NULL, &rt);
	T_EQ_INT(rt.action, RA_LIST_VMS);
	T_EQ_STR(rt.state, "");
	route("GET", "/vm?state=running", NULL, &rt);
	T_EQ_INT(rt.action, RA_LIST_VMS);
	T_EQ_STR(rt.state, "running");
	route("GET", "/vm/vm-abc", NULL, &rt);
	T_EQ_INT(rt.action, RA_GET_VM);
	T_EQ_STR(rt.vm_id, "vm-abc");
	route("GET", "/healthz", NULL, &rt);
	T_EQ_INT(rt.action, RA_HEALTH);
	route("GET", "/pool", NULL, &rt);
	T_EQ_INT(rt.action, RA_POOL);
	route("GET", "http://localhost:6666/pool", NULL, &rt); /* absolute form */
	T_EQ_INT(rt.action, RA_POOL);
}

static void t_routes_not_found(void)
{
	static const char *const urls[] = {
		"/", "/vm/", "/vm/a/b", "/vm/a/stop/x", "/vmx", "/healthz/x", "//vm",
		"/VM", "/pool/", "*",
	};
	struct route rt;

	setup_cfg();
	for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
		route("GET", urls[i], NULL, &rt);
		T_EQ_INT(rt.action, RA_RESPOND);
		check_error(&rt.resp, 404, "not_found");
		T_EQ_STR(rt.resp.allow, "");
		http_response_free(&rt.resp);
	}
	/* An id with characters no VM id has. */
	route("GET", "/vm/a%20b", NULL, &rt);
	check_error(&rt.resp, 404, "not_found");
	http_response_free(&rt.resp);
}

static void t_routes_method_not_allowed(void)
{
	struct route rt;

	setup_cfg();
	route("PUT", "/vm/vm-abc", NULL, &rt);
	check_error(&rt.resp, 405, "method_not_allowed");
	T_EQ_STR(rt.resp.allow, "GET, DELETE");
	http_response_free(&rt.resp);
	route("DELETE", "/vm/vm-abc", NULL, &rt);
	T_EQ_INT(rt.action, RA_DELETE);
	T_EQ_STR(rt.vm_id, "vm-abc");
	http_response_free(&rt.resp);
	route("GET", "/vm/vm-abc/stop", NULL, &rt);
	check_error(&rt.resp, 405, "method_not_allowed");
	T_EQ_STR(rt.resp.allow, "POST");
	http_response_free(&rt.resp);
	route("GET", "/vm/vm-abc/pause", NULL, &rt);
	check_error(&rt.resp, 405, "method_not_allowed");
	T_EQ_STR(rt.resp.allow, "POST");
	http_response_free(&rt.resp);
	route("DELETE", "/vm/vm-abc/resume", NULL, &rt);
	check_error(&rt.resp, 405, "method_not_allowed");
	T_EQ_STR(rt.resp.allow, "POST");
	http_response_free(&rt.resp);
	route("POST", "/vm/a%20b/pause", NULL, &rt); /* no VM has such an id */
	check_error(&rt.resp, 404, "not_found");
	http_response_free(&rt.resp);
	route("POST", "/vm", NULL, &rt);
	check_error(&rt.resp, 405, "method_not_allowed");
	T_EQ_STR(rt.resp.allow, "GET");
	http_response_free(&rt.resp);
	route("PUT", "/vm/run", NULL, &rt); /* /vm/run is also /vm/{id} */
	check_error(&rt.resp, 405, "method_not_allowed");
	T_EQ_STR(rt.resp.allow, "POST, GET, DELETE");
	http_response_free(&rt.resp);
	route("HEAD", "/healthz", NULL, &rt);
	check_error(&rt.resp, 405, "method_not_allowed");
	http_response_free(&rt.resp);
}

static void t_routes_list_query(void)
{
	struct route rt;

	setup_cfg();
	route("GET", "/vm?state=bogus", NULL, &rt);
	check_error(&rt.resp, 400, "invalid_argument");
	T_ASSERT(strstr(message_of(&rt.resp), "state"));
	http_response_free(&rt.resp);
	route("GET", "/vm?color=red", NULL, &rt);
	check_error(&rt.resp, 400, "invalid_argument");
	T_ASSERT(strstr(message_of(&rt.resp), "color"));
	http_response_free(&rt.resp);
	route("GET", "/vm?state", NULL, &rt);
	check_error(&rt.resp, 400, "invalid_argument");
	http_response_free(&rt.resp);
	/* the page: limit 1..1000 (default 100), after = an id */
	route("GET", "/vm", NULL, &rt);
	T_EQ_INT(rt.action, RA_LIST_VMS);
	T_EQ_INT(rt.limit, 100);
	T_EQ_STR(rt.after, "");
	route("GET", "/vm?limit=1000&after=vm-0abc&state=failed", NULL, &rt);
	T_EQ_INT(rt.action, RA_LIST_VMS);
	T_EQ_INT(rt.limit, 1000);
	T_EQ_STR(rt.after, "vm-0abc");
	T_EQ_STR(rt.state, "failed");
	static const char *const bad[] = {
		"limit=0", "limit=1001", "limit=-1", "limit=1e3", "limit=", "limit",
		"limit=99999999999", "after=", "after=a/b", "after=a%20b",
		"after=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "limit=5&limit=6",
		"state=warm&state=warm",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char url[128];

		snprintf(url, sizeof(url), "/vm?%s", bad[i]);
		route("GET", url, NULL, &rt);
		if (rt.action != RA_RESPOND)
			T_FAIL("%s was accepted", url);
		check_error(&rt.resp, 400, "invalid_argument");
		http_response_free(&rt.resp);
	}
}

/* GET /vm/{id}/console: bytes 1..limits.console_bytes (default 64 KiB, or
 * the cap when smaller), follow 0|1; anything else is a 400. */
static void t_routes_console_query(void)
{
	struct route rt;

	setup_cfg();
	route("GET", "/vm/web1/console", NULL, &rt);
	T_EQ_INT(rt.action, RA_CONSOLE);
	T_EQ_STR(rt.vm_id, "web1");
	T_EQ_INT(rt.console_bytes, 65536);
	T_ASSERT(!rt.console_follow);
	route("GET", "/vm/vm-0abc/console?bytes=1048576&follow=1", NULL, &rt);
	T_EQ_INT(rt.action, RA_CONSOLE);
	T_EQ_INT(rt.console_bytes, 1048576);
	T_ASSERT(rt.console_follow);
	route("GET", "/vm/x/console?follow=0&bytes=1", NULL, &rt);
	T_EQ_INT(rt.console_bytes, 1);
	T_ASSERT(!rt.console_follow);
	cfg.console_bytes = 4096;
	route("GET", "/vm/x/console", NULL, &rt);
	T_EQ_INT(rt.console_bytes, 4096);
	route("GET", "/vm/x/console?bytes=4097", NULL, &rt);
	check_error(&rt.resp, 400, "invalid_argument");
	T_ASSERT(strstr(message_of(&rt.resp), "1..4096 (limits.console_bytes)"));
	http_response_free(&rt.resp);
	cfg.console_bytes = 1048576;
	static const char *const bad[] = {
		"bytes=0", "bytes=1048577", "bytes=-1", "bytes=", "bytes", "bytes=1k",
		"bytes=99999999999999999999", "follow=2", "follow=", "follow", "tail=5",
		"bytes=5&bytes=5", "follow=1&follow=1",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char url[128];

		snprintf(url, sizeof(url), "/vm/x/console?%s", bad[i]);
		route("GET", url, NULL, &rt);
		if (rt.action != RA_RESPOND)
			T_FAIL("%s was accepted", url);
		check_error(&rt.resp, 400, "invalid_argument");
		http_response_free(&rt.resp);
	}
	route("POST", "/vm/x/console", NULL, &rt);
	T_EQ_INT(rt.resp.status, 405);
	http_response_free(&rt.resp);
	route("GET", "/vm/a%2fb/console", NULL, &rt);
	T_EQ_INT(rt.resp.status, 404);
	http_response_free(&rt.resp);
}

static void t_routes_events_query(void)
{
	struct route rt;

	setup_cfg();
	route("GET", "/metrics", NULL, &rt);
	T_EQ_INT(rt.action, RA_METRICS);
	route("GET", "/events", NULL, &rt);
	T_EQ_INT(rt.action, RA_EVENTS);
	T_EQ_INT(rt.since, 0);
	T_EQ_INT(rt.wait_s, 0);
	T_EQ_INT(rt.limit, 100);
	T_EQ_STR(rt.vm_id, "");
	route("GET", "/events?since=9223372036854775807&wait=60&limit=1000&vm=vm-0abc", NULL, &rt);
	T_EQ_INT(rt.action, RA_EVENTS);
	T_ASSERT(rt.since == 9223372036854775807ull);
	T_EQ_INT(rt.wait_s, 60);
	T_EQ_INT(rt.limit, 1000);
	T_EQ_STR(rt.vm_id, "vm-0abc");
	static const char *const bad[] = {
		"since=-1", "since=abc", "since=", "since", "since=9223372036854775808",
		"since=99999999999999999999", "wait=61", "wait=-1", "wait=1.5", "limit=0",
		"limit=1001", "vm=", "vm=a/b", "vm=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		"after=1", "since=1&since=1", "wait=1&wait=2",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char url[128];

		snprintf(url, sizeof(url), "/events?%s", bad[i]);
		route("GET", url, NULL, &rt);
		if (rt.action != RA_RESPOND)
			T_FAIL("%s was accepted", url);
		check_error(&rt.resp, 400, "invalid_argument");
		http_response_free(&rt.resp);
	}
	route("POST", "/events", NULL, &rt);
	check_error(&rt.resp, 405, "method_not_allowed");
	http_response_free(&rt.resp);
}

/* POST /vm/run with body; expects an error status/code whose message
 * mentions `mentions` (a field name) when not NULL. */
static void run_err(const char *body, int status, const char *code, const char *mentions)
{
	struct route rt;

	route("POST", "/vm/run", body, &rt);
	if (rt.action != RA_RESPOND)
		T_FAIL("body %s was accepted", body);
	check_error(&rt.resp, status, code);
	if (mentions && !strstr(message_of(&rt.resp), mentions))
		T_FAIL("message \"%s\" does not name %s", message_of(&rt.resp), mentions);
	http_response_free(&rt.resp);
}

static void t_run_bad_json(void)
{
	setup_cfg();
	run_err("", 400, "bad_json", NULL);
	run_err("{", 400, "bad_json", NULL);
	run_err("{\"image\":\"hello\"} x", 400, "bad_json", NULL);
	run_err("{\"image\":\"hello\",\"image\":\"hello\"}", 400, "bad_json", NULL);
	run_err("[]", 400, "bad_json", NULL);
	run_err("\"hello\"", 400, "bad_json", NULL);
	run_err("42", 400, "bad_json", NULL);
	run_err("null", 400, "bad_json", NULL);
	run_err("{\"image\":\"\\ud800\"}", 400, "bad_json", NULL);
}

static void t_run_invalid_argument(void)
{
	setup_cfg();
	run_err("{}", 400, "invalid_argument", "image");
	run_err("{\"name\":\"x\"}", 400, "invalid_argument", "image");
	run_err("{\"image\":7}", 400, "invalid_argument", "image");
	run_err("{\"image\":null}", 400, "invalid_argument", "image");
	run_err("{\"image\":\"hello\",\"colour\":1}", 400, "invalid_argument", "colour");
	run_err("{\"image\":\"hello\",\"name\":1}", 400, "invalid_argument", "name");
	run_err("{\"image\":\"hello\",\"name\":\"\"}", 400, "invalid_argument", "name");
	run_err("{\"image\":\"hello\",\"name\":\"a b\"}", 400, "invalid_argument", "name");
	run_err("{\"image\":\"hello\",\"name\":\"a/b\"}", 400, "invalid_argument", "name");
	run_err("{\"image\":\"hello\",\"name\":"
		"\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
		400, "invalid_argument", "name"); /* 64 chars */
	run_err("{\"image\":\"hello\",\"vcpus\":0}", 400, "invalid_argument", "vcpus");
	run_err("{\"image\":\"hello\",\"vcpus\":33}", 400, "invalid_argument", "vcpus");
	run_err("{\"image\":\"hello\",\"vcpus\":-1}", 400, "invalid_argument", "vcpus");
	run_err("{\"image\":\"hello\",\"vcpus\":\"2\"}", 400, "invalid_argument", "vcpus");
	run_err("{\"image\":\"hello\",\"vcpus\":1.5}", 400, "invalid_argument", "vcpus");
	run_err("{\"image\":\"hello\",\"vcpus\":true}", 400, "invalid_argument", "vcpus");
	run_err("{\"image\":\"hello\",\"vcpus\":99999999999999999}", 400,
		"invalid_argument", "vcpus");
	run_err("{\"image\":\"hello\",\"mem_mib\":15}", 400, "invalid_argument", "mem_mib");
	run_err("{\"image\":\"hello\",\"mem_mib\":65537}", 400, "invalid_argument", "mem_mib");
	run_err("{\"image\":\"hello\",\"mem_mib\":[]}", 400, "invalid_argument", "mem_mib");
}

static void t_run_unknown_image(void)
{
	setup_cfg();
	run_err("{\"image\":\"nope\"}", 404, "unknown_image", "nope");
	run_err("{\"image\":\"\"}", 404, "unknown_image", NULL);
	run_err("{\"image\":\"hello-but-much-longer-than-any-image-name-could-ever-be-"
		"in-the-config-file\"}", 404, "unknown_image", NULL);
}

static void t_run_valid(void)
{
	struct route rt;

	setup_cfg();
	route("POST", "/vm/run",
	      "{\"image\":\"hello\",\"name\":\"web-1.a_b\",\"vcpus\":32,\"mem_mib\":16}", &rt);
	T_EQ_INT(rt.action, RA_RUN);
	T_EQ_STR(rt.run.image, "hello");
	T_EQ_STR(rt.run.name, "web-1.a_b");
	T_EQ_INT(rt.run.vcpus, 32);
	T_EQ_INT(rt.run.mem_mib, 16);
	T_EQ_STR(rt.run.key, "");
	route("POST", "/vm/run", " {\"image\":\"hello\",\"mem_mib\":65536,\"vcpus\":1} ", &rt);
	T_EQ_INT(rt.action, RA_RUN);
	T_EQ_INT(rt.run.vcpus, 1);
	T_EQ_INT(rt.run.mem_mib, 65536);
	T_EQ_STR(rt.run.name, "");
	T_ASSERT(!rt.run.wait_ready);
	route("POST", "/vm/run", "{\"image\":\"hello\",\"wait\":\"ready\"}", &rt);
	T_EQ_INT(rt.action, RA_RUN);
	T_ASSERT(rt.run.wait_ready);
	route("POST", "/vm/run", "{\"image\":\"hello\",\"wait\":\"running\"}", &rt);
	T_ASSERT(!rt.run.wait_ready);
	run_err("{\"image\":\"hello\",\"wait\":\"booted\"}", 400, "invalid_argument", "wait");
	run_err("{\"image\":\"hello\",\"wait\":true}", 400, "invalid_argument", "wait");
}

static void t_run_idempotency_key(void)
{
	struct http_req r = mkreq("POST", "/vm/run", "{\"image\":\"hello\"}");
	struct route rt;

	setup_cfg();
	r.has_key = true;
	snprintf(r.key, sizeof(r.key), "key 1/abc");
	route_request(&r, &cfg, &rt);
	T_EQ_INT(rt.action, RA_RUN);
	T_EQ_STR(rt.run.key, "key 1/abc");
	memset(r.key, 'k', 128);
	r.key[128] = '\0';
	route_request(&r, &cfg, &rt);
	check_error(&rt.resp, 400, "invalid_argument");
	T_ASSERT(strstr(message_of(&rt.resp), "Idempotency-Key"));
	http_response_free(&rt.resp);
	snprintf(r.key, sizeof(r.key), "a\x01b");
	route_request(&r, &cfg, &rt);
	check_error(&rt.resp, 400, "invalid_argument");
	http_response_free(&rt.resp);
	r.key[0] = '\0';
	route_request(&r, &cfg, &rt);
	check_error(&rt.resp, 400, "invalid_argument");
	http_response_free(&rt.resp);
}

static void t_error_envelope(void)
{
	struct http_response r = { 0 };
	char *out;
	size_t len;

	api_error(&r, 409, "conflict", "bad \"quote\" and \x01 and \xff");
	check_error(&r, 409, "conflict");
	out = http_format_response(&r, true, false, false, &len);
	T_ASSERT(out);
	T_ASSERT(memmem(out, len, "HTTP/1.1 409 Conflict\r\n", 23) == out);
	T_ASSERT(memmem(out, len, "\r\nContent-Type: application/json\r\n", 34));
	T_ASSERT(memmem(out, len, "\r\nServer: uigniter\r\n", 20));
	free(out);
	http_response_free(&r);
}

static void t_format_response(void)
{
	struct http_response r = { 0 };
	char *out, expect[128];
	size_t len;

	api_error(&r, 503, "unavailable", "later");
	r.retry_after = 1;
	snprintf(r.allow, sizeof(r.allow), "GET, POST");
	out = http_format_response(&r, false, false, false, &len);
	snprintf(expect, sizeof(expect), "\r\nContent-Length: %zu\r\n", r.body_len);
	T_ASSERT(memmem(out, len, expect, strlen(expect)));
	T_ASSERT(memmem(out, len, "\r\nConnection: close\r\n", 21));
	T_ASSERT(memmem(out, len, "\r\nRetry-After: 1\r\n", 18));
	T_ASSERT(memmem(out, len, "\r\nAllow: GET, POST\r\n", 20));
	T_ASSERT(len > r.body_len && memcmp(out + len - r.body_len, r.body, r.body_len) == 0);
	free(out);
	/* HEAD: same headers, no body. HTTP/1.0 keep-alive is announced. */
	out = http_format_response(&r, true, true, true, &len);
	T_ASSERT(memmem(out, len, expect, strlen(expect)));
	T_ASSERT(memmem(out, len, "\r\nConnection: keep-alive\r\n", 26));
	T_ASSERT(len > 4 && memcmp(out + len - 4, "\r\n\r\n", 4) == 0);
	free(out);
	http_response_free(&r);
}

static void t_vm_to_json(void)
{
	struct ui_vm vm = { .vcpus = 2, .mem_mib = 256, .vmm_pid = 42, .exit_status = -1 };
	struct http_response r = { 0 };
	json_t *j;

	snprintf(vm.id, sizeof(vm.id), "vm-x");
	snprintf(vm.state, sizeof(vm.state), "running");
	api_json(&r, 200, vm_to_json(&vm));
	j = json_loadb(r.body, r.body_len, 0, NULL);
	T_ASSERT(j);
	T_EQ_STR(json_string_value(json_object_get(j, "id")), "vm-x");
	T_EQ_INT(json_integer_value(json_object_get(j, "pid")), 42);
	T_EQ_INT(json_integer_value(json_object_get(j, "mem_mib")), 256);
	T_ASSERT(json_is_null(json_object_get(j, "exit_status")));
	T_ASSERT(json_is_null(json_object_get(j, "error")));
	T_ASSERT(json_is_null(json_object_get(j, "ready_at")));
	T_ASSERT(json_is_null(json_object_get(j, "boot_ms")));
	T_EQ_INT(json_object_size(j), 19);
	json_decref(j);
	http_response_free(&r);
	/* boot_ms: request (created_at) → ready (ready_at), across a second */
	snprintf(vm.created_at, sizeof(vm.created_at), "2026-12-01T11:59:59.900Z");
	snprintf(vm.ready_at, sizeof(vm.ready_at), "2026-12-01T12:00:01.150Z");
	api_json(&r, 200, vm_to_json(&vm));
	j = json_loadb(r.body, r.body_len, 0, NULL);
	T_ASSERT(j);
	T_EQ_STR(json_string_value(json_object_get(j, "ready_at")), "2026-12-01T12:00:01.150Z");
	T_EQ_INT(json_integer_value(json_object_get(j, "boot_ms")), 1250);
	json_decref(j);
	http_response_free(&r);
}

static void t_vm_id(void)
{
	char a[UI_VM_ID_LEN + 1], b[UI_VM_ID_LEN + 1];

	ui_vm_id_format(1700000000000ull, 0xfffffffffffffull, a);
	ui_vm_id_format(1700000000001ull, 0, b);
	T_EQ_INT(strlen(a), UI_VM_ID_LEN);
	T_ASSERT(strncmp(a, "vm-", 3) == 0);
	for (int i = 3; i < UI_VM_ID_LEN; i++)
		T_ASSERT(strchr("0123456789abcdefghjkmnpqrstvwxyz", a[i]));
	T_ASSERT(strcmp(a, b) < 0); /* later time sorts after */
	ui_vm_id_format(0, 0, a);
	T_EQ_STR(a, "vm-00000000000000000000");
}

/* --- parsing --- */

static size_t feed_all(struct http_in *in, const char *data, size_t len, size_t step,
		       enum http_in_event *ev)
{
	size_t off = 0;

	*ev = HTTP_IN_MORE;
	while (off < len && *ev == HTTP_IN_MORE) {
		size_t n = len - off < step ? len - off : step;

		off += http_in_feed(in, data + off, n, ev);
	}
	return off;
}

static void t_parse_small_chunks(void)
{
	static const char req[] =
		"POST /vm/run?x=1 HTTP/1.1\r\nHost: a\r\nIdempotency-Key:  k-1  \r\n"
		"Transfer-Encoding: chunked\r\n\r\n"
		"5\r\n{\"ima\r\nc\r\nge\":\"hello\"}\r\n0\r\n\r\n";
	struct http_in in;
	enum http_in_event ev;
	size_t n;

	http_in_init(&in, 4096, 4096);
	n = feed_all(&in, req, sizeof(req) - 1, 1, &ev);
	T_EQ_INT(ev, HTTP_IN_REQUEST);
	T_EQ_INT(n, sizeof(req) - 1);
	T_EQ_STR(in.req.method, "POST");
	T_EQ_STR(in.req.url, "/vm/run?x=1");
	T_EQ_STR(in.req.body, "{\"image\":\"hello\"}");
	T_ASSERT(in.req.has_key);
	T_EQ_STR(in.req.key, "k-1");
	T_ASSERT(in.req.keep_alive);
	http_in_free(&in);
}

static void t_parse_pipelined(void)
{
	static const char reqs[] =
		"GET /healthz HTTP/1.1\r\n\r\n"
		"POST /vm/run HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}"
		"GET /pool HTTP/1.0\r\n\r\n";
	struct http_in in;
	enum http_in_event ev;
	size_t off = 0;

	http_in_init(&in, 4096, 4096);
	off += http_in_feed(&in, reqs, sizeof(reqs) - 1, &ev);
	T_EQ_INT(ev, HTTP_IN_REQUEST);
	T_EQ_INT(off, strlen("GET /healthz HTTP/1.1\r\n\r\n"));
	T_EQ_STR(in.req.url, "/healthz");
	http_in_next(&in);
	off += http_in_feed(&in, reqs + off, sizeof(reqs) - 1 - off, &ev);
	T_EQ_INT(ev, HTTP_IN_REQUEST);
	T_EQ_STR(in.req.url, "/vm/run");
	T_EQ_STR(in.req.body, "{}");
	T_ASSERT(!in.req.has_key);
	http_in_next(&in);
	off += http_in_feed(&in, reqs + off, sizeof(reqs) - 1 - off, &ev);
	T_EQ_INT(ev, HTTP_IN_REQUEST);
	T_EQ_INT(off, sizeof(reqs) - 1);
	T_EQ_STR(in.req.url, "/pool");
	T_EQ_STR(in.req.body, "");
	T_ASSERT(in.req.http10);
	T_ASSERT(!in.req.keep_alive); /* HTTP/1.0 without keep-alive */
	http_in_free(&in);
}

static void t_parse_connection_close(void)
{
	static const char req[] = "GET / HTTP/1.1\r\nConnection: close\r\n\r\n";
	static const char req10[] = "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
	struct http_in in;
	enum http_in_event ev;

	http_in_init(&in, 4096, 4096);
	http_in_feed(&in, req, sizeof(req) - 1, &ev);
	T_EQ_INT(ev, HTTP_IN_REQUEST);
	T_ASSERT(!in.req.keep_alive);
	http_in_next(&in);
	http_in_feed(&in, req10, sizeof(req10) - 1, &ev);
	T_EQ_INT(ev, HTTP_IN_REQUEST);
	T_ASSERT(in.req.keep_alive && in.req.http10);
	http_in_free(&in);
}

static void t_parse_header_limit(void)
{
	char req[4096];
	struct http_in in;
	enum http_in_event ev;
	int n;

	n = snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nX-Big: %0600d\r\n\r\n", 0);
	http_in_init(&in, 512, 4096);
	feed_all(&in, req, (size_t)n, 7, &ev);
	T_EQ_INT(ev, HTTP_IN_ERROR);
	T_EQ_INT(in.err_status, 431);
	T_EQ_STR(in.err_code, "headers_too_large");
	http_in_free(&in);
	/* Many small headers add up too. */
	n = 0;
	n += snprintf(req + n, sizeof(req) - n, "GET / HTTP/1.1\r\n");
	for (int i = 0; i < 100; i++)
		n += snprintf(req + n, sizeof(req) - n, "X-%d: v\r\n", i);
	n += snprintf(req + n, sizeof(req) - n, "\r\n");
	http_in_init(&in, 512, 4096);
	feed_all(&in, req, (size_t)n, 4096, &ev);
	T_EQ_INT(ev, HTTP_IN_ERROR);
	T_EQ_INT(in.err_status, 431);
	http_in_free(&in);
	/* A long target counts. */
	n = snprintf(req, sizeof(req), "GET /%0900d HTTP/1.1\r\n\r\n", 0);
	http_in_init(&in, 512, 4096);
	feed_all(&in, req, (size_t)n, 4096, &ev);
	T_EQ_INT(ev, HTTP_IN_ERROR);
	T_EQ_INT(in.err_status, 431);
	http_in_free(&in);
}

static void t_parse_body_limit(void)
{
	static const char cl[] = "POST /vm/run HTTP/1.1\r\nContent-Length: 101\r\n\r\n";
	static const char ok[] = "POST /vm/run HTTP/1.1\r\nContent-Length: 100\r\n\r\n";
	static const char chunked[] = "POST /vm/run HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
				      "40\r\n" "0123456789012345678901234567890123456789"
				      "012345678901234567890123\r\n"
				      "40\r\n" "0123456789012345678901234567890123456789"
				      "012345678901234567890123\r\n0\r\n\r\n";
	char body[100];
	struct http_in in;
	enum http_in_event ev;

	/* Refused on Content-Length alone, before any body byte. */
	http_in_init(&in, 4096, 100);
	http_in_feed(&in, cl, sizeof(cl) - 1, &ev);
	T_EQ_INT(ev, HTTP_IN_ERROR);
	T_EQ_INT(in.err_status, 413);
	T_EQ_STR(in.err_code, "body_too_large");
	http_in_free(&in);
	/* Exactly the limit is fine. */
	http_in_init(&in, 4096, 100);
	http_in_feed(&in, ok, sizeof(ok) - 1, &ev);
	T_EQ_INT(ev, HTTP_IN_MORE);
	memset(body, 'x', sizeof(body));
	http_in_feed(&in, body, sizeof(body), &ev);
	T_EQ_INT(ev, HTTP_IN_REQUEST);
	T_EQ_INT(in.req.body_len, 100);
	http_in_free(&in);
	/* A streamed body is cut when it crosses the limit. */
	http_in_init(&in, 4096, 100);
	feed_all(&in, chunked, sizeof(chunked) - 1, 3, &ev);
	T_EQ_INT(ev, HTTP_IN_ERROR);
	T_EQ_INT(in.err_status, 413);
	http_in_free(&in);
}

static void t_parse_garbage(void)
{
	static const char *const bad[] = {
		"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", /* TLS hello */
		"GET / HTTP/1.1\r\nbad header\r\n\r\n",
		"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
		"POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n",
		"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
		"GET /\x01 HTTP/1.1\r\n\r\n",
	};
	struct http_in in;
	enum http_in_event ev;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		http_in_init(&in, 4096, 4096);
		feed_all(&in, bad[i], strlen(bad[i]), 2, &ev);
		if (ev != HTTP_IN_ERROR)
			T_FAIL("garbage %zu accepted (ev %d)", i, ev);
		T_EQ_INT(in.err_status, 400);
		T_EQ_STR(in.err_code, "bad_request");
		http_in_free(&in);
	}
}

static void t_parse_expect_continue(void)
{
	static const char req[] = "POST /vm/run HTTP/1.1\r\nExpect: 100-Continue\r\n"
				  "Content-Length: 2\r\n\r\n";
	struct http_in in;
	enum http_in_event ev;

	http_in_init(&in, 4096, 4096);
	http_in_feed(&in, req, sizeof(req) - 1, &ev);
	T_EQ_INT(ev, HTTP_IN_MORE);
	T_ASSERT(in.want_continue);
	http_in_feed(&in, "{}", 2, &ev);
	T_EQ_INT(ev, HTTP_IN_REQUEST);
	http_in_free(&in);
}

/* Only HTTP/1.0 and 1.1 are served: a request line without a version
 * (HTTP/0.9) is refused at its end, before any header; other versions at the
 * end of the headers. */
static void t_parse_version(void)
{
	static const struct {
		const char *req;
		int status;
		const char *code;
	} bad[] = {
		{ "GET /healthz\r\n", 400, "bad_request" },
		{ "GET /healthz\n", 400, "bad_request" },
		{ "GET /healthz\r\n\r\n", 400, "bad_request" },
		{ "GET /healthz\r\nHost: a\r\n\r\n", 400, "bad_request" },
		{ "GET /healthz HTTP/0.9\r\n\r\n", 505, "http_version_not_supported" },
		{ "GET /healthz HTTP/2.0\r\n\r\n", 505, "http_version_not_supported" },
		{ "GET /healthz HTTP/1.2\r\n\r\n", 505, "http_version_not_supported" },
		{ "GET /healthz HTTP/3.1\r\nHost: a\r\n\r\n", 505, "http_version_not_supported" },
	};
	static const char ok10[] = "GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
	static const char ok11[] = "GET /b HTTP/1.1\r\n\r\n";
	struct http_in in;
	enum http_in_event ev;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		for (size_t step = 1; step <= 4096; step *= 4096) {
			http_in_init(&in, 4096, 4096);
			feed_all(&in, bad[i].req, strlen(bad[i].req), step, &ev);
			if (ev != HTTP_IN_ERROR)
				T_FAIL("'%s' (step %zu) accepted (ev %d)", bad[i].req, step, ev);
			T_EQ_INT(in.err_status, bad[i].status);
			T_EQ_STR(in.err_code, bad[i].code);
			T_ASSERT(in.err_msg && strstr(in.err_msg, "HTTP/1.1"));
			http_in_free(&in);
		}
	}
	/* 1.0 and 1.1 still are, one after the other on a connection. */
	http_in_init(&in, 4096, 4096);
	feed_all(&in, ok10, strlen(ok10), 1, &ev);
	T_EQ_INT(ev, HTTP_IN_REQUEST);
	http_in_next(&in);
	feed_all(&in, ok11, strlen(ok11), 1, &ev);
	T_EQ_INT(ev, HTTP_IN_REQUEST);
	T_EQ_STR(in.req.url, "/b");
	http_in_free(&in);
}

int main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		T_CASE(t_routes_each),
		T_CASE(t_routes_not_found),
		T_CASE(t_routes_method_not_allowed),
		T_CASE(t_routes_list_query),
		T_CASE(t_routes_events_query),
		T_CASE(t_routes_console_query),
		T_CASE(t_run_bad_json),
		T_CASE(t_run_invalid_argument),
		T_CASE(t_run_unknown_image),
		T_CASE(t_run_valid),
		T_CASE(t_run_idempotency_key),
		T_CASE(t_error_envelope),
		T_CASE(t_format_response),
		T_CASE(t_vm_to_json),
		T_CASE(t_vm_id),
		T_CASE(t_parse_small_chunks),
		T_CASE(t_parse_pipelined),
		T_CASE(t_parse_connection_close),
		T_CASE(t_parse_header_limit),
		T_CASE(t_parse_body_limit),
		T_CASE(t_parse_garbage),
		T_CASE(t_parse_expect_continue),
		T_CASE(t_parse_version),
		{ 0 },
	};

	return t_run(argc, argv, cases);
}
