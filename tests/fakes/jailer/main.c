/*
 * jailer (fake) — a test double of Firecracker's jailer that checks its
 * arguments and builds the chroot the way firecracker-microvm/firecracker
 * docs/jailer.md says the real one does, then execs the exec file (the
 * Firecracker fake, statically linked as a jailed Firecracker must be).
 *
 *   jailer --id ID --exec-file FILE --uid UID --gid GID
 *          [--chroot-base-dir DIR] [--cgroup-version 1|2] [--parent-cgroup REL]
 *          [--netns PATH] [--resource-limit fsize=N|no-file=N]... [--daemonize]
 *          [-- FIRECRACKER-ARGS...]
 *
 * Rules (exit 1 with "jailer (fake): ..." on stderr when broken): every
 * flag at most once (--resource-limit may repeat); ID 1-64 characters,
 * alphanumeric or '-'; FILE a regular file whose name contains
 * "firecracker"; UID and GID decimal numbers; DIR absolute (default
 * /srv/jailer); cgroup version 1 or 2; REL relative without "..";
 * --cgroup and --new-pid-ns are refused ("not supported by the fake").
 *
 * Then, in the doc's order: close every fd but 0-2; clear the environment
 * (the fake keeps FC_FAKE_* so tests can steer the Firecracker fake, but
 * FC_FAKE_LOG_DIR, a host path: the call log is then
 * /run/firecracker.socket.calls.jsonl inside; and it sets FC_FAKE_CONTRACT
 * to the contract it copies in); make
 * <DIR>/<exec name>/<ID>/root and copy FILE to root/<exec name>; rlimits
 * (no-file 2048 by default); unshare a mount namespace, make it private,
 * bind the root on itself, pivot_root into it, detach and remove old_root,
 * chroot("."); mknod /dev/net/tun (10,200) and /dev/kvm (10,232), chown
 * them and "/" to UID:GID; join --netns; --daemonize: setsid and stdio to
 * /dev/null; drop to GID/UID (no supplementary groups); exec
 * /<exec name> --id ID --start-time-us N --start-time-cpu-us N ARGS...
 * (the real jailer writes "--id=ID"; the Firecracker fake takes the
 * separate form only).
 *
 * What it was given: <DIR>/<exec name>/<ID>/jailer.argv, one argument a
 * line, written before anything else is made (beside root/, not in it).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#define CONTRACT_NAME "firecracker-api-v1.16.1.yaml"

struct jargs {
	const char *id, *exec_file, *uid, *gid, *base, *cgver, *parent, *netns;
	const char *limits[8];
	int n_limits;
	bool daemonize;
	char **extra;
	int n_extra;
};

static int fail(const char *fmt, const char *a)
{
	fprintf(stderr, "jailer (fake): ");
	fprintf(stderr, fmt, a);
	fputc('\n', stderr);
	return 1;
}

static bool is_num(const char *s)
{
	return *s && strspn(s, "0123456789") == strlen(s) && strlen(s) <= 10;
}

static bool id_ok(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > 64)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-'))
			return false;
	return true;
}

/* One "--flag value" into its slot; a second one is an error. */
static int take(const char **slot, char **argv, int argc, int *i)
{
	if (*slot)
		return fail("%s given twice", argv[*i]);
	if (*i + 1 >= argc)
		return fail("%s needs a value", argv[*i]);
	*slot = argv[++*i];
	return 0;
}

