/*
 * test_cgroup.c — pool-worker/cgroup.c: the files a VM's cgroup gets, on
 * fake v1 and v2 trees in a tmpdir (no root needed: the kernel's files are
 * plain files there), and on the host's real v1 hierarchies (root): the
 * discovery, a process moved in and killed by its memory limit's OOM
 * killer (counted, reported with the limit), removal and the sweep.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../pool-worker/cgroup.h"
#include "t.h"

static char dir[64];

static void mk(const char *fmt, const char *a)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), fmt, dir, a);
	T_ASSERT(mkdir(p, 0755) == 0);
}

static void tmp_tree(void)
{
	snprintf(dir, sizeof(dir), "/tmp/test_cgroup.XXXXXX");
	T_ASSERT(mkdtemp(dir) != NULL);
}

static void rm_tree(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	T_ASSERT(system(cmd) == 0);
}

/* The content of dir/rel, trailing newline dropped. */
static const char *slurp(const char *rel)
{
	static char buf[256];
	char p[PATH_MAX];
	ssize_t n;
	int fd;

	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	if ((fd = open(p, O_RDONLY)) < 0)
		return "<missing>";
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	if (n > 0 && buf[n - 1] == '\n')
		buf[n - 1] = '\0';
	return buf;
}

static void put(const char *rel, const char *s)
{
	char p[PATH_MAX];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	T_ASSERT((f = fopen(p, "w")) != NULL);
	fputs(s, f);
	fclose(f);
}

static void cfg_with(struct ui_config *cfg, unsigned overhead, unsigned pids)
{
	ui_config_defaults(cfg);
	cfg->mem_overhead_mib = overhead;
	cfg->pids_max = pids;
}

static void t_v1_files(void)
{
	static struct pw_cgroups cg;
	static struct pw_cg_spec s;
	char base[3][PATH_MAX], err[PATH_MAX + 256];
	const char *b[3] = { base[0], base[1], base[2] };
	struct ui_config cfg;
	unsigned lim = 0;

	tmp_tree();
	mk("%s/%s", "cpu"); mk("%s/%s", "memory"); mk("%s/%s", "pids");
	for (int i = 0; i < 3; i++)
		snprintf(base[i], PATH_MAX, "%s/%s", dir, i == 0 ? "cpu" : i == 1 ? "memory" : "pids");
	cfg_with(&cfg, 20, 64);
	if (pw_cg_setup_at(&cg, PW_CG_V1, b, "uigniter-x", &cfg, err, sizeof(err)) < 0)
		T_FAIL("setup: %s", err);
	T_EQ_INT(cg.mode, PW_CG_V1);
	T_EQ_STR(slurp("cpu/uigniter-x/cpu.shares"), "256");
	pw_cg_spec(&cg, "vm-a", 2, 100, &s);
	if (pw_cg_create(&s, err, sizeof(err)) < 0)
		T_FAIL("create: %s", err);
	T_EQ_STR(slurp("cpu/uigniter-x/vm-a/cpu.cfs_period_us"), "100000");
	T_EQ_STR(slurp("cpu/uigniter-x/vm-a/cpu.cfs_quota_us"), "200000");
	T_EQ_STR(slurp("memory/uigniter-x/vm-a/memory.limit_in_bytes"), "125829120"); /* 120 MiB */
	T_EQ_STR(slurp("pids/uigniter-x/vm-a/pids.max"), "64");
	T_ASSERT(pw_cg_attach(&s, 4321, err, sizeof(err)) == 0);
	T_EQ_STR(slurp("cpu/uigniter-x/vm-a/cgroup.procs"), "4321");
	T_EQ_STR(slurp("memory/uigniter-x/vm-a/cgroup.procs"), "4321");
	T_EQ_STR(slurp("pids/uigniter-x/vm-a/cgroup.procs"), "4321");
	/* the OOM count: v1 memory.oom_control */
	T_EQ_INT(pw_cg_oom_kills(&s), -ENOENT);
	put("memory/uigniter-x/vm-a/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n");
	T_EQ_INT(pw_cg_oom_kills(&s), 0);
	T_ASSERT(!pw_cg_end(&cg, "vm-a", &lim));
	put("memory/uigniter-x/vm-a/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n");
	T_EQ_INT(pw_cg_oom_kills(&s), 1);
	T_ASSERT(pw_cg_end(&cg, "vm-a", &lim));
	T_EQ_INT(lim, 120);
	rm_tree();
}

