/*
 * test_lock.c — instance locks (shared/lock.c), with real processes: a lock
 * another process holds is refused (-EBUSY) and names its holder, a probe
 * sees it without taking it, the holder's death by SIGKILL frees it, two
 * probes never fail each other, a program a holder execs never inherits it
 * (VMMs outlive the daemons), and role paths. No root needed. Files live in
 * a temp dir removed at exit.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>

#include "config.h"
#include "lock.h"
#include "t.h"

static char dir[64];
static char path[128];
static pid_t holder_pid;

static void cleanup(void)
{
	if (holder_pid > 0)
		kill(holder_pid, SIGKILL);
	unlink(path);
	rmdir(dir);
}

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/uigniter-test-lock-XXXXXX");
	T_ASSERT(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/pool-worker.lock", dir);
	atexit(cleanup);
}

/* A child that takes the lock, says so on a pipe, then sleeps (or, with
 * exec_sleep, execs sleep: the lock must not go with it). */
static pid_t spawn_holder(bool exec_sleep)
{
	int p[2], fd;
	pid_t holder, pid;
	char b;

	T_EQ_INT(pipe(p), 0);
	pid = fork();
	T_ASSERT(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		if (ui_lock_take(path, &fd, &holder) != 0)
			_exit(1);
		if (write(p[1], "l", 1) != 1)
			_exit(1);
		if (exec_sleep)
			execl("/bin/sleep", "sleep", "60", (char *)NULL);
		pause();
		_exit(0);
	}
	close(p[1]);
	T_EQ_INT(read(p[0], &b, 1), 1);
	close(p[0]);
	holder_pid = pid;
	return pid;
}

static void kill_holder(pid_t pid)
{
	T_EQ_INT(kill(pid, SIGKILL), 0);
	T_EQ_INT(waitpid(pid, NULL, 0), pid);
	holder_pid = 0;
}

static void t_busy_names_holder_and_frees_at_death(void)
{
	pid_t holder, pid;
	int fd;

	setup();
	pid = spawn_holder(false);
	T_EQ_INT(ui_lock_take(path, &fd, &holder), -EBUSY);
	T_EQ_INT(fd, -1);
	T_EQ_INT(holder, pid);
	T_EQ_INT(ui_lock_probe(path, &holder), -EBUSY);
	T_EQ_INT(holder, pid);
	kill_holder(pid);
	T_EQ_INT(ui_lock_probe(path, &holder), 0);
	T_EQ_INT(ui_lock_take(path, &fd, &holder), 0);
	T_ASSERT(fd >= 0);
	T_ASSERT(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	/* flock is per open file: a probe of ours sees our own lock, and our
	 * pid has replaced the dead holder's. */
	T_EQ_INT(ui_lock_probe(path, &holder), -EBUSY);
	T_EQ_INT(holder, getpid());
	close(fd);
}

static void t_probe_does_not_take(void)
{
	pid_t holder;
	int fd, fd2;

	setup();
	T_EQ_INT(ui_lock_probe(path, &holder), 0); /* no file yet */
	T_EQ_INT(holder, 0);
	T_EQ_INT(ui_lock_take(path, &fd, &holder), 0);
	T_EQ_INT(ui_lock_take(path, &fd2, &holder), -EBUSY); /* another fd */
	T_EQ_INT(holder, getpid());
	close(fd);
	T_EQ_INT(ui_lock_probe(path, &holder), 0);
	T_EQ_INT(ui_lock_probe(path, &holder), 0);
	T_EQ_INT(ui_lock_take(path, &fd, &holder), 0); /* probes left nothing */
	close(fd);
}

static void t_exec_does_not_inherit(void)
{
	pid_t holder, pid;
	int fd;

	setup();
	pid = spawn_holder(true);
	/* The holder exec'd sleep: O_CLOEXEC dropped the lock with the fd. */
	for (int i = 0; i < 500 && ui_lock_probe(path, &holder) == -EBUSY; i++)
		usleep(10 * 1000); /* until the exec has happened */
	T_EQ_INT(ui_lock_take(path, &fd, &holder), 0);
	T_ASSERT(kill(pid, 0) == 0); /* sleep still runs, without the lock */
	close(fd);
	kill_holder(pid);
}

static void t_role_paths(void)
{
	struct ui_config cfg;
	char buf[64];

	ui_config_defaults(&cfg);
	snprintf(cfg.state_dir, sizeof(cfg.state_dir), "/var/lib/uigniter");
	T_EQ_INT(ui_lock_role_path(&cfg, UI_D_NETD, buf, sizeof(buf)), 0);
	T_EQ_STR(buf, "/var/lib/uigniter/netd.lock");
	T_EQ_INT(ui_lock_role_path(&cfg, UI_D_POOL, buf, sizeof(buf)), 0);
	T_EQ_STR(buf, "/var/lib/uigniter/pool-worker.lock");
	T_EQ_INT(ui_lock_role_path(&cfg, UI_D_APID, buf, 20), -ENAMETOOLONG);
	ui_config_free(&cfg);
}

int main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		T_CASE(t_busy_names_holder_and_frees_at_death),
		T_CASE(t_probe_does_not_take),
		T_CASE(t_exec_does_not_inherit),
		T_CASE(t_role_paths),
		{ 0 },
	};
	return t_run(argc, argv, cases);
}
