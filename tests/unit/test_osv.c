/*
 * test_osv.c — OSv images and a run's cmd/boot_args, all pure: the argv
 * rules (shared/cmdargs.c), OSv's quoting and boot line and the Linux line
 * with uigniter.cmd= (pool-worker/cmdline.c), the machine and stop choice,
 * the QEMU argv of an OSv image on q35 (TCG) and microvm (KVM), the
 * Firecracker bodies (fc_bodies.c), the image keys (shared/config.c) and
 * the run body (apid/run_args.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmdargs.h"
#include "../../pool-worker/cmdline.h"
#include "config.h"
#include "../../pool-worker/fc_bodies.h"
#include "../../apid/routes.h"
#include "t.h"

static void cmd_of(struct ui_cmd *c, const char *const *argv)
{
	char why[160];

	memset(c, 0, sizeof(*c));
	for (; *argv; argv++)
		T_EQ_INT(ui_cmd_append(c, *argv, strlen(*argv), why, sizeof(why)), 0);
}

static void osv_image(struct ui_image *img)
{
	static const char *const argv[] = { "/httpserver.so", "--port", "8000", NULL };

	memset(img, 0, sizeof(*img));
	snprintf(img->name, sizeof(img->name), "osv");
	snprintf(img->kernel, sizeof(img->kernel), "/o/kernel.elf");
	snprintf(img->disk, sizeof(img->disk), "/o/usr.raw");
	snprintf(img->osv_fs, sizeof(img->osv_fs), "rofs");
	img->kind = UI_KIND_OSV;
	img->allow_cmd = true;
	cmd_of(&img->cmd, argv);
}

static void cfg_init(struct ui_config *cfg)
{
	ui_config_defaults(cfg);
	cfg->gateway = 0xac1f0001; /* 172.31.0.1 */
	cfg->prefix_len = 24;
}

static void vm_init(struct ui_vm *vm, const char *boot_args)
{
	memset(vm, 0, sizeof(*vm));
	snprintf(vm->id, sizeof(vm->id), "vm-x");
	snprintf(vm->image, sizeof(vm->image), "osv");
	snprintf(vm->kernel, sizeof(vm->kernel), "/o/kernel.elf");
	snprintf(vm->rootfs, sizeof(vm->rootfs), "/o/usr.raw");
	snprintf(vm->boot_args, sizeof(vm->boot_args), "%s", boot_args);
	vm->vcpus = 1;
	vm->mem_mib = 64;
	snprintf(vm->tap, sizeof(vm->tap), "uit-2");
	snprintf(vm->mac, sizeof(vm->mac), "06:00:ac:1f:00:02");
	snprintf(vm->console_log, sizeof(vm->console_log), "/s/vm-x.log");
	snprintf(vm->api_socket, sizeof(vm->api_socket), "/r/vm-x.qmp");
}

static void joined(const struct pw_argv *a, char *out, size_t len)
{
	size_t o = 0;

	out[0] = '\0';
	for (int i = 0; i < a->argc && o < len; i++)
		o += (size_t)snprintf(out + o, len - o, "%s%s", i ? "|" : "", a->argv[i]);
}

/* ---- cmdargs ---------------------------------------------------------- */

