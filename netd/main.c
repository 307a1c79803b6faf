/*
 * main.c — netd, the only uigniter process that touches host networking.
 *
 *   netd [--config PATH]      env UIGNITER_SHM, fds 3..6 = ring doorbells
 *
 * Start-up, in order: config, shm segment, registry (read-write; uigniterd
 * has created and migrated it), netlink socket, bridge + gateway address,
 * reconciliation of taps and leases, then the loop (server.c).
 * Exit codes (docs/ARCHITECTURE.md): 0 stopped by SIGTERM/SIGINT, 100 bad
 * config or invocation, 111 anything a restart may fix.
 * Bridge and taps are left in place on exit: VMs outlive manager restarts.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "config.h"
#include "leases.h"
#include "log.h"
#include "netlink.h"
#include "registry.h"
#include "server.h"
#include "shm.h"

#define EXIT_PERMANENT 100
#define EXIT_TEMPORARY 111

/* Everything main opens, closed in reverse by daemon_close. */
struct daemon {
	struct ui_config cfg;
	struct ui_shm *shm;
	struct ui_registry *reg;
	struct netlink *nl;
	struct leases leases;
	uv_loop_t loop;
	bool loop_ok;
};

static int usage(const char *prog)
{
	fprintf(stderr, "usage: %s [--config PATH]\n", prog);
	return EXIT_PERMANENT;
}

/* The --config argument, or NULL; *ok false on a bad command line. */
static const char *parse_args(int argc, char **argv, bool *ok)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = NULL;
	int c;

	*ok = true;
	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		if (c == 'c')
			path = optarg;
		else
			*ok = false;
	}
	if (optind != argc)
		*ok = false;
	return path;
}

static int load_config(const char *path, struct ui_config *cfg)
{
	char err[512];
	int rc;

	if (!path) {
		ui_config_defaults(cfg);
		return 0;
	}
	rc = ui_config_load(path, cfg, err, sizeof(err));
	if (rc < 0)
		ui_error("config: %s", err);
	return rc;
}

static int attach_shm(const struct ui_config *cfg, struct ui_shm **shm)
{
	const char *env = getenv("UIGNITER_SHM");
	char name[128];
	int rc;

	if (env && env[0])
		snprintf(name, sizeof(name), "%s", env);
	else
		ui_config_shm_name(cfg, name, sizeof(name));
	rc = ui_shm_attach(name, shm);
	if (rc < 0)
		ui_error("shm %s: %s", name, strerror(-rc));
	return rc;
}

/* Our two doorbells must have been inherited (we are run by uigniterd). */
static int check_doorbells(void)
{
	int fds[] = { UI_DOORBELL_FD(UI_RING_POOL_TO_NET), UI_DOORBELL_FD(UI_RING_NET_TO_POOL) };

	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		if (fcntl(fds[i], F_GETFD) < 0) {
			ui_error("doorbell fd %d is not open (netd is started by uigniterd)",
				 fds[i]);
			return -EBADF;
		}
	}
	return 0;
}

static int open_registry(const struct ui_config *cfg, struct ui_registry **reg)
{
	char path[PATH_MAX + 16];
	int rc;

	ui_config_registry_path(cfg, path, sizeof(path));
	rc = ui_registry_open(path, 0, reg);
	if (rc < 0)
		ui_error("registry %s: %s", path, strerror(-rc));
	return rc;
}

/* Network up and consistent with the registry; returns an exit code. */
static int setup_network(struct daemon *d)
{
	char err[256];
	int rc = netlink_open(&d->nl);

	if (rc < 0) {
		ui_error("netlink: %s", strerror(-rc));
		return EXIT_TEMPORARY;
	}
	rc = leases_init(&d->leases, &d->cfg, d->reg, d->nl, err, sizeof(err));
	if (rc < 0) {
		ui_error("%s", err);
		return rc == -EINVAL ? EXIT_PERMANENT : EXIT_TEMPORARY;
	}
	rc = leases_reconcile(&d->leases);
	if (rc < 0) {
		ui_error("reconcile: %s", strerror(-rc));
		return EXIT_TEMPORARY;
	}
	return 0;
}

/* Everything up to the loop; returns an exit code (0 = go on). */
static int daemon_open(struct daemon *d, const char *config_path)
{
	int rc;

	if (load_config(config_path, &d->cfg) < 0)
		return EXIT_PERMANENT;
	ui_log_init("netd", d->cfg.log_level);
	if (check_doorbells() < 0)
		return EXIT_PERMANENT;
	if (attach_shm(&d->cfg, &d->shm) < 0 || open_registry(&d->cfg, &d->reg) < 0)
		return EXIT_TEMPORARY;
	rc = setup_network(d);
	if (rc != 0)
		return rc;
	rc = uv_loop_init(&d->loop);
	if (rc < 0) {
		ui_error("event loop: %s", uv_strerror(rc));
		return EXIT_TEMPORARY;
	}
	d->loop_ok = true;
	return 0;
}

static void daemon_close(struct daemon *d)
{
	if (d->loop_ok && uv_loop_close(&d->loop) != 0)
		ui_warn("event loop closed with handles still open");
	netlink_close(d->nl);
	ui_registry_close(d->reg);
	ui_shm_detach(d->shm);
	ui_config_free(&d->cfg);
}

int main(int argc, char **argv)
{
	static struct daemon d; /* large (config paths): not on the stack */
	const char *config_path;
	bool args_ok;
	int code;

	ui_log_init("netd", UI_LOG_INFO);
	config_path = parse_args(argc, argv, &args_ok);
	if (!args_ok)
		return usage(argv[0]);
	code = daemon_open(&d, config_path);
	if (code == 0 && server_run(&d.loop, d.shm, &d.leases) < 0)
		code = EXIT_TEMPORARY;
	daemon_close(&d);
	if (code == 0)
		ui_info("stopped");
	return code;
}
