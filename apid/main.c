/*
 * main.c — apid, the REST API daemon: wiring only.
 *
 * Contract with uigniterd (docs/ARCHITECTURE.md): `apid [--config PATH]`,
 * env UIGNITER_SHM names the shm segment, fds 3..6 are the ring doorbells.
 * Exit codes: 0 after SIGTERM/SIGINT, 100 bad config/usage (restarting
 * cannot help), 111 temporary failure (shm, registry, listening).
 * Order: config → shm → registry (read-only) → backend (discards ring 1,
 * starts consuming it) → listeners → ready + 1 s heartbeat.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "backend.h"
#include "config.h"
#include "log.h"
#include "registry.h"
#include "server.h"
#include "shm.h"

#define EXIT_PERM 100
#define EXIT_TEMP 111

struct apid {
	uv_loop_t *loop;
	struct ui_config cfg;
	struct ui_shm *shm;
	struct ui_registry *reg;
	struct backend be;
	struct apid_server srv;
	uv_timer_t heartbeat;
	uv_signal_t sigterm, sigint;
};

static int load_config(int argc, char **argv, struct ui_config *cfg)
{
	char err[512];
	int rc;

	if (argc == 1) {
		ui_config_defaults(cfg);
		return 0;
	}
	if (argc != 3 || strcmp(argv[1], "--config") != 0) {
		ui_error("usage: apid [--config PATH]");
		return -EINVAL;
	}
	rc = ui_config_load(argv[2], cfg, err, sizeof(err));
	if (rc < 0)
		ui_error("%s", err);
	return rc;
}

static int attach(struct apid *a)
{
	const char *name = getenv("UIGNITER_SHM");
	char path[PATH_MAX];
	int rc;

	if (!name || !name[0]) {
		ui_error("UIGNITER_SHM is not set (apid is started by uigniterd)");
		return -EINVAL;
	}
	rc = ui_shm_attach(name, &a->shm);
	if (rc < 0) {
		ui_error("shm %s: %s", name, strerror(-rc));
		return rc;
	}
	ui_config_registry_path(&a->cfg, path, sizeof(path));
	rc = ui_registry_open(path, UI_REG_RDONLY, &a->reg);
	if (rc < 0)
		ui_error("registry %s: %s", path, strerror(-rc));
	return rc;
}

static int listen_all(struct apid *a)
{
	int rc, port;

	if (!a->cfg.api_tcp[0] && !a->cfg.api_unix[0]) {
		ui_error("neither api tcp nor unix listener is configured");
		return -EINVAL;
	}
	if (a->cfg.api_tcp[0]) {
		rc = apid_server_listen_tcp(&a->srv, a->cfg.api_tcp, &port);
		if (rc < 0) {
			ui_error("listen %s: %s", a->cfg.api_tcp, uv_strerror(rc));
			return rc;
		}
		ui_info("listening on %s", a->cfg.api_tcp);
	}
	if (a->cfg.api_unix[0]) {
		rc = apid_server_listen_unix(&a->srv, a->cfg.api_unix);
		if (rc < 0) {
			ui_error("listen %s: %s", a->cfg.api_unix, uv_strerror(rc));
			return rc;
		}
		ui_info("listening on %s", a->cfg.api_unix);
	}
	return 0;
}

static void on_heartbeat(uv_timer_t *t)
{
	struct apid *a = t->data;

	ui_daemon_heartbeat(a->shm, UI_D_APID);
}

static void on_signal(uv_signal_t *h, int signum)
{
	struct apid *a = h->data;

	ui_info("signal %d: stopping", signum);
	apid_server_close(&a->srv);
	backend_close(&a->be);
	uv_close((uv_handle_t *)&a->heartbeat, NULL);
	uv_close((uv_handle_t *)&a->sigterm, NULL);
	uv_close((uv_handle_t *)&a->sigint, NULL);
}

static void watch_signals(struct apid *a)
{
	uv_signal_init(a->loop, &a->sigterm);
	uv_signal_init(a->loop, &a->sigint);
	a->sigterm.data = a->sigint.data = a;
	uv_signal_start(&a->sigterm, on_signal, SIGTERM);
	uv_signal_start(&a->sigint, on_signal, SIGINT);
	/* A client that vanishes must not kill us on write. */
	signal(SIGPIPE, SIG_IGN);
}

/* Everything after config: returns the exit code. */
static int serve(struct apid *a)
{
	struct backend_deps deps;
	struct apid_server_opts opts;
	int rc;

	rc = attach(a);
	if (rc < 0)
		return rc == -EINVAL ? EXIT_PERM : EXIT_TEMP;
	deps = (struct backend_deps){ &a->cfg, a->reg, a->shm,
				      UI_DOORBELL_FD(UI_RING_API_TO_POOL),
				      UI_DOORBELL_FD(UI_RING_POOL_TO_API) };
	apid_server_opts_from_config(&opts, &a->cfg);
	apid_server_init(&a->srv, a->loop, &a->cfg, &opts, &a->be);
	rc = backend_init(&a->be, a->loop, &deps, apid_server_on_reply, &a->srv);
	if (rc < 0) {
		ui_error("reply doorbell: %s", uv_strerror(rc));
		return EXIT_TEMP;
	}
	watch_signals(a);
	rc = listen_all(a);
	if (rc < 0)
		return rc == -EINVAL ? EXIT_PERM : EXIT_TEMP;
	uv_timer_init(a->loop, &a->heartbeat);
	a->heartbeat.data = a;
	uv_timer_start(&a->heartbeat, on_heartbeat, 1000, 1000);
	ui_daemon_set_ready(a->shm, UI_D_APID);
	ui_info("ready (generation %u)", a->be.gen);
	uv_run(a->loop, UV_RUN_DEFAULT);
	return 0;
}

int main(int argc, char **argv)
{
	static struct apid a; /* big (server read buffer): not on the stack */
	int code;

	ui_log_init("apid", UI_LOG_INFO);
	if (load_config(argc, argv, &a.cfg) < 0)
		return EXIT_PERM;
	ui_log_init("apid", a.cfg.log_level);
	a.loop = uv_default_loop();
	code = serve(&a);
	/* After a failed start handles are still open: the exit cleans up. */
	if (code == 0)
		uv_loop_close(a.loop);
	ui_registry_close(a.reg);
	ui_shm_detach(a.shm);
	ui_config_free(&a.cfg);
	return code;
}
