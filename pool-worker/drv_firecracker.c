/*
 * drv_firecracker.c — the Firecracker driver: one `firecracker --api-sock
 * <run_dir>/vms/<id>/sock --id <id>` process per VM (as vmm.user, through
 * the exec helper: vmm_priv.h; or, with vmm.jailer, through Firecracker's
 * jailer: fc_jail.h, API socket and image files inside its chroot),
 * configured and started
 * through its HTTP API (fc_client.c; the contract is
 * ../shared/reference/firecracker-api-v1.16.1.yaml). Implements driver.h;
 * the process itself (spawn, adopt, exit watch, kill, handle lifetime) is
 * the embedded struct pw_vmm_proc (vmm_proc.c). This file is the API batch.
 *
 * Per VM (struct fc_vm, v->data):
 *   proc        the VMM process and our two timers:
 *     probe       1, 2 then 5 ms: non-blocking connect() to the API socket until it
 *                 accepts (the file exists before Firecracker listens);
 *     deadline    boot_timeout_ms for a boot or a warm-up, whole.
 *   api         the request queue to the API socket: requests run in order.
 *   mode        IDLE, WARMING or BOOTING: one batch at a time, ended by
 *               exactly one report (batch_done), or silently by the exit or
 *               a release.
 *
 * A boot or warm-up is a batch of steps run in order once the API accepts:
 *   MACHINE  PUT /machine-config {vcpu_count, mem_size_mib, smt}
 *   NET      PUT /network-interfaces/eth0 {iface_id, host_dev_name, guest_mac}
 *   IMAGE    PUT /boot-source {kernel_image_path, initrd_path?, boot_args},
 *            PUT /drives/rootfs {...} when the image has a rootfs or (OSv)
 *            a disk (the bodies: fc_bodies.h)
 *   START    PUT /actions {"action_type": "InstanceStart"}
 *   PAUSE    PATCH /vm {"state": "Paused"};  RESUME  PATCH /vm {"state": "Resumed"}
 * cold boot = all; warm = MACHINE+NET (+IMAGE with an image); boot of a warm
 * slot = the rest. Warm ahead (pool.boot: ahead): MACHINE+NET+IMAGE+START,
 * then the image's ready rule (ready.h), then PAUSE; boot of such a slot =
 * RESUME (its app answers already: ready_at is set as it reports BOOTED). The first non-2xx answer ends the batch: the queue is
 * cancelled and the answer's fault_message is reported to the engine.
 * Boot of an adopted VMM: GET / first; the batch runs only if the state is
 * "Not started", else it is BOOTED at once.
 * pool.boot: snapshot (fc_restore.c, steps and struct in fc_int.h): the
 * template's warm-up is ahead's with VSOCK before START, the banner as its
 * rule and CREATE after PAUSE; a restored slot's is LOAD alone, then the
 * agent line over vsock (pw_fc_restored), then ahead's rule and PAUSE.
 *
 * Pause / resume (driver.h): PATCH /vm {"state": "Paused"|"Resumed"} outside
 * any batch, reported at its answer. Adopted under a `running` row and
 * GET / says "Paused": PATCH /vm Resumed (the row wins). Stop of a guest paused so queues
 * PATCH /vm Resumed before SendCtrlAltDel (the queue runs them in order).
 *
 * Before spawn, a stale API socket is removed (it would look ready before
 * ours is). Stop: PUT /actions SendCtrlAltDel (one in flight at a time, so
 * the engine's once-a-second retries are harmless); -ENOTSUP before
 * InstanceStart (nothing to power off). Exit: the API socket is unlinked,
 * then v->exited(). Reports come only from loop callbacks, never from
 * inside a driver call; nothing reports after release or after the exit
 * report; a report may release v (and so q): nothing is touched after one.
 * A failed spawn, warm or adopt leaves nothing behind (v->data NULL: kill
 * says -ESRCH).
 */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cmdline.h"
#include "driver.h"
#include "fc_bodies.h"
#include "fc_client.h"
#include "fc_int.h"
#include "fc_jail.h"
#include "fc_restore.h"
#include "log.h"
#include "ready.h"
#include "snapshot.h"
#include "vmm_proc.h"

static uv_timer_t *timer(struct fc_vm *q, enum fc_timer t)
{
	return &q->proc.timer[t];
}

/* ------------------------------------------------------------- lifetime */

static void fc_freed(struct pw_vmm_proc *p)
{
	free(p->owner);
}

