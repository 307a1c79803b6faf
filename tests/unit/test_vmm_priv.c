/*
 * test_vmm_priv — who a VMM runs as (pool-worker/vmm_priv.c), the jailer's
 * command line and chroot files (fc_jail.c), and the exec helper
 * (vmm-exec/main.c) as a real process: what /proc/self/status says after
 * it has dropped everything. Root only for the parts that chown or drop.
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

#include "../../pool-worker/fc_jail.h"
#include "../../pool-worker/vmm_priv.h"
#include "t.h"

static char tmp[PATH_MAX];

static void mktmp(void)
{
	char tmpl[] = "/tmp/test_vmm_priv.XXXXXX";

	T_ASSERT(mkdtemp(tmpl));
	snprintf(tmp, sizeof(tmp), "%s", tmpl);
}

static void joined(char *const argv[], char *out, size_t len)
{
	size_t o = 0;

	out[0] = '\0';
	for (int i = 0; argv[i] && o < len; i++)
		o += (size_t)snprintf(out + o, len - o, "%s%s", i ? "|" : "", argv[i]);
}

static void cfg_init(struct ui_config *cfg)
{
	ui_config_defaults(cfg);
	snprintf(cfg->run_dir, sizeof(cfg->run_dir), "/r");
	snprintf(cfg->jailer_bin, sizeof(cfg->jailer_bin), "/usr/bin/jailer");
	snprintf(cfg->chroot_base, sizeof(cfg->chroot_base), "/r/jail");
	snprintf(cfg->firecracker_bin, sizeof(cfg->firecracker_bin), "/opt/fc/firecracker-v1");
}

/* The documented arguments, in order; --cgroup-version follows vmm.cgroup. */
static void t_jail_argv(void)
{
	struct pw_vmm_priv pv = { .drop = true, .uid = 995, .gid = 994 };
	static struct pw_argv a;
	struct ui_config cfg;
	char s[2048], p[PATH_MAX];

	cfg_init(&cfg);
	T_EQ_INT(pw_jail_argv(&cfg, &pv, PW_CG_V1, "/opt/fc/firecracker-v1", "vm-x", &a), 0);
	joined(a.argv, s, sizeof(s));
	T_EQ_STR(s, "/usr/bin/jailer|--id|vm-x|--exec-file|/opt/fc/firecracker-v1|--uid|995|"
		    "--gid|994|--chroot-base-dir|/r/jail|--cgroup-version|1|--|"
		    "--api-sock|/run/firecracker.socket");
	T_EQ_INT(pw_jail_argv(&cfg, &pv, PW_CG_V2, "/f/firecracker", "vm-y", &a), 0);
	joined(a.argv, s, sizeof(s));
	T_ASSERT(strstr(s, "|--cgroup-version|2|--|"));
	T_EQ_INT(pw_jail_argv(&cfg, &pv, PW_CG_OFF, "/f/firecracker", "vm-y", &a), 0);
	joined(a.argv, s, sizeof(s));
	T_ASSERT(!strstr(s, "cgroup"));
	/* the chroot is named after the exec file's last component */
	T_EQ_INT(pw_jail_dir(&cfg, "vm-x", p, sizeof(p)), 0);
	T_EQ_STR(p, "/r/jail/firecracker-v1/vm-x");
	T_EQ_INT(pw_jail_root(&cfg, "vm-x", p, sizeof(p)), 0);
	T_EQ_STR(p, "/r/jail/firecracker-v1/vm-x/root");
	T_EQ_INT(pw_vmm_dir(&cfg, "vm-x", p, sizeof(p)), 0);
	T_EQ_STR(p, "/r/vms/vm-x");
}

static void t_helper_argv(void)
{
	struct pw_vmm_priv pv = { .drop = true, .uid = 995, .gid = 994 };
	char *argv[] = { "qemu-system-x86_64", "-M", "microvm", NULL }, *out[8], ids[2][16], s[512];

	snprintf(pv.helper, sizeof(pv.helper), "/b/uigniter-vmm-exec");
	T_EQ_INT(pw_vmm_priv_argv(&pv, "/usr/bin/qemu-system-x86_64", argv, ids, out, 8), 0);
	joined(out, s, sizeof(s));
	T_EQ_STR(s, "/b/uigniter-vmm-exec|995|994|/usr/bin/qemu-system-x86_64|-M|microvm");
	T_EQ_INT(pw_vmm_priv_argv(&pv, "/q", argv, ids, out, 5), -E2BIG);
}

