/*
 * main.c — uictl, the admin tool: prints what the registry says about VMs,
 * leases and events. It opens <state_dir>/registry.db read-only
 * (UI_REG_RDONLY) and never writes anything, so it is safe to run at any
 * time next to a running uigniterd; it never talks to the daemons.
 *
 *   uictl [--config FILE | --db PATH] ls [--all | --state S]
 *   uictl [--config FILE | --db PATH] show ID
 *   uictl [--config FILE | --db PATH] leases
 *
 * The registry path: --config (its state_dir), else --db, else the default
 * config's state_dir (/var/lib/uigniter/registry.db).
 *
 * Exit codes: 0 done, 1 failed (no registry, unknown VM, bad config file,
 * sqlite error), 2 usage error. Command arguments are checked before the
 * registry is opened, so a usage error is always 2.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "registry.h"

#define EXIT_USAGE 2
#define TABLE_COLS 9
#define CELL 64 /* the longest value shown in a table (a name) fits */

struct args {
	bool all;          /* ls --all */
	const char *state; /* ls --state S */
	const char *id;    /* show ID */
};

struct command {
	const char *name;
	int (*parse)(int argc, char **argv, struct args *a);
	int (*run)(struct ui_registry *reg, const char *path, const struct args *a);
};

static void usage(void)
{
	printf("usage: uictl [--config FILE | --db PATH] COMMAND\n"
	       "  Prints the uigniter registry (read-only).\n"
	       "  --config FILE   use the state_dir of this uigniter config\n"
	       "  --db PATH       use this registry file\n"
	       "                  (default: /var/lib/uigniter/registry.db)\n"
	       "commands:\n"
	       "  ls [--all | --state S]  VMs; default: those not stopped, failed or warm\n"
	       "  show ID                 every column of one VM, its lease and events\n"
	       "  leases                  the leases table\n");
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void usage_hint(void)
{
	fprintf(stderr, "usage: uictl [--config FILE | --db PATH] ls|show ID|leases "
			"(uictl --help)\n");
}

/* "uictl: <message>" and a usage hint on stderr; returns EXIT_USAGE. */
static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "uictl: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	usage_hint();
	return EXIT_USAGE;
}

/* For commands without options: the index of the first operand, or -1
 * after getopt reported an option. */
static int operands(int argc, char **argv)
{
	static const struct option none[] = { { NULL, 0, NULL, 0 } };

	if (getopt_long(argc, argv, "", none, NULL) != -1) {
		usage_hint();
		return -1;
	}
	return optind;
}

/* ---- tables ----------------------------------------------------------- */

/* Rows collected first so each column can be as wide as its widest cell.
 * Caller-embedded; rows are malloc'd, released by table_free. */
struct table {
	const char *const *head; /* TABLE_COLS at most, NULL-terminated */
	size_t ncols, nrows, cap;
	char (*rows)[TABLE_COLS][CELL];
};

static void table_init(struct table *t, const char *const *head)
{
	memset(t, 0, sizeof(*t));
	t->head = head;
	while (head[t->ncols])
		t->ncols++;
}

/* Appends one row of ncols values; "" is shown as "-". */
static int table_add(struct table *t, const char *const *vals)
{
	if (t->nrows == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 16;
		void *p = realloc(t->rows, cap * sizeof(*t->rows));

		if (!p)
			return -ENOMEM;
		t->rows = p;
		t->cap = cap;
	}
	for (size_t c = 0; c < t->ncols; c++)
		snprintf(t->rows[t->nrows][c], CELL, "%s", *vals[c] ? vals[c] : "-");
	t->nrows++;
	return 0;
}

static void print_row(const struct table *t, const size_t *width, const char *const *cells)
{
	for (size_t c = 0; c < t->ncols; c++) {
		if (c + 1 < t->ncols)
			printf("%-*s  ", (int)width[c], cells[c]);
		else
			printf("%s\n", cells[c]);
	}
}

