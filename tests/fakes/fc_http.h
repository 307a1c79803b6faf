/*
 * fc_http.h — HTTP/1.1 server connections for the fake (http-parser), one
 * request at a time per connection, keep-alive, Content-Length bodies.
 *
 * Every request — including ones rejected at the HTTP level (chunked body,
 * body over the payload limit, unparsable bytes) — reaches the handler
 * exactly once, so the handler is the one place that answers and logs.
 */
#ifndef FC_HTTP_H
#define FC_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

struct fc_request {
	const char *method; /* "GET", "PUT", ... ("?" if unparsable) */
	const char *url;    /* request target as sent ("?" if unparsable) */
	const char *body;   /* NUL-terminated copy; NULL when no body was sent */
	size_t body_len;
	int http_status;        /* non-zero: rejected by the HTTP layer ... */
	const char *http_fault; /* ... with this sentence */
};

struct fc_reply {
	int status;
	json_t *body;    /* owned by the reply; NULL → no body (204) */
	bool deprecated; /* the request used a deprecated field: "Deprecation: true" */
};

/* Sets rep to status + {"fault_message": <formatted>}, Firecracker's error body. */
void fc_reply_fault(struct fc_reply *rep, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Sets rep to status + body (reference stolen; NULL → no body). */
void fc_reply_set(struct fc_reply *rep, int status, json_t *body);

typedef void (*fc_handler_fn)(void *ctx, const struct fc_request *req, struct fc_reply *rep);

struct fc_conn;

/* Takes ownership of fd (non-blocking, O_CLOEXEC). Returned-new; NULL on ENOMEM. */
struct fc_conn *fc_conn_new(int fd, size_t max_body, fc_handler_fn fn, void *ctx);
int fc_conn_fd(const struct fc_conn *c);
/* Reads what is there and serves complete requests: 0 keep open, <0 close it. */
int fc_conn_on_readable(struct fc_conn *c);
/* Closes the fd and frees; accepts NULL. */
void fc_conn_free(struct fc_conn *c);

#endif
