/*
 * fc_vsock.h — the host side of the fake's vsock device, as Firecracker's
 * unix-socket backend (src/vmm/src/devices/virtio/vsock/unix/muxer.rs):
 *
 *  - the uds is bound and listened on when the device is created (PUT
 *    /vsock, or a snapshot load), at the path as given (relative to the
 *    cwd); an existing path fails the bind (EADDRINUSE). Host connections
 *    are accepted once the microVM has started (or was loaded);
 *  - a host connection first sends `CONNECT <port>\n`: at least 10 bytes
 *    at once, then up to the '\n' (at most 32 bytes; what follows stays for
 *    the guest); the word case-insensitive, the port a u32. Malformed →
 *    closed. A valid one gets the next host-side port (from 2^30 up);
 *  - the guest answers while it runs: if a guest program listens on the
 *    port (fc_guest_listens), the host reads `OK <host port>\n` and the
 *    connection is the guest's; if not, it is closed (the guest's RST).
 *    While Paused the request waits, at most 2000 ms
 *    (CONN_REQUEST_TIMEOUT_MS), then it is closed;
 *  - the socket file is never removed on exit (Firecracker leaves it); a
 *    second PUT /vsock removes the old one first.
 * Every CONNECT outcome is a call-log line
 * {"event":"vsock","port":N,"host_port":M|null,"result":...}.
 */
#ifndef FC_VSOCK_H
#define FC_VSOCK_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

#include "fc_vmm.h"

#define FC_VSOCK_MAX_CONNS 64
#define FC_VSOCK_LINE_MAX 4096 /* an agent line with its '\n' (agent_line.h) */

/* Binds and listens on uds_path: 0 and *out (returned-new), or -errno. */
int fc_vsock_open(struct fc_vsock **out, const char *uds_path);
/* Closes everything; the socket file stays. Accepts NULL. */
void fc_vsock_free(struct fc_vsock *vs);
const char *fc_vsock_path(const struct fc_vsock *vs);

/* The fds to poll now, into p (at most max); how many. */
size_t fc_vsock_pollfds(struct fc_vmm *v, struct pollfd *p, size_t max);
/* Serves what poll reported for the fds fc_vsock_pollfds gave. */
void fc_vsock_on_poll(struct fc_vmm *v, const struct pollfd *p, size_t n);
/* Answers requests the guest can now answer, drops timed-out ones. */
void fc_vsock_tick(struct fc_vmm *v);
/* Accounts the guest time the agent's connection used: before the VM's
 * state changes (PATCH /vm), and at each tick. */
void fc_vsock_clock(struct fc_vmm *v);
/* ms until fc_vsock_tick has something to do, -1 for never. */
int64_t fc_vsock_due(const struct fc_vmm *v);

/* "Error binding to the host-side Unix socket: <why>" for -errno r. */
const char *fc_vsock_bind_error(int r, char *buf, size_t n);

#endif