/* The VMM's directory: fresh (old contents gone), 0700, the user's; the
 * tree removal does not follow a symlink out of it. */
static void t_vmm_dir(void)
{
	struct pw_vmm_priv pv = { .drop = true, .uid = 4242, .gid = 4343 };
	char dir[PATH_MAX + 16], f[PATH_MAX + 32], out[PATH_MAX + 16], err[256];
	struct stat st;

	if (geteuid() != 0)
		T_SKIP("needs root (chown)");
	mktmp();
	snprintf(dir, sizeof(dir), "%s/vm-x", tmp);
	snprintf(out, sizeof(out), "%s/outside", tmp);
	T_ASSERT(mkdir(dir, 0755) == 0 && mkdir(out, 0755) == 0);
	snprintf(f, sizeof(f), "%s/stale.sock", dir);
	T_ASSERT(close(open(f, O_CREAT | O_WRONLY, 0600)) == 0);
	snprintf(f, sizeof(f), "%s/keep", out);
	T_ASSERT(close(open(f, O_CREAT | O_WRONLY, 0600)) == 0);
	snprintf(f, sizeof(f), "%s/link", dir);
	T_ASSERT(symlink(out, f) == 0);
	T_EQ_INT(pw_vmm_dir_make(&pv, dir, err, sizeof(err)), 0);
	T_ASSERT(stat(dir, &st) == 0);
	T_EQ_INT(st.st_mode & 07777, 0700);
	T_EQ_INT(st.st_uid, 4242);
	T_EQ_INT(st.st_gid, 4343);
	snprintf(f, sizeof(f), "%s/stale.sock", dir);
	T_ASSERT(access(f, F_OK) < 0 && errno == ENOENT);
	snprintf(f, sizeof(f), "%s/keep", out);
	T_ASSERT(access(f, F_OK) == 0); /* the symlink went, not what it named */
	T_EQ_INT(pw_rm_tree(dir), 0);
	T_ASSERT(access(dir, F_OK) < 0);
	T_EQ_INT(pw_rm_tree(dir), 0); /* gone already: fine */
	T_EQ_INT(pw_rm_tree(tmp), 0);
}

/* run_dir must be reachable: a directory above it the user cannot search
 * is named. */
static void t_check_path(void)
{
	struct pw_vmm_priv pv = { .drop = true, .uid = 4242, .gid = 4343 };
	char dir[PATH_MAX + 16], err[PATH_MAX * 3];

	if (geteuid() != 0)
		T_SKIP("needs root (chown)");
	mktmp();
	snprintf(dir, sizeof(dir), "%s/run/vms", tmp);
	T_ASSERT(chmod(tmp, 0711) == 0);
	T_ASSERT(mkdir(dir, 0755) < 0); /* run/ first */
	snprintf(dir, sizeof(dir), "%s/run", tmp);
	T_ASSERT(mkdir(dir, 0750) == 0);
	snprintf(dir, sizeof(dir), "%s/run/vms", tmp);
	T_ASSERT(mkdir(dir, 0755) == 0);
	T_EQ_INT(pw_vmm_priv_check_path(&pv, dir, err, sizeof(err)), -EACCES);
	T_ASSERT(strstr(err, "/run (mode 0750, 0:0) is not searchable by the VMM user (uid 4242)"));
	snprintf(dir, sizeof(dir), "%s/run", tmp);
	T_ASSERT(chown(dir, 0, 4343) == 0); /* its group may */
	snprintf(dir, sizeof(dir), "%s/run/vms", tmp);
	T_EQ_INT(pw_vmm_priv_check_path(&pv, dir, err, sizeof(err)), 0);
	T_ASSERT(chmod(tmp, 0700) == 0);
	T_EQ_INT(pw_vmm_priv_check_path(&pv, dir, err, sizeof(err)), -EACCES);
	pv.drop = false; /* vmm.user root: nothing to check */
	T_EQ_INT(pw_vmm_priv_check_path(&pv, dir, err, sizeof(err)), 0);
	T_EQ_INT(pw_rm_tree(tmp), 0);
}

