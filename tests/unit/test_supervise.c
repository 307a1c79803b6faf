/*
 * test_supervise.c — uigniterd's child table (supervisor/supervise.c) run
 * for real, without root: a real shm segment, a temp libexec dir holding
 * shell-script "daemons", a real uv loop whose SIGCHLD handler calls
 * ui_supervisor_reap, as in supervisor/main.c. Cases: a child that exits
 * before ready is restarted with a growing backoff; a failed fork is
 * retried; an exit with UI_EXIT_PERMANENT stops the manager with 100 (but
 * not once the child had been ready: then it is restarted, told so); a
 * restart timer that cannot be armed stops it with 111; the daemons die
 * when their manager is SIGKILLed (parent-death signal); and the pure
 * backoff / restart-delay policy, table style.
 *
 * Each script appends its pid to <libexec>/<name>.spawns, which is how the
 * test counts spawns and matches pids. A shell script cannot write the shm
 * heartbeat, so the test beats for the daemons every 200 ms (as a healthy
 * daemon would); otherwise the watchdog would kill the ready ones after 5 s.
 * Nothing asserts a duration: only states, counts, pids, the order of
 * events and the delays the supervisor schedules (uv_timer_get_due_in, read
 * in the same loop iteration that armed the timer, so it is exact).
 * The segment is /uigniter-test-sv-<pid>; it and the temp dir are removed
 * at exit, and any child still running is killed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>

#include "config.h"
#include "log.h"
#include "shm.h"
#include "../../supervisor/supervise.h"
#include "t.h"

#define DEADLINE_MS 30000 /* generous: a shared, noisy 2-core machine */
#define MAX_EXITS 16

/* ---- daemons: tails of /bin/sh scripts ---- */

/* Writes the readiness byte to fd 7, then lives as long as the test. */
#define D_READY "printf r >&7\nexec 7>&-\n" \
		"while kill -0 $PPID 2>/dev/null; do sleep 1; done\n"
#define D_FAILS "exit 1\n"
#define D_PERMANENT "exit 100\n"
/* Ready, then lives on whatever happens to its parent. */
#define D_FOREVER "printf r >&7\nexec 7>&-\nexec sleep 600\n"

/* ---- fixture: one per case (each case is its own process) ---- */

static struct {
	char dir[64];
	char shm_name[64];
	struct ui_shm *shm;
	struct ui_config cfg;
	uv_loop_t loop;
	uv_signal_t sigchld;
	uv_timer_t beat;
	struct ui_supervisor sv;
	bool sv_ready;
	/* If watching, each restart of slot `watch`, in order: the delay
	 * scheduled for it. */
	bool watching;
	enum ui_daemon watch;
	uint32_t seen_restarts;
	unsigned n_exits;
	uint64_t delay[MAX_EXITS];
} F;

static const char *const bins[UI_D_COUNT] = {
	[UI_D_NETD] = "netd", [UI_D_POOL] = "pool-worker", [UI_D_APID] = "apid",
};

static void path_of(char *buf, size_t len, enum ui_daemon d, const char *ext)
{
	snprintf(buf, len, "%s/%s%s", F.dir, bins[d], ext);
}

/* atexit: also after a T_FAIL inside a loop callback. */
static void cleanup(void)
{
	char path[128];

	for (int i = 0; F.sv_ready && i < UI_D_COUNT; i++)
		if (F.sv.child[i].pid > 0)
			kill(F.sv.child[i].pid, SIGKILL);
	for (int i = 0; i < UI_D_COUNT; i++) {
		path_of(path, sizeof(path), (enum ui_daemon)i, "");
		unlink(path);
		path_of(path, sizeof(path), (enum ui_daemon)i, ".spawns");
		unlink(path);
	}
	rmdir(F.dir);
	ui_shm_unlink(F.shm_name);
}

static void write_daemon(enum ui_daemon d, const char *tail)
{
	char path[128];
	FILE *f;

	path_of(path, sizeof(path), d, "");
	f = fopen(path, "we");
	T_ASSERT(f);
	T_ASSERT(fprintf(f, "#!/bin/sh\necho $$ >> \"$0.spawns\"\n%s", tail) > 0);
	T_EQ_INT(fclose(f), 0);
	T_EQ_INT(chmod(path, 0755), 0);
}

