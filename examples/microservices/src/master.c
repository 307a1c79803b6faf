/*
 * master.c — routes calls between modules: "/call/<type>/<path>" is looked
 * up in memcached (svc:<type>, or svc:worker:<id> for "worker:<id>") and
 * forwarded to that service with the same method, query and body; its
 * answer is returned as it is. A service that is not registered is 503, one
 * that does not answer within 3 s is 504.
 *
 * Every second master asks db to take back leases past their deadline
 * (POST /expire): that is how a dead worker is noticed — its task goes
 * back to the queue and another worker takes it.
 *
 *   ANY  /call/<type>/<path>   forwarded
 *   GET  /services             lines "<type> <addr>" (db, storage, each worker)
 *   GET  /requeued             lines "<task> <worker>": every task taken back so far
 *   GET  /hello?vm=ID          "hello ID": the one-shot app's call (ms fetch);
 *                              its arrival (CLOCK_REALTIME ms) is recorded
 *   GET  /hellos               lines "<vm> <epoch ms>": every /hello so far
 *   GET  /health               "ok"
 *
 * usage: ms-master --mc IP:PORT [--port N]
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ms.h"

#define CALL_TIMEOUT_MS 3000

static const char *master_mc;
static pthread_mutex_t requeued_mu = PTHREAD_MUTEX_INITIALIZER;
static char *requeued; /* lines "<task> <worker>\n" */
static size_t requeued_len;
static char *hellos; /* lines "<vm> <epoch ms>\n" */
static size_t hellos_len;

