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
#include <linux/falloc.h>
#include <sys/file.h>
#include <sys/xattr.h>
#include <sys/stat.h>
#include <unistd.h>

#include "console.h"
#include "log.h"

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

/* Copy-truncate (no collapse): the whole log into out, again while it
 * grew under the copy; *end: the size the copy ends at. */
static int copy_all(int fd, int out, uint64_t *end)
{
	struct stat st;
	int rc;

	for (int tries = 0; tries < PW_CONSOLE_COPY_TRIES; tries++) {
		if ((rc = copy_range(fd, out, 0, *end)) < 0)
			return rc;
		if (fstat(fd, &st) < 0)
			return -errno;
		if ((uint64_t)st.st_size == *end)
			break;
		*end = (uint64_t)st.st_size;
	}
	return 0;
}

/* Whether this file system collapses ranges (ext4, xfs), tried once on a
 * scratch file next to the logs: 1 yes, 0 no. */
static int collapse_supported(const char *tmp, size_t blk)
{
	static int known = -1;
	char zero[4096] = { 0 };
	int fd;

	if (known >= 0)
		return known;
	known = 0;
	if (blk > sizeof(zero) || (fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
		return known;
	if (pwrite(fd, zero, blk, 0) == (ssize_t)blk && pwrite(fd, zero, blk, (off_t)blk) == (ssize_t)blk &&
	    fallocate(fd, FALLOC_FL_COLLAPSE_RANGE, 0, (off_t)blk) == 0)
		known = 1;
	close(fd);
	unlink(tmp);
	ui_info("console logs: rotated by %s", known ? "collapsing the copied range (nothing lost)"
						     : "copy-truncate");
	return known;
}

/* Moves the first *end bytes of the log (fd, locked) to <log>.1: copied to
 * tmp with the xattr saying where they ended, renamed over old, then
 * removed from the log. Collapsing: *end is the size rounded down to a
 * block (the VMM's appends go on above it, nothing is lost); else the
 * whole log, then truncated (what is written after the last check is
 * lost). A log past 2 × cap leaves only its last cap bytes in <log>.1
 * (where the xattr can say so). */
static int move_head(int fd, const struct stat *st, uint64_t cap, const char *tmp,
		     const char *old)
{
	size_t blk = st->st_blksize > 0 ? (size_t)st->st_blksize : 4096;
	uint64_t size = (uint64_t)st->st_size, end = size, start = 0;
	bool collapse = collapse_supported(tmp, blk) && size / blk * blk > 0;
	char val[32];
	int out, rc;

	if ((out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640)) < 0)
		return -errno;
	if (collapse) {
		end = size / blk * blk;
		snprintf(val, sizeof(val), "%llu", (unsigned long long)end);
		if (end > 2 * cap && fsetxattr(out, PW_CONSOLE_END_XATTR, val, strlen(val), 0) == 0)
			start = end - cap;
		rc = copy_range(fd, out, start, end);
	} else {
		rc = copy_all(fd, out, &end);
	}
	snprintf(val, sizeof(val), "%llu", (unsigned long long)end);
	if (rc == 0 && fsetxattr(out, PW_CONSOLE_END_XATTR, val, strlen(val), 0) < 0 &&
	    errno != ENOTSUP)
		rc = -errno;
	if (close(out) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, old) < 0)
		rc = -errno;
	if (rc < 0) {
		unlink(tmp);
		return rc;
	}
	if (collapse)
		return fallocate(fd, FALLOC_FL_COLLAPSE_RANGE, 0, (off_t)end) < 0 ? -errno : 1;
	/* the VMM appends: its next write lands at 0 */
	return ftruncate(fd, 0) < 0 ? -errno : 1;
}

int pw_console_rotate(const char *path, uint64_t cap)
{
	char old[PATH_MAX], tmp[PATH_MAX];
	struct stat st;
	int fd, rc;

	if (snprintf(old, sizeof(old), "%s.1", path) >= (int)sizeof(old) ||
	    snprintf(tmp, sizeof(tmp), "%s.1.tmp", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	if (stat(path, &st) < 0 || (uint64_t)st.st_size <= cap)
		return 0; /* the common case: one stat */
	if ((fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return errno == ENOENT ? 0 : -errno;
	/* readers (apid's followers) hold LOCK_SH while they read: they see
	 * the files before the rotation or after it, never half-way */
	if (flock(fd, LOCK_EX | LOCK_NB) < 0)
		rc = errno == EWOULDBLOCK ? 0 : -errno; /* busy: the next check */
	else if (fstat(fd, &st) < 0)
		rc = -errno;
	else
		rc = (uint64_t)st.st_size <= cap ? 0 : move_head(fd, &st, cap, tmp, old);
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
