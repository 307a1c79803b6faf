/*
 * image_build.h — the artefacts of `uictl image build` (image_build.c): the
 * app layer of a linux image as a newc cpio in memory, appended to the
 * mkguest base initramfs; or an OSv image's loader and disk. Written under
 * <state_dir>/images/<name>/<sha256 of the artefacts>/, complete before the
 * directory gets its name (rename of a temporary), so a hash directory that
 * exists is whole, and a second build of the same inputs finds it there.
 *
 * Messages go to err ("uictl: " is the caller's); results are negative errno.
 */
#ifndef UICTL_IMAGE_BUILD_H
#define UICTL_IMAGE_BUILD_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "manifest.h"

struct image_out {
	char dir[PATH_MAX];     /* <state_dir>/images/<name>/<hash> */
	char kernel[PATH_MAX];  /* dir/vmlinuz or dir/loader.elf */
	char initrd[PATH_MAX];  /* linux: dir/initrd.img */
	char disk[PATH_MAX];    /* osv: dir/disk.raw|disk.qcow2 */
	char hash[65];
	bool cached;            /* it was there already */
};

/* base: the mkguest directory (vmlinuz, initrd.cpio.gz); unused for osv. */
int image_build(const struct ui_manifest *m, const char *state_dir, const char *base,
		struct image_out *out, char *err, size_t errlen);

/* mkdir -p path (mode 0755); 0 or -errno. */
int image_mkdir_p(const char *path);

#endif
