/*
 * supervise.c — the child table of uigniterd (see supervise.h for the state
 * machine).
 *
 * Children are started with fork+exec by hand, not uv_spawn: uigniterd is the
 * child subreaper, so it must reap with waitpid(-1) — orphaned VMM processes
 * land here when a pool-worker dies — and libuv's per-pid reaping would race
 * with that (sv->fork_fn is fork, replaceable by tests). The child gets
 * exactly: fd 0 /dev/null, fds 1/2 inherited (the log), fds 3..6 the ring
 * doorbells, fd 7 the write end of its readiness pipe (UI_READY_FD), env
 * UIGNITER_SHM and UIGNITER_READY_FD; every other fd of ours is O_CLOEXEC.
 *
 * A child dies with uigniterd: its parent-death signal is SIGKILL (set in
 * the child before exec, then the parent checked, so a manager that died in
 * between is noticed). A manager killed is a crash, handled as a kill -9 of
 * the whole manager: VMMs run on (they are pool-worker's children, and the
 * signal is not inherited across fork) and the next manager re-adopts them.
 * SIGKILL, not SIGTERM: no supervisor is left to SIGKILL a daemon that
 * hangs in its stop, and it would keep its role lock (lock.h) for ever.
 *
 * shm daemon status: uigniterd writes pid, up, generation, restarts (exits
 * that were followed by a scheduled restart; a failed fork is no exit); the
 * daemon writes ready and heartbeat_ms. A RUNNING child whose heartbeat is
 * older than UI_HEARTBEAT_DEADLINE_MS (hung, e.g. SIGSTOP) is SIGKILLed and
 * restarted like a crash.
 *
 * Every libuv call that can fail is checked. A BACKOFF slot leaves only by
 * its restart timer, and the watchdog is what catches hung children: if
 * either cannot be armed, supervision is broken, so uigniterd stops with
 * UI_EXIT_TEMPORARY (supervisor_fail) for its own supervisor to restart it,
 * rather than run on with a daemon silently down. Failing to arm the stop
 * timer only loses the SIGKILL backstop; the child has had its SIGTERM.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "supervise.h"

#define UI_LOUD_FAILURES 5            /* report loudly from this many on */
#define UI_HEARTBEAT_DEADLINE_MS 5000
#define UI_STOP_TIMEOUT_MS 5000
#define UI_FORK_RETRY_MS UI_BACKOFF_MAX_MS /* out of processes or memory */

static const char *const state_names[] = {
	"idle", "starting", "running", "backoff", "stopping", "done",
};

static void child_set_state(struct ui_child *c, enum ui_child_state s,
			    const char *why)
{
	ui_info("%s: %s -> %s%s%s", ui_daemon_name(c->which),
		state_names[c->state], state_names[s], why ? ": " : "",
		why ? why : "");
	c->state = s;
}

/* In the forked child: die with the manager. The parent-death signal
 * survives execve; checking the parent after setting it closes the race
 * with a manager that died before (the signal would never come). */
static void child_die_with(pid_t manager)
{
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) {
		fprintf(stderr, "uigniterd: PR_SET_PDEATHSIG: %s\n", strerror(errno));
		_exit(UI_EXIT_TEMPORARY);
	}
	if (getppid() != manager)
		_exit(UI_EXIT_TEMPORARY); /* the manager is gone already */
}

/* In the forked child: place the doorbells at 3..6, the readiness pipe at
 * UI_READY_FD, and exec. Never returns. */
static void child_exec(const struct ui_supervisor *sv, const struct ui_child *c,
		       int ready_w)
{
	int high[UI_RING_COUNT];
	char nice[16];
	int devnull;
	sigset_t none;
	char *argv[4];
	int argc = 0;

	child_die_with(sv->self_pid);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int i = 0; i < UI_RING_COUNT; i++)
		high[i] = fcntl(sv->doorbell[i], F_DUPFD_CLOEXEC, 64);
	if (ready_w >= 0)
		ready_w = fcntl(ready_w, F_DUPFD_CLOEXEC, 64);
	for (int i = 0; i < UI_RING_COUNT; i++)
		if (high[i] < 0 || dup2(high[i], UI_DOORBELL_FD(i)) < 0)
			_exit(UI_EXIT_TEMPORARY);
	if (ready_w >= 0 && dup2(ready_w, UI_READY_FD) == UI_READY_FD)
		setenv(UI_READY_FD_ENV, "7", 1);
	devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (devnull >= 0)
		dup2(devnull, 0);
	setenv(UI_SHM_ENV, sv->shm_name, 1);
	if (c->been_ready)
		setenv(UI_RESTART_ENV, "1", 1);
	else
		unsetenv(UI_RESTART_ENV);
	snprintf(nice, sizeof(nice), "%d", sv->base_nice);
	setenv(UI_VMM_NICE_ENV, nice, 1);
	/* Unprivileged: EACCES, the daemon runs at our priority. */
	if (setpriority(PRIO_PROCESS, 0, sv->base_nice - UI_DAEMON_NICE_BOOST) < 0 &&
	    errno != EACCES && errno != EPERM)
		fprintf(stderr, "uigniterd: setpriority: %s\n", strerror(errno));
	argv[argc++] = (char *)c->path;
	if (sv->config_path) {
		argv[argc++] = (char *)"--config";
		argv[argc++] = (char *)sv->config_path;
	}
	argv[argc] = NULL;
	execv(c->path, argv);
	fprintf(stderr, "uigniterd: exec %s: %s\n", c->path, strerror(errno));
	_exit(UI_EXIT_PERMANENT);
}

