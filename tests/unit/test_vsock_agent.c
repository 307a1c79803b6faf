/*
 * test_vsock_agent.c — the guest agent's line protocol
 * (tools/guest/agent_line.c) on AF_UNIX stream sockets, the transport-
 * independent half of uigniter-agent (the vsock half: tests/system/
 * test_guest_vsock.sh). A good line is taken and answered "OK\n"; a line
 * split over many writes is put together; a line of exactly the limit is
 * taken, one byte more is not; a partial line then a close, an empty line,
 * a NUL byte, a silent peer: dropped without an answer, the buffer wiped;
 * of two lines the first counts; the accept loop drops bad connections and
 * takes the next good one; the sender's side reads the answer or says the
 * peer closed. No fd is left open.
 */
#include <errno.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../tools/guest/agent_line.h"
#include "t.h"

#define LINE "ip=172.31.0.9::172.31.0.1:255.255.255.0::eth0:off uigniter.id=vm-1 " \
	     "uigniter.mac=06:00:ac:1f:00:09 uigniter.seed=" \
	     "000102030405060708090a0b0c0d0e0ff0e1d2c3b4a5968778695a4b3c2d1e0f"
#define TMO 5000 /* ms: generous; only the timeout case waits it out */

static void pair(int sv[2])
{
	T_ASSERT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
}

static void put(int fd, const void *s, size_t n)
{
	T_EQ_INT(write(fd, s, n), (ssize_t)n);
}

/* What the peer of fd got back, all of it up to EOF (or a reset). */
static void read_all(int fd, char *out, size_t cap)
{
	size_t have = 0;
	ssize_t n;

	while (have < cap - 1 && (n = read(fd, out + have, cap - 1 - have)) > 0)
		have += (size_t)n;
	out[have] = '\0';
}

static bool all_zero(const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

/* Serves one connection whose peer wrote data (len bytes) and then,
 * when close_after, closed its side; expects rc; a refused line leaves
 * buf zeroed and the peer no answer. */
static void serve_one(const void *data, size_t len, bool close_after, int want, int tmo)
{
	char buf[UI_AGENT_LINE_MAX], got[16];
	int sv[2], rc, st;

	pair(sv);
	/* a write bigger than the socket buffer would block: from a child */
	pid_t pid = fork();
	T_ASSERT(pid >= 0);
	if (pid == 0) {
		close(sv[0]);
		(void)!write(sv[1], data, len);
		if (close_after)
			shutdown(sv[1], SHUT_WR);
		/* keep the peer's end open until the parent has answered */
		read_all(sv[1], got, sizeof(got));
		_exit(strcmp(got, want >= 0 ? "OK\n" : "") == 0 ? 0 : 1);
	}
	memset(buf, 0xaa, sizeof(buf));
	rc = ui_agent_serve(sv[0], buf, sizeof(buf), tmo);
	T_EQ_INT(rc, want);
	if (rc < 0)
		T_ASSERT(all_zero(buf, sizeof(buf)));
	T_EQ_INT(close(sv[0]), 0);
	T_EQ_INT(waitpid(pid, &st, 0), pid);
	T_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0); /* the answer, or none */
	close(sv[1]);
}

static void t_agent_good_line(void)
{
	char buf[UI_AGENT_LINE_MAX], got[16];
	int sv[2], fds = t_count_fds();

	pair(sv);
	put(sv[1], LINE "\n", sizeof(LINE));
	T_EQ_INT(ui_agent_serve(sv[0], buf, sizeof(buf), TMO), (int)strlen(LINE));
	T_EQ_STR(buf, LINE);
	close(sv[0]);
	read_all(sv[1], got, sizeof(got));
	T_EQ_STR(got, "OK\n");
	close(sv[1]);
	T_EQ_INT(t_count_fds(), fds);
}