static void table_print(const struct table *t)
{
	size_t width[TABLE_COLS];
	const char *cells[TABLE_COLS];

	for (size_t c = 0; c < t->ncols; c++) {
		width[c] = strlen(t->head[c]);
		for (size_t r = 0; r < t->nrows; r++)
			if (strlen(t->rows[r][c]) > width[c])
				width[c] = strlen(t->rows[r][c]);
	}
	print_row(t, width, t->head);
	for (size_t r = 0; r < t->nrows; r++) {
		for (size_t c = 0; c < t->ncols; c++)
			cells[c] = t->rows[r][c];
		print_row(t, width, cells);
	}
}

static void table_free(struct table *t)
{
	free(t->rows);
	t->rows = NULL;
}

/* "2026-11-29T14:50:49.123Z" → "2026-11-29T14:50:49Z" (tables only). */
static void short_time(const char *s, char *buf, size_t len)
{
	if (strlen(s) == 24 && s[19] == '.' && s[23] == 'Z')
		snprintf(buf, len, "%.19sZ", s);
	else
		snprintf(buf, len, "%s", s);
}

/* ---- ls --------------------------------------------------------------- */

static const char *const vm_states[] = {
	UI_VM_CREATING, UI_VM_STARTING, UI_VM_RUNNING, UI_VM_STOPPING,
	UI_VM_STOPPED, UI_VM_FAILED, UI_VM_WARM, NULL,
};

static bool known_state(const char *s)
{
	for (int i = 0; vm_states[i]; i++)
		if (!strcmp(s, vm_states[i]))
			return true;
	return false;
}

/* Shown by a plain `ls`: neither finished nor a warm pool slot. */
static bool live(const struct ui_vm *vm)
{
	return strcmp(vm->state, UI_VM_STOPPED) && strcmp(vm->state, UI_VM_FAILED) &&
	       strcmp(vm->state, UI_VM_WARM);
}

struct ls_walk {
	struct table table;
	bool all;
};

static int ls_row(const struct ui_vm *vm, void *arg)
{
	struct ls_walk *w = arg;
	char pid[24] = "", created[32], stopped[32];

	if (!w->all && !live(vm))
		return 0;
	if (vm->vmm_pid)
		snprintf(pid, sizeof(pid), "%lld", (long long)vm->vmm_pid);
	short_time(vm->created_at, created, sizeof(created));
	short_time(vm->stopped_at, stopped, sizeof(stopped));
	return table_add(&w->table, (const char *const[]){ vm->id, vm->name, vm->state, vm->ip,
							   vm->mac, vm->tap, pid, created,
							   stopped });
}

