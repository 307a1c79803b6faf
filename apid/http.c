/*
 * http.c — request accumulation on top of http-parser's callback API, and
 * response serialisation.
 *
 * One http_in per connection. http-parser drives the callbacks below; they
 * accumulate the target, the two headers apid cares about (Idempotency-Key,
 * Expect) and the body (already de-chunked by the parser). Limits are
 * enforced while bytes arrive, never after buffering: the header block
 * (http-parser's own counter, set with http_parser_set_max_header_size, plus
 * our count of target + header bytes) → 431; a Content-Length above the body
 * limit is refused at end of headers and a streamed (chunked) body as soon as
 * it crosses the limit → 413. Only HTTP/1.1 and 1.0 are served: a request
 * line without a version (HTTP/0.9) is refused as soon as it ends (400, no
 * waiting for headers a 0.9 client never sends), any other version at the
 * end of the headers (505). on_message_complete pauses the parser, so a
 * feed stops right after one request and pipelined bytes stay unparsed until
 * the connection is ready for them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http.h"

const char http_continue[] = "HTTP/1.1 100 Continue\r\n\r\n";

static struct http_in *in_of(http_parser *p)
{
	return p->data;
}

/* Records a limit/protocol failure; the callback then returns -1 to stop. */
static int in_fail(struct http_in *in, int status, const char *code)
{
	if (!in->err_status) {
		in->err_status = status;
		in->err_code = code;
	}
	return -1;
}

/* The same, with a sentence for the user (a static string). */
static int in_fail_msg(struct http_in *in, int status, const char *code, const char *msg)
{
	if (!in->err_status)
		in->err_msg = msg;
	return in_fail(in, status, code);
}

/* Grows *buf to hold need+1 bytes (the +1 keeps a terminating NUL). */
static int grow(char **buf, size_t *cap, size_t need)
{
	size_t ncap = *cap ? *cap : 256;
	char *nbuf;

	if (need + 1 <= *cap)
		return 0;
	while (ncap < need + 1)
		ncap *= 2;
	nbuf = realloc(*buf, ncap);
	if (!nbuf)
		return -ENOMEM;
	*buf = nbuf;
	*cap = ncap;
	return 0;
}

static int count_header_bytes(struct http_in *in, size_t n)
{
	in->header_bytes += n;
	if (in->header_bytes > in->max_header_bytes)
		return in_fail(in, 431, "headers_too_large");
	return 0;
}

static int on_message_begin(http_parser *p)
{
	in_of(p)->started = true;
	return 0;
}

static int on_url(http_parser *p, const char *at, size_t n)
{
	struct http_in *in = in_of(p);
	struct http_req *r = &in->req;

	if (count_header_bytes(in, n) < 0)
		return -1;
	/* http-parser marks a request line that ends after the target 0.9
	 * before it hands the target over; a partial target never is. */
	if (p->http_major == 0 && p->http_minor == 9)
		return in_fail_msg(in, 400, "bad_request",
				   "no HTTP version in the request line: HTTP/0.9 is "
				   "not served, use HTTP/1.1");
	if (grow(&r->url, &in->url_cap, r->url_len + n) < 0)
		return in_fail(in, 500, "internal");
	memcpy(r->url + r->url_len, at, n);
	r->url_len += n;
	r->url[r->url_len] = '\0';
	return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t n)
{
	struct http_in *in = in_of(p);
	bool fresh = in->last_was_value || in->field_len == 0;
	size_t room;

	/* 4: ": " and CRLF around each header. */
	if (count_header_bytes(in, n + (fresh ? 4 : 0)) < 0)
		return -1;
	if (fresh) {
		in->field_len = 0;
		in->last_was_value = false;
	}
	/* A longer name than any we know is kept truncated: it matches none. */
	room = sizeof(in->field) - 1 - in->field_len;
	if (n > room)
		n = room;
	memcpy(in->field + in->field_len, at, n);
	in->field_len += n;
	in->field[in->field_len] = '\0';
	return 0;
}

static enum http_hdr header_kind(const char *field)
{
	if (strcasecmp(field, "idempotency-key") == 0)
		return HDR_KEY;
	if (strcasecmp(field, "expect") == 0)
		return HDR_EXPECT;
	if (strcasecmp(field, "authorization") == 0)
		return HDR_AUTH;
	return HDR_OTHER;
}

