/*
 * test_ready.c — the readiness probe (pool-worker/ready.c) on a private
 * libuv loop: a port that accepts at once; a port refused at first that
 * accepts later; a console pattern written in pieces, split across reads;
 * the deadline; a probe stopped before its outcome (no callback, the loop
 * closes clean); the http rule: a 503 (an app not serving yet) then a 200
 * on the same port, the request it sends, and a peer that is not HTTP.
 * No root needed: 127.0.0.1 stands in for the guest.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "../../pool-worker/ready.h"
#include "t.h"

struct ctx {
	uv_loop_t loop;
	int calls;
	int status;
	char how[64];
};

static void on_ready(void *arg, int status, const char *how)
{
	struct ctx *c = arg;

	c->calls++;
	c->status = status;
	snprintf(c->how, sizeof(c->how), "%s", how);
}

/* A listening socket on 127.0.0.1 (its port in *port), or just a bound
 * one (nobody accepts: connects are refused). */
static int tcp_socket(unsigned *port, bool do_listen)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	T_ASSERT(fd >= 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((uint16_t)*port);
	T_ASSERT(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	T_ASSERT(getsockname(fd, (struct sockaddr *)&sa, &len) == 0);
	*port = ntohs(sa.sin_port);
	if (do_listen)
		T_ASSERT(listen(fd, 8) == 0);
	return fd;
}

static void stop_loop(uv_timer_t *t)
{
	uv_stop(t->loop);
}

static void run_until(struct ctx *c, unsigned ms)
{
	uint64_t end = uv_now(&c->loop) + ms;

	while (c->calls == 0 && uv_now(&c->loop) < end)
		uv_run(&c->loop, UV_RUN_ONCE);
}

static void fini(struct ctx *c)
{
	uv_run(&c->loop, UV_RUN_DEFAULT); /* the probe's handles close */
	T_EQ_INT(uv_loop_close(&c->loop), 0);
}

static void t_port_accepts(void)
{
	struct ctx c = { 0 };
	unsigned port = 0;
	int ls = tcp_socket(&port, true);
	struct pw_ready_rule rule = { "127.0.0.1", port, NULL, NULL, 5000, NULL };
	struct pw_ready *r;

	T_ASSERT(uv_loop_init(&c.loop) == 0);
	T_EQ_INT(pw_ready_start(&c.loop, &rule, on_ready, &c, &r), 0);
	run_until(&c, 5000);
	T_EQ_INT(c.calls, 1);
	T_EQ_INT(c.status, 0);
	T_ASSERT(strstr(c.how, "accepts"));
	fini(&c);
	T_EQ_INT(c.calls, 1);
	close(ls);
}

/* Refused until the app listens (a guest whose app is still starting). */
static void t_port_later(void)
{
	struct ctx c = { 0 };
	unsigned port = 0;
	int fd = tcp_socket(&port, false);
	struct pw_ready_rule rule = { "127.0.0.1", port, NULL, NULL, 5000, NULL };
	struct pw_ready *r;
	uv_timer_t t;

	T_ASSERT(uv_loop_init(&c.loop) == 0);
	T_EQ_INT(pw_ready_start(&c.loop, &rule, on_ready, &c, &r), 0);
	uv_timer_init(&c.loop, &t);
	uv_timer_start(&t, stop_loop, 300, 0);
	uv_run(&c.loop, UV_RUN_DEFAULT);
	T_EQ_INT(c.calls, 0); /* refused for 300 ms: not ready */
	T_ASSERT(listen(fd, 8) == 0);
	run_until(&c, 5000);
	T_EQ_INT(c.calls, 1);
	T_EQ_INT(c.status, 0);
	uv_close((uv_handle_t *)&t, NULL);
	fini(&c);
	close(fd);
}

static void t_console_pattern_split(void)
{
	struct ctx c = { 0 };
	char path[] = "/tmp/test_ready.XXXXXX";
	int fd = mkstemp(path);
	struct pw_ready_rule rule = { NULL, 0, "UIGNITER-READY", path, 5000, NULL };
	struct pw_ready *r;
	uv_timer_t t;

	T_ASSERT(fd >= 0);
	T_ASSERT(write(fd, "booting...\nUIGNITER-", 20) == 20);
	T_ASSERT(uv_loop_init(&c.loop) == 0);
	T_EQ_INT(pw_ready_start(&c.loop, &rule, on_ready, &c, &r), 0);
	uv_timer_init(&c.loop, &t);
	uv_timer_start(&t, stop_loop, 200, 0);
	uv_run(&c.loop, UV_RUN_DEFAULT);
	T_EQ_INT(c.calls, 0); /* half the pattern is not the pattern */
	T_ASSERT(write(fd, "READY vm-1 10.0.0.2\n", 20) == 20);
	run_until(&c, 5000);
	T_EQ_INT(c.calls, 1);
	T_EQ_INT(c.status, 0);
	T_ASSERT(strstr(c.how, "console"));
	uv_close((uv_handle_t *)&t, NULL);
	fini(&c);
	close(fd);
	unlink(path);
}

static void t_deadline(void)
{
	struct ctx c = { 0 };
	char path[] = "/tmp/test_ready.XXXXXX";
	int fd = mkstemp(path);
	struct pw_ready_rule rule = { NULL, 0, "NEVER", path, 300, NULL };
	struct pw_ready *r;

	T_ASSERT(fd >= 0);
	T_ASSERT(write(fd, "Neither paravirtual clock nor HPET is available. Halting.\n", 58) == 58);
	T_ASSERT(uv_loop_init(&c.loop) == 0);
	T_EQ_INT(pw_ready_start(&c.loop, &rule, on_ready, &c, &r), 0);
	run_until(&c, 5000);
	T_EQ_INT(c.calls, 1);
	T_EQ_INT(c.status, -ETIMEDOUT);
	fini(&c);
	close(fd);
	unlink(path);
}

/* Stopped with a connect in flight to an address nobody answers. */
static void t_stop_first(void)
{
	struct ctx c = { 0 };
	struct pw_ready_rule rule = { "192.0.2.1", 80, NULL, NULL, 5000, NULL }; /* TEST-NET-1 */
	struct pw_ready *r;
	uv_timer_t t;

	T_ASSERT(uv_loop_init(&c.loop) == 0);
	T_EQ_INT(pw_ready_start(&c.loop, &rule, on_ready, &c, &r), 0);
	uv_timer_init(&c.loop, &t);
	uv_timer_start(&t, stop_loop, 100, 0);
	uv_run(&c.loop, UV_RUN_DEFAULT);
	pw_ready_stop(r);
	uv_close((uv_handle_t *)&t, NULL);
	fini(&c);
	T_EQ_INT(c.calls, 0);
}

/* A guest's app on a thread: answers each connection with the next of
 * its answers (then closes it), keeping the last request it read. */
struct app {
	int ls;
	const char *answers[4];
	unsigned n;
	unsigned served;
	char last_request[512];
};

static void *app_main(void *arg)
{
	struct app *a = arg;

	for (unsigned i = 0; i < a->n; i++) {
		int c = accept(a->ls, NULL, NULL);
		ssize_t got;

		if (c < 0)
			break;
		got = read(c, a->last_request, sizeof(a->last_request) - 1);
		a->last_request[got > 0 ? got : 0] = '\0';
		if (write(c, a->answers[i], strlen(a->answers[i])) < 0)
			perror("app write");
		close(c);
		__atomic_add_fetch(&a->served, 1, __ATOMIC_SEQ_CST);
	}
	return NULL;
}

static void t_http_after_503(void)
{
	struct ctx c = { 0 };
	unsigned port = 0;
	struct app a = { .ls = tcp_socket(&port, true), .n = 2,
			 .answers = { "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n",
				      "HTTP/1.0 200 OK\r\n\r\nhello" } };
	struct pw_ready_rule rule = { "127.0.0.1", port, NULL, NULL, 5000, "/healthz" };
	const char *want = "GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\n";
	struct pw_ready *r;
	pthread_t th;

	T_ASSERT(pthread_create(&th, NULL, app_main, &a) == 0);
	T_ASSERT(uv_loop_init(&c.loop) == 0);
	T_EQ_INT(pw_ready_start(&c.loop, &rule, on_ready, &c, &r), 0);
	run_until(&c, 5000);
	T_EQ_INT(c.calls, 1);
	T_EQ_INT(c.status, 0);
	T_EQ_STR(c.how, "GET /healthz answered 200");
	T_EQ_INT(__atomic_load_n(&a.served, __ATOMIC_SEQ_CST), 2); /* the 503 did not count */
	T_ASSERT(pthread_join(th, NULL) == 0);
	T_ASSERT(!strncmp(a.last_request, want, strlen(want)));
	T_ASSERT(strstr(a.last_request, "\r\n\r\n"));
	fini(&c);
	close(a.ls);
}

/* A port that accepts but does not speak HTTP is not ready by the http rule. */
static void t_http_not_http(void)
{
	struct ctx c = { 0 };
	unsigned port = 0;
	struct app a = { .ls = tcp_socket(&port, true), .n = 3,
			 .answers = { "SSH-2.0-OpenSSH\r\n", "", "HTTP/1.1 404 Not Found\r\n\r\n" } };
	struct pw_ready_rule rule = { "127.0.0.1", port, NULL, NULL, 1500, "/" };
	struct pw_ready *r;
	pthread_t th;

	T_ASSERT(pthread_create(&th, NULL, app_main, &a) == 0);
	T_ASSERT(uv_loop_init(&c.loop) == 0);
	T_EQ_INT(pw_ready_start(&c.loop, &rule, on_ready, &c, &r), 0);
	run_until(&c, 5000);
	T_EQ_INT(c.calls, 1);
	T_EQ_INT(c.status, -ETIMEDOUT); /* three answers, none 2xx/3xx */
	T_EQ_INT(__atomic_load_n(&a.served, __ATOMIC_SEQ_CST), 3);
	T_ASSERT(pthread_join(th, NULL) == 0);
	fini(&c);
	close(a.ls);
}

static void t_bad_rules(void)
{
	uv_loop_t loop;
	struct pw_ready *r;
	struct pw_ready_rule no_ip = { "not-an-ip", 80, NULL, NULL, 100, NULL };
	struct pw_ready_rule no_pattern = { NULL, 0, "", "/tmp/x", 100, NULL };
	struct pw_ready_rule bad_path = { "127.0.0.1", 80, NULL, NULL, 100, "healthz" };
	struct pw_ready_rule spaced = { "127.0.0.1", 80, NULL, NULL, 100, "/a b" };

	T_ASSERT(uv_loop_init(&loop) == 0);
	T_EQ_INT(pw_ready_start(&loop, &no_ip, on_ready, NULL, &r), -EINVAL);
	T_EQ_INT(pw_ready_start(&loop, &no_pattern, on_ready, NULL, &r), -EINVAL);
	T_EQ_INT(pw_ready_start(&loop, &bad_path, on_ready, NULL, &r), -EINVAL);
	T_EQ_INT(pw_ready_start(&loop, &spaced, on_ready, NULL, &r), -EINVAL);
	T_EQ_INT(uv_loop_close(&loop), 0);
}

int main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		T_CASE(t_port_accepts),
		T_CASE(t_port_later),
		T_CASE(t_console_pattern_split),
		T_CASE(t_deadline),
		T_CASE(t_stop_first),
		T_CASE(t_http_after_503),
		T_CASE(t_http_not_http),
		T_CASE(t_bad_rules),
		{ 0 },
	};

	return t_run(argc, argv, cases);
}
