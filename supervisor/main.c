/*
 * main.c — uigniterd: loads the configuration, prepares the instance (state
 * and run directories, the single-instance lock, the wait for daemons of an
 * earlier manager to be gone, modes and the API token (access.c), the
 * registry, the shm segment) and supervises
 * netd, pool-worker and apid until SIGTERM/SIGINT.
 *
 * Under systemd (Type=notify) it reports READY=1 once every daemon is
 * ready and the API socket accepts, STOPPING=1 on SIGTERM, RELOADING=1
 * around a SIGHUP (notify.h).
 *
 * Exit codes: 0 clean stop, 100 permanent failure (bad config, another
 * instance, a child that failed permanently), 111 temporary failure.
 */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <uv.h>

#include "access.h"
#include "config.h"
#include "lock.h"
#include "log.h"
#include "notify.h"
#include "registry.h"
#include "shm.h"
#include "supervise.h"

#define UI_SURVIVOR_WAIT_MS 30000 /* for daemons of an earlier manager to exit */

struct manager {
	struct ui_config cfg;
	struct ui_supervisor sv;
	char shm_name[64];
	uv_signal_t sig[4];
	uv_timer_t ready_timer; /* polls for READY=1 until sent */
	int lock_fd;
};

#define UI_READY_POLL_MS 100

static void usage(FILE *out)
{
	fprintf(out,
		"usage: uigniterd [--config FILE] [--libexec DIR]\n"
		"  Runs the uigniter microVM manager in the foreground.\n"
		"  --config FILE  YAML configuration (default: embedded defaults)\n"
		"  --libexec DIR  where netd, pool-worker and apid are (default:\n"
		"                 next to uigniterd, else ../libexec/uigniter)\n");
}

/* Directory holding the daemons: --libexec, else beside our binary. */
static int find_libexec(const char *opt, char *buf, size_t len)
{
	char self[PATH_MAX], probe[PATH_MAX + 32];
	ssize_t n;

	if (opt) {
		snprintf(buf, len, "%s", opt);
		return 0;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n < 0)
		return -errno;
	self[n] = '\0';
	dirname(self);
	snprintf(probe, sizeof(probe), "%s/pool-worker", self);
	if (access(probe, X_OK) == 0) {
		snprintf(buf, len, "%s", self);
		return 0;
	}
	if (snprintf(buf, len, "%s/../libexec/uigniter", self) >= (int)len)
		return -ENAMETOOLONG;
	return 0;
}

/* The parents it makes are 0755 whatever the umask (like mkdir -p); the
 * last one gets mode & ~umask, and its final mode from access.c. */
