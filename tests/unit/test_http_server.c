/*
 * test_http_server.c — apid's server on real sockets. Each case builds a
 * private world in a temp dir: a config with one image ("hello"), a registry
 * with two rows, an shm segment (already unlinked: the mapping is shared
 * with the forked server) and two eventfd doorbells. The server runs in a
 * forked child on its own libuv loop, listening on 127.0.0.1:0 and on a unix
 * socket in the temp dir; the test process is the HTTP client and, when a
 * case needs one, a fake pool-worker (pops ring 0, replies on ring 1, writes
 * the row with its own registry connection). Teardown sends SIGTERM and
 * expects exit 0 with every handle closed and the socket unlinked.
 * TEST_VERBOSE=1 shows the server's log (request lines, dropped replies).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>

#include "t.h"

#include "../../apid/backend.h"
#include "../../apid/server.h"
#include "../../pool-worker/console.h"

#define VM_RUNNING "vm-0000000000000000run1"
#define VM_STOPPED "vm-0000000000000000stp1"
#define APID_GEN 7

struct env {
	char dir[64];
	char db[128];
	char sock[96];
	struct ui_config cfg;
	struct apid_server_opts opts;
	struct ui_shm *shm;
	int efd[2];          /* doorbells of ring 0 and ring 1 */
	pid_t child;
	pid_t owner;         /* the test process (atexit cleanup runs there only) */
	int port;
	char token[80];      /* the TCP bearer token; "" = none (auth.h) */
};

static struct env E;

/* --- the server child --- */

static struct {
	struct apid_server srv;
	struct backend be;
	uv_signal_t sig;
} S;

static void child_on_term(uv_signal_t *h, int signum)
{
	(void)signum;
	apid_server_close(&S.srv);
	backend_close(&S.be);
	uv_close((uv_handle_t *)h, NULL);
}

static void child_main(int report_fd)
{
	uv_loop_t *loop = uv_default_loop();
	struct ui_registry *reg;
	struct backend_deps deps;
	int rc;

	alarm(60);
	prctl(PR_SET_PDEATHSIG, SIGKILL); /* a failed test must not leave us behind */
	signal(SIGPIPE, SIG_IGN);
	ui_log_init("apid", getenv("TEST_VERBOSE") ? UI_LOG_DEBUG : UI_LOG_WARN);
	if (ui_registry_open(E.db, UI_REG_RDONLY, &reg) < 0)
		_exit(10);
	deps = (struct backend_deps){ &E.cfg, reg, E.shm, E.efd[0], E.efd[1] };
	apid_server_init(&S.srv, loop, &E.cfg, &E.opts, &S.be);
	if (backend_init(&S.be, loop, &deps, apid_server_on_reply, &S.srv) < 0)
		_exit(11);
	if (E.token[0])
		apid_server_set_token(&S.srv, E.token);
	if (apid_server_listen_tcp(&S.srv, "127.0.0.1:0", &E.port) < 0 ||
	    apid_server_listen_unix(&S.srv, E.sock) < 0)
		_exit(12);
	uv_signal_init(loop, &S.sig);
	uv_signal_start(&S.sig, child_on_term, SIGTERM);
	if (write(report_fd, &E.port, sizeof(E.port)) != sizeof(E.port))
		_exit(13);
	close(report_fd);
	uv_run(loop, UV_RUN_DEFAULT);
	rc = uv_loop_close(loop);
	ui_registry_close(reg);
	exit(rc == 0 ? 0 : 14);
}

/* --- the world --- */

static void insert_vm(struct ui_registry *reg, const char *id, const char *state)
{
	static struct ui_vm vm;

	memset(&vm, 0, sizeof(vm));
	snprintf(vm.id, sizeof(vm.id), "%s", id);
	snprintf(vm.name, sizeof(vm.name), "n-%s", state);
	snprintf(vm.state, sizeof(vm.state), "%s", state);
	snprintf(vm.image, sizeof(vm.image), "hello");
	snprintf(vm.ip, sizeof(vm.ip), "172.31.0.2");
	vm.vcpus = 1;
	vm.mem_mib = 128;
	vm.exit_status = strcmp(state, UI_VM_STOPPED) == 0 ? 0 : -1;
	T_EQ_INT(ui_reg_vm_insert(reg, &vm), 0);
}

static void rm_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char path[512];

	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		unlink(path);
	}
	if (d)
		closedir(d);
	rmdir(dir);
}

/* After a failed assertion: no server, no temp dir left behind. */
static void env_cleanup(void)
{
	if (getpid() != E.owner)
		return;
	if (E.child > 0) {
		kill(E.child, SIGKILL);
		waitpid(E.child, NULL, 0);
	}
	rm_dir(E.dir);
}

/* Config, registry, shm, doorbells; the test may then adjust E.opts. */
static void env_init(void)
{
	struct ui_registry *reg;
	char name[64];

	snprintf(E.dir, sizeof(E.dir), "/tmp/apid-test-XXXXXX");
	T_ASSERT(mkdtemp(E.dir));
	E.owner = getpid();
	atexit(env_cleanup);
	ui_config_defaults(&E.cfg);
	snprintf(E.cfg.state_dir, sizeof(E.cfg.state_dir), "%s", E.dir);
	snprintf(E.cfg.run_dir, sizeof(E.cfg.run_dir), "%s", E.dir);
	E.cfg.images = calloc(1, sizeof(*E.cfg.images));
	T_ASSERT(E.cfg.images);
	snprintf(E.cfg.images[0].name, sizeof(E.cfg.images[0].name), "hello");
	E.cfg.n_images = 1;
	E.cfg.max_body_bytes = 1024;
	E.cfg.max_header_bytes = 1024;
	/* Generous: a loaded machine must not turn answers into 408/504. */
	E.cfg.request_timeout_ms = 3000;
	E.cfg.run_timeout_ms = 3000;
	apid_server_opts_from_config(&E.opts, &E.cfg);
	E.opts.linger_ms = 300;
	snprintf(E.sock, sizeof(E.sock), "%s/api.sock", E.dir);
	ui_config_registry_path(&E.cfg, E.db, sizeof(E.db));
	T_EQ_INT(ui_registry_open(E.db, UI_REG_CREATE, &reg), 0);
	insert_vm(reg, VM_RUNNING, UI_VM_RUNNING);
	insert_vm(reg, VM_STOPPED, UI_VM_STOPPED);
	ui_registry_close(reg);
	snprintf(name, sizeof(name), "/apid-test-%d", (int)getpid());
	T_EQ_INT(ui_shm_create(name, &E.shm), 0);
	T_EQ_INT(ui_shm_unlink(name), 0); /* the mapping lives on */
	atomic_store(&E.shm->daemon[UI_D_APID].generation, APID_GEN);
	E.efd[0] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	E.efd[1] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	T_ASSERT(E.efd[0] >= 0 && E.efd[1] >= 0);
}

