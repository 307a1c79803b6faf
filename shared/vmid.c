/*
 * vmid.c — VM ids (see vmid.h).
 */
#include <errno.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "vmid.h"

void ui_vm_id_format(uint64_t ms, uint64_t rnd, char *out)
{
	static const char b32[] = "0123456789abcdefghjkmnpqrstvwxyz";
	unsigned __int128 v = ((unsigned __int128)(ms & 0xffffffffffffull) << 52) |
			      (rnd & ((1ull << 52) - 1));

	memcpy(out, "vm-", 3);
	for (int i = 19; i >= 0; i--) {
		out[3 + i] = b32[(unsigned)(v & 31)];
		v >>= 5;
	}
	out[UI_VM_ID_LEN] = '\0';
}

int ui_vm_id_new(char *out)
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
	ui_vm_id_format((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000, rnd, out);
	return 0;
}
