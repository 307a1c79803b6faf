/*
 * test_fc_client.c — the Firecracker API client (pool-worker/fc_client.c)
 * against tiny HTTP servers on unix sockets.
 *
 * Each server is a forked child that accepts connections on a socket bound
 * by the test and plays a script (read one request, check it, answer or
 * stall). The client runs on a private libuv loop in the test process; a
 * watchdog fails a case that would hang. Every case ends by freeing its
 * queues and checking the loop closes cleanly (no handle left behind).
 */
#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include "../../pool-worker/fc_answer.h"
#include "../../pool-worker/fc_client.h"
#include "t.h"

/* ------------------------------------------------------------ fake server */

struct srv {
	char path[108];
	pid_t pid;
};

struct http_req {
	char method[16];
	char path[256];
	char body[4096];
};

/* Reads one request (head + Content-Length body); 0 or -1 on EOF/garbage. */
static int srv_read(int fd, struct http_req *r)
{
	char buf[8192], *end;
	size_t n = 0, clen = 0, head;
	const char *cl;
	ssize_t k;

	memset(r, 0, sizeof(*r));
	while (!(end = memmem(buf, n, "\r\n\r\n", 4))) {
		if (n == sizeof(buf) - 1)
			return -1;
		k = read(fd, buf + n, sizeof(buf) - 1 - n);
		if (k <= 0)
			return -1;
		n += (size_t)k;
	}
	buf[n] = '\0';
	head = (size_t)(end - buf) + 4;
	if (sscanf(buf, "%15s %255s", r->method, r->path) != 2)
		return -1;
	cl = strcasestr(buf, "\r\nContent-Length:");
	if (cl && cl < end)
		clen = strtoul(cl + 17, NULL, 10);
	if (clen >= sizeof(r->body))
		return -1;
	while (n - head < clen) {
		k = read(fd, buf + n, sizeof(buf) - 1 - n);
		if (k <= 0)
			return -1;
		n += (size_t)k;
	}
	memcpy(r->body, buf + head, clen);
	return 0;
}

static void srv_answer(int fd, int code, const char *body)
{
	char buf[4096];
	int n;

	if (body)
		n = snprintf(buf, sizeof(buf),
			     "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
			     "Content-Length: %zu\r\n\r\n%s", code, strlen(body), body);
	else
		n = snprintf(buf, sizeof(buf), "HTTP/1.1 %d X\r\n\r\n", code);
	if (write(fd, buf, (size_t)n) != n)
		_exit(3);
}

/* Accepts one connection and reads its request; checks method and path. */
static int srv_next(int ls, struct http_req *r, const char *method, const char *path)
{
	int fd = accept4(ls, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0 || srv_read(fd, r) < 0)
		_exit(4);
	if (strcmp(r->method, method) != 0 || strcmp(r->path, path) != 0) {
		fprintf(stderr, "  server: expected %s %s, got %s %s\n", method,
			path, r->method, r->path);
		_exit(5);
	}
	return fd;
}

/* No other connection may be waiting: the client sends one at a time. */
static void srv_expect_idle(int ls, int ms)
{
	struct pollfd p = { .fd = ls, .events = POLLIN };

	if (poll(&p, 1, ms) != 0) {
		fprintf(stderr, "  server: a second request came while one was open\n");
		_exit(6);
	}
}

