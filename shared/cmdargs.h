/*
 * cmdargs.h — an app's argv (struct ui_cmd, config.h) and a run's extra
 * kernel arguments: building them and the rules they must keep, shared by
 * the config loader (an image's `cmd`), apid (a run's `cmd`/`boot_args`)
 * and pool-worker (which trusts what these accepted). Pure, no I/O.
 *
 * Rules, for every kind of image:
 *   cmd        1..UI_CMD_MAX_ARGS strings, UI_CMD_MAX_BYTES in all (each
 *              string + its NUL); a string is 1..255 bytes with no control
 *              character (< 0x20, 0x7f) — so no NUL, newline or escape can
 *              cut or forge a line of the guest's or the VMM's.
 *   boot_args  at most UI_BOOT_ARGS_MAX bytes of printable ASCII (0x20..0x7e)
 *              without '"' (the kernel's only quote, which cannot be
 *              escaped) or '\'; tokens split on spaces.
 * Linux images: boot_args tokens may not be "--" (the kernel hands what
 *   follows to init), nor start with "uigniter." or "ip=" (ours).
 * OSv images: cmd[0] may not start with '-' (it would read as an OSv
 *   option), no string may hold '$' (OSv expands it as an environment
 *   variable, with no escape); boot_args tokens must each be an OSv option
 *   ("--x" or "--x=y") other than the ones uigniter sets (--ip, --defaultgw,
 *   --nameserver, --rootfs, --nopci).
 * Failures are -EINVAL with a sentence naming the field in why.
 */
#ifndef UI_CMDARGS_H
#define UI_CMDARGS_H

#include <stddef.h>

#include "config.h"

#define UI_CMD_ARG_MAX 255
#define UI_BOOT_ARGS_MAX 255

/* Appends s (len bytes, may hold NULs: refused) to c. */
int ui_cmd_append(struct ui_cmd *c, const char *s, size_t len, char *why, size_t whylen);
/* The rules of kind over a whole cmd (above); argc 0 is refused. */
int ui_cmd_check(const struct ui_cmd *c, enum ui_image_kind kind, char *why, size_t whylen);
/* The next string after prev (NULL: the first); NULL after the last. */
const char *ui_cmd_next(const struct ui_cmd *c, const char *prev);
/* Same argv? */
bool ui_cmd_equal(const struct ui_cmd *a, const struct ui_cmd *b);
/* A run's boot_args (s, len bytes) for an image of kind. */
int ui_boot_args_check(const char *s, size_t len, enum ui_image_kind kind, char *why,
		       size_t whylen);

#endif
