/*
 * drv_qemu.c — the QEMU driver: qemu-system-x86_64 -M microvm, one process
 * per VM, controlled over QMP (qmp.c). Implements driver.h; the process
 * itself (spawn, adopt, exit watch, kill, handle lifetime) is the embedded
 * struct pw_vmm_proc (vmm_proc.c). This file is the QMP sequencing only.
 *
 * Per VM (struct qemu_vm, v->data):
 *   proc        the VMM process and our two timers:
 *     retry       20 ms: QMP connect retries (the socket exists before QEMU
 *                 listens) and query-status polling;
 *     deadline    boot_timeout_ms: QMP answering and the status wanted.
 *   mode        IDLE, WARMING or BOOTING: at most one of them in progress,
 *               ended by exactly one report (op_done), or silently by the
 *               exit or a release.
 *   qmp         the QMP connection; SHUTDOWN events record the reason
 *               (guest-shutdown / guest-reset / guest-panic / host-...).
 *
 * Boot: connect, qmp_capabilities, query-status until "running" → BOOTED.
 * Warm (a pool slot, driver.h): spawn with -S (paused before the first
 * instruction, kernel and initrd loaded, tap open), connect, query-status
 * until "prelaunch" → WARMED. Boot of a warm VMM: `cont`, then query-status
 * until "running". A VMM found in "prelaunch" while booting (a warm slot
 * taken just before a pool-worker restart) also gets `cont`.
 * Warm ahead (pool.boot: ahead): spawned without -S, the guest boots;
 * query-status "running", then the image's ready rule (ready.h) holds,
 * then QMP `stop` and query-status "paused" → WARMED. Boot of such a slot
 * is the same `cont`, and the guest's app already answers: ready_at is set
 * as it reports BOOTED.
 * Warm by restore (pool.boot: snapshot, its template ready: snapshot.h):
 * spawned from the template's argv with the slot's tap, MAC and sockets
 * and -S -incoming fd:3 (the state file, opened here); query-status
 * leaves "inmigrate" → the agent line (the slot's address, id, MAC and a
 * fresh seed) written to the agent socket, whose connection is kept for
 * the VM's life (written again every 250 ms until the slot is warm: see
 * agent_done) → `cont` → from there as ahead (ready rule, stop).
 * Without an image QEMU cannot warm (kernel and command line are fixed at
 * spawn): -ENOTSUP. fits: same image and the exact vcpus/mem it was spawned
 * with. The QMP socket path is unlinked before spawn (a stale one would
 * refuse, then look like ours).
 * Adopt: the pidfd watch, then a QMP connection (up to 100 attempts while
 * idle; boot keeps trying until its deadline).
 * Machine: per image and accelerator (pw_machine, cmdline.h: OSv under TCG
 * needs q35's HPET), logged once per VM with the reason and the stop method.
 * Exit: the SHUTDOWN reason goes to the engine as pw_guest_shutdown reads
 * it (OSv on microvm powers off by a reset: guest-reset is its power-off).
 * Stop: system_powerdown (ACPI power button); -ENOTSUP for a warm slot
 * never continued (a paused guest cannot power off: the engine kills), and
 * for an image whose stop is kill (OSv on microvm ignores the button): the
 * engine kills at once, no stop_timeout_ms wait.
 * Pause / resume (driver.h): QMP `stop` / `cont`, reported when QEMU has
 * answered (the deadline timer: boot_timeout_ms, then FAILED); asked before QMP is connected (an adopted VMM), sent once it
 * is. Adopted under a `running` row and found paused: `cont` (the row
 * wins). Stop of a guest paused so sends `cont` first, then the button
 * (QMP answers in order: the guest runs when the press reaches it).
 *
 * Reports come only from loop callbacks, never from inside a driver call;
 * nothing reports after release or after the exit report; a report may
 * release v (and so q): nothing is touched after one. A failed spawn, warm
 * or adopt leaves nothing behind (v->data NULL: kill says -ESRCH).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <fcntl.h>
#include <unistd.h>

#include "cmdline.h"
#include "driver.h"
#include "log.h"
#include "qmp.h"
#include "ready.h"
#include "snapshot.h"
#include "vmm_proc.h"

#define QMP_RETRY_MS 20
#define ADOPT_CONNECT_ATTEMPTS 100

enum qemu_timer { T_RETRY, T_DEADLINE, T_AGENT }; /* index into proc.timer[] */
#define AGENT_RESEND_MS 250
enum qemu_mode { Q_IDLE, Q_WARMING, Q_BOOTING };

