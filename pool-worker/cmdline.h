/*
 * cmdline.h — pure functions that build command lines: the guest kernel's
 * (boot args with the VM's network settings) and QEMU's argv. No I/O, no
 * globals: unit-tested exactly (tests/unit/test_qmp.c).
 */
#ifndef PW_CMDLINE_H
#define PW_CMDLINE_H

#include <stddef.h>

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

/* Appends one argument (copied) to a built argv, e.g. "-S". -E2BIG if full. */
int pw_argv_add(struct pw_argv *a, const char *s);

#endif
