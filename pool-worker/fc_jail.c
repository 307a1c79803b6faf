/*
 * fc_jail.c — the jailer's command line and its chroot (see fc_jail.h).
 * Everything here runs on pool-worker's loop before (or, for the image
 * links, as the IMAGE step of) a Firecracker spawn: a hard link is one
 * syscall; the copy fallback reads the whole file.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/sendfile.h>
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

/* A copy of src at dst, 0440 root:<vmm gid>. */
static int copy_file(const char *src, const char *dst, const struct pw_vmm_priv *pv)
{
	int in = open(src, O_RDONLY | O_CLOEXEC), out = -1, rc = 0;
	struct stat st;
	off_t off = 0;

	if (in < 0)
		return -errno;
	if (fstat(in, &st) < 0 ||
	    (out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0440)) < 0) {
		rc = -errno;
		goto close_in;
	}
	while (rc == 0 && off < st.st_size)
		if (sendfile(out, in, &off, (size_t)(st.st_size - off)) <= 0)
			rc = errno ? -errno : -EIO;
	if (rc == 0 && pv->drop && fchown(out, 0, pv->gid) < 0)
		rc = -errno;
	if (rc == 0 && fchmod(out, 0440) < 0) /* whatever our umask took away */
		rc = -errno;
	if (close(out) < 0 && rc == 0)
		rc = -errno;
close_in:
	close(in);
	return rc;
}

int pw_jail_link(const char *root, const char *src, const char *name,
		 const struct pw_vmm_priv *pv, char *inside, size_t len, char *err,
		 size_t errlen)
{
	char dst[PATH_MAX];
	int rc = 0;

	inside[0] = '\0';
	if (!src[0])
		return 0;
	if (snprintf(dst, sizeof(dst), "%s/%s", root, name) >= (int)sizeof(dst) ||
	    snprintf(inside, len, "/%s", name) >= (int)len)
		return -ENAMETOOLONG;
	if (unlink(dst) < 0 && errno != ENOENT)
		rc = -errno;
	/* the file itself, not a symlink to it (which would dangle inside) */
	if (rc == 0 && linkat(AT_FDCWD, src, AT_FDCWD, dst, AT_SYMLINK_FOLLOW) < 0)
		rc = errno == EXDEV ? copy_file(src, dst, pv) : -errno;
	if (rc < 0) {
		snprintf(err, errlen, "cannot put %s into the jail as %s: %s", src, dst,
			 strerror(-rc));
		return rc == -ENOENT ? -EINVAL : rc; /* a missing image file: the run's 4xx */
	}
	return 0;
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
