/*
 * seed.c — uigniter-seed, the demo guest's RNG seeding helper (in the
 * initramfs as /bin/uigniter-seed; tools/mkguest copies it, tools/guest/init
 * runs it).
 *
 *   uigniter-seed HEX     HEX: exactly 64 hex characters (32 bytes)
 *
 * Why: every copy restored from one snapshot template starts with the
 * template's kernel RNG state, so without a fresh seed each copy would draw
 * the same "random" numbers until the kernel's next scheduled reseed.
 * Debian's 6.1 cloud kernel has no CONFIG_VMGENID, and a plain write to
 * /dev/urandom only mixes into the input pool (the crng is reseeded on its
 * interval, up to 60 s). So: ioctl RNDADDENTROPY (the bytes, credited as
 * 256 bits, which also makes a not yet initialised crng ready), then
 * RNDRESEEDCRNG (the crng is rekeyed from the input pool now; every
 * per-CPU crng and batch follows on its next use). Both need
 * CAP_SYS_ADMIN: init runs it as root, PID 1's child.
 *
 * Exit: 0 seeded and reseeded; 2 bad usage or a malformed HEX (nothing is
 * added); 1 an open or ioctl failed. Messages on stderr only. The seed
 * bytes are wiped from memory before exit.
 *
 * A program of uigniter-guest (main.c), statically linked (the guest has
 * no libc): built by tools/guest/module.mk with its own flags, never the
 * sanitizers'.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/random.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "guest_main.h"
#include "seed_hex.h"

#define PROG "uigniter-seed"

/* Adds seed (credited in full) to the input pool, then reseeds the crng.
 * Returns 0 or a negative errno; says on stderr which step failed. */
static int seed_kernel(const uint8_t seed[UI_SEED_BYTES])
{
	struct rand_pool_info *info;
	int fd, rc = 0;

	info = malloc(sizeof(*info) + UI_SEED_BYTES);
	if (!info) {
		fprintf(stderr, PROG ": out of memory\n");
		return -ENOMEM;
	}
	info->entropy_count = UI_SEED_BYTES * 8;
	info->buf_size = UI_SEED_BYTES;
	memcpy(info->buf, seed, UI_SEED_BYTES);

	fd = open("/dev/random", O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		fprintf(stderr, PROG ": open /dev/random: %s\n", strerror(errno));
		goto out_wipe;
	}
	if (ioctl(fd, RNDADDENTROPY, info) < 0) {
		rc = -errno;
		fprintf(stderr, PROG ": RNDADDENTROPY: %s\n", strerror(errno));
		goto out_close;
	}
	if (ioctl(fd, RNDRESEEDCRNG) < 0) {
		rc = -errno;
		fprintf(stderr, PROG ": RNDRESEEDCRNG: %s\n", strerror(errno));
	}
out_close:
	if (close(fd) < 0 && rc == 0) {
		rc = -errno;
		fprintf(stderr, PROG ": close /dev/random: %s\n", strerror(errno));
	}
out_wipe:
	explicit_bzero(info, sizeof(*info) + UI_SEED_BYTES);
	free(info);
	return rc;
}

int ui_seed_main(int argc, char **argv)
{
	uint8_t seed[UI_SEED_BYTES];
	int rc;

	if (argc != 2) {
		fprintf(stderr, "usage: " PROG " HEX   (%d hex characters)\n",
			UI_SEED_BYTES * 2);
		return 2;
	}
	rc = ui_seed_parse_hex(argv[1], seed);
	/* not left in /proc/<pid>/cmdline while the ioctls run */
	explicit_bzero(argv[1], strlen(argv[1]));
	if (rc < 0) {
		fprintf(stderr, PROG ": the seed must be exactly %d hex characters "
			"[0-9a-fA-F], nothing else\n", UI_SEED_BYTES * 2);
		return 2;
	}
	rc = seed_kernel(seed);
	explicit_bzero(seed, sizeof(seed));
	return rc < 0 ? 1 : 0;
}