/* Appends a value chunk to a bounded buffer; *len may exceed cap - 1 to
 * record that the value was too long. */
static void append_bounded(char *buf, size_t cap, size_t *len, const char *at, size_t n)
{
	if (*len < cap - 1) {
		size_t take = n < cap - 1 - *len ? n : cap - 1 - *len;

		memcpy(buf + *len, at, take);
		buf[*len + take] = '\0';
	}
	*len += n;
}

static int on_header_value(http_parser *p, const char *at, size_t n)
{
	struct http_in *in = in_of(p);
	struct http_req *r = &in->req;

	if (count_header_bytes(in, n) < 0)
		return -1;
	if (!in->last_was_value) {
		in->last_was_value = true;
		in->cur_hdr = header_kind(in->field);
		if (in->cur_hdr == HDR_KEY) {
			r->has_key = true;
			in->key_len = 0;
			r->key[0] = '\0';
		} else if (in->cur_hdr == HDR_EXPECT) {
			in->expect_len = 0;
			in->expect[0] = '\0';
		} else if (in->cur_hdr == HDR_AUTH) {
			/* a second one is "too long": refused, never merged */
			if (r->has_auth)
				in->auth_len = HTTP_AUTH_MAX + 1;
			else
				in->auth_len = 0;
			r->has_auth = true;
		}
	}
	if (in->cur_hdr == HDR_KEY)
		append_bounded(r->key, sizeof(r->key), &in->key_len, at, n);
	else if (in->cur_hdr == HDR_EXPECT)
		append_bounded(in->expect, sizeof(in->expect), &in->expect_len, at, n);
	else if (in->cur_hdr == HDR_AUTH)
		append_bounded(r->auth, sizeof(r->auth), &in->auth_len, at, n);
	return 0;
}

static void rtrim(char *s)
{
	size_t n = strlen(s);

	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = '\0';
}

static int on_headers_complete(http_parser *p)
{
	struct http_in *in = in_of(p);
	struct http_req *r = &in->req;

	in->headers_done = true;
	if (p->http_major != 1 || p->http_minor > 1)
		return in_fail_msg(in, 505, "http_version_not_supported",
				   "only HTTP/1.1 and HTTP/1.0 are served");
	r->method = http_method_str(p->method);
	r->http10 = p->http_major == 1 && p->http_minor == 0;
	r->is_head = p->method == HTTP_HEAD;
	r->keep_alive = http_should_keep_alive(p) && !p->upgrade;
	if (!r->url)
		return in_fail(in, 400, "bad_request");
	rtrim(r->key);
	r->key_too_long = in->key_len > HTTP_KEY_MAX;
	rtrim(r->auth);
	r->auth_too_long = in->auth_len > HTTP_AUTH_MAX;
	rtrim(in->expect);
	if ((p->flags & F_CONTENTLENGTH) && p->content_length > in->max_body_bytes)
		return in_fail(in, 413, "body_too_large");
	if (in->expect_len && strcasecmp(in->expect, "100-continue") == 0)
		in->want_continue = true;
	return 0;
}

static int on_body(http_parser *p, const char *at, size_t n)
{
	struct http_in *in = in_of(p);
	struct http_req *r = &in->req;

	if (n > in->max_body_bytes - r->body_len)
		return in_fail(in, 413, "body_too_large");
	if (grow(&r->body, &in->body_cap, r->body_len + n) < 0)
		return in_fail(in, 500, "internal");
	memcpy(r->body + r->body_len, at, n);
	r->body_len += n;
	r->body[r->body_len] = '\0';
	return 0;
}

