/*
 * qmp.c — QMP client over a uv_pipe_t; the protocol and ownership rules are
 * in qmp.h.
 *
 * States: CONNECTING (uv_pipe_connect in flight) → GREETING (waiting for
 * {"QMP":...}) → NEGOTIATING (qmp_capabilities sent) → READY → DEAD (the
 * connection failed or was lost; only qmp_close() is left to do).
 *
 * Input is accumulated in `buf` and cut at '\n' (QMP ends every message with
 * CRLF), so a message split over several reads and several messages in one
 * read are both handled. A line longer than QMP_MAX_LINE is a protocol error.
 * Cutting and decoding a line (qmp_next_line, qmp_msg_parse) are pure and
 * public, for tests and tests/fuzz/fuzz_qmp.c; dispatch acts on the decoded
 * struct qmp_msg.
 *
 * Re-entrancy: any callback may call qmp_close(); `closing` is checked after
 * every dispatched message and the object is only freed by the uv_close
 * callback, on a later loop iteration.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"
#include "qmp.h"

#define QMP_MAX_LINE (1u << 20)
#define QMP_READ_CHUNK 4096u

enum qmp_state { QMP_CONNECTING, QMP_GREETING, QMP_NEGOTIATING, QMP_READY, QMP_DEAD };

struct qmp_cmd {
	struct qmp_cmd *next;
	uint64_t id;
	qmp_reply_cb cb;
	void *arg;
};

struct qmp {
	uv_pipe_t pipe;
	uv_connect_t connect_req;
	enum qmp_state state;
	bool closing;
	const struct qmp_callbacks *cbs;
	void *arg;
	char *buf;
	size_t len, cap;
	uint64_t next_id;
	struct qmp_cmd *pending;
};

struct qmp_write {
	uv_write_t req;
	char *data;
};

static void qmp_free_cb(uv_handle_t *h)
{
	struct qmp *q = h->data;

	free(q->buf);
	free(q);
}

/* A callback may qmp_close(): that empties the list and ends the loop. */
static void qmp_drop_pending(struct qmp *q, bool notify, int status)
{
	while (q->pending) {
		struct qmp_cmd *c = q->pending;

		q->pending = c->next;
		if (notify && !q->closing && c->cb)
			c->cb(q, status, NULL, "QMP connection lost", c->arg);
		free(c);
	}
}

/* The connection is unusable: tell the owner once, via ready or closed. */
static void qmp_fail(struct qmp *q, int status)
{
	enum qmp_state was = q->state;

	if (was == QMP_DEAD || q->closing)
		return;
	q->state = QMP_DEAD;
	if (uv_is_active((uv_handle_t *)&q->pipe))
		uv_read_stop((uv_stream_t *)&q->pipe);
	if (was == QMP_READY) {
		qmp_drop_pending(q, true, -ECONNRESET);
		if (!q->closing && q->cbs->closed)
			q->cbs->closed(q, status, q->arg);
	} else if (q->cbs->ready) {
		q->cbs->ready(q, status, q->arg);
	}
}

static void qmp_write_cb(uv_write_t *req, int status)
{
	struct qmp_write *wr = (struct qmp_write *)req;
	struct qmp *q = req->handle->data;

	free(wr->data);
	free(wr);
	if (status < 0 && status != UV_ECANCELED && !q->closing)
		qmp_fail(q, status);
}

/* The first bytes of line with fd attached (SCM_RIGHTS): straight to the
 * socket, only when nothing else is queued (order kept); returns how many
 * bytes went, the rest goes through uv_write. */
