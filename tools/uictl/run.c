/*
 * run.c — `uictl run IMAGE`: POST /vm/run and print the VM it answers
 * (201), or the API's error message (exit 1).
 *
 *   uictl run IMAGE [--name N] [--vcpus N] [--mem MIB] [--wait running|ready]
 *                   [--cmd 'ARGS'] [--json] [-- ARG...]
 *
 * The guest command ("cmd": [argv] in the body): --cmd's words (split at
 * blanks, no quoting), then every argument after `--`, exactly.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uictl.h"

/* A decimal in lo..hi, else a usage error naming the option. */
static int uint_opt(const char *opt, const char *val, long lo, long hi, long *out)
{
	char *end;

	errno = 0;
	*out = strtol(val, &end, 10);
	if (errno || end == val || *end || *out < lo || *out > hi)
		return uictl_usage_error("run: %s must be an integer between %ld and %ld", opt,
					 lo, hi);
	return 0;
}

/* --cmd's words appended to cmd. */
static int split_words(const char *s, json_t *cmd)
{
	char *copy = strdup(s), *save = NULL;
	int r = 0;

	if (!copy)
		return -ENOMEM;
	for (char *w = strtok_r(copy, " \t\n", &save); w && r == 0; w = strtok_r(NULL, " \t\n", &save))
		r = json_array_append_new(cmd, json_string(w));
	free(copy);
	return r < 0 ? -ENOMEM : 0;
}

/* argv[0..argc) of the options (before any `--`) into body and cmd. */
static int run_parse(struct uictl *u, int argc, char **argv, json_t *body, json_t *cmd)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "vcpus", required_argument, NULL, 'c' },
		{ "mem", required_argument, NULL, 'm' },
		{ "wait", required_argument, NULL, 'w' },
		{ "cmd", required_argument, NULL, 'x' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	long n;
	int opt, r = 0;

	while (r == 0 && (opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'n': r = json_object_set_new(body, "name", json_string(optarg)); break;
		case 'c':
			if ((r = uint_opt("--vcpus", optarg, 1, 32, &n)) == 0)
				r = json_object_set_new(body, "vcpus", json_integer(n));
			break;
		case 'm':
			if ((r = uint_opt("--mem", optarg, 16, 65536, &n)) == 0)
				r = json_object_set_new(body, "mem_mib", json_integer(n));
			break;
		case 'w':
			if (strcmp(optarg, "ready") && strcmp(optarg, "running"))
				return uictl_usage_error("run: --wait takes running or ready");
			r = json_object_set_new(body, "wait", json_string(optarg));
			break;
		case 'x': r = split_words(optarg, cmd) < 0 ? UICTL_EXIT_FAIL : 0; break;
		case 'j': u->json = true; break;
		default: return uictl_usage_error("run: bad option");
		}
	}
	if (r != 0)
		return r == UICTL_EXIT_USAGE ? r : UICTL_EXIT_FAIL;
	if (optind >= argc)
		return uictl_usage_error("run: needs an IMAGE");
	if (optind + 1 < argc)
		return uictl_usage_error("run: unexpected argument '%s' (guest arguments go "
					 "after --)", argv[optind + 1]);
	return json_object_set_new(body, "image", json_string(argv[optind])) < 0;
}

int cmd_run(struct uictl *u, int argc, char **argv)
{
	json_t *body = json_object(), *cmd = json_array();
	struct api_answer a = { 0, NULL };
	int dash = argc, r;

	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--")) {
			dash = i;
			break;
		}
	if (!body || !cmd) {
		r = UICTL_EXIT_FAIL;
		goto out;
	}
	if ((r = run_parse(u, dash, argv, body, cmd)) != 0)
		goto out;
	for (int i = dash + 1; i < argc; i++)
		if (json_array_append_new(cmd, json_string(argv[i])) < 0) {
			r = UICTL_EXIT_FAIL;
			goto out;
		}
	if (json_array_size(cmd) && json_object_set(body, "cmd", cmd) < 0) {
		r = UICTL_EXIT_FAIL;
		goto out;
	}
	if ((r = api_call(u, "POST", "/vm/run", body, &a)) < 0) {
		r = api_fail_code(u, r);
		goto out;
	}
	if (a.status != 201 && a.status != 200) /* 200: an idempotent replay */
		r = api_report("run", &a);
	else if (u->json)
		print_json(a.body);
	else
		vm_print(a.body);
out:
	api_answer_free(&a);
	json_decref(cmd);
	json_decref(body);
	return r;
}
