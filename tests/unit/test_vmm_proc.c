/*
 * test_vmm_proc.c — the VMM process struct the drivers embed
 * (pool-worker/vmm_proc.c), with real processes on a real libuv loop: a
 * spawned child's exit status and console log, SIGKILL, adoption through a
 * pidfd (of a process that is not our child, as after a pool-worker
 * restart, and of one that is), the start-time check, spawn failures, and
 * the handle lifetime (on_free once every handle closed, no on_exit after
 * close). No root needed.
 *
 * Assertions are on outcomes and their order ("E" = on_exit, "F" =
 * on_free), never on durations: a watchdog only turns a hang into a
 * failure.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include "../../pool-worker/vmm_proc.h"
#include "t.h"

/* ------------------------------------------------------------- harness */

struct obs {
	struct pw_vmm_proc p;
	uv_loop_t *loop;
	char order[16];      /* 'E' per on_exit, 'F' per on_free */
	int64_t status;
	int sig;
	bool close_in_exit;  /* close from inside on_exit (as the engine may) */
	bool spawned;        /* on_spawned came */
	int spawn_status;
	char spawn_err[256];
	int left_listed;     /* handles of p still on the loop when on_free ran */
};

struct env {
	uv_loop_t loop;
	uv_timer_t watchdog;
	char dir[64];
	char log[128];
};

static void on_watchdog(uv_timer_t *t)
{
	(void)t;
	T_FAIL("watchdog: an expected event never came");
}

static void env_init(struct env *e)
{
	memset(e, 0, sizeof(*e));
	T_EQ_INT(uv_loop_init(&e->loop), 0);
	T_EQ_INT(uv_timer_init(&e->loop, &e->watchdog), 0);
	T_EQ_INT(uv_timer_start(&e->watchdog, on_watchdog, 20000, 0), 0);
	uv_unref((uv_handle_t *)&e->watchdog);
	snprintf(e->dir, sizeof(e->dir), "/tmp/test_vmm_proc.XXXXXX");
	T_ASSERT(mkdtemp(e->dir));
	snprintf(e->log, sizeof(e->log), "%s/console.log", e->dir);
}

/* Every handle closed (the struct's included): the loop closes. */
static void env_fini(struct env *e)
{
	uv_close((uv_handle_t *)&e->watchdog, NULL);
	T_EQ_INT(uv_run(&e->loop, UV_RUN_DEFAULT), 0);
	T_EQ_INT(uv_loop_close(&e->loop), 0);
	unlink(e->log);
	rmdir(e->dir);
}

static void count_listed(uv_handle_t *h, void *arg)
{
	struct obs *o = arg;
	char *a = (char *)h, *lo = (char *)&o->p;

	if (a >= lo && a < lo + sizeof(o->p))
		o->left_listed++;
}

static void note(struct obs *o, char what)
{
	size_t n = strlen(o->order);

	T_ASSERT(n + 1 < sizeof(o->order));
	o->order[n] = what;
}

static void on_exit_cb(struct pw_vmm_proc *p, int64_t status, int sig)
{
	struct obs *o = p->owner;

	T_ASSERT(o && &o->p == p);
	note(o, 'E');
	o->status = status;
	o->sig = sig;
	T_ASSERT(!pw_vmm_proc_running(p));
	if (o->close_in_exit)
		pw_vmm_proc_close(p);
}

static void on_spawned_cb(struct pw_vmm_proc *p, int status, const char *err)
{
	struct obs *o = p->owner;

	T_ASSERT(!o->spawned); /* once */
	o->spawned = true;
	o->spawn_status = status;
	snprintf(o->spawn_err, sizeof(o->spawn_err), "%s", err ? err : "");
	T_ASSERT(status == 0 ? err == NULL && p->pid > 0 : err && err[0]);
}

static void on_free_cb(struct pw_vmm_proc *p)
{
	struct obs *o = p->owner;

	note(o, 'F');
	uv_walk(o->loop, count_listed, o);
}

