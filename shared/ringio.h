/*
 * ringio.h — the one way a daemon consumes and produces ring messages on
 * its libuv loop (ring.h is the lock-free ring itself).
 *
 * Reader (consumer of one ring): polls the ring's doorbell; on wake it
 * drains the eventfd, clears the waiting flag and takes messages — at most
 * UI_RING_BATCH per loop turn, then the next turn continues, so heartbeats,
 * signals and other rings are never starved (the one fairness rule). It
 * goes back to the poll only when ui_ring_prepare_sleep() still sees the
 * ring empty (the ring.h protocol: no doorbell is ever lost). Every message
 * is made safe (strings NUL-terminated: the ring is not trusted) before the
 * handler sees it. A reader started after a restart serves what was queued
 * while its daemon was down.
 *
 * Writer (producer of one ring): send pushes and rings the doorbell if the
 * consumer sleeps. The one full-ring rule: hold, never drop — a message
 * that finds the ring full is queued, in order, and retried every
 * UI_RING_RETRY_MS; while anything is held, the readers gated on this
 * writer (those whose handling produces into it) take no new message, so
 * the backlog is bounded by what is in flight.
 *
 * Ownership: both structs are caller-embedded; their handles live on the
 * loop given to init and are closed by *_close (or the daemon's exit walk);
 * *_close is safe on a zeroed struct and twice.
 * Held messages are heap copies owned by the writer.
 */
#ifndef UI_RINGIO_H
#define UI_RINGIO_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "ring.h"

#define UI_RING_BATCH 32
#define UI_RING_RETRY_MS 2
#define UI_RING_MAX_GATED 2

struct ui_ring_reader;

struct ui_ring_held;

struct ui_ring_writer {
	struct ui_ring *ring;
	int fd;                         /* the ring's doorbell eventfd */
	struct ui_ring_held *head, *tail;
	size_t held;
	uv_timer_t retry;
	struct ui_ring_reader *gated[UI_RING_MAX_GATED];
};

typedef void (*ui_ring_handler)(struct ui_ring_reader *r, struct ui_msg *m);

struct ui_ring_reader {
	struct ui_ring *ring;
	int fd;
	uv_poll_t poll;
	uv_idle_t resume;
	ui_ring_handler handle;
	void *data;
	struct ui_ring_writer *out;     /* gate: NULL or the writer we feed */
	bool stopped;
};

int ui_ring_reader_init(struct ui_ring_reader *r, uv_loop_t *loop, struct ui_ring *ring,
			int fd, ui_ring_handler handle, void *data);
/* No message is taken while w holds any (the full-ring rule). */
int ui_ring_reader_gate(struct ui_ring_reader *r, struct ui_ring_writer *w);
/* Polls the doorbell and serves what is already queued. */
int ui_ring_reader_start(struct ui_ring_reader *r);
/* Takes no more messages (they stay queued for the next consumer). */
void ui_ring_reader_stop(struct ui_ring_reader *r);
/* Asks for a pass soon (e.g. a gate opened); harmless when idle. */
void ui_ring_reader_kick(struct ui_ring_reader *r);
void ui_ring_reader_close(struct ui_ring_reader *r);

int ui_ring_writer_init(struct ui_ring_writer *w, uv_loop_t *loop, struct ui_ring *ring,
			int fd);
/* 0: sent or held; -ENOMEM: the ring is full and no copy could be made. */
int ui_ring_writer_send(struct ui_ring_writer *w, const struct ui_msg *m);
bool ui_ring_writer_busy(const struct ui_ring_writer *w);
/* Frees held messages (logged: they are lost with this process). */
void ui_ring_writer_close(struct ui_ring_writer *w);

/* NUL-terminates every string field (the ring is not trusted). */
void ui_msg_sanitize(struct ui_msg *m);

#endif
