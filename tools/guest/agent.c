/*
 * agent.c — uigniter-agent, the demo guest's snapshot agent over vsock (in
 * the initramfs as /bin/uigniter-agent; tools/mkguest copies it,
 * tools/guest/init runs it for uigniter.agent=vsock:PORT).
 *
 *   uigniter-agent listen [--ready] PORT
 *       Listens on AF_VSOCK port PORT of any CID (VMADDR_CID_ANY: the
 *       guest's CID may change with a restore), takes the first good line
 *       (agent_line.h: one connection after another, bad ones dropped),
 *       answers "OK\n", closes, prints the line and a '\n' on stdout and
 *       exits 0. With --ready it first prints "listening vsock:PORT\n",
 *       once the socket listens: init prints UIGNITER-TEMPLATE only after
 *       that line, since the host saves the VM right after the banner and
 *       the listening socket must be in the saved state.
 *   uigniter-agent send CID PORT LINE
 *       The host's part, for tests inside a guest (vsock_loopback, CID 1):
 *       connects, writes LINE and '\n', prints the peer's one-line answer.
 *
 * Exit: 0 done; 1 a socket failure, or (send) no answer; 2 bad usage.
 * Messages on stderr only. The line (it holds the seed) is wiped from
 * memory before exit.
 *
 * A program of uigniter-guest (main.c), statically linked (the guest has
 * no libc): built by tools/guest/module.mk with its own flags, never the
 * sanitizers'.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#include "agent_line.h"
#include "guest_main.h"

#define PROG "uigniter-agent"
#define CONN_TIMEOUT_MS 10000 /* a connection's whole line, then it is dropped */
#define LISTEN_BACKLOG 16

static int usage(void)
{
	fprintf(stderr, "usage: " PROG " listen [--ready] PORT\n"
			"       " PROG " send CID PORT LINE\n");
	return 2;
}

/* A vsock CID or port: decimal, 0 .. UINT32_MAX - 1 (UINT32_MAX is "any"). */
static int parse_u32(const char *s, const char *what, unsigned *out)
{
	unsigned long long v = 0;
	const char *p;

	for (p = s; *p >= '0' && *p <= '9' && v <= UINT32_MAX; p++)
		v = v * 10 + (unsigned)(*p - '0');
	if (p == s || *p || v >= UINT32_MAX) {
		fprintf(stderr, PROG ": %s must be a number below %u, not '%s'\n", what,
			UINT32_MAX, s);
		return -EINVAL;
	}
	*out = (unsigned)v;
	return 0;
}

/* close, said on stderr if it fails (nothing else to do then) */
static void close_fd(int fd)
{
	if (close(fd) < 0)
		fprintf(stderr, PROG ": close: %s\n", strerror(errno));
}

static int vsock_socket(void)
{
	int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		fprintf(stderr, PROG ": socket(AF_VSOCK): %s (is the vsock module loaded?)\n",
			strerror(errno));
	return fd;
}

static int do_listen(unsigned port, int ready)
{
	struct sockaddr_vm a = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY,
				 .svm_port = port };
	char line[UI_AGENT_LINE_MAX], msg[64];
	int fd, len, rc = 1;

	fd = vsock_socket();
	if (fd < 0)
		return 1;
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		fprintf(stderr, PROG ": bind vsock port %u: %s\n", port, strerror(errno));
		goto out_close;
	}
	if (listen(fd, LISTEN_BACKLOG) < 0) {
		fprintf(stderr, PROG ": listen on vsock port %u: %s\n", port, strerror(errno));
		goto out_close;
	}
	if (ready) {
		len = snprintf(msg, sizeof(msg), "listening vsock:%u\n", port);
		if (ui_agent_write_all(STDOUT_FILENO, msg, (size_t)len) < 0) {
			fprintf(stderr, PROG ": write to stdout: %s\n", strerror(errno));
			goto out_close;
		}
	}
	len = ui_agent_accept_line(fd, line, sizeof(line), CONN_TIMEOUT_MS, PROG);
	if (len < 0) {
		fprintf(stderr, PROG ": accept on vsock port %u: %s\n", port, strerror(-len));
		goto out_close;
	}
	line[len] = '\n'; /* where its '\n' was: len < sizeof(line) */
	if (ui_agent_write_all(STDOUT_FILENO, line, (size_t)len + 1) < 0)
		fprintf(stderr, PROG ": write the line to stdout: %s\n", strerror(errno));
	else
		rc = 0;
	explicit_bzero(line, sizeof(line));
out_close:
	close_fd(fd);
	return rc;
}

static int do_send(unsigned cid, unsigned port, const char *line)
{
	struct sockaddr_vm a = { .svm_family = AF_VSOCK, .svm_cid = cid, .svm_port = port };
	char answer[UI_AGENT_LINE_MAX];
	int fd, len, rc = 1;

	fd = vsock_socket();
	if (fd < 0)
		return 1;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		fprintf(stderr, PROG ": connect to vsock %u:%u: %s\n", cid, port, strerror(errno));
		goto out_close;
	}
	len = ui_agent_send(fd, line, answer, sizeof(answer), CONN_TIMEOUT_MS);
	if (len < 0) {
		fprintf(stderr, PROG ": no answer from vsock %u:%u: %s\n", cid, port,
			ui_agent_strerror(len));
		goto out_close;
	}
	printf("%s\n", answer);
	rc = fflush(stdout) == 0 ? 0 : 1;
out_close:
	close_fd(fd);
	return rc;
}

int ui_agent_main(int argc, char **argv)
{
	unsigned cid, port;
	int ready = 0;

	/* a peer gone before our answer is an error return, not a signal */
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
		fprintf(stderr, PROG ": signal(SIGPIPE): %s\n", strerror(errno));
		return 1;
	}
	if (argc >= 2 && strcmp(argv[1], "listen") == 0) {
		if (argc == 4 && strcmp(argv[2], "--ready") == 0)
			ready = 1;
		else if (argc != 3)
			return usage();
		if (parse_u32(argv[argc - 1], "PORT", &port) < 0)
			return 2;
		return do_listen(port, ready);
	}
	if (argc == 5 && strcmp(argv[1], "send") == 0) {
		if (parse_u32(argv[2], "CID", &cid) < 0 || parse_u32(argv[3], "PORT", &port) < 0)
			return 2;
		if (!argv[4][0] || strchr(argv[4], '\n')) {
			fprintf(stderr, PROG ": LINE must be one non-empty line\n");
			return 2;
		}
		return do_send(cid, port, argv[4]);
	}
	return usage();
}
