/*
 * fc_fake_t.h — helpers shared by the tests of the fake Firecracker
 * (test_fc_fake.c, test_fc_fake_snapshot.c): start the real fake binary in
 * its own temp dir (PR_SET_PDEATHSIG, SIGKILLed by pid and the dir removed
 * at exit), talk to it over its API socket with libcurl or raw bytes, read
 * its call log. One fake per test process (the global F).
 *
 * Binary: $FC_FAKE_BIN, else <dir of this test>/fakes/firecracker.
 */
#ifndef FC_FAKE_T_H
#define FC_FAKE_T_H

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "t.h"

/* ------------------------------------------------------------ the fake */

struct fake {
	char dir[64], sock[128], calls[160], err[128], kernel[128], rootfs[128];
	pid_t pid;
	CURL *curl;
};

static struct fake F;

static inline int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(p);
}

static inline void fake_cleanup(void)
{
	if (F.curl)
		curl_easy_cleanup(F.curl);
	F.curl = NULL;
	if (F.pid > 0) {
		kill(F.pid, SIGKILL);
		waitpid(F.pid, NULL, 0);
		F.pid = 0;
	}
	if (F.dir[0])
		nftw(F.dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	F.dir[0] = '\0';
}

static inline const char *fake_bin(void)
{
	static char path[4096];
	const char *env = getenv("FC_FAKE_BIN");
	ssize_t n;

	if (env && *env)
		return env;
	n = readlink("/proc/self/exe", path, sizeof(path) - 32);
	T_ASSERT(n > 0);
	path[n] = '\0';
	strcpy(strrchr(path, '/'), "/fakes/firecracker");
	return path;
}

static inline void write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	T_ASSERT(fd >= 0);
	T_ASSERT(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	close(fd);
}

static inline char *read_file(const char *path)
{
	static char buf[1 << 18];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return NULL;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

/* The temp dir, a kernel and a rootfs file; no process yet. */
static inline void fake_setup(void)
{
	snprintf(F.dir, sizeof(F.dir), "/tmp/fcfake.XXXXXX");
	T_ASSERT(mkdtemp(F.dir));
	atexit(fake_cleanup);
	snprintf(F.sock, sizeof(F.sock), "%s/api.sock", F.dir);
	snprintf(F.calls, sizeof(F.calls), "%s.calls.jsonl", F.sock);
	snprintf(F.err, sizeof(F.err), "%s/stderr", F.dir);
	snprintf(F.kernel, sizeof(F.kernel), "%s/vmlinux", F.dir);
	snprintf(F.rootfs, sizeof(F.rootfs), "%s/rootfs.ext4", F.dir);
	write_file(F.kernel, "not really a kernel");
	write_file(F.rootfs, "not really a filesystem");
}

/* env: NULL-terminated "K=V" list; args: NULL → the pool-worker's argv. */
static inline void fake_spawn(const char *const *env, const char *const *args)
{
	const char *def[] = { "--api-sock", F.sock, "--id", "vm-test", NULL };
	const char *argv[32] = { fake_bin() };
	int n = 1, fd;

	for (args = args ? args : def; *args && n < 31; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	F.pid = fork();
	T_ASSERT(F.pid >= 0);
	if (F.pid)
		return;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	for (; env && *env; env++)
		putenv((char *)*env);
	fd = open(F.err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	dup2(fd, 1);
	dup2(fd, 2);
	execv(argv[0], (char *const *)argv);
	_exit(127);
}

/* A connected fd, or -errno. */
static inline int sock_connect(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), e;

	memcpy(sa.sun_path, F.sock, strnlen(F.sock, sizeof(sa.sun_path) - 1));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		return fd;
	e = errno;
	close(fd);
	return -e;
}

static inline long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* Waits for the fake to exit: its wait status, or -1 on timeout. */
static inline int fake_wait_exit(long timeout_ms)
{
	long end = now_ms() + timeout_ms;
	int st;

	do {
		if (waitpid(F.pid, &st, WNOHANG) == F.pid) {
			F.pid = 0;
			return st;
		}
		sleep_ms(10);
	} while (now_ms() < end);
	return -1;
}

static inline void fake_wait_ready(void)
{
	long end = now_ms() + 5000;
	int fd;

	while ((fd = sock_connect()) < 0) {
		T_ASSERT(waitpid(F.pid, NULL, WNOHANG) == 0);
		T_ASSERT(now_ms() < end);
		sleep_ms(5);
	}
	close(fd);
}

static inline void fake_start_env(const char *const *env)
{
	fake_setup();
	fake_spawn(env, NULL);
	fake_wait_ready();
}

static inline void fake_start(void)
{
	fake_start_env(NULL);
}

/* ------------------------------------------------------------ HTTP */

struct buf {
	char data[16384];
	size_t len;
};

static inline size_t on_data(char *p, size_t size, size_t n, void *ud)
{
	struct buf *b = ud;
	size_t len = size * n;

	if (b->len + len >= sizeof(b->data))
		return 0;
	memcpy(b->data + b->len, p, len);
	b->len += len;
	b->data[b->len] = '\0';
	return len;
}

static long last_new_conns;

/* One request on the case's keep-alive handle; *out = parsed answer or NULL. */
static inline long api(const char *method, const char *path, const char *body, json_t **out)
{
	static struct buf b;
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
	char url[512];
	long status = 0;

	if (!F.curl)
		F.curl = curl_easy_init();
	b.len = 0;
	b.data[0] = '\0';
	snprintf(url, sizeof(url), "http://localhost%s", path);
	curl_easy_reset(F.curl);
	curl_easy_setopt(F.curl, CURLOPT_UNIX_SOCKET_PATH, F.sock);
	curl_easy_setopt(F.curl, CURLOPT_URL, url);
	curl_easy_setopt(F.curl, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(F.curl, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(F.curl, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(F.curl, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(F.curl, CURLOPT_TIMEOUT_MS, 5000L);
	if (body)
		curl_easy_setopt(F.curl, CURLOPT_POSTFIELDS, body);
	T_EQ_INT(curl_easy_perform(F.curl), CURLE_OK);
	curl_easy_getinfo(F.curl, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(F.curl, CURLINFO_NUM_CONNECTS, &last_new_conns);
	curl_slist_free_all(h);
	if (out)
		*out = b.len ? json_loads(b.data, 0, NULL) : NULL;
	return status;
}

static inline void expect_ok(const char *method, const char *path, const char *body)
{
	json_t *j = NULL;
	long st = api(method, path, body, &j);

	if (st != 204)
		T_FAIL("%s %s %s → %ld %s", method, path, body ? body : "", st,
		       j ? json_string_value(json_object_get(j, "fault_message")) : "");
	json_decref(j);
}

/* Expects 400 with a fault_message containing want. */
static inline void expect_fault(const char *method, const char *path, const char *body, const char *want)
{
	json_t *j = NULL;
	long st = api(method, path, body, &j);
	const char *msg = json_string_value(json_object_get(j, "fault_message"));

	if (st != 400 || !msg || !strstr(msg, want))
		T_FAIL("%s %s %s → %ld \"%s\", expected 400 with \"%s\"", method, path,
		       body ? body : "", st, msg ? msg : "(no fault_message)", want);
	json_decref(j);
}

static inline const char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static inline const char *fmt(const char *f, ...)
{
	static char bufs[4][2048];
	static int i;
	va_list ap;

	i = (i + 1) % 4;
	va_start(ap, f);
	vsnprintf(bufs[i], sizeof(bufs[i]), f, ap);
	va_end(ap);
	return bufs[i];
}

#define MACHINE "{\"vcpu_count\": 2, \"mem_size_mib\": 256, \"smt\": false}"
#define NET "{\"iface_id\": \"eth0\", \"host_dev_name\": \"uit-2\", \"guest_mac\": \"06:00:0a:00:00:02\"}"
#define START "{\"action_type\": \"InstanceStart\"}"
#define CAD "{\"action_type\": \"SendCtrlAltDel\"}"

static inline const char *boot_body(void)
{
	return fmt("{\"kernel_image_path\": \"%s\", \"boot_args\": \"console=ttyS0 reboot=k\"}",
		   F.kernel);
}

static inline const char *drive_body(void)
{
	return fmt("{\"drive_id\": \"rootfs\", \"path_on_host\": \"%s\", \"is_root_device\": true, "
		   "\"is_read_only\": false}", F.rootfs);
}

/* The driver's full happy sequence. */
static inline void configure_and_start(void)
{
	expect_ok("PUT", "/machine-config", MACHINE);
	expect_ok("PUT", "/network-interfaces/eth0", NET);
	expect_ok("PUT", "/boot-source", boot_body());
	expect_ok("PUT", "/drives/rootfs", drive_body());
	expect_ok("PUT", "/actions", START);
}

/* Raw bytes on a fresh connection; returns what came back before close/timeout. */
static inline const char *raw(const char *req, int timeout_ms)
{
	static char out[8192];
	size_t n = 0;
	int fd = sock_connect();
	struct pollfd p = { .fd = fd, .events = POLLIN };

	T_ASSERT(fd >= 0);
	T_ASSERT(write(fd, req, strlen(req)) == (ssize_t)strlen(req));
	while (n < sizeof(out) - 1 && poll(&p, 1, timeout_ms) == 1) {
		ssize_t r = read(fd, out + n, sizeof(out) - 1 - n);

		if (r <= 0)
			break;
		n += (size_t)r;
	}
	out[n] = '\0';
	close(fd);
	return out;
}

/* The call log as an array of objects. */
static inline json_t *calls(const char *path)
{
	json_t *arr = json_array();
	char *text = read_file(path), *save = NULL;

	T_ASSERT(text);
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		json_t *j = json_loads(line, 0, NULL);

		if (!j)
			T_FAIL("call log line is not JSON: %s", line);
		json_array_append_new(arr, j);
	}
	return arr;
}

static inline const char *jstr(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "";
}

static inline bool file_has(const char *path, const char *needle)
{
	const char *t = read_file(path);

	return t && strstr(t, needle);
}

/* main() of a test driving the fake: the binary must be built. */
static inline int fake_t_main(int argc, char **argv, const struct t_case *cases)
{
	if (access(fake_bin(), X_OK) != 0) {
		fprintf(stderr, "fake firecracker not built: %s\n", fake_bin());
		return 1;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	return t_run(argc, argv, cases);
}

#endif
