/*
 * fc_restore.h — pool.boot: snapshot with the Firecracker driver: what the
 * driver offers the template's owner (snapshot_fc.c) and its own warm
 * (drv_firecracker.c). docs/ARCHITECTURE.md "Snapshot-started slots".
 *
 * The template (pw_fc_template_warm) is a warm-up of the driver's own,
 * spawned exactly as a slot (vmm.user, the jailer if configured, a cgroup):
 * machine-config, eth0 on the row's tap, boot-source with the row's
 * boot_args (the template's line: uigniter.agent=vsock:52, no ip=), the
 * root drive, PUT /vsock {guest_cid 3, uds_path}, InstanceStart, its
 * console says PW_FC_TMPL_BANNER, PATCH /vm Paused, PUT /snapshot/create
 * {Full} into its own directory (jailed: /run in its chroot) → WARMED;
 * pw_fc_template_files then names the two files on the host. A non-jailed
 * template needs the image's rootfs reachable in place by vmm.user (the
 * snapshot names the drive's path; a slot opens it again there).
 *
 * A restored slot (pw_fc_restore_warm, when the template is READY): a
 * fresh Firecracker; the template's two files hard-linked (copied across
 * file systems) into its directory or chroot (jailed: with the rootfs
 * as /rootfs, the path the snapshot names); PUT /snapshot/load
 * {snapshot_path, mem_backend File, network_overrides eth0 → its tap,
 * vsock_override → its own UDS, resume_vm true}; the agent line over vsock
 * (fc_agent.h); then as a slot booted ahead: the image's ready rule, PATCH
 * /vm Paused → WARMED. A run resumes it (PATCH /vm Resumed).
 */
#ifndef PW_FC_RESTORE_H
#define PW_FC_RESTORE_H

#include <stddef.h>

#include "config.h"
#include "driver.h"

#define PW_FC_VSOCK_PORT 52
#define PW_FC_AGENT "vsock:52"                  /* uigniter.agent=<this> */
#define PW_FC_TMPL_BANNER "UIGNITER-TEMPLATE vsock:52"
#define PW_FC_TMPL_STATE "template.state"       /* in the VMM's directory */
#define PW_FC_TMPL_MEM "template.mem"

int pw_fc_template_warm(struct pw_vmm *v, const struct ui_image *img, char *err,
			size_t errlen);
/* After WARMED: the template's files on the host (in its directory). */
void pw_fc_template_files(const struct pw_vmm *v, const char **state, const char **mem);
int pw_fc_restore_warm(struct pw_vmm *v, const struct ui_image *img, char *err,
		       size_t errlen);

#endif