static void t_cmd_rules(void)
{
	struct ui_cmd c;
	char why[160], big[300];

	memset(&c, 0, sizeof(c));
	T_EQ_INT(ui_cmd_append(&c, "a\nb", 3, why, sizeof(why)), -EINVAL);
	T_ASSERT(strstr(why, "control character"));
	T_EQ_INT(ui_cmd_append(&c, "a\0b", 3, why, sizeof(why)), -EINVAL);
	T_EQ_INT(ui_cmd_append(&c, "", 0, why, sizeof(why)), -EINVAL);
	memset(big, 'x', sizeof(big));
	T_EQ_INT(ui_cmd_append(&c, big, 256, why, sizeof(why)), -EINVAL);
	T_EQ_INT(ui_cmd_check(&c, UI_KIND_LINUX, why, sizeof(why)), -EINVAL); /* empty */
	for (int i = 0; i < UI_CMD_MAX_ARGS; i++)
		T_EQ_INT(ui_cmd_append(&c, "x", 1, why, sizeof(why)), 0);
	T_EQ_INT(ui_cmd_append(&c, "x", 1, why, sizeof(why)), -EINVAL);
	T_ASSERT(strstr(why, "at most 64"));
	memset(&c, 0, sizeof(c));
	T_EQ_INT(ui_cmd_append(&c, big, 255, why, sizeof(why)), 0);
	T_EQ_INT(ui_cmd_append(&c, big, 255, why, sizeof(why)), 0); /* 512 in all */
	T_EQ_INT(ui_cmd_append(&c, "x", 1, why, sizeof(why)), -EINVAL);
	T_ASSERT(strstr(why, "at most 512 bytes"));

	memset(&c, 0, sizeof(c));
	T_EQ_INT(ui_cmd_append(&c, "--verbose", 9, why, sizeof(why)), 0);
	T_EQ_INT(ui_cmd_check(&c, UI_KIND_LINUX, why, sizeof(why)), 0);
	T_EQ_INT(ui_cmd_check(&c, UI_KIND_OSV, why, sizeof(why)), -EINVAL);
	T_ASSERT(strstr(why, "OSv option"));
	memset(&c, 0, sizeof(c));
	T_EQ_INT(ui_cmd_append(&c, "/a.so", 5, why, sizeof(why)), 0);
	T_EQ_INT(ui_cmd_append(&c, "$HOME", 5, why, sizeof(why)), 0);
	T_EQ_INT(ui_cmd_check(&c, UI_KIND_LINUX, why, sizeof(why)), 0);
	T_EQ_INT(ui_cmd_check(&c, UI_KIND_OSV, why, sizeof(why)), -EINVAL);
	T_ASSERT(strstr(why, "'$'"));
}

static void t_boot_args_rules(void)
{
	char why[160];

#define BA(s, k) ui_boot_args_check(s, strlen(s), k, why, sizeof(why))
	T_EQ_INT(BA("", UI_KIND_LINUX), 0);
	T_EQ_INT(BA("quiet loglevel=3", UI_KIND_LINUX), 0);
	T_EQ_INT(BA("quiet -- evil", UI_KIND_LINUX), -EINVAL);
	T_EQ_INT(BA("uigniter.id=vm-1", UI_KIND_LINUX), -EINVAL);
	T_EQ_INT(BA("ip=1.2.3.4", UI_KIND_LINUX), -EINVAL);
	T_EQ_INT(BA("a=\"b c\"", UI_KIND_LINUX), -EINVAL);
	T_EQ_INT(BA("a\tb", UI_KIND_LINUX), -EINVAL);
	T_EQ_INT(BA("--verbose --env=A=1", UI_KIND_OSV), 0);
	T_EQ_INT(BA("--verbose /evil.so", UI_KIND_OSV), -EINVAL);
	T_ASSERT(strstr(why, "OSv option"));
	T_EQ_INT(BA("--ip=eth0,1.2.3.4,255.0.0.0", UI_KIND_OSV), -EINVAL);
	T_EQ_INT(BA("--nopci", UI_KIND_OSV), -EINVAL);
	T_EQ_INT(BA("--ipx", UI_KIND_OSV), 0);
#undef BA
}

/* ---- boot lines --------------------------------------------------------- */

static void t_osv_quote(void)
{
	char out[64];

	T_EQ_INT(pw_osv_quote("/hello.so", out, sizeof(out)), 0);
	T_EQ_STR(out, "/hello.so");
	T_EQ_INT(pw_osv_quote("a b", out, sizeof(out)), 0);
	T_EQ_STR(out, "\"a b\"");
	T_EQ_INT(pw_osv_quote("x;y&z!", out, sizeof(out)), 0);
	T_EQ_STR(out, "\"x;y&z!\"");
	T_EQ_INT(pw_osv_quote("say \"hi\" \\o/", out, sizeof(out)), 0);
	T_EQ_STR(out, "\"say \\\"hi\\\" \\\\o/\"");
	T_EQ_INT(pw_osv_quote("it's", out, sizeof(out)), 0);
	T_EQ_STR(out, "\"it's\"");
	T_EQ_INT(pw_osv_quote("a b", out, 4), -ENAMETOOLONG);
}

