/*
 * uigniter-vmm-exec — the step between pool-worker (root) and a VMM: drops
 * every privilege, then execs the VMM, so the VMM never runs one
 * instruction as root.
 *
 *   uigniter-vmm-exec UID GID PROGRAM [ARG...]
 *
 * In order: supplementary groups = the user's (initgroups: e.g. kvm for
 * /dev/kvm), or none when the uid has no passwd entry; every capability
 * out of the bounding set; the ambient set cleared; setresgid, setresuid
 * (all three ids: from root to a non-zero uid the kernel clears the
 * permitted and effective sets); PR_SET_NO_NEW_PRIVS; then a check that
 * the capability sets really are empty and the ids are the ones asked
 * for; then execv(PROGRAM) (an absolute path: pool-worker resolved it).
 *
 * pool-worker spawns this with posix_spawn (which cannot do these steps),
 * so the pid it watches is the VMM's after the exec. Exit statuses: 126
 * a step failed (the sentence on stderr, the VMM's console log), 127 the
 * exec failed; else the VMM's own.
 */
#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static int die(const char *what, int err)
{
	fprintf(stderr, "uigniter-vmm-exec: %s: %s\n", what, strerror(err));
	return 126;
}

static int parse_id(const char *s, unsigned long *out)
{
	char *end;

	errno = 0;
	*out = strtoul(s, &end, 10);
	return !*s || *end || errno || *out == 0 || *out >= 0xffffffffUL ? -EINVAL : 0;
}

static int set_groups(uid_t uid, gid_t gid)
{
	struct passwd *pw = getpwuid(uid);

	if (pw && initgroups(pw->pw_name, gid) == 0)
		return 0;
	return setgroups(0, NULL) == 0 ? 0 : -errno;
}

static int drop_bounding(void)
{
	for (int cap = 0; cap < 64; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) {
			if (errno == EINVAL)
				return 0; /* past CAP_LAST_CAP */
			return -errno;
		}
	return 0;
}

/* The capability sets are empty (and the bounding set's first bit too). */
static int caps_empty(void)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d) < 0)
		return -errno;
	for (int i = 0; i < 2; i++)
		if (d[i].effective || d[i].permitted || d[i].inheritable)
			return -EPERM;
	if (prctl(PR_CAPBSET_READ, CAP_CHOWN, 0, 0, 0) != 0 ||
	    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_NET_ADMIN, 0, 0) != 0)
		return -EPERM;
	return 0;
}

int main(int argc, char **argv)
{
	unsigned long u, g;
	uid_t ru, eu, su;
	gid_t rg, eg, sg;
	int rc;

	if (argc < 4 || parse_id(argv[1], &u) < 0 || parse_id(argv[2], &g) < 0 ||
	    argv[3][0] != '/') {
		fprintf(stderr, "usage: uigniter-vmm-exec UID GID /PATH/TO/VMM [ARG...] "
			"(UID and GID not 0)\n");
		return 126;
	}
	if ((rc = set_groups((uid_t)u, (gid_t)g)) < 0)
		return die("setgroups", -rc);
	if ((rc = drop_bounding()) < 0)
		return die("PR_CAPBSET_DROP", -rc);
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
		return die("PR_CAP_AMBIENT_CLEAR_ALL", errno);
	if (setresgid((gid_t)g, (gid_t)g, (gid_t)g) < 0)
		return die("setresgid", errno);
	if (setresuid((uid_t)u, (uid_t)u, (uid_t)u) < 0)
		return die("setresuid", errno);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return die("PR_SET_NO_NEW_PRIVS", errno);
	if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0 ||
	    ru != u || eu != u || su != u || rg != g || eg != g || sg != g)
		return die("ids after setresuid", EPERM);
	if ((rc = caps_empty()) < 0)
		return die("capabilities left after the drop", -rc);
	execv(argv[3], argv + 3);
	fprintf(stderr, "uigniter-vmm-exec: exec %s: %s\n", argv[3], strerror(errno));
	return 127;
}