static void t_v2_files(void)
{
	static struct pw_cgroups cg;
	static struct pw_cg_spec s;
	char err[PATH_MAX + 256];
	const char *b[3] = { dir, NULL, NULL };
	struct ui_config cfg;
	unsigned lim = 0;

	tmp_tree();
	cfg_with(&cfg, 32, 100);
	if (pw_cg_setup_at(&cg, PW_CG_V2, b, "uigniter-y", &cfg, err, sizeof(err)) < 0)
		T_FAIL("setup: %s", err);
	T_EQ_STR(slurp("cgroup.subtree_control"), "+cpu +memory +pids");
	T_EQ_STR(slurp("uigniter-y/cgroup.subtree_control"), "+cpu +memory +pids");
	T_EQ_STR(slurp("uigniter-y/cpu.weight"), "25");
	pw_cg_spec(&cg, "vm-b", 3, 256, &s);
	T_EQ_INT(s.dir[1][0], '\0'); /* one tree */
	if (pw_cg_create(&s, err, sizeof(err)) < 0)
		T_FAIL("create: %s", err);
	T_EQ_STR(slurp("uigniter-y/vm-b/cpu.max"), "300000 100000");
	T_EQ_STR(slurp("uigniter-y/vm-b/memory.max"), "301989888"); /* 288 MiB */
	T_EQ_STR(slurp("uigniter-y/vm-b/memory.oom.group"), "1");
	T_EQ_STR(slurp("uigniter-y/vm-b/pids.max"), "100");
	T_ASSERT(pw_cg_attach(&s, 99, err, sizeof(err)) == 0);
	T_EQ_STR(slurp("uigniter-y/vm-b/cgroup.procs"), "99");
	put("uigniter-y/vm-b/memory.events", "low 0\nhigh 0\nmax 7\noom 2\noom_kill 2\noom_group_kill 1\n");
	T_EQ_INT(pw_cg_oom_kills(&s), 2);
	T_ASSERT(pw_cg_end(&cg, "vm-b", &lim));
	T_EQ_INT(lim, 288);
	rm_tree();
}

/* No base: a clear error, nothing set up. */
static void t_bad_base(void)
{
	static struct pw_cgroups cg;
	char err[PATH_MAX + 256];
	const char *b[3] = { "/nonexistent/cpu", "/nonexistent/memory", "/nonexistent/pids" };
	struct ui_config cfg;

	cfg_with(&cfg, 0, 8);
	T_EQ_INT(pw_cg_setup_at(&cg, PW_CG_V1, b, "uigniter-z", &cfg, err, sizeof(err)), -ENOENT);
	T_ASSERT(strstr(err, "/nonexistent/cpu") != NULL);
	T_EQ_INT(cg.mode, PW_CG_OFF);
}

/* Off: every call is a no-op that succeeds; no cgroup, no OOM. */
static void t_off(void)
{
	static struct pw_cg_spec s;
	char err[64];
	unsigned lim = 7;

	pw_cg_spec(NULL, "vm-c", 1, 128, &s);
	T_EQ_INT(s.mode, PW_CG_OFF);
	T_EQ_INT(pw_cg_create(&s, err, sizeof(err)), 0);
	T_EQ_INT(pw_cg_attach(&s, 1, err, sizeof(err)), 0);
	T_EQ_INT(pw_cg_remove(&s), 0);
	T_ASSERT(!pw_cg_end(NULL, "vm-c", &lim));
	T_EQ_INT(pw_cg_sweep(NULL, NULL, NULL), 0);
}

static bool none_live(const char *id, void *arg)
{
	return arg && !strcmp(id, arg);
}

