/*
 * ringio.c — ring readers and writers on a libuv loop (see ringio.h for
 * the fairness and full-ring rules).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "ringio.h"

struct ui_ring_held {
	struct ui_ring_held *next;
	struct ui_msg m;
};

void ui_msg_sanitize(struct ui_msg *m)
{
	m->vm_id[sizeof(m->vm_id) - 1] = '\0';
	m->image[sizeof(m->image) - 1] = '\0';
	m->name[sizeof(m->name) - 1] = '\0';
	m->key[sizeof(m->key) - 1] = '\0';
	m->ip[sizeof(m->ip) - 1] = '\0';
	m->tap[sizeof(m->tap) - 1] = '\0';
	m->error[sizeof(m->error) - 1] = '\0';
}

/* ---- reader ---------------------------------------------------------------- */

static bool gate_closed(const struct ui_ring_reader *r)
{
	return r->out && ui_ring_writer_busy(r->out);
}

static void on_resume(uv_idle_t *h);

/* Goes on in the next loop turn, after pending I/O (an idle handle: a 0 ms
 * timer re-armed from its own callback would run again in the same turn
 * on this libuv, 1.44). */
static void resume_soon(struct ui_ring_reader *r)
{
	if (uv_idle_start(&r->resume, on_resume) < 0)
		ui_error("ring reader: cannot arm the resume handle");
}

/* Takes messages until the ring is empty and we may sleep, a batch is done
 * (the next loop turn goes on), or the gate closed (the writer reopens it). */
static void serve(struct ui_ring_reader *r)
{
	struct ui_msg m;

	for (unsigned n = 0; !r->stopped;) {
		if (gate_closed(r))
			return;
		if (n == UI_RING_BATCH) {
			resume_soon(r);
			return;
		}
		if (ui_ring_pop(r->ring, &m) == 0) {
			ui_msg_sanitize(&m);
			r->handle(r, &m);
			n++;
			continue;
		}
		if (ui_ring_prepare_sleep(r->ring))
			return; /* back to the doorbell poll */
	}
}

static void on_resume(uv_idle_t *h)
{
	uv_idle_stop(h);
	serve(h->data);
}

static void on_doorbell(uv_poll_t *p, int status, int events)
{
	struct ui_ring_reader *r = p->data;

	(void)events;
	if (status < 0) {
		ui_error("doorbell fd %d: %s", r->fd, uv_strerror(status));
		return;
	}
	/* Drain before popping (never after prepare_sleep): a doorbell rung
	 * now is then seen by the next poll. */
	ui_doorbell_drain(r->fd);
	ui_ring_wake(r->ring);
	serve(r);
}

int ui_ring_reader_init(struct ui_ring_reader *r, uv_loop_t *loop, struct ui_ring *ring,
			int fd, ui_ring_handler handle, void *data)
{
	int rc;

	memset(r, 0, sizeof(*r));
	r->ring = ring;
	r->fd = fd;
	r->handle = handle;
	r->data = data;
	r->stopped = true;
	rc = uv_poll_init(loop, &r->poll, fd);
	if (rc < 0)
		return rc;
	r->poll.data = r;
	rc = uv_idle_init(loop, &r->resume);
	r->resume.data = r;
	return rc;
}

int ui_ring_reader_gate(struct ui_ring_reader *r, struct ui_ring_writer *w)
{
	for (int i = 0; i < UI_RING_MAX_GATED; i++) {
		if (!w->gated[i]) {
			w->gated[i] = r;
			r->out = w;
			return 0;
		}
	}
	return -ENOSPC;
}

int ui_ring_reader_start(struct ui_ring_reader *r)
{
	int rc = uv_poll_start(&r->poll, UV_READABLE, on_doorbell);

	if (rc < 0)
		return rc;
	r->stopped = false;
	ui_ring_wake(r->ring);
	serve(r);
	return 0;
}

void ui_ring_reader_stop(struct ui_ring_reader *r)
{
	r->stopped = true;
	uv_poll_stop(&r->poll);
	uv_idle_stop(&r->resume);
}

void ui_ring_reader_kick(struct ui_ring_reader *r)
{
	if (!r->stopped)
		resume_soon(r);
}

/* Closes h if it was initialised (a zeroed handle has no loop). */
static void close_handle(uv_handle_t *h)
{
	if (h->loop && !uv_is_closing(h))
		uv_close(h, NULL);
}

void ui_ring_reader_close(struct ui_ring_reader *r)
{
	r->stopped = true;
	close_handle((uv_handle_t *)&r->poll);
	close_handle((uv_handle_t *)&r->resume);
}

/* ---- writer ---------------------------------------------------------------- */

static void on_retry(uv_timer_t *t);

/* Sends held messages in order until one finds the ring full again. */
static void flush(struct ui_ring_writer *w)
{
	while (w->head && ui_ring_send(w->ring, w->fd, &w->head->m) == 0) {
		struct ui_ring_held *h = w->head;

		w->head = h->next;
		if (!w->head)
			w->tail = NULL;
		w->held--;
		free(h);
	}
	if (w->head) {
		if (uv_timer_start(&w->retry, on_retry, UI_RING_RETRY_MS, 0) < 0)
			ui_error("ring writer: cannot arm the retry timer");
		return;
	}
	ui_info("ring has room again: held messages sent");
	for (int i = 0; i < UI_RING_MAX_GATED; i++)
		if (w->gated[i])
			ui_ring_reader_kick(w->gated[i]);
}

static void on_retry(uv_timer_t *t)
{
	flush(t->data);
}

int ui_ring_writer_init(struct ui_ring_writer *w, uv_loop_t *loop, struct ui_ring *ring,
			int fd)
{
	memset(w, 0, sizeof(*w));
	w->ring = ring;
	w->fd = fd;
	w->retry.data = w;
	return uv_timer_init(loop, &w->retry);
}

int ui_ring_writer_send(struct ui_ring_writer *w, const struct ui_msg *m)
{
	struct ui_ring_held *h;

	if (!w->head && ui_ring_send(w->ring, w->fd, m) == 0)
		return 0;
	if (!(h = malloc(sizeof(*h))))
		return -ENOMEM;
	h->m = *m;
	h->next = NULL;
	if (w->tail)
		w->tail->next = h;
	else
		w->head = h;
	w->tail = h;
	if (w->held++ == 0) {
		ui_warn("ring full: holding messages until the consumer makes room");
		if (uv_timer_start(&w->retry, on_retry, UI_RING_RETRY_MS, 0) < 0)
			ui_error("ring writer: cannot arm the retry timer");
	}
	return 0;
}

bool ui_ring_writer_busy(const struct ui_ring_writer *w)
{
	return w->head != NULL;
}

void ui_ring_writer_close(struct ui_ring_writer *w)
{
	if (w->held)
		ui_warn("ring writer closed with %zu message(s) held", w->held);
	while (w->head) {
		struct ui_ring_held *h = w->head;

		w->head = h->next;
		free(h);
	}
	w->tail = NULL;
	w->held = 0;
	close_handle((uv_handle_t *)&w->retry);
}
