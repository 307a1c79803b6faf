/*
 * test_notify.c — the sd_notify protocol of uigniterd (supervisor/notify.c)
 * against datagram sockets of our own: a path socket and an abstract one
 * receive exactly the message; the variable is gone from the environment
 * once taken (children never inherit it); unset means nothing is sent and
 * 0; a relative name is refused; a socket nobody listens on is an error.
 */
#include <errno.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "../../supervisor/notify.h"
#include "t.h"

static char dir[64];
static char path[128];

static void cleanup(void)
{
	unlink(path);
	rmdir(dir);
}

/* A bound datagram socket: at a path, or abstract when name starts '@'. */
static int listener(const char *name)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len = strlen(name);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	T_ASSERT(fd >= 0);
	memcpy(sa.sun_path, name, len);
	if (name[0] == '@')
		sa.sun_path[0] = '\0';
	T_ASSERT(bind(fd, (struct sockaddr *)&sa,
		      offsetof(struct sockaddr_un, sun_path) + len + (name[0] == '/')) == 0);
	return fd;
}

static void expect_message(int fd, const char *want)
{
	char buf[256];
	struct timeval tv = { 5, 0 };
	ssize_t n;

	T_ASSERT(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == 0);
	n = recv(fd, buf, sizeof(buf) - 1, 0);
	T_ASSERT(n >= 0);
	buf[n] = '\0';
	T_EQ_STR(buf, want);
}

static void t_path_socket(void)
{
	int fd;

	snprintf(dir, sizeof(dir), "/tmp/ui-notify.XXXXXX");
	T_ASSERT(mkdtemp(dir));
	atexit(cleanup);
	snprintf(path, sizeof(path), "%s/notify", dir);
	fd = listener(path);
	T_ASSERT(setenv("NOTIFY_SOCKET", path, 1) == 0);
	T_EQ_INT(ui_sd_notify_take_env(), 0);
	T_ASSERT(getenv("NOTIFY_SOCKET") == NULL);
	T_EQ_INT(ui_sd_notify("READY=1\nSTATUS=up"), 0);
	expect_message(fd, "READY=1\nSTATUS=up");
	T_EQ_INT(ui_sd_notify("STOPPING=1"), 0);
	expect_message(fd, "STOPPING=1");
	close(fd);
}

static void t_abstract_socket(void)
{
	char name[64];
	int fd;

	snprintf(name, sizeof(name), "@uigniter-test-notify-%d", (int)getpid());
	fd = listener(name);
	T_ASSERT(setenv("NOTIFY_SOCKET", name, 1) == 0);
	T_EQ_INT(ui_sd_notify_take_env(), 0);
	T_EQ_INT(ui_sd_notify("READY=1"), 0);
	expect_message(fd, "READY=1");
	close(fd);
}

static void t_unset_is_a_no_op(void)
{
	T_ASSERT(unsetenv("NOTIFY_SOCKET") == 0);
	T_EQ_INT(ui_sd_notify_take_env(), 0);
	T_EQ_INT(ui_sd_notify("READY=1"), 0);
}

static void t_relative_name_refused(void)
{
	T_ASSERT(setenv("NOTIFY_SOCKET", "relative/sock", 1) == 0);
	T_EQ_INT(ui_sd_notify_take_env(), -EINVAL);
	T_ASSERT(getenv("NOTIFY_SOCKET") == NULL);
	T_EQ_INT(ui_sd_notify("READY=1"), 0); /* nothing to send to */
}

static void t_nobody_listening(void)
{
	T_ASSERT(setenv("NOTIFY_SOCKET", "/nonexistent-dir/notify", 1) == 0);
	T_EQ_INT(ui_sd_notify_take_env(), 0);
	T_EQ_INT(ui_sd_notify("READY=1"), -ENOENT);
}

int main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		T_CASE(t_path_socket),
		T_CASE(t_abstract_socket),
		T_CASE(t_unset_is_a_no_op),
		T_CASE(t_relative_name_refused),
		T_CASE(t_nobody_listening),
		{ 0 },
	};
	return t_run(argc, argv, cases);
}
