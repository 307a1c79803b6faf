/*
 * fuzz_http.c — libFuzzer target: apid's request path without sockets. The
 * input is one connection's bytes: http_in_feed() (apid/http.c) parses them
 * request by request, as conn.c does; each complete request goes through
 * route_request() (apid/routes.c: routing and POST /vm/run body validation)
 * and its answer through http_format_response(); its Authorization header
 * through auth_check() (apid/auth.c) and a refusal's 401 the same way.
 *
 * Oracle, beyond the sanitizers: the same bytes fed whole and fed in small
 * pieces (sizes from a PRNG seeded by the input size) must give the same
 * requests and routes, and fail at the same request — a connection's reads
 * split anywhere; an error is one of 400, 413, 431, 505 with its code.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "../../apid/auth.h"
#include "../../apid/http.h"
#include "../../apid/routes.h"

#define MAX_HEADER 2048
#define MAX_BODY 4096

static struct ui_config cfg;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	ui_log_init("fuzz_http", UI_LOG_ERROR);
	ui_config_defaults(&cfg);
	cfg.images = calloc(2, sizeof(*cfg.images));
	if (!cfg.images)
		abort();
	snprintf(cfg.images[0].name, sizeof(cfg.images[0].name), "hello");
	snprintf(cfg.images[1].name, sizeof(cfg.images[1].name), "tiny.v2_x-y");
	cfg.n_images = 2;
	return 0;
}

/* FNV-1a over what a user would see of each event. */
static void mix(uint64_t *h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++) {
		*h ^= b[i];
		*h *= 0x100000001b3ull;
	}
}

static void mix_str(uint64_t *h, const char *s)
{
	mix(h, s, strlen(s) + 1);
}

/* The bearer check and, for a refusal, its 401 with WWW-Authenticate. */
static void on_auth(const struct http_req *req, uint64_t *h)
{
	static const char tok[] = "0123456789abcdef0123456789abcdef";
	struct http_response r = { 0 };
	enum auth_result a = auth_check(req, tok);
	size_t len;
	char *out;

	mix(h, &a, sizeof(a));
	mix_str(h, req->auth);
	if (a == AUTH_OK)
		return;
	auth_deny(a, &r);
	out = http_format_response(&r, req->keep_alive, req->http10, req->is_head, &len);
	if (r.status != 401 || !out || !strstr(out, "\r\nWWW-Authenticate: Bearer realm="))
		abort();
	free(out);
	http_response_free(&r);
}

static void on_request(const struct http_req *req, uint64_t *h)
{
	struct route rt;
	size_t len;
	char *out;
	int v[6];

	if (!req->method || !req->url || !req->body || req->body[req->body_len] ||
	    req->body_len > MAX_BODY || strlen(req->key) > HTTP_KEY_MAX ||
	    strlen(req->auth) > HTTP_AUTH_MAX)
		abort();
	on_auth(req, h);
	route_request(req, &cfg, &rt);
	v[0] = (int)rt.action;
	v[1] = rt.resp.status;
	v[2] = (int)rt.run.vcpus;
	v[3] = (int)rt.run.mem_mib;
	v[4] = req->keep_alive;
	v[5] = req->has_key;
	mix(h, v, sizeof(v));
	mix_str(h, req->method);
	mix(h, req->url, req->url_len);
	mix(h, req->body, req->body_len);
	mix_str(h, req->key);
	mix_str(h, rt.vm_id);
	mix_str(h, rt.state);
	mix_str(h, rt.run.image);
	mix_str(h, rt.run.name);
	if (rt.action == RA_RESPOND) {
		if (rt.resp.status < 400 || !rt.resp.body)
			abort();
		mix(h, rt.resp.body, rt.resp.body_len);
		out = http_format_response(&rt.resp, req->keep_alive, req->http10, req->is_head,
					   &len);
		if (!out || len < (req->is_head ? 0 : rt.resp.body_len) ||
		    memcmp(out, "HTTP/1.1 ", 9))
			abort();
		free(out);
	}
	http_response_free(&rt.resp);
}

/* Feeds data in pieces (step 0: whole); returns the hash of the events. */
static uint64_t run(const uint8_t *data, size_t size, uint32_t seed)
{
	struct http_in in;
	uint64_t h = 0xcbf29ce484222325ull;
	size_t off = 0;

	http_in_init(&in, MAX_HEADER, MAX_BODY);
	while (off < size) {
		size_t piece = size - off, n;
		enum http_in_event ev;

		if (seed) {
			seed = seed * 1103515245u + 12345u;
			/* a quarter of the reads 1–3 bytes, the rest up to 64 */
			piece = seed >> 16 & 3 ? 1 + (seed >> 18) % 64 : 1 + (seed >> 18) % 3;
			if (piece > size - off)
				piece = size - off;
		}
		n = http_in_feed(&in, (const char *)data + off, piece, &ev);
		if (n > piece)
			abort();
		off += n;
		if (ev == HTTP_IN_REQUEST) {
			on_request(&in.req, &h);
			http_in_next(&in);
		} else if (ev == HTTP_IN_ERROR) {
			/* Which of two faults of one request is named (a header
			 * both too long and malformed: 431 or 400) may depend on
			 * where the reads split; that the request fails may not. */
			static const char err[] = "error";

			if (!in.err_code || (in.err_status != 400 && in.err_status != 413 &&
					     in.err_status != 431 && in.err_status != 505))
				abort();
			mix(&h, err, sizeof(err));
			break;
		} else if (n < piece) {
			abort(); /* MORE must have taken everything */
		}
	}
	http_in_free(&in);
	return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t seed = 0x9e3779b9u ^ (uint32_t)size;

	if (size && run(data, size, 0) != run(data, size, seed | 1)) {
		fprintf(stderr, "fuzz_http: events differ when the input is split\n");
		abort();
	}
	return 0;
}