static int send_with_fd(struct qmp *q, const char *line, size_t n, int fd)
{
	char ctl[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { (void *)line, n };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl,
			     .msg_controllen = sizeof(ctl) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	uv_os_fd_t sock;
	ssize_t w;

	if (uv_stream_get_write_queue_size((uv_stream_t *)&q->pipe) ||
	    uv_fileno((uv_handle_t *)&q->pipe, &sock) < 0)
		return -EAGAIN;
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	w = sendmsg(sock, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
	return w < 0 ? -errno : (int)w;
}

static int qmp_send_json(struct qmp *q, json_t *msg, int fd)
{
	struct qmp_write *wr;
	char *s = json_dumps(msg, JSON_COMPACT), *line;
	size_t n, sent = 0;
	uv_buf_t b;
	int rc;

	if (!s)
		return -ENOMEM;
	n = strlen(s);
	line = realloc(s, n + 2);
	wr = line ? calloc(1, sizeof(*wr)) : NULL;
	if (!wr) {
		free(line ? line : s);
		return -ENOMEM;
	}
	memcpy(line + n, "\n", 2);
	if (fd >= 0 && (rc = send_with_fd(q, line, n + 1, fd)) < 0) {
		free(line);
		free(wr);
		return rc;
	}
	sent = fd >= 0 ? (size_t)rc : 0;
	if (sent == n + 1) {
		free(line);
		free(wr);
		return 0;
	}
	wr->data = line;
	b = uv_buf_init(line + sent, (unsigned)(n + 1 - sent));
	rc = uv_write(&wr->req, (uv_stream_t *)&q->pipe, &b, 1, qmp_write_cb);
	if (rc < 0) {
		free(line);
		free(wr);
	}
	return rc;
}

static int qmp_send_cmd(struct qmp *q, const char *cmd, json_t *args, int fd,
			qmp_reply_cb cb, void *arg)
{
	struct qmp_cmd *c = calloc(1, sizeof(*c));
	json_t *msg;
	int rc = -ENOMEM;

	if (!c)
		return -ENOMEM;
	c->id = ++q->next_id;
	c->cb = cb;
	c->arg = arg;
	msg = json_pack("{s:s, s:I}", "execute", cmd, "id", (json_int_t)c->id);
	if (!msg)
		goto free_cmd;
	if (args && json_object_set(msg, "arguments", args) < 0)
		goto free_msg;
	rc = qmp_send_json(q, msg, fd);
	if (rc < 0)
		goto free_msg;
	json_decref(msg);
	c->next = q->pending;
	q->pending = c;
	return 0;

free_msg:
	json_decref(msg);
free_cmd:
	free(c);
	return rc;
}

int qmp_execute(struct qmp *q, const char *cmd, json_t *args,
		qmp_reply_cb cb, void *arg)
{
	if (q->closing || q->state != QMP_READY)
		return -ENOTCONN;
	return qmp_send_cmd(q, cmd, args, -1, cb, arg);
}

int qmp_execute_fd(struct qmp *q, const char *cmd, json_t *args, int fd,
		   qmp_reply_cb cb, void *arg)
{
	if (q->closing || q->state != QMP_READY)
		return -ENOTCONN;
	return qmp_send_cmd(q, cmd, args, fd, cb, arg);
}

bool qmp_is_ready(const struct qmp *q)
{
	return q && !q->closing && q->state == QMP_READY;
}

static void qmp_caps_done(struct qmp *q, int status, json_t *ret,
			  const char *err, void *arg)
{
	(void)ret;
	(void)arg;
	if (status < 0) {
		ui_warn("qmp: qmp_capabilities failed: %s", err);
		qmp_fail(q, -EPROTO);
		return;
	}
	q->state = QMP_READY;
	if (q->cbs->ready)
		q->cbs->ready(q, 0, q->arg);
}

static struct qmp_cmd *qmp_take_cmd(struct qmp *q, uint64_t id)
{
	for (struct qmp_cmd **pp = &q->pending; *pp; pp = &(*pp)->next) {
		struct qmp_cmd *c = *pp;

		if (c->id == id) {
			*pp = c->next;
			return c;
		}
	}
	return NULL;
}

/* ---- the wire format (pure; see qmp.h) -------------------------------- */

bool qmp_next_line(const char *buf, size_t len, size_t *off, const char **line, size_t *n)
{
	const char *nl;

	if (*off >= len || !(nl = memchr(buf + *off, '\n', len - *off)))
		return false;
	*line = buf + *off;
	*n = (size_t)(nl - *line);
	*off = (size_t)(nl - buf) + 1;
	return true;
}

static void qmp_msg_reply(struct qmp_msg *m)
{
	json_t *id = json_object_get(m->root, "id");
	json_t *e;
	const char *cls, *desc;

	m->kind = QMP_MSG_REPLY;
	if (json_is_integer(id)) {
		m->has_id = true;
		m->id = (uint64_t)json_integer_value(id);
	}
	if ((m->ret = json_object_get(m->root, "return")))
		return;
	e = json_object_get(m->root, "error");
	cls = json_string_value(json_object_get(e, "class"));
	desc = json_string_value(json_object_get(e, "desc"));
	snprintf(m->err, sizeof(m->err), "%s: %s", cls ? cls : "Error",
		 desc ? desc : "(no description)");
}

int qmp_msg_parse(const char *line, size_t n, struct qmp_msg *m)
{
	json_error_t jerr;
	json_t *ev;

	memset(m, 0, sizeof(*m));
	while (n && (line[n - 1] == '\r' || line[n - 1] == ' '))
		n--;
	if (n == 0)
		return 1;
	m->root = json_loadb(line, n, 0, &jerr);
	if (!json_is_object(m->root)) {
		snprintf(m->err, sizeof(m->err), "%s", m->root ? "not an object" : jerr.text);
		json_decref(m->root);
		m->root = NULL;
		return -EPROTO;
	}
	ev = json_object_get(m->root, "event");
	if (json_object_get(m->root, "QMP")) {
		m->kind = QMP_MSG_GREETING;
	} else if (json_is_string(ev)) {
		m->kind = QMP_MSG_EVENT;
		m->event = json_string_value(ev);
		m->data = json_object_get(m->root, "data");
	} else if (json_object_get(m->root, "return") || json_object_get(m->root, "error")) {
		qmp_msg_reply(m);
	} else {
		m->kind = QMP_MSG_OTHER;
	}
	return 0;
}

void qmp_msg_free(struct qmp_msg *m)
{
	if (!m)
		return;
	json_decref(m->root);
	m->root = NULL;
}

/* ---- dispatch ------------------------------------------------------- */

static void qmp_on_reply(struct qmp *q, const struct qmp_msg *m)
{
	struct qmp_cmd *c;

	if (!m->has_id || !(c = qmp_take_cmd(q, m->id))) {
		ui_debug("qmp: reply with unknown id ignored");
		return;
	}
	if (c->cb) {
		if (m->ret)
			c->cb(q, 0, m->ret, NULL, c->arg);
		else
			c->cb(q, -EIO, NULL, m->err, c->arg);
	}
	free(c);
}

static void qmp_on_message(struct qmp *q, const struct qmp_msg *m)
{
	switch (m->kind) {
	case QMP_MSG_GREETING:
		if (q->state != QMP_GREETING) {
			qmp_fail(q, -EPROTO);
			return;
		}
		q->state = QMP_NEGOTIATING;
		if (qmp_send_cmd(q, "qmp_capabilities", NULL, -1, qmp_caps_done, NULL) < 0)
			qmp_fail(q, -EIO);
		break;
	case QMP_MSG_EVENT:
		if (q->cbs->event)
			q->cbs->event(q, m->event, m->data, q->arg);
		break;
	case QMP_MSG_REPLY:
		qmp_on_reply(q, m);
		break;
	case QMP_MSG_OTHER:
		ui_debug("qmp: unrecognised message ignored");
		break;
	}
}

static int qmp_on_line(struct qmp *q, const char *line, size_t n)
{
	struct qmp_msg m;
	int r = qmp_msg_parse(line, n, &m);

	if (r < 0) {
		ui_warn("qmp: bad message: %s", m.err);
		return r;
	}
	if (r == 0)
		qmp_on_message(q, &m);
	qmp_msg_free(&m);
	return 0;
}

/* Dispatches every complete line in buf; keeps the partial tail. */
static void qmp_consume(struct qmp *q)
{
	size_t off = 0, n;
	const char *line;

	while (!q->closing && q->state != QMP_DEAD &&
	       qmp_next_line(q->buf, q->len, &off, &line, &n)) {
		if (qmp_on_line(q, line, n) < 0) {
			qmp_fail(q, -EPROTO);
			return;
		}
	}
	if (q->closing || q->state == QMP_DEAD)
		return;
	memmove(q->buf, q->buf + off, q->len - off);
	q->len -= off;
	if (q->len >= QMP_MAX_LINE) {
		ui_warn("qmp: message longer than %u bytes", QMP_MAX_LINE);
		qmp_fail(q, -EMSGSIZE);
	}
}

static void qmp_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
	struct qmp *q = h->data;

	(void)suggested;
	if (q->cap - q->len < QMP_READ_CHUNK) {
		size_t cap = q->cap ? q->cap * 2 : 2 * QMP_READ_CHUNK;
		char *nb = realloc(q->buf, cap);

		if (!nb) {
			*b = uv_buf_init(NULL, 0); /* read_cb gets UV_ENOBUFS */
			return;
		}
		q->buf = nb;
		q->cap = cap;
	}
	*b = uv_buf_init(q->buf + q->len, (unsigned)(q->cap - q->len));
}

static void qmp_read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
	struct qmp *q = s->data;

	(void)b;
	if (q->closing)
		return;
	if (nread < 0) {
		qmp_fail(q, nread == UV_EOF ? -ECONNRESET : (int)nread);
		return;
	}
	q->len += (size_t)nread;
	qmp_consume(q);
}