static void t_osv_line(void)
{
	static const char *const run[] = { "/httpserver.so", "hello world", "a\"b", NULL };
	struct ui_config cfg;
	struct ui_image img;
	struct ui_cmd c;
	char out[2048];
	struct pw_boot_in in = { .ip = "172.31.0.7", .id = "vm-x", .linux_extra = "tsc_early_khz=1" };

	cfg_init(&cfg);
	osv_image(&img);
	T_EQ_INT(pw_boot_line(&cfg, &img, &in, out, sizeof(out)), 0);
	T_EQ_STR(out, "--rootfs=rofs --ip=eth0,172.31.0.7,255.255.255.0 --defaultgw=172.31.0.1 "
		      "--nameserver=172.31.0.1 /httpserver.so --port 8000");
	in.nopci = true;
	in.run_args = "--verbose";
	cmd_of(&c, run);
	in.cmd = &c;
	img.osv_fs[0] = '\0';
	T_EQ_INT(pw_boot_line(&cfg, &img, &in, out, sizeof(out)), 0);
	T_EQ_STR(out, "--nopci --ip=eth0,172.31.0.7,255.255.255.0 --defaultgw=172.31.0.1 "
		      "--nameserver=172.31.0.1 --verbose /httpserver.so \"hello world\" \"a\\\"b\"");
	T_ASSERT(!strstr(out, "tsc_early_khz") && !strstr(out, "uigniter."));
	T_EQ_INT(pw_boot_line(&cfg, &img, &in, out, 40), -ENAMETOOLONG);
	ui_config_free(&cfg);
}

static void t_osv_line_limit(void)
{
	struct ui_config cfg;
	struct ui_image img;
	struct ui_cmd c;
	char out[4096], a[200], why[160];
	struct pw_boot_in in = { .ip = "172.31.0.7", .id = "vm-x" };

	cfg_init(&cfg);
	osv_image(&img);
	memset(&c, 0, sizeof(c));
	memset(a, 'x', sizeof(a));
	for (int i = 0; i < 2; i++) /* 2 × (200 bytes quoted as 200 "a b" …) */
		T_EQ_INT(ui_cmd_append(&c, a, sizeof(a), why, sizeof(why)), 0);
	in.cmd = &c;
	T_EQ_INT(pw_boot_line(&cfg, &img, &in, out, sizeof(out)), 0);
	memset(a, '"', sizeof(a)); /* escaped: 2 bytes each */
	memset(&c, 0, sizeof(c));
	T_EQ_INT(ui_cmd_append(&c, a, 200, why, sizeof(why)), 0);
	T_EQ_INT(ui_cmd_append(&c, a, 200, why, sizeof(why)), 0);
	T_EQ_INT(ui_cmd_append(&c, a, 100, why, sizeof(why)), 0);
	T_EQ_INT(pw_boot_line(&cfg, &img, &in, out, sizeof(out)), -ENAMETOOLONG); /* OSv: 1024 */
	ui_config_free(&cfg);
}

static void t_linux_line_cmd(void)
{
	static const char *const run[] = { "/bin/sh", "-c", "echo hi", NULL };
	struct ui_config cfg;
	struct ui_image img;
	struct ui_cmd c;
	char out[2048];
	struct pw_boot_in in = { .ip = "172.31.0.2", .id = "vm-x", .linux_extra = "tsc_early_khz=9" };

	cfg_init(&cfg);
	memset(&img, 0, sizeof(img));
	snprintf(img.boot_args, sizeof(img.boot_args), "console=ttyS0");
	T_EQ_INT(pw_boot_line(&cfg, &img, &in, out, sizeof(out)), 0);
	T_EQ_STR(out, "console=ttyS0 tsc_early_khz=9 ip=172.31.0.2::172.31.0.1:255.255.255.0::eth0:off "
		      "uigniter.id=vm-x");
	cmd_of(&c, run);
	in.cmd = &c;
	in.run_args = "quiet";
	T_EQ_INT(pw_boot_line(&cfg, &img, &in, out, sizeof(out)), 0);
	/* base64 of "/bin/sh\0-c\0echo hi\0" */
	T_EQ_STR(out, "console=ttyS0 tsc_early_khz=9 ip=172.31.0.2::172.31.0.1:255.255.255.0::eth0:off "
		      "uigniter.id=vm-x uigniter.cmd=L2Jpbi9zaAAtYwBlY2hvIGhpAA== quiet");
	ui_config_free(&cfg);
}

static void t_base64(void)
{
	char out[16];

	T_EQ_INT(pw_base64("", 0, out, sizeof(out)), 0);
	T_EQ_STR(out, "");
	T_EQ_INT(pw_base64("f", 1, out, sizeof(out)), 0);
	T_EQ_STR(out, "Zg==");
	T_EQ_INT(pw_base64("fo", 2, out, sizeof(out)), 0);
	T_EQ_STR(out, "Zm8=");
	T_EQ_INT(pw_base64("foobar", 6, out, sizeof(out)), 0);
	T_EQ_STR(out, "Zm9vYmFy");
	T_EQ_INT(pw_base64("foobar", 6, out, 8), -ENAMETOOLONG);
}

