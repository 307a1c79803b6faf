/*
 * conn.c — the life of one client connection: read, parse (http.c), hand
 * complete requests to server_dispatch(), write answers in order, enforce
 * the deadlines, close. Phases and the timer are described in conn.h.
 *
 * Input: bytes arrive in the server's shared read buffer and are parsed at
 * once; whatever cannot be parsed yet (pipelined requests behind one that is
 * waiting for pool-worker) is copied to c->held and reading stops, so held
 * never exceeds one read. Output: every response is one uv_write of a
 * buffer owned by its write request; libuv keeps them in order. A final
 * response ("Connection: close") is followed by uv_shutdown — which waits
 * for queued writes — and a lingering read that discards input until EOF or
 * the linger timer, so a client still sending a refused body gets to read
 * the answer instead of a reset.
 *
 * Limits: each listener (TCP, unix socket) counts its own connections. At
 * its limit a new connection replaces the longest idle one, else the
 * oldest still sending a request begun over REAP_READING_MS ago; with
 * none of those it is accepted and closed. Either is counted and logged at
 * most every LIMIT_LOG_MS per listener.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "events.h"
#include "console.h"
#include "json.h"
#include "log.h"
#include "routes.h"
#include "shm.h"

#define WRITE_HIGH (256u * 1024) /* stop parsing above this much unsent output */

struct wreq {
	uv_write_t req;
	struct conn *c;
	char *buf;
};

static void conn_feed_held(struct conn *c);
static void conn_finish(struct conn *c);
static void on_timer(uv_timer_t *t);

/* (Re)arms the connection's one timer; its meaning follows c->phase. */
static void timer_set(struct conn *c, unsigned ms)
{
	uv_timer_stop(&c->timer);
	if (ms)
		uv_timer_start(&c->timer, on_timer, ms, 0);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct conn *c = h->data;

	(void)hint;
	buf->base = c->srv->readbuf;
	buf->len = sizeof(c->srv->readbuf);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);

static void read_start(struct conn *c)
{
	if (!c->reading && c->phase != CONN_CLOSED &&
	    uv_read_start(&c->io.s, on_alloc, on_read) == 0)
		c->reading = true;
}

static void read_stop(struct conn *c)
{
	if (c->reading)
		uv_read_stop(&c->io.s);
	c->reading = false;
}

static void on_handle_closed(uv_handle_t *h)
{
	struct conn *c = h->data;

	if (--c->open_handles > 0)
		return;
	http_in_free(&c->in);
	free(c->held);
	free(c);
}

void conn_close(struct conn *c)
{
	struct apid_server *s = c->srv;

	if (c->phase == CONN_CLOSED)
		return;
	c->phase = CONN_CLOSED;
	c->req_id = 0;
	if (c->list)
		server_list_cancel(c);
	if (c->ev)
		events_cancel(c);
	if (c->follow)
		console_follow_cancel(c);
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->n_conns[c->is_unix]--;
	uv_close(&c->io.h, on_handle_closed);
	uv_close((uv_handle_t *)&c->timer, on_handle_closed);
}

/* Mutations at info; reads (GET, HEAD) only at debug, unless they failed
 * for the server's sake (5xx). */
static void log_request(struct conn *c, int status)
{
	bool read = !strcmp(c->log_method, "GET") || !strcmp(c->log_method, "HEAD");

	ui_log(read && status < 500 ? UI_LOG_DEBUG : UI_LOG_INFO, "%s %s %d %llums", c->log_method[0] ? c->log_method : "-",
		c->log_path[0] ? c->log_path : "-", status,
		(unsigned long long)(ui_now_ms() - c->t_start));
}

static void on_write(uv_write_t *req, int status)
{
	struct wreq *w = (struct wreq *)req;
	struct conn *c = w->c;

	free(w->buf);
	free(w);
	if (status < 0) {
		if (status != UV_ECANCELED)
			conn_close(c);
		return;
	}
	if (c->write_blocked && uv_stream_get_write_queue_size(&c->io.s) < WRITE_HIGH / 2) {
		c->write_blocked = false;
		conn_resume(c);
	}
}

/* Queues buf (owned, freed after the write) on the connection. */
static int conn_write(struct conn *c, char *buf, size_t len)
{
	struct wreq *w = malloc(sizeof(*w));
	uv_buf_t b = uv_buf_init(buf, (unsigned)len);
	int rc;

	if (!w) {
		free(buf);
		return -ENOMEM;
	}
	w->c = c;
	w->buf = buf;
	rc = uv_write(&w->req, &c->io.s, &b, 1, on_write);
	if (rc < 0) {
		free(buf);
		free(w);
	}
	return rc;
}

