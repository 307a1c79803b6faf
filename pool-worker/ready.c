/*
 * ready.c — the readiness probe (see ready.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "ready.h"

#define READ_MAX (64u * 1024)

struct attempt {
	uv_tcp_t tcp;
	uv_connect_t req;
	uv_write_t wreq;
	struct pw_ready *r;
	char status[16];               /* the answer's first bytes: "HTTP/1.x NNN" */
	size_t nstatus;
	bool connected;
};

struct pw_ready {
	uv_loop_t *loop;
	uv_timer_t tick;
	uv_timer_t deadline;
	struct attempt *conn;          /* the connect in flight, or NULL */
	uint64_t conn_since;           /* uv_now of its start */
	struct sockaddr_in addr;
	unsigned port;
	char request[512];             /* the http rule's GET, "" for none */
	char http_path[256];
	char pattern[128];
	size_t plen;
	char path[4096];
	int fd;
	char carry[128];               /* the last plen-1 bytes read */
	size_t ncarry;
	pw_ready_cb cb;
	void *arg;
	int open;                      /* handles not yet closed */
	bool stopping;
};

static void maybe_free(struct pw_ready *r)
{
	if (r->stopping && r->open == 0)
		free(r);
}

static void on_closed(uv_handle_t *h)
{
	struct pw_ready *r = h->data;

	r->open--;
	maybe_free(r);
}

static void on_attempt_closed(uv_handle_t *h)
{
	struct attempt *a = h->data;
	struct pw_ready *r = a->r;

	free(a);
	r->open--;
	maybe_free(r);
}

static void drop_attempt(struct pw_ready *r)
{
	if (!r->conn)
		return;
	uv_close((uv_handle_t *)&r->conn->tcp, on_attempt_closed);
	r->conn = NULL;
}

void pw_ready_stop(struct pw_ready *r)
{
	if (!r || r->stopping)
		return;
	r->stopping = true;
	r->cb = NULL;
	drop_attempt(r);
	uv_close((uv_handle_t *)&r->tick, on_closed);
	uv_close((uv_handle_t *)&r->deadline, on_closed);
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
}

/* The one outcome: the callback, then the probe ends. */
static void finish(struct pw_ready *r, int status, const char *how)
{
	pw_ready_cb cb = r->cb;
	void *arg = r->arg;

	if (r->stopping)
		return;
	pw_ready_stop(r);
	if (cb)
		cb(arg, status, how);
}

/* ---- the port rule ---------------------------------------------------- */

