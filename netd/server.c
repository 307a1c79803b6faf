/*
 * server.c — netd's libuv loop around the ring pair it shares with
 * pool-worker:
 *   ring 2 UI_RING_POOL_TO_NET  consumer: NET_ALLOC, NET_RELEASE
 *   ring 3 UI_RING_NET_TO_POOL  producer: UI_OP_REPLY with the same req_id
 *                               and gen, status, vm_id, ip, mac, tap, error
 *
 * Consuming (ring.h protocol): the doorbell eventfd is polled with uv_poll;
 * on wake we drain it first, clear the waiting flag, then pop until empty
 * and announce sleep with ui_ring_prepare_sleep — only if that still sees
 * the ring empty do we return to the poll. Draining before popping (never
 * after prepare_sleep) is what keeps a doorbell from being eaten unseen.
 * Requests queued while netd was down are served at start the same way.
 *
 * Fairness: at most SERVE_BATCH requests per loop turn, then the `resume`
 * timer (0 ms) continues, so heartbeats and signals are never starved.
 *
 * Backpressure: a reply is never dropped. If ring 3 is full the reply is
 * held, no further request is taken, and `resume` retries every
 * REPLY_RETRY_MS until pool-worker has made room — so at most one reply is
 * ever held.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "server.h"

#define SERVE_BATCH 32
#define REPLY_RETRY_MS 10
#define HEARTBEAT_MS 1000

struct server {
	uv_loop_t *loop;
	struct ui_shm *shm;
	struct leases *ls;
	struct ui_ring *req, *rep;
	int req_fd, rep_fd;
	uv_poll_t doorbell;
	uv_timer_t heartbeat;
	uv_timer_t resume;          /* continue serving / retry a held reply */
	uv_signal_t sigterm, sigint;
	bool stopping;
	bool held;                  /* `reply` waits for room on ring 3 */
	struct ui_msg reply;
};

static void serve(struct server *s);

