/*
 * main.c — apid, the REST API daemon: wiring only. The daemon skeleton
 * (daemon.h: argv, config, shm, registry read-only, heartbeat, signals,
 * exit codes), then the backend (discards ring 1, starts consuming it) and
 * the listeners (TCP with its bearer token, auth.h). A listener that cannot
 * be configured at all, or a token file that cannot be used, is a
 * permanent failure; one that cannot bind now (address in use) temporary.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "backend.h"
#include "daemon.h"
#include "log.h"
#include "server.h"
#include "token.h"

struct apid {
	struct ui_daemon_ctx d;
	struct backend be;
	struct apid_server srv;
};

/* The TCP listener's bearer token (auth.h): uigniterd made the file; one
 * that is missing, open to others or not a token is a permanent fault. */
static int load_token(struct apid *a)
{
	const struct ui_config *cfg = &a->d.cfg;
	char tok[UI_TOKEN_MAX + 1], err[PATH_MAX + 200];
	int rc;

	if (!cfg->api_token_file[0]) {
		ui_warn("api.token_file is \"\": TCP %s takes requests without a token",
			cfg->api_tcp);
		return 0;
	}
	if ((rc = ui_token_load(cfg->api_token_file, tok, err, sizeof(err))) < 0) {
		ui_error("%s", err);
		return -EINVAL;
	}
	apid_server_set_token(&a->srv, tok);
	memset(tok, 0, sizeof(tok));
	return 0;
}

static int listen_all(struct apid *a)
{
	const struct ui_config *cfg = &a->d.cfg;
	int rc, port;

	if (!cfg->api_tcp[0] && !cfg->api_unix[0]) {
		ui_error("neither api tcp nor unix listener is configured");
		return -EINVAL;
	}
	if (cfg->api_tcp[0]) {
		if ((rc = load_token(a)) < 0)
			return rc;
		if ((rc = apid_server_listen_tcp(&a->srv, cfg->api_tcp, &port)) < 0) {
			ui_error("listen %s: %s", cfg->api_tcp, uv_strerror(rc));
			return rc;
		}
		ui_info("listening on %s", cfg->api_tcp);
	}
	if (cfg->api_unix[0]) {
		if ((rc = apid_server_listen_unix(&a->srv, cfg->api_unix)) < 0) {
			ui_error("listen %s: %s", cfg->api_unix, uv_strerror(rc));
			return rc;
		}
		ui_info("listening on %s", cfg->api_unix);
	}
	return 0;
}

static void on_stop(struct ui_daemon_ctx *d, int signum)
{
	struct apid *a = d->data;

	ui_info("signal %d: stopping", signum);
	apid_server_close(&a->srv);
	backend_close(&a->be);
	ui_daemon_exit(d);
}

/* Backend and listeners on the skeleton's loop; returns an exit code. */
static int serve(struct apid *a)
{
	struct backend_deps deps = { &a->d.cfg, a->d.reg, a->d.shm,
				     UI_DOORBELL_FD(UI_RING_API_TO_POOL),
				     UI_DOORBELL_FD(UI_RING_POOL_TO_API) };
	struct apid_server_opts opts;
	int rc;

	apid_server_opts_from_config(&opts, &a->d.cfg);
	apid_server_fit_fds(&opts);
	apid_server_init(&a->srv, &a->d.loop, &a->d.cfg, &opts, &a->be);
	if ((rc = backend_init(&a->be, &a->d.loop, &deps, apid_server_on_reply, &a->srv)) < 0) {
		ui_error("reply doorbell: %s", uv_strerror(rc));
		return UI_EXIT_TEMPORARY;
	}
	if ((rc = listen_all(a)) < 0)
		return rc == -EINVAL ? ui_daemon_permanent(&a->d) : UI_EXIT_TEMPORARY;
	a->d.data = a;
	a->d.on_stop = on_stop;
	ui_info("ready (generation %u)", a->be.gen);
	return ui_daemon_run(&a->d);
}

int main(int argc, char **argv)
{
	static struct apid a; /* big (config, server read buffer): not on the stack */
	int code = ui_daemon_init(&a.d, UI_D_APID, argc, argv);

	if (code == 0)
		code = ui_daemon_attach(&a.d, UI_REG_RDONLY);
	if (code == 0)
		code = serve(&a);
	ui_daemon_fini(&a.d);
	return code;
}
