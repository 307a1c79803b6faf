/*
 * orphans.c — after a pool-worker crash, a VMM can be alive with no row that
 * owns it: the worker died between spawning it and recording its pid, or the
 * row's pid/start time no longer match (it was resolved as gone). Such a
 * process holds a tap and a socket nobody will ever release.
 *
 * Every VMM this instance starts names a socket under <run_dir>/vms/ on its
 * command line (QEMU: -qmp unix:<run_dir>/vms/<id>.qmp,…; Firecracker:
 * --api-sock <run_dir>/vms/<id>.sock), so the instance's VMMs are found by
 * scanning /proc/<pid>/cmdline for that prefix. A jailed Firecracker
 * (vmm.jailer) names only its chroot's paths (--api-sock
 * /run/firecracker.socket): it is found by its root instead — the process
 * says --id ID and its / is the directory <chroot_base>/<exec name>/<ID>/root
 * (fc_jail.h; the jails of one instance: its default chroot_base is
 * <run_dir>/jail). One that is not the VMM of a
 * VM under management (adopted or spawned by us) is SIGKILLed and its socket
 * removed (a jail's own socket goes with its jail, when that id is used
 * again or at start). Runs once, at start, after recovery; its children are reaped by
 * uigniterd (the subreaper) or init.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "orphans.h"
#include "fsm.h"
#include "vmm_priv.h"

static bool is_managed(struct pw_vm *vms, pid_t pid)
{
	for (struct pw_vm *vm = vms; vm; vm = vm->next)
		if (pw_state_has_vmm(vm->state) && vm->row.vmm_pid == pid)
			return true;
	return false;
}

static pid_t parent_of(pid_t pid)
{
	char path[64], buf[512], *rp;
	int ppid = 0, fd;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	rp = strrchr(buf, ')');
	if (rp && sscanf(rp + 1, " %*c %d", &ppid) != 1)
		ppid = 0;
	return (pid_t)ppid;
}

/* A socket a VM under management uses is never removed. */
static bool socket_in_use(struct pw_vm *vms, const char *path)
{
	for (struct pw_vm *vm = vms; vm; vm = vm->next)
		if (strcmp(vm->row.api_socket, path) == 0)
			return true;
	return false;
}

/* pid's command line, its arguments NUL-separated, into buf; its length
 * (0: none, or unreadable). */
static size_t read_cmdline(pid_t pid, char *buf, size_t len)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return (size_t)n;
}

/* The argument of the command line (n bytes) that names marker, copied to
 * out up to a ','. */
static bool cmdline_names(const char *buf, size_t n, const char *marker, char *out, size_t len)
{
	for (const char *arg = buf; arg < buf + n; arg += strlen(arg) + 1) {
		const char *at = strstr(arg, marker);

		if (at) {
			snprintf(out, len, "%.*s", (int)strcspn(at, ","), at);
			return true;
		}
	}
	return false;
}

/* pid runs in one of our jails: its command line says --id ID (as the
 * jailer passes it on) and its root directory is <jails>/<ID>/root — the
 * same directory (device and inode: the jailer's pivot_root in a mount
 * namespace of its own makes /proc/<pid>/root read "/"). The jail's root
 * into out. */
static bool jailed_in(pid_t pid, const char *buf, size_t n, const char *jails, char *out,
		      size_t len)
{
	char path[64];
	struct stat mine, its;

	for (const char *arg = buf; arg < buf + n; arg += strlen(arg) + 1) {
		const char *id = arg + strlen(arg) + 1;

		if (strcmp(arg, "--id") != 0 || id >= buf + n)
			continue;
		if (!*id || strchr(id, '/') || strcmp(id, "..") == 0 ||
		    snprintf(out, len, "%s/%s/root", jails, id) >= (int)len)
			return false;
		snprintf(path, sizeof(path), "/proc/%d/root", (int)pid);
		return stat(out, &mine) == 0 && stat(path, &its) == 0 &&
		       mine.st_dev == its.st_dev && mine.st_ino == its.st_ino;
	}
	return false;
}

static void remove_socket(const char *path)
{
	struct stat st;

	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path);
}

int pw_kill_orphans(struct pw_vm *vms, const char *run_dir, const char *jails)
{
	char marker[PATH_MAX], sock[PATH_MAX], cmdline[8192];
	struct dirent *de;
	int killed = 0;
	DIR *proc;

	if (snprintf(marker, sizeof(marker), "%s/vms/", run_dir) >=
	    (int)sizeof(marker))
		return -ENAMETOOLONG;
	proc = opendir("/proc");
	if (!proc)
		return -errno;
	while ((de = readdir(proc))) {
		pid_t pid;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		bool jailed = false;
		size_t n;

		pid = (pid_t)atoi(de->d_name);
		if (pid == getpid() || !(n = read_cmdline(pid, cmdline, sizeof(cmdline))))
			continue;
		if (!cmdline_names(cmdline, n, marker, sock, sizeof(sock))) {
			if (!jails || !*jails ||
			    !jailed_in(pid, cmdline, n, jails, sock, sizeof(sock)))
				continue;
			jailed = true;
		}
		/* A managed VMM's own helper task (e.g. LeakSanitizer's tracer,
		 * which shares its command line) is the VMM's business. */
		if (is_managed(vms, pid) || is_managed(vms, parent_of(pid)))
			continue;
		ui_warn("killing orphaned VMM pid %d (%s%s): no VM owns it", (int)pid,
			jailed ? "jailed in " : "", sock);
		if (kill(pid, SIGKILL) == 0)
			killed++;
		if (!jailed && !socket_in_use(vms, sock))
			remove_socket(sock);
	}
	closedir(proc);
	return killed;
}

int pw_sweep_vmm_dirs(struct pw_vm *vms, const char *dir)
{
	char path[PATH_MAX];
	struct dirent *de;
	int removed = 0, rc;
	DIR *d = opendir(dir);

	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		bool owned = false;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		/* <id>, or <id>.<anything> (an older layout's <id>.qmp) */
		for (struct pw_vm *vm = vms; vm && !owned; vm = vm->next) {
			size_t n = strlen(vm->row.id);

			owned = n && strncmp(vm->row.id, de->d_name, n) == 0 &&
				(de->d_name[n] == '\0' || de->d_name[n] == '.');
		}
		if (owned || snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >=
				     (int)sizeof(path))
			continue;
		if ((rc = pw_rm_tree(path)) < 0)
			ui_warn("cannot remove the leftover %s: %s", path, strerror(-rc));
		else
			removed++;
	}
	closedir(d);
	return removed;
}
