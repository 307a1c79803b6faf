/*
 * snapshot.c — the template of pool.boot: snapshot (see snapshot.h): its
 * lifetime in struct pw_snap (NONE → BUILDING → READY or FAILED; back to
 * NONE when discarded) and one build at a time, struct pw_tmpl_build:
 *
 *   SPAWNING  the VMM spawned (vmm_proc.h, as the VMM user) in its cgroup
 *             (cgroup.h, id "template": a slot's limits for its shape), its
 *             console log new (an earlier build's banner must not count);
 *   BOOTING   until its console says UIGNITER-TEMPLATE (ready.h's console
 *             rule), within boot_timeout_ms + ready_timeout_ms;
 *   SAVING    QMP: stop, getfd (the .tmp file, opened by us), migrate
 *             fd:, query-migrate every 100 ms until "completed";
 *   QUITTING  renamed into place; QMP quit, then SIGKILL for good measure.
 *
 * The whole build has one deadline (PW_SNAP_SAVE_MS more than the boot's).
 * Whatever ends a build (its outcome, a discard, pool-worker stopping)
 * goes through build_end once: the VMM is killed, the .tmp file removed on
 * failure, s->b cleared and `done` called (not for a discard). The build
 * struct then waits for its VMM's exit and frees itself with its VMM
 * directory (<run_dir>/vms/template) and cgroup.
 *
 * The Firecracker template is snapshot_fc.c's; the lifetime here (want,
 * tick, discard, slot failures, stop, publish) is both drivers'.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup.h"
#include "fc_restore.h"
#include "log.h"
#include "pool.h"
#include "qmp.h"
#include "ready.h"
#include "registry.h"
#include "shm.h"
#include "snapshot.h"
#include "vmm_priv.h"
#include "vmm_proc.h"

#define PW_SNAP_FDNAME "uigniter-template"
#define PW_SNAP_SAVE_MS 120000u     /* stop + save, after the boot's time */
#define PW_SNAP_POLL_MS 100u

enum build_step { B_SPAWNING, B_BOOTING, B_SAVING, B_QUITTING };
enum build_timer { BT_RETRY, BT_DEADLINE };

struct pw_tmpl_build {
	struct pw_snap *s;             /* NULL once ended */
	const struct pw_vmm_env *env;
	struct pw_vmm_proc proc;       /* frees this struct (build_freed) */
	enum build_step step;
	struct qmp *qmp;
	struct pw_ready *probe;
	bool fd_sent, migrating;
	bool exited;
	struct ui_vm row;              /* the template's "row": paths, shape */
	char vmm_dir[PATH_MAX];
	char tmp[PATH_MAX + 168];      /* the file being written */
	char console[PATH_MAX + 168];
};

void pw_snap_unlink(const char *path)
{
	if (path[0] && unlink(path) < 0 && errno != ENOENT)
		ui_warn("template: cannot remove %s: %s", path, strerror(errno));
}

/* ---- the build's end ------------------------------------------------------------- */

static void build_freed(struct pw_vmm_proc *p)
{
	struct pw_tmpl_build *b = p->owner;
	unsigned limit;

	if (b->exited && pw_cg_end(b->env->cgroups, PW_SNAP_ID, &limit))
		ui_warn("template: its qemu was killed at its memory limit (%u MiB)", limit);
	(void)pw_rm_tree(b->vmm_dir);
	free(b);
}

/* Once ended and exited (or never spawned): the handles go, then b. */
static void build_close(struct pw_tmpl_build *b)
{
	if (!b->s && (b->exited || !pw_vmm_proc_running(&b->proc)))
		pw_vmm_proc_close(&b->proc);
}

/* status 0: the file is in place (READY); else FAILED with err — or, for
 * -ECANCELED (discarded, stopping), NONE and no `done`. */
