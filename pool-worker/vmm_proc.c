/*
 * vmm_proc.c — the VMM process a driver embeds (see vmm_proc.h).
 *
 * Handles, all on p->loop, all owned here:
 *   timer[]     the driver's timers, initialised by pw_vmm_proc_init;
 *               data = p->owner until pw_vmm_proc_close (then p).
 *   pidfd_poll  the VMM's pidfd, polled; readable = exited (have_poll).
 *               A VMM we spawn is our child (posix_spawn on libuv's thread
 *               pool, see "spawning"), then pidfd_open; waitid P_PIDFD
 *               reaps it and gives its code or signal. A VMM we
 *               adopt is found by pid, checked against the row's start
 *               time; its status is unknown (-1) unless it is our child.
 * open_handles counts the initialised ones; the close callback of the last
 * closes the pidfd and calls on_free, which frees the embedding struct.
 *
 * Invariants: p->pid > 0 iff a spawn or adopt succeeded (a process was
 * watched). `exited` is set once, before the one on_exit call; no on_exit
 * after close. Kill refuses nothing but "there never was a process".
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "vmm_proc.h"

#ifndef P_PIDFD
#define P_PIDFD 3 /* linux/wait.h; glibc 2.36 does not define it */
#endif

extern char **environ;

/* A VMM's whole environment: PATH, LANG=C and nothing of ours
 * (UIGNITER_SHM, …). The one exception is the Firecracker test fake's
 * knobs (FC_FAKE_*, tests/fakes), which a real host never sets. Built once
 * (pthread_once: spawns run on the thread pool). */
#define VMM_ENV_MAX 32
static char *vmm_envv[VMM_ENV_MAX + 3];
static pthread_once_t vmm_env_once = PTHREAD_ONCE_INIT;

static void vmm_env_build(void)
{
	size_t n = 0;

	vmm_envv[n++] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
	vmm_envv[n++] = "LANG=C";
	for (char **e = environ; *e && n < VMM_ENV_MAX + 2; e++)
		if (!strncmp(*e, "FC_FAKE_", 8))
			vmm_envv[n++] = *e;
	vmm_envv[n] = NULL;
}

static char *const *vmm_env(void)
{
	pthread_once(&vmm_env_once, vmm_env_build);
	return vmm_envv;
}

/* ----------------------------------------------------------- /proc, fds */

int pw_proc_start_time(int64_t pid, int64_t *out)
{
	char path[64], buf[1024], *p;
	unsigned long long start;
	ssize_t n;
	int fd;

	if (pid <= 0)
		return -ESRCH;
	snprintf(path, sizeof(path), "/proc/%lld/stat", (long long)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -ESRCH;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -ESRCH;
	buf[n] = '\0';
	/* comm (field 2) may hold spaces and ')': fields 3.. follow the last ')'. */
	p = strrchr(buf, ')');
	if (!p || p[1] != ' ')
		return -EIO;
	if (p[2] == 'Z' || p[2] == 'X')
		return -ESRCH;
	/* After ") ", field 3 is the state; starttime is field 22. */
	p += 2;
	for (int field = 3; field < 22; field++) {
		p = strchr(p, ' ');
		if (!p)
			return -EIO;
		p++;
	}
	if (sscanf(p, "%llu", &start) != 1)
		return -EIO;
	*out = (int64_t)start;
	return 0;
}

/* The console log, appending, O_CLOEXEC; fd or negative errno + sentence. */
/* A console log that cannot be opened is the host's fault (its state_dir),
 * never a client's: -ENOENT becomes -EIO (vmm_proc.h: spawn errors). */
static int open_console(const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);

	if (fd < 0) {
		snprintf(err, errlen, "cannot open console log %s: %s", path,
			 strerror(errno));
		return errno == ENOENT ? -EIO : -errno;
	}
	return fd;
}

/* An executable that is not there (or cannot be run) is PW_VMM_UNAVAILABLE,
 * with a sentence naming it; other errors stay as they are. */