static void on_ready_closed(uv_handle_t *h)
{
	struct ui_ready_pipe *rp = h->data;

	close(rp->fd);
	free(rp);
}

static void ready_pipe_close(struct ui_child *c)
{
	if (!c->ready)
		return;
	uv_close((uv_handle_t *)&c->ready->poll, on_ready_closed);
	c->ready = NULL;
}

/* The daemon wrote its readiness byte (or closed the pipe: exited). */
static void on_ready(uv_poll_t *h, int status, int events)
{
	struct ui_ready_pipe *rp = h->data;
	struct ui_child *c = rp->child;
	char b;

	(void)events;
	if (status == 0 && read(rp->fd, &b, 1) == 1 && c->state == UI_CHILD_STARTING)
		child_set_state(c, UI_CHILD_RUNNING, "ready");
	if (c->state == UI_CHILD_RUNNING)
		c->been_ready = true;
	ready_pipe_close(c);
}

/* A pipe whose write end the child inherits as UI_READY_FD. */
static int ready_pipe_open(struct ui_supervisor *sv, struct ui_child *c, int *wfd)
{
	struct ui_ready_pipe *rp;
	int p[2], r;

	ready_pipe_close(c);
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	rp = calloc(1, sizeof(*rp));
	if (!rp) {
		r = -ENOMEM;
		goto out_close_pipe;
	}
	rp->fd = p[0];
	rp->child = c;
	r = uv_poll_init(sv->loop, &rp->poll, p[0]);
	if (r < 0)
		goto out_free;
	rp->poll.data = rp;
	r = uv_poll_start(&rp->poll, UV_READABLE, on_ready);
	if (r < 0)
		goto out_close_poll;
	c->ready = rp;
	*wfd = p[1];
	return 0;

out_close_poll:
	uv_close((uv_handle_t *)&rp->poll, on_ready_closed); /* closes p[0], frees rp */
	close(p[1]);
	return r;
out_free:
	free(rp);
out_close_pipe:
	close(p[0]);
	close(p[1]);
	return r;
}

/* Supervision is broken (a timer cannot be armed): stop everything and exit
 * UI_EXIT_TEMPORARY, unless a permanent failure already set the code. */
static void supervisor_fail(struct ui_supervisor *sv, const char *what, int r)
{
	ui_error("%s: %s; stopping uigniter", what, uv_strerror(r));
	if (sv->exit_code == UI_EXIT_OK)
		sv->exit_code = UI_EXIT_TEMPORARY;
	ui_supervisor_stop(sv);
}

static void on_restart_timer(uv_timer_t *t);

/* Arm the restart timer, then enter BACKOFF. The timer is the only way out
 * of BACKOFF, so a slot whose timer cannot be armed goes DONE instead and
 * the manager stops (libuv refuses only a closing handle or a NULL
 * callback: a bug, or a supervisor being torn down). */
static int child_backoff(struct ui_supervisor *sv, struct ui_child *c,
			 unsigned delay, const char *why)
{
	int r = uv_timer_start(&c->restart_timer, on_restart_timer, delay, 0);

	if (r < 0) {
		child_set_state(c, UI_CHILD_DONE, "cannot schedule its restart");
		supervisor_fail(sv, "restart timer", r);
		return r;
	}
	child_set_state(c, UI_CHILD_BACKOFF, why);
	return 0;
}

