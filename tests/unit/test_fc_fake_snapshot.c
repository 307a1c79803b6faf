/*
 * test_fc_fake_snapshot.c — the fake Firecracker's snapshots and vsock
 * (tests/fakes/fc_snapshot.c, fc_vsock.c, fc_guest.c), against the rules of
 * Firecracker v1.16.1 that tests/fakes/README.md lists with their sources:
 *
 *  - PUT /snapshot/create only when Paused, writes the state file (the
 *    fake's format) and a mem_size_mib MiB memory file; errors name errno;
 *  - PUT /snapshot/load only on a fresh process, exactly one of mem_file_path
 *    / mem_backend, overrides applied (GET /vm/config), Paused or Running
 *    (resume_vm), every later pre-boot call refused; a failed restore
 *    answers 400 and the process exits 1, as Firecracker's does;
 *  - the vsock uds is bound at PUT /vsock (and at a load), `CONNECT <port>\n`
 *    to a port nobody listens on, or a malformed line, is closed;
 *  - FC_FAKE_GUEST_AGENT=1: the template's banner, the restored copy's
 *    `OK <host port>\n`, `OK\n` to the agent line, the call-log event, the
 *    ready text;
 *  - the jailer fake: relative paths are relative to the chroot (root only).
 *
 * Each case runs the real fake binary (fc_fake_t.h); no root except the
 * jailer case (skipped without it), no QEMU.
 */
#include <sys/stat.h>

#include "fc_fake_t.h"

#define MIB (1024LL * 1024)
#define VSOCK_ANSWER_MS 20000 /* generous: a loaded machine */

/* Paths in the case's temp dir, made after fake_setup(). */
static const char *path_in(const char *name)
{
	static char bufs[8][192];
	static int i;

	i = (i + 1) % 8;
	snprintf(bufs[i], sizeof(bufs[i]), "%s/%s", F.dir, name);
	return bufs[i];
}

/* Kills the running fake (by pid), keeps its call log as <calls>.<n>, frees
 * the API socket path: the dir is ready for the next process. */
static void fake_retire(void)
{
	static int n;
	char old[200];

	if (F.pid > 0) {
		kill(F.pid, SIGKILL);
		waitpid(F.pid, NULL, 0);
		F.pid = 0;
	}
	if (F.curl)
		curl_easy_cleanup(F.curl);
	F.curl = NULL;
	snprintf(old, sizeof(old), "%s.%d", F.calls, n++);
	rename(F.calls, old);
	unlink(F.sock);
}

static void fake_respawn(const char *const *env)
{
	fake_retire();
	fake_spawn(env, NULL);
	fake_wait_ready();
}

/* ------------------------------------------------------------ vsock client */

static int uds_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	T_ASSERT(fd >= 0);
	T_ASSERT(strlen(path) < sizeof(sa.sun_path));
	strcpy(sa.sun_path, path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		T_FAIL("connect %s: %s", path, strerror(errno));
	return fd;
}

static void send_str(int fd, const char *s)
{
	T_ASSERT(write(fd, s, strlen(s)) == (ssize_t)strlen(s));
}

/* Reads until a '\n' (kept), EOF or timeout; *eof says whether the peer
 * closed. Returns the bytes read (static). */
static const char *read_line(int fd, int timeout_ms, bool *eof)
{
	static char out[512];
	size_t n = 0;
	struct pollfd p = { .fd = fd, .events = POLLIN };

	*eof = false;
	while (n < sizeof(out) - 1 && poll(&p, 1, timeout_ms) == 1) {
		ssize_t r = read(fd, out + n, 1);

		if (r <= 0) {
			*eof = true;
			break;
		}
		if (out[n++] == '\n')
			break;
	}
	out[n] = '\0';
	return out;
}

/* The fake closes the connection without writing anything. */
static void expect_closed(int fd)
{
	bool eof;
	const char *got = read_line(fd, VSOCK_ANSWER_MS, &eof);

	if (!eof || *got)
		T_FAIL("expected the vsock connection closed with nothing written, got \"%s\"%s",
		       got, eof ? " then EOF" : " and no EOF");
	close(fd);
}

/* ------------------------------------------------------------ configurations */

#define PAUSE "{\"state\": \"Paused\"}"
#define RESUME "{\"state\": \"Resumed\"}"
#define AGENT_ARGS "console=ttyS0 reboot=k uigniter.agent=vsock:52"

static const char *vsock_body(const char *uds)
{
	return fmt("{\"guest_cid\": 3, \"uds_path\": \"%s\"}", uds);
}

static const char *create_body(const char *snap, const char *mem)
{
	return fmt("{\"snapshot_path\": \"%s\", \"mem_file_path\": \"%s\"}", snap, mem);
}

static const char *boot_with(const char *args)
{
	return fmt("{\"kernel_image_path\": \"%s\", \"boot_args\": \"%s\"}", F.kernel, args);
}

/* machine, eth0 on uit-2, kernel (boot_args), rootfs, vsock on <dir>/v.sock
 * (when vsock), InstanceStart. */
static void configure(const char *boot_args, bool vsock)
{
	expect_ok("PUT", "/machine-config", MACHINE);
	expect_ok("PUT", "/network-interfaces/eth0", NET);
	expect_ok("PUT", "/boot-source", boot_with(boot_args));
	expect_ok("PUT", "/drives/rootfs", drive_body());
	if (vsock)
		expect_ok("PUT", "/vsock", vsock_body(path_in("v.sock")));
	expect_ok("PUT", "/actions", START);
}

/* A template: a fake started (env), configured, paused, snapshotted to
 * <dir>/snap + <dir>/mem, then killed; its uds removed (a slot binds its own). */
static void make_template(const char *const *env, const char *boot_args, bool vsock)
{
	fake_start_env(env);
	configure(boot_args, vsock);
	expect_ok("PATCH", "/vm", PAUSE);
	expect_ok("PUT", "/snapshot/create", create_body(path_in("snap"), path_in("mem")));
	fake_retire();
	unlink(path_in("v.sock"));
}