struct qemu_vm {
	struct pw_vmm *v;              /* NULL once released */
	struct pw_vmm_proc proc;       /* frees this struct (qemu_freed) */
	enum qemu_mode mode;
	bool paused;                   /* spawned with -S: a warm slot */
	bool warm;                     /* spawned paused, reached prelaunch */
	bool cont_sent;
	bool ahead;                    /* a slot booted until ready, then paused */
	bool stop_sent;                /* ahead: QMP stop sent (ready) */
	bool restore;                  /* ahead, restored from the template */
	bool agent_sent;               /* restore: the agent line written */
	int agent_fd;                  /* restore: the agent connection, kept */
	char agent[108];               /* restore: its socket path */
	char *agent_line;              /* restore: resent until ready, then freed */
	struct pw_ready *probe;        /* ahead: its ready probe while warming */
	const struct ui_image *img;    /* ahead: the warm image (the config's) */
	enum ui_image_kind kind;       /* of its image (linux without one) */
	enum ui_machine machine;       /* what it was spawned as (pw_machine) */
	enum ui_stop stop;             /* how a stop reaches it (pw_stop_method) */
	int user_op;                   /* pause/resume asked: 1 pause, 0 resume, -1 none */
	bool user_sent;                /* … and sent */
	bool user_paused;              /* paused by pause (not a warm slot) */
	bool adopt_check;              /* adopted under a `running` row: paused? */
	unsigned connect_attempts;
	unsigned boot_timeout_ms;
	struct qmp *qmp;
	char shutdown_reason[32];
};

static void qmp_try_connect(struct qemu_vm *q);
static void query_status(struct qemu_vm *q);
static void send_user_op(struct qemu_vm *q);
static void check_adopted(struct qemu_vm *q);
static void user_op_done(struct qemu_vm *q, int status, const char *err);
static bool status_is(const char *st, const char *want);

static uv_timer_t *timer(struct qemu_vm *q, enum qemu_timer t)
{
	return &q->proc.timer[t];
}

/* ------------------------------------------------------------- lifetime */

/* The line is written again every AGENT_RESEND_MS while the slot warms:
 * the guest's init opens the port, reads, closes while no host end is
 * connected, and virtio_console discards what arrives for a port being
 * closed — a restore can land in that window (its template was saved
 * there), and the first copy is lost. The guest reads one line; copies
 * after it stay unread in the socket. */
static void agent_done(struct qemu_vm *q)
{
	uv_timer_stop(timer(q, T_AGENT));
	if (q->agent_line) {
		explicit_bzero(q->agent_line, strlen(q->agent_line));
		free(q->agent_line);
	}
	q->agent_line = NULL;
}

static void agent_close(struct qemu_vm *q)
{
	agent_done(q);
	if (q->agent_fd >= 0)
		close(q->agent_fd);
	q->agent_fd = -1;
}

static void on_agent_resend(uv_timer_t *t)
{
	struct qemu_vm *q = t->data;
	size_t n = q->agent_line ? strlen(q->agent_line) : 0;

	if (!n || q->agent_fd < 0 || q->mode != Q_WARMING) {
		agent_done(q);
		return;
	}
	if (send(q->agent_fd, q->agent_line, n, MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)n)
		ui_debug("%s: agent line not resent: %s", q->v->row->id, strerror(errno));
}

static void qemu_freed(struct pw_vmm_proc *p)
{
	struct qemu_vm *q = p->owner;

	if (q->agent_fd >= 0)
		close(q->agent_fd);
	if (q->agent_line) {
		explicit_bzero(q->agent_line, strlen(q->agent_line));
		free(q->agent_line);
	}
	free(q);
}

static void qemu_release(struct pw_vmm *v)
{
	struct qemu_vm *q = v->data;

	if (!q)
		return;
	v->data = NULL;
	q->v = NULL;
	pw_ready_stop(q->probe);
	q->probe = NULL;
	qmp_close(q->qmp);
	q->qmp = NULL;
	agent_close(q);
	pw_vmm_proc_close(&q->proc); /* the VMM keeps running */
}

static void on_vmm_exit(struct pw_vmm_proc *p, int64_t status, int sig);

/* A new struct in v->data; on failure nothing is left (v->data NULL). */
static int qemu_new(struct pw_vmm *v, struct qemu_vm **out, char *err,
		    size_t errlen)
{
	struct qemu_vm *q = calloc(1, sizeof(*q));
	int rc;

	if (!q) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	q->v = v;
	q->user_op = -1;
	q->agent_fd = -1;
	q->boot_timeout_ms = v->env->cfg->boot_timeout_ms;
	v->data = q;
	rc = pw_vmm_proc_init(&q->proc, v->env->loop, q, on_vmm_exit, qemu_freed);
	if (rc < 0) {
		snprintf(err, errlen, "cannot set up timers: %s", uv_strerror(rc));
		qemu_release(v);
		return rc;
	}
	q->proc.nice = v->env->vmm_nice;
	q->proc.autogroup_nice = v->env->vmm_autogroup_nice;
	pw_vmm_proc_cgroup(&q->proc, v->env->cgroups, v->row);
	q->proc.priv = v->env->priv;
	*out = q;
	return 0;
}

