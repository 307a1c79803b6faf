/*
 * access.c — modes, groups and the token file at uigniterd's start (see
 * access.h). Runs before the registry is opened and before any daemon is
 * spawned, so nothing is ever created with looser modes: the registry file
 * is made here (sqlite would make it 0644 & ~umask) and its -wal and -shm,
 * which sqlite creates with the database file's mode and owner, follow it.
 * state_dir/vms is setgid: the console logs pool-worker creates there
 * (0640 & ~umask) get api.group without pool-worker knowing it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "access.h"
#include "log.h"
#include "perms.h"
#include "token.h"

/* Applies mode/group to path; a missing path is fine unless must. */
static int apply(const struct ui_config *cfg, const char *what, const char *path, mode_t mode,
		 bool must)
{
	mode_t old;
	int r = ui_perms_apply(path, mode, cfg->api_gid, &old);

	if (r == -ENOENT && !must)
		return 0;
	if (r < 0) {
		ui_error("%s %s: cannot set mode %04o, group %s: %s", what, path, (unsigned)mode,
			 cfg->api_group[0] ? cfg->api_group : "root", strerror(-r));
		return r;
	}
	if (r > 0)
		ui_info("%s %s: mode %04o → %04o, group %s", what, path, (unsigned)old,
			(unsigned)mode, cfg->api_group[0] ? cfg->api_group : "root");
	return 0;
}

/* The registry file itself, made empty when missing (sqlite fills it). */
static int make_registry(const struct ui_config *cfg, const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, ui_perms_file_mode(cfg));

	if (fd < 0) {
		ui_error("registry %s: %s", path, strerror(errno));
		return -errno;
	}
	close(fd);
	return 0;
}

int ui_access_prepare(const struct ui_config *cfg)
{
	mode_t dir = ui_perms_dir_mode(cfg), file = ui_perms_file_mode(cfg);
	char path[PATH_MAX + 16];
	static const char *const sfx[] = { "-wal", "-shm" };
	int r;

	/* VMMs run as vmm.user (pool-worker/vmm_priv.h): they must reach their
	 * own <run_dir>/vms/<id>/ (0700, theirs): search, not read, for others */
	mode_t run = dir | (strcmp(cfg->vmm_user, "root") ? S_IXOTH : 0);

	if ((r = apply(cfg, "state_dir", cfg->state_dir, dir, true)) < 0 ||
	    (r = apply(cfg, "run_dir", cfg->run_dir, run, true)) < 0)
		return r;
	snprintf(path, sizeof(path), "%s/vms", cfg->state_dir);
	if ((r = apply(cfg, "console logs' directory", path, dir | S_ISGID, true)) < 0)
		return r;
	snprintf(path, sizeof(path), "%s/vms", cfg->run_dir);
	if ((r = apply(cfg, "VMM sockets' directory", path, run, true)) < 0)
		return r;
	ui_config_registry_path(cfg, path, sizeof(path));
	if ((r = make_registry(cfg, path)) < 0 || (r = apply(cfg, "registry", path, file, true)) < 0)
		return r;
	for (int i = 0; i < 2; i++) {
		size_t n = strlen(path);

		snprintf(path + n, sizeof(path) - n, "%s", sfx[i]);
		if ((r = apply(cfg, "registry", path, file, false)) < 0)
			return r;
		path[n] = '\0';
	}
	return 0;
}

int ui_access_token(const struct ui_config *cfg)
{
	char tok[UI_TOKEN_MAX + 1], err[PATH_MAX + 200];
	bool created;
	int r;

	if (!cfg->api_tcp[0])
		return 0;
	if (!cfg->api_token_file[0]) {
		ui_warn("api.token_file is \"\": TCP %s takes requests without a token; every "
			"local user may run and stop VMs through it", cfg->api_tcp);
		return 0;
	}
	if ((r = ui_token_ensure(cfg->api_token_file, tok, &created, err, sizeof(err))) < 0) {
		ui_error("%s", err);
		return r;
	}
	memset(tok, 0, sizeof(tok));
	if (created)
		ui_info("api token made: %s (0600; send it as \"Authorization: Bearer <token>\" "
			"over TCP)", cfg->api_token_file);
	return 0;
}