static void obs_init(struct obs *o, struct env *e)
{
	memset(o, 0, sizeof(*o));
	o->loop = &e->loop;
	o->status = -99;
	T_EQ_INT(pw_vmm_proc_init(&o->p, &e->loop, o, on_exit_cb, on_free_cb), 0);
	o->p.on_spawned = on_spawned_cb;
	for (int i = 0; i < PW_VMM_TIMERS; i++)
		T_ASSERT(o->p.timer[i].data == o);
}

/* Runs the loop (watchdog armed) until o has seen `want` events. */
static void run_until(struct env *e, struct obs *o, size_t want)
{
	uv_ref((uv_handle_t *)&e->watchdog);
	while (strlen(o->order) < want)
		uv_run(&e->loop, UV_RUN_ONCE);
	uv_unref((uv_handle_t *)&e->watchdog);
}

/* Spawns argv (asynchronous: on_spawned comes from the loop) and waits
 * for it to succeed. */
static void spawn_ok(struct env *e, struct obs *o, char *const argv[], const char *log)
{
	char err[256] = "";

	T_EQ_INT(pw_vmm_proc_spawn(&o->p, argv, log, err, sizeof(err)), 0);
	T_ASSERT(!o->spawned && o->p.pid == 0); /* never from inside the call */
	uv_ref((uv_handle_t *)&e->watchdog);
	while (!o->spawned)
		uv_run(&e->loop, UV_RUN_ONCE);
	uv_unref((uv_handle_t *)&e->watchdog);
	T_EQ_INT(o->spawn_status, 0);
	T_ASSERT(o->p.pid > 0);
}

/* A few turns of the loop without waiting: late events would show here. */
static void spin(struct env *e)
{
	for (int i = 0; i < 20; i++)
		uv_run(&e->loop, UV_RUN_NOWAIT);
}

static void close_and_free(struct env *e, struct obs *o)
{
	size_t before = strlen(o->order);

	pw_vmm_proc_close(&o->p);
	run_until(e, o, before + 1);
	T_EQ_INT(o->order[before], 'F');
	T_EQ_INT(o->left_listed, 0);
}

static void read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	T_ASSERT(fd >= 0);
	n = read(fd, buf, len - 1);
	close(fd);
	T_ASSERT(n >= 0);
	buf[n] = '\0';
}

/* A `sleep 30` that is not our child (double fork, parent gone), as a VMM
 * left by a pool-worker that exited; its pid. */
static pid_t orphan_sleep(void)
{
	int fds[2];
	pid_t mid, pid = 0;
	int st;

	T_EQ_INT(pipe2(fds, O_CLOEXEC), 0);
	mid = fork();
	T_ASSERT(mid >= 0);
	if (mid == 0) {
		pid_t g = fork();

		if (g == 0) {
			execl("/bin/sleep", "sleep", "30", (char *)NULL);
			_exit(127);
		}
		_exit(write(fds[1], &g, sizeof(g)) == sizeof(g) ? 0 : 1);
	}
	close(fds[1]);
	T_EQ_INT(read(fds[0], &pid, sizeof(pid)), sizeof(pid));
	close(fds[0]);
	T_EQ_INT(waitpid(mid, &st, 0), mid);
	T_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	return pid;
}

/* A registry row naming pid with its real start time. */
static void row_for(struct ui_vm *row, pid_t pid)
{
	memset(row, 0, sizeof(*row));
	snprintf(row->id, sizeof(row->id), "vm-test");
	row->vmm_pid = pid;
	T_EQ_INT(pw_proc_start_time(pid, &row->vmm_start_time), 0);
	T_ASSERT(row->vmm_start_time > 0);
}

/* ------------------------------------------------------------------ cases */

/* Our child's exit code, its output appended to the console log, in its
 * own session; then on_free after close. */
