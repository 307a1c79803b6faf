/*
 * fc_restore.c — the Firecracker driver's part of pool.boot: snapshot (see
 * fc_restore.h): the template's warm-up and a restored slot's, as extra
 * steps of drv_firecracker.c's batch (fc_int.h: VSOCK, CREATE, LOAD) and
 * the agent line once a slot is loaded (fc_agent.h).
 *
 * Paths: every file the VMM is told of lies in its own directory
 * (<run_dir>/vms/<id>/, the VMM user's) or, jailed, in its chroot's /run
 * (made by pool-worker, the VMM user's): the vsock UDS `vsock`, the
 * template's `template.state` and `template.mem` (written by the
 * template's Firecracker, linked into place by snapshot_fc.c; a slot's are
 * hard links of the templates' files, so every slot maps the same page
 * cache). Host and VMM names differ only when jailed (<root> prefix).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "fc_agent.h"
#include "fc_bodies.h"
#include "fc_int.h"
#include "fc_jail.h"
#include "fc_restore.h"
#include "log.h"
#include "snapshot.h"

/* name in the VMM's directory: as it names it (vmm) and on the host. */
static int vmm_path(const struct fc_vm *q, const char *name, char *vmm, size_t vlen,
		    char *host, size_t hlen)
{
	char dir[PATH_MAX];
	int n, m;

	if (q->jailed) {
		n = snprintf(vmm, vlen, "/run/%s", name);
		m = snprintf(host, hlen, "%s/run/%s", q->root, name);
	} else {
		if (pw_vmm_dir(q->v->env->cfg, q->v->row->id, dir, sizeof(dir)) < 0)
			return -ENAMETOOLONG;
		n = snprintf(vmm, vlen, "%s/%s", dir, name);
		m = snprintf(host, hlen, "%s/%s", dir, name);
	}
	return n < 0 || (size_t)n >= vlen || m < 0 || (size_t)m >= hlen ? -ENAMETOOLONG : 0;
}

int pw_fc_vsock_paths(struct fc_vm *q, char *err, size_t errlen)
{
	int rc = vmm_path(q, "vsock", q->vsock_vmm, sizeof(q->vsock_vmm), q->vsock_host,
			  sizeof(q->vsock_host));

	if (rc < 0)
		snprintf(err, errlen, "firecracker vsock socket path too long (at most %zu bytes) "
			 "under %s", FC_SUN_MAX - 1, q->jailed ? q->root : q->v->env->cfg->run_dir);
	return rc;
}

/* ---- a restored slot: LOAD ----------------------------------------------------- */

/* Once per pool-worker: a slot's template file that is a copy, not a link
 * (another file system: vmm.chroot_base off run_dir's) — every slot then
 * holds the guest's memory on its own, and the copy is made in the loop. */
static void warn_if_copied(const char *src, const char *dst)
{
	static bool warned;
	struct stat a, b;

	if (warned || stat(src, &a) < 0 || stat(dst, &b) < 0 ||
	    (a.st_dev == b.st_dev && a.st_ino == b.st_ino))
		return;
	warned = true;
	ui_warn("snapshot: the slots' template files are copies of %s, not hard links "
		"(%s is on another file system): no page cache shared between slots; put "
		"vmm.chroot_base on the file system of run_dir", src, dst);
}

/* The template's file src as name in the slot's directory (a hard link, or
 * a copy across file systems); vmm/host: its names. */
static int stage(struct fc_vm *q, const char *from, const char *name, char *vmm, size_t vlen,
		 char *host, size_t hlen)
{
	const struct pw_vmm_priv *pv = q->v->env->priv;
	char dir[PATH_MAX + 176], out[PATH_MAX], src[PATH_MAX + 176];
	int rc;

	if (strlen(from) >= sizeof(src) || strlen(from) >= vlen || strlen(from) >= hlen)
		return -ENAMETOOLONG;
	memcpy(src, from, strlen(from) + 1); /* from may be host */
	if (!pv) { /* nothing dropped, nothing jailed: in place */
		memcpy(vmm, src, strlen(src) + 1);
		memcpy(host, src, strlen(src) + 1);
		return 0;
	}
	if ((rc = vmm_path(q, name, vmm, vlen, host, hlen)) < 0)
		return rc;
	snprintf(dir, sizeof(dir), "%s", host);
	*strrchr(dir, '/') = '\0';
	if ((rc = pw_vmm_put_file(pv, dir, src, name, true, out, sizeof(out), q->snap_err,
				  sizeof(q->snap_err))) < 0)
		return rc;
	warn_if_copied(src, out);
	return 0;
}

