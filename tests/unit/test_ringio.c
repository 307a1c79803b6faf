/*
 * test_ringio.c — the ring reader and writer every daemon uses
 * (shared/ringio.c), on a real loop with real eventfds: the doorbell wakes
 * a sleeping reader; a reader takes at most UI_RING_BATCH messages per loop
 * turn, so other handles run in between (the fairness rule); a full ring
 * holds messages in order, never drops one, and keeps a gated reader from
 * taking more until it has room (the full-ring rule); strings from the ring
 * are made safe; a stopped reader leaves messages queued.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "ringio.h"
#include "t.h"

struct fixture {
	uv_loop_t loop;
	struct ui_ring *in, *out;      /* the reader's ring, the writer's ring */
	int in_fd, out_fd;
	struct ui_ring_reader r;
	struct ui_ring_writer w;
	unsigned seen;                 /* messages handled */
	uint64_t last_req;             /* the last req_id handled */
	unsigned turns;                /* loop turns (a check handle counts) */
	unsigned max_per_turn, this_turn;
	bool forward;                  /* each handled message is sent on w */
};

static struct fixture F;

static void on_msg(struct ui_ring_reader *r, struct ui_msg *m)
{
	struct fixture *f = r->data;

	T_ASSERT(m->req_id == f->last_req + 1); /* in order, none lost */
	f->last_req = m->req_id;
	f->seen++;
	if (++f->this_turn > f->max_per_turn)
		f->max_per_turn = f->this_turn;
	if (f->forward)
		T_EQ_INT(ui_ring_writer_send(&f->w, m), 0);
}

static void on_check(uv_check_t *c)
{
	struct fixture *f = c->data;

	f->turns++;
	f->this_turn = 0;
}

static void setup(bool gate)
{
	memset(&F, 0, sizeof(F));
	T_EQ_INT(uv_loop_init(&F.loop), 0);
	T_ASSERT((F.in = calloc(1, sizeof(*F.in))) && (F.out = calloc(1, sizeof(*F.out))));
	ui_ring_init(F.in);
	ui_ring_init(F.out);
	T_ASSERT((F.in_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) >= 0);
	T_ASSERT((F.out_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) >= 0);
	T_EQ_INT(ui_ring_reader_init(&F.r, &F.loop, F.in, F.in_fd, on_msg, &F), 0);
	T_EQ_INT(ui_ring_writer_init(&F.w, &F.loop, F.out, F.out_fd), 0);
	if (gate)
		T_EQ_INT(ui_ring_reader_gate(&F.r, &F.w), 0);
}

static void push_n(unsigned n, uint64_t *next)
{
	struct ui_msg m = { .op = UI_OP_REPLY };

	for (unsigned i = 0; i < n; i++) {
		m.req_id = ++*next;
		T_EQ_INT(ui_ring_send(F.in, F.in_fd, &m), 0);
	}
}

/* Runs the loop one turn at a time until cond holds (or 10000 turns). */
#define RUN_UNTIL(cond)                                                   \
	do {                                                              \
		for (int t_i_ = 0; !(cond) && t_i_ < 10000; t_i_++)       \
			uv_run(&F.loop, UV_RUN_NOWAIT);                  \
		T_ASSERT(cond);                                           \
	} while (0)

static void teardown(void)
{
	ui_ring_reader_close(&F.r);
	ui_ring_writer_close(&F.w);
	ui_ring_reader_close(&F.r); /* twice is fine */
	uv_run(&F.loop, UV_RUN_DEFAULT);
	T_EQ_INT(uv_loop_close(&F.loop), 0);
	close(F.in_fd);
	close(F.out_fd);
	free(F.in);
	free(F.out);
}

static void t_doorbell_wakes_reader(void)
{
	uint64_t next = 0;

	setup(false);
	T_EQ_INT(ui_ring_reader_start(&F.r), 0);
	T_EQ_INT(F.seen, 0);
	push_n(3, &next); /* the reader sleeps: this rings its doorbell */
	RUN_UNTIL(F.seen == 3);
	push_n(1, &next);
	RUN_UNTIL(F.seen == 4);
	teardown();
}