/* ----------------------------------------------------- boot and warm-up */

/* Ends the boot or warm-up in progress with its one report. */
static void op_done(struct qemu_vm *q, int status, const char *err)
{
	enum qemu_mode mode = q->mode;
	enum pw_vmm_report r = PW_VMM_FAILED;
	struct pw_vmm *v = q->v;

	pw_ready_stop(q->probe);
	q->probe = NULL;
	agent_done(q); /* warmed or failed: the line was read, or never will be */
	if (mode == Q_IDLE || !v)
		return;
	q->mode = Q_IDLE;
	uv_timer_stop(timer(q, T_DEADLINE));
	uv_timer_stop(timer(q, T_RETRY));
	if (mode == Q_WARMING)
		q->warm = status == 0;
	else if (status == 0)
		q->warm = false; /* the guest runs: no longer a slot */
	if (status == 0)
		r = mode == Q_WARMING ? PW_VMM_WARMED : PW_VMM_BOOTED;
	if (r == PW_VMM_BOOTED && q->ahead) /* resumed: its app answers already */
		ui_registry_now(v->row->ready_at, sizeof(v->row->ready_at));
	v->report(v, r, status, err); /* may release q: touch nothing after */
}

static void on_deadline(uv_timer_t *t)
{
	struct qemu_vm *q = t->data;
	char err[128];

	if (q->mode == Q_IDLE && q->user_op >= 0) { /* a pause or resume */
		snprintf(err, sizeof(err), "no answer within %u ms", q->boot_timeout_ms);
		user_op_done(q, -ETIMEDOUT, err);
		return;
	}
	snprintf(err, sizeof(err), "qemu did not report %s within %u ms",
		 q->mode == Q_WARMING ? "prelaunch" : "running", q->boot_timeout_ms);
	op_done(q, -ETIMEDOUT, err);
}

static void on_retry(uv_timer_t *t)
{
	struct qemu_vm *q = t->data;

	if (qmp_is_ready(q->qmp)) {
		send_user_op(q);
		query_status(q);
	} else if (!q->qmp) {
		qmp_try_connect(q);
	}
}

static void retry_later(struct qemu_vm *q)
{
	char err[128];
	int rc = uv_timer_start(timer(q, T_RETRY), on_retry, QMP_RETRY_MS, 0);

	if (rc < 0 && q->v) { /* only a closing handle refuses: never */
		snprintf(err, sizeof(err), "cannot arm the QMP retry timer: %s",
			 uv_strerror(rc));
		ui_warn("%s: %s", q->v->row->id, err);
		op_done(q, rc, err);
	}
}

/* Starts a boot or warm-up: the deadline, then QMP drives it. */
static int op_begin(struct qemu_vm *q, enum qemu_mode mode)
{
	int rc;

	if (!pw_vmm_proc_running(&q->proc))
		return -ESRCH;
	if (q->mode != Q_IDLE)
		return -EBUSY;
	/* booting ahead, a slot's warm-up is a boot and a wait for ready */
	rc = uv_timer_start(timer(q, T_DEADLINE), on_deadline, q->boot_timeout_ms +
			    (mode == Q_WARMING && q->ahead ? q->v->env->cfg->ready_timeout_ms : 0), 0);
	if (rc < 0)
		return rc;
	q->mode = mode;
	return 0;
}

/* After `cont` or `stop` (*sent): lost with the connection → sent again
 * (on_status sees it is not); else the status is asked for. */
static void after_cmd(struct qemu_vm *q, bool *sent, const char *cmd, int status,
		      const char *err)
{
	char msg[256];

	if (status == -ECONNRESET) {
		*sent = false;
	} else if (status < 0) {
		snprintf(msg, sizeof(msg), "%s: %s", cmd, err);
		op_done(q, -EIO, msg);
		return;
	}
	query_status(q);
}

static void on_cont(struct qmp *qmp, int status, json_t *ret, const char *err,
		    void *arg)
{
	struct qemu_vm *q = arg;

	(void)qmp;
	(void)ret;
	after_cmd(q, &q->cont_sent, "cont", status, err);
}

static void send_cont(struct qemu_vm *q)
{
	q->cont_sent = true;
	if (qmp_execute(q->qmp, "cont", NULL, on_cont, q) < 0) {
		q->cont_sent = false;
		retry_later(q);
	}
}

static bool status_is(const char *st, const char *want)
{
	return st && strcmp(st, want) == 0;
}

static void on_stopped(struct qmp *qmp, int status, json_t *ret, const char *err,
		       void *arg)
{
	struct qemu_vm *q = arg;

	(void)qmp;
	(void)ret;
	after_cmd(q, &q->stop_sent, "stop", status, err);
}

