/*
 * server.h — apid's HTTP server: listeners (TCP and unix socket), the set of
 * connections, and request dispatch to the routes and the backend.
 *
 * All dependencies come in as arguments (config, backend, limits), so tests
 * run the real server on a private loop with a fake backend (temp registry,
 * shm segment, eventfds). Everything runs on one libuv loop thread.
 *
 * Ownership: struct apid_server is caller-embedded and must stay put until
 * the loop has closed its handles after apid_server_close(); it borrows cfg
 * and the backend.
 */
#ifndef APID_SERVER_H
#define APID_SERVER_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "backend.h"
#include "config.h"
#include "token.h"

struct conn;
struct list_job;
struct events_hub;

struct apid_server_opts {
	size_t max_header_bytes;     /* → 431 */
	size_t max_body_bytes;       /* → 413 */
	unsigned request_timeout_ms; /* whole request, from its first byte → 408 */
	unsigned run_timeout_ms;     /* waiting for a ring reply → 504 */
	unsigned ready_timeout_ms;   /* and for a guest to be ready ("wait": "ready") */
	unsigned idle_timeout_ms;    /* keep-alive idle → silent close */
	unsigned linger_ms;          /* after a closing response, drain input */
	unsigned max_conns_tcp;      /* per listener; when full, the longest idle */
	unsigned max_conns_unix;     /*   connection is closed, else the new one */
	unsigned long long fd_ceiling; /* RLIMIT_NOFILE (logged with the limits) */
};

/* What a listener at its limit did since its last log line (rate-limited). */
struct apid_limit_log {
	uint64_t last_ms;            /* 0: never logged */
	unsigned reaped, refused;
};

struct apid_server {
	uv_loop_t *loop;
	const struct ui_config *cfg;
	struct backend *be;
	struct apid_server_opts opt;
	char token[UI_TOKEN_MAX + 1]; /* TCP's bearer token; "" = none needed */
	uv_tcp_t tcp;
	uv_pipe_t pipe;
	bool tcp_open, pipe_open;
	char unix_path[PATH_MAX];    /* unlinked on close */
	struct conn *conns;          /* list of open connections */
	unsigned n_conns[2];         /* open connections, [is_unix] */
	struct apid_limit_log limit_log[2]; /* [is_unix] */
	uint64_t accept_err_ms;      /* last accept error logged */
	bool stopping;
	uv_timer_t pool_watch;       /* answers requests orphaned by a pool-worker crash */
	uv_idle_t list_idle;         /* builds the pages of list_jobs, a slice a turn */
	struct list_job *list_jobs;  /* pages being built (server.c) */
	struct events_hub *events;   /* GET /events long-polls (events.c); NULL: none */
	struct apid_console *console; /* console followers (console.c) */
	uint64_t answered_from[2];   /* successful VM answers to ring requests:
				      * [0] read from the registry, [1] from
				      * the reply (UI_REPLY_VM) */
	char readbuf[65536];         /* shared: every read is consumed at once */
};

/* Limits from the config (limits.*); linger 2 s. */
void apid_server_opts_from_config(struct apid_server_opts *o, const struct ui_config *cfg);
/* Fits the connection limits under RLIMIT_NOFILE (raising the soft limit
 * towards the hard one as far as they need, keeping fds for everything
 * else) and logs the limits and the ceiling. */
void apid_server_fit_fds(struct apid_server_opts *o);

void apid_server_init(struct apid_server *s, uv_loop_t *loop, const struct ui_config *cfg,
		      const struct apid_server_opts *o, struct backend *be);

/* "127.0.0.1:6666" or "[::1]:6666"; port 0 picks one, returned in *port. */
int apid_server_listen_tcp(struct apid_server *s, const char *hostport, int *port);
/* Requests over TCP need this bearer token from now on (auth.h). */
void apid_server_set_token(struct apid_server *s, const char *token);
/* Unlinks a stale socket first; mode 0660 and group api.group (0600 root
 * without one). */
int apid_server_listen_unix(struct apid_server *s, const char *path);

/* Closes the listeners (unlinking the socket) and every connection. */
void apid_server_close(struct apid_server *s);

/* The backend's reply callback (arg = the server). */
void apid_server_on_reply(void *arg, const struct ui_msg *m);

#endif
