/*
 * main.c — pool-worker: the daemon skeleton (daemon.h), the VMM choice,
 * then the worker (worker.h).
 *
 * The VMM is chosen from the config alone, before shm or netd are needed:
 * vmm.driver firecracker needs its binary (missing: permanent failure,
 * exit 100), auto takes firecracker when its binary is there and KVM runs
 * guests (accel.h's probe), else qemu; the log says which and why.
 * Then the cgroup hierarchy (cgroup.h; vmm.cgroup v1/v2 asked for and not
 * usable: exit 100). SIGHUP reloads pool.size and pool.warm_image. SIGTERM: warm slots are
 * retired, VMs left running (re-adopted next start) or stopped first
 * (shutdown_policy: stop).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "accel.h"
#include "cgroup.h"
#include "daemon.h"
#include "log.h"
#include "vmm_proc.h"
#include "worker.h"

static bool program_found(const char *prog)
{
	char path[PATH_MAX];

	return pw_find_program(prog, path, sizeof(path)) == 0;
}

/* Resolves vmm.driver into cfg->driver and the accelerator. -ENOENT:
 * firecracker asked for and missing. */
static int choose_vmm(struct ui_config *cfg, enum ui_accel *accel)
{
	bool found = cfg->driver != UI_DRIVER_QEMU && program_found(cfg->firecracker_bin);
	const char *how = cfg->driver == UI_DRIVER_AUTO ? "auto" : "configured";
	char why[PATH_MAX + 64] = "";

	if (cfg->driver == UI_DRIVER_FIRECRACKER && !found) {
		ui_error("vmm.driver is firecracker, but %s is not an executable file%s",
			 cfg->firecracker_bin, strchr(cfg->firecracker_bin, '/') ? "" : " in PATH");
		return -ENOENT;
	}
	if (cfg->driver == UI_DRIVER_AUTO) {
		if (!found)
			snprintf(why, sizeof(why), "%s not found", cfg->firecracker_bin);
		else if (!pw_kvm_probe(why, sizeof(why)))
			found = false;
		cfg->driver = found ? UI_DRIVER_FIRECRACKER : UI_DRIVER_QEMU;
	}
	if (cfg->driver == UI_DRIVER_FIRECRACKER) {
		ui_info("vmm: firecracker %s (%s)", cfg->firecracker_bin, how);
		*accel = UI_ACCEL_KVM;
		return 0;
	}
	if (why[0])
		ui_info("vmm: qemu (auto; not firecracker: %s)", why);
	else
		ui_info("vmm: qemu (configured)");
	*accel = pw_accel_choose(cfg->accel);
	return 0;
}

/* libuv's thread pool runs the VMM spawns (vmm_proc.h): each thread waits
 * while its child execs, so a burst of runs wants more than libuv's 4. */
#define PW_SPAWN_THREADS "16"

int main(int argc, char **argv)
{
	static struct ui_daemon_ctx d; /* large (config paths): not on the stack */
	static struct pw_worker w;
	static struct pw_cgroups cg;
	char err[2 * PATH_MAX];
	bool have_cg = false;
	enum ui_accel accel;

	if (setenv("UV_THREADPOOL_SIZE", PW_SPAWN_THREADS, 0) < 0)
		return UI_EXIT_TEMPORARY;
	int code = ui_daemon_init(&d, UI_D_POOL, argc, argv);

	if (code == 0 && choose_vmm(&d.cfg, &accel) < 0)
		code = UI_EXIT_PERMANENT;
	if (code == 0 && pw_cg_setup(&cg, &d.cfg, err, sizeof(err)) < 0) {
		ui_error("cgroup: %s (vmm.cgroup: %s%s%s)", err,
			 d.cfg.cgroup == UI_CGROUP_V2 ? "v2" : d.cfg.cgroup == UI_CGROUP_V1 ? "v1" :
			 "auto", d.cfg.cgroup_root[0] ? ", cgroup_root " : "", d.cfg.cgroup_root);
		code = UI_EXIT_PERMANENT; /* what was asked for is not on this host */
	}
	have_cg = code == 0;
	if (code == 0)
		code = ui_daemon_attach(&d, 0);
	if (code == 0 && (pw_worker_init(&w, &d, accel, &cg) < 0 || pw_worker_start(&w) < 0))
		code = UI_EXIT_TEMPORARY;
	if (code == 0)
		code = ui_daemon_run(&d);
	if (w.d)
		pw_worker_fini(&w);
	if (have_cg)
		pw_cg_fini(&cg);
	ui_daemon_fini(&d);
	return code;
}
