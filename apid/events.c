/*
 * events.c — GET /events (see events.h): one page of the event log, and
 * the waits of long-polls (its query is parsed by events_query.c).
 *
 * A wait (struct ev_wait) belongs to one BUSY connection (conn->ev) and
 * is in the hub's list until it is answered or its connection closes. The
 * hub's timer runs only while the list is not empty. On a tick: if the
 * event counters in shm moved, one query from the smallest cursor of all
 * waits (EV_BATCH rows at most, every VM) is handed to each wait — its
 * own VM's rows after its own cursor, up to its limit; a wait with
 * nothing in a full batch moves its cursor to the batch's end and the hub
 * reads again at the next tick. Then the waits whose time is up are
 * answered empty.
 *
 * No lost wake-up: a request reads the counters before its first query;
 * if it has to wait, the hub's "last seen" goes back to that value when it
 * is older, so a commit between the query and the wait is read at the
 * next tick.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <uv.h>

#include "conn.h"
#include "events.h"
#include "json.h"
#include "log.h"
#include "registry.h"
#include "routes.h"
#include "server.h"
#include "shm.h"

#define EV_BATCH 1000

struct ev_wait {
	struct ev_wait *next;
	struct conn *c;
	uint64_t since;
	unsigned limit;
	char vm[48];
	uint64_t deadline_ms;
};

struct events_hub {
	struct apid_server *s;
	uv_timer_t tick;
	struct ev_wait *waits;
	uint64_t seen;               /* the counters' sum when last read */
	bool again;                  /* read at the next tick whatever they say */
	unsigned n_waits;
	uint64_t queries;            /* registry reads for the waits (GET /metrics) */
};

/* ---- answers ---------------------------------------------------------------------- */

static json_t *event_json(const struct ui_reg_event_row *ev)
{
	return json_pack("{s:I,s:s,s:s?,s:s,s:s?}", "seq", (json_int_t)ev->seq,
			 "time", ev->time, "vm", ev->vm_id[0] ? ev->vm_id : NULL, "kind", ev->kind,
			 "detail", ev->detail[0] ? ev->detail : NULL);
}

static void answer(struct http_response *r, json_t *arr, uint64_t next)
{
	if (!arr) {
		api_error(r, 500, "internal", "out of memory");
		return;
	}
	api_json(r, 200, json_pack("{s:o,s:I}", "events", arr, "next", (json_int_t)next));
}

struct page {
	json_t *arr;
	uint64_t last;
};

static int page_add(const struct ui_reg_event_row *ev, void *arg)
{
	struct page *p = arg;
	json_t *o = event_json(ev);

	if (!o || json_array_append_new(p->arr, o) < 0)
		return -ENOMEM;
	p->last = ev->seq;
	return 0;
}

/* The sum of every daemon's event counter (acquire: pairs with the
 * release after the commit in shared/registry.c), and of their
 * generations: a daemon killed between its COMMIT and the bump is
 * respawned with a new generation, and the waits read the log then. */
static uint64_t counters(struct apid_server *s)
{
	struct ui_shm *shm = s->be->shm;
	uint64_t sum = 0;

	for (int d = 0; d < UI_D_COUNT; d++) {
		sum += atomic_load_explicit(&shm->metrics.reg[d].event_commits,
					    memory_order_acquire);
		sum += atomic_load_explicit(&shm->daemon[d].generation, memory_order_relaxed);
	}
	return sum;
}

/* ---- waits ------------------------------------------------------------------------- */