static void env_start(void)
{
	int p[2];

	T_EQ_INT(pipe2(p, O_CLOEXEC), 0);
	E.child = fork();
	T_ASSERT(E.child >= 0);
	if (E.child == 0) {
		close(p[0]);
		child_main(p[1]);
	}
	close(p[1]);
	T_EQ_INT(read(p[0], &E.port, sizeof(E.port)), sizeof(E.port));
	close(p[0]);
}

/* SIGTERM → the server must exit 0, every handle closed, socket gone. */
static void env_stop(void)
{
	struct stat st;
	int status = 0;

	T_EQ_INT(kill(E.child, SIGTERM), 0);
	T_EQ_INT(waitpid(E.child, &status, 0), E.child);
	E.child = 0;
	T_ASSERT(lstat(E.sock, &st) < 0 && errno == ENOENT);
	rm_dir(E.dir);
	ui_shm_detach(E.shm);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		T_FAIL("server exit status 0x%x", status);
}

static void env_up(void)
{
	env_init();
	env_start();
}

/* --- the client --- */

struct client {
	int fd;
	char buf[1 << 17];
	size_t len;
};

struct resp {
	int status;
	char head[4096];
	char body[1 << 16];
	size_t body_len;
	json_t *json;
};

static struct client C, C2;
static struct resp R;

static void cli_connect(struct client *c)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(E.port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

	c->len = 0;
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	T_ASSERT(c->fd >= 0);
	T_EQ_INT(connect(c->fd, (struct sockaddr *)&a, sizeof(a)), 0);
}

static void cli_connect_unix(struct client *c)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", E.sock);
	c->len = 0;
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	T_ASSERT(c->fd >= 0);
	T_EQ_INT(connect(c->fd, (struct sockaddr *)&a, sizeof(a)), 0);
}

static void cli_send(struct client *c, const char *s, size_t n)
{
	while (n) {
		ssize_t w = send(c->fd, s, n, MSG_NOSIGNAL);

		T_ASSERT(w > 0);
		s += w;
		n -= (size_t)w;
	}
}
#define SEND(c, s) cli_send(c, s, strlen(s))

/* Reads more into c->buf; 0 on EOF/reset, -1 on timeout. */
static int cli_fill(struct client *c, int timeout_ms)
{
	struct pollfd p = { .fd = c->fd, .events = POLLIN };
	ssize_t n;

	if (poll(&p, 1, timeout_ms) != 1)
		return -1;
	n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
	if (n <= 0)
		return 0;
	c->len += (size_t)n;
	return 1;
}

/* Value of header name in r->head ("" when absent). */
static const char *hdr(const struct resp *r, const char *name)
{
	static char val[256];
	char key[64];
	const char *p;

	snprintf(key, sizeof(key), "\r\n%s: ", name);
	p = strcasestr(r->head, key);
	val[0] = '\0';
	if (p)
		sscanf(p + strlen(key), "%255[^\r]", val);
	return val;
}

/* Reads one complete response (status line, headers, Content-Length body). */
static void cli_read(struct client *c, struct resp *r)
{
	char *end;
	size_t hlen, need;

	json_decref(r->json);
	memset(r, 0, sizeof(*r));
	while (!(end = memmem(c->buf, c->len, "\r\n\r\n", 4)))
		if (cli_fill(c, 5000) <= 0)
			T_FAIL("no response head (have %zu bytes)", c->len);
	hlen = (size_t)(end - c->buf) + 4;
	T_ASSERT(hlen < sizeof(r->head));
	memcpy(r->head, c->buf, hlen);
	T_EQ_INT(sscanf(r->head, "HTTP/1.1 %d ", &r->status), 1);
	T_ASSERT(r->status == 100 || hdr(r, "Content-Length")[0]);
	r->body_len = strtoul(hdr(r, "Content-Length"), NULL, 10);
	need = hlen + (r->status == 100 ? 0 : r->body_len);
	while (c->len < need)
		if (cli_fill(c, 5000) <= 0)
			T_FAIL("short body");
	memcpy(r->body, c->buf + hlen, need - hlen);
	memmove(c->buf, c->buf + need, c->len - need);
	c->len -= need;
	if (r->body_len)
		r->json = json_loadb(r->body, r->body_len, 0, NULL);
}

/* The server closed the connection (EOF or reset) within 3 s. */
static void cli_expect_eof(struct client *c)
{
	int rc;

	while ((rc = cli_fill(c, 3000)) > 0)
		;
	T_EQ_INT(rc, 0);
}

static void cli_close(struct client *c)
{
	close(c->fd);
	c->fd = -1;
}

static void request(struct client *c, const char *req)
{
	SEND(c, req);
	cli_read(c, &R);
}

static bool has_problem(const char *text); /* in GET /healthz's problems */
static const char *jstr(const char *k)
{
	return json_string_value(json_object_get(R.json, k));
}

static void expect_error(int status, const char *code)
{
	json_t *err = json_object_get(R.json, "error");

	T_EQ_INT(R.status, status);
	T_EQ_STR(hdr(&R, "Content-Type"), "application/json");
	T_EQ_STR(json_string_value(json_object_get(err, "code")), code);
}

/* --- the fake pool-worker --- */

static void pool_set(bool up, bool ready)
{
	atomic_store(&E.shm->daemon[UI_D_POOL].up, up);
	atomic_store(&E.shm->daemon[UI_D_POOL].ready, ready);
}

static void pool_take(struct ui_msg *m)
{
	for (int i = 0; i < 2000; i++) {
		if (ui_ring_pop(&E.shm->ring[UI_RING_API_TO_POOL], m) == 0)
			return;
		usleep(1000);
	}
	T_FAIL("no request on ring 0");
}

