/*
 * logs.c — `uictl logs [-f] [--bytes N] ID`: the tail of a VM's serial
 * console (GET /vm/{id}/console?bytes=N), raw bytes to stdout; -f
 * (&follow=1) keeps streaming until the VM stops and the API ends the body.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uictl.h"

int cmd_logs(struct uictl *u, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "follow", no_argument, NULL, 'f' },
		{ "bytes", required_argument, NULL, 'b' },
		{ NULL, 0, NULL, 0 },
	};
	const char *bytes = NULL;
	struct api_answer a;
	char path[256], what[96], *end;
	bool follow = false;
	int opt, r;

	while ((opt = getopt_long(argc, argv, "fb:", opts, NULL)) != -1) {
		switch (opt) {
		case 'f': follow = true; break;
		case 'b':
			errno = 0;
			if (strtoull(optarg, &end, 10) == 0 || errno || *end || *optarg == '-')
				return uictl_usage_error("logs: --bytes takes a positive integer");
			bytes = optarg;
			break;
		default: return uictl_usage_error("logs: bad option");
		}
	}
	if (optind >= argc)
		return uictl_usage_error("logs: needs a VM id");
	if (optind + 1 < argc)
		return uictl_usage_error("logs: unexpected argument '%s'", argv[optind + 1]);
	if (strlen(argv[optind]) > 64 || strpbrk(argv[optind], "/?&#"))
		return uictl_usage_error("logs: '%s' is not a VM id", argv[optind]);
	snprintf(path, sizeof(path), "/vm/%s/console%s%s%s%s", argv[optind],
		 bytes || follow ? "?" : "", bytes ? "bytes=" : "", bytes ? bytes : "",
		 follow ? (bytes ? "&follow=1" : "follow=1") : "");
	if ((r = api_stream(u, path, &a)) < 0)
		return api_fail_code(u, r);
	snprintf(what, sizeof(what), "logs %s", argv[optind]);
	r = a.status / 100 == 2 ? 0 : api_report(what, &a);
	api_answer_free(&a);
	return r;
}