/* A child that grows past its limit once it is in its cgroup. */
static pid_t grower(int *go)
{
	int p[2];
	pid_t pid;

	T_ASSERT(pipe(p) == 0);
	if ((pid = fork()) == 0) {
		char c;
		size_t n = 64u << 20;
		char *m;

		close(p[1]);
		if (read(p[0], &c, 1) != 1)
			_exit(2);
		if (!(m = malloc(n)))
			_exit(3);
		for (size_t i = 0; i < n; i += 4096)
			m[i] = 1;
		_exit(0);
	}
	close(p[0]);
	*go = p[1];
	return pid;
}

/* The real thing (root, v1 here): found, OOM-killed alone, removed, swept. */
static void t_real_v1(void)
{
	static struct pw_cgroups cg;
	static struct pw_cg_spec s;
	char err[2 * PATH_MAX], path[PATH_MAX + 32];
	struct ui_config cfg;
	unsigned lim = 0;
	int st, go;
	pid_t pid;

	if (geteuid() != 0 || access("/sys/fs/cgroup/memory/cgroup.procs", W_OK) < 0)
		T_SKIP("needs root and a v1 memory hierarchy");
	tmp_tree();
	cfg_with(&cfg, 16, 32);
	snprintf(cfg.state_dir, sizeof(cfg.state_dir), "%s/state", dir);
	snprintf(cfg.run_dir, sizeof(cfg.run_dir), "%s/run", dir);
	cfg.cgroup = UI_CGROUP_V1;
	if (pw_cg_setup(&cg, &cfg, err, sizeof(err)) < 0)
		T_FAIL("setup: %s", err);
	T_EQ_INT(cg.mode, PW_CG_V1);
	T_ASSERT(cg.mounted[PW_CG_MEMORY][0] == '\0'); /* the host's mount was found */

	pw_cg_spec(&cg, "vm-oom", 1, 0, &s); /* limit 16 MiB */
	if (pw_cg_create(&s, err, sizeof(err)) < 0)
		T_FAIL("create: %s", err);
	pid = grower(&go);
	if (pw_cg_attach(&s, pid, err, sizeof(err)) < 0)
		T_FAIL("attach: %s", err);
	T_ASSERT(write(go, "x", 1) == 1);
	T_ASSERT(waitpid(pid, &st, 0) == pid);
	T_ASSERT(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	T_ASSERT(pw_cg_oom_kills(&s) >= 1);
	T_ASSERT(pw_cg_end(&cg, "vm-oom", &lim));
	T_EQ_INT(lim, 16);
	T_ASSERT(access(s.dir[PW_CG_MEMORY], F_OK) < 0 && errno == ENOENT);

	/* the sweep: what no live VM owns goes, a live one stays */
	pw_cg_spec(&cg, "vm-left", 1, 64, &s);
	T_ASSERT(pw_cg_create(&s, err, sizeof(err)) == 0);
	pw_cg_spec(&cg, "vm-live", 1, 64, &s);
	T_ASSERT(pw_cg_create(&s, err, sizeof(err)) == 0);
	T_EQ_INT(pw_cg_sweep(&cg, none_live, "vm-live"), 1);
	T_ASSERT(access(s.dir[PW_CG_PIDS], F_OK) == 0);
	snprintf(path, sizeof(path), "%s/vm-left", cg.parent[PW_CG_CPU]);
	T_ASSERT(access(path, F_OK) < 0);
	T_EQ_INT(pw_cg_sweep(&cg, none_live, NULL), 1);
	pw_cg_fini(&cg);
	snprintf(path, sizeof(path), "%s", s.dir[PW_CG_MEMORY]);
	*strrchr(path, '/') = '\0';
	T_ASSERT(access(path, F_OK) < 0); /* the parent went with fini */
	rm_tree();
}

int main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		T_CASE(t_v1_files),
		T_CASE(t_v2_files),
		T_CASE(t_bad_base),
		T_CASE(t_off),
		T_CASE(t_real_v1),
		{ 0 },
	};

	return t_run(argc, argv, cases);
}
