/*
 * vmm_proc.c — the VMM process a driver embeds (see vmm_proc.h).
 *
 * Handles, all on p->loop, all owned here:
 *   timer[]     the driver's timers, initialised by pw_vmm_proc_init;
 *               data = p->owner until pw_vmm_proc_close (then p).
 *   proc        a VMM we spawned; initialised by uv_spawn even when it
 *               fails (have_proc), so it is closed either way. Its exit_cb
 *               gives the exit code or signal (we are the parent).
 *   pidfd_poll  a VMM we adopted (have_poll): pidfd_open() checked against
 *               the row's start time, then polled; readable = exited. The
 *               status is known only if it is our child (waitid P_PIDFD),
 *               else -1.
 * open_handles counts the initialised ones; the close callback of the last
 * closes the pidfd and calls on_free, which frees the embedding struct.
 *
 * Invariants: p->pid > 0 iff a spawn or adopt succeeded (a process was
 * watched). `exited` is set once, before the one on_exit call; no on_exit
 * after close. Kill refuses nothing but "there never was a process".
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "vmm_proc.h"

#ifndef P_PIDFD
#define P_PIDFD 3 /* linux/wait.h; glibc 2.36 does not define it */
#endif

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
static int open_console(const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);

	if (fd < 0) {
		snprintf(err, errlen, "cannot open console log %s: %s", path,
			 strerror(errno));
		return -errno;
	}
	return fd;
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
	p->on_exit = on_exit;
	p->on_free = on_free;
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

static void handle_closed(uv_handle_t *h)
{
	struct pw_vmm_proc *p = h->data;

	if (--p->open_handles == 0)
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
	/* Timers are initialised first and in order; the rest of the count is
	 * the process watch. */
	timers = p->open_handles - p->have_proc - p->have_poll;
	if (p->open_handles == 0) {
		free_now(p);
		return;
	}
	for (int i = 0; i < timers; i++)
		close_handle(p, (uv_handle_t *)&p->timer[i]);
	/* Closing the process handle stops watching; the VMM keeps running. */
	if (p->have_proc)
		close_handle(p, (uv_handle_t *)&p->proc);
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

static void on_proc_exit(uv_process_t *h, int64_t status, int sig)
{
	report_exit(h->data, status, sig);
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

static bool watching(const struct pw_vmm_proc *p)
{
	return p->have_proc || p->have_poll;
}

int pw_vmm_proc_spawn(struct pw_vmm_proc *p, char *const argv[],
		      const char *console_log, char *err, size_t errlen)
{
	uv_process_options_t opt = { 0 };
	uv_stdio_container_t stdio[3];
	int fd, rc;

	if (p->closing || watching(p)) {
		snprintf(err, errlen, "a VMM process is already set up here");
		return -EBUSY;
	}
	fd = open_console(console_log, err, errlen);
	if (fd < 0)
		return fd;
	stdio[0].flags = UV_IGNORE; /* /dev/null */
	stdio[1].flags = stdio[2].flags = UV_INHERIT_FD;
	stdio[1].data.fd = stdio[2].data.fd = fd;
	opt.file = argv[0];
	opt.args = (char **)argv;
	opt.flags = UV_PROCESS_DETACHED; /* own session: survives us */
	opt.stdio = stdio;
	opt.stdio_count = 3;
	opt.exit_cb = on_proc_exit;
	p->proc.data = p;
	rc = uv_spawn(p->loop, &p->proc, &opt);
	/* Initialised even when it fails: it must be closed either way. */
	p->have_proc = true;
	p->open_handles++;
	close(fd);
	if (rc < 0) {
		p->exited = true; /* nothing will ever report */
		snprintf(err, errlen, "cannot start %s: %s", argv[0], uv_strerror(rc));
		return rc;
	}
	p->pid = p->proc.pid;
	return 0;
}

int pw_vmm_proc_adopt(struct pw_vmm_proc *p, const struct ui_vm *row, char *err,
		      size_t errlen)
{
	int rc;

	if (p->closing || watching(p) || p->pidfd >= 0) {
		snprintf(err, errlen, "a VMM process is already set up here");
		return -EBUSY;
	}
	rc = pidfd_for_row(row, err, errlen);
	if (rc < 0)
		return rc;
	p->pidfd = rc; /* closed by free_now */
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
	p->pid = (pid_t)row->vmm_pid;
	return 0;
}

bool pw_vmm_proc_running(const struct pw_vmm_proc *p)
{
	return p->pid > 0 && !p->exited && !p->closing;
}

int pw_vmm_proc_kill(struct pw_vmm_proc *p)
{
	int rc;

	if (p->pid <= 0)
		return -ESRCH; /* never a process: nothing will report an exit */
	if (p->exited)
		return 0;
	if (p->have_proc) {
		/* Our child: its pid cannot be reused before libuv reaps it. */
		rc = uv_process_kill(&p->proc, SIGKILL);
		return rc == UV_ESRCH ? 0 : rc;
	}
	if (pidfd_send_signal(p->pidfd, SIGKILL, NULL, 0) < 0)
		return errno == ESRCH ? 0 : -errno;
	return 0;
}
