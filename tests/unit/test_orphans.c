/*
 * test_orphans — after a pool-worker crash (pool-worker/orphans.c): which
 * processes the orphan scan kills, with real processes. A jailed
 * Firecracker is stood in for by this binary re-executed with
 * "--chrooted ROOT --id ID": it chroots into ROOT and waits, so its
 * command line says --id ID and its / is ROOT, as the jailer leaves one.
 * Then the sweep of the directories VMMs leave. Root only (chroot).
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../pool-worker/orphans.h"
#include "../../pool-worker/vm.h"
#include "../../pool-worker/vmm_priv.h"
#include "t.h"

static char tmp[PATH_MAX], jails[PATH_MAX + 8];

static void setup(void)
{
	char tmpl[] = "/tmp/test_orphans.XXXXXX";

	if (geteuid() != 0)
		T_SKIP("needs root (chroot)");
	T_ASSERT(mkdtemp(tmpl));
	snprintf(tmp, sizeof(tmp), "%s", tmpl);
	snprintf(jails, sizeof(jails), "%s/jails", tmp);
	T_ASSERT(mkdir(jails, 0700) == 0);
}

static const char *mkroot(const char *id)
{
	static char root[PATH_MAX + 64];
	char dir[PATH_MAX + 32];

	snprintf(dir, sizeof(dir), "%s/%s", jails, id);
	T_ASSERT(mkdir(dir, 0700) == 0);
	snprintf(root, sizeof(root), "%s/root", dir);
	T_ASSERT(mkdir(root, 0700) == 0);
	return root;
}

/* A process whose / is root and whose command line says --id id. */
static pid_t jailed(const char *root, const char *id)
{
	struct stat want, got;
	char path[64];
	pid_t pid = fork();

	T_ASSERT(pid >= 0);
	if (pid == 0) {
		execl("/proc/self/exe", "test_orphans", "--chrooted", root, "--id", id,
		      (char *)NULL);
		_exit(127);
	}
	T_ASSERT(stat(root, &want) == 0);
	snprintf(path, sizeof(path), "/proc/%d/root", (int)pid);
	for (int i = 0; i < 500; i++) {
		if (stat(path, &got) == 0 && got.st_ino == want.st_ino && got.st_dev == want.st_dev)
			return pid;
		usleep(10000);
	}
	kill(pid, SIGKILL);
	T_FAIL("pid %d never chrooted into %s", (int)pid, root);
}

/* pid ended by SIGKILL (1) or still running (0). */
static int killed(pid_t pid)
{
	int status;

	for (int i = 0; i < 200; i++) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
		usleep(10000);
	}
	return 0;
}