/* ---- machine, stop, argv, bodies ------------------------------------------ */

static void t_machine_and_stop(void)
{
	struct ui_image img;
	const char *why;

	osv_image(&img);
	T_EQ_INT(pw_machine(&img, UI_ACCEL_TCG, &why), UI_MACHINE_Q35);
	T_ASSERT(strstr(why, "HPET"));
	T_EQ_INT(pw_machine(&img, UI_ACCEL_KVM, &why), UI_MACHINE_MICROVM);
	T_ASSERT(strstr(why, "kvmclock"));
	T_EQ_INT(pw_machine(NULL, UI_ACCEL_TCG, &why), UI_MACHINE_MICROVM);
	T_EQ_INT(pw_stop_method(&img, UI_MACHINE_Q35, false), UI_STOP_POWERDOWN);
	T_EQ_INT(pw_stop_method(&img, UI_MACHINE_MICROVM, false), UI_STOP_KILL);
	T_EQ_INT(pw_stop_method(&img, UI_MACHINE_MICROVM, true), UI_STOP_POWERDOWN);
	img.machine = UI_MACHINE_MICROVM;
	T_EQ_INT(pw_machine(&img, UI_ACCEL_TCG, &why), UI_MACHINE_MICROVM);
	/* stock OSv halts there ("Neither paravirtual clock nor HPET"): the log says so */
	T_ASSERT(strstr(why, "no clock under TCG"));
	T_EQ_INT(pw_machine(&img, UI_ACCEL_KVM, &why), UI_MACHINE_MICROVM);
	T_EQ_STR(why, "the image's machine setting");
	img.stop = UI_STOP_POWERDOWN;
	T_EQ_INT(pw_stop_method(&img, UI_MACHINE_MICROVM, false), UI_STOP_POWERDOWN);
	img.kind = UI_KIND_LINUX;
	img.stop = UI_STOP_AUTO;
	T_EQ_INT(pw_stop_method(&img, UI_MACHINE_MICROVM, false), UI_STOP_POWERDOWN);
}

/* OSv on microvm (acpi=off) powers off by an i8042 reset or a triple
 * fault; with -no-reboot QEMU ends with SHUTDOWN guest-reset, which must
 * read as the power-off it is (a clean exit), not a crash. */
static void t_osv_reset_is_poweroff(void)
{
	const enum ui_image_kind o = UI_KIND_OSV, l = UI_KIND_LINUX;

	T_EQ_STR(pw_guest_shutdown(o, UI_MACHINE_MICROVM, "guest-reset"), "guest-shutdown");
	T_EQ_STR(pw_guest_shutdown(o, UI_MACHINE_MICROVM, "guest-panic"), "guest-panic");
	T_EQ_STR(pw_guest_shutdown(o, UI_MACHINE_Q35, "guest-reset"), "guest-reset");
	T_EQ_STR(pw_guest_shutdown(o, UI_MACHINE_Q35, "guest-shutdown"), "guest-shutdown");
	T_ASSERT(pw_guest_shutdown(o, UI_MACHINE_MICROVM, NULL) == NULL);
	T_EQ_STR(pw_guest_shutdown(l, UI_MACHINE_MICROVM, "guest-reset"), "guest-reset");
}

static void t_argv_osv_q35_tcg(void)
{
	static struct pw_argv a;
	struct ui_image img;
	struct ui_vm vm;
	char s[4096];

	osv_image(&img);
	vm_init(&vm, "--rootfs=rofs /hello.so");
	T_EQ_INT(pw_qemu_argv_img("qemu-system-x86_64", UI_ACCEL_TCG, &img, UI_MACHINE_Q35, &vm,
				  &a), 0);
	joined(&a, s, sizeof(s));
	T_EQ_STR(s, "qemu-system-x86_64|-M|q35|-accel|tcg|-cpu|max|-m|64|-smp|1|"
		    "-nodefaults|-no-user-config|-nographic|-no-reboot|"
		    "-sandbox|on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny|"
		    "-kernel|/o/kernel.elf|-append|--rootfs=rofs /hello.so|"
		    "-drive|id=rootfs,file=/o/usr.raw,format=raw,if=none,readonly=on|"
		    "-device|virtio-blk-pci,drive=rootfs,romfile=|"
		    "-chardev|stdio,id=con,signal=off|-serial|chardev:con|"
		    "-netdev|tap,id=n0,ifname=uit-2,script=no,downscript=no|"
		    "-device|virtio-net-pci,netdev=n0,mac=06:00:ac:1f:00:02,romfile=|"
		    "-qmp|unix:/r/vm-x.qmp,server=on,wait=off");
}