int conn_send(struct conn *c, char *buf, size_t len)
{
	if (c->phase == CONN_CLOSED || c->phase == CONN_CLOSING) {
		free(buf);
		return -EPIPE;
	}
	return conn_write(c, buf, len);
}

bool conn_send_blocked(const struct conn *c)
{
	return uv_stream_get_write_queue_size(&c->io.s) > WRITE_HIGH;
}

bool conn_may_keep(const struct conn *c)
{
	return c->keep_alive && !c->srv->stopping && !(c->peer_eof && !c->held_len);
}

static void after_answer(struct conn *c, bool keep);

void conn_stream_end(struct conn *c, int status, bool keep)
{
	if (c->phase == CONN_CLOSED || c->phase == CONN_CLOSING)
		return;
	log_request(c, status);
	after_answer(c, keep && conn_may_keep(c));
}

void conn_respond(struct conn *c, struct http_response *r)
{
	bool keep = conn_may_keep(c);
	size_t len = 0;
	int status;
	char *buf;

	if (c->phase == CONN_CLOSED || c->phase == CONN_CLOSING) {
		http_response_free(r);
		return;
	}
	status = r->status;
	buf = http_format_response(r, keep, c->http10, c->head, &len);
	http_response_free(r);
	c->req_id = 0;
	if (!buf || conn_write(c, buf, len) < 0) {
		log_request(c, status);
		conn_close(c);
		return;
	}
	log_request(c, status); /* once the answer is on its way: not in its path */
	after_answer(c, keep);
}

/* The answer is queued: the next request (keep-alive), or close. */
static void after_answer(struct conn *c, bool keep)
{
	if (!keep) {
		conn_finish(c);
		return;
	}
	c->phase = CONN_IDLE;
	c->idle_since = ui_now_ms();
	timer_set(c, c->srv->opt.idle_timeout_ms);
	if (uv_stream_get_write_queue_size(&c->io.s) > WRITE_HIGH)
		c->write_blocked = true;
}

void conn_wait(struct conn *c, uint64_t req_id, int op, unsigned timeout_ms)
{
	c->req_id = req_id;
	c->req_op = op;
	timer_set(c, timeout_ms);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
	struct conn *c = req->data;

	/* Nothing more to read from a peer that already sent EOF. */
	if (status < 0 || c->peer_eof)
		conn_close(c);
}

/* After a final response: shut down our side, discard input, then close. */
static void conn_finish(struct conn *c)
{
	c->phase = CONN_CLOSING;
	free(c->held);
	c->held = NULL;
	c->held_len = 0;
	timer_set(c, c->srv->opt.linger_ms);
	c->shutdown.data = c;
	if (uv_shutdown(&c->shutdown, &c->io.s, on_shutdown) < 0) {
		conn_close(c);
		return;
	}
	if (!c->peer_eof)
		read_start(c);
}

/* Answers a request that cannot be parsed or is over a limit, then closes. */
static void conn_fail(struct conn *c, int status, const char *code, const char *msg)
{
	struct http_response r = { 0 };

	/* Log what is known of a request that never completed. */
	if (c->in.req.method)
		snprintf(c->log_method, sizeof(c->log_method), "%s", c->in.req.method);
	if (c->in.req.url)
		safe_echo(c->in.req.url, c->log_path, sizeof(c->log_path));
	c->keep_alive = false;
	c->head = c->http10 = false;
	api_error(&r, status, code, "%s", msg);
	conn_respond(c, &r);
}

static void conn_parse_error(struct conn *c)
{
	struct http_in *in = &c->in;
	char msg[96];

	if (in->err_status == 413)
		snprintf(msg, sizeof(msg), "the request body exceeds %zu bytes",
			 in->max_body_bytes);
	else if (in->err_status == 431)
		snprintf(msg, sizeof(msg), "the request headers exceed %zu bytes",
			 in->max_header_bytes);
	else if (in->err_status == 500)
		snprintf(msg, sizeof(msg), "out of memory");
	else if (in->err_msg)
		snprintf(msg, sizeof(msg), "%s", in->err_msg);
	else
		snprintf(msg, sizeof(msg), "malformed HTTP request (%s)",
			 http_errno_name(HTTP_PARSER_ERRNO(&in->parser)));
	conn_fail(c, in->err_status ? in->err_status : 400,
		  in->err_code ? in->err_code : "bad_request", msg);
}

