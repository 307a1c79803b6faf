/*
 * fc_vmm.h — the fake VMM behind the API: the microVM's state (Not started /
 * Running / Paused), the configuration PUT so far, and the rules Firecracker
 * applies once a request has been validated against the contract:
 * which calls are pre-boot only / post-boot only, InstanceStart
 * preconditions, files that must open, SendCtrlAltDel → guest power-off.
 *
 * The fake never exits from here: it schedules an exit (exit_at_ms) that the
 * event loop in fc_main.c carries out.
 *
 * Snapshots are fc_snapshot.c, the vsock device's host side fc_vsock.c,
 * what runs in the guest (console lines, the agent stand-in) fc_guest.c.
 */
#ifndef FC_VMM_H
#define FC_VMM_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "fc_contract.h"
#include "fc_http.h"

enum fc_vm_state { FC_NOT_STARTED, FC_RUNNING, FC_PAUSED };

struct fc_vsock;

/* The "guest" (fc_guest.c): with FC_FAKE_GUEST_AGENT=1 and
 * uigniter.agent=vsock:N in boot_args it listens on vsock port N for one
 * agent line. Saved in and restored from a snapshot. */
struct fc_guest {
	int64_t agent_port; /* the port it listens on, -1 none */
	bool agent_waiting; /* listening: its agent line not yet applied */
};

struct fc_vmm {
	const char *id;      /* borrowed (argv) */
	const char *version; /* borrowed (contract info.version) */
	enum fc_vm_state state;
	json_t *machine;   /* owned: current machine config (defaults until PUT) */
	json_t *boot;      /* owned: boot-source body, NULL until PUT */
	json_t *drives;    /* owned: drive_id → body, in PUT order */
	json_t *ifaces;    /* owned: iface_id → body */
	json_t *pmem;      /* owned: id → body */
	json_t *resources; /* owned: vm/config key ("logger", "vsock", ...) → body */
	json_t *mmds;      /* owned: MMDS data store, NULL until PUT /mmds */
	bool boot_path;    /* a boot-specific resource was PUT: no snapshot load */
	struct fc_vsock *vsock; /* owned: the vsock device's host side, or NULL */
	struct fc_guest guest_os; /* what runs in the guest (fc_guest.c) */
	bool check_tap;           /* FC_FAKE_CHECK_TAP=1: host_dev_name must exist */
	bool ignore_ctrl_alt_del; /* FC_FAKE_IGNORE_CTRL_ALT_DEL=1 */
	int64_t exit_after_start_ms; /* FC_FAKE_EXIT_AFTER_START_MS, <0 off */
	int64_t exit_at_ms;          /* scheduled exit (monotonic ms), <0 none */
	int64_t alloc_mib;           /* FC_FAKE_ALLOC_MIB, <0 off */
	bool alloc_due;              /* InstanceStart done: grow once its reply is out */
	char *guest;                 /* owned: the memory grown (alloc_mib MiB) */
	int64_t console_every_ms;    /* FC_FAKE_CONSOLE_EVERY_MS, <0 off */
	int64_t console_flood;       /* FC_FAKE_CONSOLE_FLOOD bytes a tick, <0 off */
	int64_t console_next_ms;     /* the next console output (monotonic), <0 none */
	uint64_t console_seq;        /* lines written */
	int exit_status;
	const char *exit_reason;
};

/* One request that passed the contract checks (all borrowed). */
struct fc_call {
	const char *method; /* "GET", "PUT", "PATCH" */
	const char *tmpl;   /* contract path template */
	json_t *params;     /* path parameters */
	json_t *body;       /* validated body, or NULL */
};

/* Caller-embedded; reads the FC_FAKE_* behaviour switches from the env. */
void fc_vmm_init(struct fc_vmm *v, const char *id, const char *version);
void fc_vmm_free(struct fc_vmm *v);

/* Every rule of the phase table must name an operation of the contract. */
int fc_vmm_check_rules(const struct fc_contract *c, char *err, size_t errlen);

/* True if the operation is a partial update (PATCH /machine-config). */
bool fc_vmm_is_partial(const char *method, const char *tmpl);

/* Phase rules, then the operation's effect; fills rep. */
void fc_vmm_dispatch(struct fc_vmm *v, const struct fc_call *call, struct fc_reply *rep);

/* Schedules the process exit unless an earlier one is already scheduled. */
/* A "guest" that grows: allocates and touches alloc_mib MiB, as a real VMM
 * grows when its guest uses its memory (FC_FAKE_ALLOC_MIB; once). */
void fc_vmm_grow(struct fc_vmm *v);
/* A "guest" that talks on its serial console (our stdout) while running:
 * a numbered line every console_every_ms, or console_flood bytes of them.
 * fc_vmm_console_due: ms until the next output, -1 for none. */
void fc_vmm_console_tick(struct fc_vmm *v);
int64_t fc_vmm_console_due(const struct fc_vmm *v);
void fc_vmm_schedule_exit(struct fc_vmm *v, int64_t delay_ms, int status, const char *reason);
/* The microVM runs (InstanceStart, or a load): the "after start" switches
 * (FC_FAKE_EXIT_AFTER_START_MS, FC_FAKE_CONSOLE_EVERY_MS, FC_FAKE_ALLOC_MIB). */
void fc_vmm_started(struct fc_vmm *v);
const char *fc_vmm_state_name(enum fc_vm_state s);

/* ---- operation handlers (fc_vmm.c, fc_devices.c) ---- */
typedef void fc_op_fn(struct fc_vmm *v, const struct fc_call *call, struct fc_reply *rep);

fc_op_fn fc_op_put_boot_source, fc_op_put_drive, fc_op_patch_drive, fc_op_put_iface,
	fc_op_patch_iface, fc_op_put_machine, fc_op_patch_machine, fc_op_put_resource,
	fc_op_put_logger, fc_op_put_metrics, fc_op_put_mmds_config, fc_op_put_pmem,
	fc_op_get_mmds, fc_op_put_mmds, fc_op_patch_mmds, fc_op_get_balloon,
	fc_op_put_vsock, fc_op_snapshot_create, fc_op_snapshot_load;

/* Checks Firecracker makes while parsing a request (API thread), before the
 * phase rules: 0, or fills rep. */
typedef int fc_parse_fn(const struct fc_call *call, struct fc_reply *rep);
fc_parse_fn fc_parse_snapshot_load, fc_parse_put_vsock;
/* A deprecated field was used: logged, "Deprecation: true" on the answer; 0. */
int fc_deprecated(struct fc_reply *rep, const char *message);

/* The guest (fc_guest.c). */
void fc_guest_init(struct fc_guest *g);
/* InstanceStart: the banner and the agent's listener, or the ready text. */
void fc_guest_boot(struct fc_vmm *v);
/* True if a guest program accepts vsock connections on port now. */
bool fc_guest_listens(const struct fc_vmm *v, uint32_t port);
/* The agent line arrived on port (the host was answered OK): logged, the
 * guest applies it and says it is ready; it stops listening. */
void fc_guest_agent_line(struct fc_vmm *v, uint32_t port, const char *line);
json_t *fc_guest_save(const struct fc_guest *g);
void fc_guest_restore(struct fc_guest *g, json_t *saved);

/* Checks that a file opens (O_RDWR if writable, else O_RDONLY): 0 or -errno. */
int fc_check_file(const char *path, bool writable);
/* Checks the files the boot needs (kernel, initrd, drives); 0 or fills rep. */
int fc_vmm_check_boot_files(struct fc_vmm *v, struct fc_reply *rep);

#endif
