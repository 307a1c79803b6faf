/*
 * fc_bodies.h — the Firecracker request bodies that depend on the image
 * (pure: tests/unit/test_fc_client.c pins them exactly).
 *
 *   boot-source  {kernel_image_path, boot_args[, initrd_path]}: a Linux
 *                image's initrd; an OSv image has none (its loader ELF is
 *                the kernel, its boot line has --nopci: cmdline.h).
 *   root drive   {drive_id "rootfs", path_on_host (vms.rootfs: a Linux
 *                rootfs or an OSv disk, raw), is_root_device true,
 *                is_read_only}: read-only for an OSv image on rofs (what
 *                OSv's scripts/firecracker.py does), else writable.
 * Both return a new object (the caller owns it), NULL without memory.
 * img NULL: a Linux image.
 *
 * Snapshot-started slots (pool.boot: snapshot, snapshot.h), the contract's
 * Vsock, SnapshotCreateParams and SnapshotLoadParams; every path as the
 * VMM sees it (jailed: inside its chroot):
 *   vsock        {guest_cid 3, uds_path}
 *   create       {snapshot_path, mem_file_path, snapshot_type "Full"}
 *   load         {snapshot_path, mem_backend {backend_type "File",
 *                backend_path}, network_overrides [{iface_id "eth0",
 *                host_dev_name tap}], vsock_override {uds_path},
 *                resume_vm true}
 */
#ifndef PW_FC_BODIES_H
#define PW_FC_BODIES_H

#include <jansson.h>

#include "config.h"
#include "registry.h"

json_t *pw_fc_boot_source(const struct ui_vm *r, const struct ui_image *img);
json_t *pw_fc_root_drive(const struct ui_vm *r, const struct ui_image *img);

#define PW_FC_GUEST_CID 3
json_t *pw_fc_vsock(const char *uds_path);
json_t *pw_fc_snapshot_create(const char *state_path, const char *mem_path);
json_t *pw_fc_snapshot_load(const char *state_path, const char *mem_path, const char *tap,
			    const char *uds_path);

#endif