static int parse(int argc, char **argv, struct jargs *a)
{
	static const struct { const char *name; size_t off; } vals[] = {
		{ "--id", offsetof(struct jargs, id) },
		{ "--exec-file", offsetof(struct jargs, exec_file) },
		{ "--uid", offsetof(struct jargs, uid) },
		{ "--gid", offsetof(struct jargs, gid) },
		{ "--chroot-base-dir", offsetof(struct jargs, base) },
		{ "--cgroup-version", offsetof(struct jargs, cgver) },
		{ "--parent-cgroup", offsetof(struct jargs, parent) },
		{ "--netns", offsetof(struct jargs, netns) },
	};
	int i, k, rc;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--")) {
			a->extra = argv + i + 1;
			a->n_extra = argc - i - 1;
			break;
		}
		for (k = 0; k < (int)(sizeof(vals) / sizeof(vals[0])); k++)
			if (!strcmp(argv[i], vals[k].name))
				break;
		if (k < (int)(sizeof(vals) / sizeof(vals[0]))) {
			if ((rc = take((const char **)((char *)a + vals[k].off), argv, argc, &i)))
				return rc;
		} else if (!strcmp(argv[i], "--resource-limit") && i + 1 < argc &&
			   a->n_limits < 8) {
			a->limits[a->n_limits++] = argv[++i];
		} else if (!strcmp(argv[i], "--daemonize") && !a->daemonize) {
			a->daemonize = true;
		} else if (!strcmp(argv[i], "--cgroup") || !strcmp(argv[i], "--new-pid-ns")) {
			return fail("%s: not supported by the fake", argv[i]);
		} else {
			return fail("unexpected argument %s", argv[i]);
		}
	}
	return 0;
}

static int check(struct jargs *a)
{
	const char *name;
	struct stat st;

	if (!a->id || !a->exec_file || !a->uid || !a->gid)
		return fail("%s", "--id, --exec-file, --uid and --gid are required");
	if (!id_ok(a->id))
		return fail("invalid instance id %s (1-64 characters, alphanumeric or '-')", a->id);
	name = strrchr(a->exec_file, '/') ? strrchr(a->exec_file, '/') + 1 : a->exec_file;
	if (stat(a->exec_file, &st) < 0 || !S_ISREG(st.st_mode))
		return fail("--exec-file %s: not a regular file", a->exec_file);
	if (!strstr(name, "firecracker"))
		return fail("--exec-file %s: the file name must include \"firecracker\"", name);
	if (!is_num(a->uid) || !is_num(a->gid))
		return fail("--uid/--gid %s: must be numbers", is_num(a->uid) ? a->gid : a->uid);
	if (!a->base)
		a->base = "/srv/jailer";
	if (a->base[0] != '/')
		return fail("--chroot-base-dir %s: must be absolute", a->base);
	if (a->cgver && strcmp(a->cgver, "1") && strcmp(a->cgver, "2"))
		return fail("--cgroup-version %s: must be 1 or 2", a->cgver);
	if (a->parent && (a->parent[0] == '/' || strstr(a->parent, "..")))
		return fail("--parent-cgroup %s: must be a relative path", a->parent);
	return 0;
}

static int mkdirs(const char *path, mode_t mode)
{
	char buf[PATH_MAX];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++)
		if (*p == '/') {
			*p = '\0';
			if (mkdir(buf, mode) < 0 && errno != EEXIST)
				return -1;
			*p = '/';
		}
	return mkdir(buf, mode) < 0 && errno != EEXIST ? -1 : 0;
}

static int copy(const char *src, const char *dst, mode_t mode)
{
	int in = open(src, O_RDONLY | O_CLOEXEC), out;
	struct stat st;
	off_t off = 0;

	if (in < 0 || fstat(in, &st) < 0)
		return -1;
	out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (out < 0)
		return -1;
	while (off < st.st_size)
		if (sendfile(out, in, &off, (size_t)(st.st_size - off)) <= 0)
			return -1; /* the process exits at once: fds go with it */
	if (fchmod(out, mode) < 0) /* the mode asked for, whatever the umask */
		return -1;
	close(in);
	return close(out);
}

static void write_argv(const char *jail, int argc, char **argv)
{
	char path[PATH_MAX + 16];
	FILE *f;

	snprintf(path, sizeof(path), "%s/jailer.argv", jail);
	if (!(f = fopen(path, "w")))
		return;
	for (int i = 0; i < argc; i++)
		fprintf(f, "%s\n", argv[i]);
	fclose(f);
}