static int exec_error(int rc, const char *prog, const char *stage, char *err, size_t errlen)
{
	bool missing = rc == -ENOENT || rc == -EACCES || rc == -ENOEXEC || rc == -ENOTDIR ||
		       rc == -ELOOP || rc == -EPERM;

	if (!missing) {
		snprintf(err, errlen, "cannot start %s: %s: %s", prog, stage, strerror(-rc));
		return rc;
	}
	snprintf(err, errlen, "cannot start %s: the VMM binary is missing or not executable "
		 "(%s); runs fail until it is back", prog, strerror(-rc));
	return PW_VMM_UNAVAILABLE;
}

/* A pidfd for row's VMM, checked to be that very process (pid and start
 * time; the pidfd pins the pid, so the check stays true). -ESRCH + err. */
static int pidfd_for_row(const struct ui_vm *row, char *err, size_t errlen)
{
	int64_t start = 0;
	int fd;

	if (row->vmm_pid <= 0) {
		snprintf(err, errlen, "no pid recorded");
		return -ESRCH;
	}
	fd = pidfd_open((pid_t)row->vmm_pid, 0); /* always O_CLOEXEC */
	if (fd < 0) {
		snprintf(err, errlen, "pidfd_open(%lld): %s", (long long)row->vmm_pid,
			 strerror(errno));
		return -ESRCH;
	}
	if (pw_proc_start_time(row->vmm_pid, &start) < 0 ||
	    start != row->vmm_start_time) {
		snprintf(err, errlen, "process %lld gone or pid reused",
			 (long long)row->vmm_pid);
		close(fd);
		return -ESRCH;
	}
	return fd;
}

/* How the process behind pidfd ended: known only if it was our child;
 * else *code = -1, *sig = 0. */
static void pidfd_exit_status(int pidfd, int64_t *code, int *sig)
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

/* ------------------------------------------------------------ lifetime */

int pw_vmm_proc_init(struct pw_vmm_proc *p, uv_loop_t *loop, void *owner,
		     void (*on_exit)(struct pw_vmm_proc *p, int64_t status, int sig),
		     void (*on_free)(struct pw_vmm_proc *p))
{
	int rc;

	memset(p, 0, sizeof(*p));
	p->loop = loop;
	p->owner = owner;
	p->pidfd = -1;
	p->pass_fd = -1;
	p->on_exit = on_exit;
	p->on_free = on_free;
	errno = 0;
	p->nice = getpriority(PRIO_PROCESS, 0);
	if (p->nice == -1 && errno)
		p->nice = 0;
	p->autogroup_nice = PW_NO_AUTOGROUP;
	for (int i = 0; i < PW_VMM_TIMERS; i++) {
		rc = uv_timer_init(loop, &p->timer[i]);
		if (rc < 0)
			return rc; /* timers 0..i-1 open: open_handles says so */
		p->timer[i].data = owner;
		p->open_handles++;
	}
	return 0;
}

static void free_now(struct pw_vmm_proc *p)
{
	if (p->pidfd >= 0)
		close(p->pidfd);
	p->pidfd = -1;
	p->on_free(p); /* frees p: nothing after this */
}

/* The last handle closed frees p — unless a spawn is still running on the
 * pool: its completion frees it then. */
static void handle_closed(uv_handle_t *h)
{
	struct pw_vmm_proc *p = h->data;

	if (--p->open_handles == 0 && !p->job)
		free_now(p);
}

static void close_handle(struct pw_vmm_proc *p, uv_handle_t *h)
{
	h->data = p;
	uv_close(h, handle_closed);
}