static void child_spawn(struct ui_supervisor *sv, struct ui_child *c)
{
	struct ui_daemon_status *st = &sv->shm->daemon[c->which];
	int ready_w = -1, r, err;
	pid_t pid;

	atomic_store(&st->ready, 0);
	atomic_store(&st->heartbeat_ms, ui_now_ms());
	/* The generation changes before the new process can read it. */
	atomic_fetch_add(&st->generation, 1);
	r = ready_pipe_open(sv, c, &ready_w);
	if (r < 0)
		ui_warn("%s: no readiness pipe (%s); the shm flag will do",
			ui_daemon_name(c->which), strerror(-r));
	pid = sv->fork_fn();
	err = errno;
	if (ready_w >= 0 && pid != 0)
		close(ready_w);
	if (pid < 0) {
		ui_error("%s: fork: %s; retrying in %u ms", ui_daemon_name(c->which),
			 strerror(err), UI_FORK_RETRY_MS);
		ready_pipe_close(c);
		child_backoff(sv, c, UI_FORK_RETRY_MS, "fork failed");
		return;
	}
	if (pid == 0)
		child_exec(sv, c, ready_w);
	c->pid = pid;
	c->started_ms = ui_now_ms();
	atomic_store(&st->pid, pid);
	atomic_store(&st->up, 1);
	child_set_state(c, UI_CHILD_STARTING, NULL);
	ui_info("%s: spawned pid %d (generation %u)", ui_daemon_name(c->which),
		(int)pid, atomic_load(&st->generation));
}

/* BACKOFF is over: spawn again (the timer was stopped if we are stopping). */
static void on_restart_timer(uv_timer_t *t)
{
	struct ui_child *c = t->data;
	struct ui_supervisor *sv = t->loop->data;

	if (c->state == UI_CHILD_BACKOFF && !sv->stopping)
		child_spawn(sv, c);
}

unsigned ui_backoff_ms(unsigned failures)
{
	unsigned ms = UI_BACKOFF_MIN_MS;

	if (failures <= 1)
		return 0; /* first restart is immediate */
	for (unsigned i = 2; i < failures && ms < UI_BACKOFF_MAX_MS; i++)
		ms *= 2;
	return ms < UI_BACKOFF_MAX_MS ? ms : UI_BACKOFF_MAX_MS;
}

unsigned ui_restart_delay_ms(unsigned fast_failures, unsigned window_crashes)
{
	if (window_crashes > UI_CRASH_BURST)
		return UI_BACKOFF_MAX_MS;
	return ui_backoff_ms(fast_failures);
}

static void describe_status(int status, char *buf, size_t len)
{
	if (WIFEXITED(status))
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by signal %d (%s)", WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
	else
		snprintf(buf, len, "status 0x%x", status);
}

static void stop_next(struct ui_supervisor *sv);

/*
 * How long to wait before restarting a child that died. A child that dies
 * before it became ready cannot start: 0, then 100 ms doubling to 5 s, so a
 * broken binary or config never loops tightly. A child that had been ready
 * (it served, then crashed or was killed) restarts at once — the API must
 * come back fast — unless it has died more than UI_CRASH_BURST times in
 * UI_CRASH_WINDOW_MS, then it waits the cap. Both cases report loudly.
 */
static unsigned restart_delay(struct ui_child *c, bool was_ready)
{
	uint64_t now = ui_now_ms();
	unsigned delay;

	if (now - c->window_start_ms > UI_CRASH_WINDOW_MS) {
		c->window_start_ms = now;
		c->window_crashes = 0;
	}
	c->window_crashes++;
	c->fast_failures = was_ready ? 0 : c->fast_failures + 1;
	delay = ui_restart_delay_ms(c->fast_failures, c->window_crashes);
	if (c->window_crashes > UI_CRASH_BURST) {
		ui_error("%s has died %u times in %u s; restarting it every %u ms",
			 ui_daemon_name(c->which), c->window_crashes,
			 UI_CRASH_WINDOW_MS / 1000, delay);
	} else if (c->fast_failures >= UI_LOUD_FAILURES) {
		ui_error("%s has failed to start %u times in a row; retrying in %u ms",
			 ui_daemon_name(c->which), c->fast_failures, delay);
	}
	return delay;
}

