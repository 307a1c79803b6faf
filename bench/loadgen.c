/*
 * loadgen.c — the benchmark client. One process, one thread, one libcurl
 * multi handle: it drives uigniter's REST API over the unix socket (or TCP),
 * launches VMs by command for the libvirt side, and polls guests' HTTP, so
 * the client is never the bottleneck a shell or Python loop would be.
 *
 *   loadgen get   (--unix SOCK | --tcp HOST:PORT) --path P -c C -d SECONDS
 *   loadgen cycle --unix SOCK --image IMG -n N -c C [--mem MIB]      run+stop
 *   loadgen boot  --unix SOCK --image IMG -n N -c C [--mem MIB]      run, then
 *                 poll http://<ip>/ until it answers "hello from <id>"
 *   loadgen boot  --cmd 'virsh ... create {arg}' --targets FILE -c C the same,
 *                 launching each VM with a command (targets: "id ip arg" lines);
 *                 --no-poll: done when the run is answered (no guest HTTP)
 *   loadgen stop  (--unix SOCK | --cmd '... {id}') --targets FILE -c C
 *   loadgen floor --fc FAKE --dir DIR --kernel K [--initrd I] -n N -c C
 *                 the floor of part 1: per cycle spawn FAKE --api-sock, the
 *                 driver's API calls (machine-config, network-interfaces/eth0,
 *                 boot-source, InstanceStart = "run"), then SendCtrlAltDel
 *                 and wait for the exit ("stop"); no manager involved;
 *                 --warm (with -n N -c N): every fake configured first, then
 *                 all N InstanceStarts at once — the floor of a burst of
 *                 runs on a warm pool ("run" = that last call)
 *   loadgen stats                                  numbers on stdin → JSON
 * Common: --out TSV (one line per request/VM: id, ip, start epoch ms, API
 * ms, guest HTTP ms, stop ms, "ok" or the error; boot: then the guest HTTP
 * attempts made, the first one's CURLcode and when it ended, ms), --poll-ms (20),
 * --connect-ms (50), --timeout-s (180), --token-file F (TCP: the bearer
 * token of api.token_file, sent as Authorization).
 *
 * Prints one JSON object on stdout. Latencies are milliseconds from
 * CLOCK_MONOTONIC; the TSV also carries each item's start as CLOCK_REALTIME
 * epoch ms so it can be lined up with the registry's event timestamps.
 * Percentiles are nearest-rank over the sorted samples.
 *
 * Ownership: every struct task lives in one array owned by main; its easy
 * handles are created once and reused (keep-alive on the API connection).
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* ------------------------------------------------------------ utilities */

static double mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static double epoch_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void die(const char *msg)
{
	fprintf(stderr, "loadgen: %s\n", msg);
	exit(2);
}

struct samples {
	double *v;
	size_t n, cap;
};

static void samples_add(struct samples *s, double x)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 1024;
		s->v = realloc(s->v, s->cap * sizeof(*s->v));
		if (!s->v)
			die("out of memory");
	}
	s->v[s->n++] = x;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double rank(const double *v, size_t n, double q)
{
	size_t i = (size_t)ceil(q * (double)n);

	return v[i ? i - 1 : 0];
}

/* {"n","mean","stdev","min","p50","p90","p99","max"} of s (sorted in place). */
static json_t *r3(double x) { return json_real(round(x * 1000) / 1000); }