/* the line arrives a few bytes at a time, from another process */
static void t_agent_line_in_pieces(void)
{
	char buf[UI_AGENT_LINE_MAX], got[16];
	const char *s = LINE "\n";
	int sv[2];
	pid_t pid;

	pair(sv);
	pid = fork();
	T_ASSERT(pid >= 0);
	if (pid == 0) {
		close(sv[0]);
		for (size_t i = 0, len = strlen(s); i < len; i += 7) {
			size_t n = len - i < 7 ? len - i : 7;

			if (write(sv[1], s + i, n) != (ssize_t)n)
				_exit(1);
			usleep(1000);
		}
		read_all(sv[1], got, sizeof(got));
		_exit(strcmp(got, "OK\n") == 0 ? 0 : 1);
	}
	close(sv[1]);
	T_EQ_INT(ui_agent_serve(sv[0], buf, sizeof(buf), TMO), (int)strlen(LINE));
	T_EQ_STR(buf, LINE);
	close(sv[0]);
	int st;
	T_EQ_INT(waitpid(pid, &st, 0), pid);
	T_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void t_agent_long_line(void)
{
	static char big[UI_AGENT_LINE_MAX + 2000];

	/* exactly the limit: 4095 characters and the '\n' */
	memset(big, 'a', sizeof(big));
	big[UI_AGENT_LINE_MAX - 1] = '\n';
	serve_one(big, UI_AGENT_LINE_MAX, false, UI_AGENT_LINE_MAX - 1, TMO);
	/* one more: the '\n' is byte 4097 */
	memset(big, 'a', sizeof(big));
	big[UI_AGENT_LINE_MAX] = '\n';
	serve_one(big, UI_AGENT_LINE_MAX + 1, false, -EMSGSIZE, TMO);
	/* far more, no '\n' at all, the peer still writing */
	memset(big, 'a', sizeof(big));
	serve_one(big, sizeof(big), false, -EMSGSIZE, TMO);
}

static void t_agent_partial_then_close(void)
{
	serve_one("ip=172.31.0.9 uigniter.id=vm", 28, true, -ENODATA, TMO);
	serve_one("", 0, true, -ENODATA, TMO); /* closed at once */
}

static void t_agent_bad_lines(void)
{
	serve_one("\n", 1, false, -EBADMSG, TMO);
	serve_one("ip=1.2.3.4\0 uigniter.id=x\n", 26, false, -EBADMSG, TMO);
}

/* a peer that connects and says nothing is dropped after the timeout */
static void t_agent_silent_peer(void)
{
	serve_one("", 0, false, -ETIMEDOUT, 200);
}

/* of two lines in one connection the first counts; the rest is wiped */
static void t_agent_two_lines(void)
{
	char buf[UI_AGENT_LINE_MAX], got[16];
	int sv[2];

	pair(sv);
	put(sv[1], "first words\nsecond words\n", 25);
	memset(buf, 0xaa, sizeof(buf));
	T_EQ_INT(ui_agent_serve(sv[0], buf, sizeof(buf), TMO), 11);
	T_EQ_STR(buf, "first words");
	T_ASSERT(all_zero(buf + 11, 14));
	close(sv[0]);
	read_all(sv[1], got, sizeof(got));
	T_EQ_STR(got, "OK\n");
	close(sv[1]);
}

/* connect to lfd's path, write data, close when asked */
static int client(const struct sockaddr_un *a, const char *data, size_t n, bool close_after)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	T_ASSERT(fd >= 0);
	T_EQ_INT(connect(fd, (const struct sockaddr *)a, sizeof(*a)), 0);
	if (n)
		put(fd, data, n);
	if (close_after) {
		T_EQ_INT(close(fd), 0);
		return -1;
	}
	return fd;
}

/* The accept loop: a partial line closed, a line too long, a silent
 * peer, an empty line are each dropped with no answer; the next good
 * connection's line is taken and answered; later ones are not served. */