static void t_batch_per_turn(void)
{
	uv_check_t check;
	uint64_t next = 0;

	setup(false);
	T_EQ_INT(uv_check_init(&F.loop, &check), 0);
	check.data = &F;
	T_EQ_INT(uv_check_start(&check, on_check), 0);
	push_n(200, &next); /* queued before the reader starts: served at start */
	T_EQ_INT(ui_ring_reader_start(&F.r), 0);
	T_EQ_INT(F.seen, UI_RING_BATCH);
	F.this_turn = 0;
	RUN_UNTIL(F.seen == 200);
	T_ASSERT(F.max_per_turn <= UI_RING_BATCH);
	T_ASSERT(F.turns >= 200 / UI_RING_BATCH); /* other handles ran between */
	uv_close((uv_handle_t *)&check, NULL);
	teardown();
}

/* The writer's ring starts with ROOM free slots; the reader forwards IN
 * messages into it: it fills, the rest is held in order, and the gate stops
 * the reader; draining the ring lets everything through, in order. */
#define ROOM 20u
#define IN 200u

static void t_full_ring_holds_and_gates(void)
{
	struct ui_msg m = { .op = UI_OP_REPLY };
	uint64_t next = 0, got = 0;

	setup(true);
	F.forward = true;
	for (unsigned i = 0; i < UI_RING_CAP - ROOM; i++) /* someone else's */
		T_EQ_INT(ui_ring_push(F.out, &m), 0);
	push_n(IN, &next);
	T_EQ_INT(ui_ring_reader_start(&F.r), 0);
	for (int i = 0; i < 50; i++)
		uv_run(&F.loop, UV_RUN_NOWAIT);
	T_ASSERT(ui_ring_writer_busy(&F.w));
	T_EQ_INT(ui_ring_count(F.out), UI_RING_CAP);
	/* Held: what the reader took beyond the ring's room, never more than
	 * the batch it was in when the ring filled; then it stopped. */
	T_ASSERT(F.w.held >= 1 && F.w.held <= UI_RING_BATCH);
	T_EQ_INT(F.seen, ROOM + F.w.held);
	for (unsigned i = 0; i < UI_RING_CAP - ROOM; i++)
		T_EQ_INT(ui_ring_pop(F.out, &m), 0);
	while (got < IN) {
		while (ui_ring_pop(F.out, &m) == 0)
			T_EQ_INT(m.req_id, ++got); /* in order, nothing dropped */
		uv_run(&F.loop, UV_RUN_NOWAIT);
	}
	RUN_UNTIL(!ui_ring_writer_busy(&F.w) && F.seen == IN);
	teardown();
}

static void t_stopped_reader_leaves_queue(void)
{
	uint64_t next = 0;

	setup(false);
	T_EQ_INT(ui_ring_reader_start(&F.r), 0);
	ui_ring_reader_stop(&F.r);
	push_n(5, &next);
	for (int i = 0; i < 20; i++)
		uv_run(&F.loop, UV_RUN_NOWAIT);
	T_EQ_INT(F.seen, 0);
	T_EQ_INT(ui_ring_count(F.in), 5); /* for the next consumer */
	teardown();
}

static void t_sanitize(void)
{
	struct ui_msg m;

	memset(&m, 'x', sizeof(m));
	ui_msg_sanitize(&m);
	T_EQ_INT(strlen(m.vm_id), sizeof(m.vm_id) - 1);
	T_EQ_INT(strlen(m.image), sizeof(m.image) - 1);
	T_EQ_INT(strlen(m.name), sizeof(m.name) - 1);
	T_EQ_INT(strlen(m.key), sizeof(m.key) - 1);
	T_EQ_INT(strlen(m.ip), sizeof(m.ip) - 1);
	T_EQ_INT(strlen(m.tap), sizeof(m.tap) - 1);
	T_EQ_INT(strlen(m.error), sizeof(m.error) - 1);
}

int main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		T_CASE(t_doorbell_wakes_reader), T_CASE(t_batch_per_turn),
		T_CASE(t_full_ring_holds_and_gates), T_CASE(t_stopped_reader_leaves_queue),
		T_CASE(t_sanitize), { 0 },
	};
	return t_run(argc, argv, cases);
}