static json_t *stats_json(struct samples *s)
{
	double sum = 0, sq = 0, mean;
	json_t *o = json_object();

	json_object_set_new(o, "n", json_integer((json_int_t)s->n));
	if (!s->n)
		return o;
	qsort(s->v, s->n, sizeof(*s->v), cmp_double);
	for (size_t i = 0; i < s->n; i++)
		sum += s->v[i];
	mean = sum / (double)s->n;
	for (size_t i = 0; i < s->n; i++)
		sq += (s->v[i] - mean) * (s->v[i] - mean);
	json_object_set_new(o, "mean", r3(mean));
	json_object_set_new(o, "stdev", r3(sqrt(sq / (double)s->n)));
	json_object_set_new(o, "min", r3(s->v[0]));
	json_object_set_new(o, "p50", r3(rank(s->v, s->n, 0.50)));
	json_object_set_new(o, "p90", r3(rank(s->v, s->n, 0.90)));
	json_object_set_new(o, "p99", r3(rank(s->v, s->n, 0.99)));
	json_object_set_new(o, "max", r3(s->v[s->n - 1]));
	return o;
}

/* ------------------------------------------------------------- options */

enum mode { M_GET, M_CYCLE, M_BOOT, M_STOP, M_FLOOR, M_STATS };

static struct opts {
	enum mode mode;
	const char *unix_path, *tcp, *path, *image, *cmd, *targets, *out;
	const char *fc, *dir, *kernel, *initrd, *token_file;
	char auth[256];              /* "Authorization: Bearer …" or "" */
	unsigned n, c, mem, poll_ms, connect_ms, timeout_s;
	bool no_poll, warm;
	double duration_s;
} o = { .n = 1, .c = 1, .poll_ms = 20, .connect_ms = 50, .timeout_s = 180,
	.duration_s = 10, .path = "/healthz" };

/* --token-file: its first line becomes the Authorization header. */
static void read_token(void)
{
	char tok[200] = "";
	FILE *f = fopen(o.token_file, "re");

	if (!f || !fgets(tok, sizeof(tok), f))
		die("cannot read the token file");
	fclose(f);
	tok[strcspn(tok, "\r\n")] = '\0';
	snprintf(o.auth, sizeof(o.auth), "Authorization: Bearer %s", tok);
}

static void parse_opts(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "unix", 1, 0, 'u' }, { "tcp", 1, 0, 't' }, { "path", 1, 0, 'p' },
		{ "image", 1, 0, 'i' }, { "cmd", 1, 0, 'x' }, { "targets", 1, 0, 'f' },
		{ "out", 1, 0, 'o' }, { "mem", 1, 0, 'm' }, { "poll-ms", 1, 0, 'P' },
		{ "connect-ms", 1, 0, 'C' }, { "timeout-s", 1, 0, 'T' },
		{ "duration", 1, 0, 'd' }, { "no-poll", 0, 0, 'N' },
		{ "fc", 1, 0, 'F' }, { "dir", 1, 0, 'D' }, { "kernel", 1, 0, 'K' },
		{ "initrd", 1, 0, 'I' }, { "warm", 0, 0, 'W' }, { "token-file", 1, 0, 'A' },
		{ 0, 0, 0, 0 } };
	const char *m = argc > 1 ? argv[1] : "";
	int ch;

	if (!strcmp(m, "get")) o.mode = M_GET;
	else if (!strcmp(m, "cycle")) o.mode = M_CYCLE;
	else if (!strcmp(m, "boot")) o.mode = M_BOOT;
	else if (!strcmp(m, "stop")) o.mode = M_STOP;
	else if (!strcmp(m, "floor")) o.mode = M_FLOOR;
	else if (!strcmp(m, "stats")) o.mode = M_STATS;
	else die("usage: loadgen get|cycle|boot|stop|stats [options] (see loadgen.c)");
	optind = 2;
	while ((ch = getopt_long(argc, argv, "n:c:d:", lo, NULL)) != -1) {
		switch (ch) {
		case 'u': o.unix_path = optarg; break;
		case 't': o.tcp = optarg; break;
		case 'p': o.path = optarg; break;
		case 'i': o.image = optarg; break;
		case 'x': o.cmd = optarg; break;
		case 'f': o.targets = optarg; break;
		case 'o': o.out = optarg; break;
		case 'm': o.mem = (unsigned)atoi(optarg); break;
		case 'P': o.poll_ms = (unsigned)atoi(optarg); break;
		case 'C': o.connect_ms = (unsigned)atoi(optarg); break;
		case 'T': o.timeout_s = (unsigned)atoi(optarg); break;
		case 'n': o.n = (unsigned)atoi(optarg); break;
		case 'c': o.c = (unsigned)atoi(optarg); break;
		case 'd': o.duration_s = atof(optarg); break;
		case 'N': o.no_poll = true; break;
		case 'F': o.fc = optarg; break;
		case 'D': o.dir = optarg; break;
		case 'K': o.kernel = optarg; break;
		case 'I': o.initrd = optarg; break;
		case 'W': o.warm = true; break;
		case 'A': o.token_file = optarg; break;
		default: die("bad option");
		}
	}
	if (!o.c)
		die("-c must be > 0");
	if (o.token_file)
		read_token();
	if (o.warm && (o.mode != M_FLOOR || o.n != o.c))
		die("--warm is for floor with -n N -c N");
}