static void close_handle(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

/* Closes every handle: uv_run returns once they are all closed. */
static void stop(struct server *s)
{
	s->stopping = true;
	if (s->held)
		ui_warn("stopping with the reply to request %llu unsent (ring full)",
			(unsigned long long)s->reply.req_id);
	uv_walk(s->loop, close_handle, NULL);
}

static void send_reply(struct server *s, const struct ui_msg *r)
{
	if (ui_ring_send(s->rep, s->rep_fd, r) == 0)
		return;
	s->reply = *r;
	s->held = true;
	ui_warn("reply ring full: holding the reply to request %llu",
		(unsigned long long)r->req_id);
}

static void reply_init(struct ui_msg *r, const struct ui_msg *req)
{
	memset(r, 0, sizeof(*r));
	r->req_id = req->req_id;
	r->gen = req->gen;
	r->op = UI_OP_REPLY;
	r->req_op = req->op;
	memcpy(r->vm_id, req->vm_id, sizeof(r->vm_id));
}

static void reply_lease(struct ui_msg *r, const struct ui_lease *l)
{
	memcpy(r->ip, l->ip, sizeof(r->ip));
	memcpy(r->mac, l->mac, sizeof(r->mac));
	memcpy(r->tap, l->tap, sizeof(r->tap));
}

/* Serves one request and queues its reply. */
static void handle(struct server *s, struct ui_msg *m)
{
	struct ui_lease l;
	struct ui_msg r;
	int rc;

	m->vm_id[sizeof(m->vm_id) - 1] = '\0'; /* the ring is not trusted */
	reply_init(&r, m);
	switch (m->op) {
	case UI_OP_NET_ALLOC:
		rc = leases_alloc(s->ls, m->vm_id, &l, r.error, sizeof(r.error));
		break;
	case UI_OP_NET_RELEASE:
		rc = leases_release(s->ls, m->vm_id, &l, r.error, sizeof(r.error));
		break;
	default:
		rc = -EINVAL;
		snprintf(r.error, sizeof(r.error), "netd does not handle op %u", m->op);
		ui_warn("request %llu: unknown op %u", (unsigned long long)m->req_id, m->op);
		break;
	}
	r.status = rc;
	if (rc == 0)
		reply_lease(&r, &l);
	send_reply(s, &r);
}

static void on_resume(uv_timer_t *t)
{
	struct server *s = t->data;

	if (s->held) {
		if (ui_ring_send(s->rep, s->rep_fd, &s->reply) < 0) {
			uv_timer_start(&s->resume, on_resume, REPLY_RETRY_MS, 0);
			return;
		}
		s->held = false;
		ui_info("reply ring has room again");
	}
	serve(s);
}

/* Pops and serves requests until the ring is empty and we may sleep, a
 * batch is done, or a reply has to wait. */
static void serve(struct server *s)
{
	struct ui_msg m;

	for (int n = 0; !s->stopping;) {
		if (s->held) {
			uv_timer_start(&s->resume, on_resume, REPLY_RETRY_MS, 0);
			return;
		}
		if (n == SERVE_BATCH) {
			uv_timer_start(&s->resume, on_resume, 0, 0);
			return;
		}
		if (ui_ring_pop(s->req, &m) == 0) {
			handle(s, &m);
			n++;
			continue;
		}
		if (ui_ring_prepare_sleep(s->req))
			return; /* back to the doorbell poll */
	}
}

static void on_doorbell(uv_poll_t *p, int status, int events)
{
	struct server *s = p->data;

	(void)events;
	if (status < 0) {
		ui_error("doorbell poll: %s", uv_strerror(status));
		stop(s);
		return;
	}
	ui_doorbell_drain(s->req_fd);
	ui_ring_wake(s->req);
	serve(s);
}

static void on_heartbeat(uv_timer_t *t)
{
	struct server *s = t->data;

	ui_daemon_heartbeat(s->shm, UI_D_NETD);
}

static void on_signal(uv_signal_t *h, int signum)
{
	struct server *s = h->data;

	ui_info("%s: stopping", strsignal(signum));
	stop(s);
}

/* Initialises and starts every handle; on failure the caller stops. */
static int server_start(uv_loop_t *loop, struct server *s)
{
	int rc;

	s->doorbell.data = s->heartbeat.data = s->resume.data = s;
	s->sigterm.data = s->sigint.data = s;
	rc = uv_poll_init(loop, &s->doorbell, s->req_fd);
	if (rc < 0)
		return rc;
	uv_timer_init(loop, &s->heartbeat);
	uv_timer_init(loop, &s->resume);
	uv_signal_init(loop, &s->sigterm);
	uv_signal_init(loop, &s->sigint);
	rc = uv_poll_start(&s->doorbell, UV_READABLE, on_doorbell);
	if (rc == 0)
		rc = uv_timer_start(&s->heartbeat, on_heartbeat, HEARTBEAT_MS, HEARTBEAT_MS);
	if (rc == 0)
		rc = uv_signal_start(&s->sigterm, on_signal, SIGTERM);
	if (rc == 0)
		rc = uv_signal_start(&s->sigint, on_signal, SIGINT);
	return rc;
}

int server_run(uv_loop_t *loop, struct ui_shm *shm, struct leases *ls)
{
	struct server s;
	int rc;

	memset(&s, 0, sizeof(s));
	s.loop = loop;
	s.shm = shm;
	s.ls = ls;
	s.req = &shm->ring[UI_RING_POOL_TO_NET];
	s.rep = &shm->ring[UI_RING_NET_TO_POOL];
	s.req_fd = UI_DOORBELL_FD(UI_RING_POOL_TO_NET);
	s.rep_fd = UI_DOORBELL_FD(UI_RING_NET_TO_POOL);
	rc = server_start(loop, &s);
	if (rc < 0) {
		ui_error("event loop setup: %s", uv_strerror(rc));
		stop(&s);
		uv_run(loop, UV_RUN_DEFAULT);
		return rc;
	}
	ui_daemon_heartbeat(shm, UI_D_NETD);
	ui_daemon_set_ready(shm, UI_D_NETD);
	ui_info("ready: serving ring %d, replying on ring %d", UI_RING_POOL_TO_NET,
		UI_RING_NET_TO_POOL);
	serve(&s); /* whatever was queued while we were down */
	uv_run(loop, UV_RUN_DEFAULT);
	return 0;
}
