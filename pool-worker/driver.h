/*
 * driver.h — the VMM driver interface: what the lifecycle engine
 * (lifecycle.c) asks of a VMM, and what a VMM driver reports back.
 *
 * A driver owns, per VM, the VMM process watch (uv_process_t for a child it
 * spawned, pidfd for one it adopted), the API connection (QMP for QEMU,
 * HTTP over a unix socket for Firecracker) and its timers, all in
 * vm->drv_data. The engine owns the registry row (vm->row) and decides;
 * the driver acts and reports. Adding a VMM = one more drv_<name>.c file and
 * one line in pw_driver_find().
 *
 * Calls (engine → driver), all from the loop thread, none blocking:
 *   spawn   launch the VMM for vm->row (ip/mac/tap, paths, boot_args set);
 *           synchronous; sets vm->row.vmm_pid. The engine then records pid
 *           and start time in the registry before calling boot.
 *   boot    make the guest run (connect the API, configure, start) within
 *           cfg->boot_timeout_ms; reports exactly once via pw_vm_booted()
 *           unless the VMM exits first or release is called.
 *   stop    ask the guest to power off (ACPI power button); 0 = request sent.
 *   kill    SIGKILL the VMM (pid-reuse safe).
 *   adopt   re-attach to a live VMM after a pool-worker restart: open a
 *           pidfd, check it is still the process of vm->row (start time),
 *           watch it, connect the API. -ESRCH if it is gone or not ours.
 *   release forget the VMM: close handles and free drv_data. The process is
 *           left alone (SIGTERM leaves VMs running). No callback after this.
 *
 * Warm slots (the pool, pool.c). A warm slot is a pw_vm whose row is in
 * state `warm`: id, ip/mac/tap (its own NET_ALLOC), driver, api_socket and
 * console_log are set; if the pool has a warm image, also image, kernel,
 * initrd, rootfs, vcpus, mem_mib and boot_args (the full kernel command line,
 * as for a cold run). Optional ops (NULL = the driver cannot warm; the pool
 * keeps no slots):
 *   warm    spawn the VMM for the slot and prepare it up to just before the
 *           guest starts: API socket answering, network (tap/MAC) and
 *           machine config (vcpus/mem) applied, and — when img != NULL —
 *           the image (kernel/initrd/boot args) applied too. img NULL: no
 *           image pre-applied; the row's image, kernel, initrd, rootfs and
 *           boot_args are "" and vcpus/mem_mib are the pool's default shape
 *           (1 vcpu, 128 MiB: the image defaults); boot applies the image.
 *           Asynchronous like spawn+boot: returns 0 once the process is
 *           spawned (sets vm->row.vmm_pid; the engine then records pid and
 *           start time) and reports exactly once via pw_vm_warmed() (status
 *           0: ready, idle, guest not started) within cfg->boot_timeout_ms,
 *           unless the VMM exits first (pw_vm_exited) or release is called.
 *           Synchronous failure: negative errno + err; no process is left
 *           running and nothing is reported (as for spawn). -ENOTSUP
 *           (nothing spawned) if the driver cannot warm without an image
 *           (QEMU: kernel and cmdline are fixed at spawn): the pool then logs
 *           once and keeps no slots.
 *   fits    pure, no I/O: can this warmed slot run img with vcpus/mem_mib
 *           (the run's resolved values: image defaults unless overridden)?
 *           QEMU: same image name and exactly the vcpus/mem_mib it was
 *           spawned with. Firecracker without image: vcpus/mem_mib equal the
 *           machine config applied.
 *   boot    on a warm slot (the driver knows from its drv_data): start the
 *           guest — QEMU: QMP `cont`; Firecracker: boot-source (+drives) if
 *           not pre-applied, then InstanceStart — then report via
 *           pw_vm_booted() exactly as for a cold boot. Before calling boot
 *           on a slot taken by a run, the engine fills the row's image fields
 *           (image, kernel, initrd, rootfs, boot_args, name, key) for the run;
 *           a driver that pre-applied the image must ignore them.
 *   stop/kill/release/adopt work on warm slots as on any VM. A warm VMM that
 *   exits reports pw_vm_exited() like any other (the pool discards the slot).
 *
 * Reports (driver → engine): pw_vm_booted(), pw_vm_warmed(), pw_vm_exited().
 * After pw_vm_exited() the driver makes no further report for that VM.
 */
#ifndef PW_DRIVER_H
#define PW_DRIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pw_vm;
struct ui_image;

struct ui_vmm_driver {
	const char *name; /* the registry's vms.driver */
	int (*spawn)(struct pw_vm *vm, char *err, size_t errlen);
	int (*boot)(struct pw_vm *vm);
	int (*stop)(struct pw_vm *vm);
	int (*kill)(struct pw_vm *vm);
	int (*adopt)(struct pw_vm *vm, char *err, size_t errlen);
	void (*release)(struct pw_vm *vm);
	/* Warm pool (optional, see above). */
	int (*warm)(struct pw_vm *vm, const struct ui_image *img, char *err,
		    size_t errlen);
	bool (*fits)(const struct pw_vm *slot, const struct ui_image *img,
		     unsigned vcpus, unsigned mem_mib);
};

/* How a VMM process ended, as far as the driver could observe it. */
struct pw_exit_info {
	int64_t status;             /* exit code; -1 when unknown (adopted) */
	int signal;                 /* terminating signal or 0 */
	const char *guest_shutdown; /* QMP SHUTDOWN reason seen, or NULL */
};

/* status 0: the guest is running. Else negative errno and a sentence. */
void pw_vm_booted(struct pw_vm *vm, int status, const char *err);
void pw_vm_exited(struct pw_vm *vm, const struct pw_exit_info *info);
/* status 0: the warm slot is ready (VMM idle, guest not started). Else
 * negative errno and a sentence (the pool kills and discards the slot). */
void pw_vm_warmed(struct pw_vm *vm, int status, const char *err);

extern const struct ui_vmm_driver pw_drv_qemu;
extern const struct ui_vmm_driver pw_drv_firecracker;

/* NULL for an unknown name. */
const struct ui_vmm_driver *pw_driver_find(const char *name);

#endif