/* How many times daemon d was spawned; *last gets the newest pid (0: none). */
static int spawns(enum ui_daemon d, pid_t *last)
{
	char path[128];
	int n = 0, pid = 0, p;
	FILE *f;

	path_of(path, sizeof(path), d, ".spawns");
	f = fopen(path, "re");
	if (f) {
		while (fscanf(f, "%d", &p) == 1) {
			pid = p;
			n++;
		}
		fclose(f);
	}
	if (last)
		*last = pid;
	return n;
}

static void on_beat(uv_timer_t *t)
{
	(void)t;
	for (int i = 0; i < UI_D_COUNT; i++)
		ui_daemon_heartbeat(F.shm, (enum ui_daemon)i);
}

/* Right after the reap that counted a restart of F.watch: one exit each
 * time, after exactly one more spawn, and the slot waits on its timer. */
static void note_restart(void)
{
	struct ui_child *c = &F.sv.child[F.watch];
	uint32_t restarts = atomic_load(&F.shm->daemon[F.watch].restarts);

	if (!F.watching || restarts == F.seen_restarts)
		return;
	T_EQ_INT(restarts, F.seen_restarts + 1);
	F.seen_restarts = restarts;
	T_EQ_INT(c->state, UI_CHILD_BACKOFF);
	T_EQ_INT(c->pid, 0);
	T_EQ_INT(atomic_load(&F.shm->daemon[F.watch].pid), 0);
	T_ASSERT(uv_is_active((uv_handle_t *)&c->restart_timer));
	T_EQ_INT(spawns(F.watch, NULL), restarts);
	T_ASSERT(F.n_exits < MAX_EXITS);
	F.delay[F.n_exits++] = uv_timer_get_due_in(&c->restart_timer);
}

static void on_sigchld(uv_signal_t *h, int signum)
{
	(void)h;
	(void)signum;
	ui_supervisor_reap(&F.sv);
	note_restart();
}

/* A supervisor over three scripts, not started yet. */
static void setup(const char *netd, const char *pool, const char *apid)
{
	ui_log_init("test_supervise", UI_LOG_INFO);
	snprintf(F.dir, sizeof(F.dir), "/tmp/uigniter-test-sv-XXXXXX");
	snprintf(F.shm_name, sizeof(F.shm_name), "/uigniter-test-sv-%d", getpid());
	T_ASSERT(mkdtemp(F.dir));
	atexit(cleanup);
	write_daemon(UI_D_NETD, netd);
	write_daemon(UI_D_POOL, pool);
	write_daemon(UI_D_APID, apid);
	T_EQ_INT(ui_shm_create(F.shm_name, &F.shm), 0);
	ui_config_defaults(&F.cfg);
	T_EQ_INT(uv_loop_init(&F.loop), 0);
	T_EQ_INT(uv_signal_init(&F.loop, &F.sigchld), 0);
	T_EQ_INT(uv_signal_start(&F.sigchld, on_sigchld, SIGCHLD), 0);
	T_EQ_INT(uv_timer_init(&F.loop, &F.beat), 0);
	T_EQ_INT(uv_timer_start(&F.beat, on_beat, 200, 200), 0);
	T_EQ_INT(ui_supervisor_init(&F.sv, &F.loop, &F.cfg, NULL, F.shm_name,
				    F.shm, F.dir), 0);
	F.sv_ready = true;
	T_ASSERT(F.sv.fork_fn == fork);
}

/* Runs the loop until done() or the deadline; true if done() held. */
static bool run_until(bool (*done)(void))
{
	uint64_t end = ui_now_ms() + DEADLINE_MS;

	while (!done()) {
		if (ui_now_ms() > end)
			return false;
		uv_run(&F.loop, UV_RUN_ONCE); /* the beat wakes it every 200 ms */
	}
	return true;
}

static bool finished(void)
{
	return ui_supervisor_finished(&F.sv);
}

/* Stop, every child reaped and DONE, every handle closed. */
static void teardown(void)
{
	ui_supervisor_stop(&F.sv);
	T_ASSERT(run_until(finished));
	for (int i = 0; i < UI_D_COUNT; i++) {
		T_EQ_INT(F.sv.child[i].state, UI_CHILD_DONE);
		T_EQ_INT(F.sv.child[i].pid, 0);
		T_EQ_INT(atomic_load(&F.shm->daemon[i].up), 0);
	}
	ui_supervisor_close(&F.sv);
	F.sv_ready = false;
	uv_close((uv_handle_t *)&F.sigchld, NULL);
	uv_close((uv_handle_t *)&F.beat, NULL);
	uv_run(&F.loop, UV_RUN_DEFAULT);
	T_EQ_INT(uv_loop_close(&F.loop), 0); /* no handle left behind */
	ui_shm_detach(F.shm);
	T_EQ_INT(ui_shm_unlink(F.shm_name), 0);
	ui_config_free(&F.cfg);
}