void pw_vmm_proc_close(struct pw_vmm_proc *p)
{
	int timers;

	if (p->closing)
		return;
	p->closing = true;
	if (p->pass_fd >= 0) /* set, never spawned */
		close(p->pass_fd);
	p->pass_fd = -1;
	/* Timers are initialised first and in order; the rest of the count is
	 * the process watch. */
	timers = p->open_handles - p->have_poll;
	if (p->open_handles == 0) {
		if (!p->job)
			free_now(p);
		return;
	}
	for (int i = 0; i < timers; i++)
		close_handle(p, (uv_handle_t *)&p->timer[i]);
	/* Closing the watch stops watching; the VMM keeps running. */
	if (p->have_poll)
		close_handle(p, (uv_handle_t *)&p->pidfd_poll);
}

/* ------------------------------------------------------------ the watch */

/* The one on_exit call of a watched process. */
static void report_exit(struct pw_vmm_proc *p, int64_t status, int sig)
{
	if (p->exited || p->closing)
		return;
	p->exited = true;
	p->on_exit(p, status, sig); /* may close p: touch nothing after this */
}

static void on_pidfd(uv_poll_t *h, int status, int events)
{
	struct pw_vmm_proc *p = h->data;
	int64_t code;
	int sig;

	(void)events;
	if (status < 0) /* cannot watch any more: the same as gone */
		ui_warn("pid %d: pidfd poll: %s", (int)p->pid, uv_strerror(status));
	/* Cannot fail on an active poll handle (not closing: close stops it). */
	(void)uv_poll_stop(h);
	pidfd_exit_status(p->pidfd, &code, &sig);
	report_exit(p, code, sig);
}

/* A process is watched, or being spawned. */
static bool watching(const struct pw_vmm_proc *p)
{
	return p->have_poll || p->pidfd >= 0 || p->job;
}

/* Watches pid through pidfd (owned from here on: closed by free_now). */
static int watch(struct pw_vmm_proc *p, int pidfd, pid_t pid, char *err, size_t errlen)
{
	int rc;

	p->pidfd = pidfd;
	rc = uv_poll_init(p->loop, &p->pidfd_poll, p->pidfd);
	if (rc < 0) {
		snprintf(err, errlen, "uv_poll_init(pidfd): %s", uv_strerror(rc));
		return rc;
	}
	p->have_poll = true;
	p->open_handles++;
	p->pidfd_poll.data = p;
	rc = uv_poll_start(&p->pidfd_poll, UV_READABLE, on_pidfd);
	if (rc < 0) {
		snprintf(err, errlen, "uv_poll_start(pidfd): %s", uv_strerror(rc));
		return rc;
	}
	p->pid = pid;
	return 0;
}

int pw_find_program(const char *prog, char *out, size_t len)
{
	const char *path = getenv("PATH");
	struct stat st;

	if (strchr(prog, '/')) {
		if (snprintf(out, len, "%s", prog) >= (int)len)
			return -ENAMETOOLONG;
		return stat(out, &st) == 0 && S_ISREG(st.st_mode) && access(out, X_OK) == 0 ?
		       0 : -ENOENT;
	}
	for (const char *p = path ? path : "/usr/bin:/bin"; *p;) {
		size_t n = strcspn(p, ":");

		if (n && snprintf(out, len, "%.*s/%s", (int)n, p, prog) < (int)len &&
		    stat(out, &st) == 0 && S_ISREG(st.st_mode) && access(out, X_OK) == 0)
			return 0;
		p += n + (p[n] == ':');
	}
	return -ENOENT;
}

/* ---- spawning: posix_spawn on a thread of libuv's pool ------------------------
 *
 * posix_spawn (vfork-like) holds its caller until the child has exec'd —
 * ~1-3 ms a VMM on a busy host — and a fork of pool-worker costs ~1 ms of
 * page-table copying here; either, on the loop, would serialise every run.
 * So the loop opens the console log (a bad path is an error at once),
 * checks the executable, and hands a self-contained job (argv copied) to
 * the pool; the thread spawns and opens the pidfd; the loop then starts
 * the watch and calls on_spawned. A kill asked for meanwhile is done as
 * soon as the process exists; a struct closed meanwhile kills and reaps
 * its process, then frees itself.
 */

