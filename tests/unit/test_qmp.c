/*
 * test_qmp.c — pool-worker's QMP client (pool-worker/qmp.c) against a fake
 * QMP server, and the pure command-line builders (pool-worker/cmdline.c).
 *
 * The fake server is a unix socket bound by the test, served by a forked
 * child that plays a script: greeting, capabilities, replies (whole, split
 * across writes, two in one write, errors), events, EOF. The client runs on
 * a private libuv loop in the test process; a watchdog timer fails a case
 * that would otherwise hang.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include "../../pool-worker/cmdline.h"
#include "../../pool-worker/qmp.h"
#include "t.h"

/* ------------------------------------------------------------ fake server */

static char sock_path[108];

static void srv_send(int fd, const char *s)
{
	size_t n = strlen(s);

	if (write(fd, s, n) != (ssize_t)n)
		_exit(3);
}

/* Reads one command line; returns its id, checks its "execute". */
static json_int_t srv_expect(int fd, const char *execute)
{
	char line[4096];
	size_t n = 0;
	json_t *j;
	json_int_t id;

	while (n < sizeof(line) - 1 && read(fd, line + n, 1) == 1 && line[n] != '\n')
		n++;
	line[n] = '\0';
	j = json_loads(line, 0, NULL);
	if (!j || strcmp(json_string_value(json_object_get(j, "execute")) ?: "",
			 execute) != 0) {
		fprintf(stderr, "  fake server: expected %s, got '%s'\n", execute, line);
		_exit(4);
	}
	id = json_integer_value(json_object_get(j, "id"));
	json_decref(j);
	return id;
}

static void srv_reply(int fd, json_int_t id, const char *ret)
{
	char buf[1024];

	snprintf(buf, sizeof(buf), "{\"return\": %s, \"id\": %lld}\r\n", ret,
		 (long long)id);
	srv_send(fd, buf);
}

static void srv_handshake(int fd)
{
	srv_send(fd, "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 2, "
		     "\"major\": 7}}, \"capabilities\": [\"oob\"]}}\r\n");
	srv_reply(fd, srv_expect(fd, "qmp_capabilities"), "{}");
}