static int mkdir_p(const char *path, mode_t mode)
{
	char tmp[PATH_MAX];

	snprintf(tmp, sizeof(tmp), "%s", path);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) == 0) {
			if (chmod(tmp, 0755) < 0)
				return -errno;
		} else if (errno != EEXIST) {
			return -errno;
		}
		*p = '/';
	}
	if (mkdir(tmp, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static int prepare_dirs(const struct ui_config *cfg)
{
	char vms[PATH_MAX + 8];
	int r;

	if ((r = mkdir_p(cfg->state_dir, 0755)) < 0 ||
	    (r = mkdir_p(cfg->run_dir, 0755)) < 0) {
		ui_error("cannot create state/run directories: %s", strerror(-r));
		return r;
	}
	snprintf(vms, sizeof(vms), "%s/vms", cfg->state_dir);
	if ((r = mkdir_p(vms, 0755)) < 0)
		return r;
	snprintf(vms, sizeof(vms), "%s/vms", cfg->run_dir);
	return mkdir_p(vms, 0755);
}

/* One manager per state_dir: an flock held for our lifetime (lock.h). */
static int take_lock(struct manager *m)
{
	char path[PATH_MAX + 16];
	pid_t holder;
	int r;

	snprintf(path, sizeof(path), "%s/uigniterd.lock", m->cfg.state_dir);
	r = ui_lock_take(path, &m->lock_fd, &holder);
	if (r == -EBUSY)
		ui_error("another uigniterd (pid %d) is already running with "
			 "state_dir %s", (int)holder, m->cfg.state_dir);
	else if (r < 0)
		ui_error("lock %s: %s", path, strerror(-r));
	return r;
}

/* How many daemons still hold their role lock; names each new holder once
 * (*seen: the holder last named, per role). */
static int count_survivors(const struct ui_config *cfg, pid_t seen[UI_D_COUNT])
{
	char path[PATH_MAX + 32];
	int n = 0;

	for (int d = 0; d < UI_D_COUNT; d++) {
		pid_t holder, key;
		int r = ui_lock_role_path(cfg, (enum ui_daemon)d, path, sizeof(path));

		if (r == 0)
			r = ui_lock_probe(path, &holder);
		if (r == 0)
			continue;
		n++;
		if (r != -EBUSY) {
			ui_error("lock %s: %s", path, strerror(-r));
			return -1;
		}
		key = holder ? holder : -1; /* -1: a holder whose pid is unknown */
		if (key != seen[d])
			ui_warn("%s (pid %d) from an earlier manager still runs with "
				"state_dir %s; waiting for it to exit",
				ui_daemon_name((enum ui_daemon)d), (int)holder,
				cfg->state_dir);
		seen[d] = key;
	}
	return n;
}

/* Two daemon sets never run against one state_dir: before spawning any,
 * wait until no daemon of an earlier manager holds its role lock (they die
 * with their manager, by SIGKILL: a moment). Gives up after
 * UI_SURVIVOR_WAIT_MS with -EBUSY (exit 111: retry later). */
static int wait_for_survivors(const struct ui_config *cfg)
{
	pid_t seen[UI_D_COUNT] = { 0 };
	uint64_t end = ui_now_ms() + UI_SURVIVOR_WAIT_MS;
	int n;

	while ((n = count_survivors(cfg, seen)) > 0 && ui_now_ms() < end)
		usleep(100 * 1000);
	if (n < 0)
		return -EIO;
	if (n > 0) {
		ui_error("%d daemon(s) of an earlier manager still run with state_dir "
			 "%s after %d s; not starting a second set", n,
			 cfg->state_dir, UI_SURVIVOR_WAIT_MS / 1000);
		return -EBUSY;
	}
	return 0;
}

static int prepare_registry(const struct ui_config *cfg)
{
	struct ui_registry *reg = NULL;
	char path[PATH_MAX + 16];
	int r;

	ui_config_registry_path(cfg, path, sizeof(path));
	r = ui_registry_open(path, UI_REG_CREATE, &reg);
	if (r < 0) {
		ui_error("registry %s: %s", path, strerror(-r));
		return r;
	}
	ui_info("registry %s at schema version %d", path, ui_registry_version(reg));
	ui_registry_close(reg);
	return 0;
}

/* The API's unix socket accepts a connection (true when it has none). */
static bool api_accepts(const struct ui_config *cfg)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	bool ok;
	int fd;

	if (!*cfg->api_unix || strlen(cfg->api_unix) >= sizeof(sa.sun_path))
		return true; /* none, or one apid cannot bind either (its error) */
	memcpy(sa.sun_path, cfg->api_unix, strlen(cfg->api_unix));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return false;
	ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

static void notify(const char *msg)
{
	int r = ui_sd_notify(msg);

	if (r < 0)
		ui_warn("NOTIFY_SOCKET: %s", strerror(-r));
}

/* READY=1 once: every daemon ready and the API answering. */
static void on_ready_poll(uv_timer_t *t)
{
	struct manager *m = t->data;

	if (m->sv.stopping) {
		uv_timer_stop(t);
		return;
	}
	for (int i = 0; i < UI_D_COUNT; i++)
		if (m->sv.child[i].state != UI_CHILD_RUNNING)
			return;
	if (!api_accepts(&m->cfg))
		return;
	ui_info("all daemons ready");
	notify("READY=1\nSTATUS=netd, pool-worker and apid are up");
	uv_timer_stop(t);
}

/* SIGHUP to daemon d, which reloads what it can change live. */
static void forward_hup(struct manager *m, enum ui_daemon d)
{
	pid_t pid = m->sv.child[d].pid;

	if (pid <= 0 || m->sv.stopping) {
		ui_info("SIGHUP: %s not running; not reloaded", ui_daemon_name(d));
		return;
	}
	ui_info("SIGHUP: forwarded to %s (pid %d); other settings apply at the next "
		"start", ui_daemon_name(d), (int)pid);
	if (kill(pid, SIGHUP) < 0)
		ui_warn("SIGHUP to %s: %s", ui_daemon_name(d), strerror(errno));
}

static void on_signal(uv_signal_t *h, int signum)
{
	struct manager *m = h->data;

	switch (signum) {
	case SIGCHLD:
		ui_supervisor_reap(&m->sv);
		break;
	case SIGHUP: /* images (all), pool.size, pool.warm_image (pool-worker), tap_stock (netd) */
		notify("RELOADING=1");
		forward_hup(m, UI_D_APID);
		forward_hup(m, UI_D_POOL);
		forward_hup(m, UI_D_NETD);
		notify("READY=1");
		break;
	default:
		if (!m->sv.stopping) {
			notify("STOPPING=1\nSTATUS=stopping");
			ui_info("%s: stopping (VMs are left running)", strsignal(signum));
			ui_supervisor_stop(&m->sv);
		}
	}
	if (ui_supervisor_finished(&m->sv))
		uv_stop(h->loop);
}

static void watch_signals(struct manager *m, uv_loop_t *loop)
{
	static const int sigs[4] = { SIGCHLD, SIGTERM, SIGINT, SIGHUP };

	for (int i = 0; i < 4; i++) {
		uv_signal_init(loop, &m->sig[i]);
		m->sig[i].data = m;
		uv_signal_start(&m->sig[i], on_signal, sigs[i]);
	}
}

static int load_config(struct manager *m, const char *path)
{
	char err[1024];
	int r;

	if (!path) {
		ui_config_defaults(&m->cfg);
		return 0;
	}
	r = ui_config_load(path, &m->cfg, err, sizeof(err));
	if (r < 0)
		fprintf(stderr, "uigniterd: %s\n", err);
	return r;
}

static int run(struct manager *m, const char *config_path, const char *libexec)
{
	uv_loop_t *loop = uv_default_loop();
	struct ui_shm *shm = NULL;
	int r;

	ui_log_init("uigniterd", m->cfg.log_level);
	ui_log_set_format(m->cfg.log_format);
	if (prepare_dirs(&m->cfg) < 0 || take_lock(m) < 0)
		return UI_EXIT_PERMANENT;
	if (wait_for_survivors(&m->cfg) < 0)
		return UI_EXIT_TEMPORARY;
	if (ui_access_prepare(&m->cfg) < 0 || ui_access_token(&m->cfg) < 0)
		return UI_EXIT_PERMANENT;
	if (prepare_registry(&m->cfg) < 0)
		return UI_EXIT_PERMANENT;
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		ui_warn("PR_SET_CHILD_SUBREAPER: %s", strerror(errno));
	ui_config_shm_name(&m->cfg, m->shm_name, sizeof(m->shm_name));
	r = ui_shm_create(m->shm_name, &shm);
	if (r < 0) {
		ui_error("shm %s: %s", m->shm_name, strerror(-r));
		return UI_EXIT_TEMPORARY;
	}
	shm->supervisor_pid = getpid();
	r = ui_supervisor_init(&m->sv, loop, &m->cfg, config_path, m->shm_name,
			       shm, libexec);
	if (r < 0)
		goto out_shm;
	watch_signals(m, loop);
	ui_info("uigniterd %d starting (config %s, state_dir %s, shm %s)",
		(int)getpid(), config_path ? config_path : "(defaults)",
		m->cfg.state_dir, m->shm_name);
	ui_supervisor_start(&m->sv);
	if ((r = uv_timer_init(loop, &m->ready_timer)) < 0 ||
	    (m->ready_timer.data = m, 0) ||
	    (r = uv_timer_start(&m->ready_timer, on_ready_poll, UI_READY_POLL_MS,
				UI_READY_POLL_MS)) < 0)
		ui_warn("readiness timer: %s (READY=1 will not be sent)", uv_strerror(r));
	uv_run(loop, UV_RUN_DEFAULT);
	r = m->sv.exit_code;
	ui_info("uigniterd stopped");
	for (int i = 0; i < 4; i++)
		uv_close((uv_handle_t *)&m->sig[i], NULL);
	if (m->ready_timer.loop) /* initialised */
		uv_close((uv_handle_t *)&m->ready_timer, NULL);
	ui_supervisor_close(&m->sv);
	uv_run(loop, UV_RUN_NOWAIT);
	uv_loop_close(loop);
out_shm:
	ui_shm_detach(shm);
	ui_shm_unlink(m->shm_name);
	return r < 0 ? UI_EXIT_TEMPORARY : r;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "libexec", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config_path = NULL, *libexec_opt = NULL;
	char libexec[PATH_MAX], abs_config[PATH_MAX];
	struct manager m = { .lock_fd = -1 };
	int opt, r;

	while ((opt = getopt_long(argc, argv, "c:l:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'c': config_path = optarg; break;
		case 'l': libexec_opt = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return UI_EXIT_PERMANENT;
		}
	}
	ui_log_init("uigniterd", UI_LOG_INFO);
	if (ui_sd_notify_take_env() < 0)
		ui_warn("NOTIFY_SOCKET is neither an absolute path nor @abstract; ignored");
	/* Children run with the same file: give them an absolute path. */
	if (config_path && realpath(config_path, abs_config))
		config_path = abs_config;
	if (load_config(&m, config_path) < 0)
		return UI_EXIT_PERMANENT;
	umask(ui_config_umask(&m.cfg)); /* before anything is created (perms.h) */
	if (find_libexec(libexec_opt, libexec, sizeof(libexec)) < 0)
		return UI_EXIT_PERMANENT;
	r = run(&m, config_path, libexec);
	ui_config_free(&m.cfg);
	if (m.lock_fd >= 0)
		close(m.lock_fd);
	return r;
}
