/*
 * fc_agent.h — the host end of a restored Firecracker slot's agent line
 * (pool.boot: snapshot, snapshot.h): Firecracker's host-initiated vsock
 * protocol on the slot's own vsock UDS (docs/vsock.md upstream):
 *
 *   connect(uds) → "CONNECT <port>\n" → Firecracker answers "OK <host
 *   port>\n" once the guest accepted (or closes: nothing listens yet) →
 *   the agent line (pw_snap_agent_line: ends in "\n") → the guest answers
 *   "OK\n" and closes.
 *
 * Anything else — refused, closed, a wrong answer, no answer within
 * PW_FC_AGENT_TRY_MS — ends that attempt; the next one starts
 * PW_FC_AGENT_RETRY_MS later, until the guest's "OK\n" is read or the
 * owner stops it (its own deadline: the slot's warm-up's). The guest
 * takes one line per connection and answers each; a line it took twice is
 * the same line (idempotent), so a retry after a lost "OK" is harmless.
 *
 * Ownership: heap-allocated by pw_fc_agent_start; after its callback (once,
 * status 0) or pw_fc_agent_stop it frees itself once its handles have
 * closed (the line's copies are zeroed: it carries the guest's seed), so
 * the owner forgets it at once. Loop thread only; nothing blocks.
 */
#ifndef PW_FC_AGENT_H
#define PW_FC_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#define PW_FC_AGENT_RETRY_MS 250u
#define PW_FC_AGENT_TRY_MS 2000u

struct pw_fc_agent;

typedef void (*pw_fc_agent_cb)(void *arg);

/* Starts at once (the first attempt from the loop). -ENAMETOOLONG when uds
 * does not fit a sun_path, -ENOMEM, or a libuv error. */
int pw_fc_agent_start(uv_loop_t *loop, const char *uds, unsigned port, const char *line,
		      pw_fc_agent_cb done, void *arg, struct pw_fc_agent **out);
/* Ends it without its callback. NULL-safe. */
void pw_fc_agent_stop(struct pw_fc_agent *a);
/* Why the last attempt failed ("" none yet), for a deadline's sentence. */
const char *pw_fc_agent_last(const struct pw_fc_agent *a);
/* How many attempts were made. */
unsigned pw_fc_agent_tries(const struct pw_fc_agent *a);

/* ---- pure (tests/unit/test_snapshot_fc.c) ---- */

/* One reply line (without its "\n"): Firecracker's "OK <port>" (connect
 * true: a port of 1–10 digits) or the guest's "OK". 0 or -EPROTO. */
int pw_fc_agent_reply(const char *line, bool connect);
/* "CONNECT <port>\n" into out. -ENAMETOOLONG. */
int pw_fc_agent_connect_line(unsigned port, char *out, size_t len);

#endif