struct spawn_job {
	uv_work_t work;
	struct pw_vmm_proc *p;
	int console, nice, autogroup_nice;
	int pass;                     /* p->pass_fd taken over, or -1 */
	pid_t pid;
	int pidfd, err;               /* results: err is an errno, 0 = fine */
	const char *failed;           /* which call failed */
	struct pw_cg_spec cg;         /* its cgroup (mode off: none) */
	char cg_err[PATH_MAX + 128];  /* a cgroup failure's sentence */
	char file[PATH_MAX];
	char *argv[PW_VMM_MAX_ARGS + 1];
	char strings[];               /* argv's strings, copied */
};

static struct spawn_job *job_new(struct pw_vmm_proc *p, char *const argv[], int console)
{
	size_t total = 0, n = 0;
	struct spawn_job *j;
	char *at;

	while (argv[n] && n < PW_VMM_MAX_ARGS)
		total += strlen(argv[n++]) + 1;
	if (argv[n] || !(j = calloc(1, sizeof(*j) + total)))
		return NULL;
	at = j->strings;
	for (size_t i = 0; i < n; i++) {
		j->argv[i] = strcpy(at, argv[i]);
		at += strlen(at) + 1;
	}
	j->p = p;
	j->console = console;
	j->pass = -1;
	j->nice = p->nice;
	j->autogroup_nice = p->autogroup_nice;
	pw_cg_spec(p->cg_row ? p->cgroups : NULL, p->cg_row ? p->cg_row->id : "",
		   p->cg_row ? (unsigned)p->cg_row->vcpus : 1,
		   p->cg_row ? (unsigned)p->cg_row->mem_mib : 0, &j->cg);
	/* In a cpu cgroup the autogroup no longer applies: its weight does. */
	if (j->cg.mode != PW_CG_OFF)
		j->autogroup_nice = PW_NO_AUTOGROUP;
	j->pidfd = -1;
	j->work.data = j;
	return j;
}

/* The child's start: own session (it survives us), stdin /dev/null,
 * stdout and stderr the console log, no blocked signals, default
 * dispositions (we ignore SIGPIPE). */
static int spawn_attrs(posix_spawn_file_actions_t *fa, posix_spawnattr_t *at, int console,
		       int pass)
{
	sigset_t none, all;
	int rc;

	sigemptyset(&none);
	sigfillset(&all);
	if ((rc = posix_spawn_file_actions_init(fa)) != 0)
		return rc;
	if ((rc = posix_spawnattr_init(at)) != 0) {
		posix_spawn_file_actions_destroy(fa);
		return rc;
	}
	if ((rc = posix_spawn_file_actions_addopen(fa, 0, "/dev/null", O_RDONLY, 0)) ||
	    (rc = posix_spawn_file_actions_adddup2(fa, console, 1)) ||
	    (rc = posix_spawn_file_actions_adddup2(fa, console, 2)) ||
	    (pass >= 0 && (rc = posix_spawn_file_actions_adddup2(fa, pass, PW_VMM_PASS_FD))) ||
	    (rc = posix_spawnattr_setflags(at, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK |
					   POSIX_SPAWN_SETSIGDEF)) ||
	    (rc = posix_spawnattr_setsigmask(at, &none)) ||
	    (rc = posix_spawnattr_setsigdefault(at, &all))) {
		posix_spawnattr_destroy(at);
		posix_spawn_file_actions_destroy(fa);
	}
	return rc;
}

int pw_autogroup_nice(void)
{
	char buf[128];
	int fd = open("/proc/self/autogroup", O_RDONLY | O_CLOEXEC), n, nice;
	ssize_t len;

	if (fd < 0)
		return -ENOENT;
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[len > 0 ? len : 0] = '\0';
	/* "/autogroup-123 nice 0" */
	n = sscanf(buf, "%*s nice %d", &nice);
	return n == 1 ? nice : -ENOENT;
}

/*
 * A VMM is in a session of its own (it must survive us), and with the
 * kernel's autogroups every session is scheduled as one unit whatever the
 * nice of its tasks: 64 busy VMMs would be 64 units against the one the
 * control plane's session is, and starve it (its heartbeat included).
 * So a VMM's session gets the nice it would have had beside the daemons.
 */
