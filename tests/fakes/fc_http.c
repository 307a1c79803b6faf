/*
 * fc_http.c — see fc_http.h. Each struct fc_conn owns its socket fd and the
 * buffers of the request being parsed; they are reset at each message begin.
 *
 * HTTP-level rules (as Firecracker's micro_http): a body needs
 * Content-Length (chunked is refused), the body is at most max_body bytes
 * (--http-api-max-payload-size, default 51200), `Expect: 100-continue` gets
 * an interim 100. After an HTTP-level error the connection is closed.
 * Responses: "HTTP/1.1 <code> <reason>", Server: Firecracker API, JSON body
 * with Content-Length, or none for 204; "Deprecation: true" when the
 * request used a deprecated field (micro_http's set_deprecation).
 */
#include <errno.h>
#include <http_parser.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fc_calllog.h"
#include "fc_http.h"

#define FC_MAX_URL 2048
#define FC_MAX_HDR 64

struct fc_conn {
	int fd;
	http_parser parser;
	fc_handler_fn fn;
	void *ctx;
	size_t max_body;
	char url[FC_MAX_URL];
	size_t url_len;
	char *body;
	size_t body_len;
	bool has_body;
	char hdr_field[FC_MAX_HDR], hdr_value[FC_MAX_HDR];
	size_t field_len, value_len;
	bool in_value, expect_continue, close_after;
	int http_status;
	const char *http_fault;
};

void fc_reply_fault(struct fc_reply *rep, int status, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fc_reply_set(rep, status, json_pack("{s:o}", "fault_message", fc_text(msg)));
}

void fc_reply_set(struct fc_reply *rep, int status, json_t *body)
{
	json_decref(rep->body);
	rep->status = status;
	rep->body = body;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EAGAIN) {
			struct pollfd p = { .fd = fd, .events = POLLOUT };

			if (poll(&p, 1, 2000) <= 0)
				return -ETIMEDOUT;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static const char *reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 413: return "Payload Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	default: return "Unknown";
	}
}

