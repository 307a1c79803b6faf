/*
 * vmm_priv.h — who a VMM runs as, and the files it may touch.
 *
 * Every VMM runs as vmm.user (vmm_user.h) with no capabilities and
 * no_new_privs: pool-worker spawns build/bin/uigniter-vmm-exec UID GID
 * VMM ARGS…, which drops everything and execs the VMM (vmm-exec/main.c).
 * With vmm.user: root nothing is dropped (a loud warning at start).
 * Firecracker under vmm.jailer is spawned as root: the jailer drops
 * (fc_jail.c).
 *
 * The VMM's own directory: <run_dir>/vms/<id>/, mode 0700, owned by the
 * VMM user, made before the spawn and removed with everything in it when
 * the VM is final (pw_vmm_dirs_remove): it holds the QMP socket (`qmp`)
 * or the Firecracker API socket (`sock`) — the only files the VMM
 * creates — and the image files the user could not reach where they are
 * (pw_vmm_put_file: e.g. under a 0750 state_dir), hard-linked or copied
 * in as kernel, initrd, rootfs. Its console log stays
 * <state_dir>/vms/<id>.console.log, opened by pool-worker and handed over
 * as stdout/stderr (QEMU's serial is `-chardev stdio`), so it never needs
 * the path. Image files lie under vmm.image_dirs; a disk is attached
 * read-only (but an OSv zfs one).
 */
#ifndef PW_VMM_PRIV_H
#define PW_VMM_PRIV_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "config.h"
#include "registry.h"

struct pw_vmm_priv {
	bool drop;                 /* false: vmm.user root, VMMs run as we do */
	uid_t uid;
	gid_t gid;
	char helper[PATH_MAX];     /* uigniter-vmm-exec, beside pool-worker */
};

/* Resolves cfg's vmm.user (creating it when missing) and finds the helper.
 * 0, or negative errno + a sentence. */
int pw_vmm_priv_init(struct pw_vmm_priv *pv, const struct ui_config *cfg, char *err,
		     size_t errlen);

/* dir and every directory above it (<run_dir>/vms) are searchable by the
 * VMM user; else -EACCES and a sentence (err may be NULL) naming the one
 * that is not. */
int pw_vmm_priv_check_path(const struct pw_vmm_priv *pv, const char *dir, char *err,
			   size_t errlen);

/* The VMM user can open path for reading where it is (pv NULL or not
 * dropping: true). */
bool pw_vmm_priv_reaches(const struct pw_vmm_priv *pv, const char *path);
/* src made readable to the VMM user as <dir>/<name>: used in place (out =
 * src) when the user can reach and read it and !always; else hard-linked
 * (the file, not a symlink), or copied (0440 root:<gid>) when the link
 * cannot be made (another file system) or the user could not read it.
 * "" or a missing src: out = src (the VMM reports it, as it would have). */
int pw_vmm_put_file(const struct pw_vmm_priv *pv, const char *dir, const char *src,
		    const char *name, bool always, char *out, size_t len, char *err,
		    size_t errlen);
/* out = *row with kernel, initrd and rootfs put into dir (as above, named
 * kernel, initrd, rootfs). */
int pw_vmm_stage_row(const struct pw_vmm_priv *pv, const char *dir, const struct ui_vm *row,
		     bool always, struct ui_vm *out, char *err, size_t errlen);

/* out = helper UID GID file argv[1..] (ids written into ids); -E2BIG when
 * more than max-1 entries. */
int pw_vmm_priv_argv(const struct pw_vmm_priv *pv, const char *file, char *const argv[],
		     char ids[2][16], char *out[], size_t max);

/* <run_dir>/vms/<id> into out. */
int pw_vmm_dir(const struct ui_config *cfg, const char *id, char *out, size_t len);
/* Makes dir (0700, owned by the VMM user; an existing one is emptied
 * first: a stale socket would look like ours). 0 or -errno + a sentence. */
int pw_vmm_dir_make(const struct pw_vmm_priv *pv, const char *dir, char *err, size_t errlen);
/* Removes path and everything under it (symlinks not followed); 0 when
 * it is gone, else -errno. */
int pw_rm_tree(const char *path);
/* The VM's own directory and its jail (fc_jail.h), whatever is there. */
void pw_vmm_dirs_remove(const struct ui_config *cfg, const char *id);

#endif