static void pool_reply(const struct ui_msg *req, uint32_t gen, int status, const char *err)
{
	struct ui_msg m = { .op = UI_OP_REPLY, .req_id = req->req_id, .gen = gen,
			    .req_op = req->op, .status = status };

	memcpy(m.vm_id, req->vm_id, sizeof(m.vm_id));
	snprintf(m.error, sizeof(m.error), "%s", err ? err : "");
	T_EQ_INT(ui_ring_send(&E.shm->ring[UI_RING_POOL_TO_API], E.efd[1], &m), 0);
}

/* What pool-worker does before replying: insert (new id) or update a row. */
static void pool_write_state(const char *id, const char *state)
{
	static struct ui_vm vm;
	struct ui_registry *reg;

	T_EQ_INT(ui_registry_open(E.db, 0, &reg), 0);
	if (ui_reg_vm_get(reg, id, &vm) == 0) {
		snprintf(vm.state, sizeof(vm.state), "%s", state);
		T_EQ_INT(ui_reg_vm_update(reg, &vm), 0);
	} else {
		insert_vm(reg, id, state);
	}
	ui_registry_close(reg);
}

static const char run_hello[] =
	"POST /vm/run HTTP/1.1\r\nContent-Length: 17\r\n\r\n{\"image\":\"hello\"}";

/* --- cases --- */

static void t_srv_get_vm(void)
{
	env_up();
	cli_connect(&C);
	request(&C, "GET /vm/" VM_RUNNING " HTTP/1.1\r\nHost: x\r\n\r\n");
	T_EQ_INT(R.status, 200);
	T_EQ_STR(hdr(&R, "Server"), "uigniter");
	T_EQ_STR(hdr(&R, "Content-Type"), "application/json");
	T_ASSERT(R.json);
	T_EQ_STR(jstr("id"), VM_RUNNING);
	T_EQ_STR(jstr("state"), "running");
	T_EQ_STR(jstr("ip"), "172.31.0.2");
	T_ASSERT(json_is_null(json_object_get(R.json, "exit_status")));
	request(&C, "GET /vm/" VM_STOPPED " HTTP/1.1\r\n\r\n");
	T_EQ_INT(json_integer_value(json_object_get(R.json, "exit_status")), 0);
	cli_close(&C);
	env_stop();
}

static void t_srv_get_missing(void)
{
	env_up();
	cli_connect(&C);
	request(&C, "GET /vm/vm-missing HTTP/1.1\r\n\r\n");
	expect_error(404, "not_found");
	request(&C, "GET /nope HTTP/1.1\r\n\r\n");
	expect_error(404, "not_found");
	request(&C, "DELETE /vm/vm-missing HTTP/1.1\r\n\r\n");
	expect_error(404, "not_found");
	request(&C, "PUT /vm/vm-missing HTTP/1.1\r\n\r\n");
	expect_error(405, "method_not_allowed");
	T_EQ_STR(hdr(&R, "Allow"), "GET, DELETE");
	cli_close(&C);
	env_stop();
}

static void t_srv_run_unavailable(void)
{
	env_up();
	cli_connect(&C);
	request(&C, run_hello);
	expect_error(503, "unavailable");
	T_EQ_STR(hdr(&R, "Retry-After"), "1");
	T_EQ_INT(ui_ring_count(&E.shm->ring[UI_RING_API_TO_POOL]), 0);
	/* up but not ready is still unavailable */
	pool_set(true, false);
	request(&C, run_hello);
	expect_error(503, "unavailable");
	/* validation comes first */
	request(&C, "POST /vm/run HTTP/1.1\r\nContent-Length: 2\r\n\r\n[]");
	expect_error(400, "bad_json");
	cli_close(&C);
	env_stop();
}

static void t_srv_keepalive_pipelined(void)
{
	env_up();
	cli_connect(&C);
	request(&C, "GET /pool HTTP/1.1\r\n\r\n");
	T_EQ_INT(R.status, 200);
	T_ASSERT(!hdr(&R, "Connection")[0]);
	request(&C, "GET /pool HTTP/1.1\r\n\r\n");
	T_EQ_INT(R.status, 200);
	T_ASSERT(json_is_integer(json_object_get(R.json, "refill_errors")));
	/* three at once: answered in order */
	SEND(&C, "GET /vm/" VM_RUNNING " HTTP/1.1\r\n\r\n"
		 "GET /vm/nope HTTP/1.1\r\n\r\n"
		 "GET /vm/" VM_STOPPED " HTTP/1.1\r\nConnection: close\r\n\r\n");
	cli_read(&C, &R);
	T_EQ_STR(jstr("id"), VM_RUNNING);
	cli_read(&C, &R);
	expect_error(404, "not_found");
	cli_read(&C, &R);
	T_EQ_STR(jstr("id"), VM_STOPPED);
	T_EQ_STR(hdr(&R, "Connection"), "close");
	cli_expect_eof(&C);
	cli_close(&C);
	env_stop();
}

