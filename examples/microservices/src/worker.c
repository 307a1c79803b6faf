/*
 * worker.c — does the processing: takes a task from db through master,
 * reads its input from storage, turns the PPM image into a grayscale PGM,
 * writes the result to storage under a key of its own lease, and marks the
 * task done. While it works (--slow-ms stretches each task, so a batch
 * lasts long enough to kill a worker in the middle of one) it renews its
 * lease every 500 ms; a refused renewal or completion (409: master gave
 * the task to another worker) drops the task.
 *
 *   GET /health   "ok"      GET /stats   "done N lost N"
 *
 * usage: ms-worker --mc IP:PORT [--id ID] [--port N] [--slow-ms N]
 * The id: --id, else the VM id of a uigniter guest, else its address.
 */
#include <getopt.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ms.h"

#define HEARTBEAT_MS 500

static atomic_uint done_n, lost_n;

static void handle(const struct ms_req *req, struct ms_resp *resp, void *arg)
{
	(void)arg;
	if (!strcmp(req->path, "/health"))
		ms_reply(resp, 200, "ok\n");
	else if (!strcmp(req->path, "/stats"))
		ms_reply(resp, 200, "done %u lost %u\n", atomic_load(&done_n), atomic_load(&lost_n));
	else
		ms_reply(resp, 404, "no route %s %s\n", req->method, req->path);
}

/* A call through master; -1 when master does not answer. */
static int via_master(const char *mc, const char *method, const char *path, const char *body,
		      size_t len, int *status, char **out, size_t *outlen)
{
	char master[80];

	if (ms_mc_get(mc, "svc:master", master, sizeof(master)) != 1)
		return -1;
	return ms_call(master, method, path, body, len, 5000, status, out, outlen);
}

/* Sleeps ms, renewing the lease; false when the lease was lost. */
static bool work_for(const char *mc, unsigned ms, const char *task, const char *lease)
{
	char path[200];

	snprintf(path, sizeof(path), "/call/db/heartbeat?task=%s&lease=%s", task, lease);
	while (ms) {
		unsigned slice = ms < HEARTBEAT_MS ? ms : HEARTBEAT_MS;
		char *b = NULL;
		int st = 0;

		usleep(slice * 1000);
		ms -= slice;
		if (via_master(mc, "POST", path, NULL, 0, &st, &b, NULL) == 0 && st == 409) {
			free(b);
			return false;
		}
		free(b);
	}
	return true;
}

static void one_task(const char *mc, const char *id, unsigned slow_ms, char *line)
{
	char task[40], lease[20], type[32], input[128], path[400], out[200], err[128];
	char *data = NULL, *b = NULL;
	unsigned char *pgm = NULL;
	size_t len = 0, plen = 0;
	int st = 0;

	if (sscanf(line, "%39s %19s %31s %127s", task, lease, type, input) != 4) {
		ms_log("worker", "db answered a task I cannot read: %.80s", line);
		return;
	}
	ms_log("worker", "%s: task %s (%s %s)", id, task, type, input);
	if (!work_for(mc, slow_ms, task, lease))
		goto lost;
	snprintf(path, sizeof(path), "/call/storage/obj/%s", input);
	if (via_master(mc, "GET", path, NULL, 0, &st, &data, &len) < 0 || st != 200) {
		ms_log("worker", "task %s: input %s not read (status %d); the lease will expire",
		       task, input, st);
		goto out;
	}
	if (strcmp(type, "gray") || ms_ppm_to_pgm((unsigned char *)data, len, &pgm, &plen, err,
						     sizeof(err)) < 0) {
		ms_log("worker", "task %s: %s", task, strcmp(type, "gray") ? "unknown type" : err);
		goto out;
	}
	snprintf(out, sizeof(out), "out/%s.%s.pgm", task, lease);
	snprintf(path, sizeof(path), "/call/storage/obj/%s", out);
	free(b);
	b = NULL;
	if (via_master(mc, "PUT", path, (char *)pgm, plen, &st, &b, NULL) < 0 || st != 201) {
		ms_log("worker", "task %s: output not stored (status %d)", task, st);
		goto out;
	}
	free(b);
	b = NULL;
	snprintf(path, sizeof(path), "/call/db/done?task=%s&lease=%s&output=%s", task, lease, out);
	if (via_master(mc, "POST", path, NULL, 0, &st, &b, NULL) < 0) {
		ms_log("worker", "task %s: master does not answer to done", task);
		goto out;
	}
	if (st == 409)
		goto lost;
	if (st == 200) {
		atomic_fetch_add(&done_n, 1);
		ms_log("worker", "%s: task %s done → %s", id, task, out);
	}
	goto out;
lost:
	atomic_fetch_add(&lost_n, 1);
	ms_log("worker", "%s: task %s was given to another worker; dropped", id, task);
out:
	free(b);
	free(data);
	free(pgm);
}

int ms_worker_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "mc", required_argument, NULL, 'm' },
		{ "id", required_argument, NULL, 'i' },
		{ "port", required_argument, NULL, 'p' },
		{ "slow-ms", required_argument, NULL, 's' },
		{ 0 },
	};
	const char *mc = NULL;
	char id[64] = "", addr[80], path[200];
	unsigned port = MS_PORT_WORKER, slow = 0;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'm')
			mc = optarg;
		else if (c == 'i')
			snprintf(id, sizeof(id), "%s", optarg);
		else if (c == 'p')
			port = (unsigned)atoi(optarg);
		else if (c == 's')
			slow = (unsigned)atoi(optarg);
		else
			ms_die("worker", "usage: ms-worker --mc IP:PORT [--id ID] [--port N] [--slow-ms N]");
	}
	if (!mc || !port || port > 65535)
		ms_die("worker", "usage: ms-worker --mc IP:PORT [--id ID] [--port N] [--slow-ms N]");
	if (!id[0] && !ms_vm_id(id, sizeof(id)))
		ms_own_ip(id, sizeof(id));
	if (strspn(id, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-_") !=
	    strlen(id))
		ms_die("worker", "--id: letters, digits, '.', '-', '_' only");
	if (ms_serve_thread((uint16_t)port, handle, NULL) < 0)
		ms_die("worker", "cannot serve on port %u", port);
	ms_register(mc, "worker", id, (uint16_t)port, addr, sizeof(addr));
	snprintf(path, sizeof(path), "/call/db/next?worker=%s", id);
	for (;;) {
		char *b = NULL;
		int st = 0;

		if (via_master(mc, "POST", path, NULL, 0, &st, &b, NULL) < 0 || st != 200) {
			if (st != 204 && st != 0)
				ms_log("worker", "next task: status %d: %.100s", st, b ? b : "");
			free(b);
			usleep(st == 204 ? 200000 : 500000);
			continue;
		}
		one_task(mc, id, slow, b);
		free(b);
	}
}
