/*
 * snapshot_fc.c — the template of pool.boot: snapshot with the Firecracker
 * driver (snapshot.h; the driver's steps: fc_restore.h). One build at a
 * time, struct pw_fc_tmpl, which drives the template as the driver drives
 * a slot: its own struct pw_vmm and row (id "template", so its VMM
 * directory, jail and cgroup are <run_dir>/vms/template, <chroot_base>/
 * <exec>/template and …/uigniter-<instance>/template), the report hooks
 * here:
 *
 *   SPAWNED  logged;
 *   WARMED   booted, banner seen, paused, /snapshot/create answered: the
 *            two files are linked into <run_dir>/templates (0640 root:
 *            <vmm gid>: slots link them again, the VMM user reads them),
 *            READY; the VMM is killed;
 *   FAILED   FAILED with the sentence; the VMM is killed.
 *
 * The tap: Firecracker opens eth0's tap at PUT /network-interfaces, and a
 * restore's network_overrides can only replace an interface the snapshot
 * has, so the template needs a tap but no address (its guest has no ip=;
 * each slot brings its own tap and takes its address over vsock). It is
 * pool-worker's own: "tmpl-<tap_prefix><n>", n counting builds (mod 1000)
 * so that a build never waits for the tap of one whose VMM has not exited
 * yet (outside netd's prefix, so netd neither owns nor reaps it; not on
 * the bridge; no lease, no IPAM), made persistent and owned by the VMM
 * user before the spawn (TUNSETIFF, TUNSETPERSIST, TUNSETOWNER/GROUP, as
 * netd makes its taps), deleted once the VMM's exit is seen; any other
 * "tmpl-<tap_prefix>*" (a crash's) is deleted by a tick (pw_snap_fc_tick)
 * once no VMM holds it.
 *
 * Whatever ends a build goes through tmpl_end once (s->fb cleared, state
 * settled, the VMM killed); the struct then waits for the exit, removes
 * the tap, cgroup and directories, releases the driver and frees itself.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup.h"
#include "fc_restore.h"
#include "log.h"
#include "pool.h"
#include "registry.h"
#include "snapshot.h"
#include "vmm_priv.h"

struct pw_fc_tmpl {
	struct pw_snap *s;             /* NULL once ended */
	struct pw_vmm v;
	struct ui_vm row;
	bool spawned, exited;
	char tap[IFNAMSIZ];
};

/* ---- the tap --------------------------------------------------------------------- */

#define TAP_PREFIX_MAX 7 /* "tmpl-" + 7 + 3 digits < IFNAMSIZ */

static void tap_prefix(const struct ui_config *cfg, char *out, size_t len)
{
	snprintf(out, len, "tmpl-%.*s", TAP_PREFIX_MAX, cfg->tap_prefix);
}

void pw_snap_fc_tap_name(const struct ui_config *cfg, char *out, size_t len)
{
	static unsigned builds;
	char pre[IFNAMSIZ];

	tap_prefix(cfg, pre, sizeof(pre));
	snprintf(out, len, "%.12s%u", pre, builds++ % 1000);
}

static int tun_attach(const char *name)
{
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR };
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		int rc = -errno;

		close(fd);
		return rc;
	}
	return fd;
}

static int tap_make(const char *name, const struct pw_vmm_priv *pv)
{
	int fd = tun_attach(name), rc = 0;

	if (fd < 0)
		return fd;
	if (ioctl(fd, TUNSETPERSIST, 1) < 0 ||
	    (pv && pv->drop && (ioctl(fd, TUNSETOWNER, (unsigned long)pv->uid) < 0 ||
				ioctl(fd, TUNSETGROUP, (unsigned long)pv->gid) < 0)))
		rc = -errno;
	close(fd);
	return rc;
}

/* Gone (or never there): 0; -EBUSY while a VMM holds it. */
static int tap_remove(const char *name)
{
	char sys[64];
	int fd;

	snprintf(sys, sizeof(sys), "/sys/class/net/%s", name);
	if (access(sys, F_OK) < 0)
		return 0;
	if ((fd = tun_attach(name)) < 0)
		return fd;
	if (ioctl(fd, TUNSETPERSIST, 0) < 0) {
		int rc = -errno;

		close(fd);
		return rc;
	}
	close(fd); /* not persistent, no fd: the device goes */
	return 0;
}

void pw_snap_fc_tick(struct pw_snap *s)
{
	char pre[IFNAMSIZ];
	struct dirent *de;
	DIR *d;
	int rc;

	if (s->env->cfg->driver != UI_DRIVER_FIRECRACKER ||
	    (s->env->cfg->pool_boot != UI_POOL_BOOT_SNAPSHOT && s->swept) ||
	    !(d = opendir("/sys/class/net")))
		return;
	s->swept = true; /* another pool.boot: once (a leftover of an earlier config) */
	tap_prefix(s->env->cfg, pre, sizeof(pre));
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, pre, strlen(pre)) != 0 || strlen(de->d_name) >= IFNAMSIZ ||
		    (s->fb && strcmp(de->d_name, s->fb->tap) == 0))
			continue;
		if ((rc = tap_remove(de->d_name)) == 0)
			ui_info("template: tap %s removed: no template owns it", de->d_name);
		else if (rc != -EBUSY)
			ui_warn("template: cannot remove the tap %s: %s", de->d_name, strerror(-rc));
	}
	closedir(d);
}