static pid_t fake_server(void (*script)(int fd))
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int ls = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	pid_t pid;

	snprintf(sock_path, sizeof(sock_path), "/tmp/test_qmp.%d.sock", getpid());
	unlink(sock_path);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
	T_ASSERT(ls >= 0);
	T_ASSERT(bind(ls, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	T_ASSERT(listen(ls, 1) == 0);
	pid = fork();
	T_ASSERT(pid >= 0);
	if (pid == 0) {
		int fd = accept(ls, NULL, NULL);

		if (fd < 0)
			_exit(2);
		script(fd);
		usleep(200 * 1000); /* let the client read before EOF */
		close(fd);
		_exit(0);
	}
	close(ls);
	return pid;
}

static void server_done(pid_t pid)
{
	int st = 0;

	T_ASSERT(waitpid(pid, &st, 0) == pid);
	unlink(sock_path);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		T_FAIL("fake server failed (status 0x%x)", st);
}

/* ------------------------------------------------------------ client side */

struct ctx {
	uv_loop_t loop;
	uv_timer_t watchdog;
	struct qmp *q;
	int ready_status, ready_calls, closed_calls;
	int replies, reply_status[4];
	char reply_text[4][256];
	char event[64], event_reason[64];
	int want_replies;
	bool stop_on_ready, stop_on_event, stop_on_closed;
	bool close_in_reply;
};

static void stop(struct ctx *c)
{
	uv_stop(&c->loop);
}

static void on_ready(struct qmp *q, int status, void *arg)
{
	struct ctx *c = arg;

	(void)q;
	c->ready_status = status;
	c->ready_calls++;
	if (c->stop_on_ready || status < 0)
		stop(c);
}

static void on_event(struct qmp *q, const char *name, json_t *data, void *arg)
{
	struct ctx *c = arg;
	const char *r = json_string_value(json_object_get(data, "reason"));

	(void)q;
	snprintf(c->event, sizeof(c->event), "%s", name);
	snprintf(c->event_reason, sizeof(c->event_reason), "%s", r ? r : "");
	if (c->stop_on_event)
		stop(c);
}

static void on_closed(struct qmp *q, int status, void *arg)
{
	struct ctx *c = arg;

	(void)q;
	(void)status;
	c->closed_calls++;
	if (c->stop_on_closed)
		stop(c);
}

static const struct qmp_callbacks cbs = { on_ready, on_event, on_closed };

/* Each reply callback records in the slot given as arg. */
static void on_reply(struct qmp *q, int status, json_t *ret, const char *err,
		     void *arg)
{
	struct ctx *c = arg;
	int slot = c->replies < 4 ? c->replies : 3;
	char *text = NULL;

	(void)q;
	c->reply_status[slot] = status;
	if (status == 0)
		text = json_dumps(ret, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
	snprintf(c->reply_text[slot], sizeof(c->reply_text[slot]), "%s",
		 text ? text : err);
	free(text);
	c->replies++;
	if (c->close_in_reply) {
		qmp_close(c->q);
		c->q = NULL;
	}
	if (c->replies >= c->want_replies)
		stop(c);
}

static void on_watchdog(uv_timer_t *t)
{
	(void)t;
	T_FAIL("timeout waiting for the QMP client");
}

static void ctx_init(struct ctx *c)
{
	memset(c, 0, sizeof(*c));
	c->ready_status = 1;
	T_EQ_INT(uv_loop_init(&c->loop), 0);
	uv_timer_init(&c->loop, &c->watchdog);
	uv_timer_start(&c->watchdog, on_watchdog, 5000, 0);
	uv_unref((uv_handle_t *)&c->watchdog);
}

static void ctx_connect_ready(struct ctx *c)
{
	T_EQ_INT(qmp_connect(&c->loop, sock_path, &cbs, c, &c->q), 0);
	c->stop_on_ready = true;
	uv_run(&c->loop, UV_RUN_DEFAULT);
	c->stop_on_ready = false;
	T_EQ_INT(c->ready_calls, 1);
	T_EQ_INT(c->ready_status, 0);
	T_ASSERT(qmp_is_ready(c->q));
}

static void ctx_fini(struct ctx *c)
{
	qmp_close(c->q);
	uv_close((uv_handle_t *)&c->watchdog, NULL);
	uv_run(&c->loop, UV_RUN_DEFAULT);
	T_EQ_INT(uv_loop_close(&c->loop), 0);
}

static void run_until_replies(struct ctx *c, int n)
{
	c->want_replies = n;
	if (c->replies < n)
		uv_run(&c->loop, UV_RUN_DEFAULT);
	T_EQ_INT(c->replies, n);
}

/* ------------------------------------------------------------------ cases */

static void script_handshake(int fd)
{
	srv_handshake(fd);
}

static void t_qmp_handshake(void)
{
	struct ctx c;
	pid_t pid = fake_server(script_handshake);

	ctx_init(&c);
	/* before ready, commands are refused */
	T_EQ_INT(qmp_connect(&c.loop, sock_path, &cbs, &c, &c.q), 0);
	T_EQ_INT(qmp_execute(c.q, "query-status", NULL, on_reply, &c), -ENOTCONN);
	c.stop_on_ready = true;
	uv_run(&c.loop, UV_RUN_DEFAULT);
	T_EQ_INT(c.ready_calls, 1);
	T_EQ_INT(c.ready_status, 0);
	T_ASSERT(qmp_is_ready(c.q));
	ctx_fini(&c);
	server_done(pid);
}

static void script_status(int fd)
{
	srv_handshake(fd);
	srv_reply(fd, srv_expect(fd, "query-status"),
		  "{\"status\": \"running\", \"singlestep\": false, \"running\": true}");
}

static void t_qmp_command_reply(void)
{
	struct ctx c;
	pid_t pid = fake_server(script_status);

	ctx_init(&c);
	ctx_connect_ready(&c);
	T_EQ_INT(qmp_execute(c.q, "query-status", NULL, on_reply, &c), 0);
	run_until_replies(&c, 1);
	T_EQ_INT(c.reply_status[0], 0);
	T_EQ_STR(c.reply_text[0],
		 "{\"running\":true,\"singlestep\":false,\"status\":\"running\"}");
	ctx_fini(&c);
	server_done(pid);
}

static void script_error(int fd)
{
	char buf[256];
	json_int_t id;

	srv_handshake(fd);
	id = srv_expect(fd, "bogus");
	snprintf(buf, sizeof(buf), "{\"id\": %lld, \"error\": {\"class\": "
		 "\"CommandNotFound\", \"desc\": \"The command bogus has not been "
		 "found\"}}\r\n", (long long)id);
	srv_send(fd, buf);
}

static void t_qmp_error_reply(void)
{
	struct ctx c;
	pid_t pid = fake_server(script_error);

	ctx_init(&c);
	ctx_connect_ready(&c);
	T_EQ_INT(qmp_execute(c.q, "bogus", NULL, on_reply, &c), 0);
	run_until_replies(&c, 1);
	T_EQ_INT(c.reply_status[0], -EIO);
	T_EQ_STR(c.reply_text[0],
		 "CommandNotFound: The command bogus has not been found");
	ctx_fini(&c);
	server_done(pid);
}

static void script_event(int fd)
{
	srv_handshake(fd);
	srv_reply(fd, srv_expect(fd, "system_powerdown"), "{}");
	srv_send(fd, "{\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}, "
		     "\"event\": \"POWERDOWN\"}\r\n");
	srv_send(fd, "{\"timestamp\": {\"seconds\": 1, \"microseconds\": 3}, "
		     "\"event\": \"SHUTDOWN\", \"data\": {\"guest\": true, "
		     "\"reason\": \"guest-shutdown\"}}\r\n");
}

static void t_qmp_event(void)
{
	struct ctx c;
	pid_t pid = fake_server(script_event);

	ctx_init(&c);
	ctx_connect_ready(&c);
	T_EQ_INT(qmp_execute(c.q, "system_powerdown", NULL, on_reply, &c), 0);
	run_until_replies(&c, 1);
	T_EQ_STR(c.reply_text[0], "{}");
	c.stop_on_closed = true; /* the server closes after the events */
	uv_run(&c.loop, UV_RUN_DEFAULT);
	T_EQ_STR(c.event, "SHUTDOWN");
	T_EQ_STR(c.event_reason, "guest-shutdown");
	T_EQ_INT(c.closed_calls, 1);
	T_ASSERT(!qmp_is_ready(c.q));
	ctx_fini(&c);
	server_done(pid);
}

static void script_split(int fd)
{
	char buf[256];
	size_t n;

	srv_handshake(fd);
	snprintf(buf, sizeof(buf), "{\"return\": {\"status\": \"prelaunch\"}, "
		 "\"id\": %lld}\r\n", (long long)srv_expect(fd, "query-status"));
	n = strlen(buf);
	/* three writes, 50 ms apart: the client must reassemble */
	for (size_t off = 0, step = n / 3 + 1; off < n; off += step) {
		if (write(fd, buf + off, off + step > n ? n - off : step) < 0)
			_exit(3);
		usleep(50 * 1000);
	}
}

static void t_qmp_split_reply(void)
{
	struct ctx c;
	pid_t pid = fake_server(script_split);

	ctx_init(&c);
	ctx_connect_ready(&c);
	T_EQ_INT(qmp_execute(c.q, "query-status", NULL, on_reply, &c), 0);
	run_until_replies(&c, 1);
	T_EQ_INT(c.reply_status[0], 0);
	T_EQ_STR(c.reply_text[0], "{\"status\":\"prelaunch\"}");
	ctx_fini(&c);
	server_done(pid);
}

static void script_two_in_one(int fd)
{
	char buf[512];
	json_int_t a, b;

	srv_handshake(fd);
	a = srv_expect(fd, "first");
	b = srv_expect(fd, "second");
	/* answered in reverse order, in one write: matched by id */
	snprintf(buf, sizeof(buf), "{\"return\": \"two\", \"id\": %lld}\r\n"
		 "{\"return\": \"one\", \"id\": %lld}\r\n", (long long)b, (long long)a);
	srv_send(fd, buf);
}

struct slot_arg {
	struct ctx *c;
	char got[32];
};

static void on_named_reply(struct qmp *q, int status, json_t *ret,
			   const char *err, void *arg)
{
	struct slot_arg *s = arg;

	(void)q;
	(void)err;
	T_EQ_INT(status, 0);
	snprintf(s->got, sizeof(s->got), "%s", json_string_value(ret));
	if (++s->c->replies >= s->c->want_replies)
		stop(s->c);
}

static void t_qmp_two_replies_one_write(void)
{
	struct ctx c;
	struct slot_arg one, two;
	pid_t pid = fake_server(script_two_in_one);

	ctx_init(&c);
	ctx_connect_ready(&c);
	one.c = two.c = &c;
	T_EQ_INT(qmp_execute(c.q, "first", NULL, on_named_reply, &one), 0);
	T_EQ_INT(qmp_execute(c.q, "second", NULL, on_named_reply, &two), 0);
	run_until_replies(&c, 2);
	T_EQ_STR(one.got, "one");
	T_EQ_STR(two.got, "two");
	ctx_fini(&c);
	server_done(pid);
}

static void script_close_in_reply(int fd)
{
	char buf[512];
	json_int_t a;

	srv_handshake(fd);
	a = srv_expect(fd, "first");
	/* a reply, an event and garbage in one write: the client closes
	 * from the first callback and must not touch the rest */
	snprintf(buf, sizeof(buf), "{\"return\": {}, \"id\": %lld}\r\n"
		 "{\"event\": \"STOP\"}\r\nnot json\r\n", (long long)a);
	srv_send(fd, buf);
}

static void t_qmp_close_in_callback(void)
{
	struct ctx c;
	pid_t pid = fake_server(script_close_in_reply);

	ctx_init(&c);
	ctx_connect_ready(&c);
	c.close_in_reply = true;
	T_EQ_INT(qmp_execute(c.q, "first", NULL, on_reply, &c), 0);
	run_until_replies(&c, 1);
	T_EQ_STR(c.event, "");
	T_EQ_INT(c.closed_calls, 0);
	ctx_fini(&c);
	server_done(pid);
}

static void script_eof(int fd)
{
	srv_handshake(fd);
	srv_expect(fd, "query-status"); /* never answered */
	close(fd);
}

static void t_qmp_eof_fails_pending(void)
{
	struct ctx c;
	pid_t pid = fake_server(script_eof);

	ctx_init(&c);
	ctx_connect_ready(&c);
	T_EQ_INT(qmp_execute(c.q, "query-status", NULL, on_reply, &c), 0);
	run_until_replies(&c, 1);
	T_EQ_INT(c.reply_status[0], -ECONNRESET);
	T_EQ_INT(c.closed_calls, 1);
	T_EQ_INT(qmp_execute(c.q, "query-status", NULL, on_reply, &c), -ENOTCONN);
	ctx_fini(&c);
	server_done(pid);
}

static void script_bad_greeting(int fd)
{
	srv_send(fd, "this is not QMP\r\n");
}

static void t_qmp_bad_greeting(void)
{
	struct ctx c;
	pid_t pid = fake_server(script_bad_greeting);

	ctx_init(&c);
	T_EQ_INT(qmp_connect(&c.loop, sock_path, &cbs, &c, &c.q), 0);
	uv_run(&c.loop, UV_RUN_DEFAULT);
	T_EQ_INT(c.ready_calls, 1);
	T_EQ_INT(c.ready_status, -EPROTO);
	ctx_fini(&c);
	server_done(pid);
}

static void t_qmp_no_socket(void)
{
	struct ctx c;

	ctx_init(&c);
	T_EQ_INT(qmp_connect(&c.loop, "/tmp/test_qmp.does-not-exist.sock", &cbs,
			     &c, &c.q), 0);
	uv_run(&c.loop, UV_RUN_DEFAULT);
	T_EQ_INT(c.ready_calls, 1);
	T_EQ_INT(c.ready_status, -ENOENT);
	ctx_fini(&c);
}

/* ---------------------------------------------------------- command lines */

static void image_init(struct ui_image *img, enum ui_guest_ip style)
{
	memset(img, 0, sizeof(*img));
	snprintf(img->name, sizeof(img->name), "hello");
	snprintf(img->kernel, sizeof(img->kernel), "/g/vmlinuz");
	snprintf(img->boot_args, sizeof(img->boot_args),
		 "console=ttyS0 reboot=k panic=-1");
	img->guest_ip = style;
}

static void cfg_init(struct ui_config *cfg)
{
	ui_config_defaults(cfg);
	cfg->gateway = 0xac1f0001; /* 172.31.0.1 */
	cfg->prefix_len = 24;
}

static void t_boot_args_styles(void)
{
	struct ui_config cfg;
	struct ui_image img;
	char out[512];

	cfg_init(&cfg);
	image_init(&img, UI_GUEST_IP_LINUX);
	T_EQ_INT(pw_boot_args(&cfg, &img, "172.31.0.2", "vm-x", NULL, out, sizeof(out)), 0);
	T_EQ_STR(out, "console=ttyS0 reboot=k panic=-1 "
		      "ip=172.31.0.2::172.31.0.1:255.255.255.0::eth0:off uigniter.id=vm-x");
	T_EQ_INT(pw_boot_args(&cfg, &img, "172.31.0.2", "vm-x", "tsc_early_khz=2596100",
			      out, sizeof(out)), 0);
	T_EQ_STR(out, "console=ttyS0 reboot=k panic=-1 tsc_early_khz=2596100 "
		      "ip=172.31.0.2::172.31.0.1:255.255.255.0::eth0:off uigniter.id=vm-x");
	img.guest_ip = UI_GUEST_IP_OSV;
	snprintf(img.boot_args, sizeof(img.boot_args), "/hello.so");
	cfg.prefix_len = 16;
	T_EQ_INT(pw_boot_args(&cfg, &img, "172.31.0.2", "vm-x", "x=1", out, sizeof(out)), 0);
	T_EQ_STR(out, "--ip=eth0,172.31.0.2,255.255.0.0 --defaultgw=172.31.0.1 /hello.so");
	img.guest_ip = UI_GUEST_IP_NONE;
	T_EQ_INT(pw_boot_args(&cfg, &img, "172.31.0.2", "vm-x", "x=1", out, sizeof(out)), 0);
	T_EQ_STR(out, "/hello.so");
	T_EQ_INT(pw_boot_args(&cfg, &img, "172.31.0.2", "vm-x", NULL, out, 4), -ENAMETOOLONG);
	ui_config_free(&cfg);
}

static void vm_init(struct ui_vm *vm)
{
	memset(vm, 0, sizeof(*vm));
	snprintf(vm->id, sizeof(vm->id), "vm-x");
	snprintf(vm->kernel, sizeof(vm->kernel), "/g/vmlinuz");
	snprintf(vm->initrd, sizeof(vm->initrd), "/g/initrd.cpio.gz");
	snprintf(vm->boot_args, sizeof(vm->boot_args), "console=ttyS0 ip=1");
	vm->vcpus = 2;
	vm->mem_mib = 256;
	snprintf(vm->tap, sizeof(vm->tap), "uit-2");
	snprintf(vm->mac, sizeof(vm->mac), "06:00:ac:1f:00:02");
	snprintf(vm->console_log, sizeof(vm->console_log), "/s/vms/vm-x.console.log");
	snprintf(vm->api_socket, sizeof(vm->api_socket), "/r/vms/vm-x.qmp");
}

/* argv joined with '|' for one readable comparison */
static void joined(const struct pw_argv *a, char *out, size_t len)
{
	size_t o = 0;

	out[0] = '\0';
	for (int i = 0; i < a->argc && o < len; i++)
		o += (size_t)snprintf(out + o, len - o, "%s%s", i ? "|" : "", a->argv[i]);
	T_ASSERT(a->argv[a->argc] == NULL);
}

static void t_qemu_argv_tcg(void)
{
	struct ui_vm vm;
	static struct pw_argv a;
	char s[4096];

	vm_init(&vm);
	T_EQ_INT(pw_qemu_argv("qemu-system-x86_64", UI_ACCEL_TCG, &vm, &a), 0);
	joined(&a, s, sizeof(s));
	T_EQ_STR(s, "qemu-system-x86_64|-M|microvm|-accel|tcg|-cpu|max|-m|256|"
		    "-smp|2|-nodefaults|-no-user-config|-nographic|-no-reboot|"
		    "-sandbox|on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny|"
		    "-kernel|/g/vmlinuz|-initrd|/g/initrd.cpio.gz|"
		    "-append|console=ttyS0 ip=1|"
		    "-chardev|stdio,id=con,signal=off|"
		    "-serial|chardev:con|"
		    "-netdev|tap,id=n0,ifname=uit-2,script=no,downscript=no|"
		    "-device|virtio-net-device,netdev=n0,mac=06:00:ac:1f:00:02|"
		    "-qmp|unix:/r/vms/vm-x.qmp,server=on,wait=off");
}

static void t_qemu_argv_kvm_rootfs(void)
{
	struct ui_vm vm;
	static struct pw_argv a;
	char s[4096];

	vm_init(&vm);
	vm.initrd[0] = '\0';
	snprintf(vm.rootfs, sizeof(vm.rootfs), "/img/disk,1.raw");
	snprintf(vm.console_log, sizeof(vm.console_log), "/s,t/vm-x.log");
	T_EQ_INT(pw_qemu_argv("/opt/qemu", UI_ACCEL_KVM, &vm, &a), 0);
	joined(&a, s, sizeof(s));
	T_EQ_STR(s, "/opt/qemu|-M|microvm|-accel|kvm|-cpu|host|-m|256|"
		    "-smp|2|-nodefaults|-no-user-config|-nographic|-no-reboot|"
		    "-sandbox|on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny|"
		    "-kernel|/g/vmlinuz|-append|console=ttyS0 ip=1|"
		    "-drive|id=rootfs,file=/img/disk,,1.raw,format=raw,if=none,readonly=on|"
		    "-device|virtio-blk-device,drive=rootfs|"
		    "-chardev|stdio,id=con,signal=off|"
		    "-serial|chardev:con|"
		    "-netdev|tap,id=n0,ifname=uit-2,script=no,downscript=no|"
		    "-device|virtio-net-device,netdev=n0,mac=06:00:ac:1f:00:02|"
		    "-qmp|unix:/r/vms/vm-x.qmp,server=on,wait=off");
}

static void t_qemu_argv_too_long(void)
{
	static struct ui_vm vm;
	static struct pw_argv a;

	vm_init(&vm);
	memset(vm.kernel, 'k', sizeof(vm.kernel) - 1);
	memset(vm.initrd, 'i', sizeof(vm.initrd) - 1);
	memset(vm.rootfs, ',', sizeof(vm.rootfs) - 1); /* each written twice */
	memset(vm.console_log, 'c', sizeof(vm.console_log) - 1);
	memset(vm.boot_args, 'b', sizeof(vm.boot_args) - 1);
	T_EQ_INT(pw_qemu_argv("qemu", UI_ACCEL_TCG, &vm, &a), -E2BIG);
}

/* The wire format without a socket: cutting lines and decoding each. */
static void t_qmp_msg_parse(void)
{
	static const char in[] =
		"{\"QMP\": {\"version\": {}}}\r\n"
		"\r\n"
		"{\"event\": \"SHUTDOWN\", \"data\": {\"guest\": true}}\r\n"
		"{\"return\": {}, \"id\": 7}\r\n"
		"{\"error\": {\"class\": \"GenericError\", \"desc\": \"no\"}, \"id\": 8}\r\n"
		"{\"error\": 5}\r\n"
		"{\"event\": 1}\r\n"
		"[1]\r\n"
		"{\"partial\"";
	struct qmp_msg m;
	const char *line;
	size_t off = 0, n;

	T_ASSERT(qmp_next_line(in, sizeof(in) - 1, &off, &line, &n));
	T_EQ_INT(qmp_msg_parse(line, n, &m), 0);
	T_EQ_INT(m.kind, QMP_MSG_GREETING);
	qmp_msg_free(&m);
	T_ASSERT(qmp_next_line(in, sizeof(in) - 1, &off, &line, &n));
	T_EQ_INT(qmp_msg_parse(line, n, &m), 1);
	T_ASSERT(qmp_next_line(in, sizeof(in) - 1, &off, &line, &n));
	T_EQ_INT(qmp_msg_parse(line, n, &m), 0);
	T_EQ_INT(m.kind, QMP_MSG_EVENT);
	T_EQ_STR(m.event, "SHUTDOWN");
	T_ASSERT(json_is_true(json_object_get(m.data, "guest")));
	qmp_msg_free(&m);
	T_ASSERT(qmp_next_line(in, sizeof(in) - 1, &off, &line, &n));
	T_EQ_INT(qmp_msg_parse(line, n, &m), 0);
	T_EQ_INT(m.kind, QMP_MSG_REPLY);
	T_ASSERT(m.has_id && m.id == 7 && json_is_object(m.ret));
	qmp_msg_free(&m);
	T_ASSERT(qmp_next_line(in, sizeof(in) - 1, &off, &line, &n));
	T_EQ_INT(qmp_msg_parse(line, n, &m), 0);
	T_ASSERT(m.kind == QMP_MSG_REPLY && m.id == 8 && !m.ret);
	T_EQ_STR(m.err, "GenericError: no");
	qmp_msg_free(&m);
	T_ASSERT(qmp_next_line(in, sizeof(in) - 1, &off, &line, &n));
	T_EQ_INT(qmp_msg_parse(line, n, &m), 0);
	T_ASSERT(m.kind == QMP_MSG_REPLY && !m.has_id && !m.ret);
	T_EQ_STR(m.err, "Error: (no description)");
	qmp_msg_free(&m);
	T_ASSERT(qmp_next_line(in, sizeof(in) - 1, &off, &line, &n));
	T_EQ_INT(qmp_msg_parse(line, n, &m), 0);
	T_EQ_INT(m.kind, QMP_MSG_OTHER);
	qmp_msg_free(&m);
	T_ASSERT(qmp_next_line(in, sizeof(in) - 1, &off, &line, &n));
	T_EQ_INT(qmp_msg_parse(line, n, &m), -EPROTO);
	T_EQ_STR(m.err, "not an object");
	T_ASSERT(!qmp_next_line(in, sizeof(in) - 1, &off, &line, &n));
	T_EQ_STR(in + off, "{\"partial\"");
}

int main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		T_CASE_TIMEOUT(t_qmp_handshake, 10),
		T_CASE_TIMEOUT(t_qmp_command_reply, 10),
		T_CASE_TIMEOUT(t_qmp_error_reply, 10),
		T_CASE_TIMEOUT(t_qmp_event, 10),
		T_CASE_TIMEOUT(t_qmp_split_reply, 10),
		T_CASE_TIMEOUT(t_qmp_two_replies_one_write, 10),
		T_CASE_TIMEOUT(t_qmp_close_in_callback, 10),
		T_CASE_TIMEOUT(t_qmp_eof_fails_pending, 10),
		T_CASE_TIMEOUT(t_qmp_bad_greeting, 10),
		T_CASE_TIMEOUT(t_qmp_no_socket, 10),
		T_CASE(t_qmp_msg_parse),
		T_CASE(t_boot_args_styles),
		T_CASE(t_qemu_argv_tcg),
		T_CASE(t_qemu_argv_kvm_rootfs),
		T_CASE(t_qemu_argv_too_long),
		{ 0 },
	};
	return t_run(argc, argv, cases);
}
