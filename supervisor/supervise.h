/*
 * supervise.h — uigniterd's child table: one fixed slot per daemon (netd,
 * pool-worker, apid), each an explicit state machine.
 *
 *   IDLE ──spawn──► STARTING ──ready byte on UI_READY_FD──► RUNNING
 *     ▲                 │ exit/crash                    │ exit/crash, or
 *     │                 ▼                               ▼ heartbeat lost (kill)
 *     └──timer──── BACKOFF ◄────────────────────────────┘
 *   IDLE or BACKOFF ──spawn: fork fails──► BACKOFF (retry in 5 s)
 *   (a restart timer that cannot be armed: DONE instead of BACKOFF, stop)
 *   any ──SIGTERM to manager──► STOPPING ──exit──► DONE
 *
 * Stop (SIGTERM/SIGINT to uigniterd, or a permanent failure): one child at
 * a time, apid → pool-worker → netd, each SIGTERMed and SIGKILLed if it has
 * not exited in 5 s (pool-worker: stop_timeout_ms + 5 s with
 * shutdown_policy stop, as it stops the VMs first and needs netd for that).
 *
 * Restart policy (ui_restart_delay_ms): a child that was ready restarts at
 * once unless it crashes in bursts; one that dies before ready backs off 0,
 * then 100 ms doubling up to 5 s; a child that exits with UI_EXIT_PERMANENT
 * (bad configuration: restarting cannot help) before it was ever ready
 * stops the manager; once it has been ready, the fault was not there at
 * first start and the manager must keep serving the rest: it is logged and
 * restarted like a crash (and the child is told, UI_RESTART_ENV). A fork
 * that fails (out of processes or memory) puts the slot in BACKOFF and is
 * retried after UI_BACKOFF_MAX_MS. The restart timer is the only way out of
 * BACKOFF: if it cannot be armed, the slot goes DONE and the manager stops
 * with UI_EXIT_TEMPORARY rather than leave a daemon silently down. Every
 * transition is logged.
 */
#ifndef UI_SUPERVISE_H
#define UI_SUPERVISE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "config.h"
#include "daemon.h"
#include "shm.h"


#define UI_BACKOFF_MIN_MS 100     /* second restart of a failing start */
#define UI_BACKOFF_MAX_MS 5000    /* cap of every restart delay */
#define UI_CRASH_WINDOW_MS 30000  /* crash-rate window ... */
#define UI_CRASH_BURST 40         /* ... more crashes than this in it: cap */

enum ui_child_state {
	UI_CHILD_IDLE,
	UI_CHILD_STARTING,
	UI_CHILD_RUNNING,
	UI_CHILD_BACKOFF,
	UI_CHILD_STOPPING,
	UI_CHILD_DONE,
};

/* Read end of a child's readiness pipe, watched until the byte or EOF. */
struct ui_ready_pipe {
	uv_poll_t poll;
	int fd;
	struct ui_child *child;
};

struct ui_child {
	enum ui_daemon which;
	enum ui_child_state state;
	pid_t pid;
	char path[4096];          /* executable */
	uint64_t started_ms;      /* spawn time */
	unsigned fast_failures;   /* consecutive exits before becoming ready */
	uint64_t window_start_ms; /* crash-rate window (see restart_delay) */
	unsigned window_crashes;
	bool been_ready;          /* ready at least once since the manager started */
	uv_timer_t restart_timer;
	struct ui_ready_pipe *ready; /* NULL once read or closed */
};

/* Caller-embedded; ui_supervisor_init fills it. */
struct ui_supervisor {
	uv_loop_t *loop;
	const struct ui_config *cfg;
	const char *config_path;   /* NULL: children use their defaults */
	const char *shm_name;
	struct ui_shm *shm;
	int doorbell[UI_RING_COUNT];
	struct ui_child child[UI_D_COUNT];
	uv_timer_t watchdog;
	uv_timer_t stop_timer;
	bool stopping;
	int exit_code;             /* what uigniterd exits with */
	pid_t (*fork_fn)(void);    /* fork(2); a seam for tests to fail it */
	int base_nice;             /* uigniterd's own: the VMMs' (daemon.h) */
	pid_t self_pid;            /* uigniterd: the parent children check */
};

/* Delay before the next restart of a child that has failed to become ready
 * `failures` times in a row: 0 for the first (<= 1), then
 * UI_BACKOFF_MIN_MS doubling, capped at UI_BACKOFF_MAX_MS. Pure. */
unsigned ui_backoff_ms(unsigned failures);
/* Delay before restarting a child that died: ui_backoff_ms(fast_failures)
 * (fast_failures is 0 when it had been ready), but UI_BACKOFF_MAX_MS once
 * window_crashes, its deaths in the current UI_CRASH_WINDOW_MS counting this
 * one, exceeds UI_CRASH_BURST. Pure. */
unsigned ui_restart_delay_ms(unsigned fast_failures, unsigned window_crashes);

int ui_supervisor_init(struct ui_supervisor *sv, uv_loop_t *loop,
		       const struct ui_config *cfg, const char *config_path,
		       const char *shm_name, struct ui_shm *shm,
		       const char *libexec_dir);
void ui_supervisor_start(struct ui_supervisor *sv);
/* Reap every exited child (SIGCHLD). Orphaned VMMs are reaped too. */
void ui_supervisor_reap(struct ui_supervisor *sv);
/* Orderly stop: SIGTERM every child, SIGKILL after a timeout. */
void ui_supervisor_stop(struct ui_supervisor *sv);
/* True once every child is DONE after ui_supervisor_stop. */
bool ui_supervisor_finished(const struct ui_supervisor *sv);
void ui_supervisor_close(struct ui_supervisor *sv);

#endif