/* The API contract the Firecracker fake needs, found as it finds it: up
 * from our directory to the repo (a Makefile), then ../shared/reference. */
static int find_contract(char *out, size_t len)
{
	const char *env = getenv("FC_FAKE_CONTRACT");
	char dir[PATH_MAX], probe[PATH_MAX + 64];
	ssize_t n;

	if (env && *env)
		return snprintf(out, len, "%s", env) < (int)len ? 0 : -1;
	if ((n = readlink("/proc/self/exe", dir, sizeof(dir) - 1)) <= 0)
		return -1;
	dir[n] = '\0';
	for (char *s; (s = strrchr(dir, '/')) && s != dir;) {
		*s = '\0';
		snprintf(probe, sizeof(probe), "%s/Makefile", dir);
		if (access(probe, F_OK) == 0)
			return snprintf(out, len, "%s/../shared/reference/" CONTRACT_NAME, dir) <
			       (int)len ? 0 : -1;
	}
	return -1;
}

/* Environment cleared, FC_FAKE_* kept, the contract's path inside set. */
static void clean_env(void)
{
	extern char **environ;
	char *keep[32];
	int n = 0;

	for (char **e = environ; *e && n < 31; e++)
		if (!strncmp(*e, "FC_FAKE_", 8) && strncmp(*e, "FC_FAKE_CONTRACT=", 17) &&
		    strncmp(*e, "FC_FAKE_LOG_DIR=", 16)) /* a host path: not in the jail */
			keep[n++] = *e;
	clearenv();
	for (int i = 0; i < n; i++)
		putenv(keep[i]);
	setenv("FC_FAKE_CONTRACT", "/" CONTRACT_NAME, 1);
}

static int limits(const struct jargs *a)
{
	struct rlimit nofile = { 2048, 2048 };

	for (int i = 0; i < a->n_limits; i++) {
		const char *eq = strchr(a->limits[i], '=');
		struct rlimit r;

		if (!eq || !is_num(eq + 1))
			return fail("--resource-limit %s: expected fsize=N or no-file=N", a->limits[i]);
		r.rlim_cur = r.rlim_max = strtoull(eq + 1, NULL, 10);
		if (!strncmp(a->limits[i], "no-file=", 8))
			nofile = r;
		else if (!strncmp(a->limits[i], "fsize=", 6))
			(void)setrlimit(RLIMIT_FSIZE, &r);
		else
			return fail("--resource-limit %s: unknown resource", a->limits[i]);
	}
	return setrlimit(RLIMIT_NOFILE, &nofile) < 0 ? fail("setrlimit: %s", strerror(errno)) : 0;
}

/* unshare, private, bind, pivot_root, detach old root, chroot. */
static int enter_jail(const char *root)
{
	if (unshare(CLONE_NEWNS) < 0 ||
	    mount(NULL, "/", NULL, MS_PRIVATE | MS_REC, NULL) < 0 ||
	    mount(root, root, NULL, MS_BIND, NULL) < 0 || chdir(root) < 0 ||
	    (mkdir("old_root", 0700) < 0 && errno != EEXIST) ||
	    syscall(SYS_pivot_root, ".", "old_root") < 0 ||
	    umount2("old_root", MNT_DETACH) < 0 || rmdir("old_root") < 0 || chroot(".") < 0)
		return fail("building the jail: %s", strerror(errno));
	return 0;
}

static int devices(uid_t uid, gid_t gid)
{
	if (mkdirs("/dev/net", 0755) < 0 ||
	    mknod("/dev/net/tun", S_IFCHR | S_IRUSR | S_IWUSR, makedev(10, 200)) < 0 ||
	    chown("/dev/net/tun", uid, gid) < 0 ||
	    mknod("/dev/kvm", S_IFCHR | S_IRUSR | S_IWUSR, makedev(10, 232)) < 0 ||
	    chown("/dev/kvm", uid, gid) < 0 || chown("/", uid, gid) < 0)
		return fail("devices: %s", strerror(errno));
	return 0;
}

