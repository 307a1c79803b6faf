/*
 * top.c — `uictl top [-n N] [--json]`: a live view refreshed each second:
 * the VMs (from GET /vm, else the read-only registry), their state, and
 * the CPU % and RSS of each VMM process (/proc/<pid>/stat and status, the
 * pid the API or registry gives), and the warm pool (GET /pool). -n N stops
 * after N refreshes; --json prints one object per refresh, one a line.
 *
 * CPU %: utime+stime ticks between two refreshes over the wall time
 * between them (100 = one core); at the first refresh, over the process's
 * life. A pid that is gone shows "-".
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "uictl.h"

#define TOP_MAX_SAMPLES 1024

struct sample {
	long pid;
	unsigned long long ticks;
	double at; /* seconds, CLOCK_BOOTTIME */
};

struct top {
	struct sample prev[TOP_MAX_SAMPLES], cur[TOP_MAX_SAMPLES];
	size_t nprev, ncur;
	long hz;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts); /* the clock /proc/PID/stat starttime counts */
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* utime+stime and starttime (ticks) of pid; -errno when it is gone. */
static int proc_ticks(long pid, unsigned long long *ticks, unsigned long long *start)
{
	char path[64], buf[1024], *p;
	unsigned long long ut, st;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if (!(f = fopen(path, "re")))
		return -errno;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	if (!(p = strrchr(buf, ')')))
		return -EPROTO;
	/* after ") ": state(3) ... utime(14) stime(15) ... starttime(22) */
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu "
			  "%*d %*d %*d %*d %*d %*d %llu", &ut, &st, start) != 3)
		return -EPROTO;
	*ticks = ut + st;
	return 0;
}

