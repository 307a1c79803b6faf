/*
 * token.h — the API's bearer token file (api.token_file): made by uigniterd
 * at its first start when missing, read by apid, which requires
 * `Authorization: Bearer <token>` on its TCP listener.
 *
 * The file holds one token: 32..128 characters of RFC 6750's token68 set
 * (A-Z a-z 0-9 - . _ ~ + / and trailing =), one optional newline. A made
 * token is 32 bytes from getrandom(2) in hex (64 characters). Like ssh with
 * its keys, a file that others could read is refused: it must be a regular
 * file owned by the running user (root) with no group or other bits
 * (0600 or 0400).
 *
 * Ownership: the token is copied into the caller's buffer (UI_TOKEN_MAX + 1).
 */
#ifndef UI_TOKEN_H
#define UI_TOKEN_H

#include <stdbool.h>
#include <stddef.h>

#define UI_TOKEN_MIN 32
#define UI_TOKEN_MAX 128

/* Reads and checks path; 0 with the token in tok, else negative errno and
 * a sentence naming the file in err. */
int ui_token_load(const char *path, char tok[UI_TOKEN_MAX + 1], char *err, size_t errlen);

/* Makes path (0600, atomically: a temporary file linked into place, never
 * replacing one that appeared meanwhile) when it does not exist, then loads
 * it. *created says whether this call made it. */
int ui_token_ensure(const char *path, char tok[UI_TOKEN_MAX + 1], bool *created, char *err,
		    size_t errlen);

/* The token's characters and length are acceptable. */
bool ui_token_valid(const char *s, size_t len);

/* a == b over the first n bytes, in time that depends only on n. */
bool ui_token_equal(const char *a, const char *b, size_t n);

#endif
