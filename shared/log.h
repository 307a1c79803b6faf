/*
 * log.h — one logging convention for every uigniter process.
 *
 * Lines go to stderr, one write(2) each, in the format the config's
 * log_format names:
 *   text  "<time> <prog>[<pid>] <level>: <message>"; a VM's state change
 *         "<time> <prog>[<pid>] info: vm=<id> <from> -> <to> (<event>)[: why]"
 *   json  one object per line: {"ts","level","daemon","pid","msg"} and,
 *         for a VM's state change, "vm","event","from","to" too.
 * uigniterd points each daemon's stderr at the same log (its own stderr or
 * <state_dir>/uigniter.log), so one file tells the whole story.
 * Not async-signal-safe: signal handlers never log (they record and wake).
 */
#ifndef UI_LOG_H
#define UI_LOG_H

#include <stddef.h>

enum ui_log_level { UI_LOG_DEBUG, UI_LOG_INFO, UI_LOG_WARN, UI_LOG_ERROR };
enum ui_log_format { UI_LOG_TEXT, UI_LOG_JSON };

#define UI_LOG_LINE_MAX 2048 /* a longer message is cut (a line stays whole) */

/* prog is kept by pointer: pass a string literal or argv[0]. */
void ui_log_init(const char *prog, enum ui_log_level min);
void ui_log_set_format(enum ui_log_format fmt);
void ui_log(enum ui_log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* A VM's state change: vm moved from → to on event; fmt (may be NULL)
 * says why. */
void ui_log_vm(enum ui_log_level lvl, const char *vm, const char *event, const char *from,
	       const char *to, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

#define ui_debug(...) ui_log(UI_LOG_DEBUG, __VA_ARGS__)
#define ui_info(...) ui_log(UI_LOG_INFO, __VA_ARGS__)
#define ui_warn(...) ui_log(UI_LOG_WARN, __VA_ARGS__)
#define ui_error(...) ui_log(UI_LOG_ERROR, __VA_ARGS__)

/* Parses "debug|info|warn|error"; returns -EINVAL otherwise. */
int ui_log_level_parse(const char *s, enum ui_log_level *out);

/* One record, as the formatter sees it (NULL fields are absent). */
struct ui_log_rec {
	const char *ts;          /* "2026-12-01T13:00:00.123Z" */
	enum ui_log_level level;
	const char *daemon;
	int pid;
	const char *vm, *event, *from, *to; /* a VM's state change, or all NULL */
	const char *msg;         /* "" for none */
};

/* Formats r as one line ending in '\n' into buf (len >= 64); returns its
 * length (< len). A message too long is cut so the line stays valid (JSON:
 * still one parsable object). Pure: the unit tests call it. */
size_t ui_log_format_line(enum ui_log_format fmt, const struct ui_log_rec *r, char *buf,
			  size_t len);

#endif
