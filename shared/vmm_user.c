/*
 * vmm_user.c — see vmm_user.h. Two daemons (netd, pool-worker) ask at their
 * start, maybe at the same moment — and two useradds of one name at once
 * are not safe: useradd checks that the name is free before it takes the
 * shadow lock, so the second, once it has the lock, rewrites the first's
 * entries with other ids (seen here: the user 994:994, its group 993 — a
 * daemon that looked the user up in between holds ids nobody has). So the
 * create step is serialized with flock(2) on /etc/.pwd.lock, the file
 * lckpwdf(3) and useradd lock with fcntl(2) locks (which do not interact
 * with flock: useradd never waits for us), for every process of every
 * instance; and the lookup is made again under the lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vmm_user.h"

extern char **environ;

#define UI_PWD_LOCK "/etc/.pwd.lock"

static int lookup(const char *name, uid_t *uid, gid_t *gid)
{
	struct passwd pw, *res = NULL;
	char buf[4096];
	int rc = getpwnam_r(name, &pw, buf, sizeof(buf), &res);

	if (rc != 0)
		return -rc;
	if (!res)
		return -ENOENT;
	*uid = pw.pw_uid;
	*gid = pw.pw_gid;
	return 0;
}

/* useradd, its output to /dev/null; its exit status, or negative errno. */
static int useradd(const char *name)
{
	char *argv[] = { "useradd", "--system", "--user-group", "--no-create-home",
			 "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin",
			 "--comment", "uigniter VMMs", (char *)name, NULL, NULL, NULL };
	posix_spawn_file_actions_t fa;
	int rc, status;
	pid_t pid;

	if (getgrnam("kvm")) { /* /dev/kvm is root:kvm 0660 */
		argv[11] = "--groups";
		argv[12] = "kvm";
	}
	if ((rc = posix_spawn_file_actions_init(&fa)) != 0)
		return -rc;
	if ((rc = posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0)) == 0 &&
	    (rc = posix_spawn_file_actions_adddup2(&fa, 1, 2)) == 0)
		rc = posix_spawnp(&pid, access("/usr/sbin/useradd", X_OK) == 0 ?
				  "/usr/sbin/useradd" : "useradd", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0)
		return -rc;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int ui_vmm_user(const char *name, uid_t *uid, gid_t *gid, char *err, size_t errlen)
{
	int rc = lookup(name, uid, gid), made, lock = -1;

	if (rc == -ENOENT) {
		/* (no lock file: /etc read-only — useradd fails there as well) */
		lock = open(UI_PWD_LOCK, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (lock >= 0)
			while (flock(lock, LOCK_EX) < 0 && errno == EINTR)
				;
		rc = lookup(name, uid, gid); /* the other one may have made it */
	}
	if (rc != -ENOENT) {
		if (lock >= 0)
			close(lock);
		if (rc < 0)
			snprintf(err, errlen, "vmm.user %s: cannot look it up: %s", name,
				 strerror(-rc));
		return rc;
	}
	made = useradd(name);
	rc = lookup(name, uid, gid);
	if (lock >= 0)
		close(lock);
	if (rc < 0 && made < 0)
		snprintf(err, errlen, "vmm.user %s: no such user, and useradd could not run (%s); "
			 "create it or set vmm.user", name, strerror(-made));
	else if (rc < 0)
		snprintf(err, errlen, "vmm.user %s: no such user, and useradd exited with status %d; "
			 "create it or set vmm.user", name, made);
	return rc;
}
