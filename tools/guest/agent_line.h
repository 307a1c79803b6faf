/*
 * agent_line.h — the line protocol of the guest's snapshot agent
 * (uigniter-agent, agent.c), on any connected stream fd: AF_VSOCK in the
 * guest, AF_UNIX or a socketpair in tests/unit/test_vsock_agent.c. No
 * vsock here: agent.c opens the sockets.
 *
 * The host (after a restore: docs/ARCHITECTURE.md "Snapshot-started
 * slots") connects and writes one line of words ending in '\n', at most
 * UI_AGENT_LINE_MAX bytes with it; the guest answers UI_AGENT_OK and
 * closes. A connection that closes before a full line, sends a longer one,
 * an empty one or a NUL byte, or sends nothing for the timeout is dropped
 * without an answer, and the next one is taken: the host retries with a
 * new connection until it reads the answer. Bytes after the first '\n' are
 * ignored (and wiped).
 *
 * Pure of state: the caller owns every buffer and fd. A line may hold the
 * seed (uigniter.seed=): a buffer that held a refused line is wiped.
 */
#ifndef UI_AGENT_LINE_H
#define UI_AGENT_LINE_H

#include <stddef.h>

#define UI_AGENT_LINE_MAX 4096 /* bytes of a line, its '\n' included */
#define UI_AGENT_OK "OK\n"     /* the guest's answer: the line was taken */

/* Reads one line from fd into buf[cap] (cap >= 2), its '\n' replaced by a
 * NUL, within timeout_ms in all (< 0: no limit). Returns its length (> 0),
 * or -EMSGSIZE (no '\n' in the first cap bytes), -ENODATA (closed before a
 * full line), -EBADMSG (an empty line or a NUL byte), -ETIMEDOUT, -EINVAL
 * (cap < 2), or the -errno of a failed read or poll (-ECONNRESET...);
 * then all of buf is zeroed. */
int ui_agent_read_line(int fd, char *buf, size_t cap, int timeout_ms);

/* One accepted connection: ui_agent_read_line, then UI_AGENT_OK written in
 * full. Returns the line's length, or a negative errno (a line whose
 * answer could not be written is not taken: the host will send it again).
 * Does not close fd. */
int ui_agent_serve(int fd, char *buf, size_t cap, int timeout_ms);

/* Accepts connections on the listening socket lfd and serves each
 * (timeout_ms each) until one gives a line: its length. A dropped
 * connection is closed and said on stderr ("<prog>: dropped a connection:
 * <why>"). Returns -errno only when accept itself fails (not for
 * ECONNABORTED or EINTR, which are retried). */
int ui_agent_accept_line(int lfd, char *buf, size_t cap, int timeout_ms, const char *prog);

/* The host's side, for tests and `uigniter-agent send`: writes line and a
 * '\n' to fd, then reads the one-line answer into answer[cap] (as
 * ui_agent_read_line). Returns its length, or a negative errno (-EINVAL: a
 * line holding '\n'; -ENODATA: closed without an answer). Any length is
 * sent, so a test can send a line the guest must refuse. */
int ui_agent_send(int fd, const char *line, char *answer, size_t cap, int timeout_ms);

/* A short text for the negative errnos above ("line longer than 4095
 * bytes", "closed before a full line"...), else strerror's. */
/* n bytes of s to fd, through EINTR and short writes: 0 or -errno. */
int ui_agent_write_all(int fd, const char *s, size_t n);
const char *ui_agent_strerror(int err);

#endif
