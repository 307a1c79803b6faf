/*
 * metrics_text.c — GET /metrics (metrics_text.h). Every family is written
 * with its HELP and TYPE lines, each label set of a family in a fixed
 * order; histograms as cumulative _bucket{le} lines (seconds), _sum and
 * _count, with _count = the +Inf bucket (the counters are read one by one,
 * so the stored total may be a step ahead of the buckets).
 *
 * Resets: the shm counters (runs, stops, failures, phases, registry
 * writes, restarts) live as long as the manager (a new segment at its
 * start); the pool's hits, misses and refill errors are pool-worker's and
 * restart at 0 with it. Prometheus' rate() takes both as counter resets.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events.h"
#include "json.h"
#include "log.h"
#include "metrics_text.h"
#include "registry.h"
#include "server.h"
#include "shm.h"

#define LOAD(p) atomic_load_explicit((p), memory_order_relaxed)

static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP uigniter_%s %s\n# TYPE uigniter_%s %s\n", name, help, name, type);
}

/* µs as seconds, shortest exact form. */
static void seconds(FILE *f, uint64_t us)
{
	fprintf(f, "%llu.%06llu", (unsigned long long)(us / 1000000),
		(unsigned long long)(us % 1000000));
}

static void le(FILE *f, uint64_t us)
{
	char buf[32];
	size_t n;

	snprintf(buf, sizeof(buf), "%llu.%06llu", (unsigned long long)(us / 1000000),
		 (unsigned long long)(us % 1000000));
	n = strlen(buf);
	while (buf[n - 1] == '0')
		buf[--n] = '\0';
	if (buf[n - 1] == '.')
		buf[--n] = '\0';
	fputs(buf, f);
}

/* One label set of a histogram family; label is `name="value"`. */
static void hist(FILE *f, const char *name, const char *label, const struct ui_hist *h,
		 enum ui_hist_kind kind)
{
	size_t n;
	const uint64_t *b = ui_hist_bounds(kind, &n);
	uint64_t cum = 0;

	for (size_t i = 0; i <= n; i++) {
		cum += LOAD(&h->bucket[i]);
		fprintf(f, "uigniter_%s_bucket{%s,le=\"", name, label);
		if (i < n)
			le(f, b[i]);
		else
			fputs("+Inf", f);
		fprintf(f, "\"} %llu\n", (unsigned long long)cum);
	}
	fprintf(f, "uigniter_%s_sum{%s} ", name, label);
	seconds(f, LOAD(&h->sum_us));
	fprintf(f, "\nuigniter_%s_count{%s} %llu\n", name, label, (unsigned long long)cum);
}

static void vm_metrics(FILE *f, const struct ui_pool_metrics *m)
{
	char label[64];

	family(f, "runs_total", "counter",
	       "VMs that came to run (origin: cold start or a warm slot taken)");
	fprintf(f, "uigniter_runs_total{origin=\"cold\"} %llu\n",
		(unsigned long long)LOAD(&m->runs[UI_RUN_COLD]));
	fprintf(f, "uigniter_runs_total{origin=\"warm\"} %llu\n",
		(unsigned long long)LOAD(&m->runs[UI_RUN_WARM]));
	family(f, "stops_total", "counter", "VMs that came to stopped");
	fprintf(f, "uigniter_stops_total %llu\n", (unsigned long long)LOAD(&m->stops));
	family(f, "failures_total", "counter", "VMs that came to failed, by reason");
	for (int i = 0; i < UI_FAIL_COUNT; i++)
		fprintf(f, "uigniter_failures_total{reason=\"%s\"} %llu\n", ui_fail_reason_name(i),
			(unsigned long long)LOAD(&m->failures[i]));
	family(f, "vm_phase_seconds", "histogram",
	       "Phases of a VM's start: lease (tap made), spawn, boot, ready, run (request to running)");
	for (int i = 0; i < UI_PHASE_COUNT; i++) {
		snprintf(label, sizeof(label), "phase=\"%s\"", ui_phase_name(i));
		hist(f, "vm_phase_seconds", label, &m->phase[i], UI_HIST_PHASE);
	}
}

static void pool_metrics(FILE *f, struct ui_shm *shm)
{
	struct ui_pool_table t;

	ui_pool_table_read(shm, &t);
	family(f, "pool_size", "gauge", "pool.size: warm slots wanted");
	fprintf(f, "uigniter_pool_size %u\n", t.size);
	family(f, "pool_ready", "gauge", "Warm slots ready to be taken");
	fprintf(f, "uigniter_pool_ready %u\n", t.ready);
	family(f, "pool_warming", "gauge", "Warm slots being prepared");
	fprintf(f, "uigniter_pool_warming %u\n", t.warming);
	family(f, "pool_in_use", "gauge", "VMs running on a slot taken from the pool");
	fprintf(f, "uigniter_pool_in_use %u\n", t.in_use);
	family(f, "pool_hits_total", "counter", "Runs served by a warm slot (since pool-worker started)");
	fprintf(f, "uigniter_pool_hits_total %llu\n", (unsigned long long)t.hits);
	family(f, "pool_misses_total", "counter", "Runs no warm slot fitted (since pool-worker started)");
	fprintf(f, "uigniter_pool_misses_total %llu\n", (unsigned long long)t.misses);
	family(f, "pool_refill_errors_total", "counter",
	       "Slots that failed while being prepared (since pool-worker started)");
	fprintf(f, "uigniter_pool_refill_errors_total %llu\n", (unsigned long long)t.refill_errors);
}

