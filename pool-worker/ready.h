/*
 * ready.h — is the guest's app up? One probe per VM, from the moment it
 * runs until its image's ready rule holds (or a deadline passes):
 *
 *   port     a TCP connect to <guest ip>:<port> is accepted (from
 *            pool-worker's network namespace: the one the stack runs in).
 *            One attempt at a time, each given PW_READY_CONNECT_MS (a SYN
 *            to a guest whose network is not up yet is not answered), the
 *            next PW_READY_POLL_MS after one fails;
 *   http     the port rule, then on the accepted connection an HTTP/1.0
 *            GET of the path must answer a 2xx or 3xx status line within
 *            PW_READY_HTTP_MS of the connect (else closed, and tried again
 *            after PW_READY_POLL_MS). Besides telling that the app serves,
 *            it runs the app's request path once before a slot booted
 *            ahead is paused: the first request of a fresh guest costs
 *            what running code the first time costs (under TCG: its
 *            translation, ~50 ms), and then the run's first request does
 *            not pay it (docs/BENCHMARKS.md part 7);
 *   pattern  a line of the console log (the VMM's stdout and stderr, the
 *            guest's serial console) holds the pattern: the log is read
 *            from its start every PW_READY_POLL_MS, new bytes only, the
 *            pattern found across reads.
 *
 * The callback runs once: status 0 (ready; how says which rule held) or
 * -ETIMEDOUT (the deadline passed). pw_ready_stop() ends a probe without
 * its callback; the probe then frees itself once its handles have closed,
 * so the caller may forget it at once.
 *
 * Ownership: heap-allocated by pw_ready_start, freed by itself (after its
 * callback, or after pw_ready_stop). Below the engine, beside the drivers:
 * it knows the guest's address and console, nothing of states.
 */
#ifndef PW_READY_H
#define PW_READY_H

#include <uv.h>

#define PW_READY_POLL_MS 50u
#define PW_READY_CONNECT_MS 250u
#define PW_READY_HTTP_MS 2000u

struct pw_ready;

struct pw_ready_rule {
	const char *ip;          /* the guest's address (port rule) */
	unsigned port;           /* 0: the console rule */
	const char *pattern;     /* the console rule's text */
	const char *console_log; /* its file */
	unsigned timeout_ms;     /* from the start */
	const char *http_path;   /* the http rule's path ("/…"), or NULL/"": none */
};

typedef void (*pw_ready_cb)(void *arg, int status, const char *how);

/* Starts probing; -errno when it cannot (bad address, no memory). */
int pw_ready_start(uv_loop_t *loop, const struct pw_ready_rule *rule, pw_ready_cb cb,
		   void *arg, struct pw_ready **out);
/* Ends the probe: no callback after this. NULL-safe. */
void pw_ready_stop(struct pw_ready *r);

#endif
