/*
 * cmdline.c — kernel command line and QEMU argv builders (see cmdline.h).
 *
 * The argv is assembled into a caller-embedded struct pw_argv: each argument
 * is appended to buf (NUL-terminated) and argv[] points into it, so the
 * result needs no freeing and a too-long input fails cleanly with -E2BIG.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cmdline.h"

static void ip4_str(uint32_t host_order, char out[INET_ADDRSTRLEN])
{
	struct in_addr a = { .s_addr = htonl(host_order) };

	inet_ntop(AF_INET, &a, out, INET_ADDRSTRLEN);
}

int pw_boot_args(const struct ui_config *cfg, const struct ui_image *img,
		 const char *ip, const char *id, const char *linux_extra,
		 char *out, size_t len)
{
	const char *extra = linux_extra ? linux_extra : "";
	char gw[INET_ADDRSTRLEN], mask[INET_ADDRSTRLEN];
	uint32_t m = cfg->prefix_len ? 0xffffffffu << (32 - cfg->prefix_len) : 0;
	const char *sep = img->boot_args[0] ? " " : "";
	int n;

	ip4_str(cfg->gateway, gw);
	ip4_str(m, mask);
	switch (img->guest_ip) {
	case UI_GUEST_IP_LINUX:
		n = snprintf(out, len, "%s%s%s%sip=%s::%s:%s::eth0:off uigniter.id=%s",
			     img->boot_args, sep, extra, extra[0] ? " " : "",
			     ip, gw, mask, id);
		break;
	case UI_GUEST_IP_OSV:
		n = snprintf(out, len, "--ip=eth0,%s,%s --defaultgw=%s%s%s", ip,
			     mask, gw, sep, img->boot_args);
		break;
	default:
		n = snprintf(out, len, "%s", img->boot_args);
		break;
	}
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* Appends one printf-formatted argument. */
static int __attribute__((format(printf, 2, 3)))
arg(struct pw_argv *a, const char *fmt, ...)
{
	size_t room = sizeof(a->buf) - a->used;
	va_list ap;
	int n;

	if (a->argc >= PW_ARGV_MAX - 1)
		return -E2BIG;
	va_start(ap, fmt);
	n = vsnprintf(a->buf + a->used, room, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= room)
		return -E2BIG;
	a->argv[a->argc++] = a->buf + a->used;
	a->argv[a->argc] = NULL;
	a->used += (size_t)n + 1;
	return 0;
}

/* QEMU option values use ',' as separator; a literal comma is written ",,". */
static int escape_commas(const char *in, char *out, size_t len)
{
	size_t o = 0;

	for (; *in; in++) {
		if (o + 3 > len)
			return -E2BIG;
		out[o++] = *in;
		if (*in == ',')
			out[o++] = ',';
	}
	out[o] = '\0';
	return 0;
}

/* Each helper chains arg() with || (sequenced, stops at the first error). */
static int args_machine(struct pw_argv *a, const char *bin, enum ui_accel accel,
			const struct ui_vm *vm)
{
	bool kvm = accel == UI_ACCEL_KVM;

	if (arg(a, "%s", bin) ||
	    arg(a, "-M") || arg(a, "microvm") ||
	    arg(a, "-accel") || arg(a, "%s", kvm ? "kvm" : "tcg") ||
	    arg(a, "-cpu") || arg(a, "%s", kvm ? "host" : "max") ||
	    arg(a, "-m") || arg(a, "%u", vm->mem_mib) ||
	    arg(a, "-smp") || arg(a, "%u", vm->vcpus) ||
	    arg(a, "-nodefaults") || arg(a, "-no-user-config") ||
	    arg(a, "-nographic") || arg(a, "-no-reboot") ||
	    arg(a, "-sandbox") || arg(a, "%s", PW_QEMU_SANDBOX))
		return -E2BIG;
	return 0;
}

static int args_boot(struct pw_argv *a, const struct ui_vm *vm)
{
	char esc[2 * sizeof(vm->rootfs)];

	if (arg(a, "-kernel") || arg(a, "%s", vm->kernel))
		return -E2BIG;
	if (vm->initrd[0] && (arg(a, "-initrd") || arg(a, "%s", vm->initrd)))
		return -E2BIG;
	if (arg(a, "-append") || arg(a, "%s", vm->boot_args))
		return -E2BIG;
	if (!vm->rootfs[0])
		return 0;
	if (escape_commas(vm->rootfs, esc, sizeof(esc)) < 0 ||
	    arg(a, "-drive") ||
	    arg(a, "id=rootfs,file=%s,format=raw,if=none,readonly=on", esc) ||
	    arg(a, "-device") || arg(a, "virtio-blk-device,drive=rootfs"))
		return -E2BIG;
	return 0;
}

static int args_io(struct pw_argv *a, const struct ui_vm *vm)
{
	char qmp[2 * sizeof(vm->api_socket)];

	/* The serial console is QEMU's stdout, which is the console log
	 * (vmm_proc.h): an unprivileged QEMU never opens the log by path. */
	if (escape_commas(vm->api_socket, qmp, sizeof(qmp)) < 0)
		return -E2BIG;
	if (arg(a, "-chardev") || arg(a, "stdio,id=con,signal=off") ||
	    arg(a, "-serial") || arg(a, "chardev:con") ||
	    arg(a, "-netdev") ||
	    arg(a, "tap,id=n0,ifname=%s,script=no,downscript=no", vm->tap) ||
	    arg(a, "-device") ||
	    arg(a, "virtio-net-device,netdev=n0,mac=%s", vm->mac) ||
	    arg(a, "-qmp") || arg(a, "unix:%s,server=on,wait=off", qmp))
		return -E2BIG;
	return 0;
}

int pw_qemu_argv(const char *qemu_bin, enum ui_accel accel,
		 const struct ui_vm *vm, struct pw_argv *out)
{
	int rc;

	out->argc = 0;
	out->used = 0;
	out->argv[0] = NULL;
	rc = args_machine(out, qemu_bin, accel, vm);
	if (rc == 0)
		rc = args_boot(out, vm);
	if (rc == 0)
		rc = args_io(out, vm);
	return rc;
}

int pw_argv_add(struct pw_argv *a, const char *s)
{
	return arg(a, "%s", s);
}
