/*
 * test_console.c — pool-worker's console cap (pool-worker/console.c) on
 * real files, with a writer holding an O_APPEND fd the way a VMM does:
 * collapsing (ext4/xfs: /tmp here) keeps every byte and says in the xattr
 * where <log>.1 ended; a log past 2 × cap leaves only its tail in <log>.1;
 * copy-truncate where collapsing is not supported (tmpfs: /dev/shm);
 * a reader's LOCK_SH postpones the rotation; the sweep removes the files
 * of VMs that are gone, a slice at a time.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/stat.h>
#include <sys/file.h>
#include <sys/xattr.h>
#include <ftw.h>

#include "../../pool-worker/console.h"
#include "t.h"

static char dir[64], log_path[128], old_path[160];

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path) < 0 ? -1 : 0;
}

/* at exit of the case (each runs in a process of its own): its directory goes */
static void rm_dir(void)
{
	if (dir[0] && nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS) < 0)
		perror(dir);
}

static void mkdir_in(const char *base)
{
	snprintf(dir, sizeof(dir), "%s/test_console.XXXXXX", base);
	T_ASSERT(mkdtemp(dir));
	T_ASSERT(atexit(rm_dir) == 0);
	snprintf(log_path, sizeof(log_path), "%s/vm-a.console.log", dir);
	snprintf(old_path, sizeof(old_path), "%s.1", log_path);
}

/* The VMM's fd: appending. Writes n bytes of a counting pattern from *seq. */
static void vmm_write(int fd, size_t n, size_t *seq)
{
	char buf[65536];

	T_ASSERT(n <= sizeof(buf));
	for (size_t i = 0; i < n; i++)
		buf[i] = (char)('a' + (*seq + i) % 26);
	*seq += n;
	T_EQ_INT(write(fd, buf, n), (ssize_t)n);
}

static size_t file_size(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0 ? (size_t)st.st_size : 0;
}

/* p's bytes are the pattern from position from on. */
static void check_pattern(const char *p, size_t from)
{
	char buf[65536];
	int fd = open(p, O_RDONLY);
	ssize_t n;

	T_ASSERT(fd >= 0);
	n = read(fd, buf, sizeof(buf));
	T_ASSERT(n >= 0);
	for (ssize_t i = 0; i < n; i++)
		if (buf[i] != (char)('a' + (from + (size_t)i) % 26))
			T_FAIL("%s: byte %zd is not the pattern from %zu", p, i, from);
	close(fd);
}

static unsigned long long end_xattr(const char *p)
{
	char val[32];
	ssize_t n = getxattr(p, PW_CONSOLE_END_XATTR, val, sizeof(val) - 1);

	T_ASSERT(n > 0);
	val[n] = '\0';
	return strtoull(val, NULL, 10);
}

static int vmm_open(void)
{
	int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0640);

	T_ASSERT(fd >= 0);
	return fd;
}

static bool can_collapse(void)
{
	char p[160];
	char z[8192] = { 0 };
	int fd;
	bool ok;

	snprintf(p, sizeof(p), "%s/probe", dir);
	fd = open(p, O_RDWR | O_CREAT, 0600);
	T_ASSERT(fd >= 0);
	T_EQ_INT(write(fd, z, sizeof(z)), (ssize_t)sizeof(z));
	ok = fallocate(fd, FALLOC_FL_COLLAPSE_RANGE, 0, 4096) == 0;
	close(fd);
	unlink(p);
	return ok;
}

static void t_below_cap(void)
{
	size_t seq = 0;
	int fd;

	mkdir_in("/tmp");
	T_EQ_INT(pw_console_rotate(log_path, 4096), 0); /* no file yet */
	fd = vmm_open();
	vmm_write(fd, 4096, &seq);
	T_EQ_INT(pw_console_rotate(log_path, 4096), 0);
	T_EQ_INT(file_size(log_path), 4096);
	T_ASSERT(access(old_path, F_OK) < 0);
	close(fd);
}

static void t_collapse(void)
{
	size_t seq = 0;
	int fd;

	mkdir_in("/tmp");
	if (!can_collapse())
		T_SKIP("/tmp cannot collapse ranges");
	fd = vmm_open();
	vmm_write(fd, 10000, &seq);
	T_EQ_INT(pw_console_rotate(log_path, 4096), 1);
	T_EQ_INT(file_size(old_path), 8192);       /* whole blocks moved */
	T_EQ_INT(end_xattr(old_path), 8192);
	check_pattern(old_path, 0);
	T_EQ_INT(file_size(log_path), 10000 - 8192); /* the rest moved down */
	check_pattern(log_path, 8192);
	vmm_write(fd, 1000, &seq);                  /* the VMM appends on */
	T_EQ_INT(file_size(log_path), 10000 - 8192 + 1000);
	check_pattern(log_path, 8192);
	close(fd);
}

