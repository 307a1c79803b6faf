/*
 * fc_log.h — the fake's human log, in Firecracker's default shape:
 *   "<UTC time with ns> [<instance id>:<thread>:<LEVEL>] <message>"
 * to stderr, or to the file given by --log-path / PUT /logger. One write(2)
 * per line. Not async-signal-safe (the fake never logs from a handler).
 */
#ifndef FC_LOG_H
#define FC_LOG_H

/* id is kept by pointer (argv). */
void fc_log_init(const char *instance_id);
/* Redirects the log to an already open fd (taken over); -1 → stderr. */
void fc_log_set_fd(int fd);
void fc_log(const char *level, const char *thread, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define fc_info(...) fc_log("INFO", "fc_api", __VA_ARGS__)
#define fc_warn(...) fc_log("WARN", "fc_api", __VA_ARGS__)
#define fc_error(...) fc_log("ERROR", "fc_api", __VA_ARGS__)

#endif
