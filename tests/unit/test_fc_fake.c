/*
 * test_fc_fake.c — proves the fake Firecracker (tests/fakes/, built as
 * $(BUILD)/tests/fakes/firecracker) is strict and correct, so the
 * Firecracker driver's tests can trust it.
 *
 * Each case starts the real fake binary in its own temp dir, exactly as the
 * pool-worker will (`firecracker --api-sock <dir>/api.sock --id <id>`),
 * talks to it over the unix socket with libcurl (or raw bytes for HTTP
 * corner cases) and checks answers, exit statuses and the call log. The
 * fake is spawned with PR_SET_PDEATHSIG so it cannot outlive a case that
 * times out; an atexit handler SIGKILLs it (by pid) and removes the dir.
 *
 * Binary: $FC_FAKE_BIN, else <dir of this test>/fakes/firecracker.
 */
#include "fc_fake_t.h"

/* ------------------------------------------------------------ cases */

static void t_full_sequence(void)
{
	json_t *j = NULL;

	fake_start();
	T_EQ_INT(api("GET", "/", NULL, &j), 200);
	T_EQ_STR(jstr(j, "state"), "Not started");
	json_decref(j);
	configure_and_start();
	T_EQ_INT(api("GET", "/", NULL, &j), 200);
	T_EQ_STR(jstr(j, "id"), "vm-test");
	T_EQ_STR(jstr(j, "state"), "Running");
	T_EQ_STR(jstr(j, "vmm_version"), "1.16.1");
	T_EQ_STR(jstr(j, "app_name"), "Firecracker");
	json_decref(j);
	T_EQ_INT(api("GET", "/machine-config", NULL, &j), 200);
	T_EQ_INT(json_integer_value(json_object_get(j, "vcpu_count")), 2);
	T_EQ_INT(json_integer_value(json_object_get(j, "mem_size_mib")), 256);
	T_ASSERT(json_is_false(json_object_get(j, "smt")));
	json_decref(j);
	T_EQ_INT(api("GET", "/version", NULL, &j), 200);
	T_EQ_STR(jstr(j, "firecracker_version"), "1.16.1");
	json_decref(j);
	T_EQ_INT(api("GET", "/vm/config", NULL, &j), 200);
	T_EQ_STR(jstr(json_array_get(json_object_get(j, "drives"), 0), "path_on_host"), F.rootfs);
	T_EQ_STR(jstr(json_object_get(j, "boot-source"), "kernel_image_path"), F.kernel);
	T_EQ_STR(jstr(json_array_get(json_object_get(j, "network-interfaces"), 0), "host_dev_name"),
		 "uit-2");
	json_decref(j);
}

static void t_unknown_field_ht_enabled(void)
{
	fake_start();
	expect_fault("PUT", "/machine-config",
		     "{\"vcpu_count\": 2, \"mem_size_mib\": 256, \"ht_enabled\": false}",
		     "unknown field `ht_enabled`");
	/* nested objects deny unknown fields too */
	expect_fault("PUT", "/network-interfaces/eth0",
		     "{\"iface_id\": \"eth0\", \"host_dev_name\": \"t\", \"rx_rate_limiter\": "
		     "{\"bandwidth\": {\"size\": 1, \"refill_time\": 1, \"burst\": 1}}}",
		     "unknown field `burst`");
}

static void t_missing_required(void)
{
	fake_start();
	expect_fault("PUT", "/drives/rootfs",
		     fmt("{\"drive_id\": \"rootfs\", \"path_on_host\": \"%s\", \"is_read_only\": false}",
			 F.rootfs), "missing field `is_root_device`");
	expect_fault("PUT", "/machine-config", "{\"vcpu_count\": 2}", "missing field `mem_size_mib`");
	expect_fault("PUT", "/boot-source", "{\"boot_args\": \"x\"}",
		     "missing field `kernel_image_path`");
	/* required inside a $ref'd nested object */
	expect_fault("PUT", "/drives/rootfs",
		     fmt("{\"drive_id\": \"rootfs\", \"path_on_host\": \"%s\", \"is_root_device\": true, "
			 "\"rate_limiter\": {\"ops\": {\"size\": 10}}}", F.rootfs),
		     "missing field `refill_time` at `rate_limiter.ops`");
}

