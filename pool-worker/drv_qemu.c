/*
 * drv_qemu.c — the QEMU driver: qemu-system-x86_64 -M microvm, one process
 * per VM, controlled over QMP (qmp.c). Implements driver.h.
 *
 * Per VM (struct qemu_vm, vm->drv_data):
 *   proc        uv_process_t of a VMM we spawned (own session, detached);
 *               its exit_cb reports the exit status.
 *   pidfd_poll  for an adopted VMM (not our child): pidfd_open() + uv_poll;
 *               readable = exited, status unknown (-1).
 *   retry       20 ms timer: QMP connect retries (the socket exists before
 *               QEMU listens) and query-status polling.
 *   deadline    boot_timeout_ms: QMP answering and status "running".
 *   qmp         the QMP connection; SHUTDOWN events record the reason
 *               (guest-shutdown / guest-reset / guest-panic / host-...).
 *
 * Boot: connect, qmp_capabilities, query-status until "running" → booted.
 * Warm (a pool slot, driver.h): spawn with -S (paused before the first
 * instruction, kernel and initrd loaded, tap open), connect, query-status
 * until "prelaunch" → warmed. Boot of a warm VMM: `cont`, then query-status
 * until "running". A VMM found in "prelaunch" while booting (a warm slot
 * taken just before a pool-worker restart) also gets `cont`.
 * Without an image QEMU cannot warm (kernel and command line are fixed at
 * spawn): -ENOTSUP. fits: same image and the exact vcpus/mem it was spawned
 * with.
 * Stop: system_powerdown (ACPI power button). Kill: SIGKILL through the
 * uv_process_t (a child cannot be reused before we reap it) or through the
 * pidfd (pid-reuse safe for adopted VMMs).
 *
 * Release closes the handles; the struct is freed when the last close
 * callback has run. Nothing reports to the engine after release or after
 * the exit report.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmdline.h"
#include "log.h"
#include "qmp.h"
#include "vmm_proc.h"
#include "worker.h"


#define QMP_RETRY_MS 20
#define ADOPT_CONNECT_ATTEMPTS 100

struct qemu_vm {
	struct pw_vm *vm;              /* NULL once released */
	uv_loop_t *loop;
	uv_process_t proc;
	uv_poll_t pidfd_poll;
	uv_timer_t retry, deadline;
	int pidfd;
	int open_handles;
	bool have_proc, have_poll;
	bool exited, booting;
	bool warming, warm;            /* warm: spawned paused, QMP answered */
	bool cont_sent;
	unsigned connect_attempts;
	unsigned boot_timeout_ms;
	struct qmp *qmp;
	char shutdown_reason[32];
};

static void qmp_try_connect(struct qemu_vm *q);

/* ------------------------------------------------------------- lifetime */

static void handle_closed(uv_handle_t *h)
{
	struct qemu_vm *q = h->data;

	if (--q->open_handles > 0)
		return;
	if (q->pidfd >= 0)
		close(q->pidfd);
	free(q);
}

static struct qemu_vm *qemu_new(struct pw_vm *vm)
{
	struct qemu_vm *q = calloc(1, sizeof(*q));

	if (!q)
		return NULL;
	q->vm = vm;
	q->loop = &vm->w->loop;
	q->pidfd = -1;
	q->boot_timeout_ms = vm->w->cfg->boot_timeout_ms;
	uv_timer_init(q->loop, &q->retry);
	uv_timer_init(q->loop, &q->deadline);
	q->retry.data = q->deadline.data = q;
	q->open_handles = 2;
	vm->drv_data = q;
	return q;
}

static void qemu_release(struct pw_vm *vm)
{
	struct qemu_vm *q = vm->drv_data;

	if (!q)
		return;
	vm->drv_data = NULL;
	q->vm = NULL;
	qmp_close(q->qmp);
	q->qmp = NULL;
	uv_close((uv_handle_t *)&q->retry, handle_closed);
	uv_close((uv_handle_t *)&q->deadline, handle_closed);
	/* Closing the process handle stops watching; the VMM keeps running. */
	if (q->have_proc)
		uv_close((uv_handle_t *)&q->proc, handle_closed);
	if (q->have_poll)
		uv_close((uv_handle_t *)&q->pidfd_poll, handle_closed);
}

