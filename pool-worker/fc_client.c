/*
 * fc_client.c — Firecracker API client: libcurl multi on libuv (fc_client.h).
 *
 * One struct fc_client per uv loop (a short static list), created by the
 * first queue of that loop and closed when its last queue is freed. It owns
 * the curl multi handle, a uv_timer for curl's timeouts and one uv_poll per
 * socket curl asks us to watch (struct fc_sock), following libcurl's
 * docs/examples/multi-uv.c: CURLMOPT_SOCKETFUNCTION starts/stops polls,
 * CURLMOPT_TIMERFUNCTION arms the timer, and both events end in
 * curl_multi_socket_action() and a walk of the finished transfers.
 *
 * Invariants:
 *   - a queue has at most one transfer in the multi handle: its head,
 *     marked `inflight`; the next starts after the head's callback returned;
 *   - one kept connection per queue (per VMM), as Firecracker's API server
 *     keeps HTTP/1.1 connections: a queue has its own connection cache (a
 *     CURLSH sharing CURL_LOCK_DATA_CONNECT), so its requests reuse the
 *     connection its first one made — no connect on a run's InstanceStart —
 *     and freeing the queue closes it: no connection outlives its VMM's
 *     queue, and no two queues (two VMMs, even on one path) ever share one.
 *     A connection the VMM closed is noticed by curl at its next use and
 *     made afresh — and when the close races our request (sent, nothing
 *     answered), the request goes once more on a fresh connection;
 *   - a client is closed only outside its own dispatch (`depth` == 0), so a
 *     callback that frees the last queue does not pull the multi handle
 *     from under curl_multi_info_read();
 *   - a queue freed from inside its own callback is destroyed after it.
 * libcurl codes are translated here (negative errno) and never leave.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <curl/curl.h>

#include "fc_answer.h"
#include "fc_client.h"
#include "log.h"

#define FC_MAX_FAULT 400
/* A kept connection idle longer than this is made afresh (curl's default,
 * 118 s, is shorter than a warm slot may wait for its run). */
#define FC_CONN_MAX_IDLE_S 86400L

struct fc_client {
	struct fc_client *next;      /* the per-loop list */
	uv_loop_t *loop;
	CURLM *multi;
	uv_timer_t timer;
	struct fc_sock *socks;       /* polls open for curl */
	unsigned queues;             /* live queues: the client's references */
	unsigned depth;              /* > 0 while dispatching curl events */
	unsigned open_handles;       /* closed → freed when it reaches 0 */
	bool closing;
};

struct fc_sock {
	struct fc_sock *next;
	uv_poll_t poll;
	curl_socket_t fd;
	struct fc_client *c;
};

struct fc_req {
	struct fc_req *next;
	struct fc_queue *q;
	CURL *easy;
	struct curl_slist *hdrs;
	char *body;
	struct fc_answer resp;       /* the answer's body (capped) */
	fc_done_cb cb;
	void *arg;
	unsigned timeout_ms;
	char method[8];
	char path[256];
	char errbuf[CURL_ERROR_SIZE];
	bool retried;                /* sent again on a fresh connection */
};

