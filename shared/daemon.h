/*
 * daemon.h — the skeleton every uigniter daemon (netd, pool-worker, apid)
 * is built on: the contract with uigniterd, start-up, heartbeat, signals,
 * readiness and exit codes, written once.
 *
 * The contract (docs/ARCHITECTURE.md "How a daemon is started"):
 *   argv   <daemon> [--config PATH]    (no --config: embedded defaults)
 *   env    UIGNITER_SHM=<segment>      required: daemons are started by
 *                                      uigniterd, never alone
 *   fds    0 /dev/null, 1+2 the log, 3..6 the ring doorbells (inherited
 *          without CLOEXEC: the skeleton sets it, so VMMs never get them),
 *          7 the readiness pipe (UIGNITER_READY_FD)
 *   env    UIGNITER_RESTART=1              set when this daemon has been
 *                                      ready before in this manager's life
 *   exit   0 stopped by SIGTERM/SIGINT, 100 permanent failure (bad command
 *          line, config or registry schema: restarting cannot help — and
 *          only at a first start: a fault that appears later, e.g. a VMM
 *          binary removed or the config file broken while the manager
 *          runs, is 111, so uigniterd keeps everything else serving; see
 *          ui_daemon_permanent), 111 temporary failure
 *
 * Life of a daemon:
 *   ui_daemon_init     argv, config, logging               → 0 or exit code
 *   (daemon-specific checks that need only the config)
 *   ui_daemon_attach   doorbells, the role lock, shm,       → 0 or exit code
 *                      registry, loop
 *   (daemon-specific set-up on d->loop)
 *   ui_daemon_run      heartbeat (1 s, also on_tick and the shm copies of
 *                      the registry's commit count and write error),
 *                      SIGTERM/SIGINT → on_stop,
 *                      SIGHUP → on_reload, ready flag + byte, the loop
 *   ui_daemon_fini     loop, registry, shm, config, then the role lock
 *
 * The role lock (<state_dir>/<daemon>.lock, lock.h) is held for the
 * daemon's lifetime: a daemon whose role is already held against its
 * state_dir exits 111 and says who holds it. uigniterd starts each daemon
 * with a parent-death signal (SIGKILL), so no daemon outlives its manager.
 *
 * on_stop must end with ui_daemon_exit() (at once, or after draining):
 * it closes every handle still open so ui_daemon_run returns.
 *
 * Ownership: struct ui_daemon_ctx is caller-embedded (static: the config
 * is large); it owns cfg, shm, reg, loop and lock_fd.
 */
#ifndef UI_DAEMON_H
#define UI_DAEMON_H

#include <stdbool.h>
#include <uv.h>

#include "config.h"
#include "registry.h"
#include "shm.h"

#define UI_EXIT_OK 0
#define UI_EXIT_PERMANENT 100
#define UI_EXIT_TEMPORARY 111

#define UI_SHM_ENV "UIGNITER_SHM"
#define UI_RESTART_ENV "UIGNITER_RESTART"
/* The daemons run UI_DAEMON_NICE_BOOST nice levels above the priority
 * uigniterd was started with (when it may: root), so a host saturated by
 * guests does not starve the control plane (its heartbeats, the API);
 * VMMs run at the priority uigniterd was started with, which it passes in
 * UI_VMM_NICE_ENV, and — each in a session of its own, so each its own
 * scheduler autogroup — their sessions UI_DAEMON_NICE_BOOST below the
 * manager's (pool-worker/vmm_proc.c). */
#define UI_DAEMON_NICE_BOOST 5
#define UI_VMM_NICE_ENV "UIGNITER_VMM_NICE"

struct ui_daemon_ctx {
	enum ui_daemon which;
	const char *prog;
	struct ui_config cfg;
	struct ui_shm *shm;
	struct ui_registry *reg;
	uv_loop_t loop;
	uv_timer_t heartbeat;
	uv_signal_t sig_term, sig_int, sig_hup;
	/* Set by the daemon before ui_daemon_run; NULL: default. */
	void (*on_stop)(struct ui_daemon_ctx *d, int signum);  /* default: exit */
	void (*on_reload)(struct ui_daemon_ctx *d);           /* default: ignore */
	void (*on_tick)(struct ui_daemon_ctx *d);             /* each heartbeat */
	void *data;
	bool loop_ok;
	bool exiting;
	bool restarted; /* UI_RESTART_ENV: ready before in this manager's life */
	int lock_fd;    /* <state_dir>/<prog>.lock, held until fini (lock.h) */
};

int ui_daemon_init(struct ui_daemon_ctx *d, enum ui_daemon which, int argc, char **argv);
/* The exit code of a fault restarting cannot fix: UI_EXIT_PERMANENT at a
 * first start (uigniterd then stops: the operator must fix the config),
 * UI_EXIT_TEMPORARY after a restart (the fault came later; the manager
 * keeps serving and retries with backoff). */
int ui_daemon_permanent(const struct ui_daemon_ctx *d);
/* reg_flags: 0 (read-write) or UI_REG_RDONLY. */
int ui_daemon_attach(struct ui_daemon_ctx *d, int reg_flags);
/* Returns the exit code once the loop has ended. */
int ui_daemon_run(struct ui_daemon_ctx *d);
/* Closes every open handle of d->loop (those already closing are left to
 * their own callbacks): the loop then ends. */
void ui_daemon_exit(struct ui_daemon_ctx *d);
void ui_daemon_fini(struct ui_daemon_ctx *d);

#endif
