/*
 * fc_args.c — see fc_args.h. The table below is Firecracker v1.16's argument
 * list (src/firecracker/src/main.rs). Rules, as its ArgParser: every
 * argument starts with "--" (no "--x=y" form, no positionals); a value
 * argument needs a value that does not start with "--"; an argument may be
 * given once; --seccomp-filter and --no-seccomp exclude each other.
 * Arguments the fake accepts but ignores: seccomp, timing, metrics-path,
 * mmds-size-limit, boot-timer, enable-pci, module, show-*. Arguments whose
 * behaviour it cannot fake (--config-file, --no-api, --metadata,
 * --describe-snapshot, --snapshot-version) are reported in a->unsupported.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fc_args.h"

struct arg_def {
	const char *name;
	bool takes_value, unsupported;
};

static const struct arg_def defs[] = {
	{ "api-sock", true, false }, { "id", true, false },
	{ "seccomp-filter", true, false }, { "no-seccomp", false, false },
	{ "start-time-us", true, false }, { "start-time-cpu-us", true, false },
	{ "parent-cpu-time-us", true, false }, { "config-file", true, true },
	{ "metadata", true, true }, { "no-api", false, true },
	{ "log-path", true, false }, { "level", true, false },
	{ "module", true, false }, { "show-level", false, false },
	{ "show-log-origin", false, false }, { "metrics-path", true, false },
	{ "boot-timer", false, false }, { "version", false, false },
	{ "snapshot-version", false, true }, { "describe-snapshot", true, true },
	{ "http-api-max-payload-size", true, false }, { "mmds-size-limit", true, false },
	{ "enable-pci", false, false }, { "help", false, false },
};

#define NDEFS (sizeof(defs) / sizeof(defs[0]))

static const struct arg_def *find_def(const char *arg)
{
	if (strncmp(arg, "--", 2) != 0)
		return NULL;
	for (size_t i = 0; i < NDEFS; i++)
		if (strcmp(defs[i].name, arg + 2) == 0)
			return &defs[i];
	return NULL;
}

static int store(struct fc_args *a, const struct arg_def *d, const char *value,
		 char *err, size_t errlen)
{
	if (strcmp(d->name, "api-sock") == 0)
		a->api_sock = value;
	else if (strcmp(d->name, "id") == 0)
		a->id = value;
	else if (strcmp(d->name, "log-path") == 0)
		a->log_path = value;
	else if (strcmp(d->name, "level") == 0)
		a->level = value;
	else if (strcmp(d->name, "help") == 0)
		a->help = true;
	else if (strcmp(d->name, "version") == 0)
		a->version = true;
	else if (strcmp(d->name, "http-api-max-payload-size") == 0) {
		char *end = NULL;
		unsigned long long v = strtoull(value, &end, 10);

		if (!end || *end || v == 0) {
			snprintf(err, errlen, "'http-api-max-payload-size' parameter expected "
				 "to be of 'usize' type.");
			return -EINVAL;
		}
		a->max_payload = (size_t)v;
	}
	if (d->unsupported && !a->unsupported)
		a->unsupported = d->name;
	return 0;
}

static int parse_one(char **argv, int argc, int *i, struct fc_args *a, bool *seen,
		     char *err, size_t errlen)
{
	const struct arg_def *d = find_def(argv[*i]);
	const char *value = NULL;

	if (!d) {
		snprintf(err, errlen, "Found argument '%s' which wasn't expected, or isn't "
			 "valid in this context.", argv[*i]);
		return -EINVAL;
	}
	if (seen[d - defs]) {
		snprintf(err, errlen, "The argument '--%s' was provided more than once.", d->name);
		return -EINVAL;
	}
	seen[d - defs] = true;
	if (d->takes_value) {
		if (*i + 1 >= argc || strncmp(argv[*i + 1], "--", 2) == 0) {
			snprintf(err, errlen, "The argument '--%s' requires a value, but none "
				 "was supplied.", d->name);
			return -EINVAL;
		}
		value = argv[++*i];
	}
	return store(a, d, value, err, errlen);
}

static bool seen_both(const bool *seen, const char *x, const char *y)
{
	const struct arg_def *dx = NULL, *dy = NULL;
	char bx[64], by[64];

	snprintf(bx, sizeof(bx), "--%s", x);
	snprintf(by, sizeof(by), "--%s", y);
	dx = find_def(bx);
	dy = find_def(by);
	return dx && dy && seen[dx - defs] && seen[dy - defs];
}

int fc_args_parse(int argc, char **argv, struct fc_args *a, char *err, size_t errlen)
{
	bool seen[NDEFS] = { false };

	memset(a, 0, sizeof(*a));
	a->api_sock = "/run/firecracker.socket";
	a->id = "anonymous-instance";
	a->max_payload = 51200;
	for (int i = 1; i < argc; i++)
		if (parse_one(argv, argc, &i, a, seen, err, errlen) < 0)
			return -EINVAL;
	if (seen_both(seen, "seccomp-filter", "no-seccomp")) {
		snprintf(err, errlen, "Argument 'no-seccomp' cannot be used together with "
			 "argument 'seccomp-filter'.");
		return -EINVAL;
	}
	return 0;
}

bool fc_args_valid_id(const char *id, char *why, size_t n)
{
	size_t len = strlen(id);

	if (len < 1 || len > 64) {
		snprintf(why, n, "InvalidLen(%zu, 1, 64)", len);
		return false;
	}
	for (size_t i = 0; i < len; i++) {
		if (id[i] != '-' && !isalnum((unsigned char)id[i])) {
			snprintf(why, n, "InvalidChar('%c', %zu)", id[i], i);
			return false;
		}
	}
	return true;
}

bool fc_args_valid_level(const char *level)
{
	static const char *const levels[] = { "Off", "Trace", "Debug", "Info", "Warning",
					      "Error", "Warn" };

	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
		if (strcasecmp(levels[i], level) == 0)
			return true;
	return false;
}

void fc_args_usage(void)
{
	printf("Firecracker (fake for uigniter tests)\n\nArguments:\n");
	for (size_t i = 0; i < NDEFS; i++)
		printf("  --%s%s%s\n", defs[i].name, defs[i].takes_value ? " <value>" : "",
		       defs[i].unsupported ? "  (not supported by the fake)" : "");
}
