/*
 * cgroup.c — a cgroup per VM (see cgroup.h for the layout and who calls
 * what).
 *
 * Choosing the hierarchy (pw_cg_setup), in this order:
 *   vmm.cgroup: off           nothing (logged);
 *   vmm.cgroup_root set       that directory is the base (v1: one
 *                             <root>/<controller> per controller); its
 *                             filesystem says v1 or v2 (auto); not usable
 *                             is an error, as for v1/v2 asked for;
 *   v2 (auto or v2)           a cgroup2 mount whose cgroup.controllers has
 *                             cpu, memory and pids; none mounted (and the
 *                             controllers bound to no v1 hierarchy): one is
 *                             mounted at <run_dir>/cgroup/unified;
 *   v1 (auto or v1)           each of cpu, memory, pids on a v1 hierarchy
 *                             (/proc/cgroups); one not mounted here is
 *                             mounted at <run_dir>/cgroup/<controller> with
 *                             the controllers of its hierarchy (-o cpu or
 *                             -o cpu,cpuacct: the same kernel hierarchy).
 * `ip netns exec` (the system tests) remounts /sys, so /sys/fs/cgroup is
 * empty inside: that is the case the mounting is for. What was mounted is
 * unmounted by pw_cg_fini (VM cgroups live in the kernel's hierarchy, not
 * in the mount: the next pool-worker mounts it again and finds them).
 *
 * Limits (pw_cg_create), v1 / v2:
 *   cpu     cpu.cfs_period_us 100000, cpu.cfs_quota_us vcpus × 100000 /
 *           cpu.max "<vcpus × 100000> 100000";
 *   memory  memory.limit_in_bytes / memory.max = (mem_mib + overhead) MiB;
 *           v2 memory.oom.group 1 (the VMM's processes die together);
 *   pids    pids.max.
 * No swap limit: this host has no swap (a host with swap lets a VMM swap
 * past its limit instead of being killed).
 *
 * File writes are plain open/write/close of existing kernel files; a
 * cgroup directory holds only those, so rmdir removes it once no process
 * is in it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "cgroup.h"
#include "log.h"

static const char *const ctrl_names[PW_CG_NCTRL] = { "cpu", "memory", "pids" };

const char *pw_cg_mode_name(enum pw_cg_mode m)
{
	return m == PW_CG_V2 ? "v2" : m == PW_CG_V1 ? "v1" : "off";
}

static int nctrl(enum pw_cg_mode m)
{
	return m == PW_CG_V1 ? PW_CG_NCTRL : m == PW_CG_V2 ? 1 : 0;
}

/* ---- files ------------------------------------------------------------------ */