static const char *load_body(const char *extra)
{
	return fmt("{\"snapshot_path\": \"%s\", \"mem_backend\": {\"backend_type\": \"File\", "
		   "\"backend_path\": \"%s\"}%s}", path_in("snap"), path_in("mem"), extra);
}

#define SLOT_OVERRIDES(uds) \
	fmt(", \"network_overrides\": [{\"iface_id\": \"eth0\", \"host_dev_name\": \"uit-9\"}], " \
	    "\"vsock_override\": {\"uds_path\": \"%s\"}", uds)

static const char *state_now(void)
{
	static char s[32];
	json_t *j = NULL;

	T_EQ_INT(api("GET", "/", NULL, &j), 200);
	snprintf(s, sizeof(s), "%s", jstr(j, "state"));
	json_decref(j);
	return s;
}

/* The last call-log line for method + path in the current log. */
static json_t *last_call(const char *method, const char *path)
{
	json_t *arr = calls(F.calls), *c, *found = NULL;
	size_t i;

	json_array_foreach(arr, i, c)
		if (!strcmp(jstr(c, "method"), method) && !strcmp(jstr(c, "path"), path))
			found = c;
	if (!found)
		T_FAIL("no %s %s in the call log", method, path);
	json_incref(found);
	json_decref(arr);
	return found;
}

static json_t *event_lines(const char *event)
{
	json_t *arr = calls(F.calls), *c, *out = json_array();
	size_t i;

	json_array_foreach(arr, i, c)
		if (!strcmp(jstr(c, "event"), event))
			json_array_append(out, c);
	json_decref(arr);
	return out;
}

