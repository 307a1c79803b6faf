/*
 * cmdline.h — pure functions that build command lines: the guest kernel's
 * (boot args with the VM's network settings) and QEMU's argv. No I/O, no
 * globals: unit-tested exactly (tests/unit/test_qmp.c).
 */
#ifndef PW_CMDLINE_H
#define PW_CMDLINE_H

#include <stddef.h>

#include <stdbool.h>

#include "config.h"
#include "registry.h"

/*
 * The kernel command line in the image's guest_ip style (boot_args is the
 * image's; linux_extra, NULL or "", is for Linux guests only — e.g. the
 * TCG timer workaround "tsc_early_khz=N", see accel.h):
 *   linux: "<boot_args> [<linux_extra> ]ip=<ip>::<gw>:<netmask>::eth0:off
 *           uigniter.id=<id>"
 *   osv:   "--ip=eth0,<ip>,<netmask> --defaultgw=<gw> <boot_args>"
 *   none:  "<boot_args>"
 * Gateway and netmask come from cfg. -ENAMETOOLONG if it does not fit.
 */
int pw_boot_args(const struct ui_config *cfg, const struct ui_image *img,
		 const char *ip, const char *id, const char *linux_extra,
		 char *out, size_t len);

/* What a VM's boot line is made of besides its image and the config. */
struct pw_boot_in {
	const char *ip, *id;
	const char *linux_extra;    /* Linux only (see above); NULL or "" */
	const struct ui_cmd *cmd;   /* the run's argv; NULL: the image's */
	const char *run_args;       /* a run's boot_args (cmdargs.h); NULL or "" */
	bool nopci;                 /* OSv on virtio-mmio (microvm, Firecracker) */
};

/* OSv reads at most this much of its command line (osv/commands.hh). */
#define PW_OSV_CMDLINE_MAX 1024

/*
 * The boot line of a VM (exact strings: tests/unit/test_qmp.c):
 *   kind linux: "<boot_args> [<linux_extra> ]ip=<ip>::<gw>:<mask>::eth0:off
 *                uigniter.id=<id>[ uigniter.cmd=<base64 of the argv, NUL-
 *                separated>][ <run_args>]" — the kernel has no escape for
 *                a quote, so the argv travels as one base64 word the guest
 *                init decodes (tools/guest/init); guest_ip osv/none as
 *                pw_boot_args.
 *   kind osv:   "[--rootfs=<fs> ][--nopci ]--ip=eth0,<ip>,<mask>
 *                --defaultgw=<gw> --nameserver=<gw>[ <boot_args>][ <run_args>]
 *                <cmd>" — OSv's options first, then the app's command, each
 *                argument quoted by OSv's rules (pw_osv_quote); nothing of
 *                Linux's. At most PW_OSV_CMDLINE_MAX bytes.
 * -ENAMETOOLONG if it does not fit.
 */
int pw_boot_line(const struct ui_config *cfg, const struct ui_image *img,
		 const struct pw_boot_in *in, char *out, size_t len);

/* One argument as OSv's command parser (core/commands.cc) reads it back:
 * plain when it has none of ` ;&!"'\`, else in double quotes with '\'
 * and '"' escaped. -ENAMETOOLONG if it does not fit. */
int pw_osv_quote(const char *arg, char *out, size_t len);

/* Base64 (RFC 4648, padded) of n bytes; -ENAMETOOLONG if it does not fit. */
int pw_base64(const void *in, size_t n, char *out, size_t len);

/*
 * The QEMU machine an image runs on and why (a sentence for the log):
 * the image's `machine` when set; linux: microvm; osv: microvm under KVM
 * (kvmclock), q35 under TCG (OSv's clocks are kvmclock, Xen, Hyper-V or an
 * ACPI-listed HPET: TCG has no kvmclock, microvm no HPET). img NULL: linux.
 */
enum ui_machine pw_machine(const struct ui_image *img, enum ui_accel accel, const char **why);

/*
 * The QMP SHUTDOWN reason as the exit is to be read (fsm.c pw_exit_event):
 * OSv on microvm (acpi=off) powers off by an i8042 reset or a triple fault,
 * which -no-reboot turns into QEMU's exit with "guest-reset": for it that
 * is "guest-shutdown". Any other reason, machine or kind: unchanged.
 */
const char *pw_guest_shutdown(enum ui_image_kind kind, enum ui_machine machine,
			      const char *reason);

/*
 * How a stop reaches the guest: the image's `stop` when set; else kill
 * for OSv on microvm (it ignores the ACPI power button there), powerdown
 * otherwise (QEMU: ACPI power button; Firecracker: Ctrl+Alt+Del, which
 * OSv answers with an i8042 reset). firecracker: the Firecracker driver.
 */
enum ui_stop pw_stop_method(const struct ui_image *img, enum ui_machine machine,
			    bool firecracker);

/* The disk a VM's row records (vms.rootfs): an OSv image's disk, a Linux
 * image's rootfs. */
static inline const char *pw_image_disk(const struct ui_image *img)
{
	return img->kind == UI_KIND_OSV ? img->disk : img->rootfs;
}

#define PW_ARGV_MAX 64

/* argv for one QEMU process; strings live in buf. Caller-embedded. */
/* QEMU's own seccomp filter (Seccomp: 2 in /proc/PID/status): no obsolete
 * syscalls, no set*id, no fork/exec, no scheduler or affinity changes. */
#define PW_QEMU_SANDBOX "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny"

struct pw_argv {
	char *argv[PW_ARGV_MAX]; /* NULL-terminated */
	int argc;
	char buf[16384];
	size_t used;
};

/*
 * qemu-system-x86_64 -M microvm ... for vm (kernel, initrd, rootfs,
 * boot_args, vcpus, mem_mib, tap, mac, console_log, api_socket as the QMP
 * socket). accel UI_ACCEL_KVM → "-accel kvm -cpu host", else
 * "-accel tcg -cpu max". Commas in paths inside QEMU option values are
 * doubled (QEMU's escape). -E2BIG if it does not fit.
 */
int pw_qemu_argv(const char *qemu_bin, enum ui_accel accel,
		 const struct ui_vm *vm, struct pw_argv *out);

/*
 * The same for an image on a machine (pw_machine): img NULL = linux on
 * microvm, as pw_qemu_argv. q35: PCI virtio devices with their option ROMs
 * off (romfile=), no initrd for OSv; microvm for OSv: acpi=off (QEMU then
 * lists the virtio-mmio devices on the command line, the only way OSv
 * finds them) and modern virtio-mmio (force-legacy=off). An OSv image's
 * disk (vm->rootfs holds its path) is its disk_format, read-only for rofs.
 * Every variant has -no-reboot (OSv on microvm powers off by a triple
 * fault) and -nodefaults.
 */
int pw_qemu_argv_img(const char *qemu_bin, enum ui_accel accel, const struct ui_image *img,
		     enum ui_machine machine, const struct ui_vm *vm, struct pw_argv *out);

/* Appends one argument (copied) to a built argv, e.g. "-S". -E2BIG if full. */
int pw_argv_add(struct pw_argv *a, const char *s);
/* in with every ',' doubled (a QEMU option value) into out; -E2BIG. */
int pw_qemu_escape_commas(const char *in, char *out, size_t len);

#endif