static void reap(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/* In one of our jails and no VM owns it: killed; its jail stays for the
 * sweep. */
static void t_jailed_orphan_killed(void)
{
	pid_t pid;

	setup();
	pid = jailed(mkroot("template"), "template");
	T_EQ_INT(pw_kill_orphans(NULL, tmp, jails), 1);
	T_EQ_INT(killed(pid), 1);
	T_EQ_INT(pw_rm_tree(tmp), 0);
}

/* The VMM of a VM under management (adopted): spared. */
static void t_jailed_managed_spared(void)
{
	struct pw_vm vm = { 0 };
	pid_t pid;

	setup();
	pid = jailed(mkroot("vm-a"), "vm-a");
	vm.state = PW_S_RUNNING;
	vm.row.vmm_pid = pid;
	snprintf(vm.row.id, sizeof(vm.row.id), "vm-a");
	T_EQ_INT(pw_kill_orphans(&vm, tmp, jails), 0);
	T_EQ_INT(killed(pid), 0);
	/* once its VM is final (no VMM): an orphan */
	vm.state = PW_S_STOPPED;
	T_EQ_INT(pw_kill_orphans(&vm, tmp, jails), 1);
	T_EQ_INT(killed(pid), 1);
	T_EQ_INT(pw_rm_tree(tmp), 0);
}

/* Not ours: --id names a jail of ours but its / is another directory; its /
 * is our jail but it says another id; no jails given (no vmm.jailer). */
static void t_not_ours_spared(void)
{
	char other[PATH_MAX + 16];
	pid_t a, b, c;

	setup();
	mkroot("vm-b");
	snprintf(other, sizeof(other), "%s/other", tmp);
	T_ASSERT(mkdir(other, 0700) == 0);
	a = jailed(other, "vm-b");
	b = jailed(mkroot("vm-c"), "vm-d");
	c = jailed(mkroot("vm-e"), "vm-e");
	T_EQ_INT(pw_kill_orphans(NULL, tmp, ""), 0);
	T_EQ_INT(pw_kill_orphans(NULL, tmp, NULL), 0);
	T_EQ_INT(killed(c), 0);
	T_EQ_INT(pw_kill_orphans(NULL, tmp, jails), 1);
	T_EQ_INT(killed(c), 1);
	T_EQ_INT(killed(a), 0);
	T_EQ_INT(killed(b), 0);
	reap(a);
	reap(b);
	T_EQ_INT(pw_rm_tree(tmp), 0);
}

static int exists(const char *dir, const char *name)
{
	char path[PATH_MAX * 2];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return lstat(path, &st) == 0;
}

/* Entries no VM names go, with everything under them (a symlink as a link,
 * never followed); a VM's stays; a missing directory is nothing to do. */
static void t_sweep(void)
{
	char vms[PATH_MAX + 8], path[PATH_MAX * 2], keep[PATH_MAX + 8];
	struct pw_vm vm = { 0 };
	FILE *f;

	setup();
	snprintf(vms, sizeof(vms), "%s/vms", tmp);
	snprintf(keep, sizeof(keep), "%s/keep", tmp);
	T_ASSERT(mkdir(vms, 0700) == 0 && mkdir(keep, 0700) == 0);
	snprintf(path, sizeof(path), "%s/vm-gone", vms);
	T_ASSERT(mkdir(path, 0700) == 0);
	snprintf(path, sizeof(path), "%s/vm-gone/sock", vms);
	T_ASSERT((f = fopen(path, "w")) && fclose(f) == 0);
	snprintf(path, sizeof(path), "%s/vm-gone/link", vms);
	T_ASSERT(symlink(keep, path) == 0);
	snprintf(path, sizeof(path), "%s/vm-live", vms);
	T_ASSERT(mkdir(path, 0700) == 0);
	snprintf(path, sizeof(path), "%s/template", vms);
	T_ASSERT(mkdir(path, 0700) == 0);
	snprintf(path, sizeof(path), "%s/vm-live.qmp", vms); /* an older layout's */
	T_ASSERT((f = fopen(path, "w")) && fclose(f) == 0);
	snprintf(path, sizeof(path), "%s/vm-liveX", vms);    /* another id */
	T_ASSERT(mkdir(path, 0700) == 0);
	snprintf(vm.row.id, sizeof(vm.row.id), "vm-live");
	vm.state = PW_S_WARM;
	T_EQ_INT(pw_sweep_vmm_dirs(&vm, vms), 3);
	T_ASSERT(!exists(vms, "vm-gone") && !exists(vms, "template") && !exists(vms, "vm-liveX"));
	T_ASSERT(exists(vms, "vm-live") && exists(vms, "vm-live.qmp"));
	T_ASSERT(exists(tmp, "keep"));
	T_EQ_INT(pw_sweep_vmm_dirs(&vm, vms), 0);
	snprintf(path, sizeof(path), "%s/none", tmp);
	T_EQ_INT(pw_sweep_vmm_dirs(&vm, path), 0);
	T_EQ_INT(pw_rm_tree(tmp), 0);
}

int main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		T_CASE(t_jailed_orphan_killed),
		T_CASE(t_jailed_managed_spared),
		T_CASE(t_not_ours_spared),
		T_CASE(t_sweep),
		{ 0 },
	};

	if (argc == 5 && strcmp(argv[1], "--chrooted") == 0) {
		if (chroot(argv[2]) < 0 || chdir("/") < 0)
			return 126;
		for (;;)
			pause();
	}
	return t_run(argc, argv, cases);
}
