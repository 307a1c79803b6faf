/*
 * http.h — HTTP/1.1 request accumulation (http-parser, callback API) and
 * response serialisation for apid. No sockets here: a connection feeds bytes
 * to http_in_feed() and gets back events, so everything is testable on
 * plain buffers.
 *
 * Ownership: struct http_in is caller-embedded (one per connection); the
 * request it accumulates (url, body) is owned by it and valid from
 * HTTP_IN_REQUEST until the next http_in_next()/http_in_free().
 * http_format_response() returns a new malloc'd buffer the caller frees.
 */
#ifndef APID_HTTP_H
#define APID_HTTP_H

#include <http_parser.h>
#include <stdbool.h>
#include <stddef.h>

/* Longest Idempotency-Key value we keep; longer ones are flagged too long. */
#define HTTP_KEY_MAX 255
/* Longest Authorization value we keep ("Bearer " + a token, and room). */
#define HTTP_AUTH_MAX 255

/* One complete request, as the router sees it. */
struct http_req {
	const char *method;      /* "GET", "POST", …; static string */
	char *url;               /* request target, NUL-terminated */
	size_t url_len;
	char *body;              /* NUL-terminated (body[body_len] == 0) */
	size_t body_len;
	bool has_key;            /* an Idempotency-Key header was present */
	bool key_too_long;       /* … longer than HTTP_KEY_MAX */
	char key[HTTP_KEY_MAX + 1];
	bool has_auth;           /* an Authorization header was present */
	bool auth_too_long;      /* … longer than HTTP_AUTH_MAX */
	char auth[HTTP_AUTH_MAX + 1];
	bool keep_alive;         /* connection may serve another request */
	bool http10;             /* HTTP/1.0: keep-alive must be announced */
	bool is_head;
};

enum http_in_event {
	HTTP_IN_MORE,     /* all input consumed, request not complete */
	HTTP_IN_REQUEST,  /* a request is complete: in->req; rest not parsed */
	HTTP_IN_ERROR,    /* unrecoverable: answer in->err_status, then close */
};

/* Which header's value is being accumulated. */
enum http_hdr { HDR_OTHER, HDR_KEY, HDR_EXPECT, HDR_AUTH };

struct http_in {
	http_parser parser;
	size_t max_header_bytes;
	size_t max_body_bytes;
	struct http_req req;
	size_t url_cap, body_cap;
	size_t header_bytes;     /* url + header names/values + framing, approx. */
	int err_status;          /* 400, 413, 431 when HTTP_IN_ERROR */
	const char *err_code;    /* "bad_request", "body_too_large", … */
	const char *err_msg;     /* a sentence for the user, or NULL (static) */
	bool started;            /* a byte of the current message was seen */
	bool headers_done;
	bool complete;
	bool want_continue;      /* Expect: 100-continue seen, not yet answered */
	bool last_was_value;
	enum http_hdr cur_hdr;
	char field[32];          /* current header name (truncated) */
	size_t field_len;
	char expect[32];
	size_t key_len, expect_len, auth_len;
};

void http_in_init(struct http_in *in, size_t max_header_bytes, size_t max_body_bytes);
void http_in_free(struct http_in *in);
/* Forget the current request, ready for the next one on the connection. */
void http_in_next(struct http_in *in);

/*
 * Parses up to len bytes; returns how many were consumed and sets *ev. After
 * HTTP_IN_REQUEST the unconsumed rest belongs to the next request (pipelining):
 * handle the request, call http_in_next(), then feed the rest.
 */
size_t http_in_feed(struct http_in *in, const char *data, size_t len,
		    enum http_in_event *ev);

/* A response to send. body is owned (malloc'd) or NULL. */
struct http_response {
	int status;
	char *body;
	size_t body_len;
	char allow[64];          /* Allow header value, "" for none */
	unsigned retry_after;    /* seconds; 0 = no Retry-After header */
	char www_auth[96];       /* WWW-Authenticate value, "" for none */
	const char *content_type; /* static string; NULL = application/json */
};

void http_response_free(struct http_response *r); /* frees body; NULL-safe */

const char *http_status_text(int status);

/*
 * Serialises r: status line, Server, Content-Type (when there is a body),
 * Content-Length (always), Connection, Allow, Retry-After, WWW-Authenticate,
 * then the body
 * (omitted for HEAD). Returns a new buffer and its length in *len, or NULL.
 */
char *http_format_response(const struct http_response *r, bool keep_alive,
			   bool http10, bool head, size_t *len);

/* The interim response to `Expect: 100-continue`. */
extern const char http_continue[];

#endif
