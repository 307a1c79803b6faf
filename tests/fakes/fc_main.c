/*
 * fc_main.c — `firecracker`, a fake of the Firecracker VMM for uigniter's
 * tests: same command line, same API socket behaviour, same HTTP API (as
 * described by the contract YAML), no virtual machine.
 *
 * Owns the process: arguments, the contract, the listening socket, the
 * connections (a poll() loop, one request at a time per connection), the
 * signalfd for SIGTERM/SIGINT, and the exit. Exit statuses:
 *   0   SIGTERM/SIGINT, guest power-off after SendCtrlAltDel, --help/--version
 *   1   API socket path already exists, contract not found, setup failure,
 *       FC_FAKE_EXIT_AFTER_START_MS elapsed after InstanceStart, a snapshot
 *       load whose restore failed (after its 400)
 *   152 invalid --level;  153 argument parsing error (Firecracker's codes)
 *   SIGABRT invalid --id (Firecracker panics)
 * The socket file is never removed (Firecracker leaves it too).
 *
 * Environment: FC_FAKE_CONTRACT, FC_FAKE_LOG_DIR, FC_FAKE_START_DELAY_MS,
 * FC_FAKE_EXIT_AFTER_START_MS, FC_FAKE_IGNORE_CTRL_ALT_DEL,
 * FC_FAKE_CHECK_TAP, FC_FAKE_CONSOLE_ON_START, FC_FAKE_ALLOC_MIB,
 * FC_FAKE_GUEST_AGENT, FC_FAKE_VSOCK_REQUEST_TIMEOUT_MS (see tests/fakes/README.md).
 *
 * The poll set also holds the vsock device's fds (fc_vsock.c): its uds
 * and the host connections on it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "fc_api.h"
#include "fc_args.h"
#include "fc_calllog.h"
#include "fc_log.h"
#include "fc_seccomp.h"
#include "fc_vsock.h"

#define FC_CONTRACT_NAME "firecracker-api-v1.16.1.yaml"
#define FC_MAX_CONNS 32
#define FC_EXIT_ARGS 153
#define FC_EXIT_BAD_CONFIG 152

struct fc_server {
	int lfd, sfd;
	struct fc_conn *conns[FC_MAX_CONNS];
	struct fc_api api;
	struct fc_vmm vmm;
	struct fc_contract contract;
	size_t max_payload;
	const char *exit_reason;
};

static bool is_file(const char *path)
{
	return access(path, R_OK) == 0;
}

/* Walks up from the executable: the first ancestor holding a Makefile is the
 * repo; the contract is <repo>/../shared/reference/<name>. */
static int find_contract(char *out, size_t n)
{
	char dir[PATH_MAX], probe[PATH_MAX + 64];
	ssize_t len = readlink("/proc/self/exe", dir, sizeof(dir) - 1);
	char *slash;

	if (len < 0)
		return -errno;
	dir[len] = '\0';
	while ((slash = strrchr(dir, '/')) && slash != dir) {
		*slash = '\0';
		snprintf(probe, sizeof(probe), "%s/Makefile", dir);
		if (!is_file(probe))
			continue;
		snprintf(probe, sizeof(probe), "%s/../shared/reference/%s", dir, FC_CONTRACT_NAME);
		if (is_file(probe)) {
			snprintf(out, n, "%s", probe);
			return 0;
		}
	}
	return -ENOENT;
}

static int load_contract(struct fc_server *s)
{
	const char *env = getenv("FC_FAKE_CONTRACT");
	char path[PATH_MAX + 64], probe[PATH_MAX + 64], err[1024];

	if (env && *env)
		snprintf(path, sizeof(path), "%s", env);
	else if (find_contract(probe, sizeof(probe)) < 0) {
		fc_log("ERROR", "main", "fake firecracker: API contract not found: set "
		       "FC_FAKE_CONTRACT or keep <repo>/../shared/reference/%s", FC_CONTRACT_NAME);
		return -ENOENT;
	} else if (!realpath(probe, path)) {
		snprintf(path, sizeof(path), "%s", probe);
	}
	if (fc_contract_load(&s->contract, path, err, sizeof(err)) < 0 ||
	    fc_vmm_check_rules(&s->contract, err, sizeof(err)) < 0) {
		fc_log("ERROR", "main", "fake firecracker: cannot use the API contract %s: %s",
		       path, err);
		return -EINVAL;
	}
	fc_log("INFO", "main", "fake firecracker: API contract %s (version %s)", path,
	       s->contract.version);
	return 0;
}

