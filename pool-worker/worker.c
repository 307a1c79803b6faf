/*
 * worker.c — the pool-worker loop: doorbells, ring traffic, the netd client,
 * heartbeat and signals. The VM state machine is in lifecycle.c, restart
 * recovery in recover.c.
 *
 * Rings (shm.h): we consume ring 0 (apid requests) and ring 3 (netd
 * replies), and produce ring 1 (our replies to apid) and ring 2 (our
 * requests to netd). A consumer drains its ring, then announces sleep with
 * ui_ring_prepare_sleep() and re-checks — the ring.h protocol that never
 * loses a doorbell. Ring 3 was discarded at start: replies in it were meant
 * for our previous incarnation; replies with another generation than ours
 * are dropped as well.
 *
 * netd requests: req_id = (generation << 32) | counter, unique across
 * restarts. Each pending request has a deadline checked by the 1 s heartbeat
 * tick; an expired one is completed with a synthesized -ETIMEDOUT reply so no
 * VM ever waits forever on a netd that died.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "accel.h"
#include "log.h"
#include "worker.h"

struct pw_net_req {
	struct pw_net_req *next;
	uint64_t req_id;
	uint16_t op;
	struct pw_vm *vm;
	pw_net_cb cb;
	uint64_t deadline_ms;
};

static int mkdir_p(const char *path)
{
	char buf[PATH_MAX];
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, n + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static int make_dirs(const struct ui_config *cfg)
{
	char path[PATH_MAX + 8];
	int rc;

	snprintf(path, sizeof(path), "%s/vms", cfg->state_dir);
	rc = mkdir_p(path);
	if (rc < 0) {
		ui_error("cannot create %s: %s", path, strerror(-rc));
		return rc;
	}
	snprintf(path, sizeof(path), "%s/vms", cfg->run_dir);
	rc = mkdir_p(path);
	if (rc < 0)
		ui_error("cannot create %s: %s", path, strerror(-rc));
	return rc;
}

void pw_reply(struct pw_worker *w, uint64_t req_id, uint32_t gen, uint16_t op,
	      int status, const char *vm_id, const char *err)
{
	struct ui_msg m = { .req_id = req_id, .gen = gen, .op = UI_OP_REPLY,
			    .req_op = op, .status = status };
	int rc;

	if (vm_id)
		snprintf(m.vm_id, sizeof(m.vm_id), "%s", vm_id);
	if (err && status != 0)
		snprintf(m.error, sizeof(m.error), "%s", err);
	rc = ui_ring_send(&w->shm->ring[UI_RING_POOL_TO_API],
			  UI_DOORBELL_FD(UI_RING_POOL_TO_API), &m);
	if (rc < 0)
		ui_error("reply ring full: reply to request %llu lost",
			 (unsigned long long)req_id);
}

bool pw_netd_up(struct pw_worker *w)
{
	struct ui_daemon_status *d = &w->shm->daemon[UI_D_NETD];

	return atomic_load(&d->up) && atomic_load(&d->ready);
}

int pw_net_request(struct pw_worker *w, struct pw_vm *vm, enum ui_op op,
		   pw_net_cb cb)
{
	struct pw_net_req *r = calloc(1, sizeof(*r));
	struct ui_msg m = { .gen = w->gen, .op = (uint16_t)op };
	int rc;

	if (!r)
		return -ENOMEM;
	m.req_id = ((uint64_t)w->gen << 32) | (++w->next_req_id & 0xffffffffu);
	snprintf(m.vm_id, sizeof(m.vm_id), "%s", vm->row.id);
	rc = ui_ring_send(&w->shm->ring[UI_RING_POOL_TO_NET],
			  UI_DOORBELL_FD(UI_RING_POOL_TO_NET), &m);
	if (rc < 0) {
		free(r);
		return rc;
	}
	r->req_id = m.req_id;
	r->op = (uint16_t)op;
	r->vm = vm;
	r->cb = cb;
	r->deadline_ms = ui_now_ms() + PW_NET_TIMEOUT_MS;
	r->next = w->net_pending;
	w->net_pending = r;
	vm->net_busy = true;
	return 0;
}

void pw_net_forget(struct pw_worker *w, struct pw_vm *vm)
{
	struct pw_net_req **pp = &w->net_pending;

	while (*pp) {
		struct pw_net_req *r = *pp;

		if (r->vm == vm) {
			*pp = r->next;
			free(r);
		} else {
			pp = &r->next;
		}
	}
}

static struct pw_net_req *net_take(struct pw_worker *w, uint64_t req_id)
{
	for (struct pw_net_req **pp = &w->net_pending; *pp; pp = &(*pp)->next) {
		struct pw_net_req *r = *pp;

		if (r->req_id == req_id) {
			*pp = r->next;
			return r;
		}
	}
	return NULL;
}

static void net_complete(struct pw_net_req *r, const struct ui_msg *reply)
{
	r->vm->net_busy = false;
	r->cb(r->vm, reply);
	free(r);
}

static void net_check_deadlines(struct pw_worker *w)
{
	uint64_t now = ui_now_ms();
	struct pw_net_req *r;

again:
	for (r = w->net_pending; r; r = r->next) {
		struct ui_msg m = { .op = UI_OP_REPLY, .status = -ETIMEDOUT };

		if (r->deadline_ms > now)
			continue;
		m.req_id = r->req_id;
		m.req_op = r->op;
		snprintf(m.error, sizeof(m.error), "network daemon did not answer");
		ui_warn("%s: netd did not answer %s within %u ms", r->vm->row.id,
			r->op == UI_OP_NET_ALLOC ? "NET_ALLOC" : "NET_RELEASE",
			PW_NET_TIMEOUT_MS);
		/* The callback may change the list: rescan from the head. */
		net_complete(net_take(w, r->req_id), &m);
		goto again;
	}
}