/* Daemon d became ready once, via its pipe, and still runs that process. */
static void expect_running_once(enum ui_daemon d)
{
	pid_t last;

	T_EQ_INT(F.sv.child[d].state, UI_CHILD_RUNNING);
	T_EQ_INT(spawns(d, &last), 1);
	T_ASSERT(last > 0);
	T_EQ_INT(F.sv.child[d].pid, last);
	T_EQ_INT(atomic_load(&F.shm->daemon[d].pid), last);
	T_EQ_INT(atomic_load(&F.shm->daemon[d].restarts), 0);
}

/* ---- (a) a child that exits before ready: restarted, backoff grows ---- */

#define BACKOFF_EXITS 5

static bool netd_exited_enough_others_ready(void)
{
	return F.n_exits >= BACKOFF_EXITS &&
	       F.sv.child[UI_D_POOL].state == UI_CHILD_RUNNING &&
	       F.sv.child[UI_D_APID].state == UI_CHILD_RUNNING;
}

static void t_restart_backoff_grows(void)
{
	static const uint64_t want[BACKOFF_EXITS] = { 0, 100, 200, 400, 800 };

	setup(D_FAILS, D_READY, D_READY);
	F.watching = true;
	F.watch = UI_D_NETD;
	ui_supervisor_start(&F.sv);
	T_ASSERT(run_until(netd_exited_enough_others_ready));
	for (unsigned i = 0; i < BACKOFF_EXITS; i++) {
		if (F.delay[i] != want[i])
			T_FAIL("restart %u scheduled in %llu ms, want %llu", i + 1,
			       (unsigned long long)F.delay[i],
			       (unsigned long long)want[i]);
		if (i > 0)
			T_ASSERT(F.delay[i] > F.delay[i - 1]);
	}
	/* Each exit was followed by one more spawn: the restart really ran. */
	T_EQ_INT(F.n_exits, BACKOFF_EXITS);
	T_EQ_INT(spawns(UI_D_NETD, NULL), BACKOFF_EXITS);
	T_EQ_INT(atomic_load(&F.shm->daemon[UI_D_NETD].restarts), BACKOFF_EXITS);
	T_EQ_INT(F.sv.child[UI_D_NETD].fast_failures, BACKOFF_EXITS);
	expect_running_once(UI_D_POOL);
	expect_running_once(UI_D_APID);
	teardown();
	T_EQ_INT(spawns(UI_D_NETD, NULL), BACKOFF_EXITS); /* none after stop */
	T_EQ_INT(F.sv.exit_code, UI_EXIT_OK);
}

/* ---- (b) a failed fork is retried ---- */

static int n_forks;

/* The first fork (netd's, at start) fails as under RLIMIT_NPROC. */
static pid_t fork_fails_first(void)
{
	if (n_forks++ == 0) {
		errno = EAGAIN;
		return -1;
	}
	return fork();
}

static bool all_running(void)
{
	for (int i = 0; i < UI_D_COUNT; i++)
		if (F.sv.child[i].state != UI_CHILD_RUNNING)
			return false;
	return true;
}

static void t_fork_failure_retried(void)
{
	struct ui_child *netd;

	setup(D_READY, D_READY, D_READY);
	netd = &F.sv.child[UI_D_NETD];
	F.sv.fork_fn = fork_fails_first;
	ui_supervisor_start(&F.sv);
	T_EQ_INT(n_forks, UI_D_COUNT);
	T_EQ_INT(netd->state, UI_CHILD_BACKOFF);
	T_EQ_INT(netd->pid, 0);
	T_ASSERT(uv_is_active((uv_handle_t *)&netd->restart_timer));
	T_EQ_INT(spawns(UI_D_NETD, NULL), 0);
	T_ASSERT(netd->ready == NULL); /* its readiness pipe was closed */
	T_ASSERT(run_until(all_running));
	T_EQ_INT(n_forks, UI_D_COUNT + 1);
	/* No process died, so nothing counts as a restart. */
	for (int i = 0; i < UI_D_COUNT; i++)
		expect_running_once((enum ui_daemon)i);
	teardown();
	T_EQ_INT(F.sv.exit_code, UI_EXIT_OK);
}

/* ---- (c) exit 100 stops the manager with 100 ---- */

