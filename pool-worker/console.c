/*
 * console.c — rotation and removal of VM console logs; the rule and its
 * bound are in console.h. File operations only: worker.c owns the timers
 * and knows which VMs are live.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "console.h"

#define CONSOLE_SUFFIX ".console.log"

/* Copies [start, end) of in to the start of out (truncated first). */
static int copy_range(int in, int out, uint64_t start, uint64_t end)
{
	char buf[65536];
	uint64_t off = start;

	if (ftruncate(out, 0) < 0)
		return -errno;
	while (off < end) {
		size_t want = end - off < sizeof(buf) ? (size_t)(end - off) : sizeof(buf);
		ssize_t n = pread(in, buf, want, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break; /* truncated under us: nothing more */
		for (ssize_t w = 0; w < n;) {
			ssize_t k = pwrite(out, buf + w, (size_t)(n - w), (off_t)(off - start) + w);

			if (k < 0 && errno == EINTR)
				continue;
			if (k < 0)
				return -errno;
			w += k;
		}
		off += (uint64_t)n;
	}
	return 0;
}

/* The old log into out — all of it, or only its last cap bytes when it has
 * grown past 2 × cap — again while the file grew under the copy; *size:
 * the size the copy ends at. */
static int copy_tail(int fd, int out, uint64_t cap, uint64_t *size)
{
	struct stat st;
	int rc;

	for (int tries = 0; tries < PW_CONSOLE_COPY_TRIES; tries++) {
		uint64_t end = *size, start = end > 2 * cap ? end - cap : 0;

		if ((rc = copy_range(fd, out, start, end)) < 0)
			return rc;
		if (fstat(fd, &st) < 0)
			return -errno;
		if ((uint64_t)st.st_size == end)
			break;
		*size = (uint64_t)st.st_size;
	}
	return 0;
}

int pw_console_rotate(const char *path, uint64_t cap)
{
	char old[PATH_MAX], tmp[PATH_MAX];
	struct stat st;
	uint64_t size;
	int fd, out, rc;

	if (snprintf(old, sizeof(old), "%s.1", path) >= (int)sizeof(old) ||
	    snprintf(tmp, sizeof(tmp), "%s.1.tmp", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	if (stat(path, &st) < 0 || (uint64_t)st.st_size <= cap)
		return 0; /* the common case: one stat */
	if ((fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		goto close_fd;
	}
	rc = 0;
	if ((uint64_t)st.st_size <= cap)
		goto close_fd;
	size = (uint64_t)st.st_size;
	if ((out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640)) < 0) {
		rc = -errno;
		goto close_fd;
	}
	rc = copy_tail(fd, out, cap, &size);
	if (close(out) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, old) < 0)
		rc = -errno;
	if (rc < 0) {
		unlink(tmp);
		goto close_fd;
	}
	/* the VMM appends: its next write lands at 0 */
	rc = ftruncate(fd, 0) < 0 ? -errno : 1;
close_fd:
	close(fd);
	return rc;
}

void pw_console_remove(const char *path)
{
	static const char *const suffixes[] = { "", ".1", ".1.tmp" };
	char p[PATH_MAX];

	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++)
		if (snprintf(p, sizeof(p), "%s%s", path, suffixes[i]) < (int)sizeof(p))
			(void)unlink(p);
}

void pw_console_remove_id(const char *state_dir, const char *id)
{
	char p[PATH_MAX];

	if (snprintf(p, sizeof(p), "%s/vms/%s" CONSOLE_SUFFIX, state_dir, id) < (int)sizeof(p))
		pw_console_remove(p);
}

/* "<id>.console.log", "<id>.console.log.1", … → id; false for others. */
static bool console_id(const char *name, char *id, size_t idlen)
{
	const char *s = strstr(name, CONSOLE_SUFFIX);
	size_t n = s ? (size_t)(s - name) : 0;
	const char *rest = s ? s + strlen(CONSOLE_SUFFIX) : NULL;

	if (!s || n == 0 || n >= idlen)
		return false;
	if (*rest && strcmp(rest, ".1") != 0 && strcmp(rest, ".1.tmp") != 0)
		return false;
	memcpy(id, name, n);
	id[n] = '\0';
	return true;
}

int pw_console_sweep_step(struct pw_console_sweep *s, const char *dir, unsigned max,
			  bool (*keep)(const char *id, void *arg), void *arg,
			  unsigned *removed)
{
	struct dirent *de;
	char id[64], path[PATH_MAX];

	if (!s->dir && !(s->dir = opendir(dir)))
		return errno == ENOENT ? 0 : -errno;
	for (unsigned i = 0; i < max; i++) {
		errno = 0;
		if (!(de = readdir(s->dir))) {
			pw_console_sweep_end(s);
			return 0;
		}
		if (!console_id(de->d_name, id, sizeof(id)) || keep(id, arg))
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) < (int)sizeof(path) &&
		    unlink(path) == 0)
			(*removed)++;
	}
	return 1;
}

void pw_console_sweep_end(struct pw_console_sweep *s)
{
	if (s->dir)
		closedir(s->dir);
	s->dir = NULL;
}