static void sanitize(struct ui_msg *m)
{
	m->vm_id[sizeof(m->vm_id) - 1] = '\0';
	m->image[sizeof(m->image) - 1] = '\0';
	m->name[sizeof(m->name) - 1] = '\0';
	m->key[sizeof(m->key) - 1] = '\0';
	m->ip[sizeof(m->ip) - 1] = '\0';
	m->mac[sizeof(m->mac) - 1] = '\0';
	m->tap[sizeof(m->tap) - 1] = '\0';
	m->error[sizeof(m->error) - 1] = '\0';
}

static void on_request(struct pw_worker *w, struct ui_msg *m)
{
	if (m->op == UI_OP_RUN)
		pw_handle_run(w, m);
	else if (m->op == UI_OP_STOP)
		pw_handle_stop(w, m);
	else
		pw_reply(w, m->req_id, m->gen, m->op, -EINVAL, m->vm_id,
			 "unknown operation");
}

static void on_net_reply(struct pw_worker *w, struct ui_msg *m)
{
	struct pw_net_req *r;

	if (m->gen != w->gen || m->op != UI_OP_REPLY) {
		ui_debug("netd reply %llu (gen %u, op %u) dropped",
			 (unsigned long long)m->req_id, m->gen, m->op);
		return;
	}
	r = net_take(w, m->req_id);
	if (!r) {
		ui_debug("netd reply %llu matches no request",
			 (unsigned long long)m->req_id);
		return;
	}
	net_complete(r, m);
}

/* Whether ring id is served now. While the pool drains (SIGTERM), requests
 * from apid stay queued for the next pool-worker; netd's replies are read. */
static bool serving(struct pw_worker *w, enum ui_ring_id id)
{
	return !w->exiting && !(id == UI_RING_API_TO_POOL && w->pool.draining);
}

static void drain_ring(struct pw_worker *w, enum ui_ring_id id,
		       void (*handle)(struct pw_worker *, struct ui_msg *))
{
	struct ui_ring *r = &w->shm->ring[id];
	struct ui_msg m;

	ui_ring_wake(r);
	while (serving(w, id)) {
		while (serving(w, id) && ui_ring_pop(r, &m) == 0) {
			sanitize(&m);
			handle(w, &m);
		}
		if (ui_ring_prepare_sleep(r))
			break;
	}
}

static void on_bell_req(uv_poll_t *h, int status, int events)
{
	struct pw_worker *w = h->data;

	(void)status;
	(void)events;
	ui_doorbell_drain(UI_DOORBELL_FD(UI_RING_API_TO_POOL));
	drain_ring(w, UI_RING_API_TO_POOL, on_request);
}

static void on_bell_net(uv_poll_t *h, int status, int events)
{
	struct pw_worker *w = h->data;

	(void)status;
	(void)events;
	ui_doorbell_drain(UI_DOORBELL_FD(UI_RING_NET_TO_POOL));
	drain_ring(w, UI_RING_NET_TO_POOL, on_net_reply);
}

static void on_heartbeat(uv_timer_t *t)
{
	struct pw_worker *w = t->data;

	ui_daemon_heartbeat(w->shm, UI_D_POOL);
	net_check_deadlines(w);
}

