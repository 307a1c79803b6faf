/*
 * metrics.c — histogram buckets, the phase and failure-reason names, and
 * the classification of a VM's error sentence (see metrics.h). Pure but
 * for the atomics of the one writer of each histogram.
 */
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include "metrics.h"

/* a registry write: 50 µs .. 1 s */
static const uint64_t reg_write_us[] = {
	50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 1000000,
};
/* a phase of a start: 1 ms .. 60 s */
static const uint64_t phase_us[] = {
	1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
	1000000, 2500000, 5000000, 10000000, 30000000, 60000000,
};
_Static_assert(sizeof(reg_write_us) / sizeof(reg_write_us[0]) <= UI_HIST_MAX_BUCKETS, "buckets");
_Static_assert(sizeof(phase_us) / sizeof(phase_us[0]) <= UI_HIST_MAX_BUCKETS, "buckets");

const uint64_t *ui_hist_bounds(enum ui_hist_kind kind, size_t *n)
{
	if (kind == UI_HIST_REG_WRITE) {
		*n = sizeof(reg_write_us) / sizeof(reg_write_us[0]);
		return reg_write_us;
	}
	*n = sizeof(phase_us) / sizeof(phase_us[0]);
	return phase_us;
}

/* Relaxed: every counter is monotonic on its own; a reader never needs two
 * of them to agree (metrics.h). */
void ui_hist_observe(struct ui_hist *h, enum ui_hist_kind kind, uint64_t v_us)
{
	size_t n, i = 0;
	const uint64_t *b = ui_hist_bounds(kind, &n);

	while (i < n && v_us > b[i])
		i++;
	atomic_fetch_add_explicit(&h->bucket[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->sum_us, v_us, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
}

const char *ui_phase_name(enum ui_phase p)
{
	static const char *const names[UI_PHASE_COUNT] = {
		[UI_PHASE_LEASE] = "lease", [UI_PHASE_SPAWN] = "spawn",
		[UI_PHASE_BOOT] = "boot", [UI_PHASE_READY] = "ready", [UI_PHASE_RUN] = "run",
	};

	return (unsigned)p < UI_PHASE_COUNT ? names[p] : "unknown";
}

const char *ui_fail_reason_name(enum ui_fail_reason r)
{
	static const char *const names[UI_FAIL_COUNT] = {
		[UI_FAIL_OOM] = "oom", [UI_FAIL_VMM_EXIT] = "vmm_exit",
		[UI_FAIL_TIMEOUT] = "timeout", [UI_FAIL_SPAWN] = "spawn",
		[UI_FAIL_NETWORK] = "network", [UI_FAIL_REGISTRY] = "registry",
		[UI_FAIL_RESTART] = "restart", [UI_FAIL_OTHER] = "other",
	};

	return (unsigned)r < UI_FAIL_COUNT ? names[r] : "other";
}

/* The sentences the engine and its drivers write (engine.c, recover.c,
 * drv_*.c); the first rule that matches wins. */
enum ui_fail_reason ui_fail_reason_of(const char *error, int spawning)
{
	static const struct { const char *needle; enum ui_fail_reason r; bool prefix; } rules[] = {
		{ "out of memory", UI_FAIL_OOM, true },
		{ "registry:", UI_FAIL_REGISTRY, true },
		{ "network:", UI_FAIL_NETWORK, true },
		{ "pool-worker restart", UI_FAIL_RESTART, false },
		{ "exited with", UI_FAIL_VMM_EXIT, false }, /* first: it quotes the console */
		{ "within", UI_FAIL_TIMEOUT, false },       /* "did not report … within N ms" */
		{ "timeout", UI_FAIL_TIMEOUT, false },
		{ "no vmm process", UI_FAIL_VMM_EXIT, false },
	};

	if (!error)
		error = "";
	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
		const char *at = strstr(error, rules[i].needle);

		if (at && (!rules[i].prefix || at == error))
			return rules[i].r;
	}
	return spawning ? UI_FAIL_SPAWN : UI_FAIL_OTHER;
}

uint64_t ui_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}
