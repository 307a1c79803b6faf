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
 * Reports (driver → engine): pw_vm_booted(), pw_vm_exited(). After
 * pw_vm_exited() the driver makes no further report for that VM.
 */
#ifndef PW_DRIVER_H
#define PW_DRIVER_H

#include <stddef.h>
#include <stdint.h>

struct pw_vm;

struct ui_vmm_driver {
	const char *name; /* the registry's vms.driver */
	int (*spawn)(struct pw_vm *vm, char *err, size_t errlen);
	int (*boot)(struct pw_vm *vm);
	int (*stop)(struct pw_vm *vm);
	int (*kill)(struct pw_vm *vm);
	int (*adopt)(struct pw_vm *vm, char *err, size_t errlen);
	void (*release)(struct pw_vm *vm);
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

extern const struct ui_vmm_driver pw_drv_qemu;

/* NULL for an unknown name. */
const struct ui_vmm_driver *pw_driver_find(const char *name);

#endif