static int ls_parse(int argc, char **argv, struct args *a)
{
	static const struct option opts[] = {
		{ "all", no_argument, NULL, 'a' },
		{ "state", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	while ((opt = getopt_long(argc, argv, "as:", opts, NULL)) != -1) {
		switch (opt) {
		case 'a': a->all = true; break;
		case 's': a->state = optarg; break;
		default: usage_hint(); return EXIT_USAGE;
		}
	}
	if (optind < argc)
		return usage_error("ls: unexpected argument '%s'", argv[optind]);
	if (a->all && a->state)
		return usage_error("ls: --all and --state exclude each other");
	if (a->state && !known_state(a->state))
		return usage_error("ls: unknown state '%s' (creating, starting, running, "
				   "stopping, stopped, failed, warm)", a->state);
	return 0;
}

static int ls_run(struct ui_registry *reg, const char *path, const struct args *a)
{
	static const char *const head[] = { "ID", "NAME", "STATE", "IP", "MAC", "TAP", "PID",
					    "CREATED", "STOPPED", NULL };
	struct ls_walk w = { .all = a->all || a->state };
	int r;

	table_init(&w.table, head);
	if ((r = ui_reg_vm_list(reg, a->state, ls_row, &w)) == 0)
		table_print(&w.table);
	table_free(&w.table);
	if (r < 0)
		fprintf(stderr, "uictl: %s: listing VMs: %s\n", path, strerror(-r));
	return r < 0;
}

/* ---- show ------------------------------------------------------------- */

#define KEY_WIDTH 17 /* "lease.updated_at" and a space */

static void kv(const char *key, const char *val)
{
	printf("%-*s%s\n", KEY_WIDTH, key, *val ? val : "-");
}

/* An integer column; `none` is how the registry reads NULL. */
static void kv_int(const char *key, int64_t v, int64_t none)
{
	char buf[24] = "";

	if (v != none)
		snprintf(buf, sizeof(buf), "%lld", (long long)v);
	kv(key, buf);
}

static void show_vm(const struct ui_vm *vm)
{
	kv("id", vm->id);
	kv("name", vm->name);
	kv("state", vm->state);
	kv("image", vm->image);
	kv("kernel", vm->kernel);
	kv("initrd", vm->initrd);
	kv("rootfs", vm->rootfs);
	kv("boot_args", vm->boot_args);
	kv_int("vcpus", vm->vcpus, -1);
	kv_int("mem_mib", vm->mem_mib, -1);
	kv("driver", vm->driver);
	kv_int("vmm_pid", vm->vmm_pid, 0);
	kv_int("vmm_start_time", vm->vmm_start_time, 0);
	kv("api_socket", vm->api_socket);
	kv("console_log", vm->console_log);
	kv("tap", vm->tap);
	kv("ip", vm->ip);
	kv("mac", vm->mac);
	kv("idempotency_key", vm->idempotency_key);
	kv("created_at", vm->created_at);
	kv("started_at", vm->started_at);
	kv("stopped_at", vm->stopped_at);
	kv_int("exit_status", vm->exit_status, -1);
	kv("error", vm->error);
}

static void show_lease(const struct ui_lease *l)
{
	kv("lease.ip", l->ip);
	kv("lease.mac", l->mac);
	kv("lease.tap", l->tap);
	kv("lease.state", l->state);
	kv("lease.updated_at", l->updated_at);
}

static int show_event(const char *time, const char *kind, const char *detail, void *arg)
{
	unsigned *n = arg;

	if ((*n)++ == 0)
		printf("events\n");
	if (*detail)
		printf("  %s  %-10s %s\n", time, kind, detail);
	else
		printf("  %s  %s\n", time, kind);
	return 0;
}

static int show_parse(int argc, char **argv, struct args *a)
{
	int i = operands(argc, argv);

	if (i < 0)
		return EXIT_USAGE;
	if (i >= argc)
		return usage_error("show: needs a VM id");
	if (i + 1 < argc)
		return usage_error("show: unexpected argument '%s'", argv[i + 1]);
	a->id = argv[i];
	return 0;
}

static int show_run(struct ui_registry *reg, const char *path, const struct args *a)
{
	struct ui_vm *vm;
	struct ui_lease lease;
	unsigned n = 0;
	int r;

	if (!(vm = malloc(sizeof(*vm)))) /* ~17 KiB of fixed-size columns */
		return 1;
	if ((r = ui_reg_vm_get(reg, a->id, vm)) == -ENOENT) {
		fprintf(stderr, "uictl: no VM %s in %s\n", a->id, path);
		goto free_vm;
	}
	if (r < 0)
		goto fail;
	show_vm(vm);
	if ((r = ui_reg_lease_get_by_vm(reg, a->id, &lease)) == 0)
		show_lease(&lease);
	else if (r != -ENOENT)
		goto fail;
	if ((r = ui_reg_event_list(reg, a->id, show_event, &n)) < 0)
		goto fail;
	if (n == 0)
		kv("events", "");
	free(vm);
	return 0;
fail:
	fprintf(stderr, "uictl: %s: reading VM %s: %s\n", path, a->id, strerror(-r));
free_vm:
	free(vm);
	return 1;
}

/* ---- leases ----------------------------------------------------------- */

static int lease_row(const struct ui_lease *l, void *arg)
{
	char updated[32];

	short_time(l->updated_at, updated, sizeof(updated));
	return table_add(arg, (const char *const[]){ l->ip, l->mac, l->tap, l->vm_id, l->state,
						     updated });
}

static int leases_parse(int argc, char **argv, struct args *a)
{
	int i = operands(argc, argv);

	(void)a;
	if (i < 0)
		return EXIT_USAGE;
	if (i < argc)
		return usage_error("leases: unexpected argument '%s'", argv[i]);
	return 0;
}

static int leases_run(struct ui_registry *reg, const char *path, const struct args *a)
{
	static const char *const head[] = { "IP", "MAC", "TAP", "VM", "STATE", "UPDATED", NULL };
	struct table t;
	int r;

	(void)a;
	table_init(&t, head);
	if ((r = ui_reg_lease_list(reg, lease_row, &t)) == 0)
		table_print(&t);
	table_free(&t);
	if (r < 0)
		fprintf(stderr, "uictl: %s: listing leases: %s\n", path, strerror(-r));
	return r < 0;
}

/* ---- main ------------------------------------------------------------- */

static const struct command commands[] = {
	{ "ls", ls_parse, ls_run },
	{ "show", show_parse, show_run },
	{ "leases", leases_parse, leases_run },
	{ NULL, NULL, NULL },
};

/* The registry path from --config or --db, else the defaults. Exit code. */
static int registry_path(const char *config, const char *db, char *buf, size_t len)
{
	struct ui_config cfg;
	char err[1024];

	if (db) {
		snprintf(buf, len, "%s", db);
		return 0;
	}
	if (!config) {
		ui_config_defaults(&cfg);
	} else if (ui_config_load(config, &cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "uictl: %s\n", err);
		return 1;
	}
	ui_config_registry_path(&cfg, buf, len);
	ui_config_free(&cfg);
	return 0;
}

static int open_registry(const char *path, struct ui_registry **reg)
{
	int r;

	/* checked first: sqlite would log its own less helpful error */
	if (access(path, F_OK) < 0 && errno == ENOENT)
		r = -ENOENT;
	else if (access(path, R_OK) < 0 && errno == EACCES)
		r = -EACCES;
	else
		r = ui_registry_open(path, UI_REG_RDONLY, reg);
	if (r == -ENOENT)
		fprintf(stderr, "uictl: %s: no registry (is uigniterd configured with this "
				"state_dir?)\n", path);
	else if (r == -EACCES)
		fprintf(stderr, "uictl: %s: permission denied: the registry is readable only "
			"by root and the members of api.group\n", path);
	else if (r < 0)
		fprintf(stderr, "uictl: %s: %s\n", path, strerror(-r));
	return r < 0;
}

/* Runs cmd with its own argv (argv[0] is the program name, for getopt). */
static int run_command(const struct command *cmd, int argc, char **argv, const char *config,
		       const char *db)
{
	struct ui_registry *reg = NULL;
	struct args a = { .all = false };
	char path[PATH_MAX + 16];
	int r;

	optind = 0; /* glibc: restart getopt on the new argv */
	if ((r = cmd->parse(argc, argv, &a)) != 0)
		return r;
	if ((r = registry_path(config, db, path, sizeof(path))) != 0 ||
	    (r = open_registry(path, &reg)) != 0)
		return r;
	r = cmd->run(reg, path, &a);
	ui_registry_close(reg);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "uictl: writing output: %s\n", strerror(errno));
		r = 1;
	}
	return r;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "db", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = NULL, *db = NULL;
	int opt;

	argv[0] = "uictl"; /* getopt's messages name argv[0] */
	ui_log_init("uictl", UI_LOG_WARN);
	while ((opt = getopt_long(argc, argv, "+c:d:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'c': config = optarg; break;
		case 'd': db = optarg; break;
		case 'h': usage(); return 0;
		default: usage_hint(); return EXIT_USAGE;
		}
	}
	if (config && db)
		return usage_error("--config and --db exclude each other");
	if (optind >= argc)
		return usage_error("no command");
	for (const struct command *cmd = commands; cmd->name; cmd++) {
		if (strcmp(cmd->name, argv[optind]))
			continue;
		argv[optind] = argv[0]; /* the command's argv[0]: "uictl" in messages */
		return run_command(cmd, argc - optind, argv + optind, config, db);
	}
	return usage_error("unknown command '%s'", argv[optind]);
}