static long proc_rss_kib(long pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	if (!(f = fopen(path, "re")))
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

/* CPU % of pid since its previous sample (or its start); -1 when gone. */
static double cpu_pct(struct top *t, long pid)
{
	unsigned long long ticks, start;
	double at = now_s(), since;

	if (proc_ticks(pid, &ticks, &start) < 0)
		return -1;
	if (t->ncur < TOP_MAX_SAMPLES)
		t->cur[t->ncur++] = (struct sample){ pid, ticks, at };
	for (size_t i = 0; i < t->nprev; i++)
		if (t->prev[i].pid == pid && ticks >= t->prev[i].ticks && at > t->prev[i].at)
			return 100.0 * (ticks - t->prev[i].ticks) / t->hz / (at - t->prev[i].at);
	since = at - (double)start / t->hz;
	return since > 0 ? 100.0 * ticks / t->hz / since : 0;
}

/* The VMs shown: from the API, else the registry (*api_up false). */
static int top_vms(struct uictl *u, json_t **arr, bool *api_up)
{
	struct api_answer a;
	int r;

	if (!(*arr = json_array()))
		return UICTL_EXIT_FAIL;
	*api_up = true;
	r = u->db ? -ECONNREFUSED : vm_list(u, NULL, *arr, &a);
	if (r == 0) {
		if (a.status != 200)
			r = api_report("top", &a);
		api_answer_free(&a);
		return r;
	}
	if (!api_unreachable(r))
		return api_fail_code(u, r);
	json_decref(*arr);
	*api_up = false;
	return reg_vm_array(u, NULL, arr);
}

static json_t *top_pool(struct uictl *u, bool api_up)
{
	struct api_answer a;
	json_t *p = NULL;

	if (api_up && api_call(u, "GET", "/pool", NULL, &a) == 0) {
		if (a.status == 200)
			p = json_incref(a.body);
		api_answer_free(&a);
	}
	return p ? p : json_null();
}

/* Adds cpu_pct and rss_kib to each live VM; returns the live ones. */
static json_t *top_measure(struct top *t, json_t *arr)
{
	json_t *out = json_array(), *vm, *row;
	size_t i;

	if (!out)
		return NULL;
	t->ncur = 0;
	json_array_foreach(arr, i, vm) {
		json_t *pid = json_object_get(vm, "pid");
		double cpu;
		long rss;

		if (!vm_live(vm))
			continue;
		cpu = json_is_integer(pid) ? cpu_pct(t, json_integer_value(pid)) : -1;
		rss = json_is_integer(pid) ? proc_rss_kib(json_integer_value(pid)) : -1;
		row = json_pack("{s:O,s:O,s:O,s:O,s:o,s:o}", "id", json_object_get(vm, "id"),
				"name", json_object_get(vm, "name"), "state",
				json_object_get(vm, "state"), "pid", pid ? pid : json_null(),
				"cpu_pct", cpu >= 0 ? json_real(cpu) : json_null(),
				"rss_kib", rss >= 0 ? json_integer(rss) : json_null());
		if (row)
			json_array_append_new(out, row);
	}
	memcpy(t->prev, t->cur, t->ncur * sizeof(t->cur[0]));
	t->nprev = t->ncur;
	return out;
}

static void top_print(struct uictl *u, json_t *frame, bool api_up)
{
	static const char *const head[] = { "ID", "NAME", "STATE", "PID", "CPU%", "RSS_MIB", NULL };
	static const char *const keys[] = { "id", "name", "state", "pid", "cpu_pct", "rss_kib" };
	json_t *pool = json_object_get(frame, "pool"), *vm;
	char cell[6][CELL], b[7][32];
	struct table tab;
	size_t i;

	if (isatty(STDOUT_FILENO))
		printf("\033[H\033[2J");
	printf("uictl top  %s  API %s%s\n", json_string_value(json_object_get(frame, "time")),
	       api_where(u), api_up ? "" : " down: read from registry");
	if (json_is_object(pool))
		printf("pool: size %s  ready %s  in_use %s  hits %s  misses %s\n",
		       json_text(pool, "size", b[0], 32), json_text(pool, "ready", b[1], 32),
		       json_text(pool, "in_use", b[2], 32), json_text(pool, "hits", b[3], 32),
		       json_text(pool, "misses", b[4], 32));
	else
		printf("pool: unknown (no API)\n");
	table_init(&tab, head);
	json_array_foreach(json_object_get(frame, "vms"), i, vm) {
		const char *vals[6];

		for (int c = 0; c < 6; c++)
			vals[c] = json_text(vm, keys[c], cell[c], CELL);
		if (json_is_integer(json_object_get(vm, "rss_kib")))
			snprintf(cell[5], CELL, "%.1f",
				 json_integer_value(json_object_get(vm, "rss_kib")) / 1024.0);
		if (table_add(&tab, vals) < 0)
			break;
	}
	table_print(&tab);
	table_free(&tab);
}

/* One refresh: measure, print. Exit code. */
static int top_once(struct uictl *u, struct top *t)
{
	json_t *arr = NULL, *frame;
	char when[32];
	time_t now = time(NULL);
	bool api_up;
	int r;

	if ((r = top_vms(u, &arr, &api_up)) != 0)
		return r;
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	frame = json_pack("{s:s,s:b,s:o,s:o}", "time", when, "api", api_up, "pool",
			  top_pool(u, api_up), "vms", top_measure(t, arr));
	json_decref(arr);
	if (!frame)
		return UICTL_EXIT_FAIL;
	if (u->json)
		print_json(frame);
	else
		top_print(u, frame, api_up);
	json_decref(frame);
	return fflush(stdout) == 0 ? 0 : UICTL_EXIT_FAIL;
}

int cmd_top(struct uictl *u, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "iterations", required_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct top *t;
	long n = 0;
	char *end;
	int opt, r = 0;

	while ((opt = getopt_long(argc, argv, "n:", opts, NULL)) != -1) {
		switch (opt) {
		case 'n':
			n = strtol(optarg, &end, 10);
			if (*end || end == optarg || n < 1)
				return uictl_usage_error("top: -n takes a positive integer");
			break;
		case 'j': u->json = true; break;
		default: return uictl_usage_error("top: bad option");
		}
	}
	if (optind < argc)
		return uictl_usage_error("top: unexpected argument '%s'", argv[optind]);
	if (!(t = calloc(1, sizeof(*t))))
		return UICTL_EXIT_FAIL;
	t->hz = sysconf(_SC_CLK_TCK);
	for (long i = 0; r == 0 && (n == 0 || i < n); i++) {
		if (i > 0)
			sleep(1);
		r = top_once(u, t);
	}
	free(t);
	return r;
}
