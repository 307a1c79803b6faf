/*
 * fc_agent.c — the agent line over Firecracker's vsock UDS (see
 * fc_agent.h). One struct pw_fc_agent per slot with one timer (the next
 * attempt, or the running attempt's limit) and at most one attempt at a
 * time: a struct attempt with its own pipe, which frees itself when its
 * pipe has closed (an agent stopped meanwhile only detaches it). Steps of
 * an attempt: CONNECTING → CONNECT written, waiting for "OK <port>" →
 * line written, waiting for "OK" → done.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "fc_agent.h"
#include "log.h"

enum step { S_CONNECTING, S_WANT_PORT, S_WANT_OK };

struct attempt {
	uv_pipe_t pipe;
	uv_connect_t conn;
	uv_write_t wr;
	struct pw_fc_agent *a;         /* NULL once detached */
	enum step step;
	char in[160];
	size_t len;
	char *out;                     /* what is being written (freed at close) */
	size_t out_len;
};

struct pw_fc_agent {
	uv_timer_t timer;
	struct attempt *cur;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char connect[32];
	char *line;
	unsigned tries;
	pw_fc_agent_cb done;
	void *arg;
	char last[128];
};

/* ---- pure ---------------------------------------------------------------------- */

int pw_fc_agent_reply(const char *line, bool connect)
{
	size_t n;

	if (strncmp(line, "OK", 2) != 0)
		return -EPROTO;
	if (!connect)
		return line[2] == '\0' ? 0 : -EPROTO;
	if (line[2] != ' ')
		return -EPROTO;
	n = strspn(line + 3, "0123456789");
	return n >= 1 && n <= 10 && line[3 + n] == '\0' ? 0 : -EPROTO;
}

