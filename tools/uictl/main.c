/*
 * main.c — uictl, the admin tool: the global options and the command table.
 * Actions go through the uigniter API (api.c: the unix socket of the
 * config by default, --api URL with a token for TCP); listings (ls, show,
 * top) fall back to the read-only registry when the API is unreachable and
 * say so on stderr; --db PATH reads that registry directly, never the API.
 *
 *   uictl [--config FILE | --db PATH] [--api URL] [--token FILE|-] [--json] COMMAND
 *   uictl [--config FILE] image build DIR | image ls   (image.c: no API, no registry)
 *
 * The config: --config, else /etc/uigniter/uigniter.yaml when it exists,
 * else the embedded defaults. Each command lives in its own file (vm.c,
 * run.c, logs.c, top.c, registry_view.c); one line in `commands` each.
 *
 * Exit codes (uictl.h): 0 done, 1 failed, 2 usage, 3 API unreachable.
 * Command arguments are checked before anything is opened, so a usage
 * error is always 2.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "image.h"
#include "log.h"
#include "uictl.h"

static const struct uictl_command commands[] = {
	{ "run", cmd_run },
	{ "ls", cmd_ls },
	{ "show", cmd_show },
	{ "stop", cmd_stop },
	{ "rm", cmd_rm },
	{ "logs", cmd_logs },
	{ "top", cmd_top },
	{ "pause", cmd_pause },
	{ "resume", cmd_resume },
	{ "leases", cmd_leases },
	{ NULL, NULL },
};

static void usage(void)
{
	printf("usage: uictl [OPTIONS] COMMAND [ARGS]\n"
	       "  --config FILE   uigniter config (default /etc/uigniter/uigniter.yaml if\n"
	       "                  present, else the built-in defaults)\n"
	       "  --db PATH       read this registry directly (read-only; no API)\n"
	       "  --api URL       http://HOST:PORT or unix:PATH (default: the config's socket)\n"
	       "  --token FILE|-  bearer token (default $UIGNITER_TOKEN; TCP: <state_dir>/api.token)\n"
	       "  --json          JSON output\n"
	       "commands:\n"
	       "  run IMAGE [--name N] [--vcpus N] [--mem MIB] [--wait running|ready]\n"
	       "            [--cmd 'ARGS'] [-- ARG...]   start a VM, print it\n"
	       "  ls [--all | --state S]  VMs; default: those not stopped, failed or warm\n"
	       "  show ID                 one VM, its lease and events\n"
	       "  stop ID...              stop VMs\n"
	       "  rm [-f] ID...           delete stopped VMs (-f: stop them first)\n"
	       "  logs [-f] [--bytes N] ID  its serial console (-f: follow until it stops)\n"
	       "  top [-n N]              VMs, CPU %%, RSS and the pool, each second\n"
	       "  pause ID... | resume ID...\n"
	       "  leases                  the leases table (registry)\n"
	       "  image build DIR         build DIR/image.yaml into an image, register it\n"
	       "  image ls                the images registered in images_dir\n"
	       "exit: 0 done, 1 failed, 2 usage, 3 API unreachable (see uictl(1))\n");
}

static void usage_hint(void)
{
	fprintf(stderr, "usage: uictl [OPTIONS] COMMAND [ARGS] (uictl --help)\n");
}

/* "uictl: <message>" and a usage hint on stderr; returns UICTL_EXIT_USAGE. */
int uictl_usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "uictl: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	usage_hint();
	return UICTL_EXIT_USAGE;
}

int uictl_config(struct uictl *u)
{
	const char *path = u->config;
	char err[1024];

	if (u->cfg_loaded)
		return 0;
	if (!path && access(UICTL_DEFAULT_CONFIG, F_OK) == 0)
		path = UICTL_DEFAULT_CONFIG;
	if (!path) {
		ui_config_defaults(&u->cfg);
	} else if (ui_config_load(path, &u->cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "uictl: %s\n", err);
		return UICTL_EXIT_FAIL;
	}
	u->cfg_loaded = true;
	return 0;
}

/* Runs cmd with its own argv (argv[0] is the program name, for getopt). */
static int run_command(struct uictl *u, const struct uictl_command *cmd, int argc, char **argv)
{
	int r;

	optind = 0; /* glibc: restart getopt on the new argv */
	r = cmd->main(u, argc, argv);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "uictl: writing output: %s\n", strerror(errno));
		r = r ? r : UICTL_EXIT_FAIL;
	}
	return r;
}

static int dispatch(struct uictl *u, int argc, char **argv)
{
	for (const struct uictl_command *cmd = commands; cmd->name; cmd++) {
		if (strcmp(cmd->name, argv[optind]))
			continue;
		argv[optind] = argv[0]; /* the command's argv[0]: "uictl" in messages */
		return run_command(u, cmd, argc - optind, argv + optind);
	}
	return uictl_usage_error("unknown command '%s'", argv[optind]);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "db", required_argument, NULL, 'd' },
		{ "api", required_argument, NULL, 'a' },
		{ "token", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static struct uictl u; /* big (a config): not on the stack */
	int opt, r;

	argv[0] = "uictl"; /* getopt's messages name argv[0] */
	ui_log_init("uictl", UI_LOG_WARN);
	while ((opt = getopt_long(argc, argv, "+c:d:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'c': u.config = optarg; break;
		case 'd': u.db = optarg; break;
		case 'a': u.api = optarg; break;
		case 't': u.token = optarg; break;
		case 'j': u.json = true; break;
		case 'h': usage(); return 0;
		default: usage_hint(); return UICTL_EXIT_USAGE;
		}
	}
	if (u.config && u.db)
		return uictl_usage_error("--config and --db exclude each other");
	if (u.db && u.api)
		return uictl_usage_error("--db and --api exclude each other");
	if (optind >= argc)
		return uictl_usage_error("no command");
	if (!strcmp(argv[optind], "image")) { /* image.c: builds, needs no API or registry */
		argv[optind] = argv[0];
		return uictl_image(argc - optind, argv + optind, u.config);
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "uictl: cannot initialise libcurl\n");
		return UICTL_EXIT_FAIL;
	}
	r = dispatch(&u, argc, argv);
	if (u.cfg_loaded)
		ui_config_free(&u.cfg);
	curl_global_cleanup();
	return r;
}