/* ---- the end ----------------------------------------------------------------------- */

/* Exited (or never spawned) and ended: what it held goes, then t. */
static void tmpl_free(struct pw_fc_tmpl *t)
{
	const struct pw_vmm_env *env = t->v.env;
	unsigned limit;
	int rc;

	if (t->s || (t->spawned && !t->exited && t->v.data))
		return;
	pw_drv_firecracker.release(&t->v);
	if ((rc = tap_remove(t->tap)) < 0)
		ui_warn("template: cannot remove the tap %s: %s", t->tap, strerror(-rc));
	if (pw_cg_end(env->cgroups, PW_SNAP_ID, &limit))
		ui_warn("template: its firecracker was killed at its memory limit (%u MiB)", limit);
	pw_vmm_dirs_remove(env->cfg, PW_SNAP_ID);
	free(t);
}

static void tmpl_end(struct pw_fc_tmpl *t, int status, const char *err)
{
	struct pw_snap *s = t->s;

	if (!s)
		return;
	t->s = NULL;
	s->fb = NULL;
	if (t->v.data && pw_drv_firecracker.kill(&t->v) < 0)
		ui_warn("template: cannot kill its firecracker pid %d", (int)t->row.vmm_pid);
	if (status < 0) {
		pw_snap_unlink(s->file);
		pw_snap_unlink(s->mem_file);
	}
	pw_snap_settle(s, status, err);
	tmpl_free(t);
}

void pw_snap_fc_cancel(struct pw_snap *s)
{
	if (s->fb)
		tmpl_end(s->fb, -ECANCELED, NULL);
}

/* A copy of the open file in into a new dst (O_EXCL): copy_file_range,
 * or (file systems it does not cross: EXDEV) read and write. */
static int copy_fd(int in, const char *dst, off_t size)
{
	int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600), rc = 0;
	bool plain = false;
	char buf[65536];
	off_t off = 0;

	if (out < 0)
		return -errno;
	while (rc == 0 && off < size) {
		ssize_t n = plain ? pread(in, buf, sizeof(buf), off)
				  : copy_file_range(in, &off, out, NULL, (size_t)(size - off), 0);

		if (n < 0 && !plain && (errno == EXDEV || errno == EINVAL || errno == EOPNOTSUPP)) {
			plain = true;
			continue;
		}
		if (n <= 0) {
			rc = n < 0 ? -errno : -EIO;
		} else if (plain) {
			if (write(out, buf, (size_t)n) != n)
				rc = -EIO;
			off += n;
		}
	}
	if (close(out) < 0 && rc == 0)
		rc = -errno;
	if (rc < 0)
		(void)unlink(dst);
	return rc;
}

/* The template's file src (in its VMM's directory: the VMM user's, who
 * could have put a symlink there) into place as dst, root's and the VMM
 * group's to read (0640): opened without following a link, a regular
 * file, then that very inode linked (linkat AT_EMPTY_PATH), or copied
 * across file systems; owner and mode set through the fd. */
