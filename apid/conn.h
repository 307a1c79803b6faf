/*
 * conn.h — one client connection (internal to apid: server.c and conn.c).
 *
 * Phases and what the single timer means in each:
 *   IDLE     between requests            idle_timeout → close silently
 *   READING  part of a request received  request_timeout → 408, close
 *   BUSY     request complete, waiting   run_timeout → 504 (ring reply)
 *            for a ring reply
 *   CLOSING  final response queued,      linger → close
 *            write side shut down
 *   CLOSED   uv_close called; freed when both handles are closed
 * Invariant: requests are answered strictly in order — while BUSY (or while
 * too much output is unsent) nothing more is parsed; bytes that arrive are
 * held and reading stops until the answer is queued.
 */
#ifndef APID_CONN_H
#define APID_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "http.h"
#include "server.h"

enum conn_phase { CONN_IDLE, CONN_READING, CONN_BUSY, CONN_CLOSING, CONN_CLOSED };

struct conn {
	union {
		uv_handle_t h;
		uv_stream_t s;
		uv_tcp_t tcp;
		uv_pipe_t pipe;
	} io;
	uv_timer_t timer;
	uv_shutdown_t shutdown;
	struct apid_server *srv;
	struct conn *prev, *next;    /* srv->conns */
	struct http_in in;
	enum conn_phase phase;
	int open_handles;
	bool reading;                /* uv_read_start is active */
	bool write_blocked;          /* unsent output above the high mark */
	bool peer_eof;               /* client shut its write side */
	bool is_unix;                /* accepted on the unix socket (its own limit) */
	uint64_t idle_since;         /* ms: entered IDLE (the reaping order) */
	bool keep_alive, http10, head; /* of the request being answered */
	char *held;                  /* received, not yet parsed (pipelining) */
	size_t held_len;
	uint64_t req_id;             /* awaited ring reply; 0 = none */
	struct list_job *list;       /* page being built for this request (server.c) */
	struct ev_wait *ev;          /* GET /events long-poll waiting (events.c) */
	struct console_follower *follow; /* GET /vm/{id}/console?follow=1 (console.c) */
	int req_op;                  /* UI_OP_RUN or UI_OP_STOP */
	uint32_t pool_gen;           /* pool-worker generation when sent */
	uint64_t t_start;            /* ms: first byte of the current request */
	char log_method[16];
	char log_path[96];
};

/* Accepts one pending connection on listener (a TCP or pipe server). */
void conn_accept(struct apid_server *s, uv_stream_t *listener, bool is_unix);
/* Sends r (its body is consumed) and logs the request line. */
void conn_respond(struct conn *c, struct http_response *r);
/* A streamed answer (console.c): conn_send queues bytes (buf owned, freed
 * after the write); conn_send_blocked says the client is slow (unsent
 * output above the high mark); conn_stream_end logs the request with
 * status and goes on like conn_respond (keep-alive or close). */
int conn_send(struct conn *c, char *buf, size_t len);
bool conn_send_blocked(const struct conn *c);
void conn_stream_end(struct conn *c, int status, bool keep);
/* Whether the answer being sent may keep the connection (conn_respond's rule). */
bool conn_may_keep(const struct conn *c);

/* Leaves the request pending on ring reply req_id, with the run timer. */
void conn_wait(struct conn *c, uint64_t req_id, int op, unsigned timeout_ms);
/* Continues with held input after an asynchronous answer. */
void conn_resume(struct conn *c);
void conn_close(struct conn *c);

/* server.c: handles one complete request (answers or leaves it BUSY). */
void server_dispatch(struct conn *c, const struct http_req *req);
/* server.c: drops the page being built for c (c is closing). */
void server_list_cancel(struct conn *c);

#endif
