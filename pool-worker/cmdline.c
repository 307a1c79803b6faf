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

#include "cmdargs.h"
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

/* ---- the boot line of an image kind ------------------------------------ */

int pw_base64(const void *in, size_t n, char *out, size_t len)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *p = in;
	size_t o = 0;

	if (len < 4 * ((n + 2) / 3) + 1)
		return -ENAMETOOLONG;
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) |
			     (i + 2 < n ? p[i + 2] : 0);

		out[o++] = tab[v >> 18 & 63];
		out[o++] = tab[v >> 12 & 63];
		out[o++] = i + 1 < n ? tab[v >> 6 & 63] : '=';
		out[o++] = i + 2 < n ? tab[v & 63] : '=';
	}
	out[o] = '\0';
	return 0;
}

int pw_osv_quote(const char *arg, char *out, size_t len)
{
	size_t o = 0;

	if (!strpbrk(arg, " ;&!\"'\\")) {
		if (strlen(arg) >= len)
			return -ENAMETOOLONG;
		memcpy(out, arg, strlen(arg) + 1);
		return 0;
	}
	if (len < 3)
		return -ENAMETOOLONG;
	out[o++] = '"';
	for (; *arg; arg++) {
		if (o + 4 > len)
			return -ENAMETOOLONG;
		if (*arg == '"' || *arg == '\\')
			out[o++] = '\\';
		out[o++] = *arg;
	}
	out[o++] = '"';
	out[o] = '\0';
	return 0;
}

/* Appends " <s>" (no space when out is empty) at *o. */
static int put_word(char *out, size_t len, size_t *o, const char *s)
{
	int n;

	if (!s || !*s)
		return 0;
	n = snprintf(out + *o, len - *o, "%s%s", *o ? " " : "", s);
	if (n < 0 || (size_t)n >= len - *o)
		return -ENAMETOOLONG;
	*o += (size_t)n;
	return 0;
}

static int osv_line(const struct ui_config *cfg, const struct ui_image *img,
		    const struct pw_boot_in *in, char *out, size_t len)
{
	const struct ui_cmd *cmd = in->cmd ? in->cmd : &img->cmd;
	char gw[INET_ADDRSTRLEN], mask[INET_ADDRSTRLEN], word[2 * UI_CMD_ARG_MAX + 3];
	uint32_t m = cfg->prefix_len ? 0xffffffffu << (32 - cfg->prefix_len) : 0;
	size_t o = 0, lim = len < PW_OSV_CMDLINE_MAX + 1 ? len : PW_OSV_CMDLINE_MAX + 1;
	int rc = 0;

	ip4_str(cfg->gateway, gw);
	ip4_str(m, mask);
	out[0] = '\0';
	if (img->osv_fs[0]) {
		snprintf(word, sizeof(word), "--rootfs=%s", img->osv_fs);
		rc = put_word(out, lim, &o, word);
	}
	if (rc == 0 && in->nopci)
		rc = put_word(out, lim, &o, "--nopci");
	snprintf(word, sizeof(word), "--ip=eth0,%s,%s --defaultgw=%s --nameserver=%s", in->ip,
		 mask, gw, gw);
	if (rc == 0)
		rc = put_word(out, lim, &o, word);
	if (rc == 0)
		rc = put_word(out, lim, &o, img->boot_args);
	if (rc == 0)
		rc = put_word(out, lim, &o, in->run_args);
	for (const char *a = ui_cmd_next(cmd, NULL); rc == 0 && a; a = ui_cmd_next(cmd, a))
		if ((rc = pw_osv_quote(a, word, sizeof(word))) == 0)
			rc = put_word(out, lim, &o, word);
	return rc;
}

