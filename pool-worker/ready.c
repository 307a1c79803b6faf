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
	struct pw_ready *r;
};

struct pw_ready {
	uv_loop_t *loop;
	uv_timer_t tick;
	uv_timer_t deadline;
	struct attempt *conn;          /* the connect in flight, or NULL */
	uint64_t conn_since;           /* uv_now of its start */
	struct sockaddr_in addr;
	unsigned port;
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

static void on_connect(uv_connect_t *req, int status)
{
	struct attempt *a = req->data;
	struct pw_ready *r = a->r;
	char how[64];

	if (status == UV_ECANCELED || r->conn != a)
		return; /* dropped: its close is under way */
	drop_attempt(r);
	if (status == 0) {
		snprintf(how, sizeof(how), "port %u accepts", r->port);
		finish(r, 0, how);
	}
	/* refused, unreachable: the next tick tries again */
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
	if (r->conn && uv_now(r->loop) - r->conn_since >= PW_READY_CONNECT_MS)
		drop_attempt(r); /* unanswered: a guest whose network is not up */
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