/* ---------------------------------------------------------------- tasks */

enum phase { T_IDLE, T_API, T_SPAWNED, T_WAIT_POLL, T_POLL, T_STOP, T_FC, T_FC_EXIT,
	     T_BARRIER, T_DONE };

struct task {
	enum phase phase;
	char id[64], ip[64], arg[512];
	CURL *api, *guest;               /* reused easy handles */
	struct curl_slist *hdrs;
	char *body;                      /* response body of the transfer in flight */
	size_t body_len;
	int pidfd;                       /* --cmd child, -1 if none */
	pid_t pid;
	double t0_epoch, t0, t_api, t_http, t_stop, wake_at;
	int status;                      /* HTTP status or exit code of the last step */
	unsigned step;                   /* floor: next Firecracker API call */
	unsigned polls;                  /* boot: guest HTTP attempts made */
	int first_cc;                    /* boot: the first attempt's CURLcode (-1: none) */
	double first_ms;                 /* boot: when that attempt ended, ms from t0 */
	char sock[256];                  /* floor: the fake's API socket */
	bool failed;
	char err[160];
};

static struct run {
	CURLM *multi;
	struct task *tasks;
	unsigned ntasks, next, active, done;
	unsigned at_barrier;             /* floor --warm: configured, waiting */
	double t_start, deadline;
	struct samples lat, lat2;        /* run|get|stop latencies; guest HTTP or stop */
	unsigned errors;
	FILE *out;
	char base_url[128];
} r;

static size_t on_body(char *p, size_t sz, size_t nm, void *ud)
{
	struct task *t = ud;
	size_t len = sz * nm;
	char *nb;

	if (t->body_len + len > (1u << 20))
		return 0;
	nb = realloc(t->body, t->body_len + len + 1);
	if (!nb)
		return 0;
	memcpy(nb + t->body_len, p, len);
	t->body = nb;
	t->body_len += len;
	t->body[t->body_len] = '\0';
	return len;
}

static void xfer_start(struct task *t, CURL *h, const char *method,
		       const char *url, const char *data)
{
	t->body_len = 0;
	if (t->body)
		t->body[0] = '\0';
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	if (data) {
		curl_easy_setopt(h, CURLOPT_COPYPOSTFIELDS, data);
	} else if (!strcmp(method, "POST")) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
	} else {
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	}
	curl_easy_setopt(h, CURLOPT_PRIVATE, t);
	curl_multi_add_handle(r.multi, h);
}

static CURL *api_handle(struct task *t)
{
	CURL *h = curl_easy_init();

	if (!h)
		die("curl_easy_init");
	if (o.unix_path)
		curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, o.unix_path);
	t->hdrs = curl_slist_append(NULL, "Content-Type: application/json");
	if (t->hdrs && o.auth[0])
		t->hdrs = curl_slist_append(t->hdrs, o.auth);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, t->hdrs);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, t);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 300L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	return h;
}

