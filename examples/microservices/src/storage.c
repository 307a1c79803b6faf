/*
 * storage.c — holds the raw data to process and the results: objects by
 * key, in memory.
 *
 *   PUT /obj/<key>   body → 201
 *   GET /obj/<key>   → the bytes, or 404
 *   GET /health      → "ok"
 *
 * Keys: [A-Za-z0-9._-/]{1,127}. usage: ms-storage --mc IP:PORT [--port N]
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ms.h"

struct obj {
	struct obj *next;
	char key[128];
	char *data;
	size_t len;
};

static struct {
	pthread_mutex_t mu;
	struct obj *head;
	size_t bytes;
} st = { .mu = PTHREAD_MUTEX_INITIALIZER };

static bool valid_key(const char *k)
{
	size_t n = strlen(k);

	return n && n < 128 && strspn(k, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				      "0123456789._-/") == n && !strstr(k, "..");
}

static void handle(const struct ms_req *req, struct ms_resp *resp, void *arg)
{
	const char *key = req->path + 5;
	struct obj *o;

	(void)arg;
	if (!strcmp(req->path, "/health")) {
		ms_reply(resp, 200, "ok\n");
		return;
	}
	if (strncmp(req->path, "/obj/", 5) || !valid_key(key)) {
		ms_reply(resp, 404, "no route %s %s\n", req->method, req->path);
		return;
	}
	pthread_mutex_lock(&st.mu);
	for (o = st.head; o && strcmp(o->key, key); o = o->next)
		;
	if (!strcmp(req->method, "GET")) {
		char *copy = o ? malloc(o->len ? o->len : 1) : NULL;

		if (!o)
			ms_reply(resp, 404, "no object %s\n", key);
		else if (!copy)
			ms_reply(resp, 500, "out of memory\n");
		else {
			memcpy(copy, o->data, o->len);
			ms_reply_take(resp, 200, copy, o->len);
			resp->ctype = "application/octet-stream";
		}
	} else if (!strcmp(req->method, "PUT")) {
		char *data = malloc(req->len ? req->len : 1);

		if (!data || (!o && !(o = calloc(1, sizeof(*o))))) {
			free(data);
			ms_reply(resp, 500, "out of memory\n");
		} else {
			memcpy(data, req->body, req->len);
			if (o->key[0]) {
				st.bytes -= o->len;
				free(o->data);
			} else {
				snprintf(o->key, sizeof(o->key), "%s", key);
				o->next = st.head;
				st.head = o;
			}
			o->data = data;
			o->len = req->len;
			st.bytes += req->len;
			ms_reply(resp, 201, "stored %s (%zu bytes)\n", key, req->len);
		}
	} else {
		ms_reply(resp, 404, "no route %s %s\n", req->method, req->path);
	}
	pthread_mutex_unlock(&st.mu);
}

int ms_storage_start(const char *mc, unsigned port)
{
	char addr[80];

	if (ms_serve_thread((uint16_t)port, handle, NULL) < 0)
		return -1;
	ms_register(mc, "storage", NULL, (uint16_t)port, addr, sizeof(addr));
	return 0;
}

int ms_storage_main(int argc, char **argv)
{
	return ms_service_main(argc, argv, "storage", MS_PORT_STORAGE, ms_storage_start);
}
