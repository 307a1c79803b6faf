/*
 * fc_jail.c — the jailer's command line and its chroot (see fc_jail.h).
 * Everything here runs on pool-worker's loop before (or, for the image
 * links, as the IMAGE step of) a Firecracker spawn (pw_vmm_put_file: a
 * hard link is one syscall; the copy fallback reads the whole file).
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fc_jail.h"

static const char *exec_name(const struct ui_config *cfg)
{
	const char *s = strrchr(cfg->firecracker_bin, '/');

	return s ? s + 1 : cfg->firecracker_bin;
}

int pw_jail_dir(const struct ui_config *cfg, const char *id, char *out, size_t len)
{
	int n = snprintf(out, len, "%s/%s/%s", cfg->chroot_base, exec_name(cfg), id);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int pw_jail_root(const struct ui_config *cfg, const char *id, char *out, size_t len)
{
	int n = snprintf(out, len, "%s/%s/%s/root", cfg->chroot_base, exec_name(cfg), id);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* mkdir -p, 0700: only the jailer (root) goes through them; Firecracker
 * sees its root only. */
static int mkdirs(const char *path)
{
	char buf[PATH_MAX];

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0700) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	return mkdir(buf, 0700) < 0 && errno != EEXIST ? -errno : 0;
}

int pw_jail_prepare(const struct ui_config *cfg, const struct pw_vmm_priv *pv,
		    const char *id, char *err, size_t errlen)
{
	char jail[PATH_MAX], run[PATH_MAX + 8];
	int rc;

	if ((rc = pw_jail_dir(cfg, id, jail, sizeof(jail))) < 0 ||
	    snprintf(run, sizeof(run), "%s/root/run", jail) >= (int)sizeof(run)) {
		snprintf(err, errlen, "jail path too long under %s", cfg->chroot_base);
		return -ENAMETOOLONG;
	}
	if ((rc = pw_rm_tree(jail)) == 0 && (rc = mkdirs(run)) == 0 && pv->drop &&
	    chown(run, pv->uid, pv->gid) < 0)
		rc = -errno;
	if (rc < 0) {
		snprintf(err, errlen, "cannot make the jail %s: %s", jail, strerror(-rc));
		(void)pw_rm_tree(jail);
		return rc == -ENOENT ? -EIO : rc;
	}
	return 0;
}

int pw_jail_link(const char *root, const char *src, const char *name,
		 const struct pw_vmm_priv *pv, char *inside, size_t len, char *err,
		 size_t errlen)
{
	char host[PATH_MAX];
	int rc;

	inside[0] = '\0';
	if (!src[0])
		return 0;
	if (snprintf(inside, len, "/%s", name) >= (int)len)
		return -ENAMETOOLONG;
	rc = pw_vmm_put_file(pv, root, src, name, true, host, sizeof(host), err, errlen);
	if (rc < 0)
		inside[0] = '\0';
	return rc;
}

int pw_jail_argv(const struct ui_config *cfg, const struct pw_vmm_priv *pv,
		 enum pw_cg_mode cg, const char *fc_file, const char *id, struct pw_argv *a)
{
	char uid[16], gid[16];

	snprintf(uid, sizeof(uid), "%u", (unsigned)pv->uid);
	snprintf(gid, sizeof(gid), "%u", (unsigned)pv->gid);
	a->argc = 0;
	a->used = 0;
	a->argv[0] = NULL;
	if (pw_argv_add(a, cfg->jailer_bin) || pw_argv_add(a, "--id") || pw_argv_add(a, id) ||
	    pw_argv_add(a, "--exec-file") || pw_argv_add(a, fc_file) ||
	    pw_argv_add(a, "--uid") || pw_argv_add(a, uid) ||
	    pw_argv_add(a, "--gid") || pw_argv_add(a, gid) ||
	    pw_argv_add(a, "--chroot-base-dir") || pw_argv_add(a, cfg->chroot_base))
		return -E2BIG;
	if (cg != PW_CG_OFF &&
	    (pw_argv_add(a, "--cgroup-version") || pw_argv_add(a, cg == PW_CG_V2 ? "2" : "1")))
		return -E2BIG;
	if (pw_argv_add(a, "--") || pw_argv_add(a, "--api-sock") ||
	    pw_argv_add(a, PW_JAIL_SOCKET))
		return -E2BIG;
	return 0;
}
