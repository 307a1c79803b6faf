/*
 * vm.h — one VM under management (a user's VM or a warm slot): its state,
 * the registry row it mirrors, the state it last committed, the driver's
 * view of it, its one timer, and the requests waiting for it. The record
 * layer: it knows the registry and the drivers below it, nothing of the
 * state machine above it (fsm.h) or of the pool.
 *
 * Two states: `state` is where the VM is (the state machine's), `stored`
 * what the registry holds — equal after every committed transition, and
 * every write is guarded by `stored` (UPDATE … WHERE state = stored). They
 * differ when a write failed (the engine then fails the VM in memory and
 * retries the final write, engine.c) and in states the registry names
 * alike (SPAWNING is stored as creating). Events the registry could not
 * take for now wait in `held`, in order.
 *
 * Ownership: struct pw_vm is heap-allocated by pw_vm_new(), linked in the
 * list given to it, and freed by pw_vm_free() (which releases the driver's
 * data and closes the timer; the timer frees itself in its close callback,
 * so freeing never waits for the loop).
 */
#ifndef PW_VM_H
#define PW_VM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "driver.h"
#include "ready.h"
#include "registry.h"

/* The states (fsm.h has the table over them and their registry names). */
enum pw_state {
	PW_S_NEW,       /* in memory only: no row yet */
	PW_S_CREATING,  /* row + lease; its tap is being made */
	PW_S_PENDING,   /* a slot: row + lease; its tap is being made */
	PW_S_SPAWNING,  /* a run: its VMM being spawned (stored: creating) */
	PW_S_WARMING,   /* a slot: its VMM spawned, being prepared */
	PW_S_WARM,      /* a slot: prepared, idle, ready to be taken */
	PW_S_STARTING,  /* VMM spawned (or slot taken); guest being started */
	PW_S_RUNNING,
	PW_S_PAUSING,   /* asked to pause; the VMM's pause under way */
	PW_S_PAUSED,    /* its vcpus stopped; memory kept (pause.c) */
	PW_S_RESUMING,  /* asked to resume; the VMM's resume under way */
	PW_S_STOPPING,  /* asked to power off; SIGKILL at the deadline */
	PW_S_FAILING,   /* failed; its VMM is being killed */
	PW_S_RETIRING,  /* a slot being discarded; its VMM is being killed */
	PW_S_STOPPED,   /* final */
	PW_S_FAILED,    /* final */
	PW_S_GONE,      /* a slot whose row is deleted (final, in memory) */
	PW_S_COUNT
};

/* Where a VM came from (it never changes once a run owns the VM). */
enum pw_origin { PW_ORIGIN_COLD, PW_ORIGIN_SLOT };

/* A request waiting for a VM's completion. */
struct pw_waiter {
	struct pw_waiter *next;
	uint64_t req_id;
	uint32_t gen;
	uint16_t op;
	bool want_ready;               /* a RUN with "wait": "ready" */
};

/* An event that waits for the registry (engine.c: held while the registry
 * is locked by another process or its disk is full), with copies of its
 * cause's strings. */
struct pw_held {
	struct pw_held *next;
	int ev;                        /* enum pw_event (fsm.h, above this layer) */
	int status;
	bool has_detail, has_error;
	char detail[128];
	char error[512];
};

struct pw_vm {
	struct pw_vm *next, *prev;     /* the engine's list */
	struct pw_vmm vmm;             /* the driver's view: row, env, data */
	struct ui_vm row;
	enum pw_state state;
	enum pw_state stored;          /* last state committed to the registry */
	enum pw_origin origin;
	int fail_status;               /* the failure's -errno (FAILING/FAILED) */
	uv_timer_t *timer;             /* NULL or the state's timer */
	uint64_t deadline_ms;          /* ui_now_ms() of the state's deadline */
	struct pw_waiter *run_waiters;
	struct pw_waiter *stop_waiters;
	struct pw_waiter *pause_waiters; /* PAUSE and RESUME requests */
	struct pw_waiter *replay_waiters; /* replayed RUNs waiting for it to settle */
	struct pw_held *held;          /* events waiting for the registry, oldest first */
	struct pw_ready *ready;        /* its ready probe while running (ready.h) */
	bool ready_given_up;           /* the probe's deadline passed */
	bool has_cmd;                  /* run_cmd replaces the image's cmd */
	struct ui_cmd run_cmd;         /* the run's argv (a RUN's cmd) */
	char run_args[256];            /* the run's extra kernel args or "" */
	struct {                       /* pw_metrics.c: the start's clock (µs) */
		uint64_t run_us;       /* the request (0: not a start we saw) */
		uint64_t phase_us;     /* the current state entered */
		bool ready_seen, early_fail;
	} clk;
	struct {                       /* pool_mem.c: its VMM's VmRSS, last read */
		uint64_t kib;
		uint64_t at_us;        /* ui_now_us() of the read (0: none) */
	} rss;
	uint64_t img_stamp;            /* a slot: its image files' identity (pool_image.c) */
	bool img_stamped;
	void *owner;                   /* the engine */
};

/* A new VM in state NEW, linked at the head of *list. NULL: no memory. */
struct pw_vm *pw_vm_new(struct pw_vm **list, const struct pw_vmm_env *env,
			const char *id, void *owner);
/* Unlinks from *list, releases the driver's data and the timer. NULL-safe. */
void pw_vm_free(struct pw_vm **list, struct pw_vm *vm);
struct pw_vm *pw_vm_find(struct pw_vm *list, const char *id);

static inline struct pw_vm *pw_vm_of(struct pw_vmm *v)
{
	return (struct pw_vm *)((char *)v - offsetof(struct pw_vm, vmm));
}

int pw_waiter_add(struct pw_waiter **list, uint64_t req_id, uint32_t gen, uint16_t op);
/* Pops the oldest waiter of *list (NULL when empty); the caller frees it. */
struct pw_waiter *pw_waiter_pop(struct pw_waiter **list);

/* Starts (replacing) the VM's timer: cb after ms, then every `repeat` ms
 * (0: once). pw_vm_timer_stop cancels it. */
int pw_vm_timer_start(struct pw_vm *vm, uv_loop_t *loop, unsigned ms, unsigned repeat,
		      uv_timer_cb cb);
void pw_vm_timer_stop(struct pw_vm *vm);

/* The last non-empty line of a text file (e.g. a VMM's stderr in the
 * console log), at most len-1 bytes; "" if none. */
void pw_file_last_line(const char *path, char *buf, size_t len);

/* <state_dir>/vms/<id>.console.log and <run_dir>/vms/<id>.qmp.
 * -ENAMETOOLONG if the socket path does not fit a sockaddr_un. */
int pw_vm_paths(const struct ui_config *cfg, struct ui_vm *row);

#endif