static int64_t env_ms(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? strtoll(v, NULL, 10) : 0;
}

static void sleep_ms(int64_t ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	while (ms > 0 && nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* bind, (FC_FAKE_START_DELAY_MS), listen: the file appears before the server answers. */
static int open_api_socket(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, e;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		goto fail;
	sleep_ms(env_ms("FC_FAKE_START_DELAY_MS"));
	if (listen(fd, 64) < 0)
		goto fail;
	return fd;
fail:
	e = errno;
	close(fd);
	return -e;
}

static int open_signals(void)
{
	sigset_t set;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

static void accept_all(struct fc_server *s)
{
	for (;;) {
		int fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		size_t i;

		if (fd < 0)
			return;
		for (i = 0; i < FC_MAX_CONNS && s->conns[i]; i++)
			;
		if (i == FC_MAX_CONNS || !(s->conns[i] = fc_conn_new(fd, s->max_payload,
								       fc_api_handle, &s->api))) {
			fc_warn("fake: too many connections, closing a new one");
			close(fd);
		}
	}
}

static bool signalled(struct fc_server *s)
{
	struct signalfd_siginfo si;

	if (read(s->sfd, &si, sizeof(si)) != sizeof(si))
		return false;
	s->exit_reason = si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT";
	return true;
}

static int64_t sooner(int64_t a, int64_t b)
{
	return b >= 0 && (a < 0 || b < a) ? b : a;
}

static int poll_timeout(const struct fc_server *s)
{
	int64_t left = -1;

	if (s->vmm.exit_at_ms >= 0) {
		left = s->vmm.exit_at_ms - fc_now_ms();
		left = left < 0 ? 0 : left;
	}
	left = sooner(left, fc_vmm_console_due(&s->vmm));
	left = sooner(left, fc_vsock_due(&s->vmm));
	return (int)left;
}

static void serve_conns(struct fc_server *s, struct pollfd *p, size_t np, size_t *idx)
{
	for (size_t j = 2; j < np; j++) {
		struct fc_conn **c = &s->conns[idx[j]];

		if (p[j].revents && fc_conn_on_readable(*c) < 0) {
			fc_conn_free(*c);
			*c = NULL;
		}
	}
}

/* Serves until a signal or a scheduled exit; returns the exit status.
 * p: the signalfd, the API socket, API connections [2, np), then the vsock
 * device's fds [np, np + nv). */
static int serve(struct fc_server *s)
{
	struct pollfd p[FC_MAX_CONNS + 2 + FC_VSOCK_MAX_CONNS + 1];
	size_t idx[FC_MAX_CONNS + 2], np, nv;

	for (;;) {
		if (s->vmm.exit_at_ms >= 0 && fc_now_ms() >= s->vmm.exit_at_ms) {
			s->exit_reason = s->vmm.exit_reason;
			return s->vmm.exit_status;
		}
		p[0] = (struct pollfd){ .fd = s->sfd, .events = POLLIN };
		p[1] = (struct pollfd){ .fd = s->lfd, .events = POLLIN };
		np = 2;
		for (size_t i = 0; i < FC_MAX_CONNS; i++)
			if (s->conns[i]) {
				idx[np] = i;
				p[np++] = (struct pollfd){ .fd = fc_conn_fd(s->conns[i]),
							   .events = POLLIN };
			}
		nv = fc_vsock_pollfds(&s->vmm, p + np, FC_VSOCK_MAX_CONNS + 1);
		if (poll(p, np + nv, poll_timeout(s)) < 0 && errno != EINTR)
			return 1;
		if ((p[0].revents & POLLIN) && signalled(s))
			return 0;
		if (p[1].revents & POLLIN)
			accept_all(s);
		serve_conns(s, p, np, idx);
		fc_vsock_on_poll(&s->vmm, p + np, nv);
		fc_vsock_tick(&s->vmm);
		if (s->vmm.alloc_due) /* after InstanceStart's reply */
			fc_vmm_grow(&s->vmm);
		fc_vmm_console_tick(&s->vmm);
	}
}

static void open_calllog(const struct fc_args *a, int argc, char **argv)
{
	const char *dir = getenv("FC_FAKE_LOG_DIR");
	char path[PATH_MAX];
	int r;

	if (dir && *dir)
		snprintf(path, sizeof(path), "%s/%s.calls.jsonl", dir, a->id);
	else
		snprintf(path, sizeof(path), "%s.calls.jsonl", a->api_sock);
	r = fc_calllog_open(path);
	if (r < 0)
		fc_log("WARN", "main", "fake: cannot open the call log %s: %s", path, strerror(-r));
	fc_calllog_spawn(argc, argv);
}

/* Logs and records why the process ends; returns status. */
static int finish(int status, const char *reason)
{
	fc_log(status ? "ERROR" : "INFO", "main", "Firecracker exiting %s (%s). exit_code=%d",
	       status ? "with error" : "successfully", reason, status);
	fc_calllog_exit(reason, status);
	fc_calllog_close();
	return status;
}

static int early_checks(const struct fc_args *a)
{
	char why[128];
	int fd;

	if (!fc_args_valid_id(a->id, why, sizeof(why))) {
		fprintf(stderr, "thread 'main' panicked at 'Invalid instance ID: %s'\n", why);
		abort();
	}
	if (a->level && !fc_args_valid_level(a->level)) {
		fprintf(stderr, "Error: InvalidLogLevel(\"%s\")\nInvalid value for logger level: "
			"%s.Possible values: [Error, Warning, Info, Debug]\n", a->level, a->level);
		return FC_EXIT_BAD_CONFIG;
	}
	if (a->log_path) {
		fd = open(a->log_path, O_WRONLY | O_APPEND | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0) {
			fprintf(stderr, "Error: LoggerInitialization: Could not initialize logger: "
				"Failed to open target file: %s (os error %d)\n", strerror(errno), errno);
			return 1;
		}
		fc_log_set_fd(fd);
	}
	if (a->unsupported) {
		fprintf(stderr, "fake firecracker: --%s is not supported by the fake\n",
			a->unsupported);
		return 1;
	}
	return 0;
}

static int run(struct fc_server *s, const struct fc_args *a)
{
	int status;

	if (load_contract(s) < 0)
		return finish(1, "contract");
	fc_vmm_init(&s->vmm, a->id, s->contract.version);
	s->api = (struct fc_api){ &s->contract, &s->vmm };
	s->max_payload = a->max_payload;
	s->sfd = open_signals();
	s->lfd = open_api_socket(a->api_sock);
	if (s->lfd < 0) {
		fc_log("ERROR", "main", "RunWithApiError error: Failed to open the API socket at: "
		       "%s. Check that it is not already used. (%s)", a->api_sock, strerror(-s->lfd));
		return finish(1, "api socket");
	}
	fc_log("INFO", "main", "fake: API server listening on %s", a->api_sock);
	status = serve(s);
	return finish(status, s->exit_reason ? s->exit_reason : "poll failed");
}

static void cleanup(struct fc_server *s)
{
	for (size_t i = 0; i < FC_MAX_CONNS; i++)
		fc_conn_free(s->conns[i]);
	if (s->lfd >= 0)
		close(s->lfd);
	if (s->sfd >= 0)
		close(s->sfd);
	fc_vmm_free(&s->vmm);
	fc_contract_free(&s->contract);
}

static bool no_seccomp(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--no-seccomp"))
			return true;
	return false;
}

int main(int argc, char **argv)
{
	static struct fc_server s = { .lfd = -1, .sfd = -1 };
	struct fc_args a;
	char err[512];
	int status;

	if (fc_args_parse(argc, argv, &a, err, sizeof(err)) < 0) {
		fprintf(stderr, "Arguments parsing error: %s \n\nFor more information try --help.\n"
			"Firecracker exiting with error. exit_code=%d\n", err, FC_EXIT_ARGS);
		return FC_EXIT_ARGS;
	}
	if (a.help || a.version) {
		printf("Firecracker v1.16.1\n\n");
		if (a.help)
			fc_args_usage();
		return 0;
	}
	fc_log_init(a.id);
	status = early_checks(&a);
	if (status)
		return status;
	open_calllog(&a, argc, argv);
	if (!no_seccomp(argc, argv) && (status = fc_seccomp_install()) < 0) {
		fprintf(stderr, "Firecracker (fake): cannot install its seccomp filter: %s\n",
			strerror(-status));
		return 1;
	}
	fc_log("INFO", "main", "Running Firecracker v1.16.1 (fake)");
	status = run(&s, &a);
	cleanup(&s);
	fc_log_set_fd(-1);
	return status;
}
