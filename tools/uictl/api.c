/*
 * api.c — uictl's client of the uigniter REST API, the one wrapper around
 * libcurl here: curl codes become negative errno in this file and nowhere
 * else.
 *
 * Where: --api URL (http://HOST:PORT over TCP, or unix:PATH), else the
 * config's unix socket (api.listen's "unix:" entry), else its TCP address.
 * Token: --token FILE ("-": stdin), else $UIGNITER_TOKEN, else (TCP only)
 * <state_dir>/api.token when readable; sent as "Authorization: Bearer …"
 * whenever there is one.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "uictl.h"

#define API_CONNECT_TIMEOUT_S 5L
#define API_TIMEOUT_S 300L /* a run with "wait": "ready" waits up to ready_timeout_ms */
#define TOKEN_MAX 512

/* A growing response body (malloc'd; released by the caller). */
struct body_buf {
	char *data;
	size_t len;
	bool stream; /* api_stream: a 2xx body goes to stdout instead */
	CURL *curl;
};

/* Resolved once per process. */
static struct {
	bool done;
	char unix_path[PATH_MAX];
	char base[PATH_MAX]; /* "http://host:port" or "http://uigniter" */
	char where[PATH_MAX + 8];
	char token[TOKEN_MAX];
} ep;

static int read_token(const char *file, bool quiet)
{
	FILE *f = strcmp(file, "-") ? fopen(file, "re") : stdin;
	size_t n;

	if (!f) {
		if (!quiet)
			fprintf(stderr, "uictl: token %s: %s\n", file, strerror(errno));
		return quiet ? 0 : -errno;
	}
	n = fread(ep.token, 1, sizeof(ep.token) - 1, f);
	ep.token[n] = '\0';
	if (f != stdin)
		fclose(f);
	ep.token[strcspn(ep.token, "\r\n \t")] = '\0';
	if (!*ep.token && !quiet) {
		fprintf(stderr, "uictl: token %s is empty\n", file);
		return -EINVAL;
	}
	return 0;
}

static int resolve_token(struct uictl *u, bool tcp)
{
	const char *env = getenv("UIGNITER_TOKEN");
	char file[PATH_MAX + 16];

	if (u->token)
		return read_token(u->token, false);
	if (env && *env) {
		snprintf(ep.token, sizeof(ep.token), "%s", env);
		return 0;
	}
	if (!tcp)
		return 0;
	snprintf(file, sizeof(file), "%s/api.token", u->cfg.state_dir);
	return read_token(file, true);
}

static int resolve(struct uictl *u)
{
	bool tcp;
	int r;

	if (ep.done)
		return 0;
	if ((r = uictl_config(u)) != 0)
		return -EINVAL;
	if (u->api && !strncmp(u->api, "unix:", 5)) {
		snprintf(ep.unix_path, sizeof(ep.unix_path), "%s", u->api + 5);
	} else if (u->api) {
		if (strncmp(u->api, "http://", 7)) {
			fprintf(stderr, "uictl: --api %s: expected http://HOST:PORT or unix:PATH\n",
				u->api);
			return -EINVAL;
		}
		snprintf(ep.base, sizeof(ep.base), "%s", u->api);
		ep.base[strcspn(ep.base + 7, "/") + 7] = '\0';
	} else if (*u->cfg.api_unix) {
		snprintf(ep.unix_path, sizeof(ep.unix_path), "%s", u->cfg.api_unix);
	} else if (*u->cfg.api_tcp) {
		snprintf(ep.base, sizeof(ep.base), "http://%s", u->cfg.api_tcp);
	} else {
		fprintf(stderr, "uictl: the config has no API (api.listen is empty); use --api\n");
		return -EINVAL;
	}
	tcp = !*ep.unix_path;
	if (!tcp)
		snprintf(ep.base, sizeof(ep.base), "http://uigniter");
	snprintf(ep.where, sizeof(ep.where), "%s%s", tcp ? "" : "unix:",
		 tcp ? ep.base : ep.unix_path);
	if ((r = resolve_token(u, tcp)) < 0)
		return r;
	ep.done = true;
	return 0;
}

const char *api_where(struct uictl *u)
{
	return resolve(u) == 0 ? ep.where : "(no API)";
}

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct body_buf *b = arg;
	size_t len = size * n;
	long status = 0;
	char *d;

	if (b->stream && curl_easy_getinfo(b->curl, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK &&
	    status / 100 == 2) {
		if (fwrite(p, 1, len, stdout) != len || fflush(stdout) != 0)
			return 0; /* a closed pipe ends the transfer */
		return len;
	}
	if (b->len + len > 16u << 20) /* an error body or a page: never this big */
		return 0;
	if (!(d = realloc(b->data, b->len + len + 1)))
		return 0;
	memcpy(d + b->len, p, len);
	b->data = d;
	b->len += len;
	b->data[b->len] = '\0';
	return len;
}