static void t_srv_body_too_large(void)
{
	char junk[512];

	env_up();
	cli_connect(&C);
	SEND(&C, "POST /vm/run HTTP/1.1\r\nContent-Length: 100000\r\n\r\n");
	memset(junk, 'x', sizeof(junk));
	cli_send(&C, junk, sizeof(junk));
	cli_read(&C, &R);
	expect_error(413, "body_too_large");
	T_EQ_STR(hdr(&R, "Connection"), "close");
	cli_expect_eof(&C);
	cli_close(&C);
	/* streamed (chunked) past the limit */
	cli_connect(&C);
	SEND(&C, "POST /vm/run HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
	for (int i = 0; i < 3; i++) {
		SEND(&C, "200\r\n");
		cli_send(&C, junk, sizeof(junk));
		SEND(&C, "\r\n");
	}
	cli_read(&C, &R);
	expect_error(413, "body_too_large");
	cli_expect_eof(&C);
	cli_close(&C);
	env_stop();
}

static void t_srv_header_limit_garbage(void)
{
	char req[2048];

	env_up();
	cli_connect(&C);
	snprintf(req, sizeof(req), "GET /healthz HTTP/1.1\r\nX-Big: %01500d\r\n\r\n", 0);
	request(&C, req);
	expect_error(431, "headers_too_large");
	cli_expect_eof(&C);
	cli_close(&C);
	cli_connect(&C);
	request(&C, "\x16\x03\x01 hello\r\n\r\n");
	expect_error(400, "bad_request");
	cli_expect_eof(&C);
	cli_close(&C);
	env_stop();
}

static void t_srv_request_timeout(void)
{
	struct timespec t0, t1;

	env_init();
	E.opts.request_timeout_ms = 400;
	env_start();
	cli_connect(&C);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	SEND(&C, "POST /vm/run HTTP/1.1\r\nContent-Length: 17\r\n\r\n{\"ima");
	cli_read(&C, &R);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	expect_error(408, "request_timeout");
	T_ASSERT((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 >= 350);
	cli_expect_eof(&C);
	cli_close(&C);
	env_stop();
}

static void t_srv_run_ok(void)
{
	struct ui_msg m;

	env_up();
	pool_set(true, true);
	cli_connect(&C);
	SEND(&C, "POST /vm/run HTTP/1.1\r\nIdempotency-Key: abc-1\r\nContent-Length: 54\r\n\r\n"
		 "{\"image\":\"hello\",\"name\":\"web\",\"vcpus\":2,\"mem_mib\":256}");
	pool_take(&m);
	T_EQ_INT(m.op, UI_OP_RUN);
	T_EQ_INT(m.gen, APID_GEN);
	T_EQ_STR(m.image, "hello");
	T_EQ_STR(m.name, "web");
	T_EQ_STR(m.key, "abc-1");
	T_EQ_INT(m.vcpus, 2);
	T_EQ_INT(m.mem_mib, 256);
	T_EQ_INT(strlen(m.vm_id), 23);
	T_ASSERT(strncmp(m.vm_id, "vm-", 3) == 0);
	pool_write_state(m.vm_id, UI_VM_RUNNING);
	pool_reply(&m, APID_GEN, 0, NULL);
	cli_read(&C, &R);
	T_EQ_INT(R.status, 201);
	T_EQ_STR(jstr("id"), m.vm_id);
	T_EQ_STR(jstr("state"), "running");
	/* the next run gets another id, and the connection still works */
	SEND(&C, run_hello);
	{
		struct ui_msg m2;

		pool_take(&m2);
		T_ASSERT(strcmp(m2.vm_id, m.vm_id) != 0);
		T_ASSERT(m2.req_id != m.req_id);
		pool_reply(&m2, APID_GEN, -EINVAL, "bad \"thing\"");
	}
	cli_read(&C, &R);
	expect_error(400, "invalid_argument");
	T_EQ_STR(json_string_value(json_object_get(json_object_get(R.json, "error"),
						   "message")), "bad \"thing\"");
	cli_close(&C);
	env_stop();
}

/* Reply status → HTTP, per docs/ARCHITECTURE.md. */
static void t_srv_run_errors(void)
{
	static const struct { int st; int http; const char *code; } map[] = {
		{ -ENOENT, 404, "not_found" }, { -EEXIST, 409, "conflict" },
		{ -EALREADY, 409, "conflict" }, { -ENOSPC, 503, "unavailable" },
		{ -EAGAIN, 503, "unavailable" }, { -ETIMEDOUT, 504, "timeout" },
		{ -EIO, 500, "internal" },
	};
	struct ui_msg m;

	env_up();
	pool_set(true, true);
	cli_connect(&C);
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		SEND(&C, run_hello);
		pool_take(&m);
		pool_reply(&m, APID_GEN, map[i].st, NULL);
		cli_read(&C, &R);
		expect_error(map[i].http, map[i].code);
		if (map[i].http == 503)
			T_EQ_STR(hdr(&R, "Retry-After"), "1");
	}
	cli_close(&C);
	env_stop();
}

static void t_srv_run_timeout_stale(void)
{
	struct ui_msg m;

	env_init();
	E.opts.run_timeout_ms = 400;
	env_start();
	pool_set(true, true);
	cli_connect(&C);
	/* a reply of another generation is not ours: dropped → 504 */
	SEND(&C, run_hello);
	pool_take(&m);
	pool_reply(&m, APID_GEN + 1, 0, NULL);
	cli_read(&C, &R);
	expect_error(504, "timeout");
	/* the late real reply is dropped too; the connection goes on */
	pool_reply(&m, APID_GEN, 0, NULL);
	request(&C, "GET /healthz HTTP/1.1\r\n\r\n");
	T_EQ_INT(R.status, 503); /* netd is down: runs are refused */
	T_EQ_STR(json_string_value(json_object_get(json_object_get(R.json, "daemons"),
						   "pool-worker")), "up");
	cli_close(&C);
	env_stop();
}

static void t_srv_stop(void)
{
	struct ui_msg m;

	env_up();
	cli_connect(&C);
	/* already stopped: answered from the registry, even with pool down */
	request(&C, "POST /vm/" VM_STOPPED "/stop HTTP/1.1\r\n\r\n");
	T_EQ_INT(R.status, 200);
	T_EQ_STR(jstr("state"), "stopped");
	request(&C, "POST /vm/vm-nope/stop HTTP/1.1\r\n\r\n");
	expect_error(404, "not_found");
	request(&C, "POST /vm/" VM_RUNNING "/stop HTTP/1.1\r\n\r\n");
	expect_error(503, "unavailable");
	pool_set(true, true);
	SEND(&C, "POST /vm/" VM_RUNNING "/stop HTTP/1.1\r\n\r\n");
	pool_take(&m);
	T_EQ_INT(m.op, UI_OP_STOP);
	T_EQ_STR(m.vm_id, VM_RUNNING);
	pool_write_state(VM_RUNNING, UI_VM_STOPPED);
	pool_reply(&m, APID_GEN, 0, NULL);
	cli_read(&C, &R);
	T_EQ_INT(R.status, 200);
	T_EQ_STR(jstr("state"), "stopped");
	cli_close(&C);
	env_stop();
}

/* A request behind a pending run waits for it: answers stay in order. */
static void t_srv_pipelined_behind_run(void)
{
	struct ui_msg m;

	env_up();
	pool_set(true, true);
	cli_connect(&C);
	SEND(&C, "POST /vm/run HTTP/1.1\r\nContent-Length: 17\r\n\r\n{\"image\":\"hello\"}"
		 "GET /pool HTTP/1.1\r\n\r\n");
	pool_take(&m);
	T_EQ_INT(cli_fill(&C, 200), -1); /* nothing answered yet */
	pool_write_state(m.vm_id, UI_VM_RUNNING);
	pool_reply(&m, APID_GEN, 0, NULL);
	cli_read(&C, &R);
	T_EQ_INT(R.status, 201);
	cli_read(&C, &R);
	T_EQ_INT(R.status, 200);
	T_ASSERT(json_is_integer(json_object_get(R.json, "size")));
	cli_close(&C);
	env_stop();
}

static void t_srv_client_gone(void)
{
	struct ui_msg m;

	env_up();
	pool_set(true, true);
	cli_connect(&C);
	SEND(&C, run_hello);
	pool_take(&m);
	cli_close(&C);
	usleep(50000);
	pool_write_state(m.vm_id, UI_VM_RUNNING);
	pool_reply(&m, APID_GEN, 0, NULL);
	cli_connect(&C);
	request(&C, "GET /vm?state=running HTTP/1.1\r\n\r\n");
	T_EQ_INT(R.status, 200);
	T_EQ_INT(json_array_size(json_object_get(R.json, "vms")), 2);
	cli_close(&C);
	env_stop();
}

/* TCP needs the bearer token (but /healthz); the unix socket never does. */
static void t_srv_auth(void)
{
	static const char tok[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	char req[512];
	struct stat st;

	struct group *gr = getgrgid(getegid()); /* one we may chown to, root or not */

	T_ASSERT(gr);
	env_init();
	snprintf(E.token, sizeof(E.token), "%s", tok);
	snprintf(E.cfg.api_group, sizeof(E.cfg.api_group), "%s", gr->gr_name);
	E.cfg.api_gid = gr->gr_gid;
	env_start();
	T_EQ_INT(lstat(E.sock, &st), 0);
	T_EQ_INT(st.st_mode & 0777, 0660); /* api.group: the group may connect */
	T_EQ_INT(st.st_gid, E.cfg.api_gid);
	pool_set(true, true); /* a run that got through would reach ring 0 */
	cli_connect(&C);
	request(&C, "GET /vm HTTP/1.1\r\n\r\n");
	expect_error(401, "unauthorized");
	T_EQ_STR(hdr(&R, "WWW-Authenticate"), "Bearer realm=\"uigniter\"");
	T_ASSERT(strstr(R.body, "Authorization: Bearer"));
	request(&C, "POST /vm/run HTTP/1.1\r\nContent-Length: 17\r\n\r\n{\"image\":\"hello\"}");
	expect_error(401, "unauthorized");
	T_EQ_INT(ui_ring_count(&E.shm->ring[UI_RING_API_TO_POOL]), 0); /* never sent */
	request(&C, "GET /vm HTTP/1.1\r\nAuthorization: Bearer 0123456789abcdef0123456789abcdef"
		    "0123456789abcdef0123456789abcdee\r\n\r\n");
	expect_error(401, "unauthorized");
	T_EQ_STR(hdr(&R, "WWW-Authenticate"), "Bearer realm=\"uigniter\", error=\"invalid_token\"");
	request(&C, "GET /vm HTTP/1.1\r\nAuthorization: Basic dXNlcjpwYXNz\r\n\r\n");
	expect_error(401, "unauthorized");
	T_EQ_STR(hdr(&R, "WWW-Authenticate"), "Bearer realm=\"uigniter\"");
	snprintf(req, sizeof(req), "GET /vm HTTP/1.1\r\nauthorization:   bEaReR  %s  \r\n\r\n", tok);
	request(&C, req);
	T_EQ_INT(R.status, 200);
	T_EQ_INT(json_array_size(json_object_get(R.json, "vms")), 2);
	request(&C, "GET /healthz HTTP/1.1\r\n\r\n"); /* probes need no token */
	T_EQ_INT(R.status, 503);
	T_EQ_STR(jstr("status"), "unavailable");
	cli_close(&C);
	cli_connect_unix(&C);
	request(&C, "GET /vm HTTP/1.1\r\n\r\n");
	T_EQ_INT(R.status, 200);
	cli_close(&C);
	env_stop();
}

static void t_srv_unix_list_health(void)
{
	struct stat st;
	json_t *d;

	env_up();
	T_EQ_INT(lstat(E.sock, &st), 0);
	T_ASSERT(S_ISSOCK(st.st_mode));
	T_EQ_INT(st.st_mode & 0777, 0600); /* no api.group: root's alone */
	cli_connect_unix(&C);
	request(&C, "GET /healthz HTTP/1.1\r\n\r\n");
	T_EQ_INT(R.status, 503);
	T_EQ_STR(jstr("status"), "unavailable");
	T_ASSERT(has_problem("pool-worker is down"));
	d = json_object_get(R.json, "daemons");
	T_EQ_STR(json_string_value(json_object_get(d, "netd")), "down");
	T_EQ_STR(json_string_value(json_object_get(d, "pool-worker")), "down");
	T_EQ_STR(json_string_value(json_object_get(d, "apid")), "up");
	request(&C, "GET /vm HTTP/1.1\r\n\r\n");
	T_EQ_INT(json_array_size(json_object_get(R.json, "vms")), 2);
	request(&C, "GET /vm?state=stopped HTTP/1.1\r\n\r\n");
	T_EQ_INT(json_array_size(json_object_get(R.json, "vms")), 1);
	T_EQ_STR(json_string_value(json_object_get(json_array_get(
			 json_object_get(R.json, "vms"), 0), "id")), VM_STOPPED);
	request(&C, "GET /vm?state=zzz HTTP/1.1\r\n\r\n");
	expect_error(400, "invalid_argument");
	cli_close(&C);
	env_stop();
}

/* The value of `name` (a line "name value") in the last /metrics answer. */
static long long metric_of(const char *name)
{
	char key[96];
	const char *p;

	snprintf(key, sizeof(key), "\n%s ", name);
	p = memmem(R.body, R.body_len, key, strlen(key));
	if (!p)
		T_FAIL("no %s in /metrics", name);
	return strtoll(p + strlen(key), NULL, 10);
}

/* The server has answered nothing on c for a moment (it is holding it). */
static void cli_expect_held(struct client *c)
{
	T_EQ_INT(cli_fill(c, 300), -1);
	T_EQ_INT(c->len, 0);
}

/*
 * GET /events long-polls: twenty waiting clients are all answered by one
 * committed event, with one registry read for all of them (counted in
 * /metrics); one that waits for another VM is not; a wait that ends is
 * answered empty with next = since; the server stops clean with one
 * still waiting. The "pool-worker" here is the test's registry connection
 * counting its commits in the shared shm segment.
 */
static void t_srv_events_longpoll(void)
{
	static struct client W[20], V, X;
	struct ui_registry *reg;
	long long q0;

	env_up();
	T_EQ_INT(ui_registry_open(E.db, 0, &reg), 0);
	ui_registry_set_metrics(reg, &E.shm->metrics.reg[UI_D_POOL]);
	cli_connect_unix(&C);
	request(&C, "GET /events HTTP/1.1\r\n\r\n");
	T_EQ_INT(R.status, 200);
	T_EQ_INT(json_array_size(json_object_get(R.json, "events")), 0);
	T_EQ_INT(json_integer_value(json_object_get(R.json, "next")), 0);
	for (int i = 0; i < 20; i++) {
		cli_connect(&W[i]);
		SEND(&W[i], "GET /events?since=0&wait=30 HTTP/1.1\r\n\r\n");
	}
	cli_connect(&V);
	SEND(&V, "GET /events?vm=" VM_STOPPED "&wait=30 HTTP/1.1\r\n\r\n");
	cli_expect_held(&W[19]);
	cli_expect_held(&V);
	for (int tries = 0;; tries++) { /* every request read, however slow the host */
		request(&C, "GET /metrics HTTP/1.1\r\n\r\n");
		T_EQ_INT(R.status, 200);
		if (metric_of("uigniter_events_waiting") == 21 || tries == 100)
			break;
		usleep(100 * 1000);
	}
	T_EQ_STR(hdr(&R, "Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
	T_EQ_INT(metric_of("uigniter_events_waiting"), 21);
	q0 = metric_of("uigniter_events_queries_total");

	T_EQ_INT(ui_reg_event(reg, VM_RUNNING, "stop", "by the test"), 0);
	for (int i = 0; i < 20; i++) {
		json_t *ev;

		cli_read(&W[i], &R);
		T_EQ_INT(R.status, 200);
		ev = json_array_get(json_object_get(R.json, "events"), 0);
		T_EQ_INT(json_array_size(json_object_get(R.json, "events")), 1);
		T_EQ_INT(json_integer_value(json_object_get(ev, "seq")), 1);
		T_EQ_STR(json_string_value(json_object_get(ev, "vm")), VM_RUNNING);
		T_EQ_STR(json_string_value(json_object_get(ev, "kind")), "stop");
		T_EQ_STR(json_string_value(json_object_get(ev, "detail")), "by the test");
		T_EQ_INT(json_integer_value(json_object_get(R.json, "next")), 1);
		cli_close(&W[i]);
	}
	cli_expect_held(&V);
	request(&C, "GET /metrics HTTP/1.1\r\n\r\n");
	T_EQ_INT(metric_of("uigniter_events_queries_total"), q0 + 1);
	T_EQ_INT(metric_of("uigniter_events_waiting"), 1);

	T_EQ_INT(ui_reg_event(reg, VM_STOPPED, "deleted", NULL), 0);
	cli_read(&V, &R);
	T_EQ_INT(R.status, 200);
	T_EQ_INT(json_integer_value(json_object_get(R.json, "next")), 2);
	T_ASSERT(json_is_null(json_object_get(json_array_get(json_object_get(R.json, "events"),
							       0), "detail")));
	request(&C, "GET /events?since=2&wait=1 HTTP/1.1\r\n\r\n");
	T_EQ_INT(R.status, 200);
	T_EQ_INT(json_array_size(json_object_get(R.json, "events")), 0);
	T_EQ_INT(json_integer_value(json_object_get(R.json, "next")), 2);
	request(&C, "GET /events?since=0&limit=1 HTTP/1.1\r\n\r\n");
	T_EQ_INT(json_integer_value(json_object_get(R.json, "next")), 1);
	request(&C, "GET /events?wait=99 HTTP/1.1\r\n\r\n");
	expect_error(400, "invalid_argument");

	cli_connect(&X); /* still waiting when the server stops */
	SEND(&X, "GET /events?since=2&wait=30 HTTP/1.1\r\n\r\n");
	cli_expect_held(&X);
	ui_registry_close(reg);
	cli_close(&C);
	env_stop();
	cli_close(&X);
	cli_close(&V);
}

/* A page longer than one slice (100 rows a loop turn) is whole and in id
 * order; next leads to the rest. */
static void t_srv_list_pages(void)
{
	struct ui_registry *reg;
	json_t *vms;
	char id[32], next[48];

	env_init();
	T_EQ_INT(ui_registry_open(E.db, 0, &reg), 0);
	for (unsigned i = 0; i < 148; i++) {
		snprintf(id, sizeof(id), "vm-1%03u", i);
		insert_vm(reg, id, UI_VM_STOPPED);
	}
	ui_registry_close(reg);
	env_start();
	cli_connect(&C);
	request(&C, "GET /vm?limit=120 HTTP/1.1\r\n\r\n");
	T_EQ_INT(R.status, 200);
	vms = json_object_get(R.json, "vms");
	T_EQ_INT(json_array_size(vms), 120);
	T_EQ_STR(json_string_value(json_object_get(json_array_get(vms, 0), "id")), VM_RUNNING);
	T_EQ_STR(json_string_value(json_object_get(json_array_get(vms, 119), "id")), "vm-1117");
	T_EQ_STR(json_string_value(json_object_get(R.json, "next")), "vm-1117");
	snprintf(next, sizeof(next), "%s", json_string_value(json_object_get(R.json, "next")));
	/* pipelined: the second page waits for the first to be answered */
	{
		char req[256];

		snprintf(req, sizeof(req), "GET /vm?limit=120&after=%s HTTP/1.1\r\n\r\n"
			 "GET /pool HTTP/1.1\r\n\r\n", next);
		request(&C, req);
	}
	T_EQ_INT(R.status, 200);
	vms = json_object_get(R.json, "vms");
	T_EQ_INT(json_array_size(vms), 30);
	T_EQ_STR(json_string_value(json_object_get(json_array_get(vms, 0), "id")), "vm-1118");
	T_ASSERT(json_is_null(json_object_get(R.json, "next")));
	cli_read(&C, &R);
	T_EQ_INT(R.status, 200);
	T_ASSERT(json_object_get(R.json, "hits"));
	/* a client that leaves while its page is built cancels it */
	SEND(&C, "GET /vm?limit=1000 HTTP/1.1\r\n\r\n");
	cli_close(&C);
	cli_connect(&C);
	request(&C, "GET /vm?limit=1 HTTP/1.1\r\n\r\n");
	T_EQ_INT(R.status, 200);
	cli_close(&C);
	env_stop();
}

static void t_srv_http10_continue(void)
{
	env_up();
	cli_connect(&C);
	request(&C, "GET /pool HTTP/1.0\r\n\r\n");
	T_EQ_INT(R.status, 200);
	T_EQ_STR(hdr(&R, "Connection"), "close");
	cli_expect_eof(&C);
	cli_close(&C);
	cli_connect(&C);
	request(&C, "GET /pool HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
	T_EQ_STR(hdr(&R, "Connection"), "keep-alive");
	request(&C, "POST /vm/run HTTP/1.1\r\nExpect: 100-continue\r\n"
		    "Content-Length: 16\r\n\r\n");
	T_EQ_INT(R.status, 100);
	request(&C, "{\"image\":\"nope\"}");
	expect_error(404, "unknown_image");
	cli_close(&C);
	env_stop();
}

static bool has_problem(const char *text)
{
	json_t *p = json_object_get(R.json, "problems"), *v;
	size_t i;

	json_array_foreach(p, i, v)
		if (strstr(json_string_value(v), text))
			return true;
	return false;
}

static void daemon_set(enum ui_daemon d, bool up, bool ready)
{
	atomic_store(&E.shm->daemon[d].up, up);
	atomic_store(&E.shm->daemon[d].ready, ready);
}

static void health(int status, const char *word)
{
	request(&C, "GET /healthz HTTP/1.1\r\n\r\n");
	T_EQ_INT(R.status, status);
	T_EQ_STR(jstr("status"), word);
	T_EQ_INT(json_is_true(json_object_get(R.json, "runs")), status == 200);
}

/* /healthz says what is true: each thing that stops runs is a 503 naming
 * it; what only degrades (netd's last pass, a starting netd) is a 200. */
static void t_srv_health_truth(void)
{
	env_up();
	cli_connect(&C);
	daemon_set(UI_D_NETD, true, true);
	daemon_set(UI_D_POOL, true, true);
	health(200, "ok");
	T_EQ_INT(json_array_size(json_object_get(R.json, "problems")), 0);
	T_ASSERT(json_is_true(json_object_get(R.json, "vmm_available")));
	T_ASSERT(json_is_true(json_object_get(R.json, "netd_reconciled")));

	ui_daemon_set_fault(E.shm, UI_D_POOL, -EAGAIN, "the VMM binary /x/fc is missing");
	health(503, "unavailable");
	T_ASSERT(has_problem("pool-worker: the VMM binary /x/fc is missing"));
	T_ASSERT(json_is_false(json_object_get(R.json, "vmm_available")));
	ui_daemon_set_fault(E.shm, UI_D_POOL, 0, NULL);
	health(200, "ok");

	atomic_store(&E.shm->daemon[UI_D_POOL].reg_error, -ENOSPC);
	health(503, "unavailable");
	T_ASSERT(has_problem("pool-worker cannot write the registry: No space left on device"));
	T_ASSERT(json_is_false(json_object_get(json_object_get(R.json, "registry"), "writable")));
	atomic_store(&E.shm->daemon[UI_D_POOL].reg_error, 0);

	ui_daemon_set_fault(E.shm, UI_D_NETD, -EIO, "the last pass failed: Input/output error");
	health(200, "degraded");
	T_ASSERT(has_problem("netd: the last pass failed"));
	T_ASSERT(json_is_false(json_object_get(R.json, "netd_reconciled")));
	ui_daemon_set_fault(E.shm, UI_D_NETD, 0, NULL);

	daemon_set(UI_D_NETD, true, false);
	health(200, "degraded");
	T_ASSERT(has_problem("netd is starting"));
	daemon_set(UI_D_NETD, false, false);
	health(503, "unavailable");
	T_ASSERT(has_problem("netd is down"));
	daemon_set(UI_D_NETD, true, true);
	daemon_set(UI_D_POOL, true, false);
	health(503, "unavailable");
	T_ASSERT(has_problem("pool-worker is starting"));
	cli_close(&C);
	env_stop();
}

/* Per-listener limits: a full TCP side closes its longest idle connection
 * for a new one, refuses when every connection is busy, and never takes
 * the unix socket's room; idle keep-alive connections time out silently. */
static void t_srv_limits_conns_idle(void)
{
	struct client *c3 = malloc(sizeof(*c3)), *u1 = malloc(sizeof(*u1));

	T_ASSERT(c3 && u1);
	env_init();
	E.opts.max_conns_tcp = 2;
	E.opts.max_conns_unix = 1;
	E.opts.idle_timeout_ms = 1500;
	env_start();
	cli_connect(&C);
	request(&C, "GET /pool HTTP/1.1\r\n\r\n");
	cli_connect(&C2);
	request(&C2, "GET /pool HTTP/1.1\r\n\r\n"); /* C is idle the longest */
	cli_connect(c3);
	request(c3, "GET /pool HTTP/1.1\r\n\r\n");
	T_EQ_INT(R.status, 200);
	cli_expect_eof(&C);                           /* reaped for c3 */
	T_EQ_INT(C.len, 0);
	cli_close(&C);
	/* the unix socket has its own room while TCP is full */
	cli_connect_unix(u1);
	request(u1, "GET /pool HTTP/1.1\r\n\r\n");
	T_EQ_INT(R.status, 200);
	/* a unix connection mid-request (begun just now) is not cut: refused */
	cli_send(u1, "GET /pool HTTP/1.1\r\n", 20);
	usleep(100 * 1000);
	cli_connect_unix(&C);
	cli_expect_eof(&C);
	cli_close(&C);
	cli_send(u1, "\r\n", 2);
	cli_read(u1, &R);
	T_EQ_INT(R.status, 200);
	/* idle keep-alive connections are closed silently */
	cli_expect_eof(&C2);
	T_EQ_INT(C2.len, 0);
	cli_close(&C2);
	cli_close(c3);
	cli_close(u1);
	cli_connect(&C);
	request(&C, "GET /pool HTTP/1.1\r\n\r\n");
	T_EQ_INT(R.status, 200);
	cli_close(&C);
	free(c3);
	free(u1);
	env_stop();
}

/* --- the console (apid/console.c) over a log pool-worker rotates --- */

/* The VMM's side: n bytes of a counting pattern appended from *seq. */
static void con_append(const char *path, size_t n, size_t *seq)
{
	char buf[16384];
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);

	T_ASSERT(fd >= 0 && n <= sizeof(buf));
	for (size_t i = 0; i < n; i++)
		buf[i] = (char)('a' + (*seq + i) % 26);
	*seq += n;
	T_EQ_INT(write(fd, buf, n), (ssize_t)n);
	close(fd);
}

static void con_check(const char *data, size_t n, size_t from)
{
	for (size_t i = 0; i < n; i++)
		if (data[i] != (char)('a' + (from + i) % 26))
			T_FAIL("byte %zu of the stream is not the log's byte %zu", i, from + i);
}

/* Decodes chunks from c into out until it holds want bytes (or, want 0,
 * the last chunk); returns whether the last chunk was seen. */
static bool con_chunks(struct client *c, char *out, size_t *got, size_t want)
{
	for (;;) {
		char *crlf = memmem(c->buf, c->len, "\r\n", 2);
		size_t n, hl;

		if (want && *got >= want)
			return false;
		if (crlf) {
			n = strtoul(c->buf, NULL, 16);
			hl = (size_t)(crlf - c->buf) + 2;
			if (c->len >= hl + n + 2) {
				T_ASSERT(!memcmp(c->buf + hl + n, "\r\n", 2));
				memcpy(out + *got, c->buf + hl, n);
				*got += n;
				memmove(c->buf, c->buf + hl + n + 2, c->len - hl - n - 2);
				c->len -= hl + n + 2;
				if (n == 0)
					return true;
				continue;
			}
		}
		if (cli_fill(c, 5000) <= 0)
			T_FAIL("the stream stopped at %zu bytes (wanted %zu)", *got, want);
	}
}

/* follow=1: the tail, appends, a rotation (pool-worker's own code), more
 * appends — every byte once, in order; the row goes stopped → the last
 * chunk, and the connection serves the next request. */
static void t_srv_console_follow(void)
{
	static char stream[65536];
	static struct ui_vm vm;
	struct ui_registry *reg;
	char path[160], old[170];
	size_t seq = 0, got = 0, hlen;
	char *end;
	int rc;

	env_init();
	snprintf(path, sizeof(path), "%s/" VM_RUNNING ".console.log", E.dir);
	snprintf(old, sizeof(old), "%s.1", path);
	T_EQ_INT(ui_registry_open(E.db, 0, &reg), 0);
	T_EQ_INT(ui_reg_vm_get(reg, VM_RUNNING, &vm), 0);
	snprintf(vm.console_log, sizeof(vm.console_log), "%s", path);
	T_EQ_INT(ui_reg_vm_update(reg, &vm), 0);
	ui_registry_close(reg);
	con_append(path, 10000, &seq);
	env_start();
	cli_connect_unix(&C);
	SEND(&C, "GET /vm/" VM_RUNNING "/console?follow=1&bytes=100 HTTP/1.1\r\n\r\n");
	while (!(end = memmem(C.buf, C.len, "\r\n\r\n", 4)))
		T_ASSERT(cli_fill(&C, 5000) > 0);
	end[2] = '\0'; /* after the last header's CRLF */
	T_ASSERT(strstr(C.buf, "HTTP/1.1 200 OK\r\n"));
	T_ASSERT(strcasestr(C.buf, "\r\nTransfer-Encoding: chunked\r\n"));
	T_ASSERT(strcasestr(C.buf, "\r\nContent-Type: text/plain; charset=utf-8\r\n"));
	T_ASSERT(!strcasestr(C.buf, "Content-Length"));
	hlen = (size_t)(end + 4 - C.buf); /* the chunks follow the head */
	memmove(C.buf, end + 4, C.len - hlen);
	C.len -= hlen;
	T_ASSERT(!con_chunks(&C, stream, &got, 100));
	con_check(stream, got, 9900);
	con_append(path, 500, &seq);
	T_ASSERT(!con_chunks(&C, stream, &got, 600));
	/* 0 while a follower's poll holds its LOCK_SH: the next check */
	for (int i = 0; i < 500 && (rc = pw_console_rotate(path, 4096)) == 0; i++)
		usleep(2000);
	T_EQ_INT(rc, 1);
	T_ASSERT(access(old, F_OK) == 0);
	con_append(path, 300, &seq);
	T_ASSERT(!con_chunks(&C, stream, &got, 900));
	T_EQ_INT(got, 900);
	con_check(stream, got, 9900);
	pool_write_state(VM_RUNNING, UI_VM_STOPPED);
	T_ASSERT(con_chunks(&C, stream, &got, 0));
	T_EQ_INT(got, 900);
	/* keep-alive: the next request on the same connection; the tail joins
	 * <log>.1 and <log> */
	request(&C, "GET /vm/" VM_RUNNING "/console?bytes=50 HTTP/1.1\r\n\r\n");
	T_EQ_INT(R.status, 200);
	T_EQ_STR(hdr(&R, "Content-Type"), "text/plain; charset=utf-8");
	T_EQ_INT(R.body_len, 50);
	con_check(R.body, 50, seq - 50);
	cli_close(&C);
	env_stop();
}

int main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		T_CASE(t_srv_get_vm),
		T_CASE(t_srv_get_missing),
		T_CASE(t_srv_run_unavailable),
		T_CASE(t_srv_keepalive_pipelined),
		T_CASE(t_srv_body_too_large),
		T_CASE(t_srv_header_limit_garbage),
		T_CASE(t_srv_request_timeout),
		T_CASE(t_srv_run_ok),
		T_CASE(t_srv_run_errors),
		T_CASE(t_srv_run_timeout_stale),
		T_CASE(t_srv_stop),
		T_CASE(t_srv_pipelined_behind_run),
		T_CASE(t_srv_client_gone),
		T_CASE(t_srv_unix_list_health),
		T_CASE(t_srv_auth),
		T_CASE(t_srv_http10_continue),
		T_CASE(t_srv_list_pages),
		T_CASE(t_srv_limits_conns_idle),
		T_CASE(t_srv_health_truth),
		T_CASE(t_srv_events_longpoll),
		T_CASE(t_srv_console_follow),
		{ 0 },
	};

	ui_log_init("test_http_server", getenv("TEST_VERBOSE") ? UI_LOG_DEBUG : UI_LOG_WARN);
	return t_run(argc, argv, cases);
}