/* Writes s into dir/file (an existing kernel file; O_CREAT for test trees). */
static int write_file(const char *dir, const char *file, const char *s)
{
	char path[PATH_MAX];
	size_t n = strlen(s);
	ssize_t w;
	int fd, rc = 0;

	if (snprintf(path, sizeof(path), "%s/%s", dir, file) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	w = write(fd, s, n);
	if (w < 0)
		rc = -errno;
	else if ((size_t)w != n)
		rc = -EIO;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	return rc;
}

static int write_fmt(const char *dir, const char *file, char *err, size_t errlen,
		     const char *fmt, unsigned long long v)
{
	char buf[64];
	int rc;

	snprintf(buf, sizeof(buf), fmt, v);
	if ((rc = write_file(dir, file, buf)) < 0)
		snprintf(err, errlen, "cgroup %s: cannot write %s to %s: %s", dir, buf, file,
			 strerror(-rc));
	return rc;
}

/* dir/file into buf (NUL-terminated): bytes read or -errno. */
static ssize_t read_file(const char *dir, const char *file, char *buf, size_t len)
{
	char path[PATH_MAX];
	ssize_t n;
	int fd;

	if (snprintf(path, sizeof(path), "%s%s%s", dir, *file ? "/" : "", file) >=
	    (int)sizeof(path))
		return -ENAMETOOLONG;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	if (n < 0)
		n = -errno;
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return n;
}

/* The number after "key " at the start of a line of text; -ENOENT. */
static long long keyed_value(const char *text, const char *key)
{
	size_t kl = strlen(key);

	for (const char *l = text; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL)
		if (!strncmp(l, key, kl) && l[kl] == ' ')
			return strtoll(l + kl + 1, NULL, 10);
	return -ENOENT;
}

static int make_dir(const char *path)
{
	return mkdir(path, 0755) == 0 || errno == EEXIST ? 0 : -errno;
}

/* path and every directory above it. */
static int make_dirs(const char *path)
{
	char buf[PATH_MAX];
	int rc;

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	for (char *p = strchr(buf + 1, '/'); p; p = strchr(p + 1, '/')) {
		*p = '\0';
		rc = make_dir(buf);
		*p = '/';
		if (rc < 0)
			return rc;
	}
	return make_dir(buf);
}

/* ---- /proc: hierarchies, mounts, our own cgroup ------------------------------- */

/* ctrl's v1 hierarchy id in /proc/cgroups (0: not on v1 — v2 or unbound),
 * and in opts the controllers bound with it ("cpu" or "cpu,cpuacct"). */
static int v1_hierarchy(const char *ctrl, char *opts, size_t len)
{
	char buf[4096], name[64];
	int id = -ENOENT, h, enabled, off;

	if (read_file("/proc/cgroups", "", buf, sizeof(buf)) < 0)
		return -ENOENT;
	for (char *l = buf; *l; l += strcspn(l, "\n") + (l[strcspn(l, "\n")] != 0))
		if (sscanf(l, "%63s %d %*d %d", name, &h, &enabled) == 3 && !strcmp(name, ctrl))
			id = enabled ? h : -ENOENT;
	if (id <= 0)
		return id;
	opts[0] = '\0';
	off = 0;
	for (char *l = buf; *l; l += strcspn(l, "\n") + (l[strcspn(l, "\n")] != 0))
		if (sscanf(l, "%63s %d", name, &h) == 2 && h == id && name[0] != '#')
			off += snprintf(opts + off, len - (size_t)off, "%s%s", off ? "," : "", name);
	return id;
}

/* Whether super options (comma list) include opt. */
static bool has_opt(const char *opts, const char *opt)
{
	size_t n = strlen(opt);

	for (const char *p = opts; p; p = strchr(p, ','), p = p ? p + 1 : NULL)
		if (!strncmp(p, opt, n) && (p[n] == ',' || p[n] == '\0'))
			return true;
	return false;
}

/* The mount point of a fstype mount (with opt in its super options unless
 * NULL) from /proc/self/mountinfo, its root inside the filesystem in root. */
static bool find_mount(const char *fstype, const char *opt, char *out, size_t len,
		       char *root, size_t rlen)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[4096], r[PATH_MAX], mp[PATH_MAX], fs[64], so[1024];
	bool found = false;

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		char *dash = strstr(line, " - ");

		if (!dash || sscanf(line, "%*s %*s %*s %4095s %4095s", r, mp) != 2 ||
		    sscanf(dash + 3, "%63s %*s %1023s", fs, so) != 2)
			continue;
		if (strcmp(fs, fstype) || (opt && !has_opt(so, opt)))
			continue;
		snprintf(out, len, "%s", mp);
		snprintf(root, rlen, "%s", r);
		found = true;
	}
	fclose(f);
	return found;
}

