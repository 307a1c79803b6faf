/*
 * vmm_proc.h — the VMM-process chores every driver shares: the console log
 * fd a VMM writes to, a pidfd proven to be the VMM a registry row names,
 * the exit status through that pidfd, and a pid-reuse-safe SIGKILL. The
 * drivers keep their own handles (uv_process_t / uv_poll_t) and lifetime;
 * these helpers hold no state.
 */
#ifndef PW_VMM_PROC_H
#define PW_VMM_PROC_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "registry.h"

/* Opens (appending, O_CLOEXEC) the console log; fd, or negative errno
 * with a sentence in err. */
int pw_open_console(const char *path, char *err, size_t errlen);

/* A pidfd for row's VMM, checked to be that very process (pid and
 * /proc start time; the pidfd pins the pid, so the check stays true).
 * -ESRCH with a sentence in err when it is gone, reused or unrecorded. */
int pw_pidfd_for_row(const struct ui_vm *row, char *err, size_t errlen);

/* How the process behind pidfd ended: known only if it was our child
 * (waitid P_PIDFD); else *code = -1, *sig = 0. */
void pw_pidfd_exit_status(int pidfd, int64_t *code, int *sig);

/* SIGKILL through proc (our child; NULL if adopted) or the pidfd. A VMM
 * already gone is not an error. */
int pw_vmm_kill(uv_process_t *proc, int pidfd);

#endif