static int put_in_place(struct pw_fc_tmpl *t, const char *src, const char *dst, char *err,
			size_t len)
{
	const struct pw_vmm_priv *pv = t->v.env->priv;
	int in = open(src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC), fd = -1, rc = 0;
	const char *what = "open";
	struct stat st;

	if (in < 0 || fstat(in, &st) < 0) {
		rc = -errno;
	} else if (!S_ISREG(st.st_mode)) {
		rc = -EINVAL;
		what = "not a regular file:";
	} else {
		pw_snap_unlink(dst);
		what = "link";
		if (linkat(in, "", AT_FDCWD, dst, AT_EMPTY_PATH) < 0)
			rc = errno == EXDEV ? copy_fd(in, dst, st.st_size) : -errno;
	}
	if (rc == 0) {
		what = "chown";
		if ((fd = open(dst, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0 ||
		    fchown(fd, 0, pv && pv->drop ? pv->gid : 0) < 0 || fchmod(fd, 0640) < 0)
			rc = -errno;
	}
	if (fd >= 0)
		close(fd);
	if (in >= 0)
		close(in);
	if (rc < 0) {
		snprintf(err, len, "cannot put %s in place as %s: %s %s", src, dst, what,
			 strerror(-rc));
		return rc;
	}
	t->s->bytes += (uint64_t)st.st_size;
	return 0;
}

static void saved(struct pw_fc_tmpl *t)
{
	struct pw_snap *s = t->s;
	const char *state, *mem;
	char err[2 * PATH_MAX + 64];
	int rc;

	pw_fc_template_files(&t->v, &state, &mem);
	s->bytes = 0;
	if ((rc = put_in_place(t, state, s->file, err, sizeof(err))) < 0 ||
	    (rc = put_in_place(t, mem, s->mem_file, err, sizeof(err))) < 0) {
		tmpl_end(t, rc, err);
		return;
	}
	ui_registry_now(s->built_at, sizeof(s->built_at));
	tmpl_end(t, 0, NULL);
}

/* ---- the driver's reports ------------------------------------------------------------ */

static struct pw_fc_tmpl *of(struct pw_vmm *v)
{
	return (struct pw_fc_tmpl *)((char *)v - offsetof(struct pw_fc_tmpl, v));
}

static void on_report(struct pw_vmm *v, enum pw_vmm_report r, int status, const char *err)
{
	struct pw_fc_tmpl *t = of(v);
	char msg[600];

	if (r == PW_VMM_SPAWNED) {
		t->spawned = true;
		if (t->s)
			ui_info("template for %s: firecracker pid %d booting", t->s->image,
				(int)t->row.vmm_pid);
		return;
	}
	if (!t->s) { /* ended meanwhile: only its exit matters */
		tmpl_free(t);
		return;
	}
	if (r == PW_VMM_WARMED) {
		saved(t);
		return;
	}
	snprintf(msg, sizeof(msg), "%s", err ? err : strerror(-status));
	tmpl_end(t, status < 0 ? status : -EIO, msg);
}

static void on_exited(struct pw_vmm *v, const struct pw_exit_info *x)
{
	struct pw_fc_tmpl *t = of(v);
	char err[128];

	t->exited = true;
	if (t->s) {
		snprintf(err, sizeof(err), "its firecracker exited (%s %d) before it was saved",
			 x->signal ? "signal" : "status", x->signal ? x->signal : (int)x->status);
		tmpl_end(t, -EIO, err);
		return;
	}
	tmpl_free(t);
}

/* ---- the start ------------------------------------------------------------------------- */

static int tmpl_row(struct pw_fc_tmpl *t, const struct ui_image *img)
{
	struct pw_snap *s = t->s;
	struct ui_vm *r = &t->row;
	int n;

	snprintf(r->id, sizeof(r->id), PW_SNAP_ID);
	snprintf(r->state, sizeof(r->state), UI_VM_WARMING);
	snprintf(r->image, sizeof(r->image), "%s", img->name);
	snprintf(r->kernel, sizeof(r->kernel), "%s", img->kernel);
	snprintf(r->initrd, sizeof(r->initrd), "%s", img->initrd);
	snprintf(r->rootfs, sizeof(r->rootfs), "%s", pw_image_disk(img));
	snprintf(r->boot_args, sizeof(r->boot_args), "%s", s->cmdline);
	snprintf(r->driver, sizeof(r->driver), "firecracker");
	snprintf(r->mac, sizeof(r->mac), "06:00:00:00:00:02"); /* every slot sets its own */
	snprintf(r->tap, sizeof(r->tap), "%s", t->tap);
	r->vcpus = img->vcpus;
	r->mem_mib = img->mem_mib;
	n = snprintf(r->console_log, sizeof(r->console_log), "%s/%s.%ux%u.console.log", s->dir,
		     img->name, img->vcpus, img->mem_mib);
	return n < 0 || (size_t)n >= sizeof(r->console_log) ? -ENAMETOOLONG : 0;
}

int pw_snap_fc_start(struct pw_snap *s, const struct ui_image *img, char *err, size_t len)
{
	struct pw_fc_tmpl *t = calloc(1, sizeof(*t));
	int rc;

	if (!t) {
		snprintf(err, len, "out of memory");
		return -ENOMEM;
	}
	t->s = s;
	t->v.row = &t->row;
	t->v.env = s->env;
	t->v.drv = &pw_drv_firecracker;
	t->v.report = on_report;
	t->v.exited = on_exited;
	pw_snap_fc_tap_name(s->env->cfg, t->tap, sizeof(t->tap));
	if ((rc = tmpl_row(t, img)) < 0) {
		snprintf(err, len, "template paths too long");
		free(t);
		return rc;
	}
	pw_snap_unlink(t->row.console_log); /* an earlier build's banner is not this one's */
	(void)tap_remove(t->tap);
	if ((rc = tap_make(t->tap, s->env->priv)) < 0) {
		snprintf(err, len, "cannot make the template's tap %s: %s", t->tap, strerror(-rc));
		free(t);
		return rc;
	}
	if ((rc = pw_fc_template_warm(&t->v, img, err, len)) < 0) {
		(void)tap_remove(t->tap);
		free(t);
		return rc;
	}
	s->fb = t;
	ui_info("template for %s (%u vcpus, %u MiB): building %s and %s (firecracker, tap %s)",
		img->name, img->vcpus, img->mem_mib, s->file, s->mem_file, t->tap);
	return 0;
}
