/*
 * pool_image.c — is a slot's image still the one it was made with? A slot
 * holds its image's kernel, initrd and rootfs as they were when its VMM
 * was spawned (loaded, or open); if the files change on disk (or go) the
 * slot would hand out the old image under the new one's name. So the
 * files' identity (device, inode, size, mtime) is stamped when the
 * slot is made, and checked before a run takes it (pool.c): changed or
 * gone → the slot is retired with the reason, counted in
 * retired_image_changed, and the run takes another slot or starts cold.
 * Not ctime: pool-worker itself hard-links image files into a VMM's
 * directory or jail (vmm_priv.h, fc_jail.h), which changes the inode's
 * ctime — every jailed slot (and snapshot template) would see its own
 * image as changed. A rewrite shows in mtime (ns) or size; only one that
 * restores both (utimes to the old mtime, same size) goes unseen.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "pool.h"

/* FNV-1a over the bytes of v. */
static uint64_t mix(uint64_t h, uint64_t v)
{
	for (int i = 0; i < 8; i++, v >>= 8)
		h = (h ^ (v & 0xff)) * 1099511628211ull;
	return h;
}

int pw_image_stamp(const struct ui_vm *row, uint64_t *out, char *why, size_t len)
{
	const char *paths[] = { row->kernel, row->initrd, row->rootfs };
	uint64_t h = 14695981039346656037ull;
	struct stat st;

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		if (!paths[i][0])
			continue;
		if (stat(paths[i], &st) < 0) {
			snprintf(why, len, "%s: %s", paths[i], strerror(errno));
			return -errno;
		}
		h = mix(h, (uint64_t)st.st_dev);
		h = mix(h, (uint64_t)st.st_ino);
		h = mix(h, (uint64_t)st.st_size);
		h = mix(h, (uint64_t)st.st_mtim.tv_sec * 1000000000ull + (uint64_t)st.st_mtim.tv_nsec);
	}
	*out = h;
	return 0;
}

bool pw_image_unchanged(const struct pw_vm *slot, char *why, size_t len)
{
	uint64_t now;

	if (!slot->row.image[0])
		return true; /* warmed without an image: the run applies its own */
	if (!slot->img_stamped) {
		snprintf(why, len, "its image files could not be stamped when it was made");
		return false;
	}
	if (pw_image_stamp(&slot->row, &now, why, len) < 0)
		return false;
	if (now != slot->img_stamp) {
		snprintf(why, len, "image %s's files changed on disk since it was made",
			 slot->row.image);
		return false;
	}
	return true;
}
