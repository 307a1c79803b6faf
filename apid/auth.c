/*
 * auth.c — the bearer check of apid's TCP requests (see auth.h).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "auth.h"
#include "json.h"
#include "token.h"

#define REALM "Bearer realm=\"uigniter\""

bool auth_exempt(const struct http_req *req)
{
	size_t n = strlen("/healthz");

	if (!req->method || (strcmp(req->method, "GET") && strcmp(req->method, "HEAD")))
		return false;
	return !strncmp(req->url, "/healthz", n) && (!req->url[n] || req->url[n] == '?');
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t';
}

enum auth_result auth_check(const struct http_req *req, const char *token)
{
	const char *p = req->auth, *tok;
	size_t n, want = strlen(token);

	if (!req->has_auth)
		return AUTH_MISSING;
	if (req->auth_too_long)
		return AUTH_MALFORMED;
	while (is_space(*p))
		p++;
	if (strncasecmp(p, "bearer", 6) || (p[6] && !is_space(p[6])))
		return *p ? AUTH_OTHER_SCHEME : AUTH_MALFORMED;
	for (p += 6; is_space(*p); p++)
		;
	tok = p;
	for (n = 0; tok[n] && !is_space(tok[n]); n++)
		;
	for (p = tok + n; is_space(*p); p++)
		;
	if (!n || *p || !ui_token_valid(tok, n))
		return AUTH_MALFORMED;
	/* the length is not secret (made tokens are all 64 characters) */
	return n == want && ui_token_equal(tok, token, n) ? AUTH_OK : AUTH_INVALID;
}

void auth_deny(enum auth_result a, struct http_response *r)
{
	const char *msg, *err = NULL;

	switch (a) {
	case AUTH_OTHER_SCHEME:
		msg = "only bearer tokens are accepted: send \"Authorization: Bearer <token>\" "
		      "(the token is in the file api.token_file names)";
		break;
	case AUTH_MALFORMED:
		msg = "malformed Authorization header: expected one \"Bearer <token>\"";
		err = "invalid_request";
		break;
	case AUTH_INVALID:
		msg = "the bearer token is not valid";
		err = "invalid_token";
		break;
	default:
		msg = "requests over TCP need \"Authorization: Bearer <token>\" (the token is "
		      "in the file api.token_file names; the unix socket needs none)";
	}
	api_error(r, 401, "unauthorized", "%s", msg);
	if (err)
		snprintf(r->www_auth, sizeof(r->www_auth), REALM ", error=\"%s\"", err);
	else
		snprintf(r->www_auth, sizeof(r->www_auth), REALM);
}
