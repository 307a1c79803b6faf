/*
 * vmm_priv.c — see vmm_priv.h: the VMM user, the exec helper's command
 * line, and the per-VM directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fc_jail.h"
#include "log.h"
#include "vmm_priv.h"
#include "vmm_user.h"

#define HELPER "uigniter-vmm-exec"

static int find_helper(char *out, size_t len)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n <= 0)
		return -errno;
	self[n] = '\0';
	if (snprintf(out, len, "%s/" HELPER, dirname(self)) >= (int)len)
		return -ENAMETOOLONG;
	return access(out, X_OK) == 0 ? 0 : -errno;
}

int pw_vmm_priv_init(struct pw_vmm_priv *pv, const struct ui_config *cfg, char *err,
		     size_t errlen)
{
	int rc;

	memset(pv, 0, sizeof(*pv));
	if (!strcmp(cfg->vmm_user, "root")) {
		ui_warn("vmm.user is root: every VMM runs as root with all capabilities — "
			"a guest that escapes its VMM owns the host");
		return 0;
	}
	if ((rc = ui_vmm_user(cfg->vmm_user, &pv->uid, &pv->gid, err, errlen)) < 0)
		return rc;
	if (pv->uid == 0 || pv->gid == 0) {
		snprintf(err, errlen, "vmm.user %s has uid or gid 0: name a user without "
			 "privileges (or root, to opt out)", cfg->vmm_user);
		return -EINVAL;
	}
	if ((rc = find_helper(pv->helper, sizeof(pv->helper))) < 0) {
		snprintf(err, errlen, "cannot find %s beside pool-worker (%s): %s", HELPER,
			 pv->helper, strerror(-rc));
		return rc;
	}
	pv->drop = true;
	ui_info("VMMs run as %s (uid %u, gid %u) without capabilities", cfg->vmm_user,
		(unsigned)pv->uid, (unsigned)pv->gid);
	return 0;
}

/* pv's user may search (x) the directory st describes. */
static bool searchable(const struct pw_vmm_priv *pv, const struct stat *st)
{
	if (st->st_uid == pv->uid)
		return st->st_mode & S_IXUSR;
	if (st->st_gid == pv->gid)
		return st->st_mode & S_IXGRP;
	return st->st_mode & S_IXOTH;
}

int pw_vmm_priv_check_path(const struct pw_vmm_priv *pv, const char *dir, char *err,
			   size_t errlen)
{
	char buf[PATH_MAX];
	struct stat st;

	if (!pv->drop)
		return 0;
	if (snprintf(buf, sizeof(buf), "%s", dir) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	for (char *p = buf + strlen(buf); p > buf; p = strrchr(buf, '/')) {
		*p = '\0';
		if (stat(buf[0] ? buf : "/", &st) < 0)
			return -errno;
		if (!searchable(pv, &st)) {
			if (err)
				snprintf(err, errlen, "%s (mode %04o, %u:%u) is not searchable by the VMM "
				 "user (uid %u): VMMs could not reach their directories under %s",
				 buf[0] ? buf : "/", (unsigned)(st.st_mode & 07777),
				 (unsigned)st.st_uid, (unsigned)st.st_gid, (unsigned)pv->uid, dir);
			return -EACCES;
		}
	}
	return 0;
}

/* pv's user may read the file st describes (its own groups aside: a
 * "no" only costs a link or a copy). */
static bool readable(const struct pw_vmm_priv *pv, const struct stat *st)
{
	if (st->st_uid == pv->uid)
		return st->st_mode & S_IRUSR;
	if (st->st_gid == pv->gid)
		return st->st_mode & S_IRGRP;
	return st->st_mode & S_IROTH;
}

/* The VMM user can open path for reading: every directory above it
 * searchable, the file readable. */
static bool reachable(const struct pw_vmm_priv *pv, const char *path)
{
	char dir[PATH_MAX], *slash;
	struct stat st;

	if (stat(path, &st) < 0 || !readable(pv, &st) ||
	    snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir) || !(slash = strrchr(dir, '/')))
		return false;
	*slash = '\0'; /* its directory and every one above */
	return pw_vmm_priv_check_path(pv, dir[0] ? dir : "/", NULL, 0) == 0;
}