static void t_permanent_exit_stops(void)
{
	setup(D_READY, D_READY, D_PERMANENT);
	ui_supervisor_start(&F.sv);
	T_ASSERT(run_until(finished));
	T_EQ_INT(F.sv.exit_code, UI_EXIT_PERMANENT);
	T_ASSERT(F.sv.stopping);
	T_EQ_INT(spawns(UI_D_APID, NULL), 1); /* never restarted */
	T_EQ_INT(atomic_load(&F.shm->daemon[UI_D_APID].restarts), 0);
	/* SIGTERMed at once: the scripts may not have got to their echo. */
	T_ASSERT(spawns(UI_D_NETD, NULL) <= 1);
	T_ASSERT(spawns(UI_D_POOL, NULL) <= 1);
	teardown();
	T_EQ_INT(F.sv.exit_code, UI_EXIT_PERMANENT);
}

/* ---- (c') exit 100 after having been ready: restarted, told so ---- */

/* Ready, then exit 100 — unless told it is a restart (UIGNITER_RESTART=1):
 * then ready for good. A fault that came after the first start must not
 * stop the manager (issue 9: a VMM binary removed, then a worker crash). */
#define D_PERMANENT_LATER "if [ \"$UIGNITER_RESTART\" = 1 ]; then\n" D_READY "fi\n" \
			  "printf r >&7\nexec 7>&-\nsleep 0.3\nexit 100\n"

static bool apid_restarted_and_ready(void)
{
	return spawns(UI_D_APID, NULL) == 2 && F.sv.child[UI_D_APID].state == UI_CHILD_RUNNING;
}

static void t_permanent_after_ready_restarts(void)
{
	setup(D_READY, D_READY, D_PERMANENT_LATER);
	ui_supervisor_start(&F.sv);
	T_ASSERT(run_until(apid_restarted_and_ready));
	T_ASSERT(!F.sv.stopping);
	T_EQ_INT(F.sv.exit_code, UI_EXIT_OK);
	T_EQ_INT(atomic_load(&F.shm->daemon[UI_D_APID].restarts), 1);
	expect_running_once(UI_D_NETD);
	expect_running_once(UI_D_POOL);
	teardown();
	T_EQ_INT(F.sv.exit_code, UI_EXIT_OK);
}

/* ---- (d) a restart that cannot be scheduled stops the manager, 111 ---- */

static void t_unarmable_restart_stops(void)
{
	struct ui_child *netd;

	setup(D_FAILS, D_READY, D_READY);
	netd = &F.sv.child[UI_D_NETD];
	/* libuv refuses to start a closing timer: the one way to make
	 * uv_timer_start fail on a correct call. */
	uv_close((uv_handle_t *)&netd->restart_timer, NULL);
	ui_supervisor_start(&F.sv);
	T_ASSERT(run_until(finished));
	T_EQ_INT(F.sv.exit_code, UI_EXIT_TEMPORARY);
	T_EQ_INT(spawns(UI_D_NETD, NULL), 1);
	T_EQ_INT(atomic_load(&F.shm->daemon[UI_D_NETD].restarts), 0);
	for (int i = 0; i < UI_D_COUNT; i++) {
		T_EQ_INT(F.sv.child[i].state, UI_CHILD_DONE);
		T_EQ_INT(F.sv.child[i].pid, 0);
	}
	/* No teardown: ui_supervisor_close would close that timer twice. The
	 * case's process exits here; cleanup() removes the files. */
	ui_shm_detach(F.shm);
	ui_config_free(&F.cfg);
}

/* ---- (e) the children die with their manager ---- */

static pid_t orphans[UI_D_COUNT];

static void kill_orphans(void)
{
	for (int i = 0; i < UI_D_COUNT; i++)
		if (orphans[i] > 0)
			kill(orphans[i], SIGKILL);
}

/* Running, not a zombie waiting for init to reap it. */
static bool pid_alive(pid_t pid)
{
	char path[64], buf[256], *p;
	FILE *f;
	bool alive = false;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	if (fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')')))
		alive = p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
	fclose(f);
	return alive;
}

/* The manager process of this case: start three daemons that never look at
 * their parent, report their pids (and ours, for the names), run on. */
struct manager_report {
	pid_t pids[UI_D_COUNT + 1]; /* the daemons', then the manager's */
	char dir[sizeof(F.dir)];
};