struct fc_queue {
	struct fc_client *c;
	struct fc_req *head, *tail;  /* head is in flight when inflight */
	bool inflight;
	bool in_cb;                  /* a callback of this queue is running */
	bool dead;                   /* freed during its callback */
	CURLSH *share;               /* the queue's connection cache */
	char sock[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

static struct fc_client *clients;

static void start_next(struct fc_queue *q);

/* -------------------------------------------------------------- sockets */

static void client_free_if_closed(struct fc_client *c)
{
	if (c->open_handles == 0)
		free(c);
}

static void sock_closed(uv_handle_t *h)
{
	struct fc_sock *s = h->data;
	struct fc_client *c = s->c;

	free(s);
	c->open_handles--;
	if (c->closing)
		client_free_if_closed(c);
}

static void sock_close(struct fc_sock *s)
{
	struct fc_sock **pp = &s->c->socks;

	while (*pp && *pp != s)
		pp = &(*pp)->next;
	if (*pp)
		*pp = s->next;
	uv_close((uv_handle_t *)&s->poll, sock_closed);
}

static void dispatch(struct fc_client *c, curl_socket_t fd, int flags);

static void on_sock_event(uv_poll_t *h, int status, int events)
{
	struct fc_sock *s = h->data;
	int flags = 0;

	if (status < 0)
		flags = CURL_CSELECT_ERR;
	if (events & UV_READABLE)
		flags |= CURL_CSELECT_IN;
	if (events & UV_WRITABLE)
		flags |= CURL_CSELECT_OUT;
	dispatch(s->c, s->fd, flags);
}

static struct fc_sock *sock_new(struct fc_client *c, curl_socket_t fd)
{
	struct fc_sock *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	if (uv_poll_init_socket(c->loop, &s->poll, fd) < 0) {
		free(s);
		return NULL;
	}
	s->fd = fd;
	s->c = c;
	s->poll.data = s;
	s->next = c->socks;
	c->socks = s;
	c->open_handles++;
	return s;
}

/* CURLMOPT_SOCKETFUNCTION: watch fd for what curl wants, or stop. */
static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userp,
			  void *socketp)
{
	struct fc_client *c = userp;
	struct fc_sock *s = socketp;
	int events = 0;

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		if (s) {
			curl_multi_assign(c->multi, fd, NULL);
			sock_close(s);
		}
		return 0;
	}
	if (!s) {
		s = sock_new(c, fd);
		if (!s)
			return -1;
		curl_multi_assign(c->multi, fd, s);
	}
	if (what & CURL_POLL_IN)
		events |= UV_READABLE;
	if (what & CURL_POLL_OUT)
		events |= UV_WRITABLE;
	return uv_poll_start(&s->poll, events, on_sock_event) < 0 ? -1 : 0;
}

/* ---------------------------------------------------------------- timer */

static void on_timer(uv_timer_t *t)
{
	dispatch(t->data, CURL_SOCKET_TIMEOUT, 0);
}

/* CURLMOPT_TIMERFUNCTION: -1 = no timeout; 0 = act on the next tick. */
static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
	struct fc_client *c = userp;

	(void)multi;
	if (timeout_ms < 0)
		uv_timer_stop(&c->timer);
	else
		uv_timer_start(&c->timer, on_timer, (uint64_t)timeout_ms, 0);
	return 0;
}

/* --------------------------------------------------------------- client */

static void timer_closed(uv_handle_t *h)
{
	struct fc_client *c = h->data;

	c->open_handles--;
	client_free_if_closed(c);
}

static void client_close(struct fc_client *c)
{
	struct fc_client **pp = &clients;

	while (*pp && *pp != c)
		pp = &(*pp)->next;
	if (*pp)
		*pp = c->next;
	c->closing = true;
	/* No easy handle is left (each queue removed its own); the polls that
	 * curl has not removed yet are closed here, not from its callback. */
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, NULL);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, NULL);
	curl_multi_cleanup(c->multi);
	c->multi = NULL;
	while (c->socks)
		sock_close(c->socks);
	uv_close((uv_handle_t *)&c->timer, timer_closed);
}

static void client_unref(struct fc_client *c)
{
	if (--c->queues == 0 && c->depth == 0)
		client_close(c);
}

static struct fc_client *client_get(uv_loop_t *loop)
{
	static bool curl_ready;
	struct fc_client *c;

	for (c = clients; c; c = c->next)
		if (c->loop == loop) {
			c->queues++;
			return c;
		}
	if (!curl_ready && curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return NULL;
	curl_ready = true;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->multi = curl_multi_init();
	if (!c->multi) {
		free(c);
		return NULL;
	}
	c->loop = loop;
	uv_timer_init(loop, &c->timer);
	c->timer.data = c;
	c->open_handles = 1;
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
	c->queues = 1;
	c->next = clients;
	clients = c;
	return c;
}

/* ------------------------------------------------------------- requests */

static void req_free(struct fc_req *r)
{
	if (!r)
		return;
	if (r->easy)
		curl_easy_cleanup(r->easy);
	curl_slist_free_all(r->hdrs);
	free(r->body);
	fc_answer_free(&r->resp);
	free(r);
}

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
	struct fc_req *r = arg;

