/*
 * server.h — netd's event loop: serves ring 2 (NET_ALLOC, NET_RELEASE from
 * pool-worker) and answers on ring 3, beats the heartbeat, stops on
 * SIGTERM/SIGINT.
 */
#ifndef NETD_SERVER_H
#define NETD_SERVER_H

#include <uv.h>

#include "leases.h"
#include "shm.h"

/* Marks netd ready and runs loop until SIGTERM/SIGINT; 0 on a clean stop,
 * negative errno if the loop could not be set up. The doorbells are the
 * inherited fds UI_DOORBELL_FD(UI_RING_POOL_TO_NET / UI_RING_NET_TO_POOL). */
int server_run(uv_loop_t *loop, struct ui_shm *shm, struct leases *ls);

#endif
