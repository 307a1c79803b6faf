/*
 * vmm_proc.c — VMM-process helpers shared by the drivers (see vmm_proc.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vm.h"
#include "vmm_proc.h"

#ifndef P_PIDFD
#define P_PIDFD 3 /* linux/wait.h; glibc 2.36 does not define it */
#endif

int pw_open_console(const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);

	if (fd < 0) {
		snprintf(err, errlen, "cannot open console log %s: %s", path,
			 strerror(errno));
		return -errno;
	}
	return fd;
}

int pw_pidfd_for_row(const struct ui_vm *row, char *err, size_t errlen)
{
	int64_t start = 0;
	int fd;

	if (row->vmm_pid <= 0) {
		snprintf(err, errlen, "no pid recorded");
		return -ESRCH;
	}
	fd = pidfd_open((pid_t)row->vmm_pid, 0); /* always O_CLOEXEC */
	if (fd < 0) {
		snprintf(err, errlen, "pidfd_open: %s", strerror(errno));
		return -ESRCH;
	}
	if (pw_proc_start_time(row->vmm_pid, &start) < 0 ||
	    start != row->vmm_start_time) {
		snprintf(err, errlen, "process gone or pid reused");
		close(fd);
		return -ESRCH;
	}
	return fd;
}

void pw_pidfd_exit_status(int pidfd, int64_t *code, int *sig)
{
	siginfo_t si = { 0 };

	*code = -1;
	*sig = 0;
	if (waitid((idtype_t)P_PIDFD, (id_t)pidfd, &si, WEXITED | WNOHANG) == 0 &&
	    si.si_pid != 0) {
		if (si.si_code == CLD_EXITED)
			*code = si.si_status;
		else
			*sig = si.si_status;
	}
}

int pw_vmm_kill(uv_process_t *proc, int pidfd)
{
	if (proc)
		return uv_process_kill(proc, SIGKILL);
	if (pidfd >= 0 && pidfd_send_signal(pidfd, SIGKILL, NULL, 0) < 0)
		return errno == ESRCH ? 0 : -errno;
	return 0;
}