/* The status line's code, 0 while it is incomplete, -1 when it is not HTTP. */
static int status_code(const char *s, size_t n)
{
	if (n < 12)
		return memcmp(s, "HTTP/1.", n < 7 ? n : 7) ? -1 : 0;
	if (memcmp(s, "HTTP/1.", 7) || s[8] != ' ' || s[9] < '1' || s[9] > '5' ||
	    s[10] < '0' || s[10] > '9' || s[11] < '0' || s[11] > '9')
		return -1;
	return (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct attempt *a = h->data;

	(void)hint;
	*buf = uv_buf_init(a->status + a->nstatus, (unsigned)(sizeof(a->status) - a->nstatus));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct attempt *a = s->data;
	struct pw_ready *r = a->r;
	char how[sizeof(r->http_path) + 32];
	int code;

	(void)buf;
	if (r->conn != a || n == 0)
		return;
	if (n < 0) { /* EOF or reset before a status line: tried again */
		drop_attempt(r);
		return;
	}
	a->nstatus += (size_t)n;
	if ((code = status_code(a->status, a->nstatus)) == 0 && a->nstatus < sizeof(a->status))
		return; /* more to come */
	drop_attempt(r);
	if (code >= 200 && code < 400) {
		snprintf(how, sizeof(how), "GET %s answered %d", r->http_path, code);
		finish(r, 0, how);
	}
	/* not HTTP, or 4xx/5xx (an app not serving yet): the next tick tries again */
}

static void on_written(uv_write_t *w, int status)
{
	struct attempt *a = w->data;
	struct pw_ready *r = a->r;

	if (status == UV_ECANCELED || r->conn != a)
		return;
	if (status < 0 || uv_read_start((uv_stream_t *)&a->tcp, on_alloc, on_read) < 0)
		drop_attempt(r);
}

static void on_connect(uv_connect_t *req, int status)
{
	struct attempt *a = req->data;
	struct pw_ready *r = a->r;
	char how[64];
	uv_buf_t b;

	if (status == UV_ECANCELED || r->conn != a)
		return; /* dropped: its close is under way */
	if (status < 0) { /* refused, unreachable: the next tick tries again */
		drop_attempt(r);
		return;
	}
	if (r->request[0]) { /* the http rule: the GET on this connection */
		a->connected = true;
		a->wreq.data = a;
		b = uv_buf_init(r->request, (unsigned)strlen(r->request));
		if (uv_write(&a->wreq, (uv_stream_t *)&a->tcp, &b, 1, on_written) < 0)
			drop_attempt(r);
		return;
	}
	drop_attempt(r);
	snprintf(how, sizeof(how), "port %u accepts", r->port);
	finish(r, 0, how);
}

static void try_connect(struct pw_ready *r)
{
	struct attempt *a = calloc(1, sizeof(*a));
	int rc;

	if (!a)
		return; /* the next tick tries again */
	a->r = r;
	if ((rc = uv_tcp_init(r->loop, &a->tcp)) < 0) {
		ui_warn("ready probe: %s", uv_strerror(rc));
		free(a);
		return;
	}
	a->tcp.data = a;
	a->req.data = a;
	r->open++;
	r->conn = a;
	r->conn_since = uv_now(r->loop);
	if ((rc = uv_tcp_connect(&a->req, &a->tcp, (const struct sockaddr *)&r->addr,
				 on_connect)) < 0)
		drop_attempt(r);
}

static void port_tick(struct pw_ready *r)
{
	if (r->conn && uv_now(r->loop) - r->conn_since >=
			       (r->conn->connected ? PW_READY_HTTP_MS : PW_READY_CONNECT_MS))
		drop_attempt(r); /* unanswered: a guest whose network (or app) is not up */
	if (!r->conn)
		try_connect(r);
}

/* ---- the console rule ------------------------------------------------- */

/* The log was rotated (console.h: truncated to 0) under our offset:
 * read the new log from its start. */
static void rewind_if_rotated(struct pw_ready *r)
{
	struct stat st;
	off_t pos = lseek(r->fd, 0, SEEK_CUR);

	if (pos > 0 && fstat(r->fd, &st) == 0 && st.st_size < pos &&
	    lseek(r->fd, 0, SEEK_SET) == 0)
		r->ncarry = 0;
}

static void console_tick(struct pw_ready *r)
{
	char buf[sizeof(r->carry) + 4096];
	size_t total = 0;

	if (r->fd < 0) {
		r->fd = open(r->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
		if (r->fd < 0)
			return; /* not there yet: the next tick looks again */
	}
	rewind_if_rotated(r);
	while (total < READ_MAX) {
		ssize_t n;

		memcpy(buf, r->carry, r->ncarry);
		n = read(r->fd, buf + r->ncarry, sizeof(buf) - r->ncarry);
		if (n <= 0)
			return; /* nothing new (or an error: tried again) */
		total += (size_t)n;
		n += (ssize_t)r->ncarry;
		if (memmem(buf, (size_t)n, r->pattern, r->plen)) {
			finish(r, 0, "console pattern seen");
			return;
		}
		r->ncarry = (size_t)n < r->plen - 1 ? (size_t)n : r->plen - 1;
		memmove(r->carry, buf + n - r->ncarry, r->ncarry);
	}
}

/* ---- timers ------------------------------------------------------------- */

static void on_tick(uv_timer_t *t)
{
	struct pw_ready *r = t->data;

	if (r->port)
		port_tick(r);
	else
		console_tick(r);
}

static void on_deadline(uv_timer_t *t)
{
	finish(t->data, -ETIMEDOUT, "deadline");
}

int pw_ready_start(uv_loop_t *loop, const struct pw_ready_rule *rule, pw_ready_cb cb,
		   void *arg, struct pw_ready **out)
{
	struct pw_ready *r;
	int rc;

	*out = NULL;
	if (!rule->port && (!rule->pattern || !rule->pattern[0] ||
			    strlen(rule->pattern) >= sizeof(r->pattern)))
		return -EINVAL;
	if (!(r = calloc(1, sizeof(*r))))
		return -ENOMEM;
	r->loop = loop;
	r->fd = -1;
	r->cb = cb;
	r->arg = arg;
	r->port = rule->port;
	if (r->port) {
		r->addr.sin_family = AF_INET;
		r->addr.sin_port = htons((uint16_t)rule->port);
		if (!rule->ip || inet_pton(AF_INET, rule->ip, &r->addr.sin_addr) != 1) {
			free(r);
			return -EINVAL;
		}
		if (rule->http_path && rule->http_path[0]) {
			int n = snprintf(r->request, sizeof(r->request),
					 "GET %s HTTP/1.0\r\nHost: %s\r\nUser-Agent: uigniter-ready\r\n"
					 "Connection: close\r\n\r\n", rule->http_path, rule->ip);

			if (rule->http_path[0] != '/' || strlen(rule->http_path) >= sizeof(r->http_path) ||
			    strpbrk(rule->http_path, " \t\r\n") || n < 0 || (size_t)n >= sizeof(r->request)) {
				free(r);
				return -EINVAL;
			}
			snprintf(r->http_path, sizeof(r->http_path), "%s", rule->http_path);
		}
	} else {
		snprintf(r->pattern, sizeof(r->pattern), "%s", rule->pattern);
		r->plen = strlen(r->pattern);
		snprintf(r->path, sizeof(r->path), "%s", rule->console_log);
	}
	if ((rc = uv_timer_init(loop, &r->tick)) < 0) {
		free(r);
		return rc;
	}
	r->tick.data = r;
	r->open++;
	if ((rc = uv_timer_init(loop, &r->deadline)) < 0) {
		r->stopping = true;
		uv_close((uv_handle_t *)&r->tick, on_closed);
		return rc;
	}
	r->deadline.data = r;
	r->open++;
	if ((rc = uv_timer_start(&r->tick, on_tick, 0, PW_READY_POLL_MS)) < 0 ||
	    (rc = uv_timer_start(&r->deadline, on_deadline, rule->timeout_ms, 0)) < 0) {
		pw_ready_stop(r);
		return rc;
	}
	*out = r;
	return 0;
}