static void fc_release(struct pw_vmm *v)
{
	struct fc_vm *q = v->data;

	if (!q)
		return;
	v->data = NULL;
	q->v = NULL;
	pw_fc_snap_stop(q);
	pw_ready_stop(q->ready);
	q->ready = NULL;
	fc_queue_free(q->api);
	q->api = NULL;
	pw_vmm_proc_close(&q->proc); /* the VMM keeps running */
}

static void on_vmm_exit(struct pw_vmm_proc *p, int64_t status, int sig);

/* A new struct in v->data with a queue for v->row->api_socket; on failure
 * nothing is left (v->data NULL). */
static int fc_new(struct pw_vmm *v, struct fc_vm **out, char *err, size_t errlen)
{
	struct fc_vm *q = calloc(1, sizeof(*q));
	int rc;

	if (!q) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	q->v = v;
	q->user_op = -1;
	q->timeout_ms = v->env->cfg->boot_timeout_ms;
	v->data = q;
	rc = pw_vmm_proc_init(&q->proc, v->env->loop, q, on_vmm_exit, fc_freed);
	if (rc < 0) {
		snprintf(err, errlen, "cannot set up timers: %s", uv_strerror(rc));
		goto release;
	}
	q->proc.nice = v->env->vmm_nice;
	q->proc.autogroup_nice = v->env->vmm_autogroup_nice;
	pw_vmm_proc_cgroup(&q->proc, v->env->cgroups, v->row);
	q->proc.priv = v->env->priv;
	rc = fc_queue_new(v->env->loop, v->row->api_socket, &q->api);
	if (rc < 0) {
		snprintf(err, errlen, "cannot set up the firecracker API client: %s",
			 strerror(-rc));
		goto release;
	}
	*out = q;
	return 0;
release:
	fc_release(v);
	return rc;
}

/* ------------------------------------------------------- batch outcome */

/* Ends the boot or warm-up in progress with its one report. */
static void batch_done(struct fc_vm *q, int status, const char *err)
{
	enum fc_mode mode = q->mode;
	enum pw_vmm_report r = PW_VMM_FAILED;
	struct pw_vmm *v = q->v;

	pw_fc_snap_stop(q);
	pw_ready_stop(q->ready);
	q->ready = NULL;
	if (mode == FC_IDLE || !v)
		return;
	q->mode = FC_IDLE;
	q->pending = 0;
	uv_timer_stop(timer(q, T_DEADLINE));
	uv_timer_stop(timer(q, T_PROBE));
	if (status < 0)
		fc_queue_cancel(q->api);
	if (mode == FC_WARMING) {
		q->warm = status == 0;
	} else if (status == 0) {
		q->warm = false;
		q->guest_started = true;
	}
	if (status == 0)
		r = mode == FC_WARMING ? PW_VMM_WARMED : PW_VMM_BOOTED;
	if (r == PW_VMM_BOOTED && q->ahead) /* resumed: its app answers already */
		ui_registry_now(v->row->ready_at, sizeof(v->row->ready_at));
	v->report(v, r, status, err); /* may release q: touch nothing after */
}

static void on_deadline(uv_timer_t *t)
{
	struct fc_vm *q = t->data;
	char err[PATH_MAX + 128];

	if (!q->api_up)
		snprintf(err, sizeof(err),
			 "firecracker: API socket %s not accepting within %u ms",
			 q->v->row->api_socket, q->timeout_ms);
	else if (pw_fc_snap_waiting(q)[0])
		snprintf(err, sizeof(err), "firecracker: %s", pw_fc_snap_waiting(q));
	else
		snprintf(err, sizeof(err),
			 "firecracker: API did not finish within %u ms", q->timeout_ms);
	batch_done(q, -ETIMEDOUT, err);
}

void pw_fc_batch_done(struct fc_vm *q, int status, const char *err)
{
	batch_done(q, status, err);
}

/* The engine's status for a failed request: 4xx is the request's fault,
 * a timeout is a timeout, anything else an I/O error. */
static int engine_status(int st)
{
	return st == -EINVAL || st == -ETIMEDOUT ? st : -EIO;
}

static void ahead_started(struct fc_vm *q);

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
	ui_debug("%s: firecracker %s %s: %ld", q->v->row->id, r->method, r->path,
		 r->http_code);
	if (--q->pending > 0)
		return;
	if (q->mode == FC_WARMING && q->restore && !q->guest_started && !q->pausing)
		pw_fc_restored(q); /* loaded: the agent line, then as ahead */
	else if (q->mode == FC_WARMING && q->ahead && !q->pausing)
		ahead_started(q); /* booted: wait for ready, then pause */
	else
		batch_done(q, 0, NULL);
}