/* A request is complete: dispatch it, then get ready for the next one. */
static void conn_request(struct conn *c)
{
	struct http_req *req = &c->in.req;

	c->keep_alive = req->keep_alive;
	c->http10 = req->http10;
	c->head = req->is_head;
	snprintf(c->log_method, sizeof(c->log_method), "%s", req->method);
	safe_echo(req->url, c->log_path, sizeof(c->log_path));
	c->phase = CONN_BUSY;
	uv_timer_stop(&c->timer);
	server_dispatch(c, req);
	http_in_next(&c->in);
}

/* First byte of a new request: the whole-request deadline starts now. */
static void conn_begin(struct conn *c)
{
	c->phase = CONN_READING;
	c->t_start = ui_now_ms();
	c->log_method[0] = c->log_path[0] = '\0';
	timer_set(c, c->srv->opt.request_timeout_ms);
}

static void conn_send_continue(struct conn *c)
{
	char *buf = strdup(http_continue);

	c->in.want_continue = false;
	if (!buf || conn_write(c, buf, strlen(http_continue)) < 0)
		conn_close(c);
}

static bool can_parse(const struct conn *c)
{
	return (c->phase == CONN_IDLE || c->phase == CONN_READING) && !c->write_blocked;
}

/* Parses as many requests from data as the connection may take now;
 * returns the bytes consumed (everything once the connection is closing). */
static size_t conn_feed(struct conn *c, const char *data, size_t len)
{
	size_t off = 0;

	while (off < len && can_parse(c)) {
		enum http_in_event ev;
		size_t n;

		if (c->phase == CONN_IDLE)
			conn_begin(c);
		n = http_in_feed(&c->in, data + off, len - off, &ev);
		off += n;
		if (ev == HTTP_IN_REQUEST) {
			conn_request(c);
		} else if (ev == HTTP_IN_ERROR) {
			conn_parse_error(c);
			return len;
		} else {
			if (c->in.want_continue)
				conn_send_continue(c);
			if (n == 0)
				break;
		}
	}
	return c->phase >= CONN_CLOSING ? len : off;
}

static void conn_hold(struct conn *c, const char *data, size_t len)
{
	char *nheld = realloc(c->held, c->held_len + len);

	if (!nheld) {
		conn_close(c);
		return;
	}
	memcpy(nheld + c->held_len, data, len);
	c->held = nheld;
	c->held_len += len;
	read_stop(c);
}

static void on_read_end(struct conn *c, ssize_t err)
{
	if (err != UV_EOF || c->phase == CONN_CLOSING) {
		conn_close(c);
		return;
	}
	c->peer_eof = true;
	read_stop(c);
	if (c->phase == CONN_IDLE)
		conn_finish(c);
	else if (c->phase == CONN_READING)
		conn_close(c); /* a partial request nobody will complete */
	/* BUSY: answer, then close (conn_respond sees peer_eof). */
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct conn *c = s->data;
	size_t used;

	if (n < 0) {
		on_read_end(c, n);
		return;
	}
	if (n == 0 || c->phase == CONN_CLOSING || c->phase == CONN_CLOSED)
		return; /* lingering: input is discarded */
	used = conn_feed(c, buf->base, (size_t)n);
	if (used < (size_t)n)
		conn_hold(c, buf->base + used, (size_t)n - used);
}

/* Parses held input; afterwards reads again if nothing is left. */
static void conn_feed_held(struct conn *c)
{
	char *data = c->held;
	size_t len = c->held_len, used;

	c->held = NULL;
	c->held_len = 0;
	used = conn_feed(c, data, len);
	if (used < len)
		conn_hold(c, data + used, len - used);
	free(data);
}

void conn_resume(struct conn *c)
{
	if (!can_parse(c))
		return;
	if (c->held_len)
		conn_feed_held(c);
	if (c->held_len || !can_parse(c))
		return;
	if (!c->peer_eof)
		read_start(c);
	else if (c->phase == CONN_IDLE)
		conn_finish(c);
	else
		conn_close(c);
}

static void on_timer(uv_timer_t *t)
{
	struct conn *c = t->data;
	struct http_response r = { 0 };
	char msg[96];

	switch (c->phase) {
	case CONN_READING:
		snprintf(msg, sizeof(msg), "the request was not received within %u ms",
			 c->srv->opt.request_timeout_ms);
		conn_fail(c, 408, "request_timeout", msg);
		break;
	case CONN_BUSY:
		c->req_id = 0; /* a late reply is dropped */
		api_error(&r, 504, "timeout", "no reply from pool-worker within %u ms",
			  c->srv->opt.run_timeout_ms);
		conn_respond(c, &r);
		conn_resume(c);
		break;
	default: /* IDLE: keep-alive expired; CLOSING: linger over */
		conn_close(c);
		break;
	}
}