static int linux_line(const struct ui_config *cfg, const struct ui_image *img,
		      const struct pw_boot_in *in, char *out, size_t len)
{
	const struct ui_cmd *cmd = in->cmd ? in->cmd : &img->cmd;
	char word[4 * (UI_CMD_MAX_BYTES + 2) / 3 + 16];
	size_t o;
	int rc = pw_boot_args(cfg, img, in->ip, in->id, in->linux_extra, out, len);

	if (rc < 0 || img->guest_ip != UI_GUEST_IP_LINUX)
		return rc;
	o = strlen(out);
	if (cmd->argc) {
		memcpy(word, "uigniter.cmd=", 13);
		if ((rc = pw_base64(cmd->buf, cmd->len, word + 13, sizeof(word) - 13)) < 0 ||
		    (rc = put_word(out, len, &o, word)) < 0)
			return rc;
	}
	return put_word(out, len, &o, in->run_args);
}

int pw_boot_line(const struct ui_config *cfg, const struct ui_image *img,
		 const struct pw_boot_in *in, char *out, size_t len)
{
	if (img->kind == UI_KIND_OSV)
		return osv_line(cfg, img, in, out, len);
	return linux_line(cfg, img, in, out, len);
}

enum ui_machine pw_machine(const struct ui_image *img, enum ui_accel accel, const char **why)
{
	if (img && img->machine != UI_MACHINE_AUTO) {
		*why = img->kind == UI_KIND_OSV && img->machine == UI_MACHINE_MICROVM &&
		       accel != UI_ACCEL_KVM ?
		       "the image's machine setting; stock OSv has no clock under TCG on "
		       "microvm and halts (\"Neither paravirtual clock nor HPET\")" :
		       "the image's machine setting";
		return img->machine;
	}
	if (!img || img->kind != UI_KIND_OSV) {
		*why = "a Linux guest";
		return UI_MACHINE_MICROVM;
	}
	if (accel == UI_ACCEL_KVM) {
		*why = "OSv under KVM: kvmclock is its clock";
		return UI_MACHINE_MICROVM;
	}
	*why = "OSv under TCG: no kvmclock, and microvm has no HPET (q35 lists one in ACPI)";
	return UI_MACHINE_Q35;
}

enum ui_stop pw_stop_method(const struct ui_image *img, enum ui_machine machine,
			    bool firecracker)
{
	if (img && img->stop != UI_STOP_AUTO)
		return img->stop;
	if (img && img->kind == UI_KIND_OSV && !firecracker && machine == UI_MACHINE_MICROVM)
		return UI_STOP_KILL;
	return UI_STOP_POWERDOWN;
}