static int on_message_complete(http_parser *p)
{
	struct http_in *in = in_of(p);

	in->complete = true;
	/* Stop here: pipelined bytes wait until this request is answered. */
	http_parser_pause(p, 1);
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

void http_in_init(struct http_in *in, size_t max_header_bytes, size_t max_body_bytes)
{
	memset(in, 0, sizeof(*in));
	in->max_header_bytes = max_header_bytes;
	in->max_body_bytes = max_body_bytes;
	/* http-parser's counter is process-wide; apid has a single limit. */
	http_parser_set_max_header_size((uint32_t)max_header_bytes);
	http_parser_init(&in->parser, HTTP_REQUEST);
	in->parser.data = in;
}

void http_in_free(struct http_in *in)
{
	if (!in)
		return;
	free(in->req.url);
	free(in->req.body);
	in->req.url = NULL;
	in->req.body = NULL;
	in->url_cap = in->body_cap = 0;
}

void http_in_next(struct http_in *in)
{
	struct http_req *r = &in->req;

	/* Big bodies are not kept around between requests. */
	if (in->body_cap > 4096) {
		free(r->body);
		r->body = NULL;
		in->body_cap = 0;
	}
	r->url_len = r->body_len = 0;
	if (r->url)
		r->url[0] = '\0';
	if (r->body)
		r->body[0] = '\0';
	r->method = NULL;
	r->has_key = r->key_too_long = r->keep_alive = r->http10 = r->is_head = false;
	r->key[0] = '\0';
	r->has_auth = r->auth_too_long = false;
	r->auth[0] = '\0';
	in->header_bytes = 0;
	in->started = in->headers_done = in->complete = false;
	in->want_continue = in->last_was_value = false;
	in->cur_hdr = HDR_OTHER;
	in->field_len = in->key_len = in->expect_len = in->auth_len = 0;
}

size_t http_in_feed(struct http_in *in, const char *data, size_t len,
		    enum http_in_event *ev)
{
	size_t n;
	enum http_errno err;

	if (in->complete) {
		*ev = HTTP_IN_REQUEST;
		return 0;
	}
	if (in->err_status) {
		*ev = HTTP_IN_ERROR;
		return 0;
	}
	n = http_parser_execute(&in->parser, &settings, data, len);
	err = HTTP_PARSER_ERRNO(&in->parser);
	if (in->complete) {
		if (err == HPE_PAUSED)
			http_parser_pause(&in->parser, 0);
		/* An empty body is still a "" string for the router. */
		if (!in->req.body && grow(&in->req.body, &in->body_cap, 0) < 0) {
			in_fail(in, 500, "internal");
			*ev = HTTP_IN_ERROR;
			return n;
		}
		in->req.body[in->req.body_len] = '\0';
		*ev = HTTP_IN_REQUEST;
		return n;
	}
	if (err != HPE_OK || in->err_status) {
		if (err == HPE_HEADER_OVERFLOW)
			in_fail(in, 431, "headers_too_large");
		in_fail(in, 400, "bad_request");
		*ev = HTTP_IN_ERROR;
		return n;
	}
	*ev = HTTP_IN_MORE;
	return n;
}

void http_response_free(struct http_response *r)
{
	if (!r)
		return;
	free(r->body);
	r->body = NULL;
	r->body_len = 0;
}

const char *http_status_text(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 201: return "Created";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 413: return "Content Too Large";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	default: return "Unknown";
	}
}

char *http_format_response(const struct http_response *r, bool keep_alive,
			   bool http10, bool head, size_t *len)
{
	char hdr[640], allow[96] = "", retry[48] = "", ctype[96] = "", www[128] = "";
	const char *conn = !keep_alive ? "Connection: close\r\n" :
			   http10 ? "Connection: keep-alive\r\n" : "";
	size_t body_len = head ? 0 : r->body_len;
	char *out;
	int hlen;

	if (r->allow[0])
		snprintf(allow, sizeof(allow), "Allow: %s\r\n", r->allow);
	if (r->retry_after)
		snprintf(retry, sizeof(retry), "Retry-After: %u\r\n", r->retry_after);
	if (r->body_len || r->content_type)
		snprintf(ctype, sizeof(ctype), "Content-Type: %s\r\n",
			 r->content_type ? r->content_type : "application/json");
	if (r->www_auth[0])
		snprintf(www, sizeof(www), "WWW-Authenticate: %s\r\n", r->www_auth);
	hlen = snprintf(hdr, sizeof(hdr),
			"HTTP/1.1 %d %s\r\nServer: uigniter\r\n%s"
			"Content-Length: %zu\r\n%s%s%s%s\r\n",
			r->status, http_status_text(r->status), ctype,
			r->body_len, conn, allow, retry, www);
	if (hlen < 0 || (size_t)hlen >= sizeof(hdr))
		return NULL;
	out = malloc((size_t)hlen + body_len);
	if (!out)
		return NULL;
	memcpy(out, hdr, (size_t)hlen);
	if (body_len)
		memcpy(out + hlen, r->body, body_len);
	*len = (size_t)hlen + body_len;
	return out;
}