static void child_exited(struct ui_supervisor *sv, struct ui_child *c, int status)
{
	struct ui_daemon_status *st = &sv->shm->daemon[c->which];
	/* Ready by the pipe (RUNNING) or by the shm flag. */
	bool was_ready = c->state == UI_CHILD_RUNNING || atomic_load(&st->ready);
	char why[128];
	unsigned delay;

	describe_status(status, why, sizeof(why));
	atomic_store(&st->up, 0);
	atomic_store(&st->ready, 0);
	atomic_store(&st->pid, 0);
	c->pid = 0;
	if (sv->stopping) {
		child_set_state(c, UI_CHILD_DONE, why);
		stop_next(sv);
		return;
	}
	c->been_ready = c->been_ready || was_ready;
	if (WIFEXITED(status) && WEXITSTATUS(status) == UI_EXIT_PERMANENT && c->been_ready) {
		/* Not there at first start: the operator can fix it while
		 * everything else keeps serving (the daemons themselves exit
		 * 100 only at their first start: daemon.h). */
		ui_error("%s failed permanently (exit %d) after it had run: keeping the "
			 "manager up and retrying", ui_daemon_name(c->which), UI_EXIT_PERMANENT);
	} else if (WIFEXITED(status) && WEXITSTATUS(status) == UI_EXIT_PERMANENT) {
		child_set_state(c, UI_CHILD_DONE, why);
		ui_error("%s failed permanently (exit %d: see its log lines above); "
			 "stopping uigniter", ui_daemon_name(c->which),
			 UI_EXIT_PERMANENT);
		sv->exit_code = UI_EXIT_PERMANENT;
		ui_supervisor_stop(sv);
		return;
	}
	delay = restart_delay(c, was_ready);
	snprintf(why + strlen(why), sizeof(why) - strlen(why),
		 ", restart in %u ms", delay);
	if (child_backoff(sv, c, delay, why) == 0)
		atomic_fetch_add(&st->restarts, 1);
}

void ui_supervisor_reap(struct ui_supervisor *sv)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		bool ours = false;

		for (int i = 0; i < UI_D_COUNT; i++) {
			if (sv->child[i].pid == pid) {
				child_exited(sv, &sv->child[i], status);
				ours = true;
			}
		}
		if (!ours)
			ui_debug("reaped orphan pid %d", (int)pid);
	}
}

/* 1 s tick: notice readiness, kill children whose heartbeat stopped. */
static void on_watchdog(uv_timer_t *t)
{
	struct ui_supervisor *sv = t->data;
	uint64_t now = ui_now_ms();

	for (int i = 0; i < UI_D_COUNT; i++) {
		struct ui_child *c = &sv->child[i];
		struct ui_daemon_status *st = &sv->shm->daemon[i];
		uint64_t beat = atomic_load(&st->heartbeat_ms);

		if (c->state == UI_CHILD_STARTING && atomic_load(&st->ready))
			child_set_state(c, UI_CHILD_RUNNING, "ready");
		if (c->state == UI_CHILD_RUNNING)
			c->been_ready = true;
		if (c->state != UI_CHILD_RUNNING || now <= beat ||
		    now - beat < UI_HEARTBEAT_DEADLINE_MS)
			continue;
		ui_error("%s (pid %d): no heartbeat for %llu ms, killing it",
			 ui_daemon_name(c->which), (int)c->pid,
			 (unsigned long long)(now - beat));
		kill(c->pid, SIGKILL);
		atomic_store(&st->heartbeat_ms, now); /* one kill per hang */
	}
}

int ui_supervisor_init(struct ui_supervisor *sv, uv_loop_t *loop,
		       const struct ui_config *cfg, const char *config_path,
		       const char *shm_name, struct ui_shm *shm,
		       const char *libexec_dir)
{
	static const char *const bins[UI_D_COUNT] = {
		[UI_D_NETD] = "netd", [UI_D_POOL] = "pool-worker", [UI_D_APID] = "apid",
	};
	int r;

	memset(sv, 0, sizeof(*sv));
	sv->loop = loop;
	loop->data = sv;
	sv->cfg = cfg;
	sv->config_path = config_path;
	sv->shm_name = shm_name;
	sv->shm = shm;
	sv->fork_fn = fork;
	sv->self_pid = getpid();
	errno = 0;
	sv->base_nice = getpriority(PRIO_PROCESS, 0);
	if (sv->base_nice == -1 && errno)
		sv->base_nice = 0;
	for (int i = 0; i < UI_RING_COUNT; i++)
		sv->doorbell[i] = -1;
	for (int i = 0; i < UI_RING_COUNT; i++) {
		sv->doorbell[i] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (sv->doorbell[i] < 0)
			return -errno;
	}
	for (int i = 0; i < UI_D_COUNT; i++) {
		struct ui_child *c = &sv->child[i];

		c->which = (enum ui_daemon)i;
		snprintf(c->path, sizeof(c->path), "%s/%s", libexec_dir, bins[i]);
		if (access(c->path, X_OK) != 0) {
			ui_error("cannot execute %s: %s", c->path, strerror(errno));
			return -ENOENT;
		}
		if ((r = uv_timer_init(loop, &c->restart_timer)) < 0)
			return r;
		c->restart_timer.data = c;
	}
	if ((r = uv_timer_init(loop, &sv->watchdog)) < 0 ||
	    (r = uv_timer_init(loop, &sv->stop_timer)) < 0)
		return r;
	sv->watchdog.data = sv;
	sv->stop_timer.data = sv;
	return 0;
}