/* Only zfs writes its disk: with no rootfs (OSv probes rofs first), ramfs
 * or virtiofs the disk is read-only — a writable open of a disk the VMM
 * user may only read failed the run ("Permission denied"). */
static void t_disk_read_only(void)
{
	static const char *const fses[] = { "", "rofs", "ramfs", "virtiofs", "zfs" };
	static struct pw_argv a;
	struct ui_image img;
	struct ui_vm vm;
	char s[4096];
	json_t *j;

	for (size_t i = 0; i < sizeof(fses) / sizeof(fses[0]); i++) {
		bool ro = strcmp(fses[i], "zfs") != 0;

		osv_image(&img);
		snprintf(img.osv_fs, sizeof(img.osv_fs), "%s", fses[i]);
		vm_init(&vm, "/hello.so");
		T_EQ_INT(pw_qemu_argv_img("qemu-system-x86_64", UI_ACCEL_TCG, &img, UI_MACHINE_Q35,
					  &vm, &a), 0);
		joined(&a, s, sizeof(s));
		T_EQ_INT(strstr(s, "format=raw,if=none,readonly=on|") != NULL, ro);
		j = pw_fc_root_drive(&vm, &img);
		T_EQ_INT(json_is_true(json_object_get(j, "is_read_only")), ro);
		json_decref(j);
	}
}

static void t_argv_osv_microvm_kvm(void)
{
	static struct pw_argv a;
	struct ui_image img;
	struct ui_vm vm;
	char s[4096];

	osv_image(&img);
	img.disk_format = UI_DISK_QCOW2;
	snprintf(img.osv_fs, sizeof(img.osv_fs), "zfs");
	vm_init(&vm, "--nopci /hello.so");
	snprintf(vm.initrd, sizeof(vm.initrd), "/ignored"); /* OSv has none */
	T_EQ_INT(pw_qemu_argv_img("qemu-system-x86_64", UI_ACCEL_KVM, &img, UI_MACHINE_MICROVM,
				  &vm, &a), 0);
	joined(&a, s, sizeof(s));
	T_EQ_STR(s, "qemu-system-x86_64|-M|microvm,acpi=off|-accel|kvm|-cpu|host|-m|64|-smp|1|"
		    "-nodefaults|-no-user-config|-nographic|-no-reboot|"
		    "-sandbox|on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny|"
		    "-global|virtio-mmio.force-legacy=off|"
		    "-kernel|/o/kernel.elf|-append|--nopci /hello.so|"
		    "-drive|id=rootfs,file=/o/usr.raw,format=qcow2,if=none|"
		    "-device|virtio-blk-device,drive=rootfs|"
		    "-chardev|stdio,id=con,signal=off|-serial|chardev:con|"
		    "-netdev|tap,id=n0,ifname=uit-2,script=no,downscript=no|"
		    "-device|virtio-net-device,netdev=n0,mac=06:00:ac:1f:00:02|"
		    "-qmp|unix:/r/vm-x.qmp,server=on,wait=off");
}

static void t_fc_bodies(void)
{
	struct ui_image img;
	struct ui_vm vm;
	json_t *j;
	char *s;

	osv_image(&img);
	vm_init(&vm, "--rootfs=rofs --nopci --ip=eth0,172.31.0.7,255.255.255.0 /hello.so");
	snprintf(vm.initrd, sizeof(vm.initrd), "/ignored");
	j = pw_fc_boot_source(&vm, &img);
	s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	T_EQ_STR(s, "{\"boot_args\":\"--rootfs=rofs --nopci --ip=eth0,172.31.0.7,255.255.255.0 "
		    "/hello.so\",\"kernel_image_path\":\"/o/kernel.elf\"}");
	free(s);
	json_decref(j);
	j = pw_fc_root_drive(&vm, &img);
	s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	T_EQ_STR(s, "{\"drive_id\":\"rootfs\",\"is_read_only\":true,\"is_root_device\":true,"
		    "\"path_on_host\":\"/o/usr.raw\"}");
	free(s);
	json_decref(j);
	j = pw_fc_boot_source(&vm, NULL); /* linux: its initrd */
	T_EQ_STR(json_string_value(json_object_get(j, "initrd_path")), "/ignored");
	json_decref(j);
	j = pw_fc_root_drive(&vm, NULL); /* linux: read-only (the VMM user's) */
	T_ASSERT(json_is_true(json_object_get(j, "is_read_only")));
	json_decref(j);
}