static void build_end(struct pw_tmpl_build *b, int status, const char *err)
{
	struct pw_snap *s = b->s;

	if (!s)
		return;
	b->s = NULL;
	s->b = NULL;
	pw_ready_stop(b->probe);
	b->probe = NULL;
	qmp_close(b->qmp);
	b->qmp = NULL;
	uv_timer_stop(&b->proc.timer[BT_RETRY]);
	uv_timer_stop(&b->proc.timer[BT_DEADLINE]);
	if (status < 0)
		pw_snap_unlink(b->tmp);
	if (pw_vmm_proc_running(&b->proc) && pw_vmm_proc_kill(&b->proc) < 0)
		ui_warn("template: cannot kill its qemu pid %d", (int)b->proc.pid);
	build_close(b);
	pw_snap_settle(s, status, err);
}

void pw_snap_settle(struct pw_snap *s, int status, const char *err)
{
	if (status == 0) {
		s->state = PW_TMPL_READY;
		s->error[0] = '\0';
		ui_info("template: %s saved (%llu bytes)", s->file, (unsigned long long)s->bytes);
	} else if (status == -ECANCELED) {
		s->state = PW_TMPL_NONE;
	} else {
		s->state = PW_TMPL_FAILED;
		snprintf(s->error, sizeof(s->error), "%s", err ? err : strerror(-status));
		ui_warn("template for %s failed: %s; slots boot ahead", s->image, s->error);
	}
	if (status != -ECANCELED && s->done)
		s->done(s, status);
}

static void build_fail(struct pw_tmpl_build *b, int status, const char *fmt, const char *what)
{
	char err[256];

	snprintf(err, sizeof(err), fmt, what ? what : "");
	build_end(b, status < 0 ? status : -EIO, err);
}

static void on_build_exit(struct pw_vmm_proc *p, int64_t status, int sig)
{
	struct pw_tmpl_build *b = p->owner;
	char err[128];

	b->exited = true;
	if (b->s) {
		snprintf(err, sizeof(err), "its qemu exited (%s %d) while %s",
			 sig ? "signal" : "status", sig ? sig : (int)status,
			 b->step == B_BOOTING ? "booting" : "being saved");
		build_end(b, b->step == B_QUITTING ? 0 : -EIO, err);
		return;
	}
	build_close(b);
}

static void on_deadline(uv_timer_t *t)
{
	struct pw_tmpl_build *b = t->data;

	build_fail(b, -ETIMEDOUT, "not saved in time (%s)",
		   b->step == B_BOOTING ? "no " PW_SNAP_BANNER " on its console" : "saving");
}

/* ---- saving ------------------------------------------------------------------------ */

static void save_step(struct pw_tmpl_build *b);

static void on_retry(uv_timer_t *t)
{
	save_step(t->data);
}

static void later(struct pw_tmpl_build *b, unsigned ms)
{
	if (uv_timer_start(&b->proc.timer[BT_RETRY], on_retry, ms, 0) < 0)
		build_fail(b, -EIO, "cannot arm its timer%s", "");
}

/* utime+stime of pid in seconds (for the log: what the template cost),
 * -1 when unknown. */
