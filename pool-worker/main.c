/*
 * main.c — pool-worker: the daemon skeleton (daemon.h), the VMM choice,
 * then the worker (worker.h).
 *
 * The VMM is chosen from the config alone, before shm or netd are needed:
 * vmm.driver firecracker needs its binary (missing at the first start:
 * permanent failure, exit 100; after a restart pool-worker serves on
 * without it, see choose_vmm), auto takes firecracker when its binary is
 * there and KVM runs guests (accel.h's probe), else qemu; the log says
 * which and why.
 * Then the cgroup hierarchy (cgroup.h; vmm.cgroup v1/v2 asked for and not
 * usable: exit 100 at a first start). SIGHUP reloads pool.size and
 * pool.warm_image. SIGTERM: warm slots are
 * retired, VMs left running (re-adopted next start) or stopped first
 * (shutdown_policy: stop). Every PRUNE_MS, limits.keep_stopped: the oldest
 * stopped/failed rows beyond it are deleted with their events
 * (ui_reg_vm_prune), PRUNE_BATCH per transaction, the next batch soon after
 * a full one.
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
 * firecracker asked for and missing at a first start. After a restart
 * (the binary was there before: it vanished while the manager ran) the
 * driver stays firecracker and pool-worker serves on — its VMs stay
 * managed, runs answer 503 until the binary is back (worker.c). */
static int choose_vmm(struct ui_config *cfg, bool restarted, enum ui_accel *accel)
{
	bool found = cfg->driver != UI_DRIVER_QEMU && program_found(cfg->firecracker_bin);
	const char *how = cfg->driver == UI_DRIVER_AUTO ? "auto" : "configured";
	char why[PATH_MAX + 64] = "";

	if (cfg->driver == UI_DRIVER_FIRECRACKER && !found) {
		ui_error("vmm.driver is firecracker, but %s is not an executable file%s",
			 cfg->firecracker_bin, strchr(cfg->firecracker_bin, '/') ? "" : " in PATH");
		if (!restarted)
			return -ENOENT;
		ui_error("it was there before this restart: serving on without it");
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

#define PRUNE_MS 5000
#define PRUNE_BATCH 500

static void on_prune(uv_timer_t *t)
{
	struct ui_daemon_ctx *d = t->data;
	unsigned n = 0;

	if (ui_reg_vm_prune(d->reg, d->cfg.keep_stopped, PRUNE_BATCH, &n) == 0 && n)
		ui_info("pruned %u stopped/failed VM(s) beyond limits.keep_stopped (%u)", n,
			d->cfg.keep_stopped);
	uv_timer_start(t, on_prune, n == PRUNE_BATCH ? 100 : PRUNE_MS, 0);
}

/* libuv's thread pool runs the VMM spawns (vmm_proc.h): each thread waits
 * while its child execs, so a burst of runs wants more than libuv's 4. */
#define PW_SPAWN_THREADS "16"

int main(int argc, char **argv)
{
	static struct ui_daemon_ctx d; /* large (config paths): not on the stack */
	static struct pw_worker w;
	static uv_timer_t prune;
	static struct pw_cgroups cg;
	char err[2 * PATH_MAX];
	bool have_cg = false;
	enum ui_accel accel = UI_ACCEL_TCG; /* set by choose_vmm */

	if (setenv("UV_THREADPOOL_SIZE", PW_SPAWN_THREADS, 0) < 0)
		return UI_EXIT_TEMPORARY;
	int code = ui_daemon_init(&d, UI_D_POOL, argc, argv), rc = 0;

	if (code == 0 && choose_vmm(&d.cfg, d.restarted, &accel) < 0)
		code = ui_daemon_permanent(&d);
	if (code == 0 && pw_cg_setup(&cg, &d.cfg, err, sizeof(err)) < 0) {
		ui_error("cgroup: %s (vmm.cgroup: %s%s%s)", err,
			 d.cfg.cgroup == UI_CGROUP_V2 ? "v2" : d.cfg.cgroup == UI_CGROUP_V1 ? "v1" :
			 "auto", d.cfg.cgroup_root[0] ? ", cgroup_root " : "", d.cfg.cgroup_root);
		code = ui_daemon_permanent(&d); /* what was asked for is not on this host */
	}
	have_cg = code == 0;
	if (code == 0)
		code = ui_daemon_attach(&d, 0);
	if (code == 0 && (rc = pw_worker_init(&w, &d, accel, &cg)) == -EACCES)
		code = UI_EXIT_PERMANENT; /* run_dir out of the VMM user's reach */
	else if (code == 0 && (rc < 0 || pw_worker_start(&w) < 0))
		code = UI_EXIT_TEMPORARY;
	if (code == 0 && uv_timer_init(&d.loop, &prune) == 0) {
		prune.data = &d;
		uv_unref((uv_handle_t *)&prune);
		uv_timer_start(&prune, on_prune, 1000, 0);
	}
	if (code == 0)
		code = ui_daemon_run(&d);
	if (w.d)
		pw_worker_fini(&w);
	if (have_cg)
		pw_cg_fini(&cg);
	ui_daemon_fini(&d);
	return code;
}