/* SIGTERM/SIGINT: warm slots are killed and released first (pool.c), then
 * the loop stops; VMs are left running. A second signal exits at once. */
static void on_signal(uv_signal_t *s, int signum)
{
	struct pw_worker *w = s->data;

	if (!w->pool.draining && pw_pool_drain(w)) {
		ui_info("signal %d: releasing warm slots, then exiting", signum);
		return;
	}
	ui_info("signal %d: exiting, VMs left running", signum);
	w->exiting = true;
	uv_stop(&w->loop);
}

static int init_handles(struct pw_worker *w)
{
	int rc;

	rc = uv_poll_init(&w->loop, &w->bell_req, UI_DOORBELL_FD(UI_RING_API_TO_POOL));
	if (rc < 0)
		return rc;
	rc = uv_poll_init(&w->loop, &w->bell_net, UI_DOORBELL_FD(UI_RING_NET_TO_POOL));
	if (rc < 0)
		return rc;
	uv_timer_init(&w->loop, &w->heartbeat);
	uv_signal_init(&w->loop, &w->sig_term);
	uv_signal_init(&w->loop, &w->sig_int);
	w->bell_req.data = w->bell_net.data = w;
	w->heartbeat.data = w->sig_term.data = w->sig_int.data = w;
	return 0;
}

int pw_worker_init(struct pw_worker *w, const struct ui_config *cfg,
		   struct ui_shm *shm, struct ui_registry *reg, enum ui_accel accel)
{
	int rc;

	memset(w, 0, sizeof(*w));
	w->cfg = cfg;
	w->shm = shm;
	w->reg = reg;
	w->accel = accel;
	w->gen = atomic_load(&shm->daemon[UI_D_POOL].generation);
	if (accel == UI_ACCEL_TCG) {
		w->tsc_khz = pw_host_tsc_khz();
		ui_info("tcg: Linux guests get tsc_early_khz=%u tsc=reliable (host TSC)", w->tsc_khz);
	}
	rc = make_dirs(cfg);
	if (rc < 0)
		return rc;
	rc = uv_loop_init(&w->loop);
	if (rc < 0)
		return rc;
	rc = init_handles(w);
	if (rc == 0)
		rc = pw_pool_init(w);
	if (rc < 0) {
		ui_error("doorbell fds %d/%d: %s", UI_DOORBELL_FD(UI_RING_API_TO_POOL),
			 UI_DOORBELL_FD(UI_RING_NET_TO_POOL), uv_strerror(rc));
		pw_worker_fini(w);
		return rc;
	}
	/* Replies queued for our previous incarnation are meaningless now. */
	ui_ring_discard(&shm->ring[UI_RING_NET_TO_POOL]);
	return 0;
}

int pw_worker_run(struct pw_worker *w)
{
	pw_recover(w);
	pw_pool_start(w);
	uv_poll_start(&w->bell_req, UV_READABLE, on_bell_req);
	uv_poll_start(&w->bell_net, UV_READABLE, on_bell_net);
	uv_timer_start(&w->heartbeat, on_heartbeat, 1000, 1000);
	uv_signal_start(&w->sig_term, on_signal, SIGTERM);
	uv_signal_start(&w->sig_int, on_signal, SIGINT);
	pw_pool_table_update(w);
	ui_daemon_heartbeat(w->shm, UI_D_POOL);
	ui_daemon_set_ready(w->shm, UI_D_POOL);
	ui_info("ready (generation %u, %s)", w->gen,
		w->accel == UI_ACCEL_KVM ? "kvm" : "tcg");
	/* Requests queued while we were down are served now. */
	drain_ring(w, UI_RING_API_TO_POOL, on_request);
	drain_ring(w, UI_RING_NET_TO_POOL, on_net_reply);
	uv_run(&w->loop, UV_RUN_DEFAULT);
	return 0;
}

static void close_walk_cb(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

void pw_worker_fini(struct pw_worker *w)
{
	w->exiting = true;
	while (w->vms)
		pw_vm_free(w->vms);
	while (w->net_pending) {
		struct pw_net_req *r = w->net_pending;

		w->net_pending = r->next;
		free(r);
	}
	/* Our own handles have no close callbacks; driver handles were closed
	 * with theirs by pw_vm_free and finish in this run. */
	uv_walk(&w->loop, close_walk_cb, NULL);
	uv_run(&w->loop, UV_RUN_DEFAULT);
	if (uv_loop_close(&w->loop) < 0)
		ui_warn("loop still has handles at exit");
}
