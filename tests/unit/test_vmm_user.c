/*
 * test_vmm_user — the VMM user made when missing (shared/vmm_user.c), by
 * several processes at once, as netd and pool-worker do at their start:
 * each gets the same uid and gid, and those are the passwd entry's, whose
 * primary group exists under the user's name. (Two useradds of one name at
 * once rewrite each other's entries: before the flock, a round of this
 * gave a user 994:994 whose group was 993.) Root only: it adds users
 * (uigt-vu-<pid>-<n>) and removes them.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vmm_user.h"
#include "t.h"

#define RACERS 4

static void userdel(const char *name)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "userdel %s >/dev/null 2>&1", name);
	if (system(cmd) != 0)
		fprintf(stderr, "  (userdel %s failed)\n", name);
}

/* RACERS processes ask for name at the same moment (a pipe closed at once
 * releases them); each writes "uid gid" (or "error ...") to out. */
static void race(const char *name, char out[RACERS][128])
{
	int go[2], res[RACERS][2];
	pid_t pid[RACERS];

	T_ASSERT(pipe(go) == 0);
	for (int i = 0; i < RACERS; i++) {
		T_ASSERT(pipe(res[i]) == 0);
		pid[i] = fork();
		T_ASSERT(pid[i] >= 0);
		if (pid[i] == 0) {
			char c, err[256] = "", line[128];
			uid_t uid;
			gid_t gid;
			int rc, n;

			close(go[1]);
			if (read(go[0], &c, 1) < 0)
				_exit(2);
			rc = ui_vmm_user(name, &uid, &gid, err, sizeof(err));
			n = rc == 0 ? snprintf(line, sizeof(line), "%u %u", (unsigned)uid, (unsigned)gid)
				    : snprintf(line, sizeof(line), "error %.100s", err);
			_exit(write(res[i][1], line, (size_t)n) == n ? 0 : 2);
		}
		close(res[i][1]);
	}
	close(go[0]);
	close(go[1]); /* go */
	for (int i = 0; i < RACERS; i++) {
		ssize_t n = read(res[i][0], out[i], 127);
		int status;

		out[i][n > 0 ? n : 0] = '\0';
		close(res[i][0]);
		T_ASSERT(waitpid(pid[i], &status, 0) == pid[i]);
		T_EQ_INT(WIFEXITED(status) ? WEXITSTATUS(status) : -1, 0);
	}
}

static void t_made_once_by_many(void)
{
	if (geteuid() != 0)
		T_SKIP("needs root (useradd)");
	for (int round = 0; round < 4; round++) {
		char name[32], out[RACERS][128], want[128];
		struct passwd *pw;
		struct group *gr;

		snprintf(name, sizeof(name), "uigt-vu-%d-%d", (int)getpid(), round);
		T_ASSERT(getpwnam(name) == NULL);
		race(name, out);
		pw = getpwnam(name);
		if (!pw)
			T_FAIL("%s was not made: %s", name, out[0]);
		snprintf(want, sizeof(want), "%u %u", (unsigned)pw->pw_uid, (unsigned)pw->pw_gid);
		gr = getgrgid(pw->pw_gid);
		for (int i = 0; i < RACERS; i++)
			if (strcmp(out[i], want) != 0) {
				userdel(name);
				T_FAIL("round %d: process %d got \"%s\", passwd says \"%s\"", round, i,
				       out[i], want);
			}
		if (!gr || strcmp(gr->gr_name, name) != 0) {
			userdel(name);
			T_FAIL("round %d: %s's primary gid %u is %s", round, name,
			       (unsigned)pw->pw_gid, gr ? gr->gr_name : "no group");
		}
		userdel(name);
		T_ASSERT(getpwnam(name) == NULL);
	}
}

/* A user that exists is looked up, never made again. */
static void t_existing(void)
{
	uid_t uid;
	gid_t gid;
	char err[256] = "";

	T_EQ_INT(ui_vmm_user("root", &uid, &gid, err, sizeof(err)), 0);
	T_EQ_INT(uid, 0);
	T_EQ_INT(gid, 0);
}

int main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		T_CASE(t_made_once_by_many),
		T_CASE(t_existing),
		{ 0 },
	};

	return t_run(argc, argv, cases);
}
