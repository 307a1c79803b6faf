/*
 * fc_bodies.c — the image's Firecracker request bodies (see fc_bodies.h).
 */
#include <string.h>

#include "fc_bodies.h"

static bool is_osv(const struct ui_image *img)
{
	return img && img->kind == UI_KIND_OSV;
}

json_t *pw_fc_boot_source(const struct ui_vm *r, const struct ui_image *img)
{
	json_t *boot = json_pack("{s:s, s:s}", "kernel_image_path", r->kernel,
				 "boot_args", r->boot_args);

	if (boot && r->initrd[0] && !is_osv(img) &&
	    json_object_set_new(boot, "initrd_path", json_string(r->initrd)) < 0) {
		json_decref(boot);
		return NULL;
	}
	return boot;
}

json_t *pw_fc_root_drive(const struct ui_vm *r, const struct ui_image *img)
{
	/* read-only (the VMM user may only read it), but a disk the guest
	 * writes (OSv zfs): that one must be writable by vmm.user */
	bool ro = !is_osv(img) || strcmp(img->osv_fs, "zfs") != 0;

	return json_pack("{s:s, s:s, s:b, s:b}", "drive_id", "rootfs", "path_on_host", r->rootfs,
			 "is_root_device", 1, "is_read_only", ro);
}

json_t *pw_fc_vsock(const char *uds_path)
{
	return json_pack("{s:i, s:s}", "guest_cid", PW_FC_GUEST_CID, "uds_path", uds_path);
}

json_t *pw_fc_snapshot_create(const char *state_path, const char *mem_path)
{
	return json_pack("{s:s, s:s, s:s}", "snapshot_path", state_path, "mem_file_path", mem_path,
			 "snapshot_type", "Full");
}

json_t *pw_fc_snapshot_load(const char *state_path, const char *mem_path, const char *tap,
			    const char *uds_path)
{
	return json_pack("{s:s, s:{s:s, s:s}, s:[{s:s, s:s}], s:{s:s}, s:b}",
			 "snapshot_path", state_path,
			 "mem_backend", "backend_type", "File", "backend_path", mem_path,
			 "network_overrides", "iface_id", "eth0", "host_dev_name", tap,
			 "vsock_override", "uds_path", uds_path, "resume_vm", 1);
}