static CURL *guest_handle(struct task *t)
{
	CURL *h = curl_easy_init();

	if (!h)
		die("curl_easy_init");
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, t);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)o.connect_ms);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 2000L);
	curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, 1L);
	curl_easy_setopt(h, CURLOPT_FORBID_REUSE, 1L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
	return h;
}

static void task_fail(struct task *t, const char *why)
{
	if (!t->failed)
		snprintf(t->err, sizeof(t->err), "%s", why);
	t->failed = true;
	t->phase = T_DONE;
}

/* ------------------------------------------------------- command launch */

/* argv from o.cmd split on spaces, {id} {ip} {arg} substituted. */
static int spawn_cmd(struct task *t)
{
	char *copy = strdup(o.cmd), *save = NULL, *tok;
	char *argv[64];
	posix_spawn_file_actions_t fa;
	int argc = 0, rc;

	for (tok = strtok_r(copy, " ", &save); tok && argc < 63;
	     tok = strtok_r(NULL, " ", &save)) {
		const char *v = !strcmp(tok, "{id}") ? t->id : !strcmp(tok, "{ip}") ? t->ip :
				!strcmp(tok, "{arg}") ? t->arg : tok;
		argv[argc++] = strdup(v);
	}
	argv[argc] = NULL;
	posix_spawn_file_actions_init(&fa); /* its stdout would mix into our JSON */
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	rc = posix_spawnp(&t->pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	for (int i = 0; i < argc; i++)
		free(argv[i]);
	free(copy);
	if (rc != 0)
		return -rc;
	t->pidfd = (int)syscall(SYS_pidfd_open, t->pid, 0);
	return t->pidfd < 0 ? -errno : 0;
}

/* ------------------------------------------------------- the state flow */

static void task_begin(struct task *t);

static void start_poll(struct task *t)
{
	char url[128];

	t->phase = T_POLL;
	snprintf(url, sizeof(url), "http://%s/", t->ip);
	xfer_start(t, t->guest, "GET", url, NULL);
}

static void start_stop(struct task *t)
{
	char url[256];

	t->phase = T_STOP;
	t->t_stop = mono_ms();
	if (o.cmd) {
		if (spawn_cmd(t) < 0)
			task_fail(t, "cannot spawn the stop command");
		return;
	}
	snprintf(url, sizeof(url), "%s/vm/%s/stop", r.base_url, t->id);
	xfer_start(t, t->api, "POST", url, NULL);
}

static void record_api_reply(struct task *t)
{
	json_t *j = json_loadb(t->body ? t->body : "", t->body_len, 0, NULL);
	const char *id = json_string_value(json_object_get(j, "id"));
	const char *ip = json_string_value(json_object_get(j, "ip"));

	if (id)
		snprintf(t->id, sizeof(t->id), "%s", id);
	if (ip)
		snprintf(t->ip, sizeof(t->ip), "%s", ip);
	json_decref(j);
}

/* The API's (or the launch command's) answer to a run. */
static void run_answered(struct task *t, bool ok)
{
	t->t_api = mono_ms() - t->t0;
	if (!ok) {
		char why[160];

		snprintf(why, sizeof(why), "run: status %d %.100s", t->status,
			 t->body ? t->body : "");
		task_fail(t, why);
		return;
	}
	samples_add(&r.lat, t->t_api);
	if (o.mode == M_CYCLE)
		start_stop(t);
	else if (o.no_poll)
		t->phase = T_DONE;
	else
		start_poll(t);
}

static void guest_answered(struct task *t, CURLcode cc)
{
	char want[128];
	double now = mono_ms();

	snprintf(want, sizeof(want), "hello from %s", t->id);
	if (t->polls++ == 0) {
		t->first_cc = (int)cc;
		t->first_ms = now - t->t0;
	}
	if (cc == CURLE_OK && t->status == 200 && t->body &&
	    !strncmp(t->body, want, strlen(want))) {
		t->t_http = now - t->t0;
		samples_add(&r.lat2, t->t_http);
		t->phase = T_DONE;
		return;
	}
	if (now > t->t0 + o.timeout_s * 1e3) {
		task_fail(t, "guest did not answer in time");
		return;
	}
	t->phase = T_WAIT_POLL;
	t->wake_at = now + o.poll_ms;
}

static void stop_answered(struct task *t, bool ok)
{
	double ms = mono_ms() - t->t_stop;

	if (!ok) {
		char why[64];

		snprintf(why, sizeof(why), "stop: status %d", t->status);
		task_fail(t, why);
		return;
	}
	samples_add(o.mode == M_CYCLE ? &r.lat2 : &r.lat, ms);
	t->t_stop = ms;
	t->phase = T_DONE;
}

/* ---------------------------------------------------------------- floor */

/* The driver's calls, in its order (pool-worker/drv_firecracker.c). */
static void floor_step(struct task *t)
{
	char body[1024], url[128];
	const char *path = "/actions";
	unsigned i = (unsigned)(t - r.tasks);

	switch (t->step) {
	case 0:
		path = "/machine-config";
		snprintf(body, sizeof(body), "{\"vcpu_count\":1,\"mem_size_mib\":%u,\"smt\":false}",
			 o.mem ? o.mem : 80);
		break;
	case 1:
		path = "/network-interfaces/eth0";
		snprintf(body, sizeof(body), "{\"iface_id\":\"eth0\",\"host_dev_name\":\"uit-%u\","
			 "\"guest_mac\":\"06:00:ac:1f:%02x:%02x\"}", i + 2, (i + 2) >> 8, (i + 2) & 255);
		break;
	case 2:
		path = "/boot-source";
		snprintf(body, sizeof(body), "{\"kernel_image_path\":\"%s\",%s%s%s"
			 "\"boot_args\":\"console=ttyS0 reboot=k panic=-1 quiet "
			 "ip=172.31.0.2::172.31.0.1:255.255.252.0::eth0:off uigniter.id=%s\"}",
			 o.kernel, o.initrd ? "\"initrd_path\":\"" : "", o.initrd ? o.initrd : "",
			 o.initrd ? "\"," : "", t->id);
		break;
	case 3:
		snprintf(body, sizeof(body), "{\"action_type\":\"InstanceStart\"}");
		break;
	default:
		t->t_stop = mono_ms();
		snprintf(body, sizeof(body), "{\"action_type\":\"SendCtrlAltDel\"}");
		break;
	}
	t->phase = T_FC;
	snprintf(url, sizeof(url), "http://localhost%s", path);
	curl_easy_setopt(t->api, CURLOPT_UNIX_SOCKET_PATH, t->sock);
	xfer_start(t, t->api, "PUT", url, body);
}

static void floor_begin(struct task *t)
{
	char *argv[] = { (char *)o.fc, "--api-sock", t->sock, "--id", t->id, NULL };
	posix_spawn_file_actions_t fa;
	int rc;

	snprintf(t->id, sizeof(t->id), "floor-%u", (unsigned)(t - r.tasks));
	snprintf(t->sock, sizeof(t->sock), "%s/%s.sock", o.dir, t->id);
	unlink(t->sock);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	rc = posix_spawn(&t->pid, o.fc, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0 || (t->pidfd = (int)syscall(SYS_pidfd_open, t->pid, 0)) < 0) {
		task_fail(t, "cannot spawn the fake");
		return;
	}
	t->step = 0;
	floor_step(t);
}

/* floor --warm: every fake is configured; all InstanceStarts go out now. */
static void floor_release(void)
{
	double now = mono_ms();

	for (unsigned i = 0; i < r.ntasks; i++) {
		if (r.tasks[i].phase != T_BARRIER)
			continue;
		r.tasks[i].t0 = now;
		floor_step(&r.tasks[i]);
	}
}

/* An answer from the fake; connection refused = not listening yet: retry. */
static void floor_answered(struct task *t, CURLcode cc)
{
	if (t->step == 0 && cc == CURLE_COULDNT_CONNECT) {
		t->phase = T_WAIT_POLL;
		t->wake_at = mono_ms() + 1;
		return;
	}
	if (cc != CURLE_OK || t->status / 100 != 2) {
		char why[160];

		snprintf(why, sizeof(why), "step %u: curl %d status %d %.80s", t->step,
			 (int)cc, t->status, t->body ? t->body : "");
		task_fail(t, why);
		return;
	}
	if (o.warm && t->step == 2) { /* configured: wait for every other one */
		t->step = 3;
		t->phase = T_BARRIER;
		if (++r.at_barrier == r.ntasks)
			floor_release();
		return;
	}
	if (t->step == 3) {
		t->t_api = mono_ms() - t->t0;
		samples_add(&r.lat, t->t_api);
	}
	if (t->step++ < 4)
		floor_step(t);
	else
		t->phase = T_FC_EXIT; /* on_child_exit goes on */
}

static void on_xfer_done(struct task *t, CURL *h, CURLcode cc)
{
	long code = 0;

	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	t->status = (int)code;
	if (o.mode == M_GET) {
		samples_add(&r.lat, mono_ms() - t->t0);
		if (cc != CURLE_OK || code != 200)
			r.errors++;
		t->phase = T_DONE;
		return;
	}
	switch (t->phase) {
	case T_API:
		if (cc == CURLE_OK)
			record_api_reply(t);
		run_answered(t, cc == CURLE_OK && code == 201);
		break;
	case T_POLL:
		guest_answered(t, cc);
		break;
	case T_STOP:
		stop_answered(t, cc == CURLE_OK && code == 200);
		break;
	case T_FC:
		floor_answered(t, cc);
		break;
	default:
		break;
	}
}

static void on_child_exit(struct task *t)
{
	int st = 0;

	waitpid(t->pid, &st, 0);
	close(t->pidfd);
	t->pidfd = -1;
	t->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	if (o.mode == M_FLOOR) {
		unlink(t->sock);
		if (t->phase == T_FC_EXIT) {
			t->t_stop = mono_ms() - t->t_stop;
			samples_add(&r.lat2, t->t_stop);
			t->phase = T_DONE;
		} else {
			task_fail(t, "the fake exited early");
		}
		return;
	}
	if (t->phase == T_SPAWNED)
		run_answered(t, t->status == 0);
	else if (t->phase == T_STOP)
		stop_answered(t, t->status == 0);
}

static void task_begin(struct task *t)
{
	char body[256], url[256];

	t->t0_epoch = epoch_ms();
	t->t0 = mono_ms();
	if (o.mode == M_GET) {
		snprintf(url, sizeof(url), "%s%s", r.base_url, o.path);
		t->phase = T_API;
		xfer_start(t, t->api, "GET", url, NULL);
	} else if (o.mode == M_STOP) {
		start_stop(t);
	} else if (o.mode == M_FLOOR) {
		floor_begin(t);
	} else if (o.cmd) {
		t->phase = T_SPAWNED;
		if (spawn_cmd(t) < 0)
			task_fail(t, "cannot spawn the launch command");
	} else {
		int n = snprintf(body, sizeof(body), "{\"image\":\"%s\"", o.image);

		if (o.mem)
			n += snprintf(body + n, sizeof(body) - (size_t)n, ",\"mem_mib\":%u", o.mem);
		snprintf(body + n, sizeof(body) - (size_t)n, "}");
		snprintf(url, sizeof(url), "%s/vm/run", r.base_url);
		t->phase = T_API;
		xfer_start(t, t->api, "POST", url, body);
	}
}

/* ------------------------------------------------------------- the loop */

static void write_line(struct task *t)
{
	if (!r.out)
		return;
	fprintf(r.out, "%s\t%s\t%.3f\t%.3f\t%.3f\t%.3f\t%s\t%u\t%d\t%.3f\n", t->id[0] ? t->id : "-",
		t->ip[0] ? t->ip : "-", t->t0_epoch, t->t_api, t->t_http,
		o.mode != M_BOOT ? t->t_stop : 0.0,
		t->failed ? t->err : "ok", t->polls, t->polls ? t->first_cc : -1, t->first_ms);
}

/* A slot is free: the next item, or (get) the same slot again until time is up. */
static void refill(void)
{
	while (r.active < o.c && r.next < r.ntasks) {
		task_begin(&r.tasks[r.next++]);
		r.active++;
	}
}

static void task_finished(struct task *t)
{
	r.active--;
	r.done++;
	if (t->failed) {
		r.errors++;
		fprintf(stderr, "loadgen: %s: %s\n", t->id[0] ? t->id : "?", t->err);
	}
	if (o.mode != M_GET)
		write_line(t);
	if (o.mode == M_GET && mono_ms() < r.deadline) {
		t->phase = T_IDLE;
		task_begin(t);
		r.active++;
	}
}

static void drain_messages(void)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(r.multi, &left))) {
		struct task *t;
		CURL *h = msg->easy_handle;
		CURLcode cc = msg->data.result;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(h, CURLINFO_PRIVATE, (char **)&t);
		curl_multi_remove_handle(r.multi, h);
		on_xfer_done(t, h, cc);
		if (t->phase == T_DONE)
			task_finished(t);
	}
}

