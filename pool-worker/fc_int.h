/*
 * fc_int.h — what drv_firecracker.c shares with fc_restore.c (the
 * Firecracker side of pool.boot: snapshot): the per-VM struct and the
 * batch's entry points. Not for anything outside the driver.
 *
 * Snapshot steps (fc_restore.c), in a batch's order:
 *   VSOCK    a template: PUT /vsock {guest_cid 3, uds_path} before START
 *   CREATE   a template: PUT /snapshot/create after PAUSE
 *   LOAD     a restored slot: PUT /snapshot/load (the template's files
 *            linked into its own directory or chroot), the only request
 *            before the agent line, the ready rule and PAUSE
 */
#ifndef PW_FC_INT_H
#define PW_FC_INT_H

#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <sys/un.h>

#include "driver.h"
#include "fc_client.h"
#include "vmm_proc.h"

struct pw_fc_agent;
struct pw_ready;

/* The API socket is probed every 1 ms at first (Firecracker listens a few
 * ms after exec; a run waits on this), then every 2, then 5 ms. */
#define FC_PROBE_FAST 8
#define FC_PROBE_MS(n) ((n) < FC_PROBE_FAST ? 1 : (n) < 2 * FC_PROBE_FAST ? 2 : 5)
#define FC_REQ_TIMEOUT_MS 10000u
#define FC_STOP_REQ_TIMEOUT_MS 2000u

enum fc_timer { T_PROBE, T_DEADLINE }; /* index into proc.timer[] */
enum fc_mode { FC_IDLE, FC_WARMING, FC_BOOTING };

enum fc_step {
	FC_STEP_MACHINE = 1 << 0,
	FC_STEP_NET = 1 << 1,
	FC_STEP_IMAGE = 1 << 2,
	FC_STEP_START = 1 << 3,
	FC_STEPS_ALL = 0xf,
	FC_STEP_PAUSE = 1 << 4,
	FC_STEP_RESUME = 1 << 5,
	FC_STEP_VSOCK = 1 << 6,
	FC_STEP_CREATE = 1 << 7,
	FC_STEP_LOAD = 1 << 8,
};

#define FC_SUN_MAX sizeof(((struct sockaddr_un *)0)->sun_path)

struct fc_vm {
	struct pw_vmm *v;              /* NULL once released */
	struct pw_vmm_proc proc;       /* frees this struct (fc_freed) */
	struct fc_queue *api;
	bool api_up, adopted;
	bool guest_started;            /* InstanceStart done (or assumed) */
	bool stop_in_flight;
	int user_op;                   /* pause/resume in flight: 1, 0; -1 none */
	bool user_paused;              /* paused by pause (not a warm slot) */
	enum fc_mode mode;
	unsigned steps;                /* the batch to run once the API is up */
	unsigned probes;               /* API probes of this batch so far */
	unsigned warm_steps;           /* a slot: the warm-up once spawned */
	unsigned pending;              /* its requests not answered yet */
	unsigned timeout_ms;
	/* a warm slot: what was applied (see fits) */
	bool warm, image_applied;
	unsigned vcpus, mem_mib;
	/* booted ahead: the slot's guest runs until ready, then is paused */
	bool ahead, pausing;
	struct pw_ready *ready;        /* its ready probe while warming */
	const struct ui_image *img;    /* the warm image (the config's) */
	bool jailed;                   /* through vmm.jailer (fc_jail.h) */
	char root[PATH_MAX];           /* jailed: the chroot on the host */
	/* pool.boot: snapshot (fc_restore.c) */
	bool tmpl;                     /* the template: vsock, banner, create */
	bool restore;                  /* a slot restored from the template */
	struct pw_fc_agent *agent;     /* restore: the agent line being sent */
	char vsock_host[FC_SUN_MAX];   /* its vsock UDS on the host */
	char vsock_vmm[FC_SUN_MAX];    /* … as the VMM names it (jailed: inside) */
	char snap_state[PATH_MAX];     /* the files as the VMM names them */
	char snap_mem[PATH_MAX];
	char snap_state_host[PATH_MAX + 176]; /* … and on the host */
	char snap_mem_host[PATH_MAX + 176];
	char snap_err[PATH_MAX + 128];  /* why a snapshot step was not queued */
};

/* drv_firecracker.c */
int pw_fc_launch(struct pw_vmm *v, unsigned warm_steps, char *err, size_t errlen);
int pw_fc_put_json(struct fc_vm *q, const char *path, json_t *j);
void pw_fc_batch_done(struct fc_vm *q, int status, const char *err);
void pw_fc_ahead_started(struct fc_vm *q);

/* fc_restore.c */
/* The vsock UDS paths of q (its own directory, or its chroot's /run). */
int pw_fc_vsock_paths(struct fc_vm *q, char *err, size_t errlen);
/* Queues the snapshot steps of steps (VSOCK, CREATE, LOAD): 0 or -errno
 * (a sentence logged). */
int pw_fc_queue_snap(struct fc_vm *q, unsigned steps);
/* A restored slot's LOAD answered: the agent line, then (its OK)
 * pw_fc_ahead_started. */
void pw_fc_restored(struct fc_vm *q);
/* The deadline passed: what the snapshot steps were waiting for ("" none). */
const char *pw_fc_snap_waiting(const struct fc_vm *q);
/* Ends the agent (batch end, exit, release). */
void pw_fc_snap_stop(struct fc_vm *q);

#endif