	/* 0 makes curl fail the transfer: CURLE_WRITE_ERROR */
	return fc_answer_append(&r->resp, data, size * n) < 0 ? 0 : size * n;
}

static int transport_status(CURLcode cc, long os_errno)
{
	switch (cc) {
	case CURLE_COULDNT_CONNECT:
		return os_errno == ENOENT ? -ENOENT : -ECONNREFUSED;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_GOT_NOTHING:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
		return -ECONNRESET;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	default:
		return -EPROTO;
	}
}

/* Pops the head of q, reports it, then starts the next request. */
static void complete(struct fc_queue *q, int status, long code, const char *fault)
{
	struct fc_req *r = q->head;
	struct fc_result res = {
		.status = status, .http_code = code,
		.body = fc_answer_body(&r->resp), .fault = fault,
		.method = r->method, .path = r->path,
	};

	q->head = r->next;
	if (!q->head)
		q->tail = NULL;
	q->inflight = false;
	if (r->cb) {
		q->in_cb = true;
		r->cb(q, &res, r->arg);
		q->in_cb = false;
	}
	req_free(r);
	if (q->dead) {
		q->dead = false;
		fc_queue_free(q);
		return;
	}
	start_next(q);
}

/* The kept connection was closed by the VMM before our request got an
 * answer (a server that closes idle connections, seen by us only as the
 * request is sent): nothing was answered on it, so the request is sent
 * once more on a fresh connection, as browsers and curl itself do. */
static bool retry_fresh(struct fc_req *r, CURLcode cc)
{
	long connects = -1;

	if (r->retried || (cc != CURLE_GOT_NOTHING && cc != CURLE_SEND_ERROR &&
			   cc != CURLE_RECV_ERROR))
		return false;
	if (curl_easy_getinfo(r->easy, CURLINFO_NUM_CONNECTS, &connects) != CURLE_OK ||
	    connects != 0)
		return false; /* not a reused connection: a real failure */
	r->retried = true;
	r->errbuf[0] = '\0';
	fc_answer_free(&r->resp); /* zeroed: empty again */
	if (curl_easy_setopt(r->easy, CURLOPT_FRESH_CONNECT, 1L) != CURLE_OK ||
	    curl_multi_add_handle(r->q->c->multi, r->easy) != CURLM_OK)
		return false;
	return true;
}

static void transfer_done(struct fc_req *r, CURLcode cc)
{
	char fault[FC_MAX_FAULT];
	long code = 0, os_errno = 0;
	int status = 0;

	curl_multi_remove_handle(r->q->c->multi, r->easy);
	if (cc != CURLE_OK && retry_fresh(r, cc))
		return;
	curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &code);
	fault[0] = '\0';
	if (cc != CURLE_OK) {
		curl_easy_getinfo(r->easy, CURLINFO_OS_ERRNO, &os_errno);
		status = transport_status(cc, os_errno);
		snprintf(fault, sizeof(fault), "%s",
			 r->errbuf[0] ? r->errbuf : curl_easy_strerror(cc));
		code = 0;
	} else {
		status = fc_answer_status(code, fc_answer_body(&r->resp), fault, sizeof(fault));
	}
	complete(r->q, status, code, fault);
}

static void drain_done(struct fc_client *c)
{
	CURLMsg *m;
	int left;

	while (c->multi && (m = curl_multi_info_read(c->multi, &left))) {
		struct fc_req *r = NULL;

		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
		if (r)
			transfer_done(r, m->data.result);
	}
}

static void dispatch(struct fc_client *c, curl_socket_t fd, int flags)
{
	int running;

	if (!c->multi)
		return;
	c->depth++;
	curl_multi_socket_action(c->multi, fd, flags, &running);
	drain_done(c);
	if (--c->depth == 0 && c->queues == 0 && !c->closing)
		client_close(c);
}