/* ----------------------------------------------------------------- boot */

static void boot_done(struct qemu_vm *q, int status, const char *err)
{
	if (!q->booting)
		return;
	q->booting = false;
	uv_timer_stop(&q->deadline);
	uv_timer_stop(&q->retry);
	pw_vm_booted(q->vm, status, err);
}

static void warm_done(struct qemu_vm *q, int status, const char *err)
{
	if (!q->warming)
		return;
	q->warming = false;
	q->warm = status == 0;
	uv_timer_stop(&q->deadline);
	uv_timer_stop(&q->retry);
	pw_vm_warmed(q->vm, status, err);
}

static void on_boot_deadline(uv_timer_t *t)
{
	struct qemu_vm *q = t->data;
	char err[128];

	snprintf(err, sizeof(err), "qemu did not report %s within %u ms",
		 q->warming ? "prelaunch" : "running", q->boot_timeout_ms);
	if (q->warming)
		warm_done(q, -ETIMEDOUT, err);
	else
		boot_done(q, -ETIMEDOUT, err);
}

static void query_status(struct qemu_vm *q);
static void send_cont(struct qemu_vm *q);

static void on_retry(uv_timer_t *t)
{
	struct qemu_vm *q = t->data;

	if (qmp_is_ready(q->qmp))
		query_status(q);
	else if (!q->qmp)
		qmp_try_connect(q);
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
		if (q->warming)
			warm_done(q, -EIO, msg);
		else
			boot_done(q, -EIO, msg);
	} else if (q->warming && st && strcmp(st, "prelaunch") == 0) {
		warm_done(q, 0, NULL);
	} else if (q->booting && st && strcmp(st, "running") == 0) {
		boot_done(q, 0, NULL);
	} else if (q->booting && st && strcmp(st, "prelaunch") == 0 && !q->cont_sent) {
		send_cont(q);
	} else if (q->booting || q->warming) {
		/* not there yet, or the connection dropped: ask again shortly */
		uv_timer_start(&q->retry, on_retry, QMP_RETRY_MS, 0);
	}
}

static void on_cont(struct qmp *qmp, int status, json_t *ret, const char *err,
		    void *arg)
{
	struct qemu_vm *q = arg;
	char msg[256];

	(void)qmp;
	(void)ret;
	if (status == -ECONNRESET) {
		q->cont_sent = false; /* lost with the connection: again */
	} else if (status < 0) {
		snprintf(msg, sizeof(msg), "cont: %s", err);
		boot_done(q, -EIO, msg);
		return;
	}
	query_status(q);
}

static void send_cont(struct qemu_vm *q)
{
	q->cont_sent = true;
	if (qmp_execute(q->qmp, "cont", NULL, on_cont, q) < 0) {
		q->cont_sent = false;
		uv_timer_start(&q->retry, on_retry, QMP_RETRY_MS, 0);
	}
}

static void query_status(struct qemu_vm *q)
{
	if (!q->booting && !q->warming)
		return;
	if (qmp_execute(q->qmp, "query-status", NULL, on_status, q) < 0)
		uv_timer_start(&q->retry, on_retry, QMP_RETRY_MS, 0);
}

/* ------------------------------------------------------------------ QMP */

static void on_qmp_ready(struct qmp *qmp, int status, void *arg)
{
	struct qemu_vm *q = arg;

	if (status == 0) {
		ui_debug("%s: QMP connected", q->vm->row.id);
		q->connect_attempts = 0;
		query_status(q);
		return;
	}
	qmp_close(qmp);
	q->qmp = NULL;
	if (q->booting || q->warming || ++q->connect_attempts < ADOPT_CONNECT_ATTEMPTS)
		uv_timer_start(&q->retry, on_retry, QMP_RETRY_MS, 0);
	else
		ui_warn("%s: cannot connect to QMP at %s: %s", q->vm->row.id,
			q->vm->row.api_socket, uv_strerror(status));
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
		ui_info("%s: QMP SHUTDOWN (%s)", q->vm->row.id, q->shutdown_reason);
	} else {
		ui_debug("%s: QMP event %s", q->vm->row.id, name);
	}
}