static void t_wrong_types(void)
{
	fake_start();
	expect_fault("PUT", "/machine-config", "{\"vcpu_count\": \"2\", \"mem_size_mib\": 256}",
		     "invalid type: string \"2\", expected integer at `vcpu_count`");
	expect_fault("PUT", "/machine-config", "{\"vcpu_count\": 2, \"mem_size_mib\": 256.0}",
		     "expected integer at `mem_size_mib`");
	expect_fault("PUT", "/machine-config", "{\"vcpu_count\": 2, \"mem_size_mib\": 256, "
		     "\"smt\": \"false\"}", "expected boolean at `smt`");
	expect_fault("PUT", "/boot-source", fmt("{\"kernel_image_path\": \"%s\", "
		     "\"initrd_path\": null}", F.kernel), "invalid type: null");
	expect_fault("PUT", "/mmds/config", "{\"network_interfaces\": [1]}",
		     "expected string at `network_interfaces[0]`");
	expect_fault("PUT", "/machine-config", "[]", "invalid type: sequence, expected object");
	expect_fault("PUT", "/machine-config", "{\"vcpu_count\": 2,", "deserializing");
	expect_fault("PUT", "/machine-config", "{\"vcpu_count\": 2, \"vcpu_count\": 2, "
		     "\"mem_size_mib\": 1}", "duplicate");
}

static void t_enum_and_range(void)
{
	fake_start();
	expect_fault("PUT", "/drives/rootfs",
		     fmt("{\"drive_id\": \"rootfs\", \"path_on_host\": \"%s\", \"is_root_device\": true, "
			 "\"cache_type\": \"Bogus\"}", F.rootfs),
		     "unknown variant `Bogus`, expected one of `Unsafe`, `Writeback`");
	expect_ok("PUT", "/drives/rootfs",
		  fmt("{\"drive_id\": \"rootfs\", \"path_on_host\": \"%s\", \"is_root_device\": true, "
		      "\"cache_type\": \"Writeback\", \"io_engine\": \"Sync\"}", F.rootfs));
	expect_fault("PUT", "/actions", "{\"action_type\": \"Reboot\"}", "unknown variant `Reboot`");
	expect_fault("PUT", "/machine-config", "{\"vcpu_count\": 33, \"mem_size_mib\": 256}",
		     "expected a value <= 32");
	expect_fault("PUT", "/vsock", "{\"guest_cid\": 2, \"uds_path\": \"/tmp/v.sock\"}",
		     "expected a value >= 3");
	expect_fault("PUT", "/machine-config", "{\"vcpu_count\": 3, \"mem_size_mib\": 256, "
		     "\"smt\": true}", "The vCPU number is invalid");
}

static void t_unknown_path_and_method(void)
{
	fake_start();
	/* Firecracker answers 400 (not 404/405) for both */
	expect_fault("GET", "/nope", NULL, "Invalid request method and/or path: GET /nope.");
	expect_fault("PUT", "/drives", "{}", "Invalid request method and/or path");
	expect_fault("PUT", "/drives/a/b", "{}", "Invalid request method and/or path");
	expect_fault("GET", "/boot-source", NULL, "Invalid request method and/or path");
	expect_fault("DELETE", "/drives/rootfs", NULL, "Invalid request method and/or path");
	expect_fault("POST", "/actions", START, "Invalid request method and/or path");
}

static void t_body_rules(void)
{
	fake_start();
	expect_fault("PUT", "/machine-config", NULL, "Empty PUT request.");
	expect_fault("PATCH", "/machine-config", "{}", "Empty PATCH request.");
	expect_fault("GET", "/", "{}", "GET request cannot have a body.");
}

static void t_path_ids(void)
{
	fake_start();
	expect_fault("PUT", "/drives/data", drive_body(),
		     "The id from the path does not match the id from the body!");
	expect_fault("PUT", "/network-interfaces/eth1", NET,
		     "The id from the path does not match the id from the body!");
	expect_fault("PUT", "/drives/root-fs",
		     fmt("{\"drive_id\": \"root-fs\", \"path_on_host\": \"%s\", "
			 "\"is_root_device\": true}", F.rootfs),
		     "API Resource IDs can only contain alphanumeric characters and underscores.");
}

