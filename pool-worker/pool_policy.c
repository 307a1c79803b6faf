/*
 * pool_policy.c — the warm pool's pure decisions (see pool.h): VM ids,
 * refill backoff, how many slots to start, which slot a run takes. No loop,
 * no registry: unit-tested in tests/unit/test_pool.c.
 */
#include <errno.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "pool.h"
#include "vm.h"

void pw_vm_id_format(uint64_t ms, uint64_t rnd, char *out)
{
	static const char b32[] = "0123456789abcdefghjkmnpqrstvwxyz";
	unsigned __int128 v = ((unsigned __int128)(ms & 0xffffffffffffull) << 52) |
			      (rnd & ((1ull << 52) - 1));

	memcpy(out, "vm-", 3);
	for (int i = 19; i >= 0; i--) {
		out[3 + i] = b32[(unsigned)(v & 31)];
		v >>= 5;
	}
	out[PW_VM_ID_LEN] = '\0';
}

int pw_vm_id_new(char *out)
{
	struct timespec ts;
	uint64_t rnd;
	ssize_t n;

	do
		n = getrandom(&rnd, sizeof(rnd), 0);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(rnd))
		return n < 0 ? -errno : -EIO;
	clock_gettime(CLOCK_REALTIME, &ts);
	pw_vm_id_format((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000,
			rnd, out);
	return 0;
}

unsigned pw_pool_backoff_next(unsigned prev_ms)
{
	if (prev_ms < PW_POOL_BACKOFF_MIN_MS)
		return PW_POOL_BACKOFF_MIN_MS;
	if (prev_ms >= PW_POOL_BACKOFF_MAX_MS / 2)
		return PW_POOL_BACKOFF_MAX_MS;
	return prev_ms * 2;
}

unsigned pw_pool_to_spawn(unsigned size, unsigned slots, unsigned warming)
{
	unsigned deficit = size > slots ? size - slots : 0;
	unsigned room = warming < PW_POOL_MAX_WARMING ? PW_POOL_MAX_WARMING - warming : 0;

	return deficit < room ? deficit : room;
}

struct pw_vm *pw_pool_pick(struct pw_vm *list, const struct ui_vmm_driver *drv,
			   const struct ui_image *img, unsigned vcpus,
			   unsigned mem_mib)
{
	struct pw_vm *best = NULL;

	if (!drv || !drv->fits)
		return NULL;
	/* The list is newest first: the last match is the oldest slot. */
	for (struct pw_vm *vm = list; vm; vm = vm->next)
		if (vm->slot && vm->phase == PW_WARM && !vm->fail_status &&
		    vm->drv == drv && drv->fits(vm, img, vcpus, mem_mib))
			best = vm;
	return best;
}

bool pw_pool_slot_current(const struct pw_vm *slot,
			  const struct ui_vmm_driver *drv,
			  const struct ui_image *img)
{
	const struct ui_vm *r = &slot->row;

	if (slot->drv != drv)
		return false;
	if (!img)
		return !r->image[0] && r->vcpus == PW_POOL_VCPUS &&
		       r->mem_mib == PW_POOL_MEM_MIB;
	return strcmp(r->image, img->name) == 0 &&
	       strcmp(r->kernel, img->kernel) == 0 &&
	       strcmp(r->initrd, img->initrd) == 0 &&
	       strcmp(r->rootfs, img->rootfs) == 0 &&
	       r->vcpus == img->vcpus && r->mem_mib == img->mem_mib;
}
