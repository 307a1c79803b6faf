/*
 * drv_firecracker.c — the Firecracker driver: one `firecracker --api-sock
 * <run_dir>/vms/<id>.sock --id <id>` process per VM, configured and started
 * through its HTTP API (fc_client.c; the contract is
 * ../shared/reference/firecracker-api-v1.16.1.yaml). Implements driver.h.
 *
 * Per VM (struct fc_vm, vm->drv_data):
 *   proc        uv_process_t of a VMM we spawned (own session, detached);
 *               its exit_cb reports the exit status.
 *   pidfd_poll  for an adopted VMM (not our child): pidfd + uv_poll;
 *               readable = exited, status unknown (-1).
 *   probe       10 ms timer: non-blocking connect() to the API socket until
 *               it accepts (the file exists before Firecracker listens).
 *   deadline    boot_timeout_ms for a boot or a warm-up, whole.
 *   api         the request queue to the API socket: requests run in order.
 *
 * A boot or warm-up is a batch of steps run in order once the API accepts:
 *   MACHINE  PUT /machine-config {vcpu_count, mem_size_mib, smt}
 *   NET      PUT /network-interfaces/eth0 {iface_id, host_dev_name, guest_mac}
 *   IMAGE    PUT /boot-source {kernel_image_path, initrd_path?, boot_args},
 *            PUT /drives/rootfs {...} when the image has a rootfs
 *   START    PUT /actions {"action_type": "InstanceStart"}
 * cold boot = all; warm = MACHINE+NET (+IMAGE with an image); boot of a warm
 * slot = the rest. The first non-2xx answer ends the batch: the queue is
 * cancelled and the answer's fault_message is reported to the engine.
 *
 * Stop: PUT /actions SendCtrlAltDel (one in flight at a time, so the
 * engine's once-a-second retries are harmless). Kill: SIGKILL through the
 * uv_process_t or the pidfd (pid-reuse safe). Exit: the API socket is
 * unlinked, then pw_vm_exited(). Release closes the handles; the struct is
 * freed when the last close callback has run. Nothing reports to the engine
 * after release or after the exit report.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fc_client.h"
#include "log.h"
#include "vmm_proc.h"
#include "worker.h"


#define FC_PROBE_MS 10
#define FC_REQ_TIMEOUT_MS 10000u
#define FC_STOP_REQ_TIMEOUT_MS 2000u

enum fc_mode { FC_IDLE, FC_WARMING, FC_BOOTING };

enum fc_step {
	FC_STEP_MACHINE = 1 << 0,
	FC_STEP_NET = 1 << 1,
	FC_STEP_IMAGE = 1 << 2,
	FC_STEP_START = 1 << 3,
	FC_STEPS_ALL = 0xf,
};

struct fc_vm {
	struct pw_vm *vm;              /* NULL once released */
	uv_loop_t *loop;
	uv_process_t proc;
	uv_poll_t pidfd_poll;
	uv_timer_t probe, deadline;
	struct fc_queue *api;
	int pidfd;
	int open_handles;
	bool have_proc, have_poll;
	bool exited, api_up, adopted;
	bool guest_started;            /* InstanceStart done (or assumed) */
	bool stop_in_flight;
	enum fc_mode mode;
	unsigned steps;                /* the batch to run once the API is up */
	unsigned pending;              /* its requests not answered yet */
	unsigned timeout_ms;
	/* a warm slot: what was applied (see fits) */
	bool warm, image_applied;
	unsigned vcpus, mem_mib;
};

/* ------------------------------------------------------------- lifetime */

static void handle_closed(uv_handle_t *h)
{
	struct fc_vm *q = h->data;

	if (--q->open_handles > 0)
		return;
	if (q->pidfd >= 0)
		close(q->pidfd);
	free(q);
}

static struct fc_vm *fc_new(struct pw_vm *vm)
{
	struct fc_vm *q = calloc(1, sizeof(*q));

	if (!q)
		return NULL;
	q->vm = vm;
	q->loop = &vm->w->loop;
	q->pidfd = -1;
	q->timeout_ms = vm->w->cfg->boot_timeout_ms;
	uv_timer_init(q->loop, &q->probe);
	uv_timer_init(q->loop, &q->deadline);
	q->probe.data = q->deadline.data = q;
	q->open_handles = 2;
	vm->drv_data = q;
	return q;
}

