/*
 * agent_line.c — the agent's one-line protocol on a stream fd (see
 * agent_line.h): read a bounded '\n'-terminated line within a deadline,
 * answer OK, and the accept loop that drops bad connections and takes the
 * next. Blocking fds; the deadline is kept with poll on CLOCK_MONOTONIC.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "agent_line.h"

#define STR_(x) #x
#define STR(x) STR_(x)

static long long now_ms(void)
{
	struct timespec ts;

	/* fails only for a bad clock id or pointer: not these */
	if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
		return 0;
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits until fd is readable or the deadline (ms, < 0: none) passes.
 * 0, -ETIMEDOUT or -errno. */
static int wait_readable(int fd, long long deadline)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	long long left;
	int n;

	for (;;) {
		left = deadline < 0 ? -1 : deadline - now_ms();
		if (deadline >= 0 && left <= 0)
			return -ETIMEDOUT;
		n = poll(&p, 1, left > 1000000 ? 1000000 : (int)left);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

int ui_agent_write_all(int fd, const char *s, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = write(fd, s, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

/* The line in buf[0..len) (its '\n' at len) is one we take? */
static int check_line(const char *buf, size_t len)
{
	if (len == 0 || memchr(buf, '\0', len))
		return -EBADMSG;
	return 0;
}

int ui_agent_read_line(int fd, char *buf, size_t cap, int timeout_ms)
{
	long long deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
	size_t have = 0;
	char *nl;
	ssize_t n;
	int rc;

	if (cap < 2)
		return -EINVAL;
	for (;;) {
		rc = wait_readable(fd, deadline);
		if (rc < 0)
			goto refused;
		n = read(fd, buf + have, cap - have);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			rc = -errno;
			goto refused;
		}
		if (n == 0) {
			rc = -ENODATA;
			goto refused;
		}
		nl = memchr(buf + have, '\n', (size_t)n);
		have += (size_t)n;
		if (nl) {
			size_t len = (size_t)(nl - buf);

			rc = check_line(buf, len);
			if (rc < 0)
				goto refused;
			/* what followed the line is not kept */
			explicit_bzero(nl, have - len);
			return (int)len;
		}
		if (have == cap) {
			rc = -EMSGSIZE;
			goto refused;
		}
	}
refused:
	explicit_bzero(buf, cap);
	return rc;
}

int ui_agent_serve(int fd, char *buf, size_t cap, int timeout_ms)
{
	int len = ui_agent_read_line(fd, buf, cap, timeout_ms);
	int rc;

	if (len < 0)
		return len;
	rc = ui_agent_write_all(fd, UI_AGENT_OK, strlen(UI_AGENT_OK));
	if (rc < 0) {
		explicit_bzero(buf, cap);
		return rc;
	}
	return len;
}

int ui_agent_accept_line(int lfd, char *buf, size_t cap, int timeout_ms, const char *prog)
{
	int c, len;

	for (;;) {
		c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return -errno;
		}
		len = ui_agent_serve(c, buf, cap, timeout_ms);
		if (close(c) < 0 && len >= 0)
			fprintf(stderr, "%s: close of the connection: %s (the line is taken)\n",
				prog, strerror(errno));
		if (len >= 0)
			return len;
		fprintf(stderr, "%s: dropped a connection: %s\n", prog, ui_agent_strerror(len));
	}
}

int ui_agent_send(int fd, const char *line, char *answer, size_t cap, int timeout_ms)
{
	size_t n = strlen(line);
	int rc;

	if (strchr(line, '\n'))
		return -EINVAL;
	rc = ui_agent_write_all(fd, line, n);
	if (rc == 0)
		rc = ui_agent_write_all(fd, "\n", 1);
	if (rc < 0)
		return rc;
	return ui_agent_read_line(fd, answer, cap, timeout_ms);
}

const char *ui_agent_strerror(int err)
{
	switch (err) {
	case -EMSGSIZE:
		return "line too long (at most " STR(UI_AGENT_LINE_MAX) " bytes with its '\\n')";
	case -ENODATA:
		return "closed before a full line";
	case -EBADMSG:
		return "an empty line or a NUL byte";
	case -ETIMEDOUT:
		return "no full line in time";
	default:
		return strerror(-err);
	}
}
