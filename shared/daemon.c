/*
 * daemon.c — the daemon skeleton (see daemon.h for the contract it keeps).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/close_range.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon.h"
#include "lock.h"
#include "log.h"

/* The --config argument, or NULL; -EINVAL on a bad command line. */
static int parse_args(int argc, char **argv, const char **path)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	*path = NULL;
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:", opts, NULL)) != -1) {
		if (c != 'c')
			return -EINVAL;
		*path = optarg;
	}
	return optind == argc ? 0 : -EINVAL;
}

int ui_daemon_init(struct ui_daemon_ctx *d, enum ui_daemon which, int argc, char **argv)
{
	const char *restart = getenv(UI_RESTART_ENV);
	const char *path;
	char err[1024];

	memset(d, 0, sizeof(*d));
	d->lock_fd = -1;
	d->which = which;
	d->prog = ui_daemon_name(which);
	d->restarted = restart && !strcmp(restart, "1");
	ui_log_init(d->prog, UI_LOG_INFO);
	signal(SIGPIPE, SIG_IGN); /* a peer that vanished is an EPIPE */
	signal(SIGHUP, SIG_IGN);  /* until the loop's handler is on */
	if (parse_args(argc, argv, &path) < 0) {
		ui_error("usage: %s [--config PATH]", d->prog);
		return ui_daemon_permanent(d);
	}
	if (!path) {
		ui_config_defaults(&d->cfg);
	} else if (ui_config_load(path, &d->cfg, err, sizeof(err)) < 0) {
		ui_error("config: %s", err);
		return ui_daemon_permanent(d);
	}
	ui_log_init(d->prog, d->cfg.log_level);
	umask(ui_config_umask(&d->cfg)); /* what a daemon creates: perms.h */
	ui_log_set_format(d->cfg.log_format);
	return 0;
}

int ui_daemon_permanent(const struct ui_daemon_ctx *d)
{
	if (!d->restarted)
		return UI_EXIT_PERMANENT;
	ui_error("this fault was not there when %s first started: exit %d (temporary), "
		 "the manager keeps serving and restarts %s", d->prog, UI_EXIT_TEMPORARY, d->prog);
	return UI_EXIT_TEMPORARY;
}

/* The doorbells are inherited without O_CLOEXEC: VMMs must not get them,
 * nor anything else a careless parent left open above them. */
static int claim_fds(void)
{
	/* Linux >= 5.11; on older kernels the contract (fds 0..7) must hold. */
	if (close_range(UI_DOORBELL_FD(UI_RING_COUNT), ~0u, CLOSE_RANGE_CLOEXEC) < 0)
		ui_debug("close_range: %s", strerror(errno));
	for (int ring = 0; ring < UI_RING_COUNT; ring++) {
		int fd = UI_DOORBELL_FD(ring);
		int flags = fcntl(fd, F_GETFD);

		if (flags < 0 || fcntl(fd, F_SETFD, flags | FD_CLOEXEC) < 0) {
			ui_error("doorbell fd %d is not open: daemons are started by "
				 "uigniterd", fd);
			return -EBADF;
		}
	}
	return 0;
}

/* One daemon of each role per state_dir, held until ui_daemon_fini: a
 * second set (a manager started while an older one's daemons survive) is
 * refused before it touches the shm or the registry. */
static int take_role_lock(struct ui_daemon_ctx *d)
{
	char path[PATH_MAX + 32];
	pid_t holder;
	int rc = ui_lock_role_path(&d->cfg, d->which, path, sizeof(path));

	if (rc == 0)
		rc = ui_lock_take(path, &d->lock_fd, &holder);
	if (rc == -EBUSY) {
		char pid[16] = "?";

		if (holder > 0)
			snprintf(pid, sizeof(pid), "%d", (int)holder);
		ui_error("another %s (pid %s) is running with state_dir %s; only "
			 "one set of daemons may run against a state_dir", d->prog,
			 pid, d->cfg.state_dir);
	} else if (rc < 0) {
		ui_error("lock %s: %s", path, strerror(-rc));
	}
	return rc;
}

/* The segment's name from the environment; NULL (said why) if not set. */
static const char *shm_env(void)
{
	const char *name = getenv(UI_SHM_ENV);

	if (!name || !name[0]) {
		ui_error("%s is not set: daemons are started by uigniterd", UI_SHM_ENV);
		return NULL;
	}
	return name;
}

static int attach_shm(struct ui_daemon_ctx *d, const char *name)
{
	int rc = ui_shm_attach(name, &d->shm);

	if (rc < 0)
		ui_error("shm %s: %s", name, strerror(-rc));
	return rc;
}

static int open_registry(struct ui_daemon_ctx *d, int reg_flags)
{
	char path[PATH_MAX + 16];
	int rc;

	ui_config_registry_path(&d->cfg, path, sizeof(path));
	rc = ui_registry_open(path, reg_flags, &d->reg);
	if (rc < 0)
		ui_error("registry %s: %s", path, strerror(-rc));
	else /* a lock held elsewhere must not stop our loop (registry.h) */
		ui_registry_set_busy_timeout(d->reg, UI_REG_LOOP_BUSY_MS);
	return rc;
}

