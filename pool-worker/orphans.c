/*
 * orphans.c — after a pool-worker crash, a VMM can be alive with no row that
 * owns it: the worker died between spawning it and recording its pid, or the
 * row's pid/start time no longer match (it was resolved as gone). Such a
 * process holds a tap and a socket nobody will ever release.
 *
 * Every VMM this instance starts names a socket under <run_dir>/vms/ on its
 * command line (QEMU: -qmp unix:<run_dir>/vms/<id>.qmp,…; Firecracker:
 * --api-sock <run_dir>/vms/<id>.sock), so the instance's VMMs are found by
 * scanning /proc/<pid>/cmdline for that prefix. One that is not the VMM of a
 * VM under management (adopted or spawned by us) is SIGKILLed and its socket
 * removed. Runs once, at start, after recovery; its children are reaped by
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

/* The argument of pid's command line that names marker, copied to out. */
static bool cmdline_names(pid_t pid, const char *marker, char *out, size_t len)
{
	char path[64], buf[8192];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	for (char *arg = buf; arg < buf + n; arg += strlen(arg) + 1) {
		char *at = strstr(arg, marker);

		if (at) {
			snprintf(out, len, "%.*s", (int)strcspn(at, ","), at);
			return true;
		}
	}
	return false;
}

static void remove_socket(const char *path)
{
	struct stat st;

	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path);
}

int pw_kill_orphans(struct pw_vm *vms, const char *run_dir)
{
	char marker[PATH_MAX], sock[PATH_MAX];
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
		pid = (pid_t)atoi(de->d_name);
		if (pid == getpid() || !cmdline_names(pid, marker, sock, sizeof(sock)))
			continue;
		/* A managed VMM's own helper task (e.g. LeakSanitizer's tracer,
		 * which shares its command line) is the VMM's business. */
		if (is_managed(vms, pid) || is_managed(vms, parent_of(pid)))
			continue;
		ui_warn("killing orphaned VMM pid %d (%s): no VM owns it", (int)pid, sock);
		if (kill(pid, SIGKILL) == 0)
			killed++;
		if (!socket_in_use(vms, sock))
			remove_socket(sock);
	}
	closedir(proc);
	return killed;
}