static int easy_setup(struct fc_queue *q, struct fc_req *r)
{
	char url[300];
	CURL *e = curl_easy_init();

	if (!e)
		return -ENOMEM;
	r->easy = e;
	snprintf(url, sizeof(url), "http://localhost%s", r->path);
	r->hdrs = curl_slist_append(NULL, "Accept: application/json");
	if (r->hdrs && r->body)
		r->hdrs = curl_slist_append(r->hdrs, "Content-Type: application/json");
	if (r->hdrs) /* no "Expect: 100-continue" for larger bodies */
		r->hdrs = curl_slist_append(r->hdrs, "Expect:");
	if (!r->hdrs)
		return -ENOMEM;
	if (curl_easy_setopt(e, CURLOPT_URL, url) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_UNIX_SOCKET_PATH, q->sock) != CURLE_OK)
		return -ENOMEM;
	curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r->method);
	if (r->body) {
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(r->body));
	}
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->hdrs);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)r->timeout_ms);
	if (curl_easy_setopt(e, CURLOPT_SHARE, q->share) != CURLE_OK)
		return -ENOMEM;
	curl_easy_setopt(e, CURLOPT_MAXAGE_CONN, FC_CONN_MAX_IDLE_S);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
	curl_easy_setopt(e, CURLOPT_PRIVATE, r);
	return 0;
}

static void start_next(struct fc_queue *q)
{
	struct fc_req *r = q->head;
	int rc;

	if (!r || q->inflight)
		return;
	rc = easy_setup(q, r);
	if (rc == 0 && curl_multi_add_handle(q->c->multi, r->easy) == CURLM_OK) {
		q->inflight = true;
		return;
	}
	/* Reported like any failure; complete() then starts the next one. */
	complete(q, rc < 0 ? rc : -EIO, 0, "cannot set up the HTTP request");
}

/* ---------------------------------------------------------------- queue */

int fc_queue_new(uv_loop_t *loop, const char *sock_path, struct fc_queue **out)
{
	struct fc_queue *q;

	*out = NULL;
	if (strlen(sock_path) >= sizeof(q->sock))
		return -ENAMETOOLONG;
	q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	q->share = curl_share_init();
	if (!q->share ||
	    curl_share_setopt(q->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT) != CURLSHE_OK) {
		if (q->share)
			curl_share_cleanup(q->share);
		free(q);
		return -ENOMEM;
	}
	q->c = client_get(loop);
	if (!q->c) {
		curl_share_cleanup(q->share);
		free(q);
		return -EIO;
	}
	snprintf(q->sock, sizeof(q->sock), "%s", sock_path);
	*out = q;
	return 0;
}

void fc_queue_cancel(struct fc_queue *q)
{
	struct fc_req *r;

	if (!q)
		return;
	if (q->inflight && q->c->multi)
		curl_multi_remove_handle(q->c->multi, q->head->easy);
	q->inflight = false;
	while ((r = q->head)) {
		q->head = r->next;
		req_free(r);
	}
	q->tail = NULL;
}

void fc_queue_free(struct fc_queue *q)
{
	if (!q)
		return;
	fc_queue_cancel(q);
	if (q->in_cb) {
		q->dead = true; /* complete() finishes the job */
		return;
	}
	/* Every easy handle of the queue is gone (cancel): the share is free,
	 * and its cleanup closes the kept connection. */
	if (curl_share_cleanup(q->share) != CURLSHE_OK)
		ui_warn("fc client %s: connection cache still in use", q->sock);
	client_unref(q->c);
	free(q);
}

bool fc_queue_busy(const struct fc_queue *q)
{
	return q && q->head;
}

int fc_request(struct fc_queue *q, const char *method, const char *path,
	       const char *body, unsigned timeout_ms, fc_done_cb cb, void *arg)
{
	struct fc_req *r;

	if (q->dead || path[0] != '/' || strlen(path) >= sizeof(r->path) ||
	    strlen(method) >= sizeof(r->method))
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	if (body && !(r->body = strdup(body))) {
		free(r);
		return -ENOMEM;
	}
	snprintf(r->method, sizeof(r->method), "%s", method);
	snprintf(r->path, sizeof(r->path), "%s", path);
	r->q = q;
	r->cb = cb;
	r->arg = arg;
	r->timeout_ms = timeout_ms ? timeout_ms : 1;
	if (q->tail)
		q->tail->next = r;
	else
		q->head = r;
	q->tail = r;
	if (!q->in_cb) /* else complete() starts it after the callback */
		start_next(q);
	return 0;
}