static double wake_due(void)
{
	double now = mono_ms(), next = now + 200;

	for (unsigned i = 0; i < r.ntasks; i++) {
		struct task *t = &r.tasks[i];

		if (t->phase != T_WAIT_POLL)
			continue;
		if (t->wake_at <= now && o.mode == M_FLOOR)
			floor_step(t);
		else if (t->wake_at <= now)
			start_poll(t);
		else if (t->wake_at < next)
			next = t->wake_at;
	}
	return next - now;
}

static void run_loop(void)
{
	struct curl_waitfd *wfd = calloc(o.c + 1, sizeof(*wfd));
	struct task **wt = calloc(o.c + 1, sizeof(*wt));

	refill();
	while (r.active > 0) {
		int running, nw = 0, ms;

		curl_multi_perform(r.multi, &running);
		drain_messages();
		refill();
		ms = (int)wake_due();
		for (unsigned i = 0; i < r.ntasks && nw < (int)o.c; i++)
			if (r.tasks[i].pidfd >= 0) {
				wt[nw] = &r.tasks[i];
				wfd[nw].fd = r.tasks[i].pidfd;
				wfd[nw].events = CURL_WAIT_POLLIN;
				wfd[nw++].revents = 0;
			}
		curl_multi_poll(r.multi, wfd, (unsigned)nw, ms > 0 ? ms : 0, NULL);
		for (int i = 0; i < nw; i++)
			if (wfd[i].revents) {
				on_child_exit(wt[i]);
				if (wt[i]->phase == T_DONE)
					task_finished(wt[i]);
			}
		refill();
	}
	free(wfd);
	free(wt);
}