static void on_qmp_closed(struct qmp *qmp, int status, void *arg)
{
	struct qemu_vm *q = arg;

	ui_debug("%s: QMP connection closed: %s", q->vm->row.id,
		 uv_strerror(status));
	qmp_close(qmp);
	q->qmp = NULL;
	/* Usually QEMU is exiting; if it is not, reconnect while booting. */
	if (q->booting || q->warming)
		uv_timer_start(&q->retry, on_retry, QMP_RETRY_MS, 0);
}

static const struct qmp_callbacks qemu_qmp_cbs = {
	.ready = on_qmp_ready,
	.event = on_qmp_event,
	.closed = on_qmp_closed,
};

static void qmp_try_connect(struct qemu_vm *q)
{
	int rc;

	if (q->exited || q->qmp)
		return;
	rc = qmp_connect(q->loop, q->vm->row.api_socket, &qemu_qmp_cbs, q, &q->qmp);
	if (rc < 0) {
		q->qmp = NULL;
		uv_timer_start(&q->retry, on_retry, QMP_RETRY_MS, 0);
	}
}

/* ----------------------------------------------------------------- exit */

static void report_exit(struct qemu_vm *q, int64_t status, int sig)
{
	struct pw_exit_info x = { .status = status, .signal = sig };
	struct pw_vm *vm = q->vm;

	if (q->exited || !vm)
		return;
	q->exited = true;
	q->booting = false;
	q->warming = false;
	uv_timer_stop(&q->retry);
	uv_timer_stop(&q->deadline);
	qmp_close(q->qmp);
	q->qmp = NULL;
	if (q->shutdown_reason[0])
		x.guest_shutdown = q->shutdown_reason;
	ui_info("%s: qemu pid %lld exited (%s %d)", vm->row.id,
		(long long)vm->row.vmm_pid, sig ? "signal" : "status",
		sig ? sig : (int)status);
	pw_vm_exited(vm, &x); /* may release q: touch nothing after this */
}

static void on_proc_exit(uv_process_t *p, int64_t status, int sig)
{
	report_exit(p->data, status, sig);
}

static void on_pidfd(uv_poll_t *h, int status, int events)
{
	struct qemu_vm *q = h->data;
	int64_t code;
	int sig;

	(void)status;
	(void)events;
	uv_poll_stop(h);
	pw_pidfd_exit_status(q->pidfd, &code, &sig);
	report_exit(q, code, sig);
}

/* ------------------------------------------------------- driver entries */

/* Spawns qemu for vm->row; paused: with -S (a warm slot). */
static int spawn_qemu(struct pw_vm *vm, bool paused, char *err, size_t errlen)
{
	struct qemu_vm *q = qemu_new(vm);
	uv_process_options_t opt = { 0 };
	uv_stdio_container_t stdio[3];
	struct pw_argv *a = malloc(sizeof(*a));
	int fd, rc = -ENOMEM;

	snprintf(err, errlen, "out of memory");
	if (!q || !a)
		goto free_argv;
	rc = pw_qemu_argv(vm->w->cfg->qemu_bin, vm->w->accel, &vm->row, a);
	if (rc == 0 && paused)
		rc = pw_argv_add(a, "-S");
	if (rc < 0) {
		snprintf(err, errlen, "qemu command line too long");
		goto free_argv;
	}
	if (unlink(vm->row.api_socket) < 0 && errno != ENOENT)
		ui_warn("%s: cannot remove stale %s: %s", vm->row.id,
			vm->row.api_socket, strerror(errno));
	fd = rc = pw_open_console(vm->row.console_log, err, errlen);
	if (rc < 0)
		goto free_argv;
	stdio[0].flags = UV_IGNORE; /* /dev/null */
	stdio[1].flags = stdio[2].flags = UV_INHERIT_FD;
	stdio[1].data.fd = stdio[2].data.fd = fd;
	opt.file = a->argv[0];
	opt.args = a->argv;
	opt.flags = UV_PROCESS_DETACHED; /* own session: survives us */
	opt.stdio = stdio;
	opt.stdio_count = 3;
	opt.exit_cb = on_proc_exit;
	q->proc.data = q;
	rc = uv_spawn(q->loop, &q->proc, &opt);
	/* Initialised even when it fails: it must be closed either way. */
	q->have_proc = true;
	q->open_handles++;
	close(fd);
	if (rc < 0) {
		q->exited = true;
		snprintf(err, errlen, "cannot start %s: %s", a->argv[0],
			 uv_strerror(rc));
		goto free_argv;
	}
	vm->row.vmm_pid = q->proc.pid;
	ui_info("%s: spawned %s pid %d%s", vm->row.id, a->argv[0], q->proc.pid,
		paused ? " (paused: warm slot)" : "");
free_argv:
	free(a);
	return rc < 0 ? rc : 0;
}

