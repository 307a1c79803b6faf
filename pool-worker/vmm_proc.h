/*
 * vmm_proc.h — the VMM process every driver has, as one struct the driver
 * embeds: spawn (own session, so it survives pool-worker; console log as
 * stdout/stderr; stdin /dev/null), adopt (a pidfd proven to be the process
 * a registry row names), the exit watch (a pidfd poll for both; our child
 * is reaped through it with its status), a pid-reuse-safe SIGKILL (through
 * the pidfd), and the lifetime
 * of the driver's libuv handles: the struct owns the driver's timers too,
 * and calls on_free once every handle it owns has closed, so a driver never
 * counts handles itself.
 *
 * Exactly one on_exit call per process watched (spawned or adopted),
 * never after pw_vmm_proc_close().
 *
 * Ownership: caller-embedded (in the driver's per-VM struct, which on_free
 * frees); timers' data is the embedding struct's `owner` pointer.
 */
#ifndef PW_VMM_PROC_H
#define PW_VMM_PROC_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "cgroup.h"
#include "registry.h"
#include "vmm_priv.h"

#define PW_VMM_TIMERS 3 /* qemu: retry, deadline, agent (snapshot slots) */
#define PW_VMM_MAX_ARGS 64
#define PW_NO_AUTOGROUP (-99)
#define PW_VMM_PASS_FD 3

struct spawn_job;

struct pw_vmm_proc {
	uv_loop_t *loop;
	void *owner;                       /* the driver's struct */
	uv_poll_t pidfd_poll;              /* the VMM's pidfd (spawned or adopted) */
	uv_timer_t timer[PW_VMM_TIMERS];   /* the driver's (data = owner) */
	int pidfd;
	int open_handles;
	bool have_poll;
	bool exited;                       /* exit seen (or spawn failed) */
	bool closing;
	void (*on_exit)(struct pw_vmm_proc *p, int64_t status, int sig);
	void (*on_free)(struct pw_vmm_proc *p);
	/* A spawn's outcome (status 0: p->pid runs and is watched; else
	 * -errno and a sentence). Set by the driver before spawning. */
	void (*on_spawned)(struct pw_vmm_proc *p, int status, const char *err);
	pid_t pid;
	int nice;                          /* the child's priority (init: ours) */
	int autogroup_nice;                /* its session's (init: none, -99) */
	/* The VM's cgroup (cgroup.h): NULL or off = none. The VMM is moved
	 * into it right after its exec, before on_spawned; set by the driver
	 * (pw_vmm_proc_cgroup). */
	const struct pw_cgroups *cgroups;
	const struct ui_vm *cg_row;        /* id, vcpus, mem_mib */
	/* Who the VMM runs as (vmm_priv.h): NULL or not dropping = as we do;
	 * else spawned through the exec helper. Set by the driver. */
	const struct pw_vmm_priv *priv;
	/* One more fd the VMM gets as its fd 3 (PW_VMM_PASS_FD), e.g. a
	 * snapshot's state file for -incoming fd:3; -1 none. The spawn takes
	 * it over (closed once the child has it, or on failure). */
	int pass_fd;
	struct spawn_job *job;             /* a spawn in progress */
	bool kill_pending;                 /* kill asked for while spawning */
};

/* Initialises the timers (always: close must follow, even on failure). */
int pw_vmm_proc_init(struct pw_vmm_proc *p, uv_loop_t *loop, void *owner,
		     void (*on_exit)(struct pw_vmm_proc *p, int64_t status, int sig),
		     void (*on_free)(struct pw_vmm_proc *p));
/* The spawns of p go into row's cgroup under cg (NULL: none). */
void pw_vmm_proc_cgroup(struct pw_vmm_proc *p, const struct pw_cgroups *cg,
			const struct ui_vm *row);
/* Starts spawning argv (argv[0] looked up in PATH; through p->priv's exec
 * helper when it drops privileges) detached in its own
 * session, stdout/stderr appended to console_log, stdin /dev/null,
 * signals reset, at priority p->nice (daemon.h: VMMs below the daemons),
 * in its VM's cgroup (a cgroup that cannot be made or entered fails the
 * spawn: on_spawned with the sentence, no process left).
 * Asynchronous: 0 = under way, on_spawned follows once (p->pid set on
 * success); a console log that cannot be opened or a missing executable
 * fails here at once (-errno + sentence, nothing follows).
 * Spawn errors are the host's, never the client's: an executable that is
 * missing or cannot be run (here or at exec) is PW_VMM_UNAVAILABLE (a run
 * answers 503 with the sentence, which names the binary), a console log
 * path that does not exist -EIO; never -ENOENT (a client's 404). */
#define PW_VMM_UNAVAILABLE (-EAGAIN)
int pw_vmm_proc_spawn(struct pw_vmm_proc *p, char *const argv[],
		      const char *console_log, char *err, size_t errlen);
/* Watches row's VMM through a pidfd after checking it is that very process
 * (pid + /proc start time). -ESRCH with a sentence when gone or reused. */
int pw_vmm_proc_adopt(struct pw_vmm_proc *p, const struct ui_vm *row, char *err,
		      size_t errlen);
/* A process is being watched and has not exited. */
bool pw_vmm_proc_running(const struct pw_vmm_proc *p);
/* SIGKILL; 0 when sent, already exited or (spawning) to be sent once the
 * process exists — its exit is reported; -ESRCH when there never was a
 * process (nothing spawned or adopted, or the spawn failed). */
int pw_vmm_proc_kill(struct pw_vmm_proc *p);
/* Closes every handle (the process is left running); on_free follows. */
void pw_vmm_proc_close(struct pw_vmm_proc *p);

/* The file execvp would run for prog (PATH lookup without a '/'), into
 * out: 0, or -ENOENT when there is no such executable regular file. */
int pw_find_program(const char *prog, char *out, size_t len);

/* The nice value of our own scheduler autogroup (/proc/self/autogroup),
 * or -ENOENT when the kernel has none. */
int pw_autogroup_nice(void);

/* Field 22 of /proc/PID/stat; -ESRCH when the process is gone or a zombie. */
int pw_proc_start_time(int64_t pid, int64_t *out);

#endif
