/*
 * main.c — one binary, the service chosen by the name it runs as (or its
 * first argument): ms-master, ms-db, ms-storage, ms-worker, and ms-core
 * (db, storage and master in one process, each on its default port: the
 * reduced system the system test runs within four guests).
 */
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ms.h"

/* ms fetch http://IP:PORT/PATH — the seed's one-shot app: one GET (with
 * ?vm=<its VM id> in a uigniter guest), the answer on stdout, then exit:
 * 0 for a 200, 1 otherwise. */
int ms_fetch_main(int argc, char **argv)
{
	char id[64] = "", path[600], *body = NULL;
	const char *url, *slash;
	char addr[80];
	int status = 0;
	size_t len = 0;

	if (argc != 2 || strncmp(argv[1], "http://", 7))
		ms_die("fetch", "usage: ms fetch http://IP:PORT/PATH");
	url = argv[1] + 7;
	slash = strchr(url, '/');
	if (!slash || (size_t)(slash - url) >= sizeof(addr))
		ms_die("fetch", "usage: ms fetch http://IP:PORT/PATH");
	memcpy(addr, url, (size_t)(slash - url));
	addr[slash - url] = '\0';
	ms_vm_id(id, sizeof(id));
	snprintf(path, sizeof(path), "%s%s%s%s", slash, id[0] ? (strchr(slash, '?') ? "&" : "?") : "",
		 id[0] ? "vm=" : "", id);
	for (int i = 0; i < 50; i++) { /* the network may come up a moment after us */
		if (ms_call(addr, "GET", path, NULL, 0, 2000, &status, &body, &len) == 0)
			break;
		usleep(100000);
	}
	if (!body)
		ms_die("fetch", "%s does not answer", addr);
	fwrite(body, 1, len, stdout);
	free(body);
	return status == 200 ? 0 : 1;
}

static int core_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "mc", required_argument, NULL, 'm' },
		{ "lease-ms", required_argument, NULL, 'l' },
		{ 0 },
	};
	const char *mc = NULL;
	unsigned lease = 3000;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'm')
			mc = optarg;
		else if (c == 'l')
			lease = (unsigned)atoi(optarg);
		else
			ms_die("core", "usage: ms-core --mc IP:PORT [--lease-ms N]");
	}
	if (!mc || lease < 100)
		ms_die("core", "usage: ms-core --mc IP:PORT [--lease-ms N>=100]");
	if (ms_db_start(mc, MS_PORT_DB, lease) < 0 || ms_storage_start(mc, MS_PORT_STORAGE) < 0 ||
	    ms_master_start(mc, MS_PORT_MASTER) < 0)
		ms_die("core", "cannot start db, storage and master");
	for (;;)
		pause();
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*main)(int, char **);
	} svc[] = {
		{ "ms-master", ms_master_main }, { "ms-db", ms_db_main },
		{ "ms-storage", ms_storage_main }, { "ms-worker", ms_worker_main },
		{ "ms-core", core_main }, { "ms-fetch", ms_fetch_main },
	};
	const char *me = basename(argv[0]);

	setvbuf(stderr, NULL, _IOLBF, 0);
	for (size_t i = 0; i < sizeof(svc) / sizeof(svc[0]); i++) {
		if (!strcmp(me, svc[i].name))
			return svc[i].main(argc, argv);
		if (argc > 1 && !strcmp(argv[1], svc[i].name + 3))
			return svc[i].main(argc - 1, argv + 1);
	}
	fprintf(stderr, "usage: ms {master|db|storage|worker|core|fetch} [options] "
			"(or run as ms-master, ms-db, …)\n");
	return 2;
}