/* Image files into the chroot: hard links of the file itself (through a
 * symlink too); a missing one is the run's error. */
static void t_jail_link(void)
{
	struct pw_vmm_priv pv = { .drop = false };
	char src[PATH_MAX + 16], lnk[PATH_MAX + 16], in[64], err[PATH_MAX * 3];
	struct stat a, b;

	mktmp();
	snprintf(src, sizeof(src), "%s/vmlinux", tmp);
	T_ASSERT(close(open(src, O_CREAT | O_WRONLY, 0644)) == 0);
	T_EQ_INT(pw_jail_link(tmp, src, "kernel", &pv, in, sizeof(in), err, sizeof(err)), 0);
	T_EQ_STR(in, "/kernel");
	snprintf(lnk, sizeof(lnk), "%s/kernel", tmp);
	T_ASSERT(stat(src, &a) == 0 && lstat(lnk, &b) == 0);
	T_ASSERT(a.st_ino == b.st_ino && S_ISREG(b.st_mode));
	snprintf(lnk, sizeof(lnk), "%s/via-symlink", tmp);
	T_ASSERT(symlink(src, lnk) == 0);
	T_EQ_INT(pw_jail_link(tmp, lnk, "initrd", &pv, in, sizeof(in), err, sizeof(err)), 0);
	snprintf(lnk, sizeof(lnk), "%s/initrd", tmp);
	T_ASSERT(lstat(lnk, &b) == 0 && S_ISREG(b.st_mode) && b.st_ino == a.st_ino);
	T_EQ_INT(pw_jail_link(tmp, "", "rootfs", &pv, in, sizeof(in), err, sizeof(err)), 0);
	T_EQ_STR(in, "");
	snprintf(src, sizeof(src), "%s/nope", tmp); /* missing: Firecracker will say so */
	T_EQ_INT(pw_jail_link(tmp, src, "rootfs", &pv, in, sizeof(in), err, sizeof(err)), 0);
	T_EQ_STR(in, "/rootfs");
	T_EQ_INT(pw_rm_tree(tmp), 0);
}

/* Outside a jail: in place when the VMM user can read it there; else a
 * hard link when that is readable, else a copy 0440 root:<gid>. */
static void t_put_file(void)
{
	struct pw_vmm_priv pv = { .drop = true, .uid = 4242, .gid = 4343 };
	char src[PATH_MAX + 16], dir[PATH_MAX + 16], out[PATH_MAX + 32], err[PATH_MAX * 3];
	char want[PATH_MAX + 32], buf[8] = "";
	struct stat a, b;
	int fd;

	if (geteuid() != 0)
		T_SKIP("needs root (chown)");
	mktmp();
	T_ASSERT(chmod(tmp, 0711) == 0);
	snprintf(src, sizeof(src), "%s/k", tmp);
	T_ASSERT((fd = open(src, O_CREAT | O_WRONLY, 0644)) >= 0);
	T_ASSERT(write(fd, "abc", 3) == 3 && close(fd) == 0);
	snprintf(dir, sizeof(dir), "%s/vm", tmp);
	T_ASSERT(mkdir(dir, 0700) == 0);
	T_EQ_INT(pw_vmm_put_file(&pv, dir, src, "kernel", false, out, sizeof(out), err,
				 sizeof(err)), 0);
	T_EQ_STR(out, src); /* 0644 in a 0711 directory: reachable */
	T_ASSERT(chmod(tmp, 0700) == 0); /* now the directory is not */
	T_EQ_INT(pw_vmm_put_file(&pv, dir, src, "kernel", false, out, sizeof(out), err,
				 sizeof(err)), 0);
	snprintf(want, sizeof(want), "%s/kernel", dir);
	T_EQ_STR(out, want);
	T_ASSERT(stat(src, &a) == 0 && stat(out, &b) == 0 && a.st_ino == b.st_ino); /* linked */
	T_ASSERT(chmod(src, 0600) == 0); /* and the file not the user's to read: a copy */
	T_EQ_INT(pw_vmm_put_file(&pv, dir, src, "kernel", false, out, sizeof(out), err,
				 sizeof(err)), 0);
	T_ASSERT(stat(out, &b) == 0 && a.st_ino != b.st_ino);
	T_EQ_INT(b.st_mode & 07777, 0440);
	T_EQ_INT(b.st_uid, 0);
	T_EQ_INT(b.st_gid, 4343);
	T_ASSERT((fd = open(out, O_RDONLY)) >= 0 && read(fd, buf, sizeof(buf)) == 3 && close(fd) == 0);
	T_EQ_STR(buf, "abc");
	pv.drop = false; /* vmm.user root: always in place */
	T_EQ_INT(pw_vmm_put_file(&pv, dir, src, "kernel", false, out, sizeof(out), err,
				 sizeof(err)), 0);
	T_EQ_STR(out, src);
	T_EQ_INT(pw_rm_tree(tmp), 0);
}

