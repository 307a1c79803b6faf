/*
 * main.c — pool-worker entry point: arguments, config, shm, registry,
 * accelerator choice; then the worker loop (worker.c).
 *
 * Contract with uigniterd (docs/ARCHITECTURE.md): argv [--config PATH];
 * env UIGNITER_SHM; fds 3..6 the ring doorbells. SIGHUP reloads pool.size
 * and pool.warm_image (pool.c). Exit 0 on SIGTERM/SIGINT (warm slots are
 * released first; VMs are left running, re-adopted next start), 100 on a permanent failure
 * (bad config or command line, missing doorbells), 111 on a temporary one.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "accel.h"
#include "config.h"
#include "log.h"
#include "registry.h"
#include "shm.h"
#include "worker.h"

#define EXIT_PERMANENT 100
#define EXIT_TEMPORARY 111

static int load_config(int argc, char **argv, struct ui_config *cfg)
{
	char err[512];
	const char *path = NULL;
	int rc;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
			path = argv[++i];
		} else {
			fprintf(stderr, "usage: pool-worker [--config PATH]\n");
			return -EINVAL;
		}
	}
	if (!path) {
		ui_config_defaults(cfg);
		return 0;
	}
	rc = ui_config_load(path, cfg, err, sizeof(err));
	if (rc < 0)
		ui_error("config: %s", err);
	return rc;
}

/* The doorbells are inherited without O_CLOEXEC; VMMs must not get them,
 * nor anything else a careless parent left open above them. */
static int claim_doorbells(void)
{
	/* Linux >= 5.11; on older kernels the contract (fds 0..6) must hold. */
	if (close_range(UI_DOORBELL_FD(UI_RING_COUNT), ~0u, CLOSE_RANGE_CLOEXEC) < 0)
		ui_debug("close_range: %s", strerror(errno));
	for (int ring = 0; ring < UI_RING_COUNT; ring++) {
		int fd = UI_DOORBELL_FD(ring);
		int flags = fcntl(fd, F_GETFD);

		if (flags < 0 || fcntl(fd, F_SETFD, flags | FD_CLOEXEC) < 0) {
			ui_error("doorbell fd %d: %s", fd, strerror(errno));
			return -EBADF;
		}
	}
	return 0;
}

/* An executable regular file: prog itself if it has a '/', else in PATH
 * (as execvp will look it up). */
static bool program_found(const char *prog)
{
	const char *path = getenv("PATH");
	char buf[PATH_MAX];
	struct stat st;

	if (strchr(prog, '/'))
		return stat(prog, &st) == 0 && S_ISREG(st.st_mode) &&
		       access(prog, X_OK) == 0;
	for (const char *p = path ? path : "/usr/bin:/bin"; *p;) {
		size_t n = strcspn(p, ":");

		if (n && snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, p, prog) <
				 (int)sizeof(buf) &&
		    stat(buf, &st) == 0 && S_ISREG(st.st_mode) && access(buf, X_OK) == 0)
			return true;
		p += n + (p[n] == ':');
	}
	return false;
}

/*
 * Resolves vmm.driver into cfg->driver (lifecycle.c picks by it) and the
 * accelerator: firecracker runs on KVM only; auto = firecracker when its
 * binary is there and KVM runs guests, else qemu. -ENOENT: firecracker
 * asked for and missing (permanent).
 */
static int choose_vmm(struct ui_config *cfg, enum ui_accel *accel)
{
	bool found = cfg->driver != UI_DRIVER_QEMU && program_found(cfg->firecracker_bin);
	const char *how = cfg->driver == UI_DRIVER_AUTO ? "auto" : "configured";
	char why[PATH_MAX + 64] = "";

	if (cfg->driver == UI_DRIVER_FIRECRACKER && !found) {
		ui_error("vmm.driver is firecracker, but %s is not an executable "
			 "file%s", cfg->firecracker_bin,
			 strchr(cfg->firecracker_bin, '/') ? "" : " in PATH");
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

static int attach(const struct ui_config *cfg, struct ui_shm **shm,
		  struct ui_registry **reg)
{
	char name[128], path[PATH_MAX + 16];
	const char *env = getenv("UIGNITER_SHM");
	int rc;

	if (env && env[0])
		snprintf(name, sizeof(name), "%s", env);
	else
		ui_config_shm_name(cfg, name, sizeof(name));
	rc = ui_shm_attach(name, shm);
	if (rc < 0) {
		ui_error("shm %s: %s", name, strerror(-rc));
		return rc;
	}
	ui_config_registry_path(cfg, path, sizeof(path));
	rc = ui_registry_open(path, 0, reg);
	if (rc < 0) {
		ui_error("registry %s: %s", path, strerror(-rc));
		ui_shm_detach(*shm);
		*shm = NULL;
	}
	return rc;
}

int main(int argc, char **argv)
{
	struct ui_config cfg;
	struct ui_shm *shm = NULL;
	struct ui_registry *reg = NULL;
	struct pw_worker w;
	enum ui_accel accel;
	int status = EXIT_TEMPORARY;

	ui_log_init("pool-worker", UI_LOG_INFO);
	signal(SIGPIPE, SIG_IGN); /* a QMP peer that vanished is an EPIPE */
	signal(SIGHUP, SIG_IGN);  /* until the pool's reload handler is on */
	if (load_config(argc, argv, &cfg) < 0)
		return EXIT_PERMANENT;
	ui_log_init("pool-worker", cfg.log_level);
	if (claim_doorbells() < 0) {
		status = EXIT_PERMANENT;
		goto free_config;
	}
	if (choose_vmm(&cfg, &accel) < 0) {
		status = EXIT_PERMANENT;
		goto free_config;
	}
	if (attach(&cfg, &shm, &reg) < 0)
		goto free_config;
	if (pw_worker_init(&w, &cfg, shm, reg, accel) < 0)
		goto detach;
	pw_worker_run(&w);
	pw_worker_fini(&w);
	status = 0;
detach:
	ui_registry_close(reg);
	ui_shm_detach(shm);
free_config:
	ui_config_free(&cfg);
	return status;
}