int ui_daemon_attach(struct ui_daemon_ctx *d, int reg_flags)
{
	const char *shm_name;
	int rc;

	if (claim_fds() < 0 || !(shm_name = shm_env()))
		return UI_EXIT_PERMANENT;
	if (take_role_lock(d) < 0)
		return UI_EXIT_TEMPORARY; /* the holder will be gone */
	if (attach_shm(d, shm_name) < 0)
		return UI_EXIT_TEMPORARY;
	/* What a previous instance published is not ours. */
	ui_daemon_set_fault(d->shm, d->which, 0, NULL);
	atomic_store(&d->shm->daemon[d->which].reg_error, 0);
	if ((rc = open_registry(d, reg_flags)) < 0)  /* -EPROTO: wrong schema */
		return rc == -EPROTO ? ui_daemon_permanent(d) : UI_EXIT_TEMPORARY;
	/* its writes' latency and event commits, for GET /metrics and /events */
	ui_registry_set_metrics(d->reg, &d->shm->metrics.reg[d->which]);
	rc = uv_loop_init(&d->loop);
	if (rc < 0) {
		ui_error("event loop: %s", uv_strerror(rc));
		return UI_EXIT_TEMPORARY;
	}
	d->loop_ok = true;
	d->loop.data = d;
	return 0;
}

static void on_heartbeat(uv_timer_t *t)
{
	struct ui_daemon_ctx *d = t->data;

	ui_daemon_heartbeat(d->shm, d->which);
	atomic_store_explicit(&d->shm->daemon[d->which].reg_commits,
			      ui_registry_commits(d->reg), memory_order_relaxed);
	atomic_store_explicit(&d->shm->daemon[d->which].reg_error,
			      ui_registry_write_error(d->reg), memory_order_relaxed);
	if (d->on_tick)
		d->on_tick(d);
}

/* SIGHUP, every daemon: the images (the file's images: and images_dir) are
 * re-read first; a table in use is retired, never freed (config.h). */
static void reload_images(struct ui_daemon_ctx *d)
{
	size_t before = d->cfg.n_images;
	char err[1024];

	if (!d->cfg.path[0])
		return;
	if (ui_config_reload_images(&d->cfg, err, sizeof(err)) < 0)
		ui_error("SIGHUP: %s; images unchanged", err);
	else
		ui_info("SIGHUP: images reloaded (%zu, were %zu)", d->cfg.n_images, before);
}

static void on_signal(uv_signal_t *s, int signum)
{
	struct ui_daemon_ctx *d = s->data;

	if (signum == SIGHUP) {
		reload_images(d);
		if (d->on_reload)
			d->on_reload(d);
		return;
	}
	if (d->exiting)
		return; /* the loop is ending */
	if (d->on_stop)
		d->on_stop(d, signum);
	else
		ui_daemon_exit(d);
}

static int start_handles(struct ui_daemon_ctx *d)
{
	uv_signal_t *sig[3] = { &d->sig_term, &d->sig_int, &d->sig_hup };
	static const int signums[3] = { SIGTERM, SIGINT, SIGHUP };
	int rc = uv_timer_init(&d->loop, &d->heartbeat);

	d->heartbeat.data = d;
	if (rc == 0)
		rc = uv_timer_start(&d->heartbeat, on_heartbeat, 1000, 1000);
	for (int i = 0; i < 3 && rc == 0; i++) {
		sig[i]->data = d;
		rc = uv_signal_init(&d->loop, sig[i]);
		if (rc == 0)
			rc = uv_signal_start(sig[i], on_signal, signums[i]);
	}
	return rc;
}

int ui_daemon_run(struct ui_daemon_ctx *d)
{
	int rc = start_handles(d);

	if (rc < 0) {
		ui_error("heartbeat/signal handlers: %s", uv_strerror(rc));
		ui_daemon_exit(d);
		uv_run(&d->loop, UV_RUN_DEFAULT);
		return UI_EXIT_TEMPORARY;
	}
	ui_daemon_set_ready(d->shm, d->which);
	uv_run(&d->loop, UV_RUN_DEFAULT);
	ui_info("stopped");
	return UI_EXIT_OK;
}

static void close_walk(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

void ui_daemon_exit(struct ui_daemon_ctx *d)
{
	d->exiting = true;
	uv_walk(&d->loop, close_walk, NULL);
}

void ui_daemon_fini(struct ui_daemon_ctx *d)
{
	if (d->loop_ok) {
		uv_walk(&d->loop, close_walk, NULL);
		uv_run(&d->loop, UV_RUN_DEFAULT);
		if (uv_loop_close(&d->loop) < 0)
			ui_warn("event loop closed with handles still open");
	}
	ui_registry_close(d->reg);
	ui_shm_detach(d->shm);
	ui_config_free(&d->cfg);
	if (d->lock_fd >= 0)
		close(d->lock_fd); /* last: the role is free once we are done */
	d->lock_fd = -1;
}