static const char *const vm_states[] = {
	UI_VM_CREATING, UI_VM_STARTING, UI_VM_RUNNING, UI_VM_STOPPING, UI_VM_FAILING,
	UI_VM_STOPPED, UI_VM_FAILED, UI_VM_WARMING, UI_VM_WARM, UI_VM_RETIRING,
};
#define N_STATES (sizeof(vm_states) / sizeof(vm_states[0]))

static int count_state(const char *state, uint64_t n, void *arg)
{
	uint64_t *by = arg;

	for (size_t i = 0; i < N_STATES; i++)
		if (strcmp(state, vm_states[i]) == 0)
			by[i] = n;
	return 0;
}

static int state_metrics(FILE *f, struct ui_registry *reg)
{
	uint64_t by[N_STATES] = { 0 };
	int rc = ui_reg_vm_count_by_state(reg, count_state, by);

	if (rc < 0)
		return rc;
	family(f, "vms", "gauge", "VM rows in the registry by state (warm slots included)");
	for (size_t i = 0; i < N_STATES; i++)
		fprintf(f, "uigniter_vms{state=\"%s\"} %llu\n", vm_states[i],
			(unsigned long long)by[i]);
	return 0;
}

static void daemon_metrics(FILE *f, struct ui_shm *shm)
{
	static const char *const rings[UI_RING_COUNT] = {
		"api_to_pool", "pool_to_api", "pool_to_net", "net_to_pool",
	};
	char label[64];

	family(f, "daemon_up", "gauge", "1 while the daemon runs and has said it is ready");
	for (int d = 0; d < UI_D_COUNT; d++)
		fprintf(f, "uigniter_daemon_up{daemon=\"%s\"} %d\n", ui_daemon_name(d),
			LOAD(&shm->daemon[d].up) && LOAD(&shm->daemon[d].ready));
	family(f, "daemon_restarts_total", "counter", "Restarts of the daemon by uigniterd");
	for (int d = 0; d < UI_D_COUNT; d++)
		fprintf(f, "uigniter_daemon_restarts_total{daemon=\"%s\"} %u\n", ui_daemon_name(d),
			LOAD(&shm->daemon[d].restarts));
	family(f, "ring_depth", "gauge", "Messages queued in each shm ring");
	for (int i = 0; i < UI_RING_COUNT; i++)
		fprintf(f, "uigniter_ring_depth{ring=\"%s\"} %u\n", rings[i],
			ui_ring_count(&shm->ring[i]));
	family(f, "ring_capacity", "gauge", "Slots of each shm ring");
	for (int i = 0; i < UI_RING_COUNT; i++)
		fprintf(f, "uigniter_ring_capacity{ring=\"%s\"} %u\n", rings[i], UI_RING_CAP);
	family(f, "registry_write_seconds", "histogram",
	       "Registry write transactions (BEGIN IMMEDIATE to COMMIT) by daemon");
	for (int d = 0; d < UI_D_COUNT; d++) {
		if (d == UI_D_APID)
			continue; /* read-only */
		snprintf(label, sizeof(label), "daemon=\"%s\"", ui_daemon_name(d));
		hist(f, "registry_write_seconds", label, &shm->metrics.reg[d].write, UI_HIST_REG_WRITE);
	}
	family(f, "registry_write_failures_total", "counter",
	       "Registry write transactions that did not commit, by daemon");
	for (int d = 0; d < UI_D_COUNT; d++)
		if (d != UI_D_APID)
			fprintf(f, "uigniter_registry_write_failures_total{daemon=\"%s\"} %llu\n",
				ui_daemon_name(d),
				(unsigned long long)LOAD(&shm->metrics.reg[d].write_failures));
}

/* apid's own: its long-polls (reset when apid restarts). */
static void apid_metrics(FILE *f, struct apid_server *s)
{
	uint64_t queries;
	unsigned waiting;

	events_hub_stats(s, &waiting, &queries);
	family(f, "events_waiting", "gauge", "GET /events long-polls waiting now");
	fprintf(f, "uigniter_events_waiting %u\n", waiting);
	family(f, "events_queries_total", "counter",
	       "Registry reads made for waiting long-polls, one per change (since apid started)");
	fprintf(f, "uigniter_events_queries_total %llu\n", (unsigned long long)queries);
	family(f, "api_vm_answers_total", "counter",
	       "VMs answered after pool-worker's reply (run, stop, pause, resume), by where "
	       "apid took the VM from: the reply itself or a registry read (since apid started)");
	fprintf(f, "uigniter_api_vm_answers_total{from=\"reply\"} %llu\n",
		(unsigned long long)s->answered_from[1]);
	fprintf(f, "uigniter_api_vm_answers_total{from=\"registry\"} %llu\n",
		(unsigned long long)s->answered_from[0]);
}

void metrics_answer(struct apid_server *s, struct http_response *r)
{
	struct ui_shm *shm = s->be->shm;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int rc;

	if (!f) {
		api_error(r, 500, "internal", "out of memory");
		return;
	}
	vm_metrics(f, &shm->metrics.pool);
	pool_metrics(f, shm);
	rc = state_metrics(f, s->be->reg);
	daemon_metrics(f, shm);
	apid_metrics(f, s);
	if (fclose(f) != 0 || rc < 0) {
		free(buf);
		if (rc < 0)
			api_error(r, 500, "internal", "registry read failed: %s", strerror(-rc));
		else
			api_error(r, 500, "internal", "out of memory");
		return;
	}
	r->status = 200;
	r->body = buf;
	r->body_len = len;
	r->content_type = "text/plain; version=0.0.4; charset=utf-8";
}