static void fc_release(struct pw_vm *vm)
{
	struct fc_vm *q = vm->drv_data;

	if (!q)
		return;
	vm->drv_data = NULL;
	q->vm = NULL;
	fc_queue_free(q->api);
	q->api = NULL;
	uv_close((uv_handle_t *)&q->probe, handle_closed);
	uv_close((uv_handle_t *)&q->deadline, handle_closed);
	/* Closing the process handle stops watching; the VMM keeps running. */
	if (q->have_proc)
		uv_close((uv_handle_t *)&q->proc, handle_closed);
	if (q->have_poll)
		uv_close((uv_handle_t *)&q->pidfd_poll, handle_closed);
}

/* ------------------------------------------------------- batch outcome */

/* Ends the boot or warm-up in progress with one report to the engine. */
static void batch_done(struct fc_vm *q, int status, const char *err)
{
	enum fc_mode mode = q->mode;

	if (mode == FC_IDLE || !q->vm)
		return;
	q->mode = FC_IDLE;
	q->pending = 0;
	uv_timer_stop(&q->deadline);
	uv_timer_stop(&q->probe);
	if (status < 0)
		fc_queue_cancel(q->api);
	if (mode == FC_WARMING) {
		q->warm = status == 0;
		pw_vm_warmed(q->vm, status, err);
	} else {
		if (status == 0) {
			q->warm = false;
			q->guest_started = true;
		}
		pw_vm_booted(q->vm, status, err);
	}
}

static void on_deadline(uv_timer_t *t)
{
	struct fc_vm *q = t->data;
	char err[PATH_MAX + 128];

	if (!q->api_up)
		snprintf(err, sizeof(err),
			 "firecracker: API socket %s not accepting within %u ms",
			 q->vm->row.api_socket, q->timeout_ms);
	else
		snprintf(err, sizeof(err),
			 "firecracker: API did not finish within %u ms", q->timeout_ms);
	batch_done(q, -ETIMEDOUT, err);
}

/* The engine's status for a failed request: 4xx is the request's fault,
 * a timeout is a timeout, anything else an I/O error. */
static int engine_status(int st)
{
	return st == -EINVAL || st == -ETIMEDOUT ? st : -EIO;
}

static void on_step(struct fc_queue *api, const struct fc_result *r, void *arg)
{
	struct fc_vm *q = arg;
	char err[512];

	(void)api;
	if (q->mode == FC_IDLE)
		return;
	if (r->status < 0) {
		snprintf(err, sizeof(err), "firecracker: %s %s: %s", r->method,
			 r->path, r->fault);
		batch_done(q, engine_status(r->status), err);
		return;
	}
	ui_debug("%s: firecracker %s %s: %ld", q->vm->row.id, r->method, r->path,
		 r->http_code);
	if (--q->pending == 0)
		batch_done(q, 0, NULL);
}

/* ------------------------------------------------------------- requests */

/* Queues PUT path with the JSON object j (consumed). */
static int put_json(struct fc_vm *q, const char *path, json_t *j)
{
	char *body = j ? json_dumps(j, JSON_COMPACT) : NULL;
	int rc;

	json_decref(j);
	if (!body)
		return -ENOMEM;
	rc = fc_request(q->api, "PUT", path, body, FC_REQ_TIMEOUT_MS, on_step, q);
	free(body);
	if (rc == 0)
		q->pending++;
	return rc;
}

static int put_image(struct fc_vm *q)
{
	const struct ui_vm *r = &q->vm->row;
	json_t *boot = json_pack("{s:s, s:s}", "kernel_image_path", r->kernel,
				 "boot_args", r->boot_args);
	int rc;

	if (boot && r->initrd[0])
		json_object_set_new(boot, "initrd_path", json_string(r->initrd));
	rc = put_json(q, "/boot-source", boot);
	if (rc < 0 || !r->rootfs[0])
		return rc;
	return put_json(q, "/drives/rootfs",
			json_pack("{s:s, s:s, s:b, s:b}", "drive_id", "rootfs",
				  "path_on_host", r->rootfs, "is_root_device", 1,
				  "is_read_only", 0));
}

