/*
 * fc_jail.h — Firecracker through its jailer (vmm.jailer: PATH), as
 * firecracker-microvm/firecracker docs/jailer.md specifies it.
 *
 * Command line (pw_jail_argv), spawned as root (the jailer drops):
 *   <jailer> --id <id> --exec-file <firecracker> --uid <uid> --gid <gid>
 *            --chroot-base-dir <vmm.chroot_base> [--cgroup-version 1|2]
 *            -- --api-sock /run/firecracker.socket
 * --cgroup-version follows vmm.cgroup (none when off); no --cgroup,
 * --parent-cgroup, --netns, --daemonize or --new-pid-ns: the VM's cgroup is
 * pool-worker's (cgroup.h: the jailer process is moved into it right after
 * the spawn, so Firecracker runs in it), the network namespace is
 * pool-worker's own, stdout/stderr stay the console log and the pid we
 * watch must be Firecracker's.
 *
 * Layout (the jailer's): the jail <chroot_base>/<exec name>/<id>/ (exec
 * name = the last component of vmm.firecracker); its chroot
 * <jail>/root/, made by pool-worker before the spawn (0700, root's, as
 * every directory above it that it makes)
 * with run/ owned by the VMM user; the jailer copies Firecracker to
 * <root>/<exec name>, makes dev/net/tun and dev/kvm, chowns the root and
 * execs. The API socket is <root>/run/firecracker.socket on the host. The
 * image files are hard-linked (a copy, 0440 root:<vmm gid>, when on
 * another file system) as <root>/kernel, <root>/initrd, <root>/rootfs, and
 * named /kernel, /initrd, /rootfs in the API bodies. The whole jail is
 * removed when the VM is final (vmm_priv.h: pw_vmm_dirs_remove).
 */
#ifndef PW_FC_JAIL_H
#define PW_FC_JAIL_H

#include <stddef.h>

#include "cgroup.h"
#include "cmdline.h"
#include "config.h"
#include "vmm_priv.h"

#define PW_JAIL_SOCKET "/run/firecracker.socket"

/* <chroot_base>/<exec name>/<id> into out. */
int pw_jail_dir(const struct ui_config *cfg, const char *id, char *out, size_t len);
/* <jail>/root into out. */
int pw_jail_root(const struct ui_config *cfg, const char *id, char *out, size_t len);
/* A fresh <jail>/root/run (any old jail of that id removed first). */
int pw_jail_prepare(const struct ui_config *cfg, const struct pw_vmm_priv *pv,
		    const char *id, char *err, size_t errlen);
/* src linked (or copied) as <root>/<name>; the path inside, "/<name>",
 * into inside. "" src: nothing, inside "". */
int pw_jail_link(const char *root, const char *src, const char *name,
		 const struct pw_vmm_priv *pv, char *inside, size_t len, char *err,
		 size_t errlen);
/* The jailer's command line; fc_file is Firecracker's resolved path. */
int pw_jail_argv(const struct ui_config *cfg, const struct pw_vmm_priv *pv,
		 enum pw_cg_mode cg, const char *fc_file, const char *id, struct pw_argv *a);

#endif