static double cpu_seconds(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut, st;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (!(f = fopen(path, "re")))
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* after "(comm)": state is field 3, utime 14, stime 15 */
	if (!(p = strrchr(buf, ')')) ||
	    sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* The file is complete: into place, then quit. */
static void saved(struct pw_tmpl_build *b)
{
	struct pw_snap *s = b->s;
	struct stat st;

	if (rename(b->tmp, s->file) < 0 || stat(s->file, &st) < 0) {
		build_fail(b, -errno, "cannot put the state file in place: %s", strerror(errno));
		return;
	}
	s->bytes = (uint64_t)st.st_size;
	ui_registry_now(s->built_at, sizeof(s->built_at));
	ui_info("template for %s: its qemu used %.2f CPU-s to boot and save", s->image,
		cpu_seconds(b->proc.pid));
	b->step = B_QUITTING;
	if (qmp_execute(b->qmp, "quit", NULL, NULL, NULL) < 0)
		ui_debug("template: quit not sent: killed instead");
	build_end(b, 0, NULL);
}

static void on_query_migrate(struct qmp *q, int status, json_t *ret, const char *err, void *arg)
{
	struct pw_tmpl_build *b = arg;
	const char *st = json_string_value(json_object_get(ret, "status"));

	(void)q;
	if (!b->s)
		return;
	if (status < 0)
		build_fail(b, status, "query-migrate: %s", err);
	else if (st && strcmp(st, "completed") == 0)
		saved(b);
	else if (st && (strcmp(st, "failed") == 0 || strcmp(st, "cancelled") == 0))
		build_fail(b, -EIO, "migrate to the state file: %s", st);
	else
		later(b, PW_SNAP_POLL_MS);
}

static void on_cmd(struct qmp *q, int status, json_t *ret, const char *err, void *arg)
{
	struct pw_tmpl_build *b = arg;

	(void)q;
	(void)ret;
	if (!b->s)
		return;
	if (status < 0) {
		build_fail(b, status, "QMP: %s", err);
		return;
	}
	save_step(b);
}

/* Sends the file: opened here (root, 0640), QEMU writes through its copy. */
static int send_file(struct pw_tmpl_build *b)
{
	json_t *args = json_pack("{s:s}", "fdname", PW_SNAP_FDNAME);
	int fd = open(b->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640), rc;

	if (fd < 0 || !args) {
		rc = fd < 0 ? -errno : -ENOMEM;
		if (fd >= 0)
			close(fd);
		json_decref(args);
		return rc;
	}
	rc = qmp_execute_fd(b->qmp, "getfd", args, fd, on_cmd, b);
	close(fd); /* QEMU has its own now (or it was not sent) */
	json_decref(args);
	return rc;
}

/* One step of the save, each after the last one's answer: stop, getfd,
 * migrate, then query-migrate until it is over. */
static void save_step(struct pw_tmpl_build *b)
{
	json_t *args;
	int rc;

	if (!b->s)
		return;
	if (!qmp_is_ready(b->qmp)) {
		later(b, PW_SNAP_POLL_MS); /* connecting (on_qmp_ready goes on) */
		return;
	}
	if (b->step == B_BOOTING) {
		b->step = B_SAVING;
		if (qmp_execute(b->qmp, "stop", NULL, on_cmd, b) < 0)
			build_fail(b, -EIO, "cannot send stop%s", "");
	} else if (!b->fd_sent) {
		if ((rc = send_file(b)) == -EAGAIN) {
			later(b, PW_SNAP_POLL_MS);
			return;
		}
		if (rc < 0)
			build_fail(b, rc, "cannot hand the state file over: %s", strerror(-rc));
		b->fd_sent = rc == 0;
	} else if (!b->migrating) {
		b->migrating = true;
		args = json_pack("{s:s}", "uri", "fd:" PW_SNAP_FDNAME);
		if (!args || qmp_execute(b->qmp, "migrate", args, on_cmd, b) < 0)
			build_fail(b, -EIO, "cannot send migrate%s", "");
		json_decref(args);
	} else if (qmp_execute(b->qmp, "query-migrate", NULL, on_query_migrate, b) < 0) {
		build_fail(b, -EIO, "cannot send query-migrate%s", "");
	}
}

static void on_qmp_ready(struct qmp *q, int status, void *arg)
{
	struct pw_tmpl_build *b = arg;

	if (status < 0) { /* not listening yet: again */
		qmp_close(q);
		b->qmp = NULL;
		later(b, PW_SNAP_POLL_MS);
		return;
	}
	save_step(b);
}

static void on_qmp_closed(struct qmp *q, int status, void *arg)
{
	struct pw_tmpl_build *b = arg;

	(void)q;
	build_fail(b, status, "QMP connection lost: %s", uv_strerror(status));
}

static const struct qmp_callbacks build_qmp = { .ready = on_qmp_ready, .closed = on_qmp_closed };

static void connect_qmp(struct pw_tmpl_build *b)
{
	int rc = qmp_connect(b->proc.loop, b->row.api_socket, &build_qmp, b, &b->qmp);

	if (rc < 0) {
		b->qmp = NULL;
		build_fail(b, rc, "cannot connect to its QMP: %s", uv_strerror(rc));
	}
}

/* ---- booting ------------------------------------------------------------------------ */

static void on_banner(void *arg, int status, const char *how)
{
	struct pw_tmpl_build *b = arg;

	b->probe = NULL;
	if (status < 0) {
		build_fail(b, status, "no " PW_SNAP_BANNER " on its console (%s)", how);
		return;
	}
	ui_info("template for %s booted (%s): saving it", b->s->image, how);
	connect_qmp(b);
	if (b->s)
		save_step(b);
}

static void on_spawned(struct pw_vmm_proc *p, int status, const char *err)
{
	struct pw_tmpl_build *b = p->owner;
	struct pw_ready_rule rule = { NULL, 0, PW_SNAP_BANNER, b->console,
				      b->s ? b->s->env->cfg->boot_timeout_ms +
				      b->s->env->cfg->ready_timeout_ms : 1000, NULL };
	int rc;

	if (!b->s) { /* ended meanwhile: build_end killed it (or will) */
		build_close(b);
		return;
	}
	if (status < 0) {
		build_fail(b, status, "%s", err);
		return;
	}
	ui_info("template for %s: qemu pid %d booting", b->s->image, (int)p->pid);
	b->step = B_BOOTING;
	if ((rc = pw_ready_start(p->loop, &rule, on_banner, b, &b->probe)) < 0)
		build_fail(b, rc, "cannot watch its console: %s", strerror(-rc));
}

/* ---- starting a build ------------------------------------------------------------------ */

static int build_argv(struct pw_tmpl_build *b, const struct ui_image *img, struct pw_argv *a,
		      char *err, size_t len)
{
	const struct pw_vmm_env *env = b->s->env;
	struct pw_argv *base = malloc(sizeof(*base));
	struct ui_vm *seen = malloc(sizeof(*seen));
	char agent[PATH_MAX + 16];
	const char *why;
	int rc = -ENOMEM;

	snprintf(err, len, "out of memory");
	if (!base || !seen)
		goto out;
	if ((rc = pw_vmm_dir_make(env->priv, b->vmm_dir, err, len)) < 0 ||
	    (rc = pw_vmm_stage_row(env->priv, b->vmm_dir, &b->row, false, seen, err, len)) < 0)
		goto out;
	snprintf(agent, sizeof(agent), "%s/agent", b->vmm_dir);
	if ((rc = pw_qemu_argv_img(env->cfg->qemu_bin, env->accel, img,
				   pw_machine(img, env->accel, &why), seen, base)) < 0 ||
	    (rc = pw_snap_argv(base, true, agent, a)) < 0)
		snprintf(err, len, "qemu command line too long");
out:
	free(seen);
	free(base);
	return rc;
}

/* The template's row: the image's files and shape, its own QMP socket. */
static int build_row(struct pw_tmpl_build *b, const struct ui_image *img)
{
	struct ui_vm *r = &b->row;
	const struct ui_config *cfg = b->s->env->cfg;
	int n;

	snprintf(r->id, sizeof(r->id), PW_SNAP_ID);
	snprintf(r->image, sizeof(r->image), "%s", img->name);
	snprintf(r->kernel, sizeof(r->kernel), "%s", img->kernel);
	snprintf(r->initrd, sizeof(r->initrd), "%s", img->initrd);
	snprintf(r->rootfs, sizeof(r->rootfs), "%s", pw_image_disk(img));
	snprintf(r->boot_args, sizeof(r->boot_args), "%s", b->s->cmdline);
	snprintf(r->mac, sizeof(r->mac), "06:00:00:00:00:02"); /* every slot sets its own */
	r->vcpus = img->vcpus;
	r->mem_mib = img->mem_mib;
	if (pw_vmm_dir(cfg, PW_SNAP_ID, b->vmm_dir, sizeof(b->vmm_dir)) < 0)
		return -ENAMETOOLONG;
	n = snprintf(r->api_socket, sizeof(r->api_socket), "%s/qmp", b->vmm_dir);
	if (n < 0 || (size_t)n >= sizeof(r->api_socket))
		return -ENAMETOOLONG;
	n = snprintf(b->console, sizeof(b->console), "%s/%s.%ux%u.console.log", b->s->dir,
		     img->name, img->vcpus, img->mem_mib);
	return n < 0 || (size_t)n >= sizeof(b->console) ? -ENAMETOOLONG : 0;
}

static int build_start(struct pw_snap *s, const struct ui_image *img, char *err, size_t len)
{
	struct pw_tmpl_build *b = calloc(1, sizeof(*b));
	struct pw_argv *a = malloc(sizeof(*a));
	unsigned ms = s->env->cfg->boot_timeout_ms + s->env->cfg->ready_timeout_ms;
	int rc = -ENOMEM;

	snprintf(err, len, "out of memory");
	if (!b || !a) {
		free(b);
		goto out;
	}
	b->s = s;
	b->env = s->env;
	if ((rc = pw_vmm_proc_init(&b->proc, s->env->loop, b, on_build_exit, build_freed)) < 0) {
		snprintf(err, len, "cannot set up timers: %s", uv_strerror(rc));
		b->s = NULL;
		pw_vmm_proc_close(&b->proc);
		goto out;
	}
	s->b = b;
	b->proc.nice = s->env->vmm_nice;
	b->proc.autogroup_nice = s->env->vmm_autogroup_nice;
	b->proc.priv = s->env->priv;
	b->proc.on_spawned = on_spawned;
	pw_vmm_proc_cgroup(&b->proc, s->env->cgroups, &b->row);
	snprintf(b->tmp, sizeof(b->tmp), "%s.tmp", s->file);
	if ((rc = build_row(b, img)) < 0) {
		snprintf(err, len, "paths too long");
	} else {
		pw_snap_unlink(b->console); /* an earlier build's banner is not this one's */
		if ((rc = build_argv(b, img, a, err, len)) == 0 &&
		    (rc = uv_timer_start(&b->proc.timer[BT_DEADLINE], on_deadline,
					 ms + PW_SNAP_SAVE_MS, 0)) < 0)
			snprintf(err, len, "cannot arm its deadline");
	}
	if (rc == 0 && (rc = pw_vmm_proc_spawn(&b->proc, a->argv, b->console, err, len)) == 0)
		ui_info("template for %s (%u vcpus, %u MiB): building %s", img->name, img->vcpus,
			img->mem_mib, s->file);
	if (rc < 0) { /* nothing spawned: no `done` (the caller says FAILED) */
		b->s = NULL;
		s->b = NULL;
		uv_timer_stop(&b->proc.timer[BT_DEADLINE]);
		pw_vmm_proc_close(&b->proc);
	}
out:
	free(a);
	return rc;
}

/* ---- the template's lifetime -------------------------------------------------------------- */

static int stamp_of(struct pw_snap *s, uint64_t *out)
{
	char why[320];

	return pw_image_stamp(&s->src, out, why, sizeof(why));
}

/* Forget the template (and its file): another image, changed files, or
 * pool-worker stopping. */
static void discard(struct pw_snap *s, const char *why)
{
	if (s->state == PW_TMPL_NONE && !s->b && !s->fb)
		return;
	if (why)
		ui_info("template for %s discarded: %s", s->image, why);
	if (s->b)
		build_end(s->b, -ECANCELED, NULL);
	pw_snap_fc_cancel(s);
	pw_snap_unlink(s->file);
	pw_snap_unlink(s->mem_file);
	s->state = PW_TMPL_NONE;
	s->fails = 0;
	s->built_at[0] = '\0';
	s->bytes = 0;
	s->error[0] = '\0';
}

/* Names the template for img (paths, command line, its files' stamp). */
static int aim(struct pw_snap *s, const struct ui_image *img, char *err, size_t len)
{
	const struct pw_vmm_env *env = s->env;
	bool fc = env->cfg->driver == UI_DRIVER_FIRECRACKER;
	char extra[64] = "";
	int n, m;

	snprintf(s->image, sizeof(s->image), "%s", img->name);
	s->vcpus = img->vcpus;
	s->mem_mib = img->mem_mib;
	snprintf(s->src.kernel, sizeof(s->src.kernel), "%s", img->kernel);
	snprintf(s->src.initrd, sizeof(s->src.initrd), "%s", img->initrd);
	snprintf(s->src.rootfs, sizeof(s->src.rootfs), "%s", pw_image_disk(img));
	if (env->accel == UI_ACCEL_TCG && s->tsc_khz)
		snprintf(extra, sizeof(extra), "tsc_early_khz=%u tsc=reliable", s->tsc_khz);
	n = snprintf(s->file, sizeof(s->file), "%s/%s.%ux%u.state", s->dir, img->name,
		     img->vcpus, img->mem_mib);
	m = snprintf(s->mem_file, sizeof(s->mem_file), "%s/%s.%ux%u.mem", s->dir, img->name,
		     img->vcpus, img->mem_mib);
	if (!fc)
		s->mem_file[0] = '\0'; /* qemu: one migration stream */
	if (n < 0 || (size_t)n >= sizeof(s->file) || m < 0 || (size_t)m >= sizeof(s->mem_file) ||
	    pw_snap_cmdline_agent(img->boot_args, fc ? NULL : extra, fc ? PW_FC_AGENT : PW_SNAP_PORT,
				  s->cmdline, sizeof(s->cmdline)) < 0) {
		snprintf(err, len, "template paths or command line too long");
		return -ENAMETOOLONG;
	}
	if (stamp_of(s, &s->stamp) < 0) {
		snprintf(err, len, "cannot stat image %s's files", img->name);
		return -ENOENT;
	}
	return 0;
}

/* Only what the guest side supports: a Linux image on microvm. */
static const char *unsupported(const struct pw_snap *s, const struct ui_image *img)
{
	const char *why;

	if (img->kind != UI_KIND_LINUX)
		return "snapshot slots need a Linux image (its init takes the address on the agent port)";
	if (s->env->cfg->driver == UI_DRIVER_FIRECRACKER)
		return NULL;
	if (pw_machine(img, s->env->accel, &why) != UI_MACHINE_MICROVM)
		return "snapshot slots are built for -M microvm";
	return NULL;
}

enum pw_tmpl_state pw_snap_want(struct pw_snap *s, const struct ui_image *img)
{
	uint64_t now;
	char err[320];
	const char *no;

	if (strcmp(s->image, img->name) != 0 || s->vcpus != img->vcpus ||
	    s->mem_mib != img->mem_mib) {
		discard(s, s->image[0] ? "pool.warm_image changed" : NULL);
		s->image[0] = '\0';
	} else if (s->state == PW_TMPL_READY && (stamp_of(s, &now) < 0 || now != s->stamp)) {
		discard(s, "the image's files changed on disk");
	}
	if (s->state != PW_TMPL_NONE)
		return s->state;
	if (!s->image[0] && (no = unsupported(s, img))) {
		snprintf(s->image, sizeof(s->image), "%s", img->name);
		s->vcpus = img->vcpus;
		s->mem_mib = img->mem_mib;
		s->state = PW_TMPL_FAILED;
		snprintf(s->error, sizeof(s->error), "%s", no);
		ui_warn("pool.boot snapshot: %s (%s); slots boot ahead", no, img->name);
		if (s->done)
			s->done(s, -ENOTSUP);
		return s->state;
	}
	if (aim(s, img, err, sizeof(err)) < 0 ||
	    (s->env->cfg->driver == UI_DRIVER_FIRECRACKER ? pw_snap_fc_start(s, img, err, sizeof(err))
							   : build_start(s, img, err, sizeof(err))) < 0) {
		s->state = PW_TMPL_FAILED;
		snprintf(s->error, sizeof(s->error), "%.255s", err);
		ui_warn("template for %s failed: %s; slots boot ahead", img->name, err);
		if (s->done)
			s->done(s, -EIO);
		return s->state;
	}
	s->state = PW_TMPL_BUILDING;
	return s->state;
}

const char *pw_snap_file(const struct pw_snap *s, const char *image, unsigned vcpus,
			 unsigned mem_mib)
{
	if (!s || s->state != PW_TMPL_READY || strcmp(s->image, image) != 0 ||
	    s->vcpus != vcpus || s->mem_mib != mem_mib)
		return NULL;
	return s->file;
}

bool pw_snap_tick(struct pw_snap *s)
{
	uint64_t now;

	pw_snap_fc_tick(s);
	if (s->state != PW_TMPL_READY && s->state != PW_TMPL_FAILED)
		return false;
	if (!s->src.kernel[0] || (stamp_of(s, &now) == 0 && now == s->stamp))
		return false;
	discard(s, "the image's files changed on disk");
	return true;
}

void pw_snap_slot_failed(struct pw_snap *s, const char *why)
{
	if (s->state != PW_TMPL_READY || ++s->fails < PW_SNAP_MAX_FAILS)
		return;
	pw_snap_unlink(s->file);
	pw_snap_unlink(s->mem_file);
	s->state = PW_TMPL_FAILED;
	s->fails = 0;
	snprintf(s->error, sizeof(s->error), "%u slots in a row failed to restore (last: %.180s)",
		 PW_SNAP_MAX_FAILS, why);
	ui_warn("template for %s failed: %s; slots boot ahead", s->image, s->error);
}

void pw_snap_slot_ready(struct pw_snap *s)
{
	s->fails = 0;
}

void pw_snap_retry(struct pw_snap *s)
{
	if (s->state == PW_TMPL_FAILED) {
		s->state = PW_TMPL_NONE;
		s->image[0] = '\0';
	}
}

void pw_snap_stop(struct pw_snap *s)
{
	int rc;

	discard(s, NULL);
	if ((rc = pw_rm_tree(s->dir)) < 0 && rc != -ENOENT) /* the consoles too */
		ui_warn("templates: cannot remove %s: %s", s->dir, strerror(-rc));
}

bool pw_snap_building(const struct pw_snap *s)
{
	return s->b || s->fb;
}

void pw_snap_publish(const struct pw_snap *s, struct ui_pool_table *t)
{
	if (s->env->cfg->pool_boot != UI_POOL_BOOT_SNAPSHOT)
		return; /* tmpl_state 0: GET /pool says template: null */
	t->tmpl_state = (uint32_t)s->state + 1;
	t->tmpl_bytes = s->bytes;
	snprintf(t->tmpl_image, sizeof(t->tmpl_image), "%s", s->image);
	snprintf(t->tmpl_built_at, sizeof(t->tmpl_built_at), "%s", s->built_at);
	snprintf(t->tmpl_error, sizeof(t->tmpl_error), "%.191s", s->error);
}

int pw_snap_init(struct pw_snap *s, const struct pw_vmm_env *env, unsigned tsc_khz,
		 void (*done)(struct pw_snap *s, int status), void *arg)
{
	bool fc = env->cfg->driver == UI_DRIVER_FIRECRACKER;
	/* QEMU reads its template from an fd pool-worker opens: state_dir (a
	 * disk, evictable page cache). Firecracker maps the memory file by
	 * the path it is given, inside its own directory or chroot, where a
	 * slot's copy is a hard link of the template's, one page cache for
	 * every slot: run_dir, the file system of <run_dir>/vms and of the
	 * default chroot_base (state_dir is not, in the default layout: /run
	 * a tmpfs, /var/lib a disk — a link would not cross, every slot would
	 * get its own copy). A cache, never trusted after a crash: a start
	 * begins empty, in both places (the driver may have changed since);
	 * the driver's last, left in s->dir. */
	const char *base[2] = { fc ? env->cfg->state_dir : env->cfg->run_dir,
				fc ? env->cfg->run_dir : env->cfg->state_dir };
	int n, rc;

	memset(s, 0, sizeof(*s));
	s->env = env;
	s->tsc_khz = tsc_khz;
	s->done = done;
	s->arg = arg;
	for (int i = 0; i < 2; i++) {
		n = snprintf(s->dir, sizeof(s->dir), "%s/templates", base[i]);
		if (n < 0 || (size_t)n >= sizeof(s->dir))
			return -ENAMETOOLONG;
		if ((rc = pw_rm_tree(s->dir)) < 0 && rc != -ENOENT)
			ui_warn("templates: cannot empty %s: %s", s->dir, strerror(-rc));
	}
	if (env->cfg->pool_boot == UI_POOL_BOOT_SNAPSHOT && mkdir(s->dir, 0700) < 0 &&
	    errno != EEXIST) {
		rc = -errno;
		ui_error("templates: cannot make %s: %s", s->dir, strerror(errno));
		return rc;
	}
	return 0;
}