const char *pw_guest_shutdown(enum ui_image_kind kind, enum ui_machine machine,
			      const char *reason)
{
	if (reason && kind == UI_KIND_OSV && machine == UI_MACHINE_MICROVM &&
	    !strcmp(reason, "guest-reset"))
		return "guest-shutdown"; /* OSv's power-off there */
	return reason;
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
int pw_qemu_escape_commas(const char *in, char *out, size_t len)
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

/* What differs between the machines an argv is built for. */
struct plan {
	enum ui_machine machine;
	bool osv;
	const char *disk_format;    /* "raw" or "qcow2" */
	bool disk_ro;
};

/* Each helper chains arg() with || (sequenced, stops at the first error). */
static int args_machine(struct pw_argv *a, const char *bin, enum ui_accel accel,
			const struct plan *p, const struct ui_vm *vm)
{
	bool kvm = accel == UI_ACCEL_KVM;
	const char *m = p->machine == UI_MACHINE_Q35 ? "q35" : p->osv ? "microvm,acpi=off" :
			"microvm";

	if (arg(a, "%s", bin) ||
	    arg(a, "-M") || arg(a, "%s", m) ||
	    arg(a, "-accel") || arg(a, "%s", kvm ? "kvm" : "tcg") ||
	    arg(a, "-cpu") || arg(a, "%s", kvm ? "host" : "max") ||
	    arg(a, "-m") || arg(a, "%u", vm->mem_mib) ||
	    arg(a, "-smp") || arg(a, "%u", vm->vcpus) ||
	    arg(a, "-nodefaults") || arg(a, "-no-user-config") ||
	    arg(a, "-nographic") || arg(a, "-no-reboot") ||
	    arg(a, "-sandbox") || arg(a, "%s", PW_QEMU_SANDBOX))
		return -E2BIG;
	if (p->osv && p->machine == UI_MACHINE_MICROVM &&
	    (arg(a, "-global") || arg(a, "virtio-mmio.force-legacy=off")))
		return -E2BIG;
	return 0;
}

/* A virtio device on the machine's bus: PCI (ROM off) on q35, MMIO else. */
static int device(struct pw_argv *a, const struct plan *p, const char *what, const char *rest)
{
	bool pci = p->machine == UI_MACHINE_Q35;

	return arg(a, "-device") ||
	       arg(a, "virtio-%s-%s,%s%s", what, pci ? "pci" : "device", rest,
		   pci ? ",romfile=" : "");
}

static int args_boot(struct pw_argv *a, const struct plan *p, const struct ui_vm *vm)
{
	char esc[2 * sizeof(vm->rootfs)], dev[32];

	if (arg(a, "-kernel") || arg(a, "%s", vm->kernel))
		return -E2BIG;
	if (vm->initrd[0] && !p->osv && (arg(a, "-initrd") || arg(a, "%s", vm->initrd)))
		return -E2BIG;
	if (arg(a, "-append") || arg(a, "%s", vm->boot_args))
		return -E2BIG;
	if (!vm->rootfs[0])
		return 0;
	snprintf(dev, sizeof(dev), "drive=rootfs");
	if (pw_qemu_escape_commas(vm->rootfs, esc, sizeof(esc)) < 0 ||
	    arg(a, "-drive") ||
	    arg(a, "id=rootfs,file=%s,format=%s,if=none%s", esc, p->disk_format,
		p->disk_ro ? ",readonly=on" : "") ||
	    device(a, p, "blk", dev))
		return -E2BIG;
	return 0;
}

static int args_io(struct pw_argv *a, const struct plan *p, const struct ui_vm *vm)
{
	char qmp[2 * sizeof(vm->api_socket)], net[64];

	/* The serial console is QEMU's stdout, which is the console log
	 * (vmm_proc.h): an unprivileged QEMU never opens the log by path. */
	if (pw_qemu_escape_commas(vm->api_socket, qmp, sizeof(qmp)) < 0)
		return -E2BIG;
	snprintf(net, sizeof(net), "netdev=n0,mac=%s", vm->mac);
	if (arg(a, "-chardev") || arg(a, "stdio,id=con,signal=off") ||
	    arg(a, "-serial") || arg(a, "chardev:con") ||
	    arg(a, "-netdev") ||
	    arg(a, "tap,id=n0,ifname=%s,script=no,downscript=no", vm->tap) ||
	    device(a, p, "net", net) ||
	    arg(a, "-qmp") || arg(a, "unix:%s,server=on,wait=off", qmp))
		return -E2BIG;
	return 0;
}

int pw_qemu_argv_img(const char *qemu_bin, enum ui_accel accel, const struct ui_image *img,
		     enum ui_machine machine, const struct ui_vm *vm, struct pw_argv *out)
{
	bool osv = img && img->kind == UI_KIND_OSV;
	struct plan p = {
		.machine = machine == UI_MACHINE_Q35 ? UI_MACHINE_Q35 : UI_MACHINE_MICROVM,
		.osv = osv,
		.disk_format = osv && img->disk_format == UI_DISK_QCOW2 ? "qcow2" : "raw",
		/* read-only (the VMM user may only read it), but a disk the
		 * guest writes (OSv zfs): that one must be writable by vmm.user */
		.disk_ro = !osv || strcmp(img->osv_fs, "zfs") != 0,
	};
	int rc;

	out->argc = 0;
	out->used = 0;
	out->argv[0] = NULL;
	rc = args_machine(out, qemu_bin, accel, &p, vm);
	if (rc == 0)
		rc = args_boot(out, &p, vm);
	if (rc == 0)
		rc = args_io(out, &p, vm);
	return rc;
}

int pw_qemu_argv(const char *qemu_bin, enum ui_accel accel,
		 const struct ui_vm *vm, struct pw_argv *out)
{
	return pw_qemu_argv_img(qemu_bin, accel, NULL, UI_MACHINE_MICROVM, vm, out);
}

int pw_argv_add(struct pw_argv *a, const char *s)
{
	return arg(a, "%s", s);
}