static void t_collapse_tail_only(void)
{
	size_t seq = 0;
	int fd;

	mkdir_in("/tmp");
	if (!can_collapse())
		T_SKIP("/tmp cannot collapse ranges");
	fd = vmm_open();
	vmm_write(fd, 20000, &seq); /* past 2 × cap: pool-worker was away */
	T_EQ_INT(pw_console_rotate(log_path, 4096), 1);
	T_EQ_INT(file_size(old_path), 4096);
	T_EQ_INT(end_xattr(old_path), 16384);
	check_pattern(old_path, 16384 - 4096);
	check_pattern(log_path, 16384);
	close(fd);
}

static void t_copy_truncate(void)
{
	size_t seq = 0;
	int fd;

	mkdir_in("/dev/shm");
	if (can_collapse())
		T_SKIP("/dev/shm collapses ranges");
	fd = vmm_open();
	vmm_write(fd, 10000, &seq);
	T_EQ_INT(pw_console_rotate(log_path, 4096), 1);
	T_EQ_INT(file_size(old_path), 10000);
	check_pattern(old_path, 0);
	T_EQ_INT(file_size(log_path), 0);
	vmm_write(fd, 100, &seq); /* O_APPEND: lands at 0 */
	T_EQ_INT(file_size(log_path), 100);
	check_pattern(log_path, 10000);
	close(fd);
}

static void t_reader_lock_postpones(void)
{
	size_t seq = 0;
	int fd, rd;

	mkdir_in("/tmp");
	fd = vmm_open();
	vmm_write(fd, 10000, &seq);
	rd = open(log_path, O_RDONLY);
	T_ASSERT(rd >= 0 && flock(rd, LOCK_SH) == 0);
	T_EQ_INT(pw_console_rotate(log_path, 4096), 0);
	T_EQ_INT(file_size(log_path), 10000);
	T_ASSERT(flock(rd, LOCK_UN) == 0);
	T_EQ_INT(pw_console_rotate(log_path, 4096), 1);
	close(rd);
	close(fd);
}

static bool keep_a(const char *id, void *arg)
{
	(void)arg;
	return strcmp(id, "vm-a") == 0;
}

static void touch(const char *name)
{
	char p[160];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	T_ASSERT((fd = open(p, O_WRONLY | O_CREAT, 0640)) >= 0);
	close(fd);
}

static void t_sweep(void)
{
	static const char *const names[] = {
		"vm-a.console.log", "vm-a.console.log.1", "vm-b.console.log", "vm-b.console.log.1",
		"vm-b.console.log.1.tmp", "vm-b.qmp", "vm-c.console.log.2", "notes",
	};
	struct pw_console_sweep s = { 0 };
	unsigned removed = 0, calls = 0;
	char p[160];
	int rc;

	mkdir_in("/tmp");
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		touch(names[i]);
	while ((rc = pw_console_sweep_step(&s, dir, 2, keep_a, NULL, &removed)) == 1)
		calls++;
	T_EQ_INT(rc, 0);
	T_ASSERT(calls >= 4); /* ten entries with . and .., two a call */
	T_ASSERT(s.dir == NULL);
	T_EQ_INT(removed, 3);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		bool gone = strncmp(names[i], "vm-b.console", 12) == 0;

		snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
		if ((access(p, F_OK) < 0) != gone)
			T_FAIL("%s %s", names[i], gone ? "kept" : "removed");
	}
	snprintf(p, sizeof(p), "%s/nope", dir);
	T_EQ_INT(pw_console_sweep_step(&s, p, 2, keep_a, NULL, &removed), 0);
}

static void t_remove(void)
{
	char p[200];

	mkdir_in("/tmp");
	touch("vm-a.console.log");
	touch("vm-a.console.log.1");
	touch("vm-a.console.log.1.tmp");
	pw_console_remove(log_path);
	T_ASSERT(access(log_path, F_OK) < 0 && access(old_path, F_OK) < 0);
	snprintf(p, sizeof(p), "%s.tmp", old_path);
	T_ASSERT(access(p, F_OK) < 0);
	pw_console_remove(log_path); /* again: nothing there, fine */
}

int main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		T_CASE(t_below_cap), T_CASE(t_collapse), T_CASE(t_collapse_tail_only),
		T_CASE(t_copy_truncate), T_CASE(t_reader_lock_postpones), T_CASE(t_sweep),
		T_CASE(t_remove), { 0 },
	};
	return t_run(argc, argv, cases);
}