/* Ahead: the guest is ready; pause it (the slot is then WARM). */
static void send_stop(struct qemu_vm *q)
{
	q->stop_sent = true;
	if (qmp_execute(q->qmp, "stop", NULL, on_stopped, q) < 0) {
		q->stop_sent = false;
		retry_later(q);
	}
}

static void on_probe(void *arg, int status, const char *how)
{
	struct qemu_vm *q = arg;
	char msg[128];

	q->probe = NULL; /* it ends itself */
	if (status < 0) {
		snprintf(msg, sizeof(msg), "warm slot booted ahead: not ready within %u ms",
			 q->v->env->cfg->ready_timeout_ms);
		op_done(q, status, msg);
		return;
	}
	ui_info("%s: warm slot ready (%s): pausing it", q->v->row->id, how);
	if (qmp_is_ready(q->qmp))
		send_stop(q);
	else
		retry_later(q); /* on_status sends it once connected */
}

/* Ahead: running; wait for the image's rule (none: ready as it runs). */
static void start_probe(struct qemu_vm *q)
{
	const struct ui_image *img = q->img;
	struct pw_ready_rule rule = { q->v->row->ip, img->ready_port, img->ready_pattern,
				      q->v->row->console_log, q->v->env->cfg->ready_timeout_ms,
				      img->ready_http };
	char msg[128];
	int rc;

	if (!img->ready_port && !img->ready_pattern[0]) {
		send_stop(q);
		return;
	}
	if ((rc = pw_ready_start(q->v->env->loop, &rule, on_probe, q, &q->probe)) < 0) {
		snprintf(msg, sizeof(msg), "cannot watch the warm slot for ready: %s",
			 strerror(-rc));
		op_done(q, rc, msg);
	}
}

/* Restored: the slot's line on the agent port (connection kept: closed
 * with the VMM). 0, or -errno + msg. */
static int send_agent(struct qemu_vm *q, char *msg, size_t len)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char line[sizeof(q->v->row->boot_args) + 256];
	uint8_t seed[32];
	size_t n, off = 0;
	ssize_t w;
	int fd, rc;

	if (getrandom(seed, sizeof(seed), 0) != (ssize_t)sizeof(seed)) {
		snprintf(msg, len, "agent: getrandom: %s", strerror(errno));
		return -EIO;
	}
	rc = pw_snap_agent_line(q->v->row->boot_args, q->v->row->mac, seed, line, sizeof(line));
	explicit_bzero(seed, sizeof(seed));
	if (rc < 0) {
		snprintf(msg, len, "agent: no address line for the slot");
		return rc;
	}
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", q->agent);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		rc = -errno;
		snprintf(msg, len, "agent: cannot connect to %s: %s", q->agent, strerror(errno));
		if (fd >= 0)
			close(fd);
		return rc;
	}
	for (n = strlen(line); off < n; off += (size_t)w) {
		if ((w = write(fd, line + off, n - off)) < 0 && errno != EINTR) {
			rc = -errno;
			snprintf(msg, len, "agent: write: %s", strerror(errno));
			explicit_bzero(line, sizeof(line));
			close(fd);
			return rc;
		}
		if (w < 0)
			w = 0;
	}
	q->agent_fd = fd;
	q->agent_sent = true;
	if ((q->agent_line = strdup(line)) &&
	    uv_timer_start(timer(q, T_AGENT), on_agent_resend, AGENT_RESEND_MS,
			   AGENT_RESEND_MS) < 0)
		agent_done(q); /* only a closing handle refuses: never */
	explicit_bzero(line, sizeof(line));
	ui_info("%s: restored from the template: address line sent, continuing it",
		q->v->row->id);
	return 0;
}

static void on_status(struct qmp *qmp, int status, json_t *ret,
		      const char *err, void *arg)
{
	struct qemu_vm *q = arg;
	const char *st = json_string_value(json_object_get(ret, "status"));
	char msg[256];

	(void)qmp;
	if (status < 0 && status != -ECONNRESET) {
		snprintf(msg, sizeof(msg), "query-status: %s", err);
		op_done(q, -EIO, msg);
	} else if (q->mode == Q_WARMING && q->restore && !q->agent_sent &&
		   (status_is(st, "paused") || status_is(st, "prelaunch"))) {
		if ((status = send_agent(q, msg, sizeof(msg))) < 0)
			op_done(q, status, msg);
		else
			send_cont(q); /* then as ahead: running, ready, stop */
	} else if (q->mode == Q_WARMING && !q->ahead && status_is(st, "prelaunch")) {
		op_done(q, 0, NULL);
	} else if (q->mode == Q_WARMING && q->ahead && q->stop_sent && status_is(st, "paused")) {
		q->cont_sent = false; /* a slot: its boot sends `cont` */
		op_done(q, 0, NULL);
	} else if (q->mode == Q_WARMING && q->ahead && status_is(st, "running") &&
		   !q->stop_sent) {
		if (!q->probe && status >= 0)
			start_probe(q); /* no more polling: the probe says when */
	} else if (q->mode == Q_BOOTING && status_is(st, "running")) {
		op_done(q, 0, NULL);
	} else if (q->mode == Q_BOOTING && status_is(st, "prelaunch") &&
		   !q->cont_sent) {
		send_cont(q);
	} else if (q->mode != Q_IDLE) {
		/* not there yet, or the connection dropped: ask again shortly */
		retry_later(q);
	}
}