static void set_autogroup(pid_t pid, int nice)
{
	char path[64], v[16];
	int fd, n;

	if (nice == PW_NO_AUTOGROUP)
		return;
	snprintf(path, sizeof(path), "/proc/%d/autogroup", (int)pid);
	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) < 0)
		return; /* gone already, or no autogroups */
	n = snprintf(v, sizeof(v), "%d", nice);
	if (write(fd, v, (size_t)n) < 0) {
		/* unprivileged, or gone: its session keeps the default */
	}
	close(fd);
}

/* On the pool's thread: touches only the job. */
static void job_run(uv_work_t *w)
{
	struct spawn_job *j = w->data;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	int rc;

	/* Linux keeps nice per thread: this one takes the VMMs' priority, so
	 * the child runs at it from its first instruction (dynamic loading
	 * included), not at the daemons'. Refused to an unprivileged manager:
	 * then the VMM runs at ours. */
	(void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), j->nice);
	if ((rc = pw_cg_create(&j->cg, j->cg_err, sizeof(j->cg_err))) < 0) {
		j->err = -rc;
		j->failed = "cgroup";
		return;
	}
	if ((j->err = spawn_attrs(&fa, &at, j->console, j->pass)) != 0) {
		(void)pw_cg_remove(&j->cg);
		j->failed = "posix_spawn attributes";
		return;
	}
	j->err = posix_spawn(&j->pid, j->file, &fa, &at, j->argv, vmm_env());
	posix_spawnattr_destroy(&at);
	posix_spawn_file_actions_destroy(&fa);
	if (j->err) {
		(void)pw_cg_remove(&j->cg);
		j->failed = "exec";
		return;
	}
	/* Into its cgroup at once: posix_spawn returns once the child has
	 * exec'd, so it has only begun loading — a VMM maps its guest memory
	 * well after this. */
	if ((rc = pw_cg_attach(&j->cg, j->pid, j->cg_err, sizeof(j->cg_err))) < 0) {
		j->err = -rc;
		j->failed = "cgroup";
	} else {
		set_autogroup(j->pid, j->autogroup_nice);
		if ((j->pidfd = pidfd_open(j->pid, 0)) < 0) {
			j->err = errno;
			j->failed = "pidfd_open";
		}
	}
	if (j->err) {
		kill(j->pid, SIGKILL);
		waitpid(j->pid, NULL, 0);
		(void)pw_cg_remove(&j->cg);
	}
}

/* A process nobody wants any more (its struct closed while spawning). */
static void job_discard(struct spawn_job *j)
{
	if (j->pidfd < 0)
		return;
	pidfd_send_signal(j->pidfd, SIGKILL, NULL, 0);
	waitpid(j->pid, NULL, 0); /* dies at once: it has only just exec'd */
	close(j->pidfd);
	(void)pw_cg_remove(&j->cg);
}

static void job_done(uv_work_t *w, int status)
{
	struct spawn_job *j = w->data;
	struct pw_vmm_proc *p = j->p;
	char err[2 * PATH_MAX + 256];
	int rc = j->err ? -j->err : status;

	close(j->console);
	if (j->pass >= 0)
		close(j->pass);
	p->job = NULL;
	if (p->closing) {
		job_discard(j);
		free(j);
		if (p->open_handles == 0)
			free_now(p);
		return;
	}
	if (rc == 0 && (rc = watch(p, j->pidfd, j->pid, err, sizeof(err))) < 0) {
		p->pidfd = -1; /* job_discard closes it */
		p->pid = 0;
		job_discard(j);
	}
	else if (rc < 0 && j->failed && !strcmp(j->failed, "exec"))
		rc = exec_error(rc, j->argv[0], j->failed, err, sizeof(err));
	else if (rc < 0 && j->cg_err[0])
		snprintf(err, sizeof(err), "cannot start %s: %s", j->argv[0], j->cg_err);
	else if (rc < 0)
		snprintf(err, sizeof(err), "cannot start %s: %s: %s", j->argv[0],
			 j->failed ? j->failed : "thread pool", strerror(-rc));
	free(j);
	if (rc == 0 && p->kill_pending && pidfd_send_signal(p->pidfd, SIGKILL, NULL, 0) < 0)
		ui_warn("pid %d: SIGKILL: %s", (int)p->pid, strerror(errno));
	p->on_spawned(p, rc, rc < 0 ? err : NULL); /* may close p */
}