static void t_spawn_exit_status(void)
{
	char *const argv[] = { "/bin/sh", "-c",
			       "echo hi; cut -d' ' -f6 /proc/$$/stat; exit 3", NULL };
	struct env e;
	struct obs o;
	char buf[512], want[64];
	int fd;

	env_init(&e);
	fd = open(e.log, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	T_ASSERT(fd >= 0 && write(fd, "before\n", 7) == 7);
	close(fd);
	obs_init(&o, &e);
	spawn_ok(&e, &o, argv, e.log);
	T_ASSERT(pw_vmm_proc_running(&o.p));
	run_until(&e, &o, 1);
	T_EQ_STR(o.order, "E");
	T_EQ_INT(o.status, 3);
	T_EQ_INT(o.sig, 0);
	T_ASSERT(!pw_vmm_proc_running(&o.p));
	read_file(e.log, buf, sizeof(buf));
	snprintf(want, sizeof(want), "before\nhi\n%d\n", (int)o.p.pid); /* sid = pid */
	T_EQ_STR(buf, want);
	close_and_free(&e, &o);
	T_EQ_STR(o.order, "EF");
	env_fini(&e);
}

/* pass_fd (a snapshot's state file): the child reads it as its fd 3, and
 * not under the number we opened it as (close-on-exec); the spawn closed
 * our copy (-1 again, the number free). */
static void t_spawn_pass_fd(void)
{
	char *const argv[] = { "/bin/sh", "-c", "cat <&3; ls /proc/self/fd | tr '\\n' ' '", NULL };
	char path[PATH_MAX], buf[512], ours[16];
	struct env e;
	struct obs o;
	int fd, mine;

	env_init(&e);
	snprintf(path, sizeof(path), "%s.state", e.log);
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	T_ASSERT(fd >= 0 && write(fd, "STATE\n", 6) == 6);
	close(fd);
	obs_init(&o, &e);
	T_EQ_INT(o.p.pass_fd, -1);
	o.p.pass_fd = open(path, O_RDONLY | O_CLOEXEC);
	T_ASSERT(o.p.pass_fd > PW_VMM_PASS_FD);
	mine = o.p.pass_fd;
	snprintf(ours, sizeof(ours), " %d ", mine);
	spawn_ok(&e, &o, argv, e.log);
	T_EQ_INT(o.p.pass_fd, -1);
	T_ASSERT(fcntl(mine, F_GETFD) < 0 && errno == EBADF); /* the spawn closed it */
	run_until(&e, &o, 1);
	T_EQ_INT(o.status, 0);
	read_file(e.log, buf, sizeof(buf));
	T_ASSERT(strncmp(buf, "STATE\n0 1 ", 10) == 0);
	T_ASSERT(strstr(buf, " 3 ") != NULL);
	T_ASSERT(strstr(buf, ours) == NULL);
	close_and_free(&e, &o);
	unlink(path);
	env_fini(&e);
}

/* SIGKILL reaches our child and its exit says so, once; a kill after the
 * exit is not an error. Closing from inside on_exit is fine. */
static void t_kill_spawned(void)
{
	char *const argv[] = { "sleep", "30", NULL }; /* found in PATH */
	struct env e;
	struct obs o;

	env_init(&e);
	obs_init(&o, &e);
	o.close_in_exit = true;
	spawn_ok(&e, &o, argv, e.log);
	spin(&e);
	T_EQ_STR(o.order, ""); /* still sleeping */
	T_EQ_INT(pw_vmm_proc_kill(&o.p), 0);
	run_until(&e, &o, 2);
	T_EQ_STR(o.order, "EF");
	T_EQ_INT(o.sig, SIGKILL);
	T_EQ_INT(o.left_listed, 0);
	env_fini(&e);
}

static void t_kill_after_exit(void)
{
	char *const argv[] = { "/bin/true", NULL };
	struct env e;
	struct obs o;

	env_init(&e);
	obs_init(&o, &e);
	spawn_ok(&e, &o, argv, e.log);
	run_until(&e, &o, 1);
	T_EQ_INT(o.status, 0);
	T_EQ_INT(pw_vmm_proc_kill(&o.p), 0); /* already exited */
	spin(&e);
	T_EQ_STR(o.order, "E");
	close_and_free(&e, &o);
	env_fini(&e);
}

/* Nothing spawned or adopted: kill says there never was a process. */
static void t_kill_nothing(void)
{
	struct env e;
	struct obs o;

	env_init(&e);
	obs_init(&o, &e);
	T_ASSERT(!pw_vmm_proc_running(&o.p));
	T_EQ_INT(pw_vmm_proc_kill(&o.p), -ESRCH);
	close_and_free(&e, &o);
	T_EQ_STR(o.order, "F");
	env_fini(&e);
}

/* A missing binary: an error with a sentence, no on_exit ever, kill says
 * there never was a process, and the handle is still closed cleanly. */
static void t_spawn_missing_binary(void)
{
	char *const argv[] = { "/nonexistent/uigniter-no-such-vmm", NULL };
	struct env e;
	struct obs o;
	char err[256] = "";
	int rc;

	env_init(&e);
	obs_init(&o, &e);
	rc = pw_vmm_proc_spawn(&o.p, argv, e.log, err, sizeof(err));
	T_EQ_INT(rc, PW_VMM_UNAVAILABLE);
	T_ASSERT(strstr(err, "cannot start /nonexistent/uigniter-no-such-vmm"));
	T_ASSERT(strstr(err, "the VMM binary is missing or not executable"));
	T_ASSERT(!pw_vmm_proc_running(&o.p));
	T_EQ_INT(pw_vmm_proc_kill(&o.p), -ESRCH);
	spin(&e);
	T_EQ_STR(o.order, "");
	close_and_free(&e, &o);
	T_EQ_STR(o.order, "F");
	env_fini(&e);
}

/* An executable file the kernel cannot run (found, then exec fails):
 * reported through on_spawned as the host's fault, never -ENOENT. */
static void t_spawn_exec_fails(void)
{
	char path[160];
	char *const argv[] = { path, NULL };
	char err[256] = "";
	struct env e;
	struct obs o;
	FILE *f;

	env_init(&e);
	obs_init(&o, &e);
	snprintf(path, sizeof(path), "%s/not-a-program", e.dir);
	T_ASSERT((f = fopen(path, "we")) != NULL);
	T_ASSERT(fputs("\x7f" "garbage, no #! and no ELF\n", f) >= 0);
	T_EQ_INT(fclose(f), 0);
	T_EQ_INT(chmod(path, 0755), 0);
	T_EQ_INT(pw_vmm_proc_spawn(&o.p, argv, e.log, err, sizeof(err)), 0);
	uv_ref((uv_handle_t *)&e.watchdog);
	while (!o.spawned)
		uv_run(&e.loop, UV_RUN_ONCE);
	uv_unref((uv_handle_t *)&e.watchdog);
	T_EQ_INT(o.spawn_status, PW_VMM_UNAVAILABLE);
	T_ASSERT(strstr(o.spawn_err, path));
	T_ASSERT(strstr(o.spawn_err, "the VMM binary is missing or not executable"));
	T_ASSERT(!pw_vmm_proc_running(&o.p));
	close_and_free(&e, &o);
	env_fini(&e);
}

/* A console log that cannot be opened: nothing is spawned. */
static void t_spawn_bad_console(void)
{
	char *const argv[] = { "/bin/true", NULL };
	struct env e;
	struct obs o;
	char err[256] = "", path[160];

	env_init(&e);
	obs_init(&o, &e);
	snprintf(path, sizeof(path), "%s/no-such-dir/console.log", e.dir);
	/* the host's fault (its state_dir), never a client's 404 */
	T_EQ_INT(pw_vmm_proc_spawn(&o.p, argv, path, err, sizeof(err)), -EIO);
	T_ASSERT(strstr(err, "cannot open console log"));
	T_EQ_INT(pw_vmm_proc_kill(&o.p), -ESRCH);
	spin(&e);
	T_EQ_STR(o.order, "");
	close_and_free(&e, &o);
	env_fini(&e);
}

/* After a restart: adoption checks the start time, then the pidfd shows
 * the exit of a process that is not our child, once, status unknown. */
static void t_adopt_orphan(void)
{
	struct env e;
	struct obs wrong, o;
	struct ui_vm row;
	char err[256] = "";
	pid_t pid = orphan_sleep();
	int fds;

	env_init(&e);
	row_for(&row, pid);
	fds = t_count_fds();
	obs_init(&wrong, &e);
	row.vmm_start_time++;
	T_EQ_INT(pw_vmm_proc_adopt(&wrong.p, &row, err, sizeof(err)), -ESRCH);
	T_ASSERT(err[0]);
	T_ASSERT(!pw_vmm_proc_running(&wrong.p));
	T_EQ_INT(pw_vmm_proc_kill(&wrong.p), -ESRCH);
	close_and_free(&e, &wrong);
	T_EQ_INT(kill(pid, 0), 0); /* a failed adoption touched nothing */

	row.vmm_start_time--;
	obs_init(&o, &e);
	T_EQ_INT(pw_vmm_proc_adopt(&o.p, &row, err, sizeof(err)), 0);
	T_EQ_INT(o.p.pid, pid);
	T_ASSERT(pw_vmm_proc_running(&o.p));
	spin(&e);
	T_EQ_STR(o.order, "");
	T_EQ_INT(pw_vmm_proc_kill(&o.p), 0);
	run_until(&e, &o, 1);
	spin(&e);
	T_EQ_STR(o.order, "E"); /* once */
	T_EQ_INT(o.status, -1);
	T_EQ_INT(o.sig, 0);
	T_EQ_INT(pw_vmm_proc_kill(&o.p), 0);
	close_and_free(&e, &o);
	T_EQ_STR(o.order, "EF");
	T_EQ_INT(t_count_fds(), fds); /* the pidfds are closed */
	env_fini(&e);
}

/* Adopting a process that is our child: the pidfd also yields its signal. */
static void t_adopt_own_child(void)
{
	struct env e;
	struct obs o;
	struct ui_vm row;
	char err[256] = "";
	pid_t pid = fork();

	T_ASSERT(pid >= 0);
	if (pid == 0) {
		execl("/bin/sleep", "sleep", "30", (char *)NULL);
		_exit(127);
	}
	env_init(&e);
	row_for(&row, pid); /* the start time is the fork's: no need to wait */
	obs_init(&o, &e);
	T_EQ_INT(pw_vmm_proc_adopt(&o.p, &row, err, sizeof(err)), 0);
	T_EQ_INT(pw_vmm_proc_kill(&o.p), 0);
	run_until(&e, &o, 1);
	spin(&e);
	T_EQ_STR(o.order, "E");
	T_EQ_INT(o.status, -1);
	T_EQ_INT(o.sig, SIGKILL);
	close_and_free(&e, &o);
	env_fini(&e);
}

/* A process gone (or never recorded) cannot be adopted. */
static void t_adopt_gone(void)
{
	struct env e;
	struct obs o;
	struct ui_vm row;
	char err[256] = "";
	pid_t pid = orphan_sleep();

	env_init(&e);
	row_for(&row, pid);
	T_EQ_INT(kill(pid, SIGKILL), 0);
	/* gone, or a zombie nobody reaped yet: either is not adoptable */
	for (int64_t st; pw_proc_start_time(pid, &st) == 0; usleep(1000))
		;
	obs_init(&o, &e);
	T_EQ_INT(pw_vmm_proc_adopt(&o.p, &row, err, sizeof(err)), -ESRCH);
	T_ASSERT(err[0]);
	row.vmm_pid = 0;
	err[0] = '\0';
	T_EQ_INT(pw_vmm_proc_adopt(&o.p, &row, err, sizeof(err)), -ESRCH);
	T_EQ_STR(err, "no pid recorded");
	T_EQ_INT(pw_vmm_proc_kill(&o.p), -ESRCH);
	close_and_free(&e, &o);
	env_fini(&e);
}

/* Closed while the VMM runs: it keeps running, and its later exit is
 * never reported. */
static void t_close_then_exit(void)
{
	char *const argv[] = { "/bin/sleep", "30", NULL };
	struct env e;
	struct obs o;
	pid_t pid;
	int st;

	env_init(&e);
	obs_init(&o, &e);
	spawn_ok(&e, &o, argv, e.log);
	pid = o.p.pid;
	close_and_free(&e, &o);
	T_EQ_STR(o.order, "F");
	T_EQ_INT(kill(pid, 0), 0); /* left running */
	T_EQ_INT(kill(pid, SIGKILL), 0);
	T_EQ_INT(waitpid(pid, &st, 0), pid);
	T_ASSERT(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	spin(&e);
	T_EQ_STR(o.order, "F");
	env_fini(&e);
}

/* One process per struct. */
static void t_spawn_twice(void)
{
	char *const argv[] = { "/bin/true", NULL };
	struct env e;
	struct obs o;
	struct ui_vm row;
	char err[256] = "";

	env_init(&e);
	obs_init(&o, &e);
	T_EQ_INT(pw_vmm_proc_spawn(&o.p, argv, e.log, err, sizeof(err)), 0);
	T_EQ_INT(pw_vmm_proc_spawn(&o.p, argv, e.log, err, sizeof(err)), -EBUSY);
	row_for(&row, getpid());
	T_EQ_INT(pw_vmm_proc_adopt(&o.p, &row, err, sizeof(err)), -EBUSY);
	run_until(&e, &o, 1);
	spin(&e);
	T_EQ_STR(o.order, "E");
	close_and_free(&e, &o);
	env_fini(&e);
}

/* A kill asked for while the spawn is still under way: done as soon as the
 * process exists, and its exit is reported (signal 9), once. */
static void t_kill_while_spawning(void)
{
	char *const argv[] = { "/bin/sleep", "30", NULL };
	struct env e;
	struct obs o;
	char err[256] = "";

	env_init(&e);
	obs_init(&o, &e);
	T_EQ_INT(pw_vmm_proc_spawn(&o.p, argv, e.log, err, sizeof(err)), 0);
	T_EQ_INT(pw_vmm_proc_kill(&o.p), 0);
	run_until(&e, &o, 1);
	T_ASSERT(o.spawned && o.spawn_status == 0);
	spin(&e);
	T_EQ_STR(o.order, "E");
	T_EQ_INT(o.sig, SIGKILL);
	close_and_free(&e, &o);
	env_fini(&e);
}

/* Closed while the spawn is under way: nothing is reported, the process is
 * killed and reaped, and on_free comes once the spawn is done. */
static void t_close_while_spawning(void)
{
	char *const argv[] = { "/bin/sh", "-c", "echo $$ >>\"$0\"; exec sleep 30", NULL, NULL };
	char *args[5];
	struct env e;
	struct obs o;
	char err[256] = "", buf[64];
	pid_t pid;

	env_init(&e);
	memcpy(args, argv, sizeof(argv));
	args[3] = e.log; /* $0: where the child writes its pid */
	args[4] = NULL;
	obs_init(&o, &e);
	T_EQ_INT(pw_vmm_proc_spawn(&o.p, args, e.log, err, sizeof(err)), 0);
	pw_vmm_proc_close(&o.p);
	run_until(&e, &o, 1);
	T_EQ_STR(o.order, "F");
	T_ASSERT(!o.spawned);
	read_file(e.log, buf, sizeof(buf));
	pid = (pid_t)atoi(buf);
	/* The child may have been killed before it wrote its pid: then there
	 * is no pid to check, and no process of ours left either. */
	T_ASSERT(pid <= 0 || kill(pid, 0) < 0);
	T_EQ_INT(waitpid(-1, NULL, WNOHANG), -1); /* nothing left to reap */
	env_fini(&e);
}

static void t_start_time(void)
{
	int64_t a = 0, b = 0;

	T_EQ_INT(pw_proc_start_time(getpid(), &a), 0);
	T_EQ_INT(pw_proc_start_time(getpid(), &b), 0);
	T_ASSERT(a > 0 && a == b);
	T_EQ_INT(pw_proc_start_time(0, &a), -ESRCH);
	T_EQ_INT(pw_proc_start_time(-1, &a), -ESRCH);
}

int main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		T_CASE(t_spawn_exit_status),
		T_CASE(t_spawn_pass_fd),
		T_CASE(t_kill_spawned),
		T_CASE(t_kill_after_exit),
		T_CASE(t_kill_nothing),
		T_CASE(t_spawn_missing_binary),
		T_CASE(t_spawn_bad_console),
		T_CASE(t_spawn_exec_fails),
		T_CASE(t_adopt_orphan),
		T_CASE(t_adopt_own_child),
		T_CASE(t_adopt_gone),
		T_CASE(t_close_then_exit),
		T_CASE(t_spawn_twice), T_CASE(t_kill_while_spawning),
		T_CASE(t_close_while_spawning),
		T_CASE(t_start_time),
		{ 0 },
	};

	return t_run(argc, argv, cases);
}