static void query_status(struct qemu_vm *q)
{
	if (q->mode == Q_IDLE)
		return;
	if (qmp_execute(q->qmp, "query-status", NULL, on_status, q) < 0)
		retry_later(q);
}

/* ------------------------------------------------------------------ QMP */

/* ------------------------------------------------------ pause and resume */

/* The pause or resume asked is done (status 0) or failed: its one report. */
static void user_op_done(struct qemu_vm *q, int status, const char *err)
{
	struct pw_vmm *v = q->v;
	int op = q->user_op;
	char msg[256];

	if (op < 0 || !v)
		return;
	q->user_op = -1;
	q->user_sent = false;
	uv_timer_stop(timer(q, T_DEADLINE));
	if (status == 0) {
		q->user_paused = op == 1;
		v->report(v, op ? PW_VMM_PAUSED : PW_VMM_RESUMED, 0, NULL);
		return;
	}
	snprintf(msg, sizeof(msg), "qemu %s: %s", op ? "stop" : "cont", err ? err : "failed");
	v->report(v, PW_VMM_FAILED, status == -ENOTCONN ? -EIO : status, msg);
}

static void on_user_op(struct qmp *qmp, int status, json_t *ret, const char *err,
		       void *arg)
{
	struct qemu_vm *q = arg;

	(void)qmp;
	(void)ret;
	if (status == -ECONNRESET && q->v) { /* lost with the connection: again */
		q->user_sent = false;
		retry_later(q);
		return;
	}
	user_op_done(q, status < 0 ? -EIO : 0, err);
}

static void send_user_op(struct qemu_vm *q)
{
	if (q->user_op < 0 || q->user_sent || !qmp_is_ready(q->qmp))
		return;
	q->user_sent = true;
	if (qmp_execute(q->qmp, q->user_op ? "stop" : "cont", NULL, on_user_op, q) < 0) {
		q->user_sent = false;
		retry_later(q);
	}
}

static void on_adopt_cont(struct qmp *qmp, int status, json_t *ret, const char *err,
			  void *arg)
{
	struct qemu_vm *q = arg;

	(void)qmp;
	(void)ret;
	if (status < 0 && q->v)
		ui_warn("%s: cont: %s", q->v->row->id, err);
}

/* Adopted under a `running` row, QEMU found paused (pool-worker died
 * between a resume's record and QEMU's answer, or someone paused it): the
 * row wins, the guest is continued. */
static void on_adopt_status(struct qmp *qmp, int status, json_t *ret, const char *err,
			    void *arg)
{
	struct qemu_vm *q = arg;
	const char *st = json_string_value(json_object_get(ret, "status"));

	(void)qmp;
	(void)err;
	if (status < 0 || !q->v || !status_is(st, "paused") || q->user_op >= 0)
		return;
	ui_info("%s: adopted paused under a running row: continuing it", q->v->row->id);
	if (qmp_execute(q->qmp, "cont", NULL, on_adopt_cont, q) < 0)
		ui_warn("%s: cannot send cont", q->v->row->id);
}

static void check_adopted(struct qemu_vm *q)
{
	if (!q->adopt_check)
		return;
	q->adopt_check = false;
	if (qmp_execute(q->qmp, "query-status", NULL, on_adopt_status, q) < 0)
		ui_warn("%s: cannot ask QEMU its status", q->v->row->id);
}

static int qemu_pause(struct pw_vmm *v, bool pause)
{
	struct qemu_vm *q = v->data;
	int rc;

	if (!q || !pw_vmm_proc_running(&q->proc))
		return -ESRCH;
	if (q->user_op >= 0)
		return -EBUSY;
	if (q->mode != Q_IDLE)
		return -EBUSY; /* booting: not a running guest */
	rc = uv_timer_start(timer(q, T_DEADLINE), on_deadline, q->boot_timeout_ms, 0);
	if (rc < 0)
		return rc;
	q->user_op = pause;
	if (qmp_is_ready(q->qmp)) {
		send_user_op(q);
	} else if (!q->qmp) {
		q->connect_attempts = 0;
		qmp_try_connect(q);
	}
	return 0;
}

/* Connecting failed: again shortly — while idle (adopted), a bounded
 * number of times. */
