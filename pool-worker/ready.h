/*
 * ready.h — is the guest's app up? One probe per VM, from the moment it
 * runs until its image's ready rule holds (or a deadline passes):
 *
 *   port     a TCP connect to <guest ip>:<port> is accepted (from
 *            pool-worker's network namespace: the one the stack runs in).
 *            One attempt at a time, each given PW_READY_CONNECT_MS (a SYN
 *            to a guest whose network is not up yet is not answered), the
 *            next PW_READY_POLL_MS after one fails;
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

struct pw_ready;

struct pw_ready_rule {
	const char *ip;          /* the guest's address (port rule) */
	unsigned port;           /* 0: the console rule */
	const char *pattern;     /* the console rule's text */
	const char *console_log; /* its file */
	unsigned timeout_ms;     /* from the start */
};

typedef void (*pw_ready_cb)(void *arg, int status, const char *how);

/* Starts probing; -errno when it cannot (bad address, no memory). */
int pw_ready_start(uv_loop_t *loop, const struct pw_ready_rule *rule, pw_ready_cb cb,
		   void *arg, struct pw_ready **out);
/* Ends the probe: no callback after this. NULL-safe. */
void pw_ready_stop(struct pw_ready *r);

#endif
