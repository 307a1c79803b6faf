/*
 * uictl.h — what uictl's command files share: the global options, the API
 * client (api.c), tables (table.c), the registry views (registry_view.c).
 *
 * Exit codes (a contract, documented in uictl(1)): 0 done, 1 failed (the
 * API answered an error, unknown VM, bad config, sqlite error), 2 usage
 * error, 3 the API is unreachable (actions only: listings fall back to the
 * registry).
 */
#ifndef UICTL_H
#define UICTL_H
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "config.h"
#include "registry.h"

#define UICTL_EXIT_FAIL 1
#define UICTL_EXIT_USAGE 2
#define UICTL_EXIT_UNREACHABLE 3

/* The default config file when --config is not given (and it exists). */
#define UICTL_DEFAULT_CONFIG "/etc/uigniter/uigniter.yaml"

/* Global options and what they resolve to; main.c fills it once. */
struct uictl {
	const char *config;   /* --config, or NULL */
	const char *db;       /* --db: registry only, never the API */
	const char *api;      /* --api URL (http://HOST:PORT or unix:PATH), or NULL */
	const char *token;    /* --token FILE|-, or NULL */
	bool json;            /* --json (also accepted after the command) */
	struct ui_config cfg; /* loaded or defaults */
	bool cfg_loaded;
};

/* One subcommand: argv[0] is "uictl"; returns an exit code. */
struct uictl_command {
	const char *name;
	int (*main)(struct uictl *u, int argc, char **argv);
};

/* main.c */
int uictl_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Loads the config (once): --config, else UICTL_DEFAULT_CONFIG if present,
 * else the defaults. Exit code. */
int uictl_config(struct uictl *u);

/* ---- api.c: the HTTP client (libcurl; codes translated here) ---------- */

/* An answer: status and the parsed JSON body (NULL if not JSON). Caller-
 * embedded; api_answer_free releases the body. */
struct api_answer {
	long status;
	json_t *body;
};

/* method path [body] → answer. 0, -ECONNREFUSED/-ENOENT/-EHOSTUNREACH/
 * -ETIMEDOUT when the API cannot be reached (api_unreachable), other
 * negative errno on local failure (reported; unreachable is not: see
 * api_fail_code). */
int api_call(struct uictl *u, const char *method, const char *path, json_t *body,
	     struct api_answer *a);
/* GET path, streaming a 2xx body raw to stdout; an error answer's JSON in
 * *a (status and body). Same returns as api_call. */
int api_stream(struct uictl *u, const char *path, struct api_answer *a);
void api_answer_free(struct api_answer *a);
bool api_unreachable(int r);
/* Where the API is, for messages ("unix:/run/uigniter/api.sock"). */
const char *api_where(struct uictl *u);
/* Prints an error answer: "uictl: WHAT: MESSAGE (HTTP 404 not_found)";
 * returns UICTL_EXIT_FAIL. */
int api_report(const char *what, const struct api_answer *a);
/* The exit code of a failed api_call; says so when the API is unreachable
 * (other failures were reported by api_call). */
int api_fail_code(struct uictl *u, int r);

/* ---- table.c ---------------------------------------------------------- */
#define TABLE_COLS 9
#define CELL 64 /* the longest value shown in a table (a name) fits */

/* Rows collected first so each column can be as wide as its widest cell.
 * Caller-embedded; rows are malloc'd, released by table_free. */
struct table {
	const char *const *head; /* TABLE_COLS at most, NULL-terminated */
	size_t ncols, nrows, cap;
	char (*rows)[TABLE_COLS][CELL];
};

void table_init(struct table *t, const char *const *head);
int table_add(struct table *t, const char *const *vals);
void table_print(const struct table *t);
void table_free(struct table *t);
void short_time(const char *s, char *buf, size_t len);
/* "key   value" lines of show. */
void kv(const char *key, const char *val);
/* A JSON member as text: strings as is, numbers printed, null/absent "". */
const char *json_text(json_t *obj, const char *key, char *buf, size_t len);

/* ---- registry_view.c: the read-only registry ---------------------------- */
int reg_open(struct uictl *u, struct ui_registry **reg, char *path, size_t len);
bool vm_state_known(const char *s);
/* ls from the registry: all (--all or a state given), state or NULL. */
int reg_ls(struct uictl *u, bool all, const char *state);
/* show from the registry: the VM (unless vm_done) then its lease, events. */
int reg_show(struct uictl *u, const char *id, bool vm_done);
/* show --json from the registry: reg_vm_json of the VM. */
int reg_show_json(struct uictl *u, const char *id);
/* A registry row as the API would show it (the members ls/top use). */
json_t *reg_vm_json(const struct ui_vm *vm);
/* VMs from the registry as a JSON array of reg_vm_json (state or NULL). */
int reg_vm_array(struct uictl *u, const char *state, json_t **arr);

/* ---- commands --------------------------------------------------------- */
int cmd_ls(struct uictl *u, int argc, char **argv);     /* vm.c */
int cmd_show(struct uictl *u, int argc, char **argv);
int cmd_leases(struct uictl *u, int argc, char **argv); /* registry_view.c */
int cmd_run(struct uictl *u, int argc, char **argv);    /* run.c */
int cmd_stop(struct uictl *u, int argc, char **argv);   /* vm.c */
int cmd_rm(struct uictl *u, int argc, char **argv);
int cmd_pause(struct uictl *u, int argc, char **argv);
int cmd_resume(struct uictl *u, int argc, char **argv);
int cmd_logs(struct uictl *u, int argc, char **argv);   /* logs.c */
int cmd_top(struct uictl *u, int argc, char **argv);    /* top.c */

/* vm.c: the VM table (ls) from an array of VM objects; live: hide
 * stopped and failed VMs. */
int vm_table_print(json_t *arr, bool live_only);
/* Every page of GET /vm [?state=] appended to all; api_call's return, with
 * the last answer in *a (a non-200 one on an API error; free it). */
int vm_list(struct uictl *u, const char *state, json_t *all, struct api_answer *a);
/* Shown by a plain `ls`: neither finished nor a pool slot. */
bool vm_live(json_t *vm);
/* A VM object as "key value" lines (show, run). */
void vm_print(json_t *vm);
/* Prints a JSON value on one line + newline to stdout. */
void print_json(json_t *j);
#endif
