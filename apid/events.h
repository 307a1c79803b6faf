/*
 * events.h — GET /events: the registry's event log by cursor, and the
 * long-poll that holds an empty answer until an event commits.
 *
 *   GET /events?since=SEQ&wait=S&limit=N&vm=ID
 *   → 200 {"events":[{"seq","time","vm","kind","detail"}…],"next":SEQ}
 * since: events with seq > SEQ (default 0: from the oldest kept); limit
 * 1..EVENTS_LIMIT_MAX (default EVENTS_LIMIT_DEFAULT); vm: one VM's only
 * (its id); wait 0..EVENTS_WAIT_MAX seconds (default 0): when nothing
 * follows SEQ, the request is held until something does or the wait ends
 * (then "events": [] and "next": SEQ). `next` is the seq of the last event
 * given (or SEQ): the since of the next call. Anything else → 400.
 *
 * Waking (events.c): pool-worker's registry connection bumps
 * metrics.reg[pool-worker].event_commits in shm after each commit that
 * added events (shared/registry.c). While requests wait, one timer every
 * EVENTS_TICK_MS reads those counters (an atomic load each: no syscall, no
 * query); when they moved, one registry query — from the oldest cursor of
 * all waiting requests — serves them all. No request waits: no timer.
 */
#ifndef APID_EVENTS_H
#define APID_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "http.h"
#include "routes.h"

#define EVENTS_LIMIT_DEFAULT 100
#define EVENTS_LIMIT_MAX 1000
#define EVENTS_WAIT_MAX 60
#define EVENTS_TICK_MS 25

struct conn;
struct apid_server;

/* routes.c: the query of GET /events (q may be NULL) into out's since,
 * wait_s, limit and vm_id; on a bad one fills out->resp (400) and returns
 * -EINVAL. Pure. */
int events_parse_query(const char *q, size_t n, struct route *out);

/* The waiting requests of a server (server.c owns one: init after the
 * loop, close with the server). -ENOMEM. */
int events_hub_init(struct apid_server *s);
void events_hub_close(struct apid_server *s);

/* Long-polls waiting now, and the registry reads made for them since
 * apid started (one per change, whatever the number waiting). */
void events_hub_stats(const struct apid_server *s, unsigned *waiting, uint64_t *queries);

/* Answers rt (RA_EVENTS) into r, or leaves c waiting: 0. */
int events_dispatch(struct conn *c, const struct route *rt, struct http_response *r);
/* c is closing: forget its wait. */
void events_cancel(struct conn *c);

#endif
