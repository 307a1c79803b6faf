/*
 * auth.h — bearer authentication of apid's TCP listener (RFC 6750): every
 * request over TCP carries `Authorization: Bearer <token>` with the token
 * of api.token_file, except GET/HEAD /healthz (probes). The unix socket is
 * authenticated by its mode and group (api.group) and never asks.
 *
 * Pure functions over a parsed request: tested without sockets.
 */
#ifndef APID_AUTH_H
#define APID_AUTH_H

#include <stdbool.h>

#include "http.h"

enum auth_result {
	AUTH_OK,
	AUTH_MISSING,      /* no Authorization header */
	AUTH_OTHER_SCHEME, /* Basic, Digest, …: not ours */
	AUTH_MALFORMED,    /* "Bearer" without a token, two headers, too long */
	AUTH_INVALID,      /* a well-formed token that is not the one */
};

/* Requests that need no token: GET or HEAD of /healthz. */
bool auth_exempt(const struct http_req *req);

/* Checks req's Authorization against token (NUL-terminated, non-empty).
 * The scheme is case-insensitive, spaces and tabs around the token are
 * allowed; the token is compared in constant time. */
enum auth_result auth_check(const struct http_req *req, const char *token);

/* The 401 for a result other than AUTH_OK: the error envelope
 * ("unauthorized") and `WWW-Authenticate: Bearer realm="uigniter"`, with
 * error="invalid_token" or "invalid_request" when a token was sent. */
void auth_deny(enum auth_result a, struct http_response *r);

#endif