static void qmp_connect_cb(uv_connect_t *req, int status)
{
	struct qmp *q = req->data;
	int rc;

	if (q->closing)
		return;
	if (status < 0) {
		qmp_fail(q, status);
		return;
	}
	q->state = QMP_GREETING;
	rc = uv_read_start((uv_stream_t *)&q->pipe, qmp_alloc_cb, qmp_read_cb);
	if (rc < 0)
		qmp_fail(q, rc);
}

int qmp_connect(uv_loop_t *loop, const char *path,
		const struct qmp_callbacks *cbs, void *arg, struct qmp **out)
{
	struct qmp *q = calloc(1, sizeof(*q));
	int rc;

	if (!q)
		return -ENOMEM;
	rc = uv_pipe_init(loop, &q->pipe, 0);
	if (rc < 0) {
		free(q);
		return rc;
	}
	q->pipe.data = q;
	q->connect_req.data = q;
	q->cbs = cbs;
	q->arg = arg;
	q->state = QMP_CONNECTING;
	/* Non-blocking: errors (ENOENT, ECONNREFUSED) arrive in connect_cb. */
	uv_pipe_connect(&q->connect_req, &q->pipe, path, qmp_connect_cb);
	*out = q;
	return 0;
}

void qmp_close(struct qmp *q)
{
	if (!q || q->closing)
		return;
	q->closing = true;
	qmp_drop_pending(q, false, 0);
	uv_close((uv_handle_t *)&q->pipe, qmp_free_cb);
}
