/*
 * cmdargs.c — an app's argv and a run's extra kernel arguments: building
 * and checking them (the rules are in cmdargs.h).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cmdargs.h"

static int fail(char *why, size_t whylen, const char *msg)
{
	snprintf(why, whylen, "%s", msg);
	return -EINVAL;
}

static bool has_control(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return true;
	return false;
}

int ui_cmd_append(struct ui_cmd *c, const char *s, size_t len, char *why, size_t whylen)
{
	if (c->argc >= UI_CMD_MAX_ARGS) {
		snprintf(why, whylen, "cmd: at most %d arguments", UI_CMD_MAX_ARGS);
		return -EINVAL;
	}
	if (len == 0)
		return fail(why, whylen, "cmd: an argument must not be empty");
	if (len > UI_CMD_ARG_MAX) {
		snprintf(why, whylen, "cmd: an argument is too long (%zu bytes, at most %d)", len,
			 UI_CMD_ARG_MAX);
		return -EINVAL;
	}
	if (has_control(s, len))
		return fail(why, whylen,
			    "cmd: an argument holds a control character (NUL, newline, tab, ...)");
	if (c->len + len + 1 > sizeof(c->buf)) {
		snprintf(why, whylen, "cmd: too long (at most %d bytes in all)", UI_CMD_MAX_BYTES);
		return -EINVAL;
	}
	memcpy(c->buf + c->len, s, len);
	c->buf[c->len + len] = '\0';
	c->len += (unsigned)len + 1;
	c->argc++;
	return 0;
}

const char *ui_cmd_next(const struct ui_cmd *c, const char *prev)
{
	const char *p = prev ? prev + strlen(prev) + 1 : c->buf;

	return c->argc && p < c->buf + c->len ? p : NULL;
}

bool ui_cmd_equal(const struct ui_cmd *a, const struct ui_cmd *b)
{
	return a->argc == b->argc && a->len == b->len && memcmp(a->buf, b->buf, a->len) == 0;
}

int ui_cmd_check(const struct ui_cmd *c, enum ui_image_kind kind, char *why, size_t whylen)
{
	if (!c->argc)
		return fail(why, whylen, "cmd: must not be empty");
	if (kind != UI_KIND_OSV)
		return 0;
	if (c->buf[0] == '-')
		return fail(why, whylen,
			    "cmd: an OSv command must not start with '-' (it would be read as an OSv option)");
	for (const char *a = ui_cmd_next(c, NULL); a; a = ui_cmd_next(c, a))
		if (strchr(a, '$'))
			return fail(why, whylen,
				    "cmd: OSv expands '$' as an environment variable; it cannot be passed");
	return 0;
}

static bool starts(const char *tok, size_t n, const char *prefix)
{
	size_t p = strlen(prefix);

	return n >= p && memcmp(tok, prefix, p) == 0;
}

/* OSv options uigniter sets itself: a run may not set them again. */
static bool osv_reserved(const char *tok, size_t n)
{
	static const char *const ours[] = { "--ip", "--defaultgw", "--nameserver", "--rootfs",
					    "--nopci", NULL };

	for (int i = 0; ours[i]; i++) {
		size_t p = strlen(ours[i]);

		if (starts(tok, n, ours[i]) && (n == p || tok[p] == '='))
			return true;
	}
	return false;
}

static int check_token(const char *tok, size_t n, enum ui_image_kind kind, char *why,
		       size_t whylen)
{
	if (kind == UI_KIND_OSV) {
		if (n < 3 || !starts(tok, n, "--"))
			return fail(why, whylen,
				    "boot_args: for an OSv image every token must be an OSv option (--name or --name=value)");
		if (osv_reserved(tok, n))
			return fail(why, whylen,
				    "boot_args: --ip, --defaultgw, --nameserver, --rootfs and --nopci are set by uigniter");
		return 0;
	}
	if (n == 2 && starts(tok, n, "--"))
		return fail(why, whylen, "boot_args: \"--\" is not allowed (what follows goes to init)");
	if (starts(tok, n, "uigniter.") || starts(tok, n, "ip="))
		return fail(why, whylen, "boot_args: uigniter.* and ip= are set by uigniter");
	return 0;
}

int ui_boot_args_check(const char *s, size_t len, enum ui_image_kind kind, char *why,
		       size_t whylen)
{
	size_t i = 0;
	int rc;

	if (len > UI_BOOT_ARGS_MAX) {
		snprintf(why, whylen, "boot_args: too long (%zu bytes, at most %d)", len,
			 UI_BOOT_ARGS_MAX);
		return -EINVAL;
	}
	for (size_t k = 0; k < len; k++)
		if ((unsigned char)s[k] < 0x20 || (unsigned char)s[k] > 0x7e || s[k] == '"' ||
		    s[k] == '\\')
			return fail(why, whylen,
				    "boot_args: only printable ASCII without '\"' or '\\' is allowed");
	while (i < len) {
		size_t n;

		while (i < len && s[i] == ' ')
			i++;
		for (n = 0; i + n < len && s[i + n] != ' '; n++)
			;
		if (n && (rc = check_token(s + i, n, kind, why, whylen)) < 0)
			return rc;
		i += n;
	}
	return 0;
}