/* ---- config ------------------------------------------------------------------ */

/* text, then a vmm: section that allows images anywhere (vmm.image_dirs is
 * test_config's; after text: its line numbers stay). */
static int load(const char *text, struct ui_config *cfg, char *err, size_t errlen)
{
	static char buf[8192];
	int n = snprintf(buf, sizeof(buf), "%svmm: {image_dirs: [/]}\n", text);

	T_ASSERT(n > 0 && (size_t)n < sizeof(buf));
	return ui_config_load_text("u.yaml", "/etc/u", buf, (size_t)n, cfg, err, errlen);
}

static void t_config_osv(void)
{
	struct ui_config cfg;
	char err[512];
	const struct ui_image *img;

	T_EQ_INT(load("images:\n"
		      "  osv:\n"
		      "    kind: osv\n"
		      "    kernel: osv/kernel.elf\n"
		      "    disk: osv/usr.img\n"
		      "    disk_format: qcow2\n"
		      "    rootfs: rofs\n"
		      "    cmd: [/httpserver.so, --port, \"8000\"]\n"
		      "    machine: q35\n"
		      "    stop: powerdown\n"
		      "    allow_cmd: false\n"
		      "  lin:\n"
		      "    kernel: vmlinuz\n"
		      "    rootfs: disk.raw\n"
		      "    cmd: [/bin/sh, -c, \"echo $x\"]\n", &cfg, err, sizeof(err)), 0);
	img = ui_config_image(&cfg, "osv");
	T_ASSERT(img);
	T_EQ_INT(img->kind, UI_KIND_OSV);
	T_EQ_STR(img->kernel, "/etc/u/osv/kernel.elf");
	T_EQ_STR(img->disk, "/etc/u/osv/usr.img");
	T_EQ_INT(img->disk_format, UI_DISK_QCOW2);
	T_EQ_STR(img->osv_fs, "rofs");
	T_EQ_STR(img->rootfs, "");
	T_EQ_INT(img->cmd.argc, 3);
	T_EQ_INT(img->cmd.len, 27);
	T_ASSERT(memcmp(img->cmd.buf, "/httpserver.so\0--port\0" "8000", 27) == 0);
	T_EQ_INT(img->machine, UI_MACHINE_Q35);
	T_EQ_INT(img->stop, UI_STOP_POWERDOWN);
	T_ASSERT(!img->allow_cmd);
	T_EQ_STR(img->boot_args, ""); /* no Linux defaults for OSv */
	T_EQ_STR(img->ready_pattern, ""); /* our Linux init's line: OSv never prints it */
	img = ui_config_image(&cfg, "lin");
	T_EQ_INT(img->kind, UI_KIND_LINUX);
	T_EQ_STR(img->rootfs, "/etc/u/disk.raw");
	T_EQ_INT(img->cmd.argc, 3);
	T_ASSERT(img->allow_cmd);
	T_EQ_STR(img->boot_args, "console=ttyS0 reboot=k panic=-1");
	ui_config_free(&cfg);
}

