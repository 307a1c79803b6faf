/*
 * pool_policy.c — the warm pool's pure decisions (see pool.h): refill
 * backoff, how many slots to start, which slot a run takes, which slots
 * are stale. No loop, no registry: unit-tested in tests/unit/test_pool.c.
 */
#include <string.h>

#include "cmdline.h"
#include "pool.h"

unsigned pw_pool_backoff_next(unsigned prev_ms)
{
	if (prev_ms < PW_POOL_BACKOFF_MIN_MS)
		return PW_POOL_BACKOFF_MIN_MS;
	if (prev_ms >= PW_POOL_BACKOFF_MAX_MS / 2)
		return PW_POOL_BACKOFF_MAX_MS;
	return prev_ms * 2;
}

unsigned pw_pool_to_spawn(unsigned size, unsigned slots, unsigned warming, unsigned max)
{
	unsigned deficit = size > slots ? size - slots : 0;
	unsigned room = warming < max ? max - warming : 0;

	return deficit < room ? deficit : room;
}

struct pw_vm *pw_pool_pick(struct pw_vm *list, const struct ui_vmm_driver *drv,
			   const struct ui_image *img, unsigned vcpus, unsigned mem_mib)
{
	struct pw_vm *best = NULL;

	if (!drv || !drv->fits)
		return NULL;
	/* The list is newest first: the last match is the oldest slot. */
	for (struct pw_vm *vm = list; vm; vm = vm->next)
		if (vm->state == PW_S_WARM && vm->vmm.drv == drv &&
		    drv->fits(&vm->vmm, img, vcpus, mem_mib))
			best = vm;
	return best;
}

bool pw_pool_slot_current(const struct pw_vm *slot, const struct ui_vmm_driver *drv,
			  const struct ui_image *img)
{
	const struct ui_vm *r = &slot->row;

	if (slot->vmm.drv != drv)
		return false;
	if (!img)
		return !r->image[0] && r->vcpus == PW_SLOT_VCPUS && r->mem_mib == PW_SLOT_MEM_MIB;
	return strcmp(r->image, img->name) == 0 && strcmp(r->kernel, img->kernel) == 0 &&
	       strcmp(r->initrd, img->initrd) == 0 && strcmp(r->rootfs, pw_image_disk(img)) == 0 &&
	       r->vcpus == img->vcpus && r->mem_mib == img->mem_mib;
}
