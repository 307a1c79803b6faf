/*
 * backend.h — everything apid knows about the rest of the system: the
 * registry (read-only connection), the shm status and pool tables, and the
 * ring pair to pool-worker (ring 0 requests out, ring 1 replies in).
 *
 * Replies: a ring reader (ringio.h) on ring 1; replies whose gen is not
 * ours (a previous apid's) or that are not UI_OP_REPLY are dropped; the
 * rest go to the on_reply callback, which matches req_id.
 *
 * Ownership: struct backend is caller-embedded; it borrows cfg, reg and shm
 * (the caller keeps them alive until backend_close's poll handle closed).
 */
#ifndef APID_BACKEND_H
#define APID_BACKEND_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include <uv.h>

#include "config.h"
#include "http.h"
#include "registry.h"
#include "ring.h"
#include "ringio.h"
#include "shm.h"

typedef void (*backend_reply_cb)(void *arg, const struct ui_msg *m);

struct backend {
	const struct ui_config *cfg;
	struct ui_registry *reg;
	struct ui_shm *shm;
	int req_doorbell;        /* ring 0's eventfd: we produce */
	uint32_t gen;            /* our generation, stamped on every request */
	uint64_t next_req_id;
	struct ui_ring_reader replies; /* ring 1 */
	backend_reply_cb on_reply;
	void *arg;
};

struct backend_deps {
	const struct ui_config *cfg;
	struct ui_registry *reg;
	struct ui_shm *shm;
	int req_doorbell;
	int reply_doorbell;
};

/* Records our generation, discards stale replies on ring 1 and starts
 * consuming it. */
int backend_init(struct backend *b, uv_loop_t *loop, const struct backend_deps *d,
		 backend_reply_cb on_reply, void *arg);
void backend_close(struct backend *b);

/* pool-worker is up and has said it is ready. */
bool backend_pool_ready(const struct backend *b);
/* pool-worker's generation (bumped by uigniterd on every spawn). */
uint32_t backend_pool_generation(const struct backend *b);

/* Stamps m with a new req_id and our gen and sends it on ring 0.
 * -EAGAIN when the ring is full. */
int backend_send(struct backend *b, struct ui_msg *m);

/* Registry reads, straight to a response. Warm slots (state `warm`) are
 * hidden: read/get answer -ENOENT/404, the unfiltered list skips them. */
int backend_read_vm(struct backend *b, const char *id, struct ui_vm *vm);
void backend_get_vm(struct backend *b, const char *id, int ok_status,
		    struct http_response *r);
/* Appends up to limit rows after `after` ("" = from the first) in state
 * ("" = every state but the slot states) to arr as VM JSON; *more: rows
 * follow the last one appended. */
int backend_list_slice(struct backend *b, const char *state, const char *after,
		       unsigned limit, json_t *arr, bool *more);
/* The answer of a page: {"vms": arr (consumed), "next": the last id when
 * more, else null}; an error rc (< 0) becomes a 500. */
void backend_list_answer(int rc, json_t *arr, bool more, struct http_response *r);
void backend_health(struct backend *b, struct http_response *r);
void backend_pool(struct backend *b, struct http_response *r);

/* Response for a reply with status != 0 (errno → HTTP per ARCHITECTURE.md). */
void backend_reply_error(const struct ui_msg *m, struct http_response *r);



#endif