static int curl_errno(CURLcode c)
{
	switch (c) {
	case CURLE_OK: return 0;
	case CURLE_COULDNT_CONNECT: return -ECONNREFUSED;
	case CURLE_COULDNT_RESOLVE_HOST: return -EHOSTUNREACH;
	case CURLE_OPERATION_TIMEDOUT: return -ETIMEDOUT;
	case CURLE_GOT_NOTHING:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR: return -ECONNRESET;
	case CURLE_WRITE_ERROR: return -EPIPE;
	case CURLE_OUT_OF_MEMORY: return -ENOMEM;
	default: return -EIO;
	}
}

bool api_unreachable(int r)
{
	return r == -ECONNREFUSED || r == -EHOSTUNREACH || r == -ETIMEDOUT || r == -ECONNRESET;
}

int api_fail_code(struct uictl *u, int r)
{
	if (!api_unreachable(r))
		return UICTL_EXIT_FAIL;
	fprintf(stderr, "uictl: API %s unreachable: %s\n", ep.where, strerror(-r));
	(void)u;
	return UICTL_EXIT_UNREACHABLE;
}

static int setup(CURL *c, const char *method, const char *url, const char *payload,
		 struct curl_slist **hdrs, struct body_buf *b, bool stream)
{
	char auth[TOKEN_MAX + 32];
	struct curl_slist *h = NULL;
	int bad = 0;

	if (*ep.token) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", ep.token);
		if (!(h = curl_slist_append(h, auth)))
			return -ENOMEM;
	}
	if (payload) {
		struct curl_slist *h2 = curl_slist_append(h, "Content-Type: application/json");

		if (!h2) {
			curl_slist_free_all(h);
			return -ENOMEM;
		}
		h = h2;
	}
	*hdrs = h;
	bad |= curl_easy_setopt(c, CURLOPT_URL, url) != CURLE_OK;
	if (*ep.unix_path)
		bad |= curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, ep.unix_path) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method) != CURLE_OK;
	if (payload)
		bad |= curl_easy_setopt(c, CURLOPT_POSTFIELDS, payload) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_HTTPHEADER, h) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_WRITEDATA, b) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, API_CONNECT_TIMEOUT_S) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_TIMEOUT, stream ? 0L : API_TIMEOUT_S) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_PROXY, "") != CURLE_OK; /* never $http_proxy */
	return bad ? -EINVAL : 0;
}

static int request(struct uictl *u, const char *method, const char *path, json_t *body,
		   struct api_answer *a, bool stream)
{
	struct body_buf b = { .stream = stream };
	struct curl_slist *hdrs = NULL;
	char url[PATH_MAX * 2], *payload = NULL;
	CURL *c;
	int r;

	a->status = 0;
	a->body = NULL;
	if ((r = resolve(u)) < 0)
		return r;
	if (body && !(payload = json_dumps(body, JSON_COMPACT)))
		return -ENOMEM;
	if (!(c = curl_easy_init())) {
		free(payload);
		return -ENOMEM;
	}
	b.curl = c;
	snprintf(url, sizeof(url), "%s%s", ep.base, path);
	if ((r = setup(c, method, url, payload, &hdrs, &b, stream)) == 0) {
		r = curl_errno(curl_easy_perform(c));
		if (curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &a->status) != CURLE_OK)
			a->status = 0;
	}
	if (r == 0 && b.len)
		a->body = json_loadb(b.data, b.len, 0, NULL);
	if (r < 0 && !api_unreachable(r) && r != -EPIPE)
		fprintf(stderr, "uictl: %s %s: %s\n", method, path, strerror(-r));
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	free(b.data);
	free(payload);
	return r == -EPIPE ? 0 : r;
}

int api_call(struct uictl *u, const char *method, const char *path, json_t *body,
	     struct api_answer *a)
{
	return request(u, method, path, body, a, false);
}

int api_stream(struct uictl *u, const char *path, struct api_answer *a)
{
	return request(u, "GET", path, NULL, a, true);
}

void api_answer_free(struct api_answer *a)
{
	json_decref(a->body);
	a->body = NULL;
}

int api_report(const char *what, const struct api_answer *a)
{
	json_t *err = json_object_get(a->body, "error");
	const char *msg = json_string_value(json_object_get(err, "message"));
	const char *code = json_string_value(json_object_get(err, "code"));

	if (msg)
		fprintf(stderr, "uictl: %s: %s (HTTP %ld %s)\n", what, msg, a->status,
			code ? code : "");
	else
		fprintf(stderr, "uictl: %s: HTTP %ld\n", what, a->status);
	return UICTL_EXIT_FAIL;
}