static void t_config_osv_errors(void)
{
	struct ui_config cfg;
	char err[512];

	T_EQ_INT(load("images:\n  o:\n    kind: osv\n    kernel: k\n    rootfs: ext4\n    cmd: [/a.so]\n",
		      &cfg, err, sizeof(err)), -EINVAL);
	T_EQ_STR(err, "u.yaml:5:13: images.o.rootfs: \"ext4\" is not an OSv filesystem "
		      "(rofs, zfs, ramfs, virtiofs)");
	T_EQ_INT(load("images:\n  o:\n    kind: osv\n    kernel: k\n", &cfg, err, sizeof(err)),
		 -EINVAL);
	T_EQ_STR(err, "u.yaml:3:5: images.o: \"cmd\" is required for kind: osv");
	T_EQ_INT(load("images:\n  o:\n    kind: osv\n    kernel: k\n    cmd: [-x.so]\n",
		      &cfg, err, sizeof(err)), -EINVAL);
	T_EQ_STR(err, "u.yaml:5:10: images.o.cmd: an OSv command must not start with '-' "
		      "(it would be read as an OSv option)");
	T_EQ_INT(load("images:\n  o:\n    kernel: k\n    cmd: [a, [b]]\n", &cfg, err, sizeof(err)),
		 -EINVAL);
	T_EQ_STR(err, "u.yaml:4:14: images.o.cmd[1]: expected a string, found a list");
	T_EQ_INT(load("images:\n  o:\n    kernel: k\n    cmd: []\n", &cfg, err, sizeof(err)),
		 -EINVAL);
	T_EQ_STR(err, "u.yaml:4:10: images.o.cmd: must not be empty");
	T_EQ_INT(load("images:\n  o:\n    kernel: k\n    disk: d\n", &cfg, err, sizeof(err)),
		 -EINVAL);
	T_EQ_STR(err, "u.yaml:4:11: images.o.disk: only for kind: osv (a linux image's disk is rootfs)");
	T_EQ_INT(load("images:\n  o:\n    kernel: k\n    allow_cmd: maybe\n", &cfg, err,
		      sizeof(err)), -EINVAL);
	T_EQ_STR(err, "u.yaml:4:16: images.o.allow_cmd: \"maybe\" is not a boolean (true or false)");
	T_EQ_INT(load("images:\n  o:\n    kernel: k\n    machine: pc\n", &cfg, err, sizeof(err)),
		 -EINVAL);
	T_EQ_STR(err, "u.yaml:4:14: images.o.machine: \"pc\" is not one of: auto, microvm, q35");
}

/* Writes a 64 KiB file at dir/name beginning with head (hn bytes). */
static void put_disk(const char *dir, const char *name, const void *head, size_t hn,
		     char *path, size_t len)
{
	static char zero[65536];
	FILE *f;

	snprintf(path, len, "%s/%s", dir, name);
	T_ASSERT((f = fopen(path, "w")) != NULL);
	T_ASSERT(fwrite(zero, 1, sizeof(zero), f) == sizeof(zero));
	T_ASSERT(fseek(f, 0, SEEK_SET) == 0);
	T_ASSERT(hn == 0 || fwrite(head, 1, hn, f) == hn);
	T_ASSERT(fclose(f) == 0);
}

/* A real OSv build's usr.img is qcow2: named as raw (the default), QEMU
 * hands OSv the qcow2 bytes as its disk and OSv finds no file ("Failed to
 * load object"). The config says so at the key, and the other way round. */
