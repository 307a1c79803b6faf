/*
 * vm.c — uictl's VM commands over the API: ls and show (falling back to
 * the read-only registry when the API is unreachable, and saying so on
 * stderr), stop, rm, pause and resume (actions: never without the API).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uictl.h"

#define LS_PAGE 500

bool vm_live(json_t *vm)
{
	const char *s = json_string_value(json_object_get(vm, "state"));

	return s && strcmp(s, UI_VM_STOPPED) && strcmp(s, UI_VM_FAILED) &&
	       strcmp(s, UI_VM_WARM) && strcmp(s, UI_VM_WARMING) && strcmp(s, UI_VM_RETIRING);
}

int vm_table_print(json_t *arr, bool live_only)
{
	static const char *const head[] = { "ID", "NAME", "STATE", "IP", "MAC", "TAP", "PID",
					    "CREATED", "STOPPED", NULL };
	static const char *const keys[] = { "id", "name", "state", "ip", "mac", "tap", "pid",
					    "created_at", "stopped_at" };
	char cell[TABLE_COLS][CELL], t[CELL];
	const char *vals[TABLE_COLS];
	struct table tab;
	size_t i;
	json_t *vm;
	int r = 0;

	table_init(&tab, head);
	json_array_foreach(arr, i, vm) {
		if (live_only && !vm_live(vm))
			continue;
		for (size_t c = 0; c < TABLE_COLS; c++) {
			json_text(vm, keys[c], cell[c], CELL);
			if (c >= 7) {
				short_time(cell[c], t, sizeof(t));
				memcpy(cell[c], t, CELL);
			}
			vals[c] = cell[c];
		}
		if ((r = table_add(&tab, vals)) < 0)
			break;
	}
	if (r == 0)
		table_print(&tab);
	table_free(&tab);
	return r;
}

void vm_print(json_t *vm)
{
	const char *key;
	json_t *v;
	char buf[4096];

	json_object_foreach(vm, key, v)
		kv(key, json_text(vm, key, buf, sizeof(buf)));
}

/* Options of the commands that take only --json; index of the first
 * operand, or -1 (usage reported). */
static int json_opts(struct uictl *u, int argc, char **argv, const char *cmd)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (opt != 'j') {
			uictl_usage_error("%s: bad option", cmd);
			return -1;
		}
		u->json = true;
	}
	return optind;
}

static int fallback_note(struct uictl *u, int r)
{
	fprintf(stderr, "uictl: API down: read from registry (API %s: %s)\n", api_where(u),
		strerror(-r));
	return 0;
}

/* ---- ls --------------------------------------------------------------- */

int vm_list(struct uictl *u, const char *state, json_t *all, struct api_answer *a)
{
	char path[256], after[80] = "";
	int r;

	for (;;) {
		json_t *vms, *next;

		snprintf(path, sizeof(path), "/vm?limit=%d%s%s%s%s", LS_PAGE,
			 state ? "&state=" : "", state ? state : "", *after ? "&after=" : "",
			 after);
		if ((r = api_call(u, "GET", path, NULL, a)) < 0 || a->status != 200)
			return r;
		vms = json_object_get(a->body, "vms");
		if (!json_is_array(vms) || json_array_extend(all, vms) < 0) {
			fprintf(stderr, "uictl: GET /vm: unexpected answer\n");
			api_answer_free(a);
			return -EPROTO;
		}
		next = json_object_get(a->body, "next");
		if (!json_is_string(next))
			return 0;
		snprintf(after, sizeof(after), "%s", json_string_value(next));
		api_answer_free(a);
	}
}

int cmd_ls(struct uictl *u, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "all", no_argument, NULL, 'a' },
		{ "state", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	const char *state = NULL;
	struct api_answer a;
	bool all = false;
	json_t *arr;
	int opt, r;

	while ((opt = getopt_long(argc, argv, "as:", opts, NULL)) != -1) {
		switch (opt) {
		case 'a': all = true; break;
		case 's': state = optarg; break;
		case 'j': u->json = true; break;
		default: return uictl_usage_error("ls: bad option");
		}
	}
	if (optind < argc)
		return uictl_usage_error("ls: unexpected argument '%s'", argv[optind]);
	if (all && state)
		return uictl_usage_error("ls: --all and --state exclude each other");
	if (state && !vm_state_known(state))
		return uictl_usage_error("ls: unknown state '%s' (creating, starting, running, "
					 "stopping, failing, stopped, failed, warming, warm, "
					 "retiring)", state);
	if (u->db)
		return reg_ls(u, all || state, state);
	if (!(arr = json_array()))
		return UICTL_EXIT_FAIL;
	r = vm_list(u, state, arr, &a);
	if (r < 0 && api_unreachable(r)) {
		json_decref(arr);
		fallback_note(u, r);
		return reg_ls(u, all || state, state);
	}
	if (r < 0 || a.status != 200) {
		r = r < 0 ? api_fail_code(u, r) : api_report("ls", &a);
	} else if (u->json) {
		json_t *out = json_array();
		size_t i;
		json_t *vm;

		json_array_foreach(arr, i, vm)
			if (all || state || vm_live(vm))
				json_array_append(out, vm);
		print_json(out);
		json_decref(out);
	} else {
		r = vm_table_print(arr, !(all || state)) < 0;
	}
	api_answer_free(&a);
	json_decref(arr);
	return r;
}

/* ---- show ------------------------------------------------------------- */

