/*
 * db.c — the task queue: tasks with a globally unique id, a type, an input
 * (a storage key) and a state: queued → running (leased to one worker,
 * until its lease's deadline) → done. A lease that passes its deadline
 * (the worker died or hangs) is taken back by POST /expire (master calls it
 * every second) and the task is queued again; a completion or heartbeat
 * under an old lease is refused (409), so a task is done exactly once even
 * when a worker that was given up on comes back.
 *
 *   POST /tasks            body: lines "<type> <input key>" → lines "<id>"
 *   POST /next?worker=W    → "<id> <lease> <type> <input>", or 204
 *   POST /heartbeat?task=T&lease=L      → 200, or 409 (not your lease)
 *   POST /done?task=T&lease=L&output=K  → 200, or 409
 *   POST /expire           → lines "<id> <worker>" taken back
 *   GET  /tasks            → lines "<id> <state> <worker> <attempts> <output> <ms> <work ms>"
 *                            (ms: queued → done; work ms: the last lease → done)
 *   GET  /health           → "ok"
 *
 * usage: ms-db --mc IP:PORT [--port N] [--lease-ms N]
 */
#include <getopt.h>
#include <stdarg.h>
#include <unistd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "ms.h"

enum tstate { T_QUEUED, T_RUNNING, T_DONE };
static const char *const tstate_name[] = { "queued", "running", "done" };

struct task {
	char id[33], type[32], input[128], output[160], worker[64], lease[17];
	enum tstate state;
	unsigned attempts;
	uint64_t created, leased, deadline, done_at;
};

static struct {
	pthread_mutex_t mu;
	struct task *t;
	size_t n, cap;
	unsigned lease_ms;
} db = { .mu = PTHREAD_MUTEX_INITIALIZER, .lease_ms = 3000 };

static int random_hex(char *out, size_t bytes)
{
	unsigned char r[16];

	if (bytes > sizeof(r) || getrandom(r, bytes, 0) != (ssize_t)bytes)
		return -1;
	for (size_t i = 0; i < bytes; i++)
		sprintf(out + 2 * i, "%02x", r[i]);
	return 0;
}

static struct task *find(const char *id)
{
	for (size_t i = 0; i < db.n; i++)
		if (!strcmp(db.t[i].id, id))
			return &db.t[i];
	return NULL;
}

/* Appends to a growing answer; false when out of memory. */
struct buf {
	char *p;
	size_t len, cap;
};

static bool buf_add(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool buf_add(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0)
			return false;
		if (b->p && b->len + (size_t)n < b->cap) {
			b->len += (size_t)n;
			return true;
		}
		{
			size_t cap = (b->cap ? b->cap * 2 : 4096) + (size_t)n;
			char *np = realloc(b->p, cap);

			if (!np)
				return false;
			b->p = np;
			b->cap = cap;
		}
	}
}

