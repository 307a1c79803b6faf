/*
 * fc_args.h — Firecracker's command line, parsed the way its ArgParser does:
 * `--name value` or `--name` (flags); anything else is an error.
 */
#ifndef FC_ARGS_H
#define FC_ARGS_H

#include <stdbool.h>
#include <stddef.h>

struct fc_args {
	const char *api_sock;      /* default /run/firecracker.socket */
	const char *id;            /* default anonymous-instance */
	const char *log_path;      /* --log-path, or NULL */
	const char *level;         /* --level, or NULL */
	const char *unsupported;   /* first flag the fake accepts but cannot honour */
	size_t max_payload;        /* --http-api-max-payload-size, default 51200 */
	bool help, version;
};

/* Returns 0, or -EINVAL with Firecracker's sentence in err. */
int fc_args_parse(int argc, char **argv, struct fc_args *a, char *err, size_t errlen);

/* Firecracker's instance id rule: 1..64 chars, alphanumeric or '-'. */
bool fc_args_valid_id(const char *id, char *why, size_t n);

/* Logger levels Firecracker accepts (case-insensitive). */
bool fc_args_valid_level(const char *level);

void fc_args_usage(void);

#endif