static void hello(const struct ms_req *req, struct ms_resp *resp)
{
	char vm[64] = "-", line[100], *n;
	int len;

	if (!ms_query(req->query, "vm", vm, sizeof(vm)) || !vm[0] ||
	    strspn(vm, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(vm)) {
		ms_reply(resp, 400, "vm= (a VM id) is required\n");
		return;
	}
	len = snprintf(line, sizeof(line), "%s %llu\n", vm, (unsigned long long)ms_epoch_ms());
	pthread_mutex_lock(&requeued_mu);
	n = realloc(hellos, hellos_len + (size_t)len + 1);
	if (n) {
		memcpy(n + hellos_len, line, (size_t)len + 1);
		hellos = n;
		hellos_len += (size_t)len;
	}
	pthread_mutex_unlock(&requeued_mu);
	ms_reply(resp, n ? 200 : 500, "%s\n", n ? "hello" : "out of memory");
}

static int lookup(const char *type, char *addr, size_t alen)
{
	char key[200];
	const char *colon = strchr(type, ':');

	if (colon && !strncmp(type, "worker:", 7))
		snprintf(key, sizeof(key), "svc:worker:%s", colon + 1);
	else
		snprintf(key, sizeof(key), "svc:%s", type);
	return ms_mc_get(master_mc, key, addr, alen);
}

static void forward(const struct ms_req *req, struct ms_resp *resp)
{
	char type[100], addr[80], path[1100];
	const char *p = req->path + 6, *slash = strchr(p, '/');
	char *body = NULL;
	size_t blen = 0;
	int status, rc;

	if (!slash || slash == p || (size_t)(slash - p) >= sizeof(type)) {
		ms_reply(resp, 404, "want /call/<type>/<path>\n");
		return;
	}
	memcpy(type, p, (size_t)(slash - p));
	type[slash - p] = '\0';
	rc = lookup(type, addr, sizeof(addr));
	if (rc < 0) {
		ms_reply(resp, 503, "the registry (memcached %s) does not answer\n", master_mc);
		return;
	}
	if (rc == 0) {
		ms_reply(resp, 503, "no service %s is registered\n", type);
		return;
	}
	snprintf(path, sizeof(path), "%s%s%s", slash, req->query[0] ? "?" : "", req->query);
	if (ms_call(addr, req->method, path, req->body, req->len, CALL_TIMEOUT_MS, &status,
		    &body, &blen) < 0) {
		ms_reply(resp, 504, "service %s at %s does not answer\n", type, addr);
		return;
	}
	ms_reply_take(resp, status, body, blen);
}

static void services(struct ms_resp *resp)
{
	char db[80] = "-", storage[80] = "-", list[4096] = "", *save = NULL, out[8192];
	size_t n;

	if (lookup("db", db, sizeof(db)) < 0 || lookup("storage", storage, sizeof(storage)) < 0 ||
	    ms_mc_get(master_mc, "svc:workers", list, sizeof(list)) < 0) {
		ms_reply(resp, 503, "the registry (memcached %s) does not answer\n", master_mc);
		return;
	}
	n = (size_t)snprintf(out, sizeof(out), "db %s\nstorage %s\n", db, storage);
	for (char *w = strtok_r(list, " ", &save); w && n < sizeof(out); w = strtok_r(NULL, " ", &save)) {
		char t[100], a[80] = "-";

		snprintf(t, sizeof(t), "worker:%s", w);
		if (lookup(t, a, sizeof(a)) < 0)
			snprintf(a, sizeof(a), "?");
		n += (size_t)snprintf(out + n, sizeof(out) - n, "worker:%s %s\n", w, a);
	}
	ms_reply(resp, 200, "%s", out);
}

static void handle(const struct ms_req *req, struct ms_resp *resp, void *arg)
{
	(void)arg;
	if (!strncmp(req->path, "/call/", 6))
		forward(req, resp);
	else if (!strcmp(req->path, "/services"))
		services(resp);
	else if (!strcmp(req->path, "/requeued")) {
		pthread_mutex_lock(&requeued_mu);
		ms_reply(resp, 200, "%.*s", (int)requeued_len, requeued ? requeued : "");
		pthread_mutex_unlock(&requeued_mu);
	} else if (!strcmp(req->path, "/hello")) {
		hello(req, resp);
	} else if (!strcmp(req->path, "/hellos")) {
		pthread_mutex_lock(&requeued_mu);
		ms_reply(resp, 200, "%.*s", (int)hellos_len, hellos ? hellos : "");
		pthread_mutex_unlock(&requeued_mu);
	} else if (!strcmp(req->path, "/health"))
		ms_reply(resp, 200, "ok\n");
	else
		ms_reply(resp, 404, "no route %s %s\n", req->method, req->path);
}

static void *reaper(void *arg)
{
	(void)arg;
	for (;;) {
		char addr[80], *body = NULL;
		size_t len = 0;
		int status;

		sleep(1);
		if (lookup("db", addr, sizeof(addr)) != 1 ||
		    ms_call(addr, "POST", "/expire", NULL, 0, CALL_TIMEOUT_MS, &status, &body, &len) < 0)
			continue;
		if (status == 200 && len) {
			char *nr;

			ms_log("master", "timed out (task worker), back in the queue:\n%s", body);
			pthread_mutex_lock(&requeued_mu);
			nr = realloc(requeued, requeued_len + len + 1);
			if (nr) {
				memcpy(nr + requeued_len, body, len);
				requeued = nr;
				requeued_len += len;
				requeued[requeued_len] = '\0';
			}
			pthread_mutex_unlock(&requeued_mu);
		}
		free(body);
	}
	return NULL;
}

int ms_master_start(const char *mc, unsigned port)
{
	char addr[80];
	pthread_t t;

	master_mc = mc;
	if (ms_serve_thread((uint16_t)port, handle, NULL) < 0 ||
	    pthread_create(&t, NULL, reaper, NULL) != 0 || pthread_detach(t) != 0)
		return -1;
	ms_register(mc, "master", NULL, (uint16_t)port, addr, sizeof(addr));
	return 0;
}

int ms_master_main(int argc, char **argv)
{
	return ms_service_main(argc, argv, "master", MS_PORT_MASTER, ms_master_start);
}