static int count_in(const char *path, const char *needle)
{
	const char *t = read_file(path);
	int n = 0;

	for (const char *p = t; p && (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

/* SIGTERM: the fake exits 0 (and, under ASan, leak-free). */
static void expect_clean_exit(void)
{
	int st;

	kill(F.pid, SIGTERM);
	st = fake_wait_exit(VSOCK_ANSWER_MS);
	T_ASSERT(st != -1 && WIFEXITED(st));
	T_EQ_INT(WEXITSTATUS(st), 0);
}

/* A restore failure: 400 with want, then the process exits 1 by itself. */
static void expect_fatal_load(const char *body, const char *want)
{
	int st;

	expect_fault("PUT", "/snapshot/load", body, want);
	st = fake_wait_exit(VSOCK_ANSWER_MS);
	T_ASSERT(st != -1);
	T_ASSERT(WIFEXITED(st));
	T_EQ_INT(WEXITSTATUS(st), 1);
	T_ASSERT(file_has(F.calls, "\"reason\":\"snapshot load failed\""));
}

/* ------------------------------------------------------------ create */

static void t_create_needs_paused(void)
{
	fake_start();
	expect_fault("PUT", "/snapshot/create", create_body(path_in("s"), path_in("m")),
		     "The requested operation is not supported before starting the microVM.");
	configure("console=ttyS0", false);
	expect_fault("PUT", "/snapshot/create", create_body(path_in("s"), path_in("m")),
		     "Create snapshot error: Cannot save the microVM state: Operation not "
		     "allowed: save/restore unavailable while running");
	T_ASSERT(access(path_in("s"), F_OK) < 0);
	T_ASSERT(access(path_in("m"), F_OK) < 0);
	expect_ok("PATCH", "/vm", PAUSE);
	expect_ok("PATCH", "/vm", RESUME);
	expect_fault("PUT", "/snapshot/create", create_body(path_in("s"), path_in("m")),
		     "save/restore unavailable while running");
}

static void t_create_writes_files(void)
{
	struct stat st;
	const char *text;
	json_t *c;

	fake_start();
	configure("console=ttyS0", true);
	expect_ok("PATCH", "/vm", PAUSE);
	expect_ok("PUT", "/snapshot/create", create_body(path_in("snap"), path_in("mem")));
	T_ASSERT(stat(path_in("mem"), &st) == 0);
	T_EQ_INT(st.st_size, 256 * MIB); /* MACHINE's mem_size_mib */
	text = read_file(path_in("snap"));
	T_ASSERT(text && !strncmp(text, "FIRECRACKER-FAKE-SNAPSHOT 1\n", 28));
	T_ASSERT(strstr(text, "\"host_dev_name\":\"uit-2\""));
	T_ASSERT(strstr(text, "\"guest_mac\":\"06:00:0a:00:00:02\""));
	T_ASSERT(strstr(text, path_in("v.sock")));
	T_ASSERT(strstr(text, F.rootfs));
	/* Diff: accepted with or without track_dirty_pages (v1.13+: mincore) */
	expect_ok("PUT", "/snapshot/create", fmt("{\"snapshot_path\": \"%s\", \"mem_file_path\": "
		  "\"%s\", \"snapshot_type\": \"Diff\"}", path_in("snap2"), path_in("mem2")));
	T_ASSERT(stat(path_in("mem2"), &st) == 0 && st.st_size == 256 * MIB);
	/* unwritable paths: the errno text, and which file */
	expect_fault("PUT", "/snapshot/create", create_body(path_in("no/snap"), path_in("m")),
		     "Create snapshot error: Cannot perform open on the snapshot backing file: "
		     "No such file or directory (os error 2)");
	expect_fault("PUT", "/snapshot/create", create_body(path_in("s3"), path_in("no/mem")),
		     "Create snapshot error: Cannot perform open on the memory backing file: "
		     "No such file or directory (os error 2)");
	expect_fault("PUT", "/snapshot/create", "{\"snapshot_path\": \"x\", \"mem_file_path\": "
		     "\"y\", \"snapshot_type\": \"Incremental\"}", "Incremental");
	c = last_call("PUT", "/snapshot/create");
	T_EQ_INT(json_integer_value(json_object_get(c, "status")), 400);
	json_decref(c);
	T_ASSERT(file_has(F.calls, fmt("\"snapshot_path\":\"%s\"", path_in("snap"))));
	T_EQ_STR(state_now(), "Paused");
	expect_clean_exit();
}

/* ------------------------------------------------------------ load */

static void t_load_with_overrides(void)
{
	json_t *j = NULL, *nic, *c;
	struct stat st;

	make_template(NULL, "console=ttyS0", true);
	fake_respawn(NULL);
	T_EQ_STR(state_now(), "Not started");
	expect_ok("PUT", "/snapshot/load", load_body(SLOT_OVERRIDES(path_in("v2.sock"))));
	T_EQ_STR(state_now(), "Paused");
	T_ASSERT(stat(path_in("v2.sock"), &st) == 0 && S_ISSOCK(st.st_mode));
	T_ASSERT(access(path_in("v.sock"), F_OK) < 0);
	T_EQ_INT(api("GET", "/vm/config", NULL, &j), 200);
	nic = json_array_get(json_object_get(j, "network-interfaces"), 0);
	T_EQ_STR(jstr(nic, "iface_id"), "eth0");
	T_EQ_STR(jstr(nic, "host_dev_name"), "uit-9");
	T_EQ_STR(jstr(nic, "guest_mac"), "06:00:0a:00:00:02");
	T_EQ_STR(jstr(json_object_get(j, "vsock"), "uds_path"), path_in("v2.sock"));
	T_EQ_INT(json_integer_value(json_object_get(json_object_get(j, "vsock"), "guest_cid")), 3);
	T_EQ_STR(jstr(json_array_get(json_object_get(j, "drives"), 0), "path_on_host"), F.rootfs);
	T_EQ_INT(json_integer_value(json_object_get(json_object_get(j, "machine-config"),
						    "mem_size_mib")), 256);
	T_EQ_INT(json_integer_value(json_object_get(json_object_get(j, "machine-config"),
						    "vcpu_count")), 2);
	/* Firecracker: a restored VM's boot-source is empty */
	T_EQ_STR(jstr(json_object_get(j, "boot-source"), "kernel_image_path"), "");
	json_decref(j);
	/* the overrides are in the logged body */
	c = last_call("PUT", "/snapshot/load");
	T_EQ_INT(json_integer_value(json_object_get(c, "status")), 204);
	T_EQ_STR(jstr(json_array_get(json_object_get(json_object_get(c, "body"),
						     "network_overrides"), 0), "host_dev_name"),
		 "uit-9");
	json_decref(c);
	expect_ok("PATCH", "/vm", RESUME);
	T_EQ_STR(state_now(), "Running");
	expect_ok("PATCH", "/vm", PAUSE);
	T_EQ_STR(state_now(), "Paused");
	/* loaded = started: pre-boot calls, a second load, InstanceStart refused */
	expect_fault("PUT", "/snapshot/load", load_body(""), "not supported after starting");
	expect_fault("PUT", "/actions", START, "not supported after starting");
	expect_fault("PUT", "/machine-config", MACHINE, "not supported after starting");
	expect_fault("PUT", "/vsock", vsock_body(path_in("v3.sock")), "not supported after starting");
	expect_fault("PUT", "/network-interfaces/eth0", NET, "not supported after starting");
	T_ASSERT(waitpid(F.pid, NULL, WNOHANG) == 0); /* refusals are not fatal */
	/* and it can be snapshotted again */
	expect_ok("PUT", "/snapshot/create", create_body(path_in("snap-b"), path_in("mem-b")));
	T_ASSERT(file_has(path_in("snap-b"), "\"host_dev_name\":\"uit-9\""));
	expect_clean_exit();
}

static void t_load_resume_vm(void)
{
	make_template(NULL, "console=ttyS0", false);
	fake_respawn(NULL);
	expect_ok("PUT", "/snapshot/load", fmt("{\"snapshot_path\": \"%s\", \"mem_file_path\": "
		  "\"%s\", \"resume_vm\": true, \"track_dirty_pages\": true, \"clock_realtime\": "
		  "true}", path_in("snap"), path_in("mem")));
	T_EQ_STR(state_now(), "Running");
	T_ASSERT(file_has(F.calls, "\"resume_vm\":true"));
}

static void t_load_needs_fresh_process(void)
{
	char log[200];

	make_template(NULL, "console=ttyS0", false);
	fake_respawn(NULL);
	expect_ok("PUT", "/machine-config", MACHINE);
	expect_fault("PUT", "/snapshot/load", load_body(""), "Load snapshot error: Loading a "
		     "microVM snapshot not allowed after configuring boot-specific resources.");
	T_EQ_STR(state_now(), "Not started");
	T_ASSERT(waitpid(F.pid, NULL, WNOHANG) == 0); /* not a restore failure: alive */
	/* a failed PUT of a boot resource counts too (Firecracker marks it first) */
	fake_respawn(NULL);
	expect_fault("PUT", "/drives/rootfs", "{\"drive_id\": \"rootfs\", \"path_on_host\": "
		     "\"/nonexistent\", \"is_root_device\": true}", "No such file");
	expect_fault("PUT", "/snapshot/load", load_body(""), "not allowed after configuring");
	/* logger and metrics are allowed before a load */
	fake_respawn(NULL);
	snprintf(log, sizeof(log), "%s/fc.log", F.dir);
	write_file(log, "");
	expect_ok("PUT", "/logger", fmt("{\"log_path\": \"%s\", \"level\": \"Info\"}", log));
	expect_ok("PUT", "/snapshot/load", load_body(""));
	T_EQ_STR(state_now(), "Paused");
}

static void t_load_mem_fields(void)
{
	make_template(NULL, "console=ttyS0", false);
	fake_respawn(NULL);
	expect_fault("PUT", "/snapshot/load", fmt("{\"snapshot_path\": \"%s\", \"mem_file_path\": "
		     "\"%s\", \"mem_backend\": {\"backend_type\": \"File\", \"backend_path\": \"%s\"}}",
		     path_in("snap"), path_in("mem"), path_in("mem")),
		     "An error occurred when deserializing the json body of a request: too many "
		     "fields: either `mem_backend` or `mem_file_path` exclusively is required.");
	expect_fault("PUT", "/snapshot/load", fmt("{\"snapshot_path\": \"%s\"}", path_in("snap")),
		     "An error occurred when deserializing the json body of a request: missing "
		     "field: either `mem_backend` or `mem_file_path` is required.");
	expect_fault("PUT", "/snapshot/load", fmt("{\"snapshot_path\": \"%s\", \"mem_backend\": "
		     "{\"backend_type\": \"Uffd\", \"backend_path\": \"%s\"}}", path_in("snap"),
		     path_in("uffd.sock")), "Uffd");
	T_ASSERT(waitpid(F.pid, NULL, WNOHANG) == 0); /* parse errors are not fatal */
	T_EQ_STR(state_now(), "Not started");
	expect_ok("PUT", "/snapshot/load", load_body(""));
}

static void t_load_unknown_iface(void)
{
	make_template(NULL, "console=ttyS0", true);
	fake_respawn(NULL);
	expect_fatal_load(load_body(", \"network_overrides\": [{\"iface_id\": \"eth1\", "
				    "\"host_dev_name\": \"uit-9\"}]"),
			  "Load snapshot error: Failed to restore from snapshot: Failed to get "
			  "snapshot state from file: Unknown Network Device.");
}

static void t_load_vsock_override_without_vsock(void)
{
	make_template(NULL, "console=ttyS0", false);
	fake_respawn(NULL);
	expect_fatal_load(load_body(fmt(", \"vsock_override\": {\"uds_path\": \"%s\"}",
					path_in("v2.sock"))),
			  "Failed to get snapshot state from file: Unknown Vsock Device.");
}

static void t_load_missing_snapshot(void)
{
	fake_start();
	write_file(path_in("mem"), "");
	expect_fatal_load(fmt("{\"snapshot_path\": \"%s\", \"mem_file_path\": \"%s\"}",
			      path_in("nosnap"), path_in("mem")),
			  "Failed to get snapshot state from file: Failed to open snapshot file: "
			  "No such file or directory (os error 2)");
}

static void t_load_not_a_fake_snapshot(void)
{
	fake_start();
	write_file(path_in("snap"), "{\"machine-config\": {}}\n");
	write_file(path_in("mem"), "");
	expect_fatal_load(load_body(""), "Failed to load snapshot state from file");
}

static void t_load_other_version(void)
{
	char *text;

	make_template(NULL, "console=ttyS0", false);
	text = strdup(read_file(path_in("snap")));
	T_ASSERT(text && text[26] == '1');
	text[26] = '9';
	write_file(path_in("snap"), text);
	free(text);
	fake_respawn(NULL);
	expect_fatal_load(load_body(""), "Invalid data version");
}

static void t_load_small_memory(void)
{
	make_template(NULL, "console=ttyS0", false);
	T_ASSERT(truncate(path_in("mem"), 255 * MIB) == 0);
	fake_respawn(NULL);
	expect_fatal_load(load_body(""), "Failed to load guest memory: Error creating guest "
			  "memory from file: Failed to restore guest memory: Total sum of memory "
			  "regions exceeds largest possible file offset");
}

static void t_load_missing_memory(void)
{
	make_template(NULL, "console=ttyS0", false);
	unlink(path_in("mem"));
	fake_respawn(NULL);
	expect_fatal_load(load_body(""), "Failed to load guest memory: Error creating guest "
			  "memory from file: Failed to load guest memory: No such file or "
			  "directory (os error 2)");
}

static void t_load_missing_drive(void)
{
	make_template(NULL, "console=ttyS0", false);
	unlink(F.rootfs);
	fake_respawn(NULL);
	expect_fatal_load(load_body(""), F.rootfs);
}

static void t_load_vsock_path_exists(void)
{
	make_template(NULL, "console=ttyS0", true);
	write_file(path_in("taken.sock"), "");
	fake_respawn(NULL);
	expect_fatal_load(load_body(SLOT_OVERRIDES(path_in("taken.sock"))),
			  "Address already in use (os error 98)");
}

static void t_load_checks_tap(void)
{
	const char *env[] = { "FC_FAKE_CHECK_TAP=1", NULL };

	make_template(NULL, "console=ttyS0", false);
	fake_respawn(env);
	expect_fatal_load(load_body(", \"network_overrides\": [{\"iface_id\": \"eth0\", "
				    "\"host_dev_name\": \"uit-nosuch\"}]"), "uit-nosuch");
	/* lo exists on every host */
	fake_respawn(env);
	expect_ok("PUT", "/snapshot/load", load_body(", \"network_overrides\": [{\"iface_id\": "
		  "\"eth0\", \"host_dev_name\": \"lo\"}]"));
}

static void t_load_hugepages_need_uffd(void)
{
	fake_start();
	expect_ok("PUT", "/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": 128, "
		  "\"huge_pages\": \"2M\"}");
	expect_ok("PUT", "/boot-source", boot_with("console=ttyS0"));
	expect_ok("PUT", "/actions", START);
	expect_ok("PATCH", "/vm", PAUSE);
	expect_ok("PUT", "/snapshot/create", create_body(path_in("snap"), path_in("mem")));
	fake_respawn(NULL);
	expect_fatal_load(load_body(""), "Error creating guest memory from file: Cannot restore "
			  "hugetlbfs backed snapshot by mapping the memory file. Please use uffd.");
}

/* Deprecated fields answer with "Deprecation: true" (micro_http). */
static void t_deprecation_header(void)
{
	const char *body, *out;

	make_template(NULL, "console=ttyS0", false);
	fake_respawn(NULL);
	body = vsock_body(path_in("v.sock"));
	out = raw(fmt("PUT /vsock HTTP/1.1\r\nContent-Type: application/json\r\n"
		      "Content-Length: %zu\r\n\r\n%s", strlen(body), body), 2000);
	T_ASSERT(strstr(out, "HTTP/1.1 204") && !strstr(out, "Deprecation"));
	fake_respawn(NULL);
	body = fmt("{\"guest_cid\": 3, \"uds_path\": \"%s\", \"vsock_id\": \"vsock0\"}",
		   path_in("w.sock"));
	out = raw(fmt("PUT /vsock HTTP/1.1\r\nContent-Type: application/json\r\n"
		      "Content-Length: %zu\r\n\r\n%s", strlen(body), body), 2000);
	T_ASSERT(strstr(out, "HTTP/1.1 204") && strstr(out, "\r\nDeprecation: true\r\n"));
	fake_respawn(NULL);
	body = fmt("{\"snapshot_path\": \"%s\", \"mem_file_path\": \"%s\"}", path_in("snap"),
		   path_in("mem"));
	out = raw(fmt("PUT /snapshot/load HTTP/1.1\r\nContent-Type: application/json\r\n"
		      "Content-Length: %zu\r\n\r\n%s", strlen(body), body), 2000);
	T_ASSERT(strstr(out, "HTTP/1.1 204") && strstr(out, "\r\nDeprecation: true\r\n"));
	T_ASSERT(file_has(F.err, "PUT /snapshot/load: mem_file_path and enable_diff_snapshots "
			  "fields are deprecated."));
}

/* ------------------------------------------------------------ vsock */

static void t_vsock_bound_at_put(void)
{
	struct stat st;
	json_t *j = NULL;
	int fd, status;

	fake_start();
	write_file(path_in("taken"), "");
	expect_fault("PUT", "/vsock", vsock_body(path_in("taken")), "Vsock config error: Cannot "
		     "create backend for vsock device: Error binding to the host-side Unix socket: "
		     "Address already in use (os error 98)");
	expect_fault("PUT", "/vsock", vsock_body(path_in("no/such/dir.sock")),
		     "No such file or directory (os error 2)");
	expect_fault("PUT", "/vsock", "{\"guest_cid\": 2, \"uds_path\": \"x\"}", "guest_cid");
	expect_ok("PUT", "/vsock", vsock_body(path_in("v.sock")));
	T_ASSERT(stat(path_in("v.sock"), &st) == 0 && S_ISSOCK(st.st_mode));
	/* a second PUT replaces it: the old file is removed */
	expect_ok("PUT", "/vsock", vsock_body(path_in("w.sock")));
	T_ASSERT(access(path_in("v.sock"), F_OK) < 0);
	T_ASSERT(stat(path_in("w.sock"), &st) == 0 && S_ISSOCK(st.st_mode));
	/* ... even when the new one fails (Firecracker drops the old device first) */
	expect_fault("PUT", "/vsock", vsock_body(path_in("taken")), "Address already in use");
	T_ASSERT(access(path_in("w.sock"), F_OK) < 0);
	T_EQ_INT(api("GET", "/vm/config", NULL, &j), 200);
	T_ASSERT(json_is_null(json_object_get(j, "vsock")));
	json_decref(j);
	expect_ok("PUT", "/vsock", vsock_body(path_in("w.sock")));
	configure("console=ttyS0", false);
	/* nothing listens in the guest: CONNECT is closed, a bad line too */
	fd = uds_connect(path_in("w.sock"));
	send_str(fd, "CONNECT 1234\n");
	expect_closed(fd);
	fd = uds_connect(path_in("w.sock"));
	send_str(fd, "HELLO 52 there\n");
	expect_closed(fd);
	fd = uds_connect(path_in("w.sock"));
	send_str(fd, "CONNECT fifty\n");
	expect_closed(fd);
	T_ASSERT(file_has(F.calls, "\"event\":\"vsock\""));
	/* Firecracker leaves the socket file on exit */
	kill(F.pid, SIGTERM);
	status = fake_wait_exit(VSOCK_ANSWER_MS);
	T_ASSERT(status != -1 && WIFEXITED(status));
	T_EQ_INT(WEXITSTATUS(status), 0); /* also: no leak under ASan */
	T_ASSERT(stat(path_in("w.sock"), &st) == 0 && S_ISSOCK(st.st_mode));
}

static void t_vsock_relative_path(void)
{
	struct stat st;

	/* the fake's cwd is its temp dir: a relative uds_path lands there */
	fake_setup();
	T_ASSERT(chdir(F.dir) == 0);
	fake_spawn(NULL, NULL);
	fake_wait_ready();
	expect_ok("PUT", "/vsock", vsock_body("rel.sock"));
	T_ASSERT(stat(path_in("rel.sock"), &st) == 0 && S_ISSOCK(st.st_mode));
}

/* ------------------------------------------------------------ the guest agent */

#define READY "GUEST-READY-TEXT"

static void t_agent_template_and_restore(void)
{
	const char *tenv[] = { "FC_FAKE_GUEST_AGENT=1", "FC_FAKE_CONSOLE_ON_START=" READY, NULL };
	const char *senv[] = { "FC_FAKE_CONSOLE_ON_START=" READY, NULL };
	const char *line = "ip=10.0.0.5/24 uigniter.id=vm-x uigniter.mac=06:00:0a:00:00:05 "
			   "uigniter.seed=00112233445566778899aabbccddeeff00112233445566778899aabb"
			   "ccddeeff";
	json_t *ev;
	bool eof;
	int fd;

	fake_start_env(tenv);
	configure(AGENT_ARGS, true);
	T_ASSERT(file_has(F.err, "UIGNITER-TEMPLATE vsock:52\n"));
	T_ASSERT(!file_has(F.err, READY));
	expect_ok("PATCH", "/vm", PAUSE);
	expect_ok("PUT", "/snapshot/create", create_body(path_in("snap"), path_in("mem")));
	T_ASSERT(file_has(path_in("snap"), "\"agent_port\":52"));
	fake_retire();
	unlink(path_in("v.sock"));
	unlink(F.err);

	/* the slot: a fresh process without the switch — the guest is in the snapshot */
	fake_respawn(senv);
	expect_ok("PUT", "/snapshot/load", load_body(fmt("%s, \"resume_vm\": true",
							 SLOT_OVERRIDES(path_in("slot.sock")))));
	T_ASSERT(!file_has(F.err, "UIGNITER-TEMPLATE"));
	T_ASSERT(!file_has(F.err, READY));
	fd = uds_connect(path_in("slot.sock"));
	send_str(fd, "CONNECT 52\n");
	T_EQ_STR(read_line(fd, VSOCK_ANSWER_MS, &eof), "OK 1073741824\n");
	send_str(fd, fmt("%s\n", line));
	T_EQ_STR(read_line(fd, VSOCK_ANSWER_MS, &eof), "OK\n");
	read_line(fd, VSOCK_ANSWER_MS, &eof);
	T_ASSERT(eof);
	close(fd);
	ev = event_lines("agent");
	T_EQ_INT(json_array_size(ev), 1);
	T_EQ_INT(json_integer_value(json_object_get(json_array_get(ev, 0), "port")), 52);
	T_EQ_STR(jstr(json_array_get(ev, 0), "line"), line);
	json_decref(ev);
	/* the ready text, once, after the line; then the guest no longer listens */
	for (long end = now_ms() + VSOCK_ANSWER_MS; !file_has(F.err, READY) && now_ms() < end;)
		sleep_ms(10);
	T_EQ_INT(count_in(F.err, READY "\n"), 1);
	fd = uds_connect(path_in("slot.sock"));
	send_str(fd, "CONNECT 52\n");
	expect_closed(fd);
	expect_clean_exit();
}

/* A restored copy left Paused: a CONNECT waits for the guest; resumed, it
 * is answered (the host port counts up per connection). */
static void t_agent_waits_while_paused(void)
{
	const char *tenv[] = { "FC_FAKE_GUEST_AGENT=1", NULL };
	const char *senv[] = { "FC_FAKE_VSOCK_REQUEST_TIMEOUT_MS=60000", NULL }; /* no race */
	bool eof;
	int fd, fd2;

	make_template(tenv, AGENT_ARGS, true);
	fake_respawn(senv);
	expect_ok("PUT", "/snapshot/load", load_body(SLOT_OVERRIDES(path_in("slot.sock"))));
	/* a port nobody listens on: the paused guest cannot refuse it yet */
	fd = uds_connect(path_in("slot.sock"));
	send_str(fd, "CONNECT 53\n");
	T_EQ_STR(read_line(fd, 300, &eof), "");
	T_ASSERT(!eof);
	expect_ok("PATCH", "/vm", RESUME);
	expect_closed(fd);
	/* the agent's port: answered once the guest runs */
	expect_ok("PATCH", "/vm", PAUSE);
	fd2 = uds_connect(path_in("slot.sock"));
	send_str(fd2, "connect 52\n");
	T_EQ_STR(read_line(fd2, 300, &eof), "");
	T_ASSERT(!eof);
	expect_ok("PATCH", "/vm", RESUME);
	T_EQ_STR(read_line(fd2, VSOCK_ANSWER_MS, &eof), "OK 1073741825\n");
	/* the line waits in the socket while the guest is paused */
	expect_ok("PATCH", "/vm", PAUSE);
	send_str(fd2, "ip=10.0.0.6/24 uigniter.id=vm-y\n");
	T_EQ_STR(read_line(fd2, 300, &eof), "");
	T_ASSERT(!eof);
	T_ASSERT(!file_has(F.calls, "\"event\":\"agent\""));
	expect_ok("PATCH", "/vm", RESUME);
	T_EQ_STR(read_line(fd2, VSOCK_ANSWER_MS, &eof), "OK\n");
	read_line(fd2, VSOCK_ANSWER_MS, &eof);
	T_ASSERT(eof);
	close(fd2);
	T_ASSERT(file_has(F.calls, "\"line\":\"ip=10.0.0.6/24 uigniter.id=vm-y\""));
}

/* A CONNECT the paused guest leaves unanswered is closed after 2000 ms
 * (CONN_REQUEST_TIMEOUT_MS); the slot still works once resumed. */
static void t_vsock_request_timeout_while_paused(void)
{
	const char *tenv[] = { "FC_FAKE_GUEST_AGENT=1", NULL };
	json_t *ev;
	bool eof;
	int fd;

	make_template(tenv, AGENT_ARGS, true);
	fake_respawn(NULL);
	expect_ok("PUT", "/snapshot/load", load_body(SLOT_OVERRIDES(path_in("slot.sock"))));
	fd = uds_connect(path_in("slot.sock"));
	send_str(fd, "CONNECT 52\n");
	expect_closed(fd);
	ev = event_lines("vsock");
	T_EQ_INT(json_array_size(ev), 1);
	T_EQ_STR(jstr(json_array_get(ev, 0), "result"), "timeout");
	json_decref(ev);
	expect_ok("PATCH", "/vm", RESUME);
	fd = uds_connect(path_in("slot.sock"));
	send_str(fd, "CONNECT 52\n");
	T_EQ_STR(read_line(fd, VSOCK_ANSWER_MS, &eof), "OK 1073741825\n");
	close(fd);
}

/* CONNECT and the line in one write: the muxer reads CONNECT byte by byte,
 * the rest is the guest's; a host that closes before its line changes nothing. */
static void t_agent_connect_and_line_at_once(void)
{
	const char *tenv[] = { "FC_FAKE_GUEST_AGENT=1", NULL };
	bool eof;
	int fd;

	make_template(tenv, AGENT_ARGS, true);
	fake_respawn(NULL);
	expect_ok("PUT", "/snapshot/load", load_body(fmt("%s, \"resume_vm\": true",
							 SLOT_OVERRIDES(path_in("slot.sock")))));
	fd = uds_connect(path_in("slot.sock"));
	send_str(fd, "CONNECT 52\n");
	T_EQ_STR(read_line(fd, VSOCK_ANSWER_MS, &eof), "OK 1073741824\n");
	send_str(fd, "ip=10.0.0.8/24 no newline yet");
	close(fd);
	fd = uds_connect(path_in("slot.sock"));
	send_str(fd, "CONNECT 52\nip=10.0.0.9/24 uigniter.id=vm-z\n");
	T_EQ_STR(read_line(fd, VSOCK_ANSWER_MS, &eof), "OK 1073741825\n");
	T_EQ_STR(read_line(fd, VSOCK_ANSWER_MS, &eof), "OK\n");
	read_line(fd, VSOCK_ANSWER_MS, &eof);
	T_ASSERT(eof);
	close(fd);
	T_ASSERT(file_has(F.calls, "\"line\":\"ip=10.0.0.9/24 uigniter.id=vm-z\""));
	T_ASSERT(!file_has(F.calls, "10.0.0.8"));
}

/* A restored slot whose agent waits on 52, resumed, its uds <dir>/slot.sock. */
static void agent_slot(void)
{
	const char *tenv[] = { "FC_FAKE_GUEST_AGENT=1", NULL };

	make_template(tenv, AGENT_ARGS, true);
	fake_respawn(NULL);
	expect_ok("PUT", "/snapshot/load", load_body(fmt("%s, \"resume_vm\": true",
							 SLOT_OVERRIDES(path_in("slot.sock")))));
}

static int agent_connect(const char *want_ok)
{
	int fd = uds_connect(path_in("slot.sock"));
	bool eof;

	send_str(fd, "CONNECT 52\n");
	T_EQ_STR(read_line(fd, VSOCK_ANSWER_MS, &eof), want_ok);
	return fd;
}

/* As uigniter-agent (s5-guest agent_line.h): one connection at a time in
 * their order; an empty line or a NUL byte drops one unanswered, the next
 * is served; the first good line is taken and the waiting ones closed. */
static void t_agent_serves_one_at_a_time(void)
{
	int fd1, fd2, fd3, fd4;
	bool eof;

	agent_slot();
	fd1 = agent_connect("OK 1073741824\n");
	fd2 = agent_connect("OK 1073741825\n");
	fd3 = agent_connect("OK 1073741826\n");
	fd4 = agent_connect("OK 1073741827\n");
	T_ASSERT(write(fd2, "ip=1\0x\n", 7) == 7);
	send_str(fd3, "ip=10.0.0.3/24 uigniter.id=vm-3\n");
	send_str(fd4, "ip=10.0.0.4/24 uigniter.id=vm-4\n");
	T_EQ_STR(read_line(fd3, 300, &eof), ""); /* fd1 is being served */
	T_ASSERT(!eof);
	send_str(fd1, "\n");
	expect_closed(fd1);
	expect_closed(fd2);
	T_EQ_STR(read_line(fd3, VSOCK_ANSWER_MS, &eof), "OK\n");
	read_line(fd3, VSOCK_ANSWER_MS, &eof);
	T_ASSERT(eof);
	close(fd3);
	expect_closed(fd4);
	T_ASSERT(file_has(F.calls, "\"why\":\"an empty line\""));
	T_ASSERT(file_has(F.calls, "\"why\":\"a NUL byte\""));
	T_ASSERT(file_has(F.calls, "\"line\":\"ip=10.0.0.3/24 uigniter.id=vm-3\""));
	T_ASSERT(!file_has(F.calls, "vm-4"));
}

/* 4095 bytes and the '\n' is a line; 4096 without one is not. */
static void t_agent_line_limit(void)
{
	static char big[4097];
	int fd1, fd2;
	bool eof;

	agent_slot();
	fd1 = agent_connect("OK 1073741824\n");
	fd2 = agent_connect("OK 1073741825\n");
	memset(big, 'a', 4096);
	T_ASSERT(write(fd1, big, 4096) == 4096);
	big[4095] = '\n';
	T_ASSERT(write(fd2, big, 4096) == 4096);
	expect_closed(fd1);
	T_EQ_STR(read_line(fd2, VSOCK_ANSWER_MS, &eof), "OK\n");
	close(fd2);
	T_ASSERT(file_has(F.calls, "\"why\":\"line longer than 4095 bytes\""));
}

/* A connection that sends no line is dropped after 10 s of guest time; the
 * time the VM is paused does not count. */
static void t_agent_connection_timeout(void)
{
	int fd1, fd2;
	bool eof;

	agent_slot();
	fd1 = agent_connect("OK 1073741824\n");
	fd2 = agent_connect("OK 1073741825\n");
	send_str(fd2, "ip=10.0.0.2/24\n");
	expect_ok("PATCH", "/vm", PAUSE);
	sleep_ms(10500);
	expect_ok("PATCH", "/vm", RESUME);
	T_EQ_STR(read_line(fd2, 300, &eof), "");
	T_ASSERT(!eof);
	T_EQ_STR(read_line(fd2, 20000, &eof), "OK\n");
	expect_closed(fd1);
	close(fd2);
	T_ASSERT(file_has(F.calls, "\"why\":\"no line in 10 s\""));
}

/* Without FC_FAKE_GUEST_AGENT nothing listens in the guest, whatever boot_args say. */
static void t_no_agent_without_switch(void)
{
	const char *env[] = { "FC_FAKE_CONSOLE_ON_START=" READY, NULL };
	int fd;

	fake_start_env(env);
	configure(AGENT_ARGS, true);
	T_ASSERT(!file_has(F.err, "UIGNITER-TEMPLATE"));
	T_ASSERT(file_has(F.err, READY "\n"));
	fd = uds_connect(path_in("v.sock"));
	send_str(fd, "CONNECT 52\n");
	expect_closed(fd);
}

/* ------------------------------------------------------------ the jailer */

static const char *jailer_bin(const char *name)
{
	static char path[2][4096];
	static int i;
	char *slash;

	i ^= 1;
	snprintf(path[i], sizeof(path[i]), "%s", fake_bin());
	slash = strrchr(path[i], '/');
	snprintf(slash, sizeof(path[i]) - (size_t)(slash - path[i]), "/%s", name);
	return path[i];
}

/* Spawns the jailer fake for id; returns the chroot (host path). */
static const char *jail(const char *id, const char *const *env)
{
	static char root[100];
	const char *args[] = { "--id", id, "--exec-file", jailer_bin("static/firecracker"),
			       "--uid", "0", "--gid", "0", "--chroot-base-dir", F.dir, "--",
			       "--api-sock", "/api.sock", NULL };
	const char *argv[20] = { jailer_bin("jailer") };
	int n = 1;

	for (const char *const *a = args; *a; a++)
		argv[n++] = *a;
	snprintf(root, sizeof(root), "%s/firecracker/%s/root", F.dir, id);
	snprintf(F.sock, sizeof(F.sock), "%s/api.sock", root);
	snprintf(F.calls, sizeof(F.calls), "%s/api.sock.calls.jsonl", root);
	F.pid = fork();
	T_ASSERT(F.pid >= 0);
	if (F.pid == 0) {
		int fd = open(F.err, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(fd, 1);
		dup2(fd, 2);
		for (; env && *env; env++)
			putenv((char *)*env);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	fake_wait_ready();
	return root;
}

static void copy_file(const char *from, const char *to)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd), "cp --sparse=always '%s' '%s'", from, to);
	T_EQ_INT(system(cmd), 0);
}

static void t_jailer_relative_paths(void)
{
	const char *env[] = { "FC_FAKE_GUEST_AGENT=1", NULL };
	char root1[256], uds[300];
	const char *root2;
	struct stat st;
	bool eof;
	int fd;

	if (geteuid() != 0)
		T_SKIP("the jailer fake needs root");
	if (access(jailer_bin("jailer"), X_OK) || access(jailer_bin("static/firecracker"), X_OK))
		T_SKIP("jailer / static fake not built (sanitizer build)");
	fake_setup();
	snprintf(root1, sizeof(root1), "%s", jail("tmpl", env));
	write_file(fmt("%s/vmlinux", root1), "k");
	write_file(fmt("%s/rootfs", root1), "r");
	expect_ok("PUT", "/machine-config", MACHINE);
	expect_ok("PUT", "/boot-source", "{\"kernel_image_path\": \"vmlinux\", \"boot_args\": \""
		  AGENT_ARGS "\"}");
	expect_ok("PUT", "/drives/rootfs", "{\"drive_id\": \"rootfs\", \"path_on_host\": \"rootfs\", "
		  "\"is_root_device\": true}");
	expect_ok("PUT", "/vsock", vsock_body("v.sock"));
	T_ASSERT(stat(fmt("%s/v.sock", root1), &st) == 0 && S_ISSOCK(st.st_mode));
	expect_ok("PUT", "/actions", START);
	T_ASSERT(file_has(F.err, "UIGNITER-TEMPLATE vsock:52\n"));
	expect_ok("PATCH", "/vm", PAUSE);
	expect_ok("PUT", "/snapshot/create", create_body("snap", "mem"));
	T_ASSERT(stat(fmt("%s/mem", root1), &st) == 0 && st.st_size == 256 * MIB);
	T_ASSERT(stat(fmt("%s/snap", root1), &st) == 0);
	kill(F.pid, SIGKILL);
	waitpid(F.pid, NULL, 0);
	F.pid = 0;
	if (F.curl)
		curl_easy_cleanup(F.curl);
	F.curl = NULL;
	/* a slot in another chroot: the same relative paths, its own uds */
	root2 = jail("slot", NULL);
	copy_file(fmt("%s/snap", root1), fmt("%s/snap", root2));
	copy_file(fmt("%s/mem", root1), fmt("%s/mem", root2));
	copy_file(fmt("%s/rootfs", root1), fmt("%s/rootfs", root2));
	expect_ok("PUT", "/snapshot/load", "{\"snapshot_path\": \"snap\", \"mem_backend\": "
		  "{\"backend_type\": \"File\", \"backend_path\": \"mem\"}, \"vsock_override\": "
		  "{\"uds_path\": \"slot.sock\"}, \"resume_vm\": true}");
	snprintf(uds, sizeof(uds), "%s/slot.sock", root2);
	fd = uds_connect(uds);
	send_str(fd, "CONNECT 52\n");
	T_EQ_STR(read_line(fd, VSOCK_ANSWER_MS, &eof), "OK 1073741824\n");
	send_str(fd, "ip=10.0.0.7/24\n");
	T_EQ_STR(read_line(fd, VSOCK_ANSWER_MS, &eof), "OK\n");
	read_line(fd, VSOCK_ANSWER_MS, &eof); /* closed once the guest applied it */
	T_ASSERT(eof);
	close(fd);
	T_ASSERT(file_has(F.calls, "\"event\":\"agent\""));
}

int main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		T_CASE(t_create_needs_paused),
		T_CASE(t_create_writes_files),
		T_CASE(t_load_with_overrides),
		T_CASE(t_load_resume_vm),
		T_CASE(t_load_needs_fresh_process),
		T_CASE(t_load_mem_fields),
		T_CASE(t_load_unknown_iface),
		T_CASE(t_load_vsock_override_without_vsock),
		T_CASE(t_load_missing_snapshot),
		T_CASE(t_load_not_a_fake_snapshot),
		T_CASE(t_load_other_version),
		T_CASE(t_load_small_memory),
		T_CASE(t_load_missing_memory),
		T_CASE(t_load_missing_drive),
		T_CASE(t_load_vsock_path_exists),
		T_CASE(t_load_checks_tap),
		T_CASE(t_load_hugepages_need_uffd),
		T_CASE(t_deprecation_header),
		T_CASE(t_vsock_bound_at_put),
		T_CASE(t_vsock_relative_path),
		T_CASE(t_agent_template_and_restore),
		T_CASE(t_agent_waits_while_paused),
		T_CASE(t_agent_connect_and_line_at_once),
		T_CASE(t_vsock_request_timeout_while_paused),
		T_CASE(t_agent_serves_one_at_a_time),
		T_CASE(t_agent_line_limit),
		T_CASE(t_agent_connection_timeout),
		T_CASE(t_no_agent_without_switch),
		T_CASE(t_jailer_relative_paths),
		{ 0 },
	};

	return fake_t_main(argc, argv, cases);
}