static void manager_main(int report)
{
	struct manager_report r;

	setup(D_FOREVER, D_FOREVER, D_FOREVER);
	ui_supervisor_start(&F.sv);
	if (!run_until(all_running))
		_exit(1);
	r.pids[UI_D_COUNT] = getpid();
	for (int i = 0; i < UI_D_COUNT; i++)
		r.pids[i] = F.sv.child[i].pid;
	memcpy(r.dir, F.dir, sizeof(r.dir));
	if (write(report, &r, sizeof(r)) != (ssize_t)sizeof(r))
		_exit(1);
	for (;;)
		uv_run(&F.loop, UV_RUN_DEFAULT);
}

static void t_children_die_with_manager(void)
{
	struct manager_report r;
	pid_t *pids = r.pids, manager;
	uint64_t end;
	int p[2];

	T_EQ_INT(pipe(p), 0);
	atexit(kill_orphans);
	manager = fork();
	T_ASSERT(manager >= 0);
	if (manager == 0) {
		close(p[0]);
		manager_main(p[1]);
	}
	close(p[1]);
	T_EQ_INT(read(p[0], &r, sizeof(r)), sizeof(r));
	memcpy(orphans, pids, sizeof(orphans));
	T_EQ_INT(pids[UI_D_COUNT], manager);
	/* The manager's files are ours to remove: it cannot. */
	memcpy(F.dir, r.dir, sizeof(F.dir));
	snprintf(F.shm_name, sizeof(F.shm_name), "/uigniter-test-sv-%d", (int)manager);
	atexit(cleanup);
	T_EQ_INT(kill(manager, SIGKILL), 0);
	T_EQ_INT(waitpid(manager, NULL, 0), manager);
	end = ui_now_ms() + DEADLINE_MS;
	for (int i = 0; i < UI_D_COUNT; i++) {
		while (pid_alive(pids[i]) && ui_now_ms() < end)
			usleep(20 * 1000);
		if (pid_alive(pids[i]))
			T_FAIL("%s (pid %d) outlived its manager", bins[i], (int)pids[i]);
	}
}

/* ---- (f) the pure policy ---- */

static void t_backoff_table(void)
{
	static const struct { unsigned failures, ms; } cases[] = {
		{ 0, 0 }, { 1, 0 }, { 2, 100 }, { 3, 200 }, { 4, 400 },
		{ 5, 800 }, { 6, 1600 }, { 7, 3200 }, { 8, 5000 }, { 9, 5000 },
		{ 1000, 5000 }, { ~0u, 5000 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unsigned got = ui_backoff_ms(cases[i].failures);

		if (got != cases[i].ms)
			T_FAIL("ui_backoff_ms(%u) == %u, want %u",
			       cases[i].failures, got, cases[i].ms);
	}
	T_EQ_INT(ui_backoff_ms(2), UI_BACKOFF_MIN_MS);
	T_EQ_INT(ui_backoff_ms(~0u), UI_BACKOFF_MAX_MS);
}

static void t_restart_delay_table(void)
{
	static const struct { unsigned fast, crashes, ms; } cases[] = {
		{ 0, 1, 0 },                  /* was ready: at once */
		{ 0, UI_CRASH_BURST, 0 },     /* ... up to the burst */
		{ 0, UI_CRASH_BURST + 1, UI_BACKOFF_MAX_MS }, /* then the cap */
		{ 1, 1, 0 },                  /* first failed start: at once */
		{ 3, 3, 200 },                /* failing starts back off */
		{ 3, UI_CRASH_BURST + 1, UI_BACKOFF_MAX_MS },
		{ 20, 20, UI_BACKOFF_MAX_MS },
		{ 20, ~0u, UI_BACKOFF_MAX_MS },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unsigned got = ui_restart_delay_ms(cases[i].fast, cases[i].crashes);

		if (got != cases[i].ms)
			T_FAIL("ui_restart_delay_ms(%u, %u) == %u, want %u",
			       cases[i].fast, cases[i].crashes, got, cases[i].ms);
	}
}

int main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		T_CASE_TIMEOUT(t_restart_backoff_grows, 120),
		T_CASE_TIMEOUT(t_fork_failure_retried, 120),
		T_CASE_TIMEOUT(t_permanent_exit_stops, 120),
		T_CASE_TIMEOUT(t_permanent_after_ready_restarts, 120),
		T_CASE_TIMEOUT(t_unarmable_restart_stops, 120),
		T_CASE_TIMEOUT(t_children_die_with_manager, 120),
		T_CASE(t_backoff_table),
		T_CASE(t_restart_delay_table),
		{ 0 },
	};

	return t_run(argc, argv, cases);
}