static void t_agent_accept_loop(void)
{
	static char big[UI_AGENT_LINE_MAX + 10];
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	char buf[UI_AGENT_LINE_MAX], got[16];
	int lfd, c_long, c_silent, c_empty, c_good, c_after, fds = t_count_fds();

	/* abstract address: nothing on the file system */
	snprintf(a.sun_path + 1, sizeof(a.sun_path) - 1, "uigniter-test-agent-%d", getpid());
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	T_ASSERT(lfd >= 0);
	T_EQ_INT(bind(lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	T_EQ_INT(listen(lfd, 16), 0);

	memset(big, 'b', sizeof(big));
	client(&a, "ip=172.31.0.9 uigniter", 22, true);
	c_long = client(&a, big, sizeof(big), false);
	c_silent = client(&a, NULL, 0, false);
	c_empty = client(&a, "\n", 1, false);
	c_good = client(&a, LINE "\n", sizeof(LINE), false);
	c_after = client(&a, "later words\n", 12, false);

	T_EQ_INT(ui_agent_accept_line(lfd, buf, sizeof(buf), 300, "test"), (int)strlen(LINE));
	T_EQ_STR(buf, LINE);
	read_all(c_good, got, sizeof(got));
	T_EQ_STR(got, "OK\n");
	/* the dropped ones got no answer: closed (EOF, or a reset) */
	read_all(c_long, got, sizeof(got));
	T_EQ_STR(got, "");
	read_all(c_silent, got, sizeof(got));
	T_EQ_STR(got, "");
	read_all(c_empty, got, sizeof(got));
	T_EQ_STR(got, "");
	/* the one after the good line: not served, still waiting */
	T_EQ_INT(recv(c_after, got, sizeof(got), MSG_DONTWAIT), -1);
	T_EQ_INT(errno, EAGAIN);

	close(lfd);
	read_all(c_after, got, sizeof(got)); /* the listener gone: reset */
	T_EQ_STR(got, "");
	close(c_long);
	close(c_silent);
	close(c_empty);
	close(c_good);
	close(c_after);
	T_EQ_INT(t_count_fds(), fds);
}

/* accept on a socket that does not listen: the error, not a loop */
static void t_agent_accept_error(void)
{
	char buf[64];
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	T_ASSERT(fd >= 0);
	T_EQ_INT(ui_agent_accept_line(fd, buf, sizeof(buf), TMO, "test"), -EINVAL);
	close(fd);
	T_EQ_INT(ui_agent_accept_line(-1, buf, sizeof(buf), TMO, "test"), -EBADF);
}

/* The sender: a peer serving the protocol answers OK; one that closes
 * after reading says nothing (-ENODATA); a line with '\n' is refused. */
static void t_agent_send(void)
{
	char answer[UI_AGENT_LINE_MAX], buf[UI_AGENT_LINE_MAX];
	int sv[2], st;
	pid_t pid;

	pair(sv);
	pid = fork();
	T_ASSERT(pid >= 0);
	if (pid == 0) {
		close(sv[0]);
		int n = ui_agent_serve(sv[1], buf, sizeof(buf), TMO);
		_exit(n == (int)strlen(LINE) && strcmp(buf, LINE) == 0 ? 0 : 1);
	}
	close(sv[1]);
	T_EQ_INT(ui_agent_send(sv[0], LINE, answer, sizeof(answer), TMO), 2);
	T_EQ_STR(answer, "OK");
	close(sv[0]);
	T_EQ_INT(waitpid(pid, &st, 0), pid);
	T_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);

	pair(sv);
	pid = fork();
	T_ASSERT(pid >= 0);
	if (pid == 0) { /* reads the line, answers nothing */
		close(sv[0]);
		(void)!read(sv[1], buf, sizeof(buf));
		_exit(0);
	}
	close(sv[1]);
	T_EQ_INT(ui_agent_send(sv[0], "some words", answer, sizeof(answer), TMO), -ENODATA);
	close(sv[0]);
	T_EQ_INT(waitpid(pid, NULL, 0), pid);

	pair(sv);
	T_EQ_INT(ui_agent_send(sv[0], "two\nlines", answer, sizeof(answer), TMO), -EINVAL);
	close(sv[0]);
	close(sv[1]);
}

static void t_agent_strerror(void)
{
	T_EQ_STR(ui_agent_strerror(-EMSGSIZE), "line too long (at most 4096 bytes with its '\\n')");
	T_EQ_STR(ui_agent_strerror(-ENODATA), "closed before a full line");
	T_EQ_STR(ui_agent_strerror(-EBADMSG), "an empty line or a NUL byte");
	T_EQ_STR(ui_agent_strerror(-ETIMEDOUT), "no full line in time");
	T_EQ_STR(ui_agent_strerror(-ECONNRESET), strerror(ECONNRESET));
	T_EQ_INT(ui_agent_read_line(0, (char[1]){ 0 }, 1, TMO), -EINVAL);
}

int main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		T_CASE(t_agent_good_line),
		T_CASE(t_agent_line_in_pieces),
		T_CASE(t_agent_long_line),
		T_CASE(t_agent_partial_then_close),
		T_CASE(t_agent_bad_lines),
		T_CASE(t_agent_silent_peer),
		T_CASE(t_agent_two_lines),
		T_CASE(t_agent_accept_loop),
		T_CASE(t_agent_accept_error),
		T_CASE(t_agent_send),
		T_CASE(t_agent_strerror),
		{ 0 },
	};
	return t_run(argc, argv, cases);
}
