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

bool qmp_is_ready(const struct qmp *q);

/* NULL-safe. Drops pending commands without calling their callbacks. */
void qmp_close(struct qmp *q);

#endif