/* ------------------------------------------------------------- requests */

/* Queues method path with the JSON object j (consumed). */
static int req_json(struct fc_vm *q, const char *method, const char *path, json_t *j)
{
	char *body = j ? json_dumps(j, JSON_COMPACT) : NULL;
	int rc;

	json_decref(j);
	if (!body)
		return -ENOMEM;
	rc = fc_request(q->api, method, path, body, FC_REQ_TIMEOUT_MS, on_step, q);
	free(body);
	if (rc == 0)
		q->pending++;
	return rc;
}

static int put_json(struct fc_vm *q, const char *path, json_t *j)
{
	return req_json(q, "PUT", path, j);
}

int pw_fc_put_json(struct fc_vm *q, const char *path, json_t *j)
{
	return put_json(q, path, j);
}

/* The row as Firecracker sees it (out, a copy): jailed, the image files
 * are links inside its chroot (fc_jail.h) and named by their paths there;
 * else in place, or put into its own directory when the VMM user could
 * not reach them (vmm_priv.h). */
static int jailed_row(struct fc_vm *q, struct ui_vm *out)
{
	const struct ui_vm *r = q->v->row;
	const struct pw_vmm_priv *pv = q->v->env->priv;
	char err[2 * PATH_MAX + 64], dir[PATH_MAX];
	int rc;

	*out = *r;
	if (!pv)
		return 0;
	if (!q->jailed) { /* in place, or into its own directory if unreachable */
		if ((rc = pw_vmm_dir(q->v->env->cfg, r->id, dir, sizeof(dir))) == 0 &&
		    (rc = pw_vmm_stage_row(pv, dir, r, false, out, err, sizeof(err))) < 0)
			ui_warn("%s: %s", r->id, err);
		return rc;
	}
	if ((rc = pw_jail_link(q->root, r->kernel, "kernel", pv, out->kernel,
			       sizeof(out->kernel), err, sizeof(err))) < 0 ||
	    (rc = pw_jail_link(q->root, r->initrd, "initrd", pv, out->initrd,
			       sizeof(out->initrd), err, sizeof(err))) < 0 ||
	    (rc = pw_jail_link(q->root, r->rootfs, "rootfs", pv, out->rootfs,
			       sizeof(out->rootfs), err, sizeof(err))) < 0)
		ui_warn("%s: %s", r->id, err);
	return rc;
}

static int put_image(struct fc_vm *q)
{
	const struct ui_image *img = ui_config_image(q->v->env->cfg, q->v->row->image);
	struct ui_vm *r = malloc(sizeof(*r)); /* the row with the paths it sees */
	int rc = r ? jailed_row(q, r) : -ENOMEM;

	if (rc == 0)
		rc = put_json(q, "/boot-source", pw_fc_boot_source(r, img));
	if (rc == 0 && r->rootfs[0])
		rc = put_json(q, "/drives/rootfs", pw_fc_root_drive(r, img));
	free(r);
	return rc;
}

/* Queues the batch's requests, in the order Firecracker needs them. */
static int queue_steps(struct fc_vm *q, unsigned steps)
{
	const struct ui_vm *r = q->v->row;
	int rc = 0;

	if (steps & FC_STEP_LOAD) /* alone: nothing may be configured before it */
		return pw_fc_queue_snap(q, FC_STEP_LOAD);
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
	if (rc == 0 && (steps & FC_STEP_VSOCK))
		rc = pw_fc_queue_snap(q, FC_STEP_VSOCK);
	if (rc == 0 && (steps & FC_STEP_START))
		rc = put_json(q, "/actions",
			      json_pack("{s:s}", "action_type", "InstanceStart"));
	if (rc == 0 && (steps & FC_STEP_PAUSE))
		rc = req_json(q, "PATCH", "/vm", json_pack("{s:s}", "state", "Paused"));
	if (rc == 0 && (steps & FC_STEP_CREATE))
		rc = pw_fc_queue_snap(q, FC_STEP_CREATE);
	if (rc == 0 && (steps & FC_STEP_RESUME))
		rc = req_json(q, "PATCH", "/vm", json_pack("{s:s}", "state", "Resumed"));
	return rc;
}