/* ------------------------------------------------------------- set-up */

static void load_targets(void)
{
	FILE *f = fopen(o.targets, "r");
	char line[1024];
	unsigned cap = 16;

	if (!f)
		die("cannot open --targets");
	r.tasks = calloc(cap, sizeof(*r.tasks));
	while (fgets(line, sizeof(line), f)) {
		struct task *t;

		if (line[0] == '\n' || line[0] == '#')
			continue;
		if (r.ntasks == cap) {
			r.tasks = realloc(r.tasks, 2 * cap * sizeof(*r.tasks));
			memset(r.tasks + cap, 0, cap * sizeof(*r.tasks));
			cap *= 2;
		}
		t = &r.tasks[r.ntasks++];
		if (sscanf(line, "%63s %63s %511s", t->id, t->ip, t->arg) < 1)
			die("bad --targets line");
	}
	fclose(f);
}

static void setup(void)
{
	if (o.unix_path)
		snprintf(r.base_url, sizeof(r.base_url), "http://uigniter");
	else if (o.tcp)
		snprintf(r.base_url, sizeof(r.base_url), "http://%s", o.tcp);
	else if (!o.cmd && o.mode != M_FLOOR)
		die("--unix, --tcp or --cmd is required");
	if (o.mode == M_FLOOR && (!o.fc || !o.dir || !o.kernel))
		die("floor needs --fc, --dir and --kernel");
	if (o.targets) {
		load_targets();
	} else {
		r.ntasks = o.mode == M_GET ? o.c : o.n;
		r.tasks = calloc(r.ntasks, sizeof(*r.tasks));
	}
	if (!r.tasks || !r.ntasks)
		die("nothing to do");
	if ((o.mode == M_CYCLE || (o.mode == M_BOOT && !o.cmd)) && !o.image)
		die("--image is required");
	for (unsigned i = 0; i < r.ntasks; i++) {
		r.tasks[i].pidfd = -1;
		if (!o.cmd || o.mode == M_GET)
			r.tasks[i].api = api_handle(&r.tasks[i]);
		if (o.mode == M_FLOOR)
			curl_easy_setopt(r.tasks[i].api, CURLOPT_TIMEOUT_MS, 10000L);
		if (o.mode == M_BOOT)
			r.tasks[i].guest = guest_handle(&r.tasks[i]);
	}
	r.multi = curl_multi_init();
	curl_multi_setopt(r.multi, CURLMOPT_MAX_HOST_CONNECTIONS, 0L);
	if (o.out && !(r.out = fopen(o.out, "w")))
		die("cannot open --out");
}