static int srv_bind(struct srv *s, const char *tag, bool do_listen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int ls = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(s->path, sizeof(s->path), "/tmp/test_fc.%d.%s.sock", getpid(), tag);
	unlink(s->path);
	memcpy(sa.sun_path, s->path, sizeof(s->path));
	T_ASSERT(ls >= 0);
	T_ASSERT(bind(ls, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	if (do_listen)
		T_ASSERT(listen(ls, 8) == 0);
	return ls;
}

static void srv_start(struct srv *s, const char *tag, void (*script)(int ls))
{
	int ls = srv_bind(s, tag, true);

	s->pid = fork();
	T_ASSERT(s->pid >= 0);
	if (s->pid == 0) {
		script(ls);
		_exit(0);
	}
	close(ls);
}

static void srv_done(struct srv *s)
{
	int st = 0;

	T_ASSERT(waitpid(s->pid, &st, 0) == s->pid);
	unlink(s->path);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		T_FAIL("fake server failed (status 0x%x)", st);
}

/* ------------------------------------------------------------ client side */

#define MAX_SEEN 8

struct seen {
	int status;
	long code;
	char fault[512];
	char body[512];
	char what[300];
};

struct ctx {
	uv_loop_t loop;
	uv_timer_t watchdog;
	struct seen seen[MAX_SEEN];
	int n;
	int expect;                /* stop the loop after this many */
	struct fc_queue *free_in_cb;
};

static void on_watchdog(uv_timer_t *t)
{
	(void)t;
	T_FAIL("watchdog: the client hung");
}

static void ctx_init(struct ctx *c, int expect)
{
	memset(c, 0, sizeof(*c));
	T_ASSERT(uv_loop_init(&c->loop) == 0);
	uv_timer_init(&c->loop, &c->watchdog);
	uv_timer_start(&c->watchdog, on_watchdog, 10000, 0);
	uv_unref((uv_handle_t *)&c->watchdog);
	c->expect = expect;
}

/* Runs until every expected answer came; then checks a clean close. */
static void ctx_run(struct ctx *c)
{
	uv_ref((uv_handle_t *)&c->watchdog);
	while (c->n < c->expect)
		uv_run(&c->loop, UV_RUN_DEFAULT); /* on_done stops it */
	uv_unref((uv_handle_t *)&c->watchdog);
}

static void ctx_fini(struct ctx *c)
{
	uv_close((uv_handle_t *)&c->watchdog, NULL);
	uv_run(&c->loop, UV_RUN_DEFAULT);
	T_EQ_INT(uv_loop_close(&c->loop), 0); /* the client closed its handles */
}

static void on_done(struct fc_queue *q, const struct fc_result *r, void *arg)
{
	struct ctx *c = arg;
	struct seen *s;

	T_ASSERT(c->n < MAX_SEEN);
	s = &c->seen[c->n++];
	s->status = r->status;
	s->code = r->http_code;
	snprintf(s->fault, sizeof(s->fault), "%s", r->fault);
	snprintf(s->body, sizeof(s->body), "%s", r->body);
	snprintf(s->what, sizeof(s->what), "%s %s", r->method, r->path);
	if (c->n >= c->expect)
		uv_stop(&c->loop);
	if (c->free_in_cb == q) {
		fc_queue_free(q);
		c->free_in_cb = NULL;
	}
}

/* ------------------------------------------------------------------ cases */

static void script_ordered(int ls)
{
	struct http_req r;
	int fd;

	fd = srv_next(ls, &r, "PUT", "/machine-config");
	if (strcmp(r.body, "{\"vcpu_count\":1,\"mem_size_mib\":128}") != 0)
		_exit(7);
	srv_expect_idle(ls, 150); /* the next one waits for this answer */
	srv_answer(fd, 204, NULL);
	close(fd);
	fd = srv_next(ls, &r, "GET", "/");
	srv_answer(fd, 200, "{\"id\":\"vm-1\",\"state\":\"Not started\"}");
	close(fd);
	fd = srv_next(ls, &r, "PUT", "/actions");
	if (!strstr(r.body, "InstanceStart"))
		_exit(8);
	srv_answer(fd, 204, NULL);
	close(fd);
}

static void t_ordered_requests(void)
{
	struct srv s;
	struct ctx c;
	struct fc_queue *q;

	srv_start(&s, "ord", script_ordered);
	ctx_init(&c, 3);
	T_EQ_INT(fc_queue_new(&c.loop, s.path, &q), 0);
	T_EQ_INT(fc_request(q, "PUT", "/machine-config",
			    "{\"vcpu_count\":1,\"mem_size_mib\":128}", 2000, on_done, &c), 0);
	T_EQ_INT(fc_request(q, "GET", "/", NULL, 2000, on_done, &c), 0);
	T_EQ_INT(fc_request(q, "PUT", "/actions", "{\"action_type\":\"InstanceStart\"}",
			    2000, on_done, &c), 0);
	T_ASSERT(fc_queue_busy(q));
	ctx_run(&c);
	T_ASSERT(!fc_queue_busy(q));
	T_EQ_STR(c.seen[0].what, "PUT /machine-config");
	T_EQ_INT(c.seen[0].status, 0);
	T_EQ_INT(c.seen[0].code, 204);
	T_EQ_STR(c.seen[0].fault, "");
	T_EQ_STR(c.seen[1].what, "GET /");
	T_EQ_INT(c.seen[1].code, 200);
	T_ASSERT(strstr(c.seen[1].body, "Not started"));
	T_EQ_STR(c.seen[2].what, "PUT /actions");
	T_EQ_INT(c.seen[2].code, 204);
	fc_queue_free(q);
	ctx_fini(&c);
	srv_done(&s);
}

static void script_faults(int ls)
{
	struct http_req r;
	int fd;

	fd = srv_next(ls, &r, "PUT", "/boot-source");
	srv_answer(fd, 400, "{\"fault_message\":\"Invalid kernel path: No such file\"}");
	close(fd);
	fd = srv_next(ls, &r, "PUT", "/actions");
	srv_answer(fd, 500, "{\"error\":\"internal trouble\"}");
	close(fd);
	fd = srv_next(ls, &r, "GET", "/");
	srv_answer(fd, 404, "not json here\nsecond line");
	close(fd);
}

static void t_fault_messages(void)
{
	struct srv s;
	struct ctx c;
	struct fc_queue *q;

	srv_start(&s, "flt", script_faults);
	ctx_init(&c, 3);
	T_EQ_INT(fc_queue_new(&c.loop, s.path, &q), 0);
	fc_request(q, "PUT", "/boot-source", "{\"kernel_image_path\":\"/x\"}", 2000,
		   on_done, &c);
	fc_request(q, "PUT", "/actions", "{\"action_type\":\"InstanceStart\"}", 2000,
		   on_done, &c);
	fc_request(q, "GET", "/", NULL, 2000, on_done, &c);
	ctx_run(&c);
	T_EQ_INT(c.seen[0].status, -EINVAL);
	T_EQ_INT(c.seen[0].code, 400);
	T_EQ_STR(c.seen[0].fault, "Invalid kernel path: No such file");
	T_EQ_INT(c.seen[1].status, -EIO);
	T_EQ_INT(c.seen[1].code, 500);
	T_EQ_STR(c.seen[1].fault, "internal trouble");
	T_EQ_INT(c.seen[2].status, -EINVAL);
	T_EQ_STR(c.seen[2].fault, "HTTP 404: not json here");
	fc_queue_free(q);
	ctx_fini(&c);
	srv_done(&s);
}

static void t_connection_refused(void)
{
	struct srv s;
	struct ctx c;
	struct fc_queue *q, *gone;
	int ls = srv_bind(&s, "ref", false); /* bound, not listening */

	ctx_init(&c, 2);
	T_EQ_INT(fc_queue_new(&c.loop, s.path, &q), 0);
	T_EQ_INT(fc_queue_new(&c.loop, "/tmp/test_fc.no-such.sock", &gone), 0);
	fc_request(q, "GET", "/", NULL, 2000, on_done, &c);
	fc_request(gone, "GET", "/", NULL, 2000, on_done, &c);
	ctx_run(&c);
	for (int i = 0; i < 2; i++) {
		T_ASSERT(c.seen[i].status == -ECONNREFUSED || c.seen[i].status == -ENOENT);
		T_EQ_INT(c.seen[i].code, 0);
		T_ASSERT(c.seen[i].fault[0]);
	}
	T_ASSERT(c.seen[0].status != c.seen[1].status); /* one of each */
	fc_queue_free(q);
	fc_queue_free(gone);
	ctx_fini(&c);
	close(ls);
	unlink(s.path);
}

static void script_stall(int ls)
{
	struct http_req r;
	int fd, fd2;

	fd = srv_next(ls, &r, "PUT", "/machine-config"); /* never answered */
	fd2 = srv_next(ls, &r, "GET", "/");              /* after the timeout */
	srv_answer(fd2, 200, "{}");
	close(fd2);
	close(fd);
}

static void t_timeout_then_next(void)
{
	struct srv s;
	struct ctx c;
	struct fc_queue *q;
	uint64_t t0;

	srv_start(&s, "tmo", script_stall);
	ctx_init(&c, 2);
	T_EQ_INT(fc_queue_new(&c.loop, s.path, &q), 0);
	t0 = uv_hrtime();
	fc_request(q, "PUT", "/machine-config", "{}", 300, on_done, &c);
	fc_request(q, "GET", "/", NULL, 2000, on_done, &c);
	ctx_run(&c);
	T_EQ_INT(c.seen[0].status, -ETIMEDOUT);
	T_ASSERT(c.seen[0].fault[0]);
	T_EQ_INT(c.seen[1].status, 0);
	T_ASSERT((uv_hrtime() - t0) / 1000000 >= 290);
	fc_queue_free(q);
	ctx_fini(&c);
	srv_done(&s);
}

/* The fake servers of t_many_in_flight share this counter (MAP_SHARED):
 * how many of them hold a request. */
static int *in_flight;

/* Answers only once all four servers hold their request: a client that
 * sent them one after another would never see an answer. */
static void script_together(int ls)
{
	struct http_req r;
	int fd = srv_next(ls, &r, "GET", "/");

	__atomic_add_fetch(in_flight, 1, __ATOMIC_SEQ_CST);
	for (int i = 0; __atomic_load_n(in_flight, __ATOMIC_SEQ_CST) < 4; i++) {
		if (i == 20000) { /* 20 s: the client's watchdog went first */
			fprintf(stderr, "  server: the requests were not in flight together\n");
			_exit(9);
		}
		usleep(1000);
	}
	srv_answer(fd, 200, "{\"state\":\"Running\"}");
	close(fd);
}

/* Queues of different VMs have their requests in flight at the same time. */
static void t_many_in_flight(void)
{
	struct srv s[4];
	struct ctx c;
	struct fc_queue *q[4];
	char tag[8];

	in_flight = mmap(NULL, sizeof(*in_flight), PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	T_ASSERT(in_flight != MAP_FAILED);
	*in_flight = 0;
	ctx_init(&c, 4);
	for (int i = 0; i < 4; i++) {
		snprintf(tag, sizeof(tag), "par%d", i);
		srv_start(&s[i], tag, script_together);
		T_EQ_INT(fc_queue_new(&c.loop, s[i].path, &q[i]), 0);
	}
	for (int i = 0; i < 4; i++)
		fc_request(q[i], "GET", "/", NULL, 30000, on_done, &c);
	ctx_run(&c); /* the watchdog fails the case if they never all arrive */
	T_EQ_INT(*in_flight, 4);
	for (int i = 0; i < 4; i++) {
		T_EQ_INT(c.seen[i].status, 0);
		fc_queue_free(q[i]);
		srv_done(&s[i]);
	}
	ctx_fini(&c);
	munmap(in_flight, sizeof(*in_flight));
}

static void script_one(int ls)
{
	struct http_req r;
	int fd = srv_next(ls, &r, "PUT", "/actions");

	srv_answer(fd, 204, NULL);
	close(fd);
	srv_expect_idle(ls, 300); /* the cancelled ones never come */
}

/* A callback frees its own queue: the rest is dropped, no more callbacks;
 * the last queue gone closes the client (ctx_fini checks the loop). */
static void t_free_in_callback(void)
{
	struct srv s;
	struct ctx c;
	struct fc_queue *q;

	srv_start(&s, "fic", script_one);
	ctx_init(&c, 1);
	T_EQ_INT(fc_queue_new(&c.loop, s.path, &q), 0);
	c.free_in_cb = q;
	fc_request(q, "PUT", "/actions", "{\"action_type\":\"SendCtrlAltDel\"}", 2000,
		   on_done, &c);
	fc_request(q, "GET", "/", NULL, 2000, on_done, &c);
	fc_request(q, "GET", "/", NULL, 2000, on_done, &c);
	ctx_run(&c);
	uv_run(&c.loop, UV_RUN_NOWAIT);
	T_EQ_INT(c.n, 1);
	ctx_fini(&c);
	srv_done(&s);
}

static void script_hold(int ls)
{
	struct http_req r;
	int fd = srv_next(ls, &r, "PUT", "/machine-config");

	usleep(300 * 1000); /* the client cancels meanwhile */
	close(fd);
}

/* fc_queue_cancel drops a request in flight and the queued ones. */
static void t_cancel(void)
{
	struct srv s;
	struct ctx c;
	struct fc_queue *q;

	srv_start(&s, "cnl", script_hold);
	ctx_init(&c, 0);
	T_EQ_INT(fc_queue_new(&c.loop, s.path, &q), 0);
	fc_request(q, "PUT", "/machine-config", "{}", 2000, on_done, &c);
	fc_request(q, "GET", "/", NULL, 2000, on_done, &c);
	for (int i = 0; i < 20; i++) /* let the first one reach the server */
		uv_run(&c.loop, UV_RUN_NOWAIT), usleep(5000);
	fc_queue_cancel(q);
	T_ASSERT(!fc_queue_busy(q));
	fc_queue_free(q);
	ctx_fini(&c);
	T_EQ_INT(c.n, 0);
	srv_done(&s);
}

static void t_path_too_long(void)
{
	struct ctx c;
	struct fc_queue *q = NULL;
	char path[200];

	memset(path, 'a', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	ctx_init(&c, 0);
	T_EQ_INT(fc_queue_new(&c.loop, path, &q), -ENAMETOOLONG);
	T_ASSERT(q == NULL);
	ctx_fini(&c);
}

/* One kept connection per queue: its requests share the connection the
 * first made (as on Firecracker's HTTP/1.1 API: no connect before a run's
 * InstanceStart), a second queue on the same path makes its own, and
 * freeing a queue closes its connection. */
static void srv_expect_eof(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char b;

	if (poll(&p, 1, 5000) != 1 || read(fd, &b, 1) != 0) {
		fprintf(stderr, "  server: the freed queue's connection stayed open\n");
		_exit(9);
	}
	close(fd);
}

static void script_kept(int ls)
{
	struct http_req r;
	int fd, fd2;

	fd = srv_next(ls, &r, "PUT", "/machine-config");
	srv_answer(fd, 204, NULL);
	if (srv_read(fd, &r) < 0 || strcmp(r.path, "/actions") != 0)
		_exit(7); /* the second request came on the same connection */
	srv_answer(fd, 204, NULL);
	fd2 = srv_next(ls, &r, "GET", "/"); /* the second queue: its own */
	srv_answer(fd2, 200, "{\"state\":\"Running\"}");
	srv_expect_eof(fd);  /* the first queue was freed */
	srv_expect_idle(ls, 100);
	srv_expect_eof(fd2);
}

static void t_kept_connection(void)
{
	struct srv s;
	struct ctx c;
	struct fc_queue *q, *q2;

	srv_start(&s, "kept", script_kept);
	ctx_init(&c, 1);
	T_EQ_INT(fc_queue_new(&c.loop, s.path, &q), 0);
	T_EQ_INT(fc_queue_new(&c.loop, s.path, &q2), 0);
	T_EQ_INT(fc_request(q, "PUT", "/machine-config", "{\"vcpu_count\":1}", 2000,
			    on_done, &c), 0);
	ctx_run(&c);
	c.expect = 2;
	T_EQ_INT(fc_request(q, "PUT", "/actions", "{\"action_type\":\"InstanceStart\"}",
			    2000, on_done, &c), 0);
	ctx_run(&c);
	c.expect = 3;
	T_EQ_INT(fc_request(q2, "GET", "/", NULL, 2000, on_done, &c), 0);
	ctx_run(&c);
	for (int i = 0; i < 3; i++)
		T_EQ_INT(c.seen[i].status, 0);
	T_EQ_INT(c.seen[2].code, 200);
	fc_queue_free(q);
	fc_queue_free(q2);
	ctx_fini(&c);
	srv_done(&s);
}

/* fc_answer without a socket: the cap, and a sentence for every non-2xx —
 * an empty fault_message or error (found by tests/fuzz/fuzz_fc_answer) is
 * no sentence. */
static void t_answer_pure(void)
{
	static const struct {
		long code;
		const char *body;
		int status;
		const char *fault;
	} cases[] = {
		{ 204, "", 0, "" },
		{ 400, "{\"fault_message\": \"bad kernel\"}", -EINVAL, "bad kernel" },
		{ 400, "{\"error\": \"\"}", -EINVAL, "HTTP 400: {\"error\": \"\"}" },
		{ 400, "{\"fault_message\": \"\", \"error\": \"e\"}", -EINVAL, "e" },
		{ 500, "{\"fault_message\": \"\"}", -EIO, "HTTP 500: {\"fault_message\": \"\"}" },
		{ 404, "Not Found\r\nmore", -EINVAL, "HTTP 404: Not Found" },
		{ 503, "", -EIO, "HTTP 503" },
	};
	struct fc_answer a = { 0 };
	char fault[400], chunk[1000];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		T_EQ_INT(fc_answer_status(cases[i].code, cases[i].body, fault, sizeof(fault)),
			 cases[i].status);
		T_EQ_STR(fault, cases[i].fault);
	}
	T_EQ_STR(fc_answer_body(&a), "");
	memset(chunk, 'x', sizeof(chunk));
	for (int i = 0; i < 70; i++)
		T_EQ_INT(fc_answer_append(&a, chunk, sizeof(chunk)), 0);
	T_EQ_INT(a.len, FC_MAX_RESPONSE);
	T_EQ_INT(strlen(fc_answer_body(&a)), FC_MAX_RESPONSE);
	fc_answer_free(&a);
	fc_answer_free(NULL);
}

int main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		T_CASE(t_ordered_requests),
		T_CASE(t_fault_messages),
		T_CASE(t_answer_pure),
		T_CASE(t_connection_refused),
		T_CASE(t_timeout_then_next),
		T_CASE(t_many_in_flight),
		T_CASE(t_free_in_callback),
		T_CASE(t_cancel),
		T_CASE(t_path_too_long),
		T_CASE(t_kept_connection),
		{ 0 },
	};

	return t_run(argc, argv, cases);
}
