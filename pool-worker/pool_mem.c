/*
 * pool_mem.c — the memory paused VMMs hold (see pool.h): the VmRSS of every
 * paused VM's VMM and every ready slot's (a slot booted ahead is a paused
 * guest too), read from /proc/<pid>/status, summed and listed in the shm
 * pool table (GET /pool paused_rss_kib, paused[]); and pool.max_mem_mib,
 * the cap past which no more slots are made. Measured every tick and
 * before every refill, so a slot that just got ready counts at once.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "pool.h"

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

void pw_pool_measure(struct pw_pool *p)
{
	uint64_t kib;

	p->paused_rss_kib = 0;
	p->n_rss = 0;
	p->n_slot_rss = 0;
	p->slot_rss_kib = 0;
	for (const struct pw_vm *vm = p->e->vms; vm; vm = vm->next) {
		if (!holds_paused_memory(vm) || pw_proc_rss_kib(vm->row.vmm_pid, &kib) < 0)
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
