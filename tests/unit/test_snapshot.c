/*
 * test_snapshot.c — the pure pieces of pool.boot snapshot (snapshot.h,
 * pool-worker/snapshot_argv.c): the template's and a slot's QEMU argv from
 * drv_qemu.c's, the template's kernel command line, the agent line.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "../../pool-worker/cmdline.h"
#include "../../pool-worker/snapshot.h"
#include "t.h"

static void base_argv(struct pw_argv *a)
{
	struct ui_vm vm = { 0 };

	snprintf(vm.kernel, sizeof(vm.kernel), "/g/vmlinuz");
	snprintf(vm.initrd, sizeof(vm.initrd), "/g/initrd");
	snprintf(vm.boot_args, sizeof(vm.boot_args), "console=ttyS0");
	snprintf(vm.tap, sizeof(vm.tap), "uit-1");
	snprintf(vm.mac, sizeof(vm.mac), "06:00:ac:1f:00:07");
	snprintf(vm.api_socket, sizeof(vm.api_socket), "/r/vms/x/qmp");
	vm.vcpus = 1;
	vm.mem_mib = 128;
	T_EQ_INT(pw_qemu_argv("qemu-system-x86_64", UI_ACCEL_TCG, &vm, a), 0);
}

static char *joined(const struct pw_argv *a, char *buf, size_t len)
{
	buf[0] = '\0';
	for (int i = 0; i < a->argc; i++) {
		strncat(buf, a->argv[i], len - strlen(buf) - 2);
		strncat(buf, " ", len - strlen(buf) - 1);
	}
	return buf;
}

static void t_template_argv(void)
{
	static struct pw_argv base, out;
	char s[8192];

	base_argv(&base);
	T_EQ_INT(pw_snap_argv(&base, true, "/r/vms/template/agent", &out), 0);
	joined(&out, s, sizeof(s));
	T_ASSERT(strstr(s, " -netdev hubport,id=n0,hubid=0 ") != NULL);
	T_ASSERT(strstr(s, "tap,") == NULL);
	T_ASSERT(strstr(s, " -device virtio-serial-device,max_ports=2 -chardev "
			"socket,id=ag,path=/r/vms/template/agent,server=on,wait=off -device "
			"virtserialport,chardev=ag,name=uigniter.agent ") != NULL);
	T_ASSERT(strstr(s, "-incoming") == NULL);
	T_EQ_INT(out.argc, base.argc + 6);
}

static void t_slot_argv(void)
{
	static struct pw_argv base, out;
	char s[8192];

	base_argv(&base);
	T_EQ_INT(pw_snap_argv(&base, false, "/r/vms/a,b/agent", &out), 0);
	joined(&out, s, sizeof(s));
	T_ASSERT(strstr(s, " -netdev tap,id=n0,ifname=uit-1,script=no,downscript=no ") != NULL);
	T_ASSERT(strstr(s, "mac=06:00:ac:1f:00:07") != NULL);
	T_ASSERT(strstr(s, "path=/r/vms/a,,b/agent,server") != NULL); /* QEMU's comma escape */
	T_EQ_STR(out.argv[out.argc - 3], "-S");
	T_EQ_STR(out.argv[out.argc - 2], "-incoming");
	T_EQ_STR(out.argv[out.argc - 1], "fd:3");
	T_ASSERT(out.argv[out.argc] == NULL);
}

static void t_cmdline(void)
{
	char s[256];

	T_EQ_INT(pw_snap_cmdline("console=ttyS0 quiet", "tsc_early_khz=1 tsc=reliable", s,
				 sizeof(s)), 0);
	T_EQ_STR(s, "console=ttyS0 quiet tsc_early_khz=1 tsc=reliable uigniter.agent=uigniter.agent");
	T_EQ_INT(pw_snap_cmdline("", NULL, s, sizeof(s)), 0);
	T_EQ_STR(s, "uigniter.agent=uigniter.agent");
	T_EQ_INT(pw_snap_cmdline("console=ttyS0", "", s, 20), -ENAMETOOLONG);
}

static void t_agent_line(void)
{
	uint8_t seed[32];
	char s[512];

	for (int i = 0; i < 32; i++)
		seed[i] = (uint8_t)(i * 17);
	T_EQ_INT(pw_snap_agent_line("console=ttyS0 ip=172.31.0.7::172.31.0.1:255.255.255.0::eth0:off "
				    "uigniter.id=vm-1", "06:00:ac:1f:00:07", seed, s, sizeof(s)), 0);
	T_EQ_STR(s, "ip=172.31.0.7::172.31.0.1:255.255.255.0::eth0:off uigniter.id=vm-1 "
		 "uigniter.mac=06:00:ac:1f:00:07 uigniter.seed=00112233445566778899aabbccddeeff"
		 "102132435465768798a9bacbdcedfe0f\n");
	T_EQ_INT(pw_snap_agent_line("ip=1.2.3.4 uigniter.id=x", "m", seed, s, sizeof(s)), 0);
	T_ASSERT(strncmp(s, "ip=1.2.3.4 uigniter.id=x uigniter.mac=m uigniter.seed=", 54) == 0);
	T_EQ_INT(pw_snap_agent_line("console=ttyS0 xip=1", "m", seed, s, sizeof(s)), -EINVAL);
	T_EQ_INT(pw_snap_agent_line("ip=1.2.3.4", "m", seed, s, 40), -ENAMETOOLONG);
}

int main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		T_CASE(t_template_argv),
		T_CASE(t_slot_argv),
		T_CASE(t_cmdline),
		T_CASE(t_agent_line),
		{ 0 },
	};

	return t_run(argc, argv, cases);
}
