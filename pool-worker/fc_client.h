/*
 * fc_client.h — an HTTP/1.1 client for Firecracker's API socket: libcurl's
 * multi interface driven by a libuv loop (sockets watched with uv_poll, curl's
 * timer on a uv_timer), one unix socket per VM. Nothing here blocks.
 *
 * The caller sees queues: one struct fc_queue per VMM (per API socket).
 * Requests on a queue run one at a time, in the order they were queued; the
 * next starts after the previous one's callback has returned. Any number of
 * queues (VMs) have a request in flight at once, all sharing one curl multi
 * handle per loop, which lives as long as some queue of that loop does.
 *
 * Every request completes exactly once through its callback, unless its
 * queue was cancelled (fc_queue_cancel) or freed first: then it is dropped
 * silently. Callbacks may queue, cancel or free (even their own queue).
 *
 * Ownership: fc_queue_new() returns a new queue the caller frees with
 * fc_queue_free() (NULL-safe). The result passed to a callback, and the
 * strings in it, are valid only during the callback.
 */
#ifndef PW_FC_CLIENT_H
#define PW_FC_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

struct fc_queue;

struct fc_result {
	/* 0: a 2xx answer. Else negative errno: -EINVAL for a 4xx answer,
	 * -EIO for any other non-2xx, -ECONNREFUSED / -ENOENT when nothing
	 * listens, -ETIMEDOUT, -ECONNRESET, -EPROTO ... for transport errors. */
	int status;
	long http_code;    /* 0 when no answer came */
	const char *body;  /* the answer's body, "" if none; never NULL */
	/* "" when status is 0; else what went wrong, for a user: the answer's
	 * fault_message (Firecracker) or "error" member, else the body's
	 * first line, else "HTTP <code>", or the transport error. */
	const char *fault;
	const char *method, *path; /* of the request */
};

typedef void (*fc_done_cb)(struct fc_queue *q, const struct fc_result *r,
			   void *arg);

/* A queue for the API at sock_path (copied). -ENAMETOOLONG if it does not
 * fit a sockaddr_un, -ENOMEM, or a libuv/curl setup failure (-EIO). */
int fc_queue_new(uv_loop_t *loop, const char *sock_path, struct fc_queue **out);

/* Drops the queued requests (no callbacks), then frees. NULL-safe. */
void fc_queue_free(struct fc_queue *q);

/* Drops every queued request, including one in flight (no callbacks). */
void fc_queue_cancel(struct fc_queue *q);

/* true while a request is queued or in flight. */
bool fc_queue_busy(const struct fc_queue *q);

/*
 * Queues METHOD path with body (a JSON text, copied; NULL for none) and a
 * timeout for the whole request. cb may be NULL. 0 or -ENOMEM/-EINVAL.
 */
int fc_request(struct fc_queue *q, const char *method, const char *path,
	       const char *body, unsigned timeout_ms, fc_done_cb cb, void *arg);

#endif
