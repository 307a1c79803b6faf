/*
 * snapshot_argv.c — the pure pieces of snapshot-started slots (snapshot.h):
 * the template's and a slot's QEMU argv from drv_qemu.c's, the template's
 * kernel command line, and the agent line a restored guest reads. No I/O;
 * exact strings in tests/unit/test_snapshot.c.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cmdline.h"
#include "snapshot.h"
#include "vmm_proc.h"

int pw_snap_argv(const struct pw_argv *base, bool template, const char *agent_sock,
		 struct pw_argv *out)
{
	char esc[2 * PATH_MAX], chardev[2 * PATH_MAX + 64], fd[32];
	int rc = 0;

	out->argc = 0;
	out->used = 0;
	out->argv[0] = NULL;
	if (pw_qemu_escape_commas(agent_sock, esc, sizeof(esc)) < 0)
		return -E2BIG;
	for (int i = 0; i < base->argc && rc == 0; i++) {
		const char *a = base->argv[i];

		if (template && strncmp(a, "tap,id=n0,", 10) == 0)
			a = "hubport,id=n0,hubid=0"; /* no tap, no lease: the slot brings its own */
		rc = pw_argv_add(out, a);
	}
	snprintf(chardev, sizeof(chardev), "socket,id=ag,path=%s,server=on,wait=off", esc);
	snprintf(fd, sizeof(fd), "fd:%d", PW_VMM_PASS_FD);
	if (rc || pw_argv_add(out, "-device") || pw_argv_add(out, "virtio-serial-device,max_ports=2") ||
	    pw_argv_add(out, "-chardev") || pw_argv_add(out, chardev) ||
	    pw_argv_add(out, "-device") ||
	    pw_argv_add(out, "virtserialport,chardev=ag,name=" PW_SNAP_PORT))
		return -E2BIG;
	if (!template && (pw_argv_add(out, "-S") || pw_argv_add(out, "-incoming") ||
			  pw_argv_add(out, fd)))
		return -E2BIG;
	return 0;
}

int pw_snap_cmdline_agent(const char *boot_args, const char *linux_extra, const char *agent,
			  char *out, size_t len)
{
	bool extra = linux_extra && linux_extra[0];
	int n = snprintf(out, len, "%s%s%s%suigniter.agent=%s", boot_args,
			 boot_args[0] ? " " : "", extra ? linux_extra : "", extra ? " " : "", agent);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int pw_snap_cmdline(const char *boot_args, const char *linux_extra, char *out, size_t len)
{
	return pw_snap_cmdline_agent(boot_args, linux_extra, PW_SNAP_PORT, out, len);
}

int pw_snap_agent_line(const char *boot_line, const char *mac, const uint8_t seed[32],
		       char *out, size_t len)
{
	const char *ip = strncmp(boot_line, "ip=", 3) == 0 ? boot_line : strstr(boot_line, " ip=");
	char hex[65];
	int n;

	if (!ip)
		return -EINVAL;
	if (*ip == ' ')
		ip++;
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", seed[i]);
	n = snprintf(out, len, "%s uigniter.mac=%s uigniter.seed=%s\n", ip, mac, hex);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}