void pw_vmm_proc_cgroup(struct pw_vmm_proc *p, const struct pw_cgroups *cg,
			const struct ui_vm *row)
{
	p->cgroups = cg;
	p->cg_row = row;
}

int pw_vmm_proc_spawn(struct pw_vmm_proc *p, char *const argv[],
		      const char *console_log, char *err, size_t errlen)
{
	bool drop = p->priv && p->priv->drop;
	char *wrapped[PW_VMM_MAX_ARGS + 1], ids[2][16], file[PATH_MAX];
	struct spawn_job *j;
	int fd, rc;

	int pass = p->pass_fd;

	p->pass_fd = -1; /* ours now, whatever happens */
	if (p->closing || watching(p)) {
		snprintf(err, errlen, "a VMM process is already set up here");
		rc = -EBUSY;
		goto close_pass;
	}
	if ((fd = open_console(console_log, err, errlen)) < 0) {
		rc = fd;
		goto close_pass;
	}
	if ((rc = pw_find_program(argv[0], file, sizeof(file))) < 0) {
		close(fd);
		rc = exec_error(rc, argv[0], "find", err, errlen);
		goto close_pass;
	}
	if (drop && pw_vmm_priv_argv(p->priv, file, argv, ids, wrapped, PW_VMM_MAX_ARGS + 1) < 0)
		j = NULL;
	else
		j = job_new(p, drop ? wrapped : argv, fd);
	if (!j) {
		close(fd);
		snprintf(err, errlen, "out of memory (or more than %d arguments)",
			 PW_VMM_MAX_ARGS);
		rc = -ENOMEM;
		goto close_pass;
	}
	j->pass = pass;
	snprintf(j->file, sizeof(j->file), "%s", drop ? p->priv->helper : file);
	if ((rc = uv_queue_work(p->loop, &j->work, job_run, job_done)) < 0)
		snprintf(err, errlen, "cannot start %s: thread pool: %s", argv[0], uv_strerror(rc));
	if (rc < 0) {
		close(fd);
		free(j);
		goto close_pass;
	}
	p->job = j;
	return 0;

close_pass:
	if (pass >= 0)
		close(pass);
	return rc;
}

int pw_vmm_proc_adopt(struct pw_vmm_proc *p, const struct ui_vm *row, char *err,
		      size_t errlen)
{
	int rc;

	if (p->closing || watching(p)) {
		snprintf(err, errlen, "a VMM process is already set up here");
		return -EBUSY;
	}
	rc = pidfd_for_row(row, err, errlen);
	if (rc < 0)
		return rc;
	return watch(p, rc, (pid_t)row->vmm_pid, err, errlen);
}

bool pw_vmm_proc_running(const struct pw_vmm_proc *p)
{
	return p->pid > 0 && !p->exited && !p->closing;
}

int pw_vmm_proc_kill(struct pw_vmm_proc *p)
{
	if (p->job) { /* being spawned: killed as soon as it exists */
		p->kill_pending = true;
		return 0;
	}
	if (p->pid <= 0)
		return -ESRCH; /* never a process: nothing will report an exit */
	if (p->exited)
		return 0;
	/* Through the pidfd: never another process that reused the pid. */
	if (pidfd_send_signal(p->pidfd, SIGKILL, NULL, 0) < 0)
		return errno == ESRCH ? 0 : -errno;
	return 0;
}