/* Ahead: the guest is ready: pause it (the batch ends with the answer). */
static void on_ahead_ready(void *arg, int status, const char *how)
{
	struct fc_vm *q = arg;
	char msg[128];
	int rc;

	q->ready = NULL; /* it ends itself */
	if (status < 0) {
		snprintf(msg, sizeof(msg), q->tmpl ? "template: no " PW_FC_TMPL_BANNER
			 " on its console within %u ms" : "warm slot booted ahead: not ready within %u ms",
			 q->v->env->cfg->ready_timeout_ms);
		batch_done(q, status, msg);
		return;
	}
	ui_info("%s: %s (%s): pausing it", q->v->row->id,
		q->tmpl ? "template booted" : "warm slot ready", how);
	q->pausing = true;
	if ((rc = queue_steps(q, FC_STEP_PAUSE | (q->tmpl ? FC_STEP_CREATE : 0))) < 0)
		batch_done(q, rc, "firecracker: cannot queue API requests (out of memory)");
}

/* Ahead: InstanceStart answered; wait for the image's rule (none: ready
 * as it runs). */
static void ahead_started(struct fc_vm *q)
{
	const struct ui_image *img = q->img;
	struct pw_ready_rule rule = { q->v->row->ip, img->ready_port, img->ready_pattern,
				      q->v->row->console_log, q->v->env->cfg->ready_timeout_ms,
				      img->ready_http };
	char msg[128];
	int rc;

	q->guest_started = true;
	if (q->tmpl) { /* the template's guest waits for its line: it says so */
		rule = (struct pw_ready_rule){ NULL, 0, PW_FC_TMPL_BANNER, q->v->row->console_log,
					       q->v->env->cfg->ready_timeout_ms, NULL };
	} else if (!img->ready_port && !img->ready_pattern[0]) {
		on_ahead_ready(q, 0, "no ready rule");
		return;
	}
	if ((rc = pw_ready_start(q->v->env->loop, &rule, on_ahead_ready, q, &q->ready)) < 0) {
		snprintf(msg, sizeof(msg), "cannot watch the warm slot for ready: %s",
			 strerror(-rc));
		batch_done(q, rc, msg);
	}
}

void pw_fc_ahead_started(struct fc_vm *q)
{
	ahead_started(q);
}

static void run_steps(struct fc_vm *q)
{
	int rc;

	if (q->steps == 0) {
		batch_done(q, 0, NULL);
		return;
	}
	q->snap_err[0] = '\0';
	rc = queue_steps(q, q->steps);
	if (rc < 0)
		batch_done(q, rc, q->snap_err[0] ? q->snap_err :
			   "firecracker: cannot queue API requests (out of memory)");
}

/* GET / state "Not started" (r a 2xx answer): false; anything else, or no
 * state, true. */
static bool started_state(const struct fc_result *r, char *state, size_t len)
{
	json_t *j = json_loads(r->body, 0, NULL);
	const char *s = json_string_value(json_object_get(j, "state"));
	bool started = !s || strcmp(s, "Not started") != 0;

	snprintf(state, len, "%s", s ? s : "?");
	json_decref(j);
	return started;
}

/* An adopted VM being booted: only configure it if it never started. */
static void on_adopted_info(struct fc_queue *api, const struct fc_result *r,
			    void *arg)
{
	struct fc_vm *q = arg;
	char err[512], state[32];

	(void)api;
	if (q->mode == FC_IDLE)
		return;
	if (r->status < 0) {
		snprintf(err, sizeof(err), "firecracker: GET /: %s", r->fault);
		batch_done(q, engine_status(r->status), err);
	} else if (!started_state(r, state, sizeof(state))) {
		q->guest_started = false;
		run_steps(q);
	} else {
		batch_done(q, 0, NULL); /* Running or Paused: it was started */
	}
}

/* ------------------------------------------------------------ readiness */

/* 0 once something listens on path; non-blocking (a unix connect either
 * succeeds, is refused, or finds a full backlog: still a listener). */