static void connect_failed(struct qemu_vm *q, int status)
{
	if (q->mode != Q_IDLE || ++q->connect_attempts < ADOPT_CONNECT_ATTEMPTS) {
		retry_later(q);
		return;
	}
	ui_warn("%s: cannot connect to QMP at %s: %s", q->v->row->id,
		q->v->row->api_socket, uv_strerror(status));
	user_op_done(q, -ENOTCONN, "cannot connect to QMP"); /* may release q */
}

static void on_qmp_ready(struct qmp *qmp, int status, void *arg)
{
	struct qemu_vm *q = arg;

	if (status == 0) {
		ui_debug("%s: QMP connected", q->v->row->id);
		q->connect_attempts = 0;
		check_adopted(q);
		send_user_op(q);
		query_status(q);
		return;
	}
	qmp_close(qmp);
	q->qmp = NULL;
	connect_failed(q, status);
}

static void on_qmp_event(struct qmp *qmp, const char *name, json_t *data,
			 void *arg)
{
	struct qemu_vm *q = arg;
	const char *reason = json_string_value(json_object_get(data, "reason"));

	(void)qmp;
	if (strcmp(name, "SHUTDOWN") == 0) {
		snprintf(q->shutdown_reason, sizeof(q->shutdown_reason), "%s",
			 reason ? reason : "unknown");
		ui_info("%s: QMP SHUTDOWN (%s)", q->v->row->id, q->shutdown_reason);
	} else {
		ui_debug("%s: QMP event %s", q->v->row->id, name);
	}
}

static void on_qmp_closed(struct qmp *qmp, int status, void *arg)
{
	struct qemu_vm *q = arg;

	ui_debug("%s: QMP connection closed: %s", q->v->row->id,
		 uv_strerror(status));
	qmp_close(qmp);
	q->qmp = NULL;
	/* Usually QEMU is exiting; if it is not, reconnect while booting or
	 * while a pause or resume is asked. */
	q->user_sent = false;
	if (q->mode != Q_IDLE || q->user_op >= 0)
		retry_later(q);
}

static const struct qmp_callbacks qemu_qmp_cbs = {
	.ready = on_qmp_ready,
	.event = on_qmp_event,
	.closed = on_qmp_closed,
};

static void qmp_try_connect(struct qemu_vm *q)
{
	int rc;

	if (!pw_vmm_proc_running(&q->proc) || q->qmp)
		return;
	rc = qmp_connect(q->proc.loop, q->v->row->api_socket, &qemu_qmp_cbs, q,
			 &q->qmp);
	if (rc < 0) {
		q->qmp = NULL;
		connect_failed(q, rc);
	}
}

/* ----------------------------------------------------------------- exit */

static void on_vmm_exit(struct pw_vmm_proc *p, int64_t status, int sig)
{
	struct qemu_vm *q = p->owner;
	struct pw_exit_info x = { .status = status, .signal = sig };
	struct pw_vmm *v = q->v;

	q->mode = Q_IDLE; /* no boot or warm report after the exit */
	pw_ready_stop(q->probe);
	q->probe = NULL;
	uv_timer_stop(timer(q, T_RETRY));
	uv_timer_stop(timer(q, T_DEADLINE));
	agent_close(q);
	qmp_close(q->qmp);
	q->qmp = NULL;
	if (q->shutdown_reason[0])
		x.guest_shutdown = pw_guest_shutdown(q->kind, q->machine, q->shutdown_reason);
	ui_info("%s: qemu pid %d exited (%s %d)", v->row->id, (int)p->pid,
		sig ? "signal" : "status", sig ? sig : (int)status);
	v->exited(v, &x); /* may release q: touch nothing after this */
}

/* ------------------------------------------------------- driver entries */

/* The spawn's outcome: the pid, and a warm slot's warm-up begins (before
 * the report: the report may release us). */
static void on_spawned(struct pw_vmm_proc *p, int status, const char *err)
{
	struct qemu_vm *q = p->owner;
	struct pw_vmm *v = q->v;
	int rc = status;
	char msg[128];

	if (rc == 0) {
		v->row->vmm_pid = p->pid;
		ui_info("%s: spawned qemu pid %d%s", v->row->id, (int)p->pid,
			q->paused ? " (paused: warm slot)" : "");
		if (q->paused && (rc = op_begin(q, Q_WARMING)) < 0) {
			snprintf(msg, sizeof(msg), "cannot start the warm-up: %s", uv_strerror(rc));
			err = msg; /* a fresh timer cannot refuse; leave nothing behind */
			pw_vmm_proc_kill(p);
		}
		if (rc == 0 && q->paused)
			qmp_try_connect(q);
	}
	if (rc < 0)
		qemu_release(v);
	v->report(v, rc == 0 ? PW_VMM_SPAWNED : PW_VMM_FAILED, rc, err);
}

