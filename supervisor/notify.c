/*
 * notify.c — sd_notify(3) in a few lines of sendmsg (see notify.h). A new
 * socket per message (uigniterd sends a handful in its life), SOCK_CLOEXEC,
 * MSG_NOSIGNAL. The name is taken from the environment once and the
 * variable removed, so the daemons and VMMs uigniterd spawns never see it
 * (systemd would otherwise accept their messages for the unit too, with
 * NotifyAccess=all; we set NotifyAccess=main anyway).
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "notify.h"

static char notify_name[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];

int ui_sd_notify_take_env(void)
{
	const char *name = getenv("NOTIFY_SOCKET");

	notify_name[0] = '\0';
	if (!name || !*name)
		return 0;
	if ((name[0] != '/' && name[0] != '@') || strlen(name) < 2 ||
	    strlen(name) >= sizeof(notify_name) - 1) {
		unsetenv("NOTIFY_SOCKET");
		return -EINVAL;
	}
	strcpy(notify_name, name);
	return unsetenv("NOTIFY_SOCKET") < 0 ? -errno : 0;
}

int ui_sd_notify(const char *msg)
{
	const char *name = notify_name;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len;
	socklen_t salen;
	int fd, r = 0;

	if (!name || !*name)
		return 0;
	len = strlen(name);
	memcpy(sa.sun_path, name, len);
	if (name[0] == '@')
		sa.sun_path[0] = '\0'; /* abstract: no terminating NUL counted */
	salen = offsetof(struct sockaddr_un, sun_path) + len + (name[0] == '/');
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return -errno;
	if (sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sa, salen) < 0)
		r = -errno;
	close(fd);
	return r;
}