static int api_accepting(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t n = strlen(path);
	int fd, rc = 0;

	if (n >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
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
	ui_debug("%s: firecracker API up", q->v->row->id);
	if (q->adopted && q->mode == FC_BOOTING) {
		if (fc_request(q->api, "GET", "/", NULL, FC_REQ_TIMEOUT_MS,
			       on_adopted_info, q) < 0)
			batch_done(q, -ENOMEM, "firecracker: out of memory");
		return;
	}
	run_steps(q);
}

static void probe_later(struct fc_vm *q);

static void on_probe(uv_timer_t *t)
{
	struct fc_vm *q = t->data;

	if (q->mode == FC_IDLE || !pw_vmm_proc_running(&q->proc))
		return;
	if (q->api_up || api_accepting(q->v->row->api_socket) == 0)
		api_ready(q);
	else
		probe_later(q);
}

static void probe_later(struct fc_vm *q)
{
	char err[128];
	int rc = uv_timer_start(timer(q, T_PROBE), on_probe, FC_PROBE_MS(q->probes), 0);

	q->probes++;

	if (rc < 0) {
		snprintf(err, sizeof(err), "firecracker: cannot arm the API probe: %s",
			 uv_strerror(rc));
		batch_done(q, rc, err);
	}
}

/* Starts a boot or warm-up: the deadline, then (from the loop, so that no
 * report comes from inside boot or warm) wait for the API if needed, then
 * the steps. A failure to start reports nothing. */
static int batch_begin(struct fc_vm *q, enum fc_mode mode, unsigned steps)
{
	int rc;

	if (!pw_vmm_proc_running(&q->proc))
		return -ESRCH;
	if (q->mode != FC_IDLE)
		return -EBUSY;
	q->probes = 0;
	q->pausing = false;
	/* booting ahead, a slot's warm-up is a boot and a wait for ready */
	rc = uv_timer_start(timer(q, T_DEADLINE), on_deadline, q->timeout_ms +
			    (mode == FC_WARMING && q->ahead ? q->v->env->cfg->ready_timeout_ms : 0), 0);
	if (rc == 0)
		rc = uv_timer_start(timer(q, T_PROBE), on_probe, 0, 0);
	if (rc < 0) {
		uv_timer_stop(timer(q, T_DEADLINE));
		return rc;
	}
	q->mode = mode;
	q->steps = steps;
	q->pending = 0;
	return 0;
}

/* ----------------------------------------------------------------- exit */

static void on_vmm_exit(struct pw_vmm_proc *p, int64_t status, int sig)
{
	struct fc_vm *q = p->owner;
	struct pw_exit_info x = { .status = status, .signal = sig };
	struct pw_vmm *v = q->v;

	q->mode = FC_IDLE; /* no boot or warm report after the exit */
	pw_fc_snap_stop(q);
	pw_ready_stop(q->ready);
	q->ready = NULL;
	uv_timer_stop(timer(q, T_PROBE));
	uv_timer_stop(timer(q, T_DEADLINE));
	fc_queue_cancel(q->api);
	if (unlink(v->row->api_socket) < 0 && errno != ENOENT)
		ui_warn("%s: cannot remove %s: %s", v->row->id, v->row->api_socket,
			strerror(errno));
	ui_info("%s: firecracker pid %d exited (%s %d)", v->row->id, (int)p->pid,
		sig ? "signal" : "status", sig ? sig : (int)status);
	v->exited(v, &x); /* may release q: touch nothing after this */
}

/* --------------------------------------------------------------- launch */

/* The API socket into row->api_socket, if it fits a sun_path:
 * <run_dir>/vms/<id>/sock, or jailed <root>/run/firecracker.socket. */
static int socket_path(const struct ui_config *cfg, const char *root, struct ui_vm *row,
		       char *err, size_t errlen)
{
	size_t max = sizeof(((struct sockaddr_un *)0)->sun_path) - 1;
	char path[2 * PATH_MAX];
	int n = root ? snprintf(path, sizeof(path), "%s%s", root, PW_JAIL_SOCKET)
		     : snprintf(path, sizeof(path), "%s/vms/%s/sock", cfg->run_dir, row->id);

	if (n < 0 || (size_t)n > max || (size_t)n >= sizeof(row->api_socket)) {
		snprintf(err, errlen,
			 "firecracker API socket path too long (%d bytes, at most %zu): %s",
			 n, max, path);
		return -ENAMETOOLONG;
	}
	memcpy(row->api_socket, path, (size_t)n + 1);
	return 0;
}

/* The spawn's outcome: the pid, and a warm slot's warm-up begins (before
 * the report: the report may release us). */
static void on_spawned(struct pw_vmm_proc *p, int status, const char *err)
{
	struct fc_vm *q = p->owner;
	struct pw_vmm *v = q->v;
	int rc = status;
	char msg[128];

	if (rc == 0) {
		v->row->vmm_pid = p->pid;
		ui_info("%s: spawned firecracker pid %d (api %s)", v->row->id, (int)p->pid,
			v->row->api_socket);
		if (q->warm_steps && (rc = batch_begin(q, FC_WARMING, q->warm_steps)) < 0) {
			snprintf(msg, sizeof(msg), "firecracker: cannot start the warm-up: %s",
				 uv_strerror(rc));
			err = msg; /* a fresh timer cannot refuse; leave nothing behind */
			pw_vmm_proc_kill(p);
		}
	}
	if (rc < 0)
		fc_release(v);
	v->report(v, rc == 0 ? PW_VMM_SPAWNED : PW_VMM_FAILED, rc, err);
}

/* spawn and warm: the API socket path, a queue for it, the process (its
 * spawn completes in on_spawned). */
/* Jailed: the chroot made, the jailer's command line into a (spawned as
 * root: the jailer drops). 0 or -errno + err. */
static int jail_setup(struct pw_vmm *v, struct fc_vm *q, struct pw_argv *a, char *err,
		      size_t errlen)
{
	const struct ui_config *cfg = v->env->cfg;
	const struct pw_cgroups *cg = v->env->cgroups;
	char file[PATH_MAX];
	int rc;

	if (pw_find_program(cfg->firecracker_bin, file, sizeof(file)) < 0) {
		snprintf(err, errlen, "cannot start %s: the VMM binary is missing or not "
			 "executable; runs fail until it is back", cfg->firecracker_bin);
		return PW_VMM_UNAVAILABLE;
	}
	if ((rc = pw_jail_prepare(cfg, v->env->priv, v->row->id, err, errlen)) < 0)
		return rc;
	if (pw_jail_argv(cfg, v->env->priv, cg ? cg->mode : PW_CG_OFF, file, v->row->id, a) < 0) {
		snprintf(err, errlen, "jailer command line too long");
		return -E2BIG;
	}
	q->proc.priv = NULL;
	return 0;
}

/* Not jailed: its own directory, and `firecracker --api-sock S --id ID`. */
static int plain_setup(struct pw_vmm *v, struct pw_argv *a, char *err, size_t errlen)
{
	struct ui_vm *row = v->row;
	char dir[PATH_MAX];
	int rc = pw_vmm_dir(v->env->cfg, row->id, dir, sizeof(dir));

	if (rc < 0) {
		snprintf(err, errlen, "VMM directory path too long");
		return rc;
	}
	if (v->env->priv && (rc = pw_vmm_dir_make(v->env->priv, dir, err, errlen)) < 0)
		return rc;
	a->argc = 0;
	a->used = 0;
	if (pw_argv_add(a, v->env->cfg->firecracker_bin) || pw_argv_add(a, "--api-sock") ||
	    pw_argv_add(a, row->api_socket) || pw_argv_add(a, "--id") || pw_argv_add(a, row->id)) {
		snprintf(err, errlen, "firecracker command line too long");
		return -E2BIG;
	}
	return 0;
}

/* Firecracker's block devices are raw files: a qcow2 disk (OSv's usr.img)
 * would reach the guest as its header bytes. */
static bool disk_refused(const struct ui_image *img)
{
	return img && img->kind == UI_KIND_OSV && img->disk_format == UI_DISK_QCOW2;
}

static int launch(struct pw_vmm *v, unsigned warm_steps, char *err, size_t errlen)
{
	const struct ui_config *cfg = v->env->cfg;
	const struct ui_image *img = ui_config_image(cfg, v->row->image);
	bool jailed = cfg->jailer_bin[0] && v->env->priv;
	struct pw_argv *a;
	struct ui_vm *row = v->row;
	char root[PATH_MAX];
	struct fc_vm *q;
	int rc = -ENOMEM;

	if (disk_refused(img)) {
		snprintf(err, errlen, "Firecracker reads raw disks only: image %s's disk %s is "
			 "qcow2 (qemu-img convert -O raw it, then disk_format: raw)", img->name,
			 img->disk);
		return -EINVAL;
	}
	snprintf(err, errlen, "out of memory");
	if (!(a = malloc(sizeof(*a))))
		return rc;
	if (jailed && pw_jail_root(cfg, row->id, root, sizeof(root)) < 0) {
		snprintf(err, errlen, "jail path too long under %s", cfg->chroot_base);
		rc = -ENAMETOOLONG;
		goto free_argv;
	}
	if ((rc = socket_path(cfg, jailed ? root : NULL, row, err, errlen)) < 0 ||
	    (rc = fc_new(v, &q, err, errlen)) < 0)
		goto free_argv;
	q->jailed = jailed;
	snprintf(q->root, sizeof(q->root), "%s", jailed ? root : "");
	/* A fresh directory: a socket left by an earlier VMM would look
	 * ready before ours is. */
	rc = jailed ? jail_setup(v, q, a, err, errlen) : plain_setup(v, a, err, errlen);
	if (rc == 0) {
		q->warm_steps = warm_steps;
		q->proc.on_spawned = on_spawned;
		rc = pw_vmm_proc_spawn(&q->proc, a->argv, row->console_log, err, errlen);
	}
	if (rc < 0)
		fc_release(v);
free_argv:
	free(a);
	return rc;
}

int pw_fc_launch(struct pw_vmm *v, unsigned warm_steps, char *err, size_t errlen)
{
	return launch(v, warm_steps, err, errlen);
}

/* ------------------------------------------------------- driver entries */

static int fc_spawn(struct pw_vmm *v, char *err, size_t errlen)
{
	return launch(v, 0, err, errlen);
}

static int fc_boot(struct pw_vmm *v)
{
	struct fc_vm *q = v->data;
	unsigned steps = FC_STEPS_ALL;

	if (!q)
		return -ESRCH;
	if (q->warm && q->ahead) /* booted ahead and paused */
		steps = FC_STEP_RESUME;
	else if (q->warm) /* a prepared slot: what warm did not apply yet */
		steps = (q->image_applied ? 0 : FC_STEP_IMAGE) | FC_STEP_START;
	return batch_begin(q, FC_BOOTING, steps);
}

static int fc_warm(struct pw_vmm *v, const struct ui_image *img, char *err,
		   size_t errlen)
{
	bool ahead = v->env->cfg->pool_boot != UI_POOL_BOOT_PREPARED; /* snapshot too */
	unsigned steps = FC_STEP_MACHINE | FC_STEP_NET | (img ? FC_STEP_IMAGE : 0) |
			 (ahead ? FC_STEP_START : 0);
	struct fc_vm *q;
	int rc;

	if (ahead && !img) {
		snprintf(err, errlen, "pool.boot: ahead needs pool.warm_image (a slot boots it)");
		return -ENOTSUP;
	}
	if (v->env->cfg->pool_boot == UI_POOL_BOOT_SNAPSHOT &&
	    pw_snap_file(v->env->snap, img->name, v->row->vcpus, v->row->mem_mib))
		return pw_fc_restore_warm(v, img, err, errlen); /* else: booted ahead */
	rc = launch(v, steps, err, errlen); /* on_spawned begins the warm-up */
	if (rc < 0)
		return rc;
	q = v->data;
	q->ahead = ahead;
	q->img = img;
	q->vcpus = v->row->vcpus;
	q->mem_mib = v->row->mem_mib;
	q->image_applied = img != NULL;
	return 0;
}

static bool fc_fits(const struct pw_vmm *slot, const struct ui_image *img,
		    unsigned vcpus, unsigned mem_mib)
{
	const struct fc_vm *q = slot->data;

	if (disk_refused(img)) /* a fresh launch says why */
		return false;
	if (!q || !q->warm || !pw_vmm_proc_running(&q->proc) || q->vcpus != vcpus ||
	    q->mem_mib != mem_mib)
		return false;
	return !q->image_applied || (img && strcmp(slot->row->image, img->name) == 0);
}

static void on_stop_reply(struct fc_queue *api, const struct fc_result *r,
			  void *arg)
{
	struct fc_vm *q = arg;

	(void)api;
	q->stop_in_flight = false;
	if (r->status < 0 && q->v)
		ui_warn("%s: firecracker %s %s SendCtrlAltDel: %s", q->v->row->id,
			r->method, r->path, r->fault);
}

static int fc_stop(struct pw_vmm *v)
{
	struct fc_vm *q = v->data;
	int rc;

	if (!q || !pw_vmm_proc_running(&q->proc))
		return -ESRCH;
	if (!q->guest_started)
		return -ENOTSUP; /* nothing to power off: the engine kills */
	if (pw_stop_method(ui_config_image(v->env->cfg, v->row->image), UI_MACHINE_MICROVM,
			   true) == UI_STOP_KILL)
		return -ENOTSUP; /* the image says kill: the engine kills at once */
	if (q->stop_in_flight)
		return 0; /* the previous press is still being delivered */
	if ((q->user_paused || q->user_op == 1) &&
	    fc_request(q->api, "PATCH", "/vm", "{\"state\":\"Resumed\"}",
		       FC_STOP_REQ_TIMEOUT_MS, on_stop_reply, q) == 0)
		q->user_paused = false; /* it must hear Ctrl+Alt+Del */
	rc = fc_request(q->api, "PUT", "/actions",
			"{\"action_type\":\"SendCtrlAltDel\"}",
			FC_STOP_REQ_TIMEOUT_MS, on_stop_reply, q);
	if (rc == 0)
		q->stop_in_flight = true;
	return rc;
}

static void on_user_op(struct fc_queue *api, const struct fc_result *r, void *arg)
{
	struct fc_vm *q = arg;
	struct pw_vmm *v = q->v;
	int op = q->user_op;
	char err[512];

	(void)api;
	q->user_op = -1;
	if (!v || op < 0)
		return;
	if (r->status < 0) {
		snprintf(err, sizeof(err), "firecracker: %s %s: %s", r->method, r->path,
			 r->fault);
		v->report(v, PW_VMM_FAILED, engine_status(r->status), err);
		return;
	}
	q->user_paused = op == 1;
	v->report(v, op ? PW_VMM_PAUSED : PW_VMM_RESUMED, 0, NULL);
}

static int fc_pause(struct pw_vmm *v, bool pause)
{
	struct fc_vm *q = v->data;
	int rc;

	if (!q || !pw_vmm_proc_running(&q->proc))
		return -ESRCH;
	if (q->user_op >= 0)
		return -EBUSY;
	rc = fc_request(q->api, "PATCH", "/vm", pause ? "{\"state\":\"Paused\"}" :
			"{\"state\":\"Resumed\"}", FC_REQ_TIMEOUT_MS, on_user_op, q);
	if (rc == 0)
		q->user_op = pause;
	return rc;
}

static int fc_kill(struct pw_vmm *v)
{
	struct fc_vm *q = v->data;

	return q ? pw_vmm_proc_kill(&q->proc) : -ESRCH;
}

static void on_adopt_resume(struct fc_queue *api, const struct fc_result *r, void *arg)
{
	struct fc_vm *q = arg;

	(void)api;
	if (r->status < 0 && q->v)
		ui_warn("%s: firecracker %s %s: %s", q->v->row->id, r->method, r->path, r->fault);
}

static void on_adopt_info(struct fc_queue *api, const struct fc_result *r,
			  void *arg)
{
	struct fc_vm *q = arg;
	char state[32];

	(void)api;
	if (r->status < 0) {
		ui_warn("%s: firecracker API does not answer: %s", q->v->row->id,
			r->fault);
		return;
	}
	if (!started_state(r, state, sizeof(state)))
		q->guest_started = false;
	ui_info("%s: firecracker API answers (state %s)", q->v->row->id, state);
	/* paused under a `running` row: the row wins */
	if (strcmp(state, "Paused") == 0 && strcmp(q->v->row->state, UI_VM_RUNNING) == 0 &&
	    q->user_op < 0) {
		ui_info("%s: adopted paused under a running row: resuming it", q->v->row->id);
		if (fc_request(q->api, "PATCH", "/vm", "{\"state\":\"Resumed\"}",
			       FC_REQ_TIMEOUT_MS, on_adopt_resume, q) < 0)
			ui_warn("%s: cannot queue PATCH /vm (out of memory)", q->v->row->id);
	}
}

static int fc_adopt(struct pw_vmm *v, char *err, size_t errlen)
{
	struct fc_vm *q;
	int rc = fc_new(v, &q, err, errlen);

	if (rc < 0)
		return rc;
	q->adopted = q->guest_started = true; /* until GET / says otherwise */
	rc = pw_vmm_proc_adopt(&q->proc, v->row, err, errlen);
	if (rc < 0) {
		fc_release(v);
		return rc;
	}
	/* It answers, or stop and boot will find out; either way, log it. */
	if (fc_request(q->api, "GET", "/", NULL, FC_REQ_TIMEOUT_MS, on_adopt_info,
		       q) < 0)
		ui_warn("%s: cannot query the firecracker API (out of memory)",
			v->row->id);
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
	.pause = fc_pause,
};