static void t_files_must_open(void)
{
	fake_start();
	expect_fault("PUT", "/boot-source", "{\"kernel_image_path\": \"/nonexistent/vmlinux\"}",
		     "The kernel file cannot be opened: No such file or directory (os error 2): "
		     "/nonexistent/vmlinux");
	expect_fault("PUT", "/boot-source", fmt("{\"kernel_image_path\": \"%s\", \"initrd_path\": "
		     "\"/nonexistent/initrd\"}", F.kernel), "/nonexistent/initrd");
	expect_fault("PUT", "/drives/rootfs", "{\"drive_id\": \"rootfs\", \"path_on_host\": "
		     "\"/nonexistent/rootfs\", \"is_root_device\": true}", "/nonexistent/rootfs");
	/* set while present, gone by InstanceStart */
	expect_ok("PUT", "/boot-source", boot_body());
	T_EQ_INT(unlink(F.kernel), 0);
	expect_fault("PUT", "/actions", START, F.kernel);
}

static void t_start_rules(void)
{
	fake_start();
	expect_fault("PUT", "/actions", START, "Cannot start microvm without kernel configuration.");
	expect_fault("PUT", "/actions", CAD,
		     "The requested operation is not supported before starting the microVM.");
	expect_fault("PUT", "/actions", "{\"action_type\": \"FlushMetrics\"}",
		     "not supported before starting");
	expect_fault("PATCH", "/drives/rootfs", "{\"drive_id\": \"rootfs\"}",
		     "not supported before starting");
	configure_and_start();
	expect_fault("PUT", "/actions", START,
		     "The requested operation is not supported after starting the microVM.");
	expect_fault("PUT", "/boot-source", boot_body(), "not supported after starting");
	expect_fault("PUT", "/drives/rootfs", drive_body(), "not supported after starting");
	expect_fault("PUT", "/network-interfaces/eth0", NET, "not supported after starting");
	expect_fault("PUT", "/machine-config", MACHINE, "not supported after starting");
	expect_fault("PATCH", "/machine-config", "{\"vcpu_count\": 1}", "not supported after starting");
	expect_fault("PUT", "/logger", "{\"level\": \"Info\"}", "not supported after starting");
	expect_ok("PUT", "/actions", "{\"action_type\": \"FlushMetrics\"}");
	expect_ok("PATCH", "/drives/rootfs", "{\"drive_id\": \"rootfs\"}");
}

static void t_config_semantics(void)
{
	json_t *j = NULL;

	fake_start();
	expect_ok("PATCH", "/machine-config", "{\"vcpu_count\": 4}");
	T_EQ_INT(api("GET", "/machine-config", NULL, &j), 200);
	T_EQ_INT(json_integer_value(json_object_get(j, "vcpu_count")), 4);
	T_EQ_INT(json_integer_value(json_object_get(j, "mem_size_mib")), 128);
	json_decref(j);
	expect_ok("PUT", "/drives/rootfs", drive_body());
	expect_fault("PUT", "/drives/data", fmt("{\"drive_id\": \"data\", \"path_on_host\": \"%s\", "
		     "\"is_root_device\": true}", F.kernel), "A root block device already exists!");
	expect_fault("PUT", "/network-interfaces/eth0", "{\"iface_id\": \"eth0\", "
		     "\"host_dev_name\": \"t\", \"guest_mac\": \"06:00:0a:00:00\"}", "Invalid MAC");
	expect_ok("PUT", "/network-interfaces/eth0", NET);
	expect_fault("PUT", "/network-interfaces/eth1", "{\"iface_id\": \"eth1\", "
		     "\"host_dev_name\": \"other\", \"guest_mac\": \"06:00:0A:00:00:02\"}",
		     "already in use");
	expect_fault("PUT", "/logger", fmt("{\"log_path\": \"%s/missing.log\"}", F.dir),
		     "Failed to open target file");
	expect_fault("PUT", "/mmds/config", "{\"network_interfaces\": [\"eth9\"]}",
		     "does not correspond to any existing network interface");
	expect_ok("PUT", "/mmds/config", "{\"network_interfaces\": [\"eth0\"], \"version\": \"V2\"}");
	configure_and_start();
	expect_ok("PATCH", "/vm", "{\"state\": \"Paused\"}");
	T_EQ_INT(api("GET", "/", NULL, &j), 200);
	T_EQ_STR(jstr(j, "state"), "Paused");
	json_decref(j);
}

