/*
 * pool_mem.c — the memory paused VMMs hold (see pool.h): the VmRSS of every
 * paused VM's VMM and every ready slot's (a slot booted ahead is a paused
 * guest too), read from /proc/<pid>/status, summed and listed in the shm
 * pool table (GET /pool paused_rss_kib, paused[]); and pool.max_mem_mib,
 * the cap past which no more slots are made. Measured every tick and
 * before every refill, so a slot that just got ready counts at once.
 *
 * A VMM's VmRSS is read from /proc once per state it enters and then at
 * most once per PW_RSS_FRESH_MS (each tick reads it again): a measure runs on
 * every take of a slot, and reading every slot's /proc each time made a
 * burst of 64 runs on a pool of 64 read /proc ~8000 times
 * (docs/BENCHMARKS.md part 6).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "pool.h"
#include "shm.h"

int pw_proc_rss_kib(int64_t pid, uint64_t *kib)
{
	char path[64], line[128];
	FILE *f;
	int rc = -ENODATA;

	snprintf(path, sizeof(path), "/proc/%" PRId64 "/status", pid);
	if (!(f = fopen(path, "re")))
		return -errno;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %" SCNu64, kib) == 1) {
			rc = 0;
			break;
		}
	fclose(f);
	return rc;
}

static bool holds_paused_memory(const struct pw_vm *vm)
{
	return (vm->state == PW_S_PAUSED || vm->state == PW_S_WARM) && vm->row.vmm_pid > 0;
}

#define PW_RSS_FRESH_MS 900u /* below the tick's 1 s: every tick reads afresh */

/* vm's VmRSS: the one read since it entered its state, if younger than
 * PW_RSS_FRESH_MS, else read now (and kept). */
static int vm_rss_kib(struct pw_vm *vm, uint64_t now_us, uint64_t *kib)
{
	int rc;

	if (vm->rss.at_us && vm->rss.at_us >= vm->clk.phase_us &&
	    now_us - vm->rss.at_us < PW_RSS_FRESH_MS * 1000u) {
		*kib = vm->rss.kib;
		return 0;
	}
	if ((rc = pw_proc_rss_kib(vm->row.vmm_pid, kib)) < 0)
		return rc;
	vm->rss.kib = *kib;
	vm->rss.at_us = now_us;
	return 0;
}

void pw_pool_measure(struct pw_pool *p)
{
	uint64_t kib, now = ui_now_us();

	p->paused_rss_kib = 0;
	p->n_rss = 0;
	p->n_slot_rss = 0;
	p->slot_rss_kib = 0;
	for (struct pw_vm *vm = p->e->vms; vm; vm = vm->next) {
		if (!holds_paused_memory(vm) || vm_rss_kib(vm, now, &kib) < 0)
			continue; /* gone: its exit is on its way */
		p->paused_rss_kib += kib;
		if (vm->state == PW_S_WARM) {
			p->n_slot_rss++;
			p->slot_rss_kib += kib;
		}
		if (p->n_rss < UI_POOL_RSS_MAX) {
			struct ui_pool_rss *r = &p->rss[p->n_rss++];

			snprintf(r->id, sizeof(r->id), "%.*s", (int)sizeof(r->id) - 1, vm->row.id);
			r->slot = vm->state == PW_S_WARM;
			r->rss_kib = kib;
		}
	}
}

bool pw_pool_mem_allows(struct pw_pool *p)
{
	uint64_t cap = (uint64_t)p->e->cfg->pool_max_mem_mib * 1024;
	/* what one more slot will hold: as much as the ready ones do */
	uint64_t next = p->n_slot_rss ? p->slot_rss_kib / p->n_slot_rss : 0;
	bool ok = !cap || p->paused_rss_kib + next <= cap;

	if (!ok && !p->mem_capped)
		ui_warn("pool: no more slots: paused VMs and ready slots hold %" PRIu64
			" KiB, one more (~%" PRIu64 " KiB) would pass pool.max_mem_mib %u",
			p->paused_rss_kib, next, p->e->cfg->pool_max_mem_mib);
	else if (ok && p->mem_capped)
		ui_info("pool: under pool.max_mem_mib again");
	p->mem_capped = !ok;
	return ok;
}
