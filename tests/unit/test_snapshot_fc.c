/*
 * test_snapshot_fc.c — the Firecracker pieces of pool.boot snapshot: the
 * request bodies (fc_bodies.h: Vsock, SnapshotCreateParams,
 * SnapshotLoadParams exactly), the template's command line, the agent's
 * reply parser, and the agent itself (fc_agent.h) against a stand-in for
 * Firecracker's vsock UDS in a child process: the first connection is
 * closed at once (nothing listens in the guest yet), the second answers
 * "OK <port>", takes the line and answers "OK".
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include "../../pool-worker/fc_agent.h"
#include "../../pool-worker/fc_bodies.h"
#include "../../pool-worker/snapshot.h"
#include "t.h"

static void expect_json(json_t *j, const char *want)
{
	char *s = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

	T_ASSERT(s != NULL);
	T_EQ_STR(s, want);
	free(s);
	json_decref(j);
}

static void t_bodies(void)
{
	expect_json(pw_fc_vsock("/run/vsock"), "{\"guest_cid\":3,\"uds_path\":\"/run/vsock\"}");
	expect_json(pw_fc_snapshot_create("/r/template.state", "/r/template.mem"),
		    "{\"mem_file_path\":\"/r/template.mem\",\"snapshot_path\":\"/r/template.state\","
		    "\"snapshot_type\":\"Full\"}");
	expect_json(pw_fc_snapshot_load("/run/template.state", "/run/template.mem", "uit-7",
					"/run/vsock"),
		    "{\"mem_backend\":{\"backend_path\":\"/run/template.mem\",\"backend_type\":\"File\"},"
		    "\"network_overrides\":[{\"host_dev_name\":\"uit-7\",\"iface_id\":\"eth0\"}],"
		    "\"resume_vm\":true,\"snapshot_path\":\"/run/template.state\","
		    "\"vsock_override\":{\"uds_path\":\"/run/vsock\"}}");
}

static void t_cmdline(void)
{
	char out[256];

	T_EQ_INT(pw_snap_cmdline_agent("console=ttyS0 reboot=k", NULL, "vsock:52", out, sizeof(out)),
		 0);
	T_EQ_STR(out, "console=ttyS0 reboot=k uigniter.agent=vsock:52");
	T_EQ_INT(pw_snap_cmdline_agent("", "", "vsock:52", out, sizeof(out)), 0);
	T_EQ_STR(out, "uigniter.agent=vsock:52");
	/* qemu's is unchanged */
	T_EQ_INT(pw_snap_cmdline("console=ttyS0", NULL, out, sizeof(out)), 0);
	T_EQ_STR(out, "console=ttyS0 uigniter.agent=uigniter.agent");
	T_EQ_INT(pw_snap_cmdline_agent("console=ttyS0", NULL, "vsock:52", out, 20), -ENAMETOOLONG);
}

static void t_reply(void)
{
	char line[32];

	T_EQ_INT(pw_fc_agent_reply("OK 1073741824", true), 0);
	T_EQ_INT(pw_fc_agent_reply("OK 5", true), 0);
	T_EQ_INT(pw_fc_agent_reply("OK", true), -EPROTO);
	T_EQ_INT(pw_fc_agent_reply("OK ", true), -EPROTO);
	T_EQ_INT(pw_fc_agent_reply("OK 12x", true), -EPROTO);
	T_EQ_INT(pw_fc_agent_reply("OK 12345678901", true), -EPROTO);
	T_EQ_INT(pw_fc_agent_reply("ERR 5", true), -EPROTO);
	T_EQ_INT(pw_fc_agent_reply("OK", false), 0);
	T_EQ_INT(pw_fc_agent_reply("OK 5", false), -EPROTO);
	T_EQ_INT(pw_fc_agent_reply("ok", false), -EPROTO);
	T_EQ_INT(pw_fc_agent_connect_line(52, line, sizeof(line)), 0);
	T_EQ_STR(line, "CONNECT 52\n");
	T_EQ_INT(pw_fc_agent_connect_line(52, line, 8), -ENAMETOOLONG);
}

/* ---- the agent against a stand-in ---- */

static ssize_t read_line(int fd, char *buf, size_t len)
{
	size_t n = 0;

	while (n + 1 < len) {
		ssize_t r = read(fd, buf + n, 1);

		if (r <= 0)
			return -1;
		if (buf[n++] == '\n')
			break;
	}
	buf[n] = '\0';
	return (ssize_t)n;
}