static int queue_load(struct fc_vm *q)
{
	const struct pw_vmm_priv *pv = q->v->env->priv;
	char inside[PATH_MAX];
	int rc;

	/* snap_*_host: the template's files until staged, then the slot's */
	if ((rc = stage(q, q->snap_state_host, PW_FC_TMPL_STATE, q->snap_state,
			sizeof(q->snap_state), q->snap_state_host, sizeof(q->snap_state_host))) < 0 ||
	    (rc = stage(q, q->snap_mem_host, PW_FC_TMPL_MEM, q->snap_mem, sizeof(q->snap_mem),
			q->snap_mem_host, sizeof(q->snap_mem_host))) < 0)
		goto fail;
	/* the drive is opened again at the path the snapshot names: jailed,
	 * /rootfs (as the template had it); else the image's, in place */
	if (q->jailed && (rc = pw_jail_link(q->root, q->v->row->rootfs, "rootfs", pv, inside,
					    sizeof(inside), q->snap_err, sizeof(q->snap_err))) < 0)
		goto fail;
	return pw_fc_put_json(q, "/snapshot/load",
			      pw_fc_snapshot_load(q->snap_state, q->snap_mem, q->v->row->tap,
						  q->vsock_vmm));
fail:
	if (!q->snap_err[0])
		snprintf(q->snap_err, sizeof(q->snap_err), "template files: paths too long");
	ui_warn("%s: %s", q->v->row->id, q->snap_err);
	return rc;
}

int pw_fc_queue_snap(struct fc_vm *q, unsigned steps)
{
	if (steps & FC_STEP_LOAD)
		return queue_load(q);
	if (steps & FC_STEP_VSOCK)
		return pw_fc_put_json(q, "/vsock", pw_fc_vsock(q->vsock_vmm));
	if (steps & FC_STEP_CREATE)
		return pw_fc_put_json(q, "/snapshot/create",
				      pw_fc_snapshot_create(q->snap_state, q->snap_mem));
	return 0;
}

/* ---- a restored slot: the agent line ------------------------------------------- */

static void on_agent(void *arg)
{
	struct fc_vm *q = arg;

	ui_info("%s: restored from the template: the guest took its address line (vsock, "
		"attempt %u)", q->v->row->id, pw_fc_agent_tries(q->agent));
	q->agent = NULL; /* it frees itself */
	pw_fc_ahead_started(q); /* the ready rule, then the pause */
}

void pw_fc_restored(struct fc_vm *q)
{
	char line[sizeof(q->v->row->boot_args) + 256];
	uint8_t seed[32];
	int rc;

	if (getrandom(seed, sizeof(seed), 0) != (ssize_t)sizeof(seed)) {
		pw_fc_batch_done(q, -EIO, "agent: getrandom failed");
		return;
	}
	rc = pw_snap_agent_line(q->v->row->boot_args, q->v->row->mac, seed, line, sizeof(line));
	explicit_bzero(seed, sizeof(seed));
	if (rc == 0)
		rc = pw_fc_agent_start(q->v->env->loop, q->vsock_host, PW_FC_VSOCK_PORT, line,
				       on_agent, q, &q->agent);
	explicit_bzero(line, sizeof(line));
	if (rc < 0) {
		q->agent = NULL;
		pw_fc_batch_done(q, rc, "agent: cannot send the slot's address line");
		return;
	}
	ui_info("%s: restored from the template: its address line goes over vsock port %u",
		q->v->row->id, PW_FC_VSOCK_PORT);
}

