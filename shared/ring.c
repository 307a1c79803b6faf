/*
 * ring.c — SPSC message ring in shared memory with an eventfd doorbell; the
 * protocol is described in ring.h.
 *
 * Ownership: `head` is written only by the producer, `tail` only by the
 * consumer, `consumer_waiting` only by the consumer (the producer reads it).
 * Both indices run free over 32 bits; `head - tail` (mod 2^32) is the fill
 * level, always in [0, UI_RING_CAP]. A slot is owned by the producer while
 * `head - tail < cap` says it is free and by the consumer once `head` has been
 * published past it, so no slot is ever read and written at the same time.
 *
 * Barrier pairs:
 *   (P1) producer release-store of head  ↔  (C1) consumer acquire-load of head:
 *        the slot contents are visible before the consumer reads them.
 *   (C2) consumer release-store of tail  ↔  (P2) producer acquire-load of tail:
 *        the consumer has finished copying a slot before it is overwritten.
 *   (P3) seq_cst fence in ui_ring_send   ↔  (C3) seq_cst fence in
 *        ui_ring_prepare_sleep: store head / fence / load waiting against
 *        store waiting / fence / load head — at least one side sees the
 *        other's store, so a doorbell is never lost.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "ring.h"

_Static_assert((UI_RING_CAP & (UI_RING_CAP - 1)) == 0,
	       "UI_RING_CAP must be a power of two");

#define RING_MASK (UI_RING_CAP - 1)

void ui_ring_init(struct ui_ring *r)
{
	memset(r->slot, 0, sizeof(r->slot));
	atomic_init(&r->head, 0);
	atomic_init(&r->tail, 0);
	atomic_init(&r->consumer_waiting, 0);
	r->cap = UI_RING_CAP;
}

int ui_ring_push(struct ui_ring *r, const struct ui_msg *m)
{
	/* Our own index: no ordering needed. */
	uint32_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
	/* P2: pairs with C2 in ui_ring_pop/ui_ring_discard. */
	uint32_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);

	if ((uint32_t)(head - tail) >= UI_RING_CAP)
		return -EAGAIN;
	memcpy(&r->slot[head & RING_MASK], m, sizeof(*m));
	/* P1: pairs with C1 in ui_ring_pop/prepare_sleep/discard/count. */
	atomic_store_explicit(&r->head, head + 1, memory_order_release);
	return 0;
}

static void doorbell_ring(int fd)
{
	uint64_t one = 1;
	ssize_t n;

	/* EAGAIN means the counter is saturated: the consumer will wake anyway. */
	do
		n = write(fd, &one, sizeof(one));
	while (n < 0 && errno == EINTR);
}

int ui_ring_send(struct ui_ring *r, int doorbell_fd, const struct ui_msg *m)
{
	int rc = ui_ring_push(r, m);

	if (rc < 0)
		return rc;
	/* P3: pairs with C3 — orders our head store before the flag load. */
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load_explicit(&r->consumer_waiting, memory_order_seq_cst))
		doorbell_ring(doorbell_fd);
	return 0;
}

int ui_ring_pop(struct ui_ring *r, struct ui_msg *out)
{
	/* Our own index: no ordering needed. */
	uint32_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
	/* C1: pairs with P1 in ui_ring_push. */
	uint32_t head = atomic_load_explicit(&r->head, memory_order_acquire);

	if (head == tail)
		return -EAGAIN;
	memcpy(out, &r->slot[tail & RING_MASK], sizeof(*out));
	/* C2: pairs with P2 in ui_ring_push. */
	atomic_store_explicit(&r->tail, tail + 1, memory_order_release);
	return 0;
}

bool ui_ring_prepare_sleep(struct ui_ring *r)
{
	uint32_t head, tail;

	atomic_store_explicit(&r->consumer_waiting, 1, memory_order_seq_cst);
	/* C3: pairs with P3 in ui_ring_send — flag store before the head load. */
	atomic_thread_fence(memory_order_seq_cst);
	/* C1: pairs with P1. */
	head = atomic_load_explicit(&r->head, memory_order_acquire);
	tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
	if (head == tail)
		return true;
	/* Not sleeping after all; spares the producer needless doorbells. */
	atomic_store_explicit(&r->consumer_waiting, 0, memory_order_relaxed);
	return false;
}

void ui_ring_wake(struct ui_ring *r)
{
	/* Only saves doorbells: a stale 1 costs a spurious wakeup, never a lost one. */
	atomic_store_explicit(&r->consumer_waiting, 0, memory_order_relaxed);
}

void ui_doorbell_drain(int doorbell_fd)
{
	uint64_t v;
	ssize_t n;

	/* The eventfd is EFD_NONBLOCK: one read resets the counter or fails with EAGAIN. */
	do
		n = read(doorbell_fd, &v, sizeof(v));
	while (n < 0 && errno == EINTR);
}

void ui_ring_discard(struct ui_ring *r)
{
	/* C1: pairs with P1 — everything published so far is dropped. */
	uint32_t head = atomic_load_explicit(&r->head, memory_order_acquire);

	/* C2: pairs with P2 — the producer may reuse the slots. */
	atomic_store_explicit(&r->tail, head, memory_order_release);
}

uint32_t ui_ring_count(struct ui_ring *r)
{
	/* Exact for either end (its own index is stable). For a third party it
	 * is a snapshot: tail is read first, so tail <= head always holds, but
	 * both may move in between — clamp the result to the capacity. */
	uint32_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
	/* C1/P1 pair as in ui_ring_pop. */
	uint32_t head = atomic_load_explicit(&r->head, memory_order_acquire);
	uint32_t n = head - tail;

	return n > UI_RING_CAP ? UI_RING_CAP : n;
}
