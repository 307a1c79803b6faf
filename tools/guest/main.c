/*
 * main.c — uigniter-guest: the demo guest's helpers in one static binary,
 * run by the name of a link to it, as busybox is (tools/mkguest puts it in
 * the initramfs as /bin/uigniter-guest, with /bin/uigniter-seed and
 * /bin/uigniter-agent symlinks). One binary because static glibc costs
 * ~670 KiB a program (~300 KiB gzipped): two would cost every guest that
 * again in its initramfs, in memory and in a snapshot's state.
 *
 *   uigniter-seed HEX                      seed.c
 *   uigniter-agent listen|send ...         agent.c
 *
 * Any other name: exit 2 and a message.
 */
#include <stdio.h>
#include <string.h>

#include "guest_main.h"

int main(int argc, char **argv)
{
	const char *name = argc > 0 && argv[0] ? argv[0] : "";
	const char *slash = strrchr(name, '/');

	if (slash)
		name = slash + 1;
	if (strcmp(name, "uigniter-seed") == 0)
		return ui_seed_main(argc, argv);
	if (strcmp(name, "uigniter-agent") == 0)
		return ui_agent_main(argc, argv);
	fprintf(stderr, "uigniter-guest: run it as uigniter-seed or uigniter-agent "
			"(a link of that name), not as '%s'\n", name);
	return 2;
}
