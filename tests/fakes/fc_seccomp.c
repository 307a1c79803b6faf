/*
 * fc_seccomp.c — the fake's imitation of Firecracker's own seccomp filter:
 * the real one always installs one (unless --no-seccomp), so a running
 * Firecracker shows "Seccomp: 2" and "NoNewPrivs: 1" in /proc/PID/status.
 * The fake's is an allow-by-default list that refuses (EPERM) a few calls
 * a VMM never needs; it is there to be seen, not to confine. ptrace is not
 * among them: LeakSanitizer stops the process with it at exit, so an
 * ASan build of the fake (make asan) would exit 1 after every clean stop.
 */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "fc_seccomp.h"

#define DENY(nr) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1), \
		 BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA))

int fc_seccomp_install(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		DENY(SYS_kexec_load), DENY(SYS_reboot), DENY(SYS_mount),
		DENY(SYS_umount2), DENY(SYS_pivot_root), DENY(SYS_init_module),
		DENY(SYS_finit_module), DENY(SYS_delete_module), DENY(SYS_swapon),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { (unsigned short)(sizeof(f) / sizeof(f[0])), f };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) < 0)
		return -errno;
	return 0;
}
