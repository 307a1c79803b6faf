/*
 * fc_log.c — see fc_log.h. Owns the log fd (stderr unless redirected).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fc_log.h"

static const char *log_id = "anonymous-instance";
static int log_fd = STDERR_FILENO;

void fc_log_init(const char *instance_id)
{
	log_id = instance_id;
}

void fc_log_set_fd(int fd)
{
	if (log_fd != STDERR_FILENO)
		close(log_fd);
	log_fd = fd < 0 ? STDERR_FILENO : fd;
}

void fc_log(const char *level, const char *thread, const char *fmt, ...)
{
	char line[4096];
	struct timespec ts;
	struct tm tm;
	size_t n;
	va_list ap;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	n += (size_t)snprintf(line + n, sizeof(line) - n, ".%09ld [%s:%s:%s] ",
			      ts.tv_nsec, log_id, thread, level);
	va_start(ap, fmt);
	if (n < sizeof(line))
		vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	va_end(ap);
	n = strlen(line);
	if (n >= sizeof(line) - 1)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	if (write(log_fd, line, n) < 0) {
		/* nowhere left to report it */
	}
}
