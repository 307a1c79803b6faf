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
 */
#ifndef PW_FC_BODIES_H
#define PW_FC_BODIES_H

#include <jansson.h>

#include "config.h"
#include "registry.h"

json_t *pw_fc_boot_source(const struct ui_vm *r, const struct ui_image *img);
json_t *pw_fc_root_drive(const struct ui_vm *r, const struct ui_image *img);

#endif
