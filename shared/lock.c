/*
 * lock.c — instance locks (see lock.h): flock(2), never fcntl(F_SETLK),
 * whose locks a process loses when it closes any fd of the file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lock.h"

int ui_lock_role_path(const struct ui_config *cfg, enum ui_daemon d,
		      char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/%s.lock", cfg->state_dir, ui_daemon_name(d));

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* The pid written in the lock file (0: none or unreadable). */
static pid_t read_holder(int fd)
{
	char buf[32];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	long pid;

	if (n <= 0)
		return 0;
	buf[n] = '\0';
	pid = strtol(buf, NULL, 10);
	return pid > 0 ? (pid_t)pid : 0;
}

static int write_pid(int fd)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	ssize_t w;

	if (ftruncate(fd, 0) < 0)
		return -errno;
	w = pwrite(fd, buf, (size_t)n, 0);
	if (w < 0)
		return -errno;
	return w == n ? 0 : -EIO;
}

int ui_lock_take(const char *path, int *fd, pid_t *holder)
{
	int r, lfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

	*fd = -1;
	*holder = 0;
	if (lfd < 0)
		return -errno;
	if (flock(lfd, LOCK_EX | LOCK_NB) < 0) {
		r = errno == EWOULDBLOCK ? -EBUSY : -errno;
		if (r == -EBUSY)
			*holder = read_holder(lfd);
		close(lfd);
		return r;
	}
	/* 0600: a lock another user could open could be held against us;
	 * one made by an older version (0644) is tightened */
	r = fchmod(lfd, 0600) < 0 ? -errno : write_pid(lfd);
	if (r < 0) {
		close(lfd);
		return r;
	}
	*fd = lfd;
	return 0;
}

int ui_lock_probe(const char *path, pid_t *holder)
{
	int r = 0, fd = open(path, O_RDONLY | O_CLOEXEC);

	*holder = 0;
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	/* Shared: two probes never fail each other; an exclusive holder fails it. */
	if (flock(fd, LOCK_SH | LOCK_NB) < 0) {
		r = errno == EWOULDBLOCK ? -EBUSY : -errno;
		if (r == -EBUSY)
			*holder = read_holder(fd);
	}
	close(fd); /* drops our shared lock, if we got it */
	return r;
}
