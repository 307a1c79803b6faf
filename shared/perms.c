/*
 * perms.c — the mode rules of perms.h, and applying them to a path.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "perms.h"

mode_t ui_perms_dir_mode(const struct ui_config *cfg)
{
	return cfg->api_group[0] ? 0750 : 0700;
}

mode_t ui_perms_file_mode(const struct ui_config *cfg)
{
	return cfg->api_group[0] ? 0640 : 0600;
}

int ui_perms_apply(const char *path, mode_t mode, gid_t gid, mode_t *old_mode)
{
	char proc[32];
	struct stat st;
	int fd, r = 0;

	*old_mode = 0;
	/* O_PATH | O_NOFOLLOW: a symlink planted here is not followed. */
	if ((fd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto out;
	}
	if (S_ISLNK(st.st_mode)) {
		r = -ELOOP;
		goto out;
	}
	if ((st.st_mode & 07777) == mode && st.st_gid == gid)
		goto out;
	/* chown clears setgid on some filesystems: group first, then mode */
	if (st.st_gid != gid && fchownat(fd, "", (uid_t)-1, gid, AT_EMPTY_PATH) < 0) {
		r = -errno;
		goto out;
	}
	/* fchmod refuses an O_PATH fd; its /proc link names the same inode */
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if (chmod(proc, mode) < 0) {
		r = -errno;
		goto out;
	}
	*old_mode = st.st_mode & 07777;
	r = 1;
out:
	close(fd);
	return r;
}