bool pw_vmm_priv_reaches(const struct pw_vmm_priv *pv, const char *path)
{
	return !pv || !pv->drop || reachable(pv, path);
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

int pw_vmm_put_file(const struct pw_vmm_priv *pv, const char *dir, const char *src,
		    const char *name, bool always, char *out, size_t len, char *err,
		    size_t errlen)
{
	char dst[PATH_MAX];
	struct stat st;
	int rc = 0;

	/* a file that is not there: the VMM says so, as it would have */
	if (!src[0] || stat(src, &st) < 0 || (!always && (!pv->drop || reachable(pv, src))))
		return snprintf(out, len, "%s", src) < (int)len ? 0 : -ENAMETOOLONG;
	if (snprintf(dst, sizeof(dst), "%s/%s", dir, name) >= (int)sizeof(dst) ||
	    snprintf(out, len, "%s", dst) >= (int)len)
		return -ENAMETOOLONG;
	if (unlink(dst) < 0 && errno != ENOENT)
		rc = -errno;
	/* the file itself, not a symlink to it (which would dangle in a jail) */
	if (rc == 0 && linkat(AT_FDCWD, src, AT_FDCWD, dst, AT_SYMLINK_FOLLOW) < 0)
		rc = errno == EXDEV ? 1 : -errno;
	else if (rc == 0 && pv->drop && (stat(dst, &st) < 0 || !readable(pv, &st)))
		rc = 1; /* linked, but not the user's to read: a copy then */
	if (rc == 1 && (unlink(dst) == 0 || errno == ENOENT))
		rc = copy_file(src, dst, pv);
	if (rc < 0) {
		snprintf(err, errlen, "cannot put %s into the VMM's directory as %s: %s", src, dst,
			 strerror(-rc));
		return rc == -ENOENT ? -EINVAL : rc; /* a missing image file: the run's 4xx */
	}
	return 0;
}

int pw_vmm_stage_row(const struct pw_vmm_priv *pv, const char *dir, const struct ui_vm *row,
		     bool always, struct ui_vm *out, char *err, size_t errlen)
{
	int rc;

	*out = *row;
	if ((rc = pw_vmm_put_file(pv, dir, row->kernel, "kernel", always, out->kernel,
				  sizeof(out->kernel), err, errlen)) < 0 ||
	    (rc = pw_vmm_put_file(pv, dir, row->initrd, "initrd", always, out->initrd,
				  sizeof(out->initrd), err, errlen)) < 0 ||
	    (rc = pw_vmm_put_file(pv, dir, row->rootfs, "rootfs", always, out->rootfs,
				  sizeof(out->rootfs), err, errlen)) < 0)
		return rc;
	return 0;
}

int pw_vmm_priv_argv(const struct pw_vmm_priv *pv, const char *file, char *const argv[],
		     char ids[2][16], char *out[], size_t max)
{
	size_t n = 0;

	snprintf(ids[0], 16, "%u", (unsigned)pv->uid);
	snprintf(ids[1], 16, "%u", (unsigned)pv->gid);
	if (max < 5)
		return -E2BIG;
	out[n++] = (char *)pv->helper;
	out[n++] = ids[0];
	out[n++] = ids[1];
	out[n++] = (char *)file;
	for (size_t i = 1; argv[i]; i++) {
		if (n + 1 >= max)
			return -E2BIG;
		out[n++] = argv[i];
	}
	out[n] = NULL;
	return 0;
}

int pw_vmm_dir(const struct ui_config *cfg, const char *id, char *out, size_t len)
{
	int n = snprintf(out, len, "%s/vms/%s", cfg->run_dir, id);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static int rm_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st, (void)ftw;
	if (type == FTW_DP)
		return rmdir(path) < 0 && errno != ENOENT ? -1 : 0;
	return unlink(path) < 0 && errno != ENOENT ? -1 : 0;
}

int pw_rm_tree(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) < 0)
		return errno ? -errno : -EIO;
	return 0;
}

int pw_vmm_dir_make(const struct pw_vmm_priv *pv, const char *dir, char *err, size_t errlen)
{
	int rc = pw_rm_tree(dir);

	if (rc == 0 && mkdir(dir, 0700) < 0)
		rc = -errno;
	if (rc == 0 && pv->drop && chown(dir, pv->uid, pv->gid) < 0)
		rc = -errno;
	if (rc < 0) {
		snprintf(err, errlen, "cannot make the VMM's directory %s: %s", dir, strerror(-rc));
		(void)pw_rm_tree(dir);
		return rc == -ENOENT ? -EIO : rc;
	}
	return 0;
}

void pw_vmm_dirs_remove(const struct ui_config *cfg, const char *id)
{
	char dir[PATH_MAX];
	int rc;

	if (pw_vmm_dir(cfg, id, dir, sizeof(dir)) == 0 && (rc = pw_rm_tree(dir)) < 0)
		ui_warn("%s: cannot remove %s: %s", id, dir, strerror(-rc));
	/* whatever vmm.jailer says now (a SIGHUP may have changed it) */
	if (pw_jail_dir(cfg, id, dir, sizeof(dir)) == 0 &&
	    (rc = pw_rm_tree(dir)) < 0)
		ui_warn("%s: cannot remove %s: %s", id, dir, strerror(-rc));
}
