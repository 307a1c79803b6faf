/*
 * routes.h — apid's routing and request validation, as pure functions:
 * given a parsed request (method, target, body, Idempotency-Key) and the
 * config, decide either an immediate response (errors) or the action to
 * perform. No I/O, so every rule is unit-testable without sockets.
 *
 * Routes:  POST /vm/run         RA_RUN        (body validated → run_params)
 *          POST /vm/{id}/stop   RA_STOP
 *          POST /vm/{id}/pause  RA_PAUSE;  POST /vm/{id}/resume  RA_RESUME
 *          GET  /vm[?state=S&limit=N&after=ID]   RA_LIST_VMS (one page)
 *          GET  /vm/{id}        RA_GET_VM
 *          GET  /healthz        RA_HEALTH
 *          GET  /pool           RA_POOL
 *          GET  /images         RA_IMAGES (images.c)
 *          GET  /events[?since=SEQ&wait=S&limit=N&vm=ID]  RA_EVENTS (events.h)
 *          GET  /metrics        RA_METRICS (metrics.h)
 *          GET  /vm/{id}/console[?bytes=N&follow=1]  RA_CONSOLE (console.h)
 * A known path with another method → 405 with Allow; anything else → 404.
 *
 * Ownership: struct route is caller-embedded; its resp body (RA_RESPOND) is
 * owned by it — release with http_response_free(&route->resp).
 */
#ifndef APID_ROUTES_H
#define APID_ROUTES_H

#include <stdbool.h>
#include <stdint.h>

#include "vmid.h"
#include "config.h"
#include "http.h"
#include <jansson.h>


enum route_action {
	RA_RESPOND,   /* answer with route->resp */
	RA_RUN,
	RA_STOP,
	RA_GET_VM,
	RA_LIST_VMS,
	RA_HEALTH,
	RA_POOL,
	RA_DELETE,
	RA_IMAGES,
	RA_EVENTS,
	RA_METRICS,
	RA_CONSOLE,   /* GET /vm/{id}/console (console.c) */
	RA_PAUSE,
	RA_RESUME,
};

#define ROUTE_LIST_DEFAULT 100 /* rows of a GET /vm page without ?limit= */
#define ROUTE_LIST_MAX 1000    /* ?limit= at most */

struct run_params {
	char image[64];
	char name[64];          /* "" = none */
	unsigned vcpus;         /* 0 = image default */
	unsigned mem_mib;       /* 0 = image default */
	char key[128];          /* Idempotency-Key or "" */
	bool wait_ready;        /* "wait": "ready": answer once the guest is ready */
	bool cmd_set;           /* "cmd" given: the run's argv (cmdargs.h rules) */
	struct ui_cmd cmd;
	char boot_args[256];    /* "boot_args" or "" */
};

struct route {
	enum route_action action;
	char vm_id[48];         /* RA_STOP, RA_GET_VM (an id or a name), RA_DELETE, RA_PAUSE, RA_RESUME */
	char state[16];         /* RA_LIST_VMS filter, "" = all */
	char after[48];         /* RA_LIST_VMS cursor: rows after this id, "" = first */
	unsigned limit;         /* RA_LIST_VMS rows at most, 1..ROUTE_LIST_MAX; RA_EVENTS */
	uint64_t since;         /* RA_EVENTS: events after this seq (vm_id: of that VM, "" = all) */
	unsigned wait_s;        /* RA_EVENTS: hold an empty answer this long */
	struct run_params run;  /* RA_RUN */
	unsigned console_bytes; /* RA_CONSOLE: the tail's size, 1..limits.console_bytes */
	bool console_follow;    /* RA_CONSOLE: stream new output (?follow=1) */
	struct http_response resp; /* RA_RESPOND */
};

/* Routes and validates req; always fills out (zeroing it first). */
void route_request(const struct http_req *req, const struct ui_config *cfg,
		   struct route *out);

/* Validates a POST /vm/run body into *out; on failure fills resp with the
 * error (400 bad_json/invalid_argument, 404 unknown_image) and returns
 * -EINVAL. */
int route_parse_run(const char *body, size_t len, const struct ui_config *cfg,
		    struct run_params *out, struct http_response *resp);



/* run_args.c: "cmd" and "boot_args" of a run body (types and the rules of
 * cmdargs.h), then checked against the image (allow_cmd, its kind). 0 or
 * -EINVAL with resp filled (400 invalid_argument). */
int route_run_cmd(json_t *v, struct run_params *out, struct http_response *resp);
int route_run_boot_args(json_t *v, struct run_params *out, struct http_response *resp);
int route_run_args_check(const struct ui_image *img, const struct run_params *run,
			 struct http_response *resp);

/* Printable-ASCII copy of untrusted s for messages, truncated with "...". */
void safe_echo(const char *s, char *buf, size_t len);

#endif
