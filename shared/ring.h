/*
 * ring.h — single-producer/single-consumer ring of fixed-size messages in
 * shared memory, with an eventfd doorbell (liburing / ck_ring style).
 *
 * Layout: power-of-two capacity, free-running 32-bit head (written only by
 * the producer) and tail (written only by the consumer) on separate cache
 * lines. The producer fills slot[head & mask] then release-stores head+1; the
 * consumer acquire-loads head, copies the slot, then release-stores tail+1.
 * A producer killed mid-enqueue never published its slot, so the ring can
 * never be wedged by a crash of either side.
 *
 * Doorbell: the consumer sleeps on an eventfd. Before sleeping it sets
 * `consumer_waiting` and re-checks the ring (ui_ring_prepare_sleep); the
 * producer, after publishing, rings the eventfd only if consumer_waiting is
 * set (ui_ring_send). Both sides use seq_cst on that flag so a wakeup is never
 * lost (Dekker-style: store flag / load head vs store head / load flag).
 *
 * Messages carry a request id and the producer's generation; a consumer of
 * completions drops those whose generation is not its own (a reply to a
 * request of a previous incarnation of that process).
 */
#ifndef UI_RING_H
#define UI_RING_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define UI_RING_CAP 256u /* power of two */

enum ui_op {
	UI_OP_NONE = 0,
	UI_OP_RUN = 1,         /* apid → pool: vm_id, image, name, vcpus, mem_mib, key,
				* cmd, boot_args */
	UI_OP_STOP = 2,        /* apid → pool: vm_id */
	UI_OP_NET_KICK = 3,    /* pool → netd: leases changed (vm_id, ip, tap:
				* the lease that waits for its tap, or "") */
	UI_OP_TAP_READY = 4,   /* netd → pool: tap (ip) of a lease is made:
				* status 0, or -errno and error */
	UI_OP_REPLY = 5,       /* a completion: req_id, status, flags, fields */
	UI_OP_DELETE = 6,      /* apid → pool: vm_id (a stopped or failed VM's row) */
	UI_OP_PAUSE = 7,       /* apid → pool: vm_id (a running VM) */
	UI_OP_RESUME = 8,      /* apid → pool: vm_id (a paused VM) */
};

/* Reply flags. REPLAYED: a RUN whose Idempotency-Key named an earlier run
 * (status 0): vm_id is that run's VM, nothing new was made (HTTP 200). */
#define UI_REPLY_REPLAYED 0x1u
/* Reply flags. VM: the reply carries the VM's row as committed before the
 * reply was sent (vm_id, name, image, ip, tap, vcpus, mem_mib, error and
 * `vm`; ring_vm.h): apid answers from it without reading the registry. */
#define UI_REPLY_VM 0x2u
/* A RUN's flags: answer once the guest is ready (its image's ready rule),
 * not once it runs. */
#define UI_RUN_WAIT_READY 0x1u
/* A RUN's flags: cmd holds the run's argv (cmd_argc strings, NUL-separated,
 * cmd_len bytes; apid checked them: cmdargs.h) instead of the image's. */
#define UI_RUN_CMD 0x2u

/* A reply's copy of the VM's row, as committed (UI_REPLY_VM): the columns
 * GET /vm/{id} shows that have no field of their own in struct ui_msg
 * (id, name, image, ip, tap, vcpus, mem_mib and error use those). */
struct ui_msg_vm {
	char state[16];
	char mac[18];
	char driver[16];
	char created_at[32];
	char started_at[32];
	char stopped_at[32];
	char ready_at[32];
	int64_t vmm_pid;
	int64_t exit_status;
	char console_log[512];
};

/* One message; the same struct serves requests and completions. */
struct ui_msg {
	uint64_t req_id;       /* chosen by the requester, echoed in the reply */
	uint32_t gen;          /* requester's generation (see ui_daemon_status) */
	uint16_t op;           /* enum ui_op */
	uint16_t req_op;       /* in a reply: the op it answers */
	int32_t status;        /* reply: 0 or negative errno */
	uint32_t flags;        /* reply: UI_REPLY_*; RUN: UI_RUN_* */
	uint32_t vcpus;        /* RUN: 0 = image default */
	uint32_t mem_mib;      /* RUN: 0 = image default */
	char vm_id[48];
	char image[64];        /* RUN: configured image name */
	char name[64];         /* RUN: optional VM name */
	char key[128];         /* RUN: Idempotency-Key or "" */
	char ip[16];           /* NET_KICK, TAP_READY */
	char tap[16];          /* NET_KICK, TAP_READY */
	char error[160];       /* reply: message for the user when status != 0;
				* with UI_REPLY_VM: the VM's error column */
	union {
		struct {
			uint16_t cmd_len;    /* RUN with UI_RUN_CMD: bytes of cmd used */
			uint16_t cmd_argc;
			char cmd[512];       /* RUN: UI_CMD_MAX_BYTES (config.h) */
			char boot_args[256]; /* RUN: the run's extra kernel args or "" */
		};
		struct ui_msg_vm vm;         /* REPLY with UI_REPLY_VM (ring_vm.h) */
	};
};

struct ui_ring {
	alignas(64) _Atomic uint32_t head;   /* producer writes */
	alignas(64) _Atomic uint32_t tail;   /* consumer writes */
	alignas(64) _Atomic uint32_t consumer_waiting;
	uint32_t cap;                        /* UI_RING_CAP, checked on attach */
	alignas(64) struct ui_msg slot[UI_RING_CAP];
};

/* Resets an unused ring (creator only, before anyone attaches). */
void ui_ring_init(struct ui_ring *r);

/* Producer: copies m in; -EAGAIN when full. Does not ring the doorbell. */
int ui_ring_push(struct ui_ring *r, const struct ui_msg *m);
/* Producer: push, then ring the eventfd if the consumer is (about to be)
 * asleep. -EAGAIN when full. */
int ui_ring_send(struct ui_ring *r, int doorbell_fd, const struct ui_msg *m);

/* Consumer: copies the oldest message out; -EAGAIN when empty. */
int ui_ring_pop(struct ui_ring *r, struct ui_msg *out);
/* Consumer: announce sleep; returns true if the ring is empty and the caller
 * may sleep on the doorbell, false if messages arrived (keep consuming). */
bool ui_ring_prepare_sleep(struct ui_ring *r);
/* Consumer: clear the waiting flag after waking. */
void ui_ring_wake(struct ui_ring *r);
/* Consumer: drain the doorbell eventfd (non-blocking read). */
void ui_doorbell_drain(int doorbell_fd);
/* Consumer only: drop everything queued (a restarted consumer discards
 * replies addressed to its previous incarnation). */
void ui_ring_discard(struct ui_ring *r);

uint32_t ui_ring_count(struct ui_ring *r);

#endif
