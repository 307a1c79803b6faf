/*
 * driver.h — the VMM driver interface: what the engine (engine.c) asks of
 * a VMM, and what a driver reports back. The bottom layer of pool-worker:
 * a driver sees a VM only as the struct pw_vmm below (its row, the loop
 * and config, its own data, two report hooks) and includes nothing of the
 * engine; a driver file holds only its protocol (QMP, Firecracker HTTP) —
 * the VMM process itself (spawn, adopt, exit, kill, handle lifetime) is
 * the embedded struct pw_vmm_proc (vmm_proc.h). Adding a VMM = one more
 * drv_<name>.c and one line in pw_driver_find().
 *
 * Calls (engine → driver), all on the loop thread, none blocking:
 *   spawn   launch the VMM for v->row (ip/mac/tap, paths, boot_args set);
 *           asynchronous (the exec happens off the loop, vmm_proc.h): 0 =
 *           under way, then PW_VMM_SPAWNED (v->row->vmm_pid set) or
 *           PW_VMM_FAILED once; an error found at once is returned
 *           (-errno + err) and nothing follows. The engine records pid and
 *           start time on SPAWNED, then calls boot.
 *   boot    make the guest run (connect the API, configure, start) within
 *           cfg->boot_timeout_ms; reports PW_VMM_BOOTED or PW_VMM_FAILED
 *           exactly once unless the VMM exits first or release is called.
 *           On a warm slot: what warm did not do (QEMU: QMP `cont`;
 *           Firecracker: boot-source if not pre-applied, InstanceStart).
 *           On an adopted VMM: reconnect and report (QEMU: query-status,
 *           `cont` if still prelaunch; Firecracker: GET /, configure and
 *           start only if "Not started").
 *   stop    ask the guest to power off (ACPI button / Ctrl+Alt+Del);
 *           0 = request sent; -ENOTSUP = nothing to power off (the engine
 *           kills). Called again every second while stopping: harmless.
 *   kill    SIGKILL the VMM (pid-reuse safe); 0 also when already gone.
 *           -ESRCH when there is no process at all (never spawned/adopted):
 *           the engine then treats the VMM as exited.
 *   adopt   re-attach to a live VMM after a pool-worker restart: pidfd
 *           proven to be the process of v->row (start time), watch it.
 *           -ESRCH (sentence in err) if it is gone or not ours.
 *   release forget the VMM: close handles, free v->data. The process is left
 *           alone (SIGTERM leaves VMs running). No report after this.
 *   warm    (optional; NULL = the driver cannot warm, the pool keeps no
 *           slots) spawn the VMM for a slot and prepare it up to just
 *           before the guest starts: API answering, network and machine
 *           config applied, and — img != NULL — the image too. Spawns as
 *           spawn does (PW_VMM_SPAWNED with the pid, or FAILED), then
 *           reports PW_VMM_WARMED or PW_VMM_FAILED once. -ENOTSUP (nothing
 *           spawned): cannot warm without an image (QEMU).
 *   fits    (optional) pure: can this prepared slot run img with vcpus and
 *           mem_mib (the run's resolved shape)?
 *   pause   (pause = true) stop the running guest's vcpus, its memory kept
 *           (QEMU: QMP `stop`; Firecracker: PATCH /vm Paused); false:
 *           resume it (`cont`; PATCH /vm Resumed). Asynchronous: 0 = under
 *           way (sent once the API answers, for an adopted VMM), then
 *           PW_VMM_PAUSED / PW_VMM_RESUMED or PW_VMM_FAILED once. Idempotent
 *           (pausing a paused guest reports PAUSED). stop of a guest paused
 *           this way resumes it first (a paused guest cannot hear the
 *           button).
 *
 * Reports (driver → engine), through the hooks in struct pw_vmm:
 *   report(v, PW_VMM_SPAWNED|PW_VMM_BOOTED|PW_VMM_WARMED, 0, NULL) or
 *   report(v, PW_VMM_FAILED, -errno, "sentence");
 *   exited(v, &info) once when the VMM process is gone; after it no more
 *   reports. A report may release v: the driver touches nothing after it.
 *   No hook is called from inside a driver call (only from loop
 *   callbacks); a failed spawn, warm or adopt leaves v->data NULL.
 */
#ifndef PW_DRIVER_H
#define PW_DRIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "config.h"
#include "registry.h"

struct pw_vmm_priv;
struct pw_snap;

enum pw_vmm_report { PW_VMM_SPAWNED, PW_VMM_BOOTED, PW_VMM_WARMED, PW_VMM_FAILED,
		     PW_VMM_PAUSED, PW_VMM_RESUMED };

/* How a VMM process ended, as far as the driver could observe it. */
struct pw_exit_info {
	int64_t status;             /* exit code; -1 when unknown (adopted) */
	int signal;                 /* terminating signal or 0 */
	const char *guest_shutdown; /* QMP SHUTDOWN reason seen, or NULL */
};

/* What every driver may use; owned by pool-worker, outlives every VM. */
struct pw_vmm_env {
	uv_loop_t *loop;
	const struct ui_config *cfg;
	enum ui_accel accel;        /* resolved: KVM or TCG */
	int vmm_nice;               /* the priority VMMs run at (daemon.h) */
	int vmm_autogroup_nice;     /* their sessions' (PW_NO_AUTOGROUP: none) */
	const struct pw_cgroups *cgroups; /* a cgroup per VM (cgroup.h); NULL: none */
	const struct pw_vmm_priv *priv;   /* who VMMs run as (vmm_priv.h) */
	const struct pw_snap *snap;       /* pool.boot snapshot's template (snapshot.h) */
};

struct ui_vmm_driver;
struct pw_cgroups;
struct pw_vmm_priv;

/* A driver's view of one VM (embedded in the engine's struct pw_vm). */
struct pw_vmm {
	struct ui_vm *row;          /* the VM's row; the driver sets vmm_pid */
	const struct pw_vmm_env *env;
	const struct ui_vmm_driver *drv;
	void *data;                 /* driver-owned, NULL when none */
	void (*report)(struct pw_vmm *v, enum pw_vmm_report r, int status,
		       const char *err);
	void (*exited)(struct pw_vmm *v, const struct pw_exit_info *x);
};

struct ui_vmm_driver {
	const char *name; /* the registry's vms.driver */
	int (*spawn)(struct pw_vmm *v, char *err, size_t errlen);
	int (*boot)(struct pw_vmm *v);
	int (*stop)(struct pw_vmm *v);
	int (*kill)(struct pw_vmm *v);
	int (*adopt)(struct pw_vmm *v, char *err, size_t errlen);
	void (*release)(struct pw_vmm *v);
	int (*warm)(struct pw_vmm *v, const struct ui_image *img, char *err,
		    size_t errlen);
	bool (*fits)(const struct pw_vmm *slot, const struct ui_image *img,
		     unsigned vcpus, unsigned mem_mib);
	int (*pause)(struct pw_vmm *v, bool pause);
};

extern const struct ui_vmm_driver pw_drv_qemu;
extern const struct ui_vmm_driver pw_drv_firecracker;

/* NULL for an unknown name. */
const struct ui_vmm_driver *pw_driver_find(const char *name);

#endif