static void wait_unlink(struct events_hub *h, struct ev_wait *w)
{
	struct ev_wait **pp;

	for (pp = &h->waits; *pp && *pp != w; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = w->next;
	h->n_waits--;
	w->c->ev = NULL;
	free(w);
	if (!h->waits)
		uv_timer_stop(&h->tick);
}

/* Answers w with arr (consumed) and frees it. */
static void wait_answer(struct events_hub *h, struct ev_wait *w, json_t *arr, uint64_t next)
{
	struct http_response r = { 0 };
	struct conn *c = w->c;

	answer(&r, arr, next);
	wait_unlink(h, w);
	conn_respond(c, &r);
	conn_resume(c);
}

/* A row of the batch read for every wait. */
struct ev_row {
	uint64_t seq;
	char vm[48];
	json_t *obj;
};

struct batch {
	struct ev_row *v;
	size_t n;
};

static int batch_add(const struct ui_reg_event_row *ev, void *arg)
{
	struct batch *b = arg;
	struct ev_row *x = &b->v[b->n];

	if (!(x->obj = event_json(ev)))
		return -ENOMEM;
	x->seq = ev->seq;
	snprintf(x->vm, sizeof(x->vm), "%s", ev->vm_id);
	b->n++;
	return 0;
}

/* w's share of b: answered if it has any; else its cursor moves past a
 * full batch (nothing of its own up to there). */
static void wait_take(struct events_hub *h, struct ev_wait *w, const struct batch *b, bool full)
{
	json_t *arr = json_array();
	uint64_t next = w->since;

	for (size_t i = 0; arr && i < b->n && json_array_size(arr) < w->limit; i++) {
		if (b->v[i].seq <= w->since || (w->vm[0] && strcmp(w->vm, b->v[i].vm) != 0))
			continue;
		if (json_array_append(arr, b->v[i].obj) < 0) {
			json_decref(arr);
			arr = NULL;
			break;
		}
		next = b->v[i].seq;
	}
	if (!arr || json_array_size(arr)) {
		wait_answer(h, w, arr, next);
		return;
	}
	json_decref(arr);
	if (full && b->n && b->v[b->n - 1].seq > w->since) {
		w->since = b->v[b->n - 1].seq;
		h->again = true;
	}
}

/* One query for every wait. */
static void deliver(struct events_hub *h)
{
	struct batch b = { calloc(EV_BATCH, sizeof(struct ev_row)), 0 };
	uint64_t from = UINT64_MAX;
	bool more = false;
	int rc;

	for (struct ev_wait *w = h->waits; w; w = w->next)
		if (w->since < from)
			from = w->since;
	h->queries++;
	rc = b.v ? ui_reg_event_page(h->s->be->reg, from, NULL, EV_BATCH, batch_add, &b, &more)
		 : -ENOMEM;
	if (rc < 0) {
		ui_warn("events: registry read failed: %s; retrying", strerror(-rc));
		h->again = true;
	} else {
		for (struct ev_wait *w = h->waits, *next; w; w = next) {
			next = w->next; /* answering frees w */
			wait_take(h, w, &b, more);
		}
	}
	for (size_t i = 0; i < b.n; i++)
		json_decref(b.v[i].obj);
	free(b.v);
}

static void on_tick(uv_timer_t *t)
{
	struct events_hub *h = t->data;
	uint64_t v = counters(h->s), now;

	if (v != h->seen || h->again) {
		h->seen = v;
		h->again = false;
		deliver(h);
	}
	now = ui_now_ms();
	for (struct ev_wait *w = h->waits, *next; w; w = next) {
		next = w->next;
		if (now >= w->deadline_ms)
			wait_answer(h, w, json_array(), w->since);
	}
}

/* Leaves c waiting on rt after cursor since; v0: the counters before its
 * query. */
static int wait_add(struct conn *c, const struct route *rt, uint64_t since, uint64_t v0)
{
	struct events_hub *h = c->srv->events;
	struct ev_wait *w = calloc(1, sizeof(*w));
	int rc;

	if (!h || !w) {
		free(w);
		return -ENOMEM;
	}
	if (!h->waits && (rc = uv_timer_start(&h->tick, on_tick, EVENTS_TICK_MS,
					      EVENTS_TICK_MS)) < 0) {
		free(w);
		return rc;
	}
	if (!h->waits || v0 < h->seen)
		h->seen = v0;
	*w = (struct ev_wait){ h->waits, c, since, rt->limit, "",
			       ui_now_ms() + rt->wait_s * 1000ull };
	snprintf(w->vm, sizeof(w->vm), "%s", rt->vm_id);
	h->waits = w;
	h->n_waits++;
	c->ev = w;
	return 0;
}

/* The cursor a wait may start from: a vm= request that found nothing
 * after since has no event of its VM up to the log's newest seq read
 * before that query (top), so it waits from there — the hub does not walk
 * the older log for it. */
static uint64_t wait_from(const struct route *rt, uint64_t top)
{
	return rt->vm_id[0] && top > rt->since ? top : rt->since;
}

int events_dispatch(struct conn *c, const struct route *rt, struct http_response *r)
{
	struct apid_server *s = c->srv;
	uint64_t v0 = counters(s), top = 0;
	struct page p = { json_array(), rt->since };
	bool more = false;
	int rc = p.arr ? 0 : -ENOMEM;

	if (rc == 0 && rt->vm_id[0] && rt->wait_s)
		rc = ui_reg_event_last_seq(s->be->reg, &top);
	if (rc == 0)
		rc = ui_reg_event_page(s->be->reg, rt->since, rt->vm_id, rt->limit, page_add,
				       &p, &more);
	if (rc < 0) {
		json_decref(p.arr);
		api_error(r, 500, "internal", "registry read failed: %s", strerror(-rc));
		return rc;
	}
	if (json_array_size(p.arr) || rt->wait_s == 0 || s->stopping) {
		answer(r, p.arr, p.last);
		return -EALREADY;
	}
	json_decref(p.arr);
	if ((rc = wait_add(c, rt, wait_from(rt, top), v0)) < 0) {
		api_error(r, 500, "internal", "cannot wait: %s", strerror(rc == -ENOMEM ? ENOMEM : -rc));
		return rc;
	}
	return 0;
}

void events_cancel(struct conn *c)
{
	if (c->ev)
		wait_unlink(c->srv->events, c->ev);
}

void events_hub_stats(const struct apid_server *s, unsigned *waiting, uint64_t *queries)
{
	const struct events_hub *h = s->events;

	*waiting = h ? h->n_waits : 0;
	*queries = h ? h->queries : 0;
}

int events_hub_init(struct apid_server *s)
{
	struct events_hub *h = calloc(1, sizeof(*h));
	int rc;

	if (!h)
		return -ENOMEM;
	if ((rc = uv_timer_init(s->loop, &h->tick)) < 0) {
		free(h);
		return rc;
	}
	h->s = s;
	h->tick.data = h;
	s->events = h;
	return 0;
}

static void on_hub_closed(uv_handle_t *t)
{
	free(t->data);
}

/* After every connection has closed (their waits are gone). */
void events_hub_close(struct apid_server *s)
{
	struct events_hub *h = s->events;

	if (!h)
		return;
	s->events = NULL;
	uv_close((uv_handle_t *)&h->tick, on_hub_closed);
}