static void t_config_disk_format(void)
{
	char dir[] = "/tmp/test_osv.XXXXXX", q[256], r[256], text[1024], want[1024];
	struct ui_config cfg;
	char err[512];

	T_ASSERT(mkdtemp(dir));
	put_disk(dir, "usr.img", "QFI\xfb\0\0\0\3", 8, q, sizeof(q));
	put_disk(dir, "usr.raw", NULL, 0, r, sizeof(r));

	snprintf(text, sizeof(text), "images:\n  o:\n    kind: osv\n    kernel: k\n"
		 "    cmd: [/a.so]\n    disk: %s\n", q);
	T_EQ_INT(load(text, &cfg, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "u.yaml:6:11: images.o.disk: %s is a qcow2 file, but "
		 "disk_format is raw (set disk_format: qcow2, or make a raw copy: "
		 "qemu-img convert -O raw)", q);
	T_EQ_STR(err, want);

	snprintf(text, sizeof(text), "images:\n  o:\n    kind: osv\n    kernel: k\n"
		 "    cmd: [/a.so]\n    disk: %s\n    disk_format: qcow2\n", r);
	T_EQ_INT(load(text, &cfg, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "u.yaml:7:18: images.o.disk_format: qcow2, but %s is "
		 "not a qcow2 file (no QFI magic): disk_format: raw", r);
	T_EQ_STR(err, want);

	snprintf(text, sizeof(text), "images:\n  o:\n    kind: osv\n    kernel: k\n"
		 "    cmd: [/a.so]\n    disk: %s\n    disk_format: qcow2\n"
		 "  p:\n    kind: osv\n    kernel: k\n    cmd: [/a.so]\n    disk: %s\n"
		 "  m:\n    kind: osv\n    kernel: k\n    cmd: [/a.so]\n    disk: %s/none\n", q, r,
		 dir);
	T_EQ_INT(load(text, &cfg, err, sizeof(err)), 0); /* a missing one: the VMM says */
	ui_config_free(&cfg);
	T_ASSERT(unlink(q) == 0 && unlink(r) == 0 && rmdir(dir) == 0);
}

/* ---- the run body ---------------------------------------------------------------- */

static void t_run_body(void)
{
	struct ui_config cfg;
	struct run_params run;
	struct http_response resp;
	char err[512];
	const char *body;

#define PARSE(b) (memset(&run, 0, sizeof(run)), memset(&resp, 0, sizeof(resp)), \
		  route_parse_run(b, strlen(b), &cfg, &run, &resp))
	T_EQ_INT(load("images:\n  lin:\n    kernel: k\n"
		      "  osv:\n    kind: osv\n    kernel: k\n    cmd: [/a.so]\n"
		      "  fixed:\n    kernel: k\n    allow_cmd: false\n", &cfg, err, sizeof(err)), 0);
	T_EQ_INT(PARSE("{\"image\":\"lin\",\"cmd\":[\"/bin/sh\",\"-c\",\"echo 'x y'\"],"
		       "\"boot_args\":\"quiet\"}"), 0);
	T_ASSERT(run.cmd_set);
	T_EQ_INT(run.cmd.argc, 3);
	T_EQ_STR(run.boot_args, "quiet");
	T_EQ_INT(PARSE("{\"image\":\"lin\",\"cmd\":\"/bin/sh\"}"), -EINVAL);
	T_EQ_INT(resp.status, 400);
	T_ASSERT(strstr(resp.body, "cmd must be a list of strings"));
	http_response_free(&resp);
	T_EQ_INT(PARSE("{\"image\":\"lin\",\"cmd\":[\"a\",1]}"), -EINVAL);
	T_ASSERT(strstr(resp.body, "cmd[1] must be a string"));
	http_response_free(&resp);
	T_EQ_INT(PARSE("{\"image\":\"lin\",\"cmd\":[\"a\\nb\"]}"), -EINVAL);
	T_ASSERT(strstr(resp.body, "control character"));
	http_response_free(&resp);
	T_EQ_INT(PARSE("{\"image\":\"lin\",\"cmd\":[\"a\\u0000b\"]}"), -EINVAL);
	T_EQ_INT(resp.status, 400); /* jansson refuses \u0000: bad_json */
	http_response_free(&resp);
	T_EQ_INT(PARSE("{\"image\":\"lin\",\"cmd\":[]}"), -EINVAL);
	http_response_free(&resp);
	T_EQ_INT(PARSE("{\"image\":\"lin\",\"boot_args\":\"a -- b\"}"), -EINVAL);
	T_ASSERT(strstr(resp.body, "goes to init"));
	http_response_free(&resp);
	T_EQ_INT(PARSE("{\"image\":\"osv\",\"cmd\":[\"--evil\"]}"), -EINVAL);
	T_ASSERT(strstr(resp.body, "OSv option"));
	http_response_free(&resp);
	T_EQ_INT(PARSE("{\"image\":\"osv\",\"boot_args\":\"/x.so\"}"), -EINVAL);
	http_response_free(&resp);
	T_EQ_INT(PARSE("{\"image\":\"osv\",\"cmd\":[\"/b.so\",\"x y\"],\"boot_args\":\"--verbose\"}"), 0);
	body = "{\"image\":\"fixed\",\"cmd\":[\"/bin/true\"]}";
	T_EQ_INT(PARSE(body), -EINVAL);
	T_ASSERT(strstr(resp.body, "does not allow a per-run cmd"));
	http_response_free(&resp);
#undef PARSE
	ui_config_free(&cfg);
}

int main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		T_CASE(t_cmd_rules),
		T_CASE(t_boot_args_rules),
		T_CASE(t_osv_quote),
		T_CASE(t_osv_line),
		T_CASE(t_osv_line_limit),
		T_CASE(t_linux_line_cmd),
		T_CASE(t_base64),
		T_CASE(t_machine_and_stop),
		T_CASE(t_osv_reset_is_poweroff),
		T_CASE(t_argv_osv_q35_tcg),
		T_CASE(t_argv_osv_microvm_kvm),
		T_CASE(t_disk_read_only),
		T_CASE(t_fc_bodies),
		T_CASE(t_config_osv),
		T_CASE(t_config_osv_errors),
		T_CASE(t_config_disk_format),
		T_CASE(t_run_body),
		{ 0 },
	};

	return t_run(argc, argv, cases);
}