int cmd_show(struct uictl *u, int argc, char **argv)
{
	struct api_answer a;
	char path[160], what[120];
	int i = json_opts(u, argc, argv, "show"), r;

	if (i < 0)
		return UICTL_EXIT_USAGE;
	if (i >= argc)
		return uictl_usage_error("show: needs a VM id");
	if (i + 1 < argc)
		return uictl_usage_error("show: unexpected argument '%s'", argv[i + 1]);
	if (strlen(argv[i]) > 64 || strchr(argv[i], '/') || strchr(argv[i], '?'))
		return uictl_usage_error("show: '%s' is not a VM id", argv[i]);
	if (u->db)
		return u->json ? reg_show_json(u, argv[i]) : reg_show(u, argv[i], false);
	snprintf(path, sizeof(path), "/vm/%s", argv[i]);
	if ((r = api_call(u, "GET", path, NULL, &a)) < 0) {
		if (!api_unreachable(r))
			return api_fail_code(u, r);
		fallback_note(u, r);
		return u->json ? reg_show_json(u, argv[i]) : reg_show(u, argv[i], false);
	}
	snprintf(what, sizeof(what), "show %s", argv[i]);
	if (a.status != 200) {
		r = api_report(what, &a);
	} else if (u->json) {
		print_json(a.body);
	} else {
		vm_print(a.body);
		if (!u->api) /* a remote API's registry is not ours to read */
			r = reg_show(u, argv[i], true); /* its lease and events */
	}
	api_answer_free(&a);
	return r;
}

/* ---- stop, rm, pause, resume: one request per id ------------------------ */

static int act_one(struct uictl *u, const char *cmd, const char *method, const char *fmt,
		   const char *id)
{
	struct api_answer a;
	char path[160], what[120];
	int r;

	if (strlen(id) > 64 || strchr(id, '/') || strchr(id, '?')) {
		fprintf(stderr, "uictl: %s: '%s' is not a VM id\n", cmd, id);
		return UICTL_EXIT_FAIL;
	}
	snprintf(path, sizeof(path), fmt, id);
	if ((r = api_call(u, method, path, NULL, &a)) < 0)
		return api_fail_code(u, r);
	snprintf(what, sizeof(what), "%s %s", cmd, id);
	if (a.status / 100 != 2) {
		r = api_report(what, &a);
	} else if (u->json) {
		print_json(a.body);
	} else {
		char st[32];

		printf("%s %s\n", id, *json_text(a.body, "state", st, sizeof(st)) ? st :
			  json_is_true(json_object_get(a.body, "deleted")) ? "deleted" : "done");
	}
	api_answer_free(&a);
	return r;
}

/* Each id in turn; the worst exit code (an unreachable API stops). */
static int act(struct uictl *u, int argc, char **argv, const char *cmd, const char *method,
	       const char *fmt)
{
	int i = json_opts(u, argc, argv, cmd), rc = 0;

	if (i < 0)
		return UICTL_EXIT_USAGE;
	if (i >= argc)
		return uictl_usage_error("%s: needs at least one VM id", cmd);
	for (; i < argc; i++) {
		int r = act_one(u, cmd, method, fmt, argv[i]);

		if (r > rc)
			rc = r;
		if (r == UICTL_EXIT_UNREACHABLE)
			break;
	}
	return rc;
}

int cmd_stop(struct uictl *u, int argc, char **argv)
{
	return act(u, argc, argv, "stop", "POST", "/vm/%s/stop");
}

/* rm -f: POST stop first; 0 to go on with the DELETE (a VM already
 * stopped answers 409: fine), else the exit code (reported). */
static int force_stop(struct uictl *u, const char *id)
{
	struct api_answer a;
	char path[160], what[120];
	int r;

	if (strlen(id) > 64 || strchr(id, '/') || strchr(id, '?'))
		return 0; /* act_one says so */
	snprintf(path, sizeof(path), "/vm/%s/stop", id);
	if ((r = api_call(u, "POST", path, NULL, &a)) < 0)
		return api_fail_code(u, r);
	snprintf(what, sizeof(what), "rm -f %s: stop", id);
	r = a.status / 100 == 2 || a.status == 409 ? 0 : api_report(what, &a);
	api_answer_free(&a);
	return r;
}

/* rm [-f] ID...: DELETE (the API refuses a VM not stopped: 409); -f stops
 * it first. */
int cmd_rm(struct uictl *u, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "force", no_argument, NULL, 'f' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	bool force = false;
	int opt, rc = 0;

	while ((opt = getopt_long(argc, argv, "f", opts, NULL)) != -1) {
		switch (opt) {
		case 'f': force = true; break;
		case 'j': u->json = true; break;
		default: return uictl_usage_error("rm: bad option");
		}
	}
	if (optind >= argc)
		return uictl_usage_error("rm: needs at least one VM id");
	for (int i = optind; i < argc && rc != UICTL_EXIT_UNREACHABLE; i++) {
		int r = force ? force_stop(u, argv[i]) : 0;

		if (r == 0)
			r = act_one(u, "rm", "DELETE", "/vm/%s", argv[i]);
		if (r > rc)
			rc = r;
	}
	return rc;
}

int cmd_pause(struct uictl *u, int argc, char **argv)
{
	return act(u, argc, argv, "pause", "POST", "/vm/%s/pause");
}

int cmd_resume(struct uictl *u, int argc, char **argv)
{
	return act(u, argc, argv, "resume", "POST", "/vm/%s/resume");
}