/* Queues the batch's requests, in the order Firecracker needs them. */
static int queue_steps(struct fc_vm *q, unsigned steps)
{
	const struct ui_vm *r = &q->vm->row;
	int rc = 0;

	if (steps & FC_STEP_MACHINE)
		rc = put_json(q, "/machine-config",
			      json_pack("{s:i, s:i, s:b}", "vcpu_count", (int)r->vcpus,
					"mem_size_mib", (int)r->mem_mib, "smt", 0));
	if (rc == 0 && (steps & FC_STEP_NET))
		rc = put_json(q, "/network-interfaces/eth0",
			      json_pack("{s:s, s:s, s:s}", "iface_id", "eth0",
					"host_dev_name", r->tap, "guest_mac", r->mac));
	if (rc == 0 && (steps & FC_STEP_IMAGE))
		rc = put_image(q);
	if (rc == 0 && (steps & FC_STEP_START))
		rc = put_json(q, "/actions",
			      json_pack("{s:s}", "action_type", "InstanceStart"));
	return rc;
}

static void run_steps(struct fc_vm *q)
{
	int rc;

	if (q->steps == 0) {
		batch_done(q, 0, NULL);
		return;
	}
	rc = queue_steps(q, q->steps);
	if (rc < 0)
		batch_done(q, rc, "firecracker: cannot queue API requests (out of memory)");
}

/* An adopted VM being booted: only configure it if it never started. */
static void on_adopted_info(struct fc_queue *api, const struct fc_result *r,
			    void *arg)
{
	struct fc_vm *q = arg;
	json_t *j = r->status == 0 ? json_loads(r->body, 0, NULL) : NULL;
	const char *state = json_string_value(json_object_get(j, "state"));
	char err[512];

	(void)api;
	if (q->mode == FC_IDLE) {
		json_decref(j);
		return;
	}
	if (r->status < 0) {
		snprintf(err, sizeof(err), "firecracker: GET /: %s", r->fault);
		batch_done(q, engine_status(r->status), err);
	} else if (state && strcmp(state, "Not started") == 0) {
		q->guest_started = false;
		run_steps(q);
	} else {
		batch_done(q, 0, NULL); /* Running or Paused: it was started */
	}
	json_decref(j);
}

/* ------------------------------------------------------------ readiness */

/* 0 once something listens on path; non-blocking (a unix connect either
 * succeeds, is refused, or finds a full backlog: still a listener). */
static int api_accepting(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	size_t n = strlen(path);
	int rc = 0;

	if (n >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	if (fd < 0)
		return -errno;
	memcpy(sa.sun_path, path, n + 1);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 &&
	    errno != EAGAIN && errno != EINPROGRESS)
		rc = -errno;
	close(fd);
	return rc;
}

static void api_ready(struct fc_vm *q)
{
	q->api_up = true;
	ui_debug("%s: firecracker API up", q->vm->row.id);
	if (q->adopted && q->mode == FC_BOOTING) {
		if (fc_request(q->api, "GET", "/", NULL, FC_REQ_TIMEOUT_MS,
			       on_adopted_info, q) < 0)
			batch_done(q, -ENOMEM, "firecracker: out of memory");
		return;
	}
	run_steps(q);
}

static void on_probe(uv_timer_t *t)
{
	struct fc_vm *q = t->data;

	if (q->mode == FC_IDLE || q->exited)
		return;
	if (api_accepting(q->vm->row.api_socket) == 0)
		api_ready(q);
	else
		uv_timer_start(&q->probe, on_probe, FC_PROBE_MS, 0);
}

/* Starts a boot or warm-up: wait for the API if needed, then the steps. */
static int batch_begin(struct fc_vm *q, enum fc_mode mode, unsigned steps)
{
	if (q->exited)
		return -ESRCH;
	if (q->mode != FC_IDLE)
		return -EBUSY;
	q->mode = mode;
	q->steps = steps;
	q->pending = 0;
	uv_timer_start(&q->deadline, on_deadline, q->timeout_ms, 0);
	if (q->api_up)
		api_ready(q);
	else
		uv_timer_start(&q->probe, on_probe, 0, 0);
	return 0;
}

/* ----------------------------------------------------------------- exit */