int pw_fc_agent_connect_line(unsigned port, char *out, size_t len)
{
	int n = snprintf(out, len, "CONNECT %u\n", port);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* ---- an attempt ----------------------------------------------------------------- */

static void attempt_closed(uv_handle_t *h)
{
	struct attempt *t = h->data;

	if (t->out) {
		explicit_bzero(t->out, t->out_len);
		free(t->out);
	}
	explicit_bzero(t->in, sizeof(t->in));
	free(t);
}

static void attempt_close(struct attempt *t)
{
	if (t->a && t->a->cur == t)
		t->a->cur = NULL;
	t->a = NULL;
	if (!uv_is_closing((uv_handle_t *)&t->pipe))
		uv_close((uv_handle_t *)&t->pipe, attempt_closed);
}

static void try_again(struct pw_fc_agent *a);

/* The attempt failed: why, for the log and a deadline's sentence. */
static void attempt_fail(struct attempt *t, const char *why)
{
	struct pw_fc_agent *a = t->a;

	attempt_close(t);
	if (!a)
		return;
	if (strcmp(a->last, why) != 0)
		ui_debug("agent %s: %s (again every %u ms)", a->path, why, PW_FC_AGENT_RETRY_MS);
	snprintf(a->last, sizeof(a->last), "%s", why);
	try_again(a);
}

static void agent_free(struct pw_fc_agent *a);

static void on_written(uv_write_t *w, int status)
{
	struct attempt *t = w->data;

	if (status < 0 && t->a) {
		char why[96];

		snprintf(why, sizeof(why), "write: %s", uv_strerror(status));
		attempt_fail(t, why);
	}
}

static int attempt_write(struct attempt *t, const char *text)
{
	uv_buf_t b;

	if (t->out) {
		explicit_bzero(t->out, t->out_len);
		free(t->out);
	}
	t->out_len = strlen(text);
	if (!(t->out = strdup(text)))
		return -ENOMEM;
	b = uv_buf_init(t->out, (unsigned)t->out_len);
	t->wr.data = t;
	return uv_write(&t->wr, (uv_stream_t *)&t->pipe, &b, 1, on_written);
}

/* The guest's OK: the line is in. */
static void attempt_done(struct attempt *t)
{
	struct pw_fc_agent *a = t->a;

	attempt_close(t);
	uv_timer_stop(&a->timer);
	ui_debug("agent %s: the guest took the line (attempt %u)", a->path, a->tries);
	a->done(a->arg);
	agent_free(a);
}

/* One complete reply line (its "\n" cut). */
static void on_line(struct attempt *t, const char *line)
{
	char why[96];
	int rc;

	if (pw_fc_agent_reply(line, t->step == S_WANT_PORT) < 0) {
		snprintf(why, sizeof(why), "unexpected answer \"%.40s\"", line);
		attempt_fail(t, why);
	} else if (t->step == S_WANT_PORT) {
		t->step = S_WANT_OK;
		if ((rc = attempt_write(t, t->a->line)) < 0) {
			snprintf(why, sizeof(why), "write: %s", rc == -ENOMEM ? "out of memory" :
				 uv_strerror(rc));
			attempt_fail(t, why);
		}
	} else {
		attempt_done(t);
	}
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	struct attempt *t = h->data;

	(void)hint;
	*b = uv_buf_init(t->in + t->len, (unsigned)(sizeof(t->in) - 1 - t->len));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct attempt *t = s->data;
	char *nl;

	(void)b;
	if (!t->a || n == 0)
		return;
	if (n < 0) {
		attempt_fail(t, n == UV_EOF ? (t->step == S_WANT_PORT ?
			     "closed: nothing listens on the guest's port yet" :
			     "closed before the guest's OK") : uv_strerror((int)n));
		return;
	}
	t->len += (size_t)n;
	t->in[t->len] = '\0';
	while (t->a && (nl = strchr(t->in, '\n'))) {
		size_t used = (size_t)(nl - t->in) + 1;

		*nl = '\0';
		on_line(t, t->in);
		if (!t->a)
			return;
		memmove(t->in, t->in + used, t->len - used + 1);
		t->len -= used;
	}
	if (t->a && t->len >= sizeof(t->in) - 1)
		attempt_fail(t, "answer too long");
}

static void on_connected(uv_connect_t *c, int status)
{
	struct attempt *t = c->data;
	char why[96];
	int rc;

	if (!t->a)
		return;
	if (status < 0) {
		snprintf(why, sizeof(why), "connect: %s", uv_strerror(status));
		attempt_fail(t, why);
		return;
	}
	t->step = S_WANT_PORT;
	if ((rc = uv_read_start((uv_stream_t *)&t->pipe, on_alloc, on_read)) < 0 ||
	    (rc = attempt_write(t, t->a->connect)) < 0) {
		snprintf(why, sizeof(why), "start: %s", rc == -ENOMEM ? "out of memory" :
			 uv_strerror(rc));
		attempt_fail(t, why);
	}
}

/* ---- the agent ---------------------------------------------------------------------- */

static void on_timer(uv_timer_t *timer);

static void try_again(struct pw_fc_agent *a)
{
	if (uv_timer_start(&a->timer, on_timer, PW_FC_AGENT_RETRY_MS, 0) < 0)
		ui_error("agent %s: cannot arm its timer", a->path);
}

static void attempt_start(struct pw_fc_agent *a)
{
	struct attempt *t = calloc(1, sizeof(*t));

	if (!t || uv_pipe_init(a->timer.loop, &t->pipe, 0) < 0) {
		free(t);
		snprintf(a->last, sizeof(a->last), "out of memory");
		try_again(a);
		return;
	}
	t->a = a;
	t->pipe.data = t;
	t->conn.data = t;
	a->cur = t;
	a->tries++;
	uv_pipe_connect(&t->conn, &t->pipe, a->path, on_connected);
	if (uv_timer_start(&a->timer, on_timer, PW_FC_AGENT_TRY_MS, 0) < 0)
		ui_error("agent %s: cannot arm its timer", a->path);
}

/* The next attempt is due, or the running one took too long. */
static void on_timer(uv_timer_t *timer)
{
	struct pw_fc_agent *a = timer->data;

	if (a->cur) {
		attempt_fail(a->cur, "no answer in time");
		return;
	}
	attempt_start(a);
}

static void agent_closed(uv_handle_t *h)
{
	struct pw_fc_agent *a = h->data;

	if (a->line) {
		explicit_bzero(a->line, strlen(a->line));
		free(a->line);
	}
	free(a);
}

static void agent_free(struct pw_fc_agent *a)
{
	if (a->cur)
		attempt_close(a->cur);
	uv_close((uv_handle_t *)&a->timer, agent_closed);
}

int pw_fc_agent_start(uv_loop_t *loop, const char *uds, unsigned port, const char *line,
		      pw_fc_agent_cb done, void *arg, struct pw_fc_agent **out)
{
	struct pw_fc_agent *a;
	int rc;

	if (strlen(uds) >= sizeof(a->path))
		return -ENAMETOOLONG;
	if (!(a = calloc(1, sizeof(*a))))
		return -ENOMEM;
	snprintf(a->path, sizeof(a->path), "%s", uds);
	if (pw_fc_agent_connect_line(port, a->connect, sizeof(a->connect)) < 0 ||
	    !(a->line = strdup(line))) {
		free(a);
		return -ENOMEM;
	}
	a->done = done;
	a->arg = arg;
	if ((rc = uv_timer_init(loop, &a->timer)) < 0) {
		free(a->line);
		free(a);
		return rc;
	}
	a->timer.data = a;
	if ((rc = uv_timer_start(&a->timer, on_timer, 0, 0)) < 0) {
		uv_close((uv_handle_t *)&a->timer, agent_closed);
		return rc;
	}
	*out = a;
	return 0;
}

void pw_fc_agent_stop(struct pw_fc_agent *a)
{
	if (a)
		agent_free(a);
}

const char *pw_fc_agent_last(const struct pw_fc_agent *a)
{
	return a ? a->last : "";
}

unsigned pw_fc_agent_tries(const struct pw_fc_agent *a)
{
	return a ? a->tries : 0;
}