/* The state file, read-only, on an fd that is not PW_VMM_PASS_FD itself
 * (the child's dup2 onto 3 would then keep its close-on-exec). */
static int open_state(const char *file)
{
	int fd = open(file, O_RDONLY | O_CLOEXEC), hi;

	if (fd < 0 || fd != PW_VMM_PASS_FD)
		return fd < 0 ? -errno : fd;
	hi = fcntl(fd, F_DUPFD_CLOEXEC, PW_VMM_PASS_FD + 1);
	close(fd);
	return hi < 0 ? -errno : hi;
}

/* A restored slot's argv: the template's (its command line, the agent
 * port) with this VM's tap, MAC and sockets, and its state file as fd 3. */
static int restore_argv(struct qemu_vm *q, const char *file, const char *dir,
			struct ui_vm *seen, struct pw_argv *a, char *err, size_t errlen)
{
	struct pw_argv *base = malloc(sizeof(*base));
	const struct pw_snap *snap = q->v->env->snap;
	int fd, rc = -ENOMEM;

	snprintf(err, errlen, "out of memory");
	if (!base)
		return rc;
	snprintf(seen->boot_args, sizeof(seen->boot_args), "%s", snap->cmdline);
	rc = snprintf(q->agent, sizeof(q->agent), "%s/agent", dir);
	if (rc < 0 || (size_t)rc >= sizeof(q->agent)) {
		snprintf(err, errlen, "agent socket path too long");
		rc = -ENAMETOOLONG;
	} else if ((rc = pw_qemu_argv_img(q->v->env->cfg->qemu_bin, q->v->env->accel,
					  ui_config_image(q->v->env->cfg, seen->image),
					  UI_MACHINE_MICROVM, seen, base)) < 0 ||
		   (rc = pw_snap_argv(base, false, q->agent, a)) < 0) {
		snprintf(err, errlen, "qemu command line too long");
	} else if ((fd = open_state(file)) < 0) {
		rc = fd;
		snprintf(err, errlen, "template %s: %s", file, strerror(-fd));
	} else {
		q->proc.pass_fd = fd; /* the spawn takes it over */
	}
	free(base);
	return rc;
}

/* Starts spawning qemu for v->row; paused: with -S (a warm slot); ahead:
 * a warm slot booted until ready (img's rule), then paused; restore: the
 * template's state file to restore it from (ahead too). */
static int spawn_qemu(struct pw_vmm *v, bool paused, bool ahead, const struct ui_image *img,
		      const char *restore, char *err, size_t errlen)
{
	struct pw_argv *a = malloc(sizeof(*a));
	struct ui_vm *row = v->row, *seen = malloc(sizeof(*seen)); /* the paths it opens */
	char dir[PATH_MAX];
	struct qemu_vm *q;
	int rc = -ENOMEM;

	const struct ui_image *image = ui_config_image(v->env->cfg, row->image);
	enum ui_machine machine;
	const char *why;

	snprintf(err, errlen, "out of memory");
	if (!a || !seen)
		goto free_argv;
	if ((rc = qemu_new(v, &q, err, errlen)) < 0)
		goto free_argv;
	/* Its own directory, fresh: the QMP socket goes there, and the image
	 * files the VMM user could not reach where they are (vmm_priv.h). */
	if ((rc = pw_vmm_dir(v->env->cfg, row->id, dir, sizeof(dir))) < 0)
		snprintf(err, errlen, "VMM directory path too long");
	else if (v->env->priv && (rc = pw_vmm_dir_make(v->env->priv, dir, err, errlen)) == 0)
		rc = pw_vmm_stage_row(v->env->priv, dir, row, false, seen, err, errlen);
	else if (!v->env->priv)
		*seen = *row;
	machine = pw_machine(image, v->env->accel, &why);
	if (rc == 0 && restore) {
		rc = restore_argv(q, restore, dir, seen, a, err, errlen);
	} else if (rc == 0 && ((rc = pw_qemu_argv_img(v->env->cfg->qemu_bin, v->env->accel, image,
					       machine, seen, a)) < 0 ||
			(paused && (rc = pw_argv_add(a, "-S")) < 0)))
		snprintf(err, errlen, "qemu command line too long");
	if (rc < 0) {
		qemu_release(v);
		goto free_argv;
	}
	q->kind = image ? image->kind : UI_KIND_LINUX;
	q->machine = machine;
	q->stop = pw_stop_method(image, machine, false);
	ui_info("%s: machine %s (%s); stop by %s", row->id,
		machine == UI_MACHINE_Q35 ? "q35" : "microvm", why,
		q->stop == UI_STOP_KILL ? "kill (no power button the guest answers)" :
		"ACPI power button");
	q->paused = paused || ahead;
	q->ahead = ahead;
	q->restore = restore != NULL;
	q->img = img;
	q->proc.on_spawned = on_spawned;
	rc = pw_vmm_proc_spawn(&q->proc, a->argv, row->console_log, err, errlen);
	if (rc < 0)
		qemu_release(v);
free_argv:
	free(seen);
	free(a);
	return rc;
}