static void report_exit(struct fc_vm *q, int64_t status, int sig)
{
	struct pw_exit_info x = { .status = status, .signal = sig };
	struct pw_vm *vm = q->vm;

	if (q->exited || !vm)
		return;
	q->exited = true;
	q->mode = FC_IDLE;
	uv_timer_stop(&q->probe);
	uv_timer_stop(&q->deadline);
	fc_queue_cancel(q->api);
	if (unlink(vm->row.api_socket) < 0 && errno != ENOENT)
		ui_warn("%s: cannot remove %s: %s", vm->row.id, vm->row.api_socket,
			strerror(errno));
	ui_info("%s: firecracker pid %lld exited (%s %d)", vm->row.id,
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
	struct fc_vm *q = h->data;
	int64_t code;
	int sig;

	(void)status;
	(void)events;
	uv_poll_stop(h);
	pw_pidfd_exit_status(q->pidfd, &code, &sig);
	report_exit(q, code, sig);
}

/* --------------------------------------------------------------- launch */

/* <run_dir>/vms/<id>.sock into row.api_socket, if it fits a sun_path. */
static int socket_path(const struct ui_config *cfg, struct ui_vm *row,
		       char *err, size_t errlen)
{
	size_t max = sizeof(((struct sockaddr_un *)0)->sun_path) - 1;
	char path[PATH_MAX + 128];
	int n = snprintf(path, sizeof(path), "%s/vms/%s.sock", cfg->run_dir, row->id);

	if (n < 0 || (size_t)n > max || (size_t)n >= sizeof(row->api_socket)) {
		snprintf(err, errlen,
			 "firecracker API socket path too long (%d bytes, at most %zu): %s",
			 n, max, path);
		return -ENAMETOOLONG;
	}
	memcpy(row->api_socket, path, (size_t)n + 1);
	return 0;
}

static int spawn_process(struct fc_vm *q, char *err, size_t errlen)
{
	struct pw_vm *vm = q->vm;
	char *argv[] = { (char *)vm->w->cfg->firecracker_bin, "--api-sock",
			 vm->row.api_socket, "--id", vm->row.id, NULL };
	uv_process_options_t opt = { 0 };
	uv_stdio_container_t stdio[3];
	int fd, rc;

	fd = pw_open_console(vm->row.console_log, err, errlen);
	if (fd < 0)
		return fd;
	stdio[0].flags = UV_IGNORE; /* /dev/null */
	stdio[1].flags = stdio[2].flags = UV_INHERIT_FD;
	stdio[1].data.fd = stdio[2].data.fd = fd;
	opt.file = argv[0];
	opt.args = argv;
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
		snprintf(err, errlen, "cannot start %s: %s", argv[0], uv_strerror(rc));
		return rc;
	}
	vm->row.vmm_pid = q->proc.pid;
	ui_info("%s: spawned %s pid %d (api %s)", vm->row.id, argv[0],
		q->proc.pid, vm->row.api_socket);
	return 0;
}

/* spawn and warm: the API socket path, a queue for it, the process. */
static int launch(struct pw_vm *vm, char *err, size_t errlen)
{
	struct fc_vm *q = fc_new(vm);
	int rc;

	if (!q) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	rc = socket_path(vm->w->cfg, &vm->row, err, errlen);
	if (rc < 0)
		return rc;
	rc = fc_queue_new(q->loop, vm->row.api_socket, &q->api);
	if (rc < 0) {
		snprintf(err, errlen, "cannot set up the firecracker API client: %s",
			 strerror(-rc));
		return rc;
	}
	/* A socket left by an earlier VMM would look ready before ours is. */
	if (unlink(vm->row.api_socket) < 0 && errno != ENOENT)
		ui_warn("%s: cannot remove stale %s: %s", vm->row.id,
			vm->row.api_socket, strerror(errno));
	return spawn_process(q, err, errlen);
}

/* ------------------------------------------------------- driver entries */

static int fc_spawn(struct pw_vm *vm, char *err, size_t errlen)
{
	return launch(vm, err, errlen);
}

static int fc_boot(struct pw_vm *vm)
{
	struct fc_vm *q = vm->drv_data;
	unsigned steps = FC_STEPS_ALL;

	if (!q || q->exited)
		return -ESRCH;
	if (q->warm) /* a prepared slot: what warm did not apply yet */
		steps = (q->image_applied ? 0 : FC_STEP_IMAGE) | FC_STEP_START;
	return batch_begin(q, FC_BOOTING, steps);
}