const char *pw_fc_snap_waiting(const struct fc_vm *q)
{
	static char why[256];

	if (!q->agent)
		return "";
	snprintf(why, sizeof(why), "restored slot: no OK from the guest's agent on vsock port %u "
		 "after %u attempts (last: %.120s)", PW_FC_VSOCK_PORT, pw_fc_agent_tries(q->agent),
		 pw_fc_agent_last(q->agent));
	return why;
}

void pw_fc_snap_stop(struct fc_vm *q)
{
	pw_fc_agent_stop(q->agent);
	q->agent = NULL;
}

/* ---- the driver's entries ----------------------------------------------------- */

/* After launch: the vsock and (template) the snapshot files' names. */
static int snap_paths(struct fc_vm *q, bool tmpl, char *err, size_t errlen)
{
	int rc = pw_fc_vsock_paths(q, err, errlen);

	if (rc == 0 && tmpl &&
	    ((rc = vmm_path(q, PW_FC_TMPL_STATE, q->snap_state, sizeof(q->snap_state),
			    q->snap_state_host, sizeof(q->snap_state_host))) < 0 ||
	     (rc = vmm_path(q, PW_FC_TMPL_MEM, q->snap_mem, sizeof(q->snap_mem),
			    q->snap_mem_host, sizeof(q->snap_mem_host))) < 0))
		snprintf(err, errlen, "template file paths too long");
	return rc;
}

/* launch and the warm-up's fields; a failure after the launch kills the
 * VMM being spawned (its FAILED report follows, as for any warm-up). */
static int warm(struct pw_vmm *v, const struct ui_image *img, bool tmpl, unsigned steps,
		char *err, size_t errlen)
{
	struct fc_vm *q;
	int rc = pw_fc_launch(v, steps, err, errlen);

	if (rc < 0)
		return rc;
	q = v->data;
	q->ahead = true;
	q->tmpl = tmpl;
	q->restore = !tmpl;
	q->img = img;
	q->vcpus = v->row->vcpus;
	q->mem_mib = v->row->mem_mib;
	q->image_applied = true;
	if ((rc = snap_paths(q, tmpl, err, errlen)) < 0) {
		ui_warn("%s: %s", v->row->id, err);
		q->warm_steps = 0; /* nothing to do once spawned but die */
		(void)pw_vmm_proc_kill(&q->proc);
	}
	return 0;
}

int pw_fc_template_warm(struct pw_vmm *v, const struct ui_image *img, char *err,
			size_t errlen)
{
	const struct ui_config *cfg = v->env->cfg;
	bool jailed = cfg->jailer_bin[0] && v->env->priv;

	if (!jailed && v->row->rootfs[0] && !pw_vmm_priv_reaches(v->env->priv, v->row->rootfs)) {
		snprintf(err, errlen, "the image's rootfs %s is not readable by vmm.user where it "
			 "is: a restored slot opens it again at the path the template had",
			 v->row->rootfs);
		return -EACCES;
	}
	return warm(v, img, true, FC_STEP_MACHINE | FC_STEP_NET | FC_STEP_IMAGE | FC_STEP_VSOCK |
		    FC_STEP_START, err, errlen);
}

void pw_fc_template_files(const struct pw_vmm *v, const char **state, const char **mem)
{
	const struct fc_vm *q = v->data;

	*state = q ? q->snap_state_host : "";
	*mem = q ? q->snap_mem_host : "";
}

int pw_fc_restore_warm(struct pw_vmm *v, const struct ui_image *img, char *err,
		       size_t errlen)
{
	const struct pw_snap *s = v->env->snap;
	struct fc_vm *q;
	int rc = warm(v, img, false, FC_STEP_LOAD, err, errlen);

	if (rc < 0)
		return rc;
	q = v->data;
	snprintf(q->snap_state_host, sizeof(q->snap_state_host), "%s", s->file);
	snprintf(q->snap_mem_host, sizeof(q->snap_mem_host), "%s", s->mem_file);
	return 0;
}