static void add_tasks(const struct ms_req *req, struct ms_resp *resp)
{
	struct buf out = { 0 };
	char *save = NULL, *body = strdup(req->body);

	if (!body) {
		ms_reply(resp, 500, "out of memory\n");
		return;
	}
	for (char *l = strtok_r(body, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		struct task t = { 0 };

		if (sscanf(l, "%31s %127s", t.type, t.input) != 2) {
			ms_reply(resp, 400, "bad task line \"%.60s\": want \"<type> <input key>\"\n", l);
			goto out;
		}
		if (random_hex(t.id, 16) < 0) {
			ms_reply(resp, 500, "getrandom failed\n");
			goto out;
		}
		t.created = ms_now_ms();
		if (db.n == db.cap) {
			size_t cap = db.cap ? db.cap * 2 : 64;
			struct task *nt = realloc(db.t, cap * sizeof(*nt));

			if (!nt) {
				ms_reply(resp, 500, "out of memory\n");
				goto out;
			}
			db.t = nt;
			db.cap = cap;
		}
		db.t[db.n++] = t;
		if (!buf_add(&out, "%s\n", t.id)) {
			ms_reply(resp, 500, "out of memory\n");
			goto out;
		}
	}
	ms_reply_take(resp, 201, out.p, out.len);
	out.p = NULL;
out:
	free(out.p);
	free(body);
}

static void handle(const struct ms_req *req, struct ms_resp *resp, void *arg)
{
	char worker[64], task[40], lease[20], output[160];
	uint64_t now = ms_now_ms();
	struct task *t;

	(void)arg;
	if (!strcmp(req->path, "/health")) {
		ms_reply(resp, 200, "ok\n");
		return;
	}
	pthread_mutex_lock(&db.mu);
	if (!strcmp(req->method, "POST") && !strcmp(req->path, "/tasks")) {
		add_tasks(req, resp);
	} else if (!strcmp(req->method, "POST") && !strcmp(req->path, "/next")) {
		if (!ms_query(req->query, "worker", worker, sizeof(worker)) || !worker[0]) {
			ms_reply(resp, 400, "worker= is required\n");
			goto out;
		}
		for (size_t i = 0; i < db.n; i++) {
			t = &db.t[i];
			if (t->state != T_QUEUED)
				continue;
			if (random_hex(t->lease, 8) < 0) {
				ms_reply(resp, 500, "getrandom failed\n");
				goto out;
			}
			t->state = T_RUNNING;
			t->attempts++;
			t->deadline = now + db.lease_ms;
			t->leased = now;
			snprintf(t->worker, sizeof(t->worker), "%s", worker);
			ms_reply(resp, 200, "%s %s %s %s\n", t->id, t->lease, t->type, t->input);
			goto out;
		}
		ms_reply(resp, 204, "%s", "");
	} else if (!strcmp(req->method, "POST") &&
		   (!strcmp(req->path, "/heartbeat") || !strcmp(req->path, "/done"))) {
		bool done = !strcmp(req->path, "/done");

		if (!ms_query(req->query, "task", task, sizeof(task)) ||
		    !ms_query(req->query, "lease", lease, sizeof(lease)) ||
		    (done && (!ms_query(req->query, "output", output, sizeof(output)) || !output[0]))) {
			ms_reply(resp, 400, "task=, lease=%s are required\n", done ? " and output=" : "");
			goto out;
		}
		t = find(task);
		if (!t) {
			ms_reply(resp, 404, "no task %s\n", task);
		} else if (t->state != T_RUNNING || strcmp(t->lease, lease)) {
			ms_reply(resp, 409, "task %s is %s under another lease\n", task,
				 tstate_name[t->state]);
		} else if (done) {
			t->state = T_DONE;
			t->done_at = now;
			snprintf(t->output, sizeof(t->output), "%s", output);
			ms_reply(resp, 200, "done\n");
		} else {
			t->deadline = now + db.lease_ms;
			ms_reply(resp, 200, "renewed\n");
		}
	} else if (!strcmp(req->method, "POST") && !strcmp(req->path, "/expire")) {
		struct buf out = { 0 };

		if (!buf_add(&out, "%s", ""))
			goto oom;
		for (size_t i = 0; i < db.n; i++) {
			t = &db.t[i];
			if (t->state != T_RUNNING || t->deadline > now)
				continue;
			if (!buf_add(&out, "%s %s\n", t->id, t->worker)) {
				free(out.p);
				goto oom;
			}
			ms_log("db", "task %s: lease of worker %s expired; queued again", t->id,
			       t->worker);
			t->state = T_QUEUED;
			t->lease[0] = '\0';
		}
		ms_reply_take(resp, 200, out.p, out.len);
	} else if (!strcmp(req->method, "GET") && !strcmp(req->path, "/tasks")) {
		struct buf out = { 0 };

		if (!buf_add(&out, "%s", ""))
			goto oom;
		for (size_t i = 0; i < db.n; i++) {
			t = &db.t[i];
			bool d = t->state == T_DONE;

			if (!buf_add(&out, "%s %s %s %u %s %llu %llu\n", t->id, tstate_name[t->state],
				     t->worker[0] ? t->worker : "-", t->attempts,
				     t->output[0] ? t->output : "-",
				     d ? (unsigned long long)(t->done_at - t->created) : 0ull,
				     d ? (unsigned long long)(t->done_at - t->leased) : 0ull)) {
				free(out.p);
				goto oom;
			}
		}
		ms_reply_take(resp, 200, out.p, out.len);
	} else {
		ms_reply(resp, 404, "no route %s %s\n", req->method, req->path);
	}
out:
	pthread_mutex_unlock(&db.mu);
	return;
oom:
	ms_reply(resp, 500, "out of memory\n");
	pthread_mutex_unlock(&db.mu);
}

int ms_db_start(const char *mc, unsigned port, unsigned lease_ms)
{
	char addr[80];

	db.lease_ms = lease_ms;
	if (ms_serve_thread((uint16_t)port, handle, NULL) < 0)
		return -1;
	ms_register(mc, "db", NULL, (uint16_t)port, addr, sizeof(addr));
	ms_log("db", "task queue on %s (lease %u ms)", addr, db.lease_ms);
	return 0;
}

int ms_db_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "mc", required_argument, NULL, 'm' },
		{ "port", required_argument, NULL, 'p' },
		{ "lease-ms", required_argument, NULL, 'l' },
		{ 0 },
	};
	const char *mc = NULL;
	unsigned port = MS_PORT_DB, lease = 3000;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'm')
			mc = optarg;
		else if (c == 'p')
			port = (unsigned)atoi(optarg);
		else if (c == 'l')
			lease = (unsigned)atoi(optarg);
		else
			ms_die("db", "usage: ms-db --mc IP:PORT [--port N] [--lease-ms N]");
	}
	if (!mc || !port || port > 65535 || lease < 100)
		ms_die("db", "usage: ms-db --mc IP:PORT [--port N] [--lease-ms N>=100]");
	if (ms_db_start(mc, port, lease) < 0)
		ms_die("db", "cannot serve on port %u", port);
	for (;;)
		pause();
}