static void t_logger_redirects_log(void)
{
	char path[160];

	fake_start();
	snprintf(path, sizeof(path), "%s/fc.log", F.dir);
	write_file(path, "");
	expect_ok("PUT", "/logger", fmt("{\"log_path\": \"%s\", \"level\": \"Debug\"}", path));
	expect_ok("PUT", "/boot-source", boot_body());
	T_ASSERT(file_has(path, "/boot-source"));
}

static void t_socket_exists(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int st;

	fake_setup();
	/* a stale socket file, as a killed VMM leaves behind */
	memcpy(sa.sun_path, F.sock, strnlen(F.sock, sizeof(sa.sun_path) - 1));
	T_EQ_INT(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	fake_spawn(NULL, NULL);
	st = fake_wait_exit(5000);
	T_ASSERT(st != -1 && WIFEXITED(st));
	T_EQ_INT(WEXITSTATUS(st), 1);
	T_ASSERT(file_has(F.err, fmt("Failed to open the API socket at: %s. Check that it is "
				     "not already used.", F.sock)));
	T_ASSERT(access(F.sock, F_OK) == 0);
}

static void t_ctrl_alt_del_powers_off(void)
{
	json_t *log, *last;
	long t0;
	int st;

	fake_start();
	configure_and_start();
	t0 = now_ms();
	expect_ok("PUT", "/actions", CAD);
	st = fake_wait_exit(3000);
	T_ASSERT(st != -1 && WIFEXITED(st));
	T_EQ_INT(WEXITSTATUS(st), 0);
	T_ASSERT(now_ms() - t0 >= 40);
	T_ASSERT(access(F.sock, F_OK) == 0); /* like firecracker: the socket file stays */
	log = calls(F.calls);
	last = json_array_get(log, json_array_size(log) - 1);
	T_EQ_STR(jstr(last, "event"), "exit");
	T_EQ_STR(jstr(last, "reason"), "ctrl-alt-del");
	json_decref(log);
}

static void t_ctrl_alt_del_ignored(void)
{
	static const char *const env[] = { "FC_FAKE_IGNORE_CTRL_ALT_DEL=1", NULL };
	json_t *j = NULL;
	int st;

	fake_start_env(env);
	configure_and_start();
	expect_ok("PUT", "/actions", CAD);
	sleep_ms(400);
	T_EQ_INT(waitpid(F.pid, NULL, WNOHANG), 0);
	T_EQ_INT(api("GET", "/", NULL, &j), 200);
	T_EQ_STR(jstr(j, "state"), "Running");
	json_decref(j);
	T_EQ_INT(kill(F.pid, SIGKILL), 0);
	st = fake_wait_exit(3000);
	T_ASSERT(st != -1 && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
}

static void t_exit_after_start(void)
{
	static const char *const env[] = { "FC_FAKE_EXIT_AFTER_START_MS=150", NULL };
	json_t *log;
	int st;

	fake_start_env(env);
	sleep_ms(300); /* no countdown before InstanceStart */
	T_EQ_INT(waitpid(F.pid, NULL, WNOHANG), 0);
	configure_and_start();
	st = fake_wait_exit(3000);
	T_ASSERT(st != -1 && WIFEXITED(st));
	T_EQ_INT(WEXITSTATUS(st), 1);
	log = calls(F.calls);
	T_EQ_STR(jstr(json_array_get(log, json_array_size(log) - 1), "reason"), "exit-after-start");
	json_decref(log);
}

static void t_start_delay(void)
{
	static const char *const env[] = { "FC_FAKE_START_DELAY_MS=400", NULL };
	long t0 = now_ms(), end = t0 + 3000;
	struct stat sb;
	int fd;

	fake_setup();
	fake_spawn(env, NULL);
	while (stat(F.sock, &sb) < 0)
		T_ASSERT(now_ms() < end);
	T_ASSERT(S_ISSOCK(sb.st_mode));
	/* the file is there, nobody answers yet */
	fd = sock_connect();
	T_EQ_INT(fd, -ECONNREFUSED);
	fake_wait_ready();
	T_ASSERT(now_ms() - t0 >= 300);
	T_EQ_INT(api("GET", "/", NULL, NULL), 200);
}

static void t_sigterm(void)
{
	json_t *log;
	int st;

	fake_start();
	T_EQ_INT(api("GET", "/", NULL, NULL), 200);
	T_EQ_INT(kill(F.pid, SIGTERM), 0);
	st = fake_wait_exit(3000);
	T_ASSERT(st != -1 && WIFEXITED(st));
	T_EQ_INT(WEXITSTATUS(st), 0);
	T_ASSERT(access(F.sock, F_OK) == 0);
	log = calls(F.calls);
	T_EQ_STR(jstr(json_array_get(log, json_array_size(log) - 1), "reason"), "SIGTERM");
	json_decref(log);
}

static void t_command_line(void)
{
	static const char *const bogus[] = { "--api-sock", "x.sock", "--bogus", NULL };
	static const char *const novalue[] = { "--id", "vm-1", "--api-sock", NULL };
	static const char *const twice[] = { "--id", "a", "--id", "b", NULL };
	static const char *const badid[] = { "--api-sock", "x.sock", "--id", "vm_1", NULL };
	int st;

	fake_setup();
	fake_spawn(NULL, bogus);
	st = fake_wait_exit(3000);
	T_ASSERT(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 153);
	T_ASSERT(file_has(F.err, "Found argument '--bogus' which wasn't expected"));
	fake_spawn(NULL, novalue);
	st = fake_wait_exit(3000);
	T_ASSERT(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 153);
	T_ASSERT(file_has(F.err, "requires a value"));
	fake_spawn(NULL, twice);
	st = fake_wait_exit(3000);
	T_ASSERT(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 153);
	fake_spawn(NULL, badid);
	st = fake_wait_exit(3000);
	T_ASSERT(st != -1 && WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
	T_ASSERT(file_has(F.err, "Invalid instance ID"));
}

static void t_real_flags_accepted(void)
{
	char log[160];
	const char *args[] = { "--api-sock", F.sock, "--id", "vm-flags", "--level", "Debug",
			       "--boot-timer", "--no-seccomp", "--show-level",
			       "--log-path", log, NULL };

	fake_setup();
	snprintf(log, sizeof(log), "%s/fc.log", F.dir);
	write_file(log, "");
	fake_spawn(NULL, args);
	fake_wait_ready();
	T_EQ_INT(api("GET", "/", NULL, NULL), 200);
	T_ASSERT(file_has(log, "[vm-flags:fc_api:INFO] The API server received a GET"));
}

static void t_contract_required(void)
{
	static const char *const env[] = { "FC_FAKE_CONTRACT=/nonexistent/fc.yaml", NULL };
	int st;

	fake_setup();
	fake_spawn(env, NULL);
	st = fake_wait_exit(3000);
	T_ASSERT(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 1);
	T_ASSERT(file_has(F.err, "/nonexistent/fc.yaml"));
	T_ASSERT(access(F.sock, F_OK) != 0);
}

/* The real contract with one edit, as text; the edit must apply. */
static void edited_contract(const char *path, const char *from, const char *to)
{
	char src[4096], *text, *at, *out;
	const char *bin = fake_bin();
	size_t len;

	/* <repo>/build/tests/fakes/firecracker → <repo>/../shared/reference/... */
	snprintf(src, sizeof(src), "%s", bin);
	for (int i = 0; i < 4; i++)
		*strrchr(src, '/') = '\0';
	strcat(src, "/../shared/reference/firecracker-api-v1.16.1.yaml");
	text = getenv("FC_FAKE_CONTRACT") ? read_file(getenv("FC_FAKE_CONTRACT")) : read_file(src);
	if (!text)
		T_SKIP("cannot find the contract next to the repo");
	at = strstr(text, from);
	T_ASSERT(at);
	len = strlen(text) + strlen(to) + 1;
	out = malloc(len);
	snprintf(out, len, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
	write_file(path, out);
	free(out);
}

static void t_contract_drives_validation(void)
{
	static char envbuf[256];
	const char *env[] = { envbuf, NULL };
	char path[160];

	fake_setup();
	snprintf(path, sizeof(path), "%s/edited.yaml", F.dir);
	/* make boot_args required: only the YAML says so */
	edited_contract(path, "    required:\n      - kernel_image_path\n",
			"    required:\n      - kernel_image_path\n      - boot_args\n");
	snprintf(envbuf, sizeof(envbuf), "FC_FAKE_CONTRACT=%s", path);
	fake_spawn(env, NULL);
	fake_wait_ready();
	expect_fault("PUT", "/boot-source", fmt("{\"kernel_image_path\": \"%s\"}", F.kernel),
		     "missing field `boot_args`");
	expect_ok("PUT", "/boot-source", boot_body());
}

static void t_contract_unknown_keyword(void)
{
	static char envbuf[256];
	const char *env[] = { envbuf, NULL };
	char path[160];
	int st;

	fake_setup();
	snprintf(path, sizeof(path), "%s/edited.yaml", F.dir);
	edited_contract(path, "    required:\n      - kernel_image_path\n",
			"    required:\n      - kernel_image_path\n    maxProperties: 3\n");
	snprintf(envbuf, sizeof(envbuf), "FC_FAKE_CONTRACT=%s", path);
	fake_spawn(env, NULL);
	st = fake_wait_exit(3000);
	T_ASSERT(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 1);
	T_ASSERT(file_has(F.err, "unsupported schema keyword 'maxProperties'"));
}

static void t_call_log(void)
{
	static const struct { const char *method, *path; int status; } want[] = {
		{ "PUT", "/machine-config", 204 }, { "PUT", "/network-interfaces/eth0", 204 },
		{ "PUT", "/boot-source", 204 }, { "PUT", "/drives/rootfs", 204 },
		{ "PUT", "/actions", 204 }, { "PUT", "/boot-source", 400 }, { "GET", "/", 200 },
	};
	json_t *log, *e;
	size_t i;

	fake_start();
	configure_and_start();
	expect_fault("PUT", "/boot-source", boot_body(), "after starting");
	T_EQ_INT(api("GET", "/", NULL, NULL), 200);
	log = calls(F.calls);
	T_EQ_INT(json_array_size(log), 1 + sizeof(want) / sizeof(want[0]));
	e = json_array_get(log, 0);
	T_EQ_STR(jstr(e, "event"), "spawn");
	T_EQ_INT(json_integer_value(json_object_get(e, "pid")), F.pid);
	T_EQ_STR(json_string_value(json_array_get(json_object_get(e, "argv"), 1)), "--api-sock");
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		e = json_array_get(log, i + 1);
		T_EQ_STR(jstr(e, "method"), want[i].method);
		T_EQ_STR(jstr(e, "path"), want[i].path);
		T_EQ_INT(json_integer_value(json_object_get(e, "status")), want[i].status);
		T_ASSERT(json_is_integer(json_object_get(e, "t_ms")));
		T_ASSERT(want[i].status == 400 ? json_is_string(json_object_get(e, "fault"))
					       : json_is_null(json_object_get(e, "fault")));
	}
	e = json_array_get(log, 4);
	T_EQ_STR(jstr(json_object_get(e, "body"), "drive_id"), "rootfs");
	T_ASSERT(json_is_null(json_object_get(json_array_get(log, 7), "body")));
	json_decref(log);
}

static void t_call_log_dir(void)
{
	static char envbuf[256];
	const char *env[] = { envbuf, NULL };
	char path[256];
	json_t *log;

	fake_setup();
	snprintf(envbuf, sizeof(envbuf), "FC_FAKE_LOG_DIR=%s", F.dir);
	fake_spawn(env, NULL);
	fake_wait_ready();
	T_EQ_INT(api("GET", "/", NULL, NULL), 200);
	snprintf(path, sizeof(path), "%s/vm-test.calls.jsonl", F.dir);
	log = calls(path);
	T_EQ_INT(json_array_size(log), 2);
	json_decref(log);
	T_ASSERT(access(F.calls, F_OK) != 0);
}

static void t_keep_alive_and_connections(void)
{
	const char *out;
	int a, b;

	fake_start();
	T_EQ_INT(api("GET", "/", NULL, NULL), 200);
	T_EQ_INT(api("PUT", "/machine-config", MACHINE, NULL), 204);
	T_EQ_INT(last_new_conns, 0); /* reused the connection */
	T_EQ_INT(api("GET", "/machine-config", NULL, NULL), 200);
	T_EQ_INT(last_new_conns, 0);
	/* two requests in one write on one connection: two answers, in order */
	out = raw(fmt("GET /version HTTP/1.1\r\nHost: x\r\n\r\n"
		      "PUT /actions HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n\r\n%s",
		      strlen(START), START), 300);
	T_ASSERT(strstr(out, "HTTP/1.1 200"));
	T_ASSERT(strstr(out, "HTTP/1.1 400"));
	T_ASSERT(strstr(out, "HTTP/1.1 200") < strstr(out, "HTTP/1.1 400"));
	/* several connections at once */
	a = sock_connect();
	b = sock_connect();
	T_ASSERT(a >= 0 && b >= 0);
	T_EQ_INT(api("GET", "/", NULL, NULL), 200);
	close(a);
	close(b);
}

static void t_http_edges(void)
{
	const char *args[] = { "--api-sock", F.sock, "--id", "vm-test",
			       "--http-api-max-payload-size", "64", NULL };
	const char *out;
	int st;

	fake_start();
	out = raw("PUT /machine-config HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
		  "5\r\n{\"a\":\r\n0\r\n\r\n", 300);
	T_ASSERT(strstr(out, "HTTP/1.1 400") && strstr(out, "Chunked"));
	out = raw("PUT /machine-config HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
		  "Content-Length: 53\r\n\r\n", 300);
	T_ASSERT(strstr(out, "HTTP/1.1 100 Continue"));
	out = raw("this is not http\r\n\r\n", 300);
	T_ASSERT(strstr(out, "HTTP/1.1 400"));
	/* a body over --http-api-max-payload-size */
	kill(F.pid, SIGKILL);
	T_ASSERT(fake_wait_exit(3000) != -1);
	unlink(F.sock);
	fake_spawn(NULL, args);
	fake_wait_ready();
	expect_fault("PUT", "/machine-config", "{\"vcpu_count\": 2, \"mem_size_mib\": 256, "
		     "\"smt\": false, \"track_dirty_pages\": false}", "larger than the limit");
	st = api("PUT", "/machine-config", MACHINE, NULL);
	T_EQ_INT(st, 204);
}

int main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		T_CASE(t_full_sequence),
		T_CASE(t_unknown_field_ht_enabled),
		T_CASE(t_missing_required),
		T_CASE(t_wrong_types),
		T_CASE(t_enum_and_range),
		T_CASE(t_unknown_path_and_method),
		T_CASE(t_body_rules),
		T_CASE(t_path_ids),
		T_CASE(t_files_must_open),
		T_CASE(t_start_rules),
		T_CASE(t_config_semantics),
		T_CASE(t_logger_redirects_log),
		T_CASE(t_socket_exists),
		T_CASE(t_ctrl_alt_del_powers_off),
		T_CASE(t_ctrl_alt_del_ignored),
		T_CASE(t_exit_after_start),
		T_CASE(t_start_delay),
		T_CASE(t_sigterm),
		T_CASE(t_command_line),
		T_CASE(t_real_flags_accepted),
		T_CASE(t_contract_required),
		T_CASE(t_contract_drives_validation),
		T_CASE(t_contract_unknown_keyword),
		T_CASE(t_call_log),
		T_CASE(t_call_log_dir),
		T_CASE(t_keep_alive_and_connections),
		T_CASE(t_http_edges),
		{ 0 },
	};

	return fake_t_main(argc, argv, cases);
}
