/*
 * qmp.h — a non-blocking QMP (QEMU Machine Protocol) client on a libuv
 * uv_pipe_t.
 *
 * Protocol: the server greets with {"QMP": {...}}; the client answers
 * {"execute":"qmp_capabilities"} and, once that returns, may execute
 * commands. Every message is one JSON object terminated by CRLF. Replies
 * ({"return": ...} or {"error": {"class","desc"}}) carry the "id" the client
 * put in its command, and are matched by it; messages with "event" are
 * asynchronous events (SHUTDOWN, POWERDOWN, STOP, ...).
 *
 * Ownership: qmp_connect() returns a heap object owned by the caller, who
 * must release it with qmp_close() exactly once — also after a failed
 * connect or a lost connection. qmp_close() never calls any callback; the
 * memory is freed from the uv_close callback, so closing from inside any
 * qmp callback is safe.
 *
 * Callbacks: `ready` once — status 0 when negotiated, else negative errno
 * (connect refused, socket missing, protocol error, EOF). `closed` once if
 * the connection is lost after ready. Pending command callbacks get
 * -ECONNRESET when the connection is lost (not when the owner closes).
 */
#ifndef PW_QMP_H
#define PW_QMP_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

struct qmp;

struct qmp_callbacks {
	void (*ready)(struct qmp *q, int status, void *arg);
	void (*event)(struct qmp *q, const char *name, json_t *data, void *arg);
	void (*closed)(struct qmp *q, int status, void *arg);
};

/* status 0: ret is the "return" value (borrowed). status < 0: err is the
 * error description ("GenericError: ..." or a transport error). */
typedef void (*qmp_reply_cb)(struct qmp *q, int status, json_t *ret,
			     const char *err, void *arg);

/* Starts connecting to the unix socket at path; cbs must outlive q. */
int qmp_connect(uv_loop_t *loop, const char *path,
		const struct qmp_callbacks *cbs, void *arg, struct qmp **out);

/* Sends {"execute": cmd, "arguments": args, "id": N}. args may be NULL and
 * is not stolen. -ENOTCONN before ready or after the connection was lost. */
int qmp_execute(struct qmp *q, const char *cmd, json_t *args,
		qmp_reply_cb cb, void *arg);

/* The same with fd sent along (SCM_RIGHTS), e.g. for "getfd"; -EAGAIN
 * while other commands are still being written (try again later). */
int qmp_execute_fd(struct qmp *q, const char *cmd, json_t *args, int fd,
		   qmp_reply_cb cb, void *arg);

bool qmp_is_ready(const struct qmp *q);

/* NULL-safe. Drops pending commands without calling their callbacks. */
void qmp_close(struct qmp *q);

/* ---- the wire format, without I/O (the reader above uses these) ------- */

enum qmp_msg_kind {
	QMP_MSG_GREETING, /* {"QMP": …} */
	QMP_MSG_EVENT,    /* "event" is a string */
	QMP_MSG_REPLY,    /* "return" or "error" */
	QMP_MSG_OTHER,    /* an object that is none of these: ignored */
};

/* One decoded line. Ownership: caller-embedded; root is owned (release with
 * qmp_msg_free), every other pointer is borrowed from it. */
struct qmp_msg {
	enum qmp_msg_kind kind;
	json_t *root;
	const char *event;  /* EVENT: its name */
	json_t *data;       /* EVENT: "data", or NULL */
	bool has_id;        /* REPLY: an integer "id" came */
	uint64_t id;
	json_t *ret;        /* REPLY: "return"; NULL when it is an error */
	char err[256];      /* REPLY error: "Class: desc"; parse failure: why */
};

/* The next complete line of buf[*off, len) (without its '\n') in *line, *n;
 * advances *off past it. false when no '\n' is left. */
bool qmp_next_line(const char *buf, size_t len, size_t *off, const char **line, size_t *n);

/* Decodes one line (trailing CR and spaces ignored): 0 with *m filled; 1 for
 * a blank line (nothing to free); -EPROTO when it is not a JSON object
 * (m->err says why, nothing to free). */
int qmp_msg_parse(const char *line, size_t n, struct qmp_msg *m);

void qmp_msg_free(struct qmp_msg *m); /* NULL-safe */

#endif