static void report(void)
{
	double wall = mono_ms() - r.t_start;
	json_t *j = json_object();

	json_object_set_new(j, "concurrency", json_integer(o.c));
	json_object_set_new(j, "items", json_integer(r.done));
	json_object_set_new(j, "errors", json_integer(r.errors));
	json_object_set_new(j, "wall_ms", json_real(round(wall)));
	switch (o.mode) {
	case M_GET:
		json_object_set_new(j, "requests_per_s", json_real(round(r.lat.n / (wall / 1e3))));
		json_object_set_new(j, "latency_ms", stats_json(&r.lat));
		break;
	case M_CYCLE:
	case M_FLOOR:
		json_object_set_new(j, "runs_per_s", json_real(round(100 * r.lat.n / (wall / 1e3)) / 100));
		json_object_set_new(j, "run_ms", stats_json(&r.lat));
		json_object_set_new(j, "stop_ms", stats_json(&r.lat2));
		break;
	case M_BOOT:
		json_object_set_new(j, "api_ms", stats_json(&r.lat));
		json_object_set_new(j, "http_ms", stats_json(&r.lat2));
		break;
	case M_STOP:
		json_object_set_new(j, "stop_ms", stats_json(&r.lat));
		break;
	default:
		break;
	}
	json_dumpf(j, stdout, JSON_COMPACT | JSON_REAL_PRECISION(10));
	putchar('\n');
	json_decref(j);
}

static int stats_main(void)
{
	struct samples s = { 0 };
	double x;
	json_t *j;

	while (scanf("%lf", &x) == 1)
		samples_add(&s, x);
	j = stats_json(&s);
	json_dumpf(j, stdout, JSON_COMPACT | JSON_REAL_PRECISION(10));
	putchar('\n');
	json_decref(j);
	free(s.v);
	return 0;
}

int main(int argc, char **argv)
{
	parse_opts(argc, argv);
	if (o.mode == M_STATS)
		return stats_main();
	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	setup();
	r.t_start = mono_ms();
	r.deadline = r.t_start + o.duration_s * 1e3;
	run_loop();
	report();
	if (r.out)
		fclose(r.out);
	return r.errors ? 1 : 0;
}