/* Our cgroup in ctrl's v1 hierarchy (NULL: the v2 one), from /proc/self/cgroup. */
static int own_cgroup(const char *ctrl, char *out, size_t len)
{
	char buf[4096];

	if (read_file("/proc/self/cgroup", "", buf, sizeof(buf)) < 0)
		return -ENOENT;
	for (char *l = buf, *next; *l; l = next) {
		char *c1 = strchr(l, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;

		next = l + strcspn(l, "\n");
		if (*next)
			*next++ = '\0';
		if (!c2)
			continue;
		*c2 = '\0';
		if (ctrl ? has_opt(c1 + 1, ctrl) : (c1 == l + 1 && l[0] == '0' && !c1[1])) {
			snprintf(out, len, "%s", c2 + 1);
			return 0;
		}
	}
	return -ENOENT;
}

/* base = mount + (our cgroup relative to the mount's root). */
static int join_base(char *base, size_t len, const char *mnt, const char *mroot,
		     const char *own)
{
	size_t rl = strcmp(mroot, "/") ? strlen(mroot) : 0;

	if (rl && strncmp(own, mroot, rl))
		own = "/"; /* outside the mount's view: its top */
	else
		own += rl;
	if (!strcmp(own, "/"))
		own = "";
	return snprintf(base, len, "%s%s", mnt, own) >= (int)len ? -ENAMETOOLONG : 0;
}

/* ---- mounting what is missing -------------------------------------------------- */

static int mount_at(struct pw_cgroups *cg, int i, const struct ui_config *cfg,
		    const char *dirname, const char *fstype, const char *opts, char *mp,
		    size_t len)
{
	char top[PATH_MAX];

	if (snprintf(top, sizeof(top), "%s/cgroup", cfg->run_dir) >= (int)sizeof(top) ||
	    snprintf(mp, len, "%s/%s", top, dirname) >= (int)len)
		return -ENAMETOOLONG;
	if (make_dirs(mp) < 0)
		return -errno;
	if (mount("uigniter", mp, fstype, MS_NOSUID | MS_NODEV | MS_NOEXEC, opts) < 0) {
		int rc = -errno;

		rmdir(mp);
		return rc;
	}
	snprintf(cg->mounted[i], sizeof(cg->mounted[i]), "%s", mp);
	ui_info("cgroup: mounted %s%s%s at %s", fstype, opts ? " -o " : "", opts ? opts : "", mp);
	return 0;
}

/* A mount under <run_dir>/cgroup/ is one a previous pool-worker made. */
static void note_ours(struct pw_cgroups *cg, int i, const struct ui_config *cfg,
		      const char *mp)
{
	char top[PATH_MAX];
	int n = snprintf(top, sizeof(top), "%s/cgroup/", cfg->run_dir);

	if (n > 0 && n < (int)sizeof(top) && !strncmp(mp, top, (size_t)n))
		snprintf(cg->mounted[i], sizeof(cg->mounted[i]), "%s", mp);
}

static bool has_controllers(const char *dir)
{
	char buf[512];

	if (read_file(dir, "cgroup.controllers", buf, sizeof(buf)) < 0)
		return false;
	for (int i = 0; i < PW_CG_NCTRL; i++) {
		char *at = strstr(buf, ctrl_names[i]);
		size_t n = strlen(ctrl_names[i]);

		while (at && ((at != buf && at[-1] != ' ') || (at[n] && at[n] != ' ' && at[n] != '\n')))
			at = strstr(at + 1, ctrl_names[i]);
		if (!at)
			return false;
	}
	return true;
}

/* The v2 base, or -errno with why. */
static int find_v2(struct pw_cgroups *cg, const struct ui_config *cfg, char *base,
		   size_t len, char *why, size_t wlen)
{
	char mp[PATH_MAX], root[PATH_MAX], own[PATH_MAX], opts[128];
	bool unbound = true;
	int rc;

	for (int i = 0; i < PW_CG_NCTRL; i++)
		unbound &= v1_hierarchy(ctrl_names[i], opts, sizeof(opts)) == 0;
	if (find_mount("cgroup2", NULL, mp, sizeof(mp), root, sizeof(root)))
		note_ours(cg, 0, cfg, mp);
	else if (!unbound) {
		snprintf(why, wlen, "no cgroup2 mount, and cpu/memory/pids are on v1");
		return -ENOENT;
	} else if ((rc = mount_at(cg, 0, cfg, "unified", "cgroup2", NULL, mp, sizeof(mp))) < 0) {
		snprintf(why, wlen, "cannot mount cgroup2: %s", strerror(-rc));
		return rc;
	} else
		snprintf(root, sizeof(root), "/");
	if (!has_controllers(mp)) {
		snprintf(why, wlen, "the cgroup2 mount %s has no cpu, memory and pids controllers",
			 mp);
		return -ENOENT;
	}
	if (own_cgroup(NULL, own, sizeof(own)) < 0)
		snprintf(own, sizeof(own), "/");
	/* The no-internal-process rule: beside our cgroup, not below it. */
	if (strcmp(own, "/")) {
		char *slash = strrchr(own, '/');

		if (slash == own)
			slash[1] = '\0';
		else
			*slash = '\0';
	}
	return join_base(base, len, mp, root, own);
}

static int find_v1(struct pw_cgroups *cg, const struct ui_config *cfg,
		   char base[PW_CG_NCTRL][PATH_MAX], char *why, size_t wlen)
{
	char mp[PATH_MAX], root[PATH_MAX], own[PATH_MAX], opts[128];
	int rc;

	for (int i = 0; i < PW_CG_NCTRL; i++) {
		const char *c = ctrl_names[i];

		if (v1_hierarchy(c, opts, sizeof(opts)) <= 0) {
			snprintf(why, wlen, "the %s controller is on no v1 hierarchy", c);
			return -ENOENT;
		}
		if (find_mount("cgroup", c, mp, sizeof(mp), root, sizeof(root))) {
			note_ours(cg, i, cfg, mp);
		} else if ((rc = mount_at(cg, i, cfg, c, "cgroup", opts, mp, sizeof(mp))) < 0) {
			snprintf(why, wlen, "cannot mount cgroup -o %s: %s", opts, strerror(-rc));
			return rc;
		} else {
			snprintf(root, sizeof(root), "/");
		}
		if (own_cgroup(c, own, sizeof(own)) < 0)
			snprintf(own, sizeof(own), "/");
		if ((rc = join_base(base[i], PATH_MAX, mp, root, own)) < 0)
			return rc;
	}
	return 0;
}

/* ---- set-up ----------------------------------------------------------------- */

int pw_cg_setup_at(struct pw_cgroups *cg, enum pw_cg_mode mode,
		   const char *const base[PW_CG_NCTRL], const char *name,
		   const struct ui_config *cfg, char *err, size_t errlen)
{
	int rc;

	cg->overhead_mib = cfg->mem_overhead_mib;
	cg->pids_max = cfg->pids_max;
	for (int i = 0; i < nctrl(mode); i++) {
		char *parent = cg->parent[i];
		struct stat st;

		if (stat(base[i], &st) < 0 || !S_ISDIR(st.st_mode)) {
			snprintf(err, errlen, "cgroup base %s: %s", base[i],
				 errno ? strerror(errno) : "not a directory");
			return -ENOENT;
		}
		if (mode == PW_CG_V2 &&
		    (rc = write_file(base[i], "cgroup.subtree_control", "+cpu +memory +pids")) < 0) {
			snprintf(err, errlen, "cgroup %s: cannot enable cpu, memory and pids "
				 "for its children: %s", base[i], strerror(-rc));
			return rc;
		}
		if (snprintf(parent, PATH_MAX, "%s/%s", base[i], name) >= PATH_MAX)
			return -ENAMETOOLONG;
		if ((rc = make_dir(parent)) < 0) {
			snprintf(err, errlen, "cgroup %s: mkdir: %s", parent, strerror(-rc));
			return rc;
		}
		if (mode == PW_CG_V2 &&
		    (rc = write_fmt(parent, "cpu.weight", err, errlen, "%llu",
				    PW_CG_PARENT_WEIGHT)) < 0)
			return rc;
		if (mode == PW_CG_V2 &&
		    (rc = write_file(parent, "cgroup.subtree_control", "+cpu +memory +pids")) < 0) {
			snprintf(err, errlen, "cgroup %s: cannot enable cpu, memory and pids "
				 "for its children: %s", parent, strerror(-rc));
			return rc;
		}
		if (mode == PW_CG_V1 && i == PW_CG_CPU &&
		    (rc = write_fmt(parent, "cpu.shares", err, errlen, "%llu",
				    PW_CG_PARENT_SHARES)) < 0)
			return rc;
	}
	cg->mode = mode;
	return 0;
}

/* "uigniter-<hash of state_dir>": the shm name without its '/'. */
static void instance_name(const struct ui_config *cfg, char *name, size_t len)
{
	char shm[64];

	ui_config_shm_name(cfg, shm, sizeof(shm));
	snprintf(name, len, "%s", shm + 1);
}

/* vmm.cgroup_root: the base given; its filesystem says which version. */
static int setup_root(struct pw_cgroups *cg, const struct ui_config *cfg, const char *name,
		      char *err, size_t errlen)
{
	static char base[PW_CG_NCTRL][PATH_MAX];
	const char *b[PW_CG_NCTRL] = { base[0], base[1], base[2] };
	struct statfs sf;
	enum pw_cg_mode mode;

	if (statfs(cfg->cgroup_root, &sf) < 0) {
		snprintf(err, errlen, "vmm.cgroup_root %s: %s", cfg->cgroup_root, strerror(errno));
		return -errno;
	}
	mode = sf.f_type == CGROUP2_SUPER_MAGIC ? PW_CG_V2 : PW_CG_V1;
	if (cfg->cgroup != UI_CGROUP_AUTO && mode != (cfg->cgroup == UI_CGROUP_V2 ? PW_CG_V2 : PW_CG_V1)) {
		snprintf(err, errlen, "vmm.cgroup_root %s is not a cgroup %s hierarchy",
			 cfg->cgroup_root, cfg->cgroup == UI_CGROUP_V2 ? "v2" : "v1");
		return -EINVAL;
	}
	for (int i = 0; i < PW_CG_NCTRL; i++)
		if (snprintf(base[i], PATH_MAX, "%s%s%s", cfg->cgroup_root,
			     mode == PW_CG_V1 ? "/" : "", mode == PW_CG_V1 ? ctrl_names[i] : "") >=
		    PATH_MAX)
			return -ENAMETOOLONG;
	return pw_cg_setup_at(cg, mode, b, name, cfg, err, errlen);
}

int pw_cg_setup(struct pw_cgroups *cg, const struct ui_config *cfg, char *err, size_t errlen)
{
	static char base[PW_CG_NCTRL][PATH_MAX];
	const char *b[PW_CG_NCTRL] = { base[0], base[1], base[2] };
	char name[64], why2[PATH_MAX + 256] = "", why1[PATH_MAX + 256] = "";
	int rc = -ENOENT;

	memset(cg, 0, sizeof(*cg));
	err[0] = '\0';
	if (cfg->cgroup == UI_CGROUP_OFF) {
		ui_info("cgroup: off (vmm.cgroup: off)");
		return 0;
	}
	instance_name(cfg, name, sizeof(name));
	if (cfg->cgroup_root[0])
		rc = setup_root(cg, cfg, name, err, errlen);
	else {
		if (cfg->cgroup != UI_CGROUP_V1 &&
		    (rc = find_v2(cg, cfg, base[0], PATH_MAX, why2, sizeof(why2))) == 0)
			rc = pw_cg_setup_at(cg, PW_CG_V2, b, name, cfg, why2, sizeof(why2));
		if (rc < 0)
			pw_cg_fini(cg); /* a cgroup2 we mounted and cannot use */
		if (rc < 0 && cfg->cgroup != UI_CGROUP_V2 &&
		    (rc = find_v1(cg, cfg, base, why1, sizeof(why1))) == 0)
			rc = pw_cg_setup_at(cg, PW_CG_V1, b, name, cfg, why1, sizeof(why1));
		if (rc < 0)
			snprintf(err, errlen, "%s%s%s", why2, why2[0] && why1[0] ? "; " : "", why1);
	}
	if (rc < 0) {
		pw_cg_fini(cg);
		if (cfg->cgroup != UI_CGROUP_AUTO || cfg->cgroup_root[0])
			return rc; /* what was configured is not there */
		ui_warn("cgroup: off (no usable hierarchy: %s)", err);
		return 0;
	}
	ui_info("cgroup: %s, VMs under %s%s (memory limit = mem_mib + %u MiB, pids.max %u)",
		pw_cg_mode_name(cg->mode), cg->parent[0], cg->mode == PW_CG_V1 ? " (cpu; "
		"memory and pids likewise)" : "", cg->overhead_mib, cg->pids_max);
	if (cg->mode == PW_CG_V1)
		ui_info("cgroup: v1 memory %s, pids %s", cg->parent[PW_CG_MEMORY],
			cg->parent[PW_CG_PIDS]);
	return 0;
}

void pw_cg_fini(struct pw_cgroups *cg)
{
	for (int i = 0; i < PW_CG_NCTRL; i++) {
		if (cg->parent[i][0] && rmdir(cg->parent[i]) < 0 && errno != ENOENT)
			ui_debug("cgroup %s kept: %s", cg->parent[i], strerror(errno));
		cg->parent[i][0] = '\0';
		if (!cg->mounted[i][0])
			continue;
		if (umount2(cg->mounted[i], MNT_DETACH) < 0)
			ui_warn("cgroup: umount %s: %s", cg->mounted[i], strerror(errno));
		else
			rmdir(cg->mounted[i]);
		cg->mounted[i][0] = '\0';
	}
	cg->mode = PW_CG_OFF;
}

/* ---- one VM ----------------------------------------------------------------- */

void pw_cg_spec(const struct pw_cgroups *cg, const char *id, unsigned vcpus,
		unsigned mem_mib, struct pw_cg_spec *out)
{
	out->mode = cg ? cg->mode : PW_CG_OFF;
	for (int i = 0; i < PW_CG_NCTRL; i++)
		out->dir[i][0] = '\0';
	for (int i = 0; i < nctrl(out->mode); i++)
		if (snprintf(out->dir[i], PATH_MAX, "%s/%s", cg->parent[i], id) >= PATH_MAX)
			out->mode = PW_CG_OFF; /* cannot happen: ids are short */
	out->vcpus = vcpus ? vcpus : 1;
	out->limit_mib = mem_mib + (cg ? cg->overhead_mib : 0);
	out->pids_max = cg ? cg->pids_max : 0;
}

static int create_v1(const struct pw_cg_spec *s, char *err, size_t errlen)
{
	const char *cpu = s->dir[PW_CG_CPU], *mem = s->dir[PW_CG_MEMORY];
	int rc;

	if ((rc = write_fmt(cpu, "cpu.cfs_period_us", err, errlen, "%llu", PW_CG_PERIOD_US)) < 0 ||
	    (rc = write_fmt(cpu, "cpu.cfs_quota_us", err, errlen, "%llu",
			    (unsigned long long)s->vcpus * PW_CG_PERIOD_US)) < 0 ||
	    (rc = write_fmt(mem, "memory.limit_in_bytes", err, errlen, "%llu",
			    (unsigned long long)s->limit_mib << 20)) < 0)
		return rc;
	return write_fmt(s->dir[PW_CG_PIDS], "pids.max", err, errlen, "%llu", s->pids_max);
}

static int create_v2(const struct pw_cg_spec *s, char *err, size_t errlen)
{
	const char *d = s->dir[0];
	char buf[64];
	int rc;

	snprintf(buf, sizeof(buf), "%llu %u", (unsigned long long)s->vcpus * PW_CG_PERIOD_US,
		 PW_CG_PERIOD_US);
	if ((rc = write_file(d, "cpu.max", buf)) < 0) {
		snprintf(err, errlen, "cgroup %s: cannot write %s to cpu.max: %s", d, buf,
			 strerror(-rc));
		return rc;
	}
	if ((rc = write_fmt(d, "memory.max", err, errlen, "%llu",
			    (unsigned long long)s->limit_mib << 20)) < 0 ||
	    (rc = write_fmt(d, "memory.oom.group", err, errlen, "%llu", 1)) < 0)
		return rc;
	return write_fmt(d, "pids.max", err, errlen, "%llu", s->pids_max);
}

int pw_cg_create(const struct pw_cg_spec *s, char *err, size_t errlen)
{
	int rc;

	for (int i = 0; i < nctrl(s->mode); i++)
		if ((rc = make_dir(s->dir[i])) < 0) {
			snprintf(err, errlen, "cgroup %s: mkdir: %s", s->dir[i], strerror(-rc));
			goto remove;
		}
	if (s->mode == PW_CG_OFF)
		return 0;
	rc = s->mode == PW_CG_V1 ? create_v1(s, err, errlen) : create_v2(s, err, errlen);
	if (rc == 0)
		return 0;
remove:
	(void)pw_cg_remove(s);
	return rc;
}

int pw_cg_attach(const struct pw_cg_spec *s, pid_t pid, char *err, size_t errlen)
{
	int rc;

	for (int i = 0; i < nctrl(s->mode); i++)
		if ((rc = write_fmt(s->dir[i], "cgroup.procs", err, errlen, "%llu",
				    (unsigned long long)pid)) < 0)
			return rc;
	return 0;
}

int pw_cg_remove(const struct pw_cg_spec *s)
{
	int rc = 0;

	for (int i = nctrl(s->mode) - 1; i >= 0; i--)
		if (rmdir(s->dir[i]) < 0 && errno != ENOENT && rc == 0)
			rc = -errno;
	return rc;
}

int pw_cg_oom_kills(const struct pw_cg_spec *s)
{
	char buf[1024];
	const char *dir = s->dir[s->mode == PW_CG_V1 ? PW_CG_MEMORY : 0];
	ssize_t n;
	long long v;

	if (s->mode == PW_CG_OFF)
		return 0;
	n = read_file(dir, s->mode == PW_CG_V1 ? "memory.oom_control" : "memory.events",
		      buf, sizeof(buf));
	if (n < 0)
		return (int)n;
	v = keyed_value(buf, "oom_kill");
	return v < 0 ? (int)v : v > 1000000 ? 1000000 : (int)v;
}

int pw_cg_limit_mib(const struct pw_cg_spec *s, unsigned *mib)
{
	char buf[64], *end;
	unsigned long long v;
	ssize_t n;

	if (s->mode == PW_CG_OFF)
		return -ENOENT;
	n = s->mode == PW_CG_V1 ? read_file(s->dir[PW_CG_MEMORY], "memory.limit_in_bytes",
					     buf, sizeof(buf)) :
				   read_file(s->dir[0], "memory.max", buf, sizeof(buf));
	if (n < 0)
		return (int)n;
	errno = 0;
	v = strtoull(buf, &end, 10);
	if (errno || end == buf)
		return -EINVAL; /* "max": no limit */
	*mib = (unsigned)(v >> 20);
	return 0;
}

bool pw_cg_end(const struct pw_cgroups *cg, const char *id, unsigned *limit_mib)
{
	struct pw_cg_spec s;
	bool oom;
	int rc;

	pw_cg_spec(cg, id, 1, 0, &s);
	if (s.mode == PW_CG_OFF)
		return false;
	oom = pw_cg_oom_kills(&s) > 0;
	if (oom && pw_cg_limit_mib(&s, limit_mib) < 0)
		*limit_mib = 0;
	if ((rc = pw_cg_remove(&s)) < 0)
		ui_debug("%s: cgroup not removed yet (%s): the sweep will", id, strerror(-rc));
	return oom;
}

/* ---- the sweep -------------------------------------------------------------- */

int pw_cg_sweep(const struct pw_cgroups *cg, bool (*live)(const char *id, void *arg),
		void *arg)
{
	struct pw_cg_spec s;
	int removed = 0;

	if (!cg)
		return 0;
	for (int i = 0; i < nctrl(cg->mode); i++) {
		DIR *d = opendir(cg->parent[i]);
		struct dirent *de;

		if (!d)
			continue;
		while ((de = readdir(d))) {
			if (de->d_type != DT_DIR || de->d_name[0] == '.' || live(de->d_name, arg))
				continue;
			pw_cg_spec(cg, de->d_name, 1, 0, &s);
			if (pw_cg_remove(&s) == 0) {
				ui_info("cgroup %s removed: no VM owns it", de->d_name);
				removed++;
			}
		}
		closedir(d);
	}
	return removed;
}
