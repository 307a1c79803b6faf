/*
 * log.h — one logging convention for every uigniter process.
 *
 * Lines go to stderr as "<time> <prog>[<pid>] <level>: <message>".
 * uigniterd points each daemon's stderr at the same log (its own stderr or
 * <state_dir>/uigniter.log), so one file tells the whole story.
 * Not async-signal-safe: signal handlers never log (they record and wake).
 */
#ifndef UI_LOG_H
#define UI_LOG_H

enum ui_log_level { UI_LOG_DEBUG, UI_LOG_INFO, UI_LOG_WARN, UI_LOG_ERROR };

/* prog is kept by pointer: pass a string literal or argv[0]. */
void ui_log_init(const char *prog, enum ui_log_level min);
void ui_log(enum ui_log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define ui_debug(...) ui_log(UI_LOG_DEBUG, __VA_ARGS__)
#define ui_info(...) ui_log(UI_LOG_INFO, __VA_ARGS__)
#define ui_warn(...) ui_log(UI_LOG_WARN, __VA_ARGS__)
#define ui_error(...) ui_log(UI_LOG_ERROR, __VA_ARGS__)

/* Parses "debug|info|warn|error"; returns -EINVAL otherwise. */
int ui_log_level_parse(const char *s, enum ui_log_level *out);

#endif