/* The child: connection 1 closed at once; connection 2 the protocol; the
 * line it took written to out. Exits 0 when all went as Firecracker's. */
static void stand_in(int lfd, const char *out)
{
	char buf[512];
	FILE *f;
	int c;

	if ((c = accept(lfd, NULL, NULL)) < 0)
		_exit(2);
	close(c); /* nothing listens in the guest yet */
	if ((c = accept(lfd, NULL, NULL)) < 0 || read_line(c, buf, sizeof(buf)) < 0 ||
	    strcmp(buf, "CONNECT 52\n") != 0)
		_exit(3);
	if (write(c, "OK 1073741824\n", 14) != 14 || read_line(c, buf, sizeof(buf)) < 0)
		_exit(4);
	if (!(f = fopen(out, "w")) || fputs(buf, f) < 0 || fclose(f) != 0)
		_exit(5);
	if (write(c, "OK\n", 3) != 3)
		_exit(6);
	close(c);
	_exit(0);
}

static int agent_done;

static void on_done(void *arg)
{
	(void)arg;
	agent_done++;
}

static void t_agent(void)
{
	char dir[] = "/tmp/t_fcagent.XXXXXX", sock[64], out[64], got[512] = "";
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct pw_fc_agent *a = NULL;
	uv_loop_t loop;
	int lfd, st;
	pid_t pid;
	FILE *f;

	T_ASSERT(mkdtemp(dir) != NULL);
	snprintf(sock, sizeof(sock), "%s/vsock", dir);
	snprintf(out, sizeof(out), "%s/line", dir);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
	lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	T_ASSERT(lfd >= 0);
	T_EQ_INT(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	T_EQ_INT(listen(lfd, 4), 0);
	pid = fork();
	T_ASSERT(pid >= 0);
	if (pid == 0)
		stand_in(lfd, out);
	close(lfd);
	T_EQ_INT(uv_loop_init(&loop), 0);
	T_EQ_INT(pw_fc_agent_start(&loop, sock, 52, "ip=10.0.0.5::10.0.0.1:255.255.255.0::eth0:off "
				   "uigniter.id=vm-x\n", on_done, NULL, &a), 0);
	T_EQ_INT(uv_run(&loop, UV_RUN_DEFAULT), 0); /* it frees itself after its callback */
	T_EQ_INT(agent_done, 1);
	T_EQ_INT(waitpid(pid, &st, 0), pid);
	T_ASSERT(WIFEXITED(st));
	T_EQ_INT(WEXITSTATUS(st), 0);
	T_ASSERT((f = fopen(out, "r")) != NULL);
	T_ASSERT(fgets(got, sizeof(got), f) != NULL);
	fclose(f);
	T_EQ_STR(got, "ip=10.0.0.5::10.0.0.1:255.255.255.0::eth0:off uigniter.id=vm-x\n");
	T_EQ_INT(uv_loop_close(&loop), 0);
	unlink(out);
	unlink(sock);
	rmdir(dir);
}

/* Stopped while it retries (nothing listens at all): no callback, and the
 * loop ends with every handle closed. */
static void t_agent_stop(void)
{
	struct pw_fc_agent *a = NULL;
	uv_loop_t loop;

	agent_done = 0;
	T_EQ_INT(uv_loop_init(&loop), 0);
	T_EQ_INT(pw_fc_agent_start(&loop, "/nonexistent/vsock", 52, "x\n", on_done, NULL, &a), 0);
	uv_run(&loop, UV_RUN_NOWAIT); /* the first attempt: refused */
	uv_run(&loop, UV_RUN_NOWAIT);
	T_ASSERT(pw_fc_agent_tries(a) >= 1);
	pw_fc_agent_stop(a);
	T_EQ_INT(uv_run(&loop, UV_RUN_DEFAULT), 0);
	T_EQ_INT(agent_done, 0);
	T_EQ_INT(uv_loop_close(&loop), 0);
	T_EQ_STR(pw_fc_agent_last(NULL), "");
}

int main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		T_CASE(t_bodies),
		T_CASE(t_cmdline),
		T_CASE(t_reply),
		T_CASE(t_agent),
		T_CASE(t_agent_stop),
		{ 0 },
	};

	signal(SIGPIPE, SIG_IGN);
	return t_run(argc, argv, cases);
}