void ui_supervisor_start(struct ui_supervisor *sv)
{
	int r;

	/* A failure (supervisor_fail) may stop us part way. */
	for (int i = 0; i < UI_D_COUNT && !sv->stopping; i++)
		child_spawn(sv, &sv->child[i]);
	if (sv->stopping)
		return;
	r = uv_timer_start(&sv->watchdog, on_watchdog, 1000, 1000);
	if (r < 0)
		supervisor_fail(sv, "watchdog timer", r);
}

/* Daemons stop in this order: no new requests (apid), then the VMs'
 * engine (pool-worker, which may still need netd to release leases when
 * shutdown_policy is stop), then netd. */
static const enum ui_daemon stop_order[UI_D_COUNT] = { UI_D_APID, UI_D_POOL, UI_D_NETD };

static unsigned stop_timeout_ms(const struct ui_supervisor *sv, enum ui_daemon d)
{
	if (d == UI_D_POOL && sv->cfg->shutdown_policy == UI_SHUTDOWN_STOP)
		return sv->cfg->stop_timeout_ms + UI_STOP_TIMEOUT_MS;
	return UI_STOP_TIMEOUT_MS;
}

static void on_stop_timeout(uv_timer_t *t)
{
	struct ui_supervisor *sv = t->data;

	for (int i = 0; i < UI_D_COUNT; i++) {
		struct ui_child *c = &sv->child[i];

		if (c->state == UI_CHILD_STOPPING && c->pid > 0) {
			ui_warn("%s (pid %d) did not stop in time, killing it",
				ui_daemon_name(c->which), (int)c->pid);
			kill(c->pid, SIGKILL);
		}
	}
}

/* SIGTERM the next child in stop_order that still runs; one at a time. */
static void stop_next(struct ui_supervisor *sv)
{
	int r;

	for (int i = 0; i < UI_D_COUNT; i++) {
		struct ui_child *c = &sv->child[stop_order[i]];

		if (c->state == UI_CHILD_STOPPING)
			return; /* wait for its exit */
		if (c->state == UI_CHILD_DONE)
			continue;
		uv_timer_stop(&c->restart_timer);
		if (c->pid <= 0) {
			child_set_state(c, UI_CHILD_DONE, "not running");
			continue;
		}
		child_set_state(c, UI_CHILD_STOPPING, "SIGTERM");
		kill(c->pid, SIGTERM);
		r = uv_timer_start(&sv->stop_timer, on_stop_timeout,
				   stop_timeout_ms(sv, c->which), 0);
		if (r < 0)
			ui_error("%s: stop timer: %s; it will not be SIGKILLed",
				 ui_daemon_name(c->which), uv_strerror(r));
		return;
	}
	uv_timer_stop(&sv->stop_timer);
	uv_stop(sv->loop); /* every child is done: the manager's loop ends */
}

void ui_supervisor_stop(struct ui_supervisor *sv)
{
	if (sv->stopping)
		return;
	sv->stopping = true;
	uv_timer_stop(&sv->watchdog);
	stop_next(sv);
}

bool ui_supervisor_finished(const struct ui_supervisor *sv)
{
	if (!sv->stopping)
		return false;
	for (int i = 0; i < UI_D_COUNT; i++)
		if (sv->child[i].state != UI_CHILD_DONE)
			return false;
	return true;
}

void ui_supervisor_close(struct ui_supervisor *sv)
{
	if (!sv)
		return;
	uv_close((uv_handle_t *)&sv->watchdog, NULL);
	uv_close((uv_handle_t *)&sv->stop_timer, NULL);
	for (int i = 0; i < UI_D_COUNT; i++) {
		uv_close((uv_handle_t *)&sv->child[i].restart_timer, NULL);
		ready_pipe_close(&sv->child[i]);
	}
	for (int i = 0; i < UI_RING_COUNT; i++)
		if (sv->doorbell[i] >= 0)
			close(sv->doorbell[i]);
}