static long long now_us(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int main(int argc, char **argv)
{
	char jail[PATH_MAX], root[PATH_MAX + 8], dst[2 * PATH_MAX], contract[PATH_MAX];
	char exe[PATH_MAX + 2], t[32], tc[32], *nargv[80];
	long long t0 = now_us(CLOCK_REALTIME), c0 = now_us(CLOCK_PROCESS_CPUTIME_ID);
	struct jargs a = { 0 };
	const char *name;
	uid_t uid;
	gid_t gid;
	int rc, n = 0;

	if ((rc = parse(argc, argv, &a)) || (rc = check(&a)))
		return rc;
	name = strrchr(a.exec_file, '/') ? strrchr(a.exec_file, '/') + 1 : a.exec_file;
	uid = (uid_t)strtoul(a.uid, NULL, 10);
	gid = (gid_t)strtoul(a.gid, NULL, 10);
	if (snprintf(jail, sizeof(jail), "%s/%s/%s", a.base, name, a.id) >= (int)sizeof(jail))
		return fail("%s", "chroot path too long");
	snprintf(root, sizeof(root), "%s/root", jail);
	if (find_contract(contract, sizeof(contract)) < 0)
		return fail("%s", "the Firecracker API contract is not found (FC_FAKE_CONTRACT)");
	syscall(SYS_close_range, 3, ~0U, 0);
	if (mkdirs(root, 0755) < 0)
		return fail("cannot make the chroot: %s", strerror(errno));
	write_argv(jail, argc, argv);
	snprintf(dst, sizeof(dst), "%s/%s", root, name);
	if (copy(a.exec_file, dst, 0755) < 0) /* like the real one: executable by UID */
		return fail("cannot copy the exec file: %s", strerror(errno));
	snprintf(dst, sizeof(dst), "%s/" CONTRACT_NAME, root);
	if (copy(contract, dst, 0644) < 0)
		return fail("cannot copy the API contract: %s", strerror(errno));
	clean_env();
	if ((rc = limits(&a)) || (rc = enter_jail(root)) || (rc = devices(uid, gid)))
		return rc;
	if (a.netns) {
		int fd = open(a.netns, O_RDONLY | O_CLOEXEC);

		if (fd < 0 || setns(fd, CLONE_NEWNET) < 0)
			return fail("--netns: %s", strerror(errno));
		close(fd);
	}
	if (a.daemonize) {
		int fd = open("/dev/null", O_RDWR); /* opened inside: the jail has none */

		if (setsid() < 0)
			return fail("--daemonize: setsid: %s", strerror(errno));
		if (fd >= 0) {
			if (dup2(fd, 0) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
				return 1; /* no stderr to say it on */
			close(fd);
		}
	}
	if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0)
		return fail("dropping to uid/gid: %s", strerror(errno));
	snprintf(exe, sizeof(exe), "/%s", name);
	snprintf(t, sizeof(t), "%lld", now_us(CLOCK_REALTIME) - t0);
	snprintf(tc, sizeof(tc), "%lld", now_us(CLOCK_PROCESS_CPUTIME_ID) - c0);
	nargv[n++] = exe;
	nargv[n++] = "--id";
	nargv[n++] = (char *)a.id;
	nargv[n++] = "--start-time-us";
	nargv[n++] = t;
	nargv[n++] = "--start-time-cpu-us";
	nargv[n++] = tc;
	for (int i = 0; i < a.n_extra && n < 79; i++)
		nargv[n++] = a.extra[i];
	nargv[n] = NULL;
	execv(exe, nargv);
	return fail("exec: %s", strerror(errno));
}