/* ---- the connection limit of each listener -------------------------------- */

#define LIMIT_LOG_MS 10000      /* at most one limit line per listener per 10 s */
#define REAP_READING_MS 1000    /* a request this slow may be cut for a new client */

static const char *listener_name(bool is_unix)
{
	return is_unix ? "unix socket" : "TCP";
}

/* A listener at its limit reaped or refused one: logs now and then. */
static void limit_note(struct apid_server *s, bool is_unix, bool reaped)
{
	struct apid_limit_log *l = &s->limit_log[is_unix];
	uint64_t now = ui_now_ms();

	if (reaped)
		l->reaped++;
	else
		l->refused++;
	if (l->last_ms && now - l->last_ms < LIMIT_LOG_MS)
		return;
	ui_warn("%s connection limit (%u, limits.max_conns_%s; fd ceiling %llu) reached: "
		"%u idle or slow connection(s) closed for new ones, %u new one(s) refused",
		listener_name(is_unix), is_unix ? s->opt.max_conns_unix : s->opt.max_conns_tcp,
		is_unix ? "unix" : "tcp", s->opt.fd_ceiling, l->reaped, l->refused);
	l->last_ms = now;
	l->reaped = l->refused = 0;
}

/*
 * The connection of this listener to close for a new one: the longest idle
 * (nothing of a next request received), else the oldest still sending a
 * request it began more than REAP_READING_MS ago (a slowloris). A request
 * being answered is never cut. NULL when there is none.
 */
static struct conn *reap_victim(struct apid_server *s, bool is_unix)
{
	uint64_t now = ui_now_ms();
	struct conn *c, *idle = NULL, *slow = NULL;

	for (c = s->conns; c; c = c->next) {
		if (c->is_unix != is_unix)
			continue;
		if (c->phase == CONN_IDLE && !c->held_len &&
		    (!idle || c->idle_since < idle->idle_since))
			idle = c;
		else if (c->phase == CONN_READING && now - c->t_start >= REAP_READING_MS &&
			 (!slow || c->t_start < slow->t_start))
			slow = c;
	}
	return idle ? idle : slow;
}

/* Accepting and dropping keeps the listen queue moving when full. */
static void reject_closed(uv_handle_t *h)
{
	free(h);
}

static void conn_reject(struct apid_server *s, uv_stream_t *listener, bool is_unix)
{
	uv_stream_t *tmp = malloc(is_unix ? sizeof(uv_pipe_t) : sizeof(uv_tcp_t));

	if (!tmp)
		return;
	if (is_unix)
		uv_pipe_init(s->loop, (uv_pipe_t *)tmp, 0);
	else
		uv_tcp_init(s->loop, (uv_tcp_t *)tmp);
	if (uv_accept(listener, tmp) == 0)
		limit_note(s, is_unix, false);
	uv_close((uv_handle_t *)tmp, reject_closed);
}

static void conn_link(struct apid_server *s, struct conn *c)
{
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	s->n_conns[c->is_unix]++;
}

void conn_accept(struct apid_server *s, uv_stream_t *listener, bool is_unix)
{
	unsigned max = is_unix ? s->opt.max_conns_unix : s->opt.max_conns_tcp;
	struct conn *c;

	if (s->n_conns[is_unix] >= max) {
		if (!(c = reap_victim(s, is_unix))) {
			conn_reject(s, listener, is_unix);
			return;
		}
		conn_close(c); /* its fd is closed at once: room for the new one */
		limit_note(s, is_unix, true);
	}
	if (!(c = calloc(1, sizeof(*c)))) {
		conn_reject(s, listener, is_unix);
		return;
	}
	c->srv = s;
	c->is_unix = is_unix;
	if (is_unix)
		uv_pipe_init(s->loop, &c->io.pipe, 0);
	else
		uv_tcp_init(s->loop, &c->io.tcp);
	uv_timer_init(s->loop, &c->timer);
	c->io.h.data = c;
	c->timer.data = c;
	c->open_handles = 2;
	http_in_init(&c->in, s->opt.max_header_bytes, s->opt.max_body_bytes);
	conn_link(s, c);
	c->t_start = ui_now_ms();
	if (uv_accept(listener, &c->io.s) < 0) {
		conn_close(c);
		return;
	}
	if (!is_unix)
		uv_tcp_nodelay(&c->io.tcp, 1);
	c->idle_since = c->t_start;
	timer_set(c, s->opt.idle_timeout_ms);
	read_start(c);
}