static int qemu_spawn(struct pw_vm *vm, char *err, size_t errlen)
{
	return spawn_qemu(vm, false, err, errlen);
}

static int qemu_warm(struct pw_vm *vm, const struct ui_image *img, char *err,
		     size_t errlen)
{
	struct qemu_vm *q;
	int rc;

	if (!img) {
		snprintf(err, errlen, "the qemu driver cannot warm a VMM without "
			 "pool.warm_image (kernel and command line are fixed at spawn)");
		return -ENOTSUP;
	}
	rc = spawn_qemu(vm, true, err, errlen);
	if (rc < 0)
		return rc;
	q = vm->drv_data;
	q->warming = true;
	uv_timer_start(&q->deadline, on_boot_deadline, q->boot_timeout_ms, 0);
	qmp_try_connect(q);
	return 0;
}

static bool qemu_fits(const struct pw_vm *slot, const struct ui_image *img,
		      unsigned vcpus, unsigned mem_mib)
{
	const struct qemu_vm *q = slot->drv_data;

	return q && q->warm && !q->exited && img &&
	       strcmp(slot->row.image, img->name) == 0 &&
	       slot->row.vcpus == vcpus && slot->row.mem_mib == mem_mib;
}

static int qemu_boot(struct pw_vm *vm)
{
	struct qemu_vm *q = vm->drv_data;

	if (!q || q->exited)
		return -ESRCH;
	q->booting = true;
	uv_timer_start(&q->deadline, on_boot_deadline, q->boot_timeout_ms, 0);
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
		ui_warn("%s: system_powerdown: %s", q->vm->row.id, err);
}

static int qemu_stop(struct pw_vm *vm)
{
	struct qemu_vm *q = vm->drv_data;

	if (!q || q->exited)
		return -ESRCH;
	if (!qmp_is_ready(q->qmp))
		return -ENOTCONN;
	return qmp_execute(q->qmp, "system_powerdown", NULL, on_powerdown, q);
}

static int qemu_kill(struct pw_vm *vm)
{
	struct qemu_vm *q = vm->drv_data;

	if (!q || q->exited)
		return 0;
	return pw_vmm_kill(q->have_proc ? &q->proc : NULL, q->pidfd);
}

static int qemu_adopt(struct pw_vm *vm, char *err, size_t errlen)
{
	struct qemu_vm *q = qemu_new(vm);
	int rc;

	if (!q)
		return -ENOMEM;
	rc = pw_pidfd_for_row(&vm->row, err, errlen);
	if (rc < 0)
		return rc;
	q->pidfd = rc;
	rc = uv_poll_init(q->loop, &q->pidfd_poll, q->pidfd);
	if (rc < 0) {
		snprintf(err, errlen, "uv_poll_init: %s", uv_strerror(rc));
		return rc;
	}
	q->have_poll = true;
	q->open_handles++;
	q->pidfd_poll.data = q;
	uv_poll_start(&q->pidfd_poll, UV_READABLE, on_pidfd);
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
};