static int fc_warm(struct pw_vm *vm, const struct ui_image *img, char *err,
		   size_t errlen)
{
	struct fc_vm *q;
	unsigned steps = FC_STEP_MACHINE | FC_STEP_NET;
	int rc = launch(vm, err, errlen);

	if (rc < 0)
		return rc;
	q = vm->drv_data;
	q->vcpus = vm->row.vcpus;
	q->mem_mib = vm->row.mem_mib;
	q->image_applied = img != NULL;
	if (img)
		steps |= FC_STEP_IMAGE;
	rc = batch_begin(q, FC_WARMING, steps);
	if (rc < 0) /* cannot happen right after a spawn; be safe anyway */
		snprintf(err, errlen, "firecracker: cannot start the warm-up");
	return rc;
}

static bool fc_fits(const struct pw_vm *slot, const struct ui_image *img,
		    unsigned vcpus, unsigned mem_mib)
{
	const struct fc_vm *q = slot->drv_data;

	if (!q || !q->warm || q->exited || q->vcpus != vcpus || q->mem_mib != mem_mib)
		return false;
	return !q->image_applied || strcmp(slot->row.image, img->name) == 0;
}

static void on_stop_reply(struct fc_queue *api, const struct fc_result *r,
			  void *arg)
{
	struct fc_vm *q = arg;

	(void)api;
	q->stop_in_flight = false;
	if (r->status < 0 && q->vm)
		ui_warn("%s: firecracker %s %s SendCtrlAltDel: %s", q->vm->row.id,
			r->method, r->path, r->fault);
}

static int fc_stop(struct pw_vm *vm)
{
	struct fc_vm *q = vm->drv_data;
	int rc;

	if (!q || q->exited)
		return -ESRCH;
	if (!q->guest_started)
		return -ENOTSUP; /* nothing to power off: the engine kills */
	if (q->stop_in_flight)
		return 0; /* the previous press is still being delivered */
	rc = fc_request(q->api, "PUT", "/actions",
			"{\"action_type\":\"SendCtrlAltDel\"}",
			FC_STOP_REQ_TIMEOUT_MS, on_stop_reply, q);
	if (rc == 0)
		q->stop_in_flight = true;
	return rc;
}

static int fc_kill(struct pw_vm *vm)
{
	struct fc_vm *q = vm->drv_data;

	if (!q || q->exited)
		return 0;
	return pw_vmm_kill(q->have_proc ? &q->proc : NULL, q->pidfd);
}

static void on_adopt_info(struct fc_queue *api, const struct fc_result *r,
			  void *arg)
{
	struct fc_vm *q = arg;
	json_t *j = r->status == 0 ? json_loads(r->body, 0, NULL) : NULL;
	const char *state = json_string_value(json_object_get(j, "state"));

	(void)api;
	if (r->status < 0)
		ui_warn("%s: firecracker API does not answer: %s", q->vm->row.id,
			r->fault);
	else
		ui_info("%s: firecracker API answers (state %s)", q->vm->row.id,
			state ? state : "?");
	if (state && strcmp(state, "Not started") == 0)
		q->guest_started = false;
	json_decref(j);
}

static int fc_adopt(struct pw_vm *vm, char *err, size_t errlen)
{
	struct fc_vm *q = fc_new(vm);
	int rc;

	if (!q)
		return -ENOMEM;
	q->adopted = q->guest_started = true; /* until GET / says otherwise */
	rc = pw_pidfd_for_row(&vm->row, err, errlen);
	if (rc < 0)
		return rc;
	q->pidfd = rc;
	rc = fc_queue_new(q->loop, vm->row.api_socket, &q->api);
	if (rc < 0) {
		snprintf(err, errlen, "firecracker API client: %s", strerror(-rc));
		return rc;
	}
	rc = uv_poll_init(q->loop, &q->pidfd_poll, q->pidfd);
	if (rc < 0) {
		snprintf(err, errlen, "uv_poll_init: %s", uv_strerror(rc));
		return rc;
	}
	q->have_poll = true;
	q->open_handles++;
	q->pidfd_poll.data = q;
	uv_poll_start(&q->pidfd_poll, UV_READABLE, on_pidfd);
	/* It answers, or stop and boot will find out; either way, log it. */
	fc_request(q->api, "GET", "/", NULL, FC_REQ_TIMEOUT_MS, on_adopt_info, q);
	return 0;
}

const struct ui_vmm_driver pw_drv_firecracker = {
	.name = "firecracker",
	.spawn = fc_spawn,
	.boot = fc_boot,
	.stop = fc_stop,
	.kill = fc_kill,
	.adopt = fc_adopt,
	.release = fc_release,
	.warm = fc_warm,
	.fits = fc_fits,
};
