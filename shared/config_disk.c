/*
 * config_disk.c — an OSv image's disk against its disk_format (see
 * config_int.h). OSv's build makes usr.img as qcow2; given to QEMU as raw
 * (the default) the guest sees the qcow2 header as its filesystem and
 * fails with "Failed to load object", long after the config was taken. So
 * the first bytes of the disk are read when the file can be (a missing or
 * unreadable one is left to the VMM, which says so at the run): qcow2's
 * magic "QFI\xfb" decides. Nothing is written, nothing kept open.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "config_int.h"

static const unsigned char qcow2_magic[4] = { 'Q', 'F', 'I', 0xfb };

/* 1: path starts with the qcow2 magic, 0: it does not, <0: cannot tell. */
static int is_qcow2(const char *path)
{
	unsigned char head[sizeof(qcow2_magic)];
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, head, sizeof(head));
	n = n < 0 ? -errno : n;
	close(fd);
	if (n < 0)
		return (int)n;
	return n == (ssize_t)sizeof(head) && !memcmp(head, qcow2_magic, sizeof(head));
}

int cfg_check_disk_format(struct cfg_loader *ld, const struct ui_image *img, const char *where,
			  const yaml_node_t *map)
{
	const yaml_node_t *fmt = cfg_map_get(ld, map, "disk_format");
	int q;

	if (!img->disk[0] || !ld->disk_node || (q = is_qcow2(img->disk)) < 0)
		return 0;
	if (q && img->disk_format == UI_DISK_RAW)
		return cfg_fail_at(ld, ld->disk_node, "%s.disk: %s is a qcow2 file, but disk_format "
				   "is raw (set disk_format: qcow2, or make a raw copy: qemu-img "
				   "convert -O raw)", where, img->disk);
	if (!q && img->disk_format == UI_DISK_QCOW2)
		return cfg_fail_at(ld, fmt ? fmt : ld->disk_node, "%s.disk_format: qcow2, but %s is "
				   "not a qcow2 file (no QFI magic): disk_format: raw", where,
				   img->disk);
	return 0;
}