static int qemu_spawn(struct pw_vmm *v, char *err, size_t errlen)
{
	return spawn_qemu(v, false, false, NULL, NULL, err, errlen);
}

static int qemu_warm(struct pw_vmm *v, const struct ui_image *img, char *err,
		     size_t errlen)
{
	if (!img) {
		snprintf(err, errlen, "the qemu driver cannot warm a VMM without "
			 "pool.warm_image (kernel and command line are fixed at spawn)");
		return -ENOTSUP;
	}
	if (v->env->cfg->pool_boot == UI_POOL_BOOT_SNAPSHOT) /* no template: ahead */
		return spawn_qemu(v, false, true, img, pw_snap_file(v->env->snap, img->name,
								    v->row->vcpus,
								    v->row->mem_mib), err, errlen);
	if (v->env->cfg->pool_boot == UI_POOL_BOOT_AHEAD) /* on_spawned begins it */
		return spawn_qemu(v, false, true, img, NULL, err, errlen);
	return spawn_qemu(v, true, false, NULL, NULL, err, errlen);
}

static bool qemu_fits(const struct pw_vmm *slot, const struct ui_image *img,
		      unsigned vcpus, unsigned mem_mib)
{
	const struct qemu_vm *q = slot->data;

	return q && q->warm && pw_vmm_proc_running(&q->proc) && img &&
	       strcmp(slot->row->image, img->name) == 0 &&
	       slot->row->vcpus == vcpus && slot->row->mem_mib == mem_mib;
}

static int qemu_boot(struct pw_vmm *v)
{
	struct qemu_vm *q = v->data;
	int rc;

	if (!q)
		return -ESRCH;
	rc = op_begin(q, Q_BOOTING);
	if (rc < 0)
		return rc;
	if (q->warm && !q->cont_sent && qmp_is_ready(q->qmp))
		send_cont(q); /* a warm slot: it is paused in prelaunch */
	else if (qmp_is_ready(q->qmp))
		query_status(q);
	else if (!q->qmp)
		qmp_try_connect(q);
	/* else: connecting; on_qmp_ready goes on */
	return 0;
}

static void on_powerdown(struct qmp *qmp, int status, json_t *ret,
			 const char *err, void *arg)
{
	struct qemu_vm *q = arg;

	(void)qmp;
	(void)ret;
	if (status < 0)
		ui_warn("%s: system_powerdown: %s", q->v->row->id, err);
}

static int qemu_stop(struct pw_vmm *v)
{
	struct qemu_vm *q = v->data;

	if (!q || !pw_vmm_proc_running(&q->proc))
		return -ESRCH;
	if (q->warm && !q->cont_sent)
		return -ENOTSUP; /* paused before its first instruction */
	if (q->stop == UI_STOP_KILL)
		return -ENOTSUP; /* its guest ignores the button: the engine kills now */
	if (!qmp_is_ready(q->qmp))
		return -ENOTCONN;
	if ((q->user_paused || q->user_op == 1) &&
	    qmp_execute(q->qmp, "cont", NULL, on_powerdown, q) == 0)
		q->user_paused = false; /* it must hear the button */
	return qmp_execute(q->qmp, "system_powerdown", NULL, on_powerdown, q);
}

static int qemu_kill(struct pw_vmm *v)
{
	struct qemu_vm *q = v->data;

	return q ? pw_vmm_proc_kill(&q->proc) : -ESRCH;
}

static int qemu_adopt(struct pw_vmm *v, char *err, size_t errlen)
{
	struct qemu_vm *q;
	int rc = qemu_new(v, &q, err, errlen);

	if (rc < 0)
		return rc;
	rc = pw_vmm_proc_adopt(&q->proc, v->row, err, errlen);
	if (rc < 0) {
		qemu_release(v);
		return rc;
	}
	{
		const struct ui_image *image = ui_config_image(v->env->cfg, v->row->image);
		const char *why;

		q->kind = image ? image->kind : UI_KIND_LINUX;
		q->machine = pw_machine(image, v->env->accel, &why);
		q->stop = pw_stop_method(image, q->machine, false);
	}
	q->adopt_check = strcmp(v->row->state, UI_VM_RUNNING) == 0;
	qmp_try_connect(q);
	return 0;
}

const struct ui_vmm_driver pw_drv_qemu = {
	.name = "qemu",
	.spawn = qemu_spawn,
	.boot = qemu_boot,
	.stop = qemu_stop,
	.kill = qemu_kill,
	.adopt = qemu_adopt,
	.release = qemu_release,
	.warm = qemu_warm,
	.fits = qemu_fits,
	.pause = qemu_pause,
};