static int send_reply(struct fc_conn *c, const struct fc_reply *rep)
{
	char *body = rep->body ? json_dumps(rep->body, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
	size_t blen = body ? strlen(body) : 0;
	const char *conn = c->close_after ? "close" : "keep-alive";
	const char *dep = rep->deprecated ? "Deprecation: true\r\n" : "";
	char head[512];
	int n, r;

	if (body)
		n = snprintf(head, sizeof(head), "HTTP/1.1 %d %s\r\nServer: Firecracker API\r\n"
			     "Connection: %s\r\n%sContent-Type: application/json\r\n"
			     "Content-Length: %zu\r\n\r\n", rep->status, reason(rep->status), conn,
			     dep, blen);
	else
		n = snprintf(head, sizeof(head), "HTTP/1.1 %d %s\r\nServer: Firecracker API\r\n"
			     "Connection: %s\r\n%s\r\n", rep->status, reason(rep->status), conn, dep);
	r = write_all(c->fd, head, (size_t)n);
	if (r == 0 && body)
		r = write_all(c->fd, body, blen);
	free(body);
	return r;
}

/* Runs the handler for the current request and writes its reply. */
static void serve(struct fc_conn *c, const char *method)
{
	struct fc_request req = {
		.method = method,
		.url = c->url_len ? c->url : "?",
		.body = c->has_body ? c->body : NULL,
		.body_len = c->body_len,
		.http_status = c->http_status,
		.http_fault = c->http_fault,
	};
	struct fc_reply rep = { .status = 500, .body = NULL };

	c->fn(c->ctx, &req, &rep);
	if (send_reply(c, &rep) < 0)
		c->close_after = true;
	json_decref(rep.body);
}

static struct fc_conn *conn_of(http_parser *p)
{
	return p->data;
}

static void reset_message(struct fc_conn *c)
{
	c->url_len = 0;
	c->url[0] = '\0';
	free(c->body);
	c->body = NULL;
	c->body_len = 0;
	c->has_body = false;
	c->field_len = c->value_len = 0;
	c->in_value = c->expect_continue = false;
	c->http_status = 0;
	c->http_fault = NULL;
}

static int on_message_begin(http_parser *p)
{
	reset_message(conn_of(p));
	return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
	struct fc_conn *c = conn_of(p);

	if (c->url_len + len >= FC_MAX_URL) {
		c->http_status = 400;
		c->http_fault = "The request URI is too long.";
		return -1;
	}
	memcpy(c->url + c->url_len, at, len);
	c->url_len += len;
	c->url[c->url_len] = '\0';
	return 0;
}

/* Looks at the completed header (field, value): only Expect matters here. */
static void header_done(struct fc_conn *c)
{
	if (strcasecmp(c->hdr_field, "Expect") == 0 &&
	    strcasecmp(c->hdr_value, "100-continue") == 0)
		c->expect_continue = true;
	c->field_len = c->value_len = 0;
	c->hdr_field[0] = c->hdr_value[0] = '\0';
}

static void append_bounded(char *dst, size_t *len, const char *at, size_t n)
{
	size_t room = FC_MAX_HDR - 1 - *len;

	if (n > room)
		n = room;
	memcpy(dst + *len, at, n);
	*len += n;
	dst[*len] = '\0';
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
	struct fc_conn *c = conn_of(p);

	if (c->in_value)
		header_done(c);
	c->in_value = false;
	append_bounded(c->hdr_field, &c->field_len, at, len);
	return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
	struct fc_conn *c = conn_of(p);

	c->in_value = true;
	append_bounded(c->hdr_value, &c->value_len, at, len);
	return 0;
}

static int reject(struct fc_conn *c, int status, const char *fault)
{
	c->http_status = status;
	c->http_fault = fault;
	return -1;
}

static int on_headers_complete(http_parser *p)
{
	struct fc_conn *c = conn_of(p);
	static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";

	if (c->in_value)
		header_done(c);
	if (p->flags & F_CHUNKED)
		return reject(c, 400, "Chunked transfer encoding is not supported: "
				      "send the body with Content-Length.");
	if (p->content_length != ULLONG_MAX && p->content_length > c->max_body)
		return reject(c, 400, "Request payload is larger than the limit allowed "
				      "by the server (http-api-max-payload-size).");
	if (c->expect_continue && p->content_length > 0 && p->content_length != ULLONG_MAX &&
	    write_all(c->fd, cont, sizeof(cont) - 1) < 0)
		return -1;
	return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
	struct fc_conn *c = conn_of(p);
	char *nb;

	if (c->body_len + len > c->max_body)
		return reject(c, 400, "Request payload is larger than the limit allowed "
				      "by the server (http-api-max-payload-size).");
	nb = realloc(c->body, c->body_len + len + 1);
	if (!nb)
		return reject(c, 500, "Out of memory.");
	c->body = nb;
	memcpy(c->body + c->body_len, at, len);
	c->body_len += len;
	c->body[c->body_len] = '\0';
	c->has_body = true;
	return 0;
}

static int on_message_complete(http_parser *p)
{
	struct fc_conn *c = conn_of(p);

	if (!http_should_keep_alive(p))
		c->close_after = true;
	serve(c, http_method_str((enum http_method)p->method));
	reset_message(c);
	return 0;
}

static const http_parser_settings settings = {
	.on_message_begin = on_message_begin,
	.on_url = on_url,
	.on_header_field = on_header_field,
	.on_header_value = on_header_value,
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_message_complete = on_message_complete,
};

struct fc_conn *fc_conn_new(int fd, size_t max_body, fc_handler_fn fn, void *ctx)
{
	struct fc_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->fd = fd;
	c->fn = fn;
	c->ctx = ctx;
	c->max_body = max_body;
	http_parser_init(&c->parser, HTTP_REQUEST);
	c->parser.data = c;
	return c;
}

int fc_conn_fd(const struct fc_conn *c)
{
	return c->fd;
}

/* The parser stopped on an error: answer once (the handler logs it), then close. */
static int parse_failed(struct fc_conn *c)
{
	enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);

	if (!c->http_status) {
		c->http_status = 400;
		c->http_fault = http_errno_description(e);
	}
	c->close_after = true;
	serve(c, c->url_len ? http_method_str((enum http_method)c->parser.method) : "?");
	return -EPROTO;
}

int fc_conn_on_readable(struct fc_conn *c)
{
	char buf[16384];
	ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
	size_t done;

	if (n < 0)
		return (errno == EAGAIN || errno == EINTR) ? 0 : -errno;
	done = http_parser_execute(&c->parser, &settings, buf, (size_t)n);
	if (n == 0)
		return -ECONNRESET;
	if (HTTP_PARSER_ERRNO(&c->parser) != HPE_OK || done != (size_t)n)
		return parse_failed(c);
	return c->close_after ? -ECONNRESET : 0;
}

void fc_conn_free(struct fc_conn *c)
{
	if (!c)
		return;
	close(c->fd);
	free(c->body);
	free(c);
}