/* Runs the helper with args; its stdout into out, its exit status back. */
static int helper(char *const args[], char *out, size_t len)
{
	char self[PATH_MAX], path[PATH_MAX + 32], *argv[8];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	int fd[2], status, i = 0;
	size_t got = 0;
	pid_t pid;

	T_ASSERT(n > 0);
	self[n] = '\0';
	*strrchr(self, '/') = '\0'; /* build/tests */
	snprintf(path, sizeof(path), "%s/../bin/uigniter-vmm-exec", self);
	argv[i++] = path;
	for (int k = 0; args[k] && i < 7; k++)
		argv[i++] = args[k];
	argv[i] = NULL;
	T_ASSERT(pipe(fd) == 0);
	T_ASSERT((pid = fork()) >= 0);
	if (pid == 0) {
		dup2(fd[1], 1);
		dup2(fd[1], 2);
		execv(path, argv);
		_exit(99);
	}
	close(fd[1]);
	while (got + 1 < len && (n = read(fd[0], out + got, len - got - 1)) > 0)
		got += (size_t)n;
	out[got] = '\0';
	close(fd[0]);
	T_ASSERT(waitpid(pid, &status, 0) == pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* The exec helper as a real process: ids, groups, every capability set
 * empty, no_new_privs — then the program runs; bad use is 126/127. */
static void t_exec_helper(void)
{
	char *cat[] = { "4242", "4343", "/bin/cat", "/proc/self/status", NULL };
	char *uid0[] = { "0", "4343", "/bin/true", NULL };
	char *rel[] = { "4242", "4343", "true", NULL };
	char *missing[] = { "4242", "4343", "/no/such/vmm", NULL };
	static char out[16384];

	if (geteuid() != 0)
		T_SKIP("needs root (it drops from root)");
	T_EQ_INT(helper(cat, out, sizeof(out)), 0);
	T_ASSERT(strstr(out, "\nUid:\t4242\t4242\t4242\t4242\n"));
	T_ASSERT(strstr(out, "\nGid:\t4343\t4343\t4343\t4343\n"));
	T_ASSERT(strstr(out, "\nGroups:\t \n") || strstr(out, "\nGroups:\t\n")); /* none */
	T_ASSERT(strstr(out, "\nCapInh:\t0000000000000000\n"));
	T_ASSERT(strstr(out, "\nCapPrm:\t0000000000000000\n"));
	T_ASSERT(strstr(out, "\nCapEff:\t0000000000000000\n"));
	T_ASSERT(strstr(out, "\nCapBnd:\t0000000000000000\n"));
	T_ASSERT(strstr(out, "\nCapAmb:\t0000000000000000\n"));
	T_ASSERT(strstr(out, "\nNoNewPrivs:\t1\n"));
	T_EQ_INT(helper(uid0, out, sizeof(out)), 126);
	T_ASSERT(strstr(out, "usage: uigniter-vmm-exec"));
	T_EQ_INT(helper(rel, out, sizeof(out)), 126);
	T_EQ_INT(helper(missing, out, sizeof(out)), 127);
	T_ASSERT(strstr(out, "uigniter-vmm-exec: exec /no/such/vmm: No such file or directory"));
}

int main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		T_CASE(t_jail_argv),
		T_CASE(t_helper_argv),
		T_CASE(t_vmm_dir),
		T_CASE(t_check_path),
		T_CASE(t_jail_link),
		T_CASE(t_put_file),
		T_CASE(t_exec_helper),
		{ 0 },
	};

	return t_run(argc, argv, cases);
}
