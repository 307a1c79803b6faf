/*
 * pool.c — the warm pool's loop side (see pool.h): when to create and
 * retire slots, refill backoff, SIGHUP reload of pool.size/warm_image, the
 * SIGTERM drain, and the shm pool table. The slot states themselves are in
 * lifecycle.c.
 *
 * Refill runs from a timer: pw_pool_kick() (any VM or slot change, through
 * pw_pool_table_update) arms it at 0 ms, so a pass never runs inside the
 * request that caused it. A pass retires stale and surplus slots, then
 * starts up to PW_POOL_MAX_WARMING slots towards pool.size — unless a run
 * that took a warm slot is still starting (the pass comes again once that
 * run has been answered), or a failed slot set a backoff (the timer is then
 * armed for the end of it).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pool.h"
#include "worker.h"

static const struct ui_image *warm_img(struct pw_worker *w)
{
	return w->pool.warm_image[0] ? ui_config_image(w->cfg, w->pool.warm_image)
				     : NULL;
}

/* A slot that is warming or ready (not retired, not failing). */
static bool slot_live(const struct pw_vm *vm)
{
	return vm->slot && !vm->fail_status && vm->phase != PW_STOPPING &&
	       vm->phase != PW_RELEASING;
}

static unsigned count_slots(struct pw_worker *w, bool live_only)
{
	unsigned n = 0;

	for (struct pw_vm *vm = w->vms; vm; vm = vm->next)
		if (live_only ? slot_live(vm) : vm->slot)
			n++;
	return n;
}

void pw_pool_table_update(struct pw_worker *w)
{
	struct pw_pool *p = &w->pool;
	struct ui_pool_table t = {
		.size = p->size, .hits = p->hits, .misses = p->misses,
		.refill_errors = p->refill_errors,
	};

	for (struct pw_vm *vm = w->vms; vm; vm = vm->next) {
		if (vm->slot) {
			t.ready += slot_live(vm) && vm->phase == PW_WARM;
			continue;
		}
		t.vms_running += vm->phase == PW_RUNNING;
		t.in_use += vm->from_pool && !vm->fail_status &&
			    (vm->phase == PW_STARTING || vm->phase == PW_RUNNING);
	}
	ui_pool_table_write(w->shm, &t);
	pw_pool_kick(w);
}

/* ---------------------------------------------------------------- refill */

static void on_refill(uv_timer_t *t);

void pw_pool_kick(struct pw_worker *w)
{
	struct pw_pool *p = &w->pool;

	if (p->started && !p->draining && !w->exiting)
		uv_timer_start(&p->refill, on_refill, 0, 0);
}

/* Slots warmed for something the pool no longer wants, then slots beyond
 * pool.size (those still warming first). */
static void retire_unwanted(struct pw_worker *w, const struct ui_vmm_driver *drv,
			    const struct ui_image *img)
{
	struct pw_pool *p = &w->pool;
	bool can = drv && drv->warm && !p->cannot_warm;
	unsigned live;

	for (struct pw_vm *vm = w->vms, *next; vm; vm = next) {
		next = vm->next; /* retiring may free vm */
		if (slot_live(vm) && (!can || !pw_pool_slot_current(vm, drv, img)))
			pw_slot_retire(vm, "pool.warm_image or driver changed");
	}
	live = count_slots(w, true);
	for (int pass = 0; pass < 2 && live > p->size; pass++) {
		for (struct pw_vm *vm = w->vms, *next; vm && live > p->size; vm = next) {
			next = vm->next;
			if (!slot_live(vm) || (pass == 0) == (vm->phase == PW_WARM))
				continue;
			pw_slot_retire(vm, "pool.size reduced");
			live--;
		}
	}
}

/* A run that took a warm slot and has not been answered yet. */
static bool warm_start_in_flight(struct pw_worker *w)
{
	for (struct pw_vm *vm = w->vms; vm; vm = vm->next)
		if (vm->from_pool && vm->phase == PW_STARTING && !vm->fail_status)
			return true;
	return false;
}

static void refill(struct pw_worker *w)
{
	struct pw_pool *p = &w->pool;
	const struct ui_vmm_driver *drv = pw_pick_driver(w->cfg);
	const struct ui_image *img = warm_img(w);
	unsigned slots = 0, warming = 0, n;
	uint64_t now = ui_now_ms();

	retire_unwanted(w, drv, img);
	if (!p->size || p->cannot_warm || !drv || !drv->warm)
		return;
	if (now < p->retry_at_ms) {
		uv_timer_start(&p->refill, on_refill, p->retry_at_ms - now, 0);
		return;
	}
	if (warm_start_in_flight(w))
		return; /* pw_vm_booted / the failure kicks again */
	for (struct pw_vm *vm = w->vms; vm; vm = vm->next) {
		if (!slot_live(vm))
			continue;
		slots++;
		warming += vm->phase != PW_WARM;
	}
	n = pw_pool_to_spawn(p->size, slots, warming);
	if (!img && !p->imageless_ok && n > 0)
		n = warming ? 0 : 1; /* can the driver warm without image? one asks */
	for (; n > 0; n--) {
		int rc = pw_slot_create(w, drv, img);

		if (rc < 0) {
			ui_warn("pool: cannot create a warm slot: %s", strerror(-rc));
			p->refill_errors++;
			p->backoff_ms = pw_pool_backoff_next(p->backoff_ms);
			p->retry_at_ms = ui_now_ms() + p->backoff_ms;
		}
		if (ui_now_ms() < p->retry_at_ms || p->draining)
			break; /* this slot failed at once: back off */
	}
}

static void on_refill(uv_timer_t *t)
{
	struct pw_worker *w = t->data;

	if (w->pool.started && !w->pool.draining && !w->exiting)
		refill(w);
}

struct pw_vm *pw_pool_take(struct pw_worker *w, const struct ui_image *img,
			   unsigned vcpus, unsigned mem_mib)
{
	struct pw_pool *p = &w->pool;
	struct pw_vm *vm;

	if (!p->size || p->draining)
		return NULL;
	vm = pw_pool_pick(w->vms, pw_pick_driver(w->cfg), img, vcpus, mem_mib);
	if (vm) {
		p->hits++;
	} else {
		p->misses++;
		ui_info("pool: no warm slot fits %s (%u vcpus, %u MiB): cold start",
			img->name, vcpus, mem_mib);
		pw_pool_table_update(w);
	}
	return vm;
}

/* ------------------------------------------------------------ slot events */

void pw_pool_slot_ready(struct pw_vm *vm)
{
	vm->w->pool.backoff_ms = 0;
	if (!vm->row.image[0])
		vm->w->pool.imageless_ok = true;
	ui_info("%s: warm slot ready (%s pid %lld, %s)", vm->row.id, vm->drv->name,
		(long long)vm->row.vmm_pid, vm->row.image[0] ? vm->row.image : "no image");
	pw_pool_table_update(vm->w);
}


void pw_pool_slot_done(struct pw_vm *vm)
{
	struct pw_worker *w = vm->w;
	struct pw_pool *p = &w->pool;
	int rc = ui_reg_vm_delete(w->reg, vm->row.id);

	if (rc < 0 && rc != -ENOENT)
		ui_error("%s: cannot delete the warm slot's row: %s", vm->row.id,
			 strerror(-rc));
	if (vm->fail_status == -ENOTSUP) {
		if (!p->cannot_warm)
			ui_warn("pool: no warm slots: %s", vm->fail_error);
		p->cannot_warm = true;
	} else if (vm->fail_status) {
		p->refill_errors++;
		p->backoff_ms = pw_pool_backoff_next(p->backoff_ms);
		p->retry_at_ms = ui_now_ms() + p->backoff_ms;
		ui_warn("%s: warm slot discarded: %s (next slot in %u ms)",
			vm->row.id, vm->fail_error, p->backoff_ms);
	} else {
		ui_info("%s: warm slot retired", vm->row.id);
	}
	ui_reg_event(w->reg, vm->row.id, "delete",
		     vm->fail_status ? vm->fail_error : "warm slot retired");
	pw_vm_free(vm);
	pw_pool_table_update(w);
	if (p->draining)
		pw_pool_drain_check(w);
}

/* ----------------------------------------------------------------- drain */

static void stop_loop(struct pw_worker *w)
{
	w->exiting = true;
	uv_stop(&w->loop);
}

/* VMs being stopped because shutdown_policy is stop (not slots). */
static unsigned count_stopping(struct pw_worker *w)
{
	unsigned n = 0;

	for (struct pw_vm *vm = w->vms; vm; vm = vm->next)
		if (!vm->slot && (vm->phase == PW_STOPPING || vm->phase == PW_RELEASING))
			n++;
	return n;
}

static bool stop_policy(const struct pw_worker *w)
{
	return w->cfg->shutdown_policy == UI_SHUTDOWN_STOP;
}

void pw_pool_drain_check(struct pw_worker *w)
{
	if (!w->pool.draining || w->exiting || count_slots(w, false) > 0 ||
	    (stop_policy(w) && count_stopping(w) > 0))
		return;
	ui_info("pool: warm slots released; exiting, %s", stop_policy(w) ?
		"VMs stopped (shutdown_policy: stop)" : "VMs left running");
	uv_timer_stop(&w->pool.drain);
	stop_loop(w);
}

static void on_drain_timeout(uv_timer_t *t)
{
	struct pw_worker *w = t->data;

	ui_warn("pool: %u warm slot(s) not released within %u ms: left to the "
		"next start", count_slots(w, false), PW_POOL_DRAIN_MS);
	stop_loop(w);
}

/* shutdown_policy stop: every running VM is stopped like POST stop. */
static void stop_running_vms(struct pw_worker *w)
{
	for (struct pw_vm *vm = w->vms, *next; vm; vm = next) {
		next = vm->next;
		if (!vm->slot && vm->phase == PW_RUNNING)
			pw_vm_begin_stop(vm, "manager stopping (shutdown_policy: stop)");
	}
}

bool pw_pool_drain(struct pw_worker *w)
{
	struct pw_pool *p = &w->pool;
	unsigned wait_ms = PW_POOL_DRAIN_MS;

	p->draining = true;
	uv_timer_stop(&p->refill);
	if (stop_policy(w)) {
		stop_running_vms(w);
		wait_ms += w->cfg->stop_timeout_ms;
	}
	if (count_slots(w, false) == 0 && count_stopping(w) == 0)
		return false;
	ui_info("pool: retiring %u warm slot(s), stopping %u VM(s) before exiting",
		count_slots(w, false), count_stopping(w));
	uv_timer_start(&p->drain, on_drain_timeout, wait_ms, 0);
	for (struct pw_vm *vm = w->vms, *next; vm; vm = next) {
		next = vm->next;
		if (vm->slot)
			pw_slot_retire(vm, "pool-worker stopping");
	}
	return true;
}

/* ---------------------------------------------------------------- SIGHUP */

/* Applies pool.size and pool.warm_image of cfg (already validated). */
static void apply(struct pw_worker *w, const struct ui_config *nc)
{
	struct pw_pool *p = &w->pool;

	ui_info("SIGHUP: pool.size %u -> %u, pool.warm_image \"%s\" -> \"%s\" "
		"(other settings apply at the next start)", p->size, nc->pool_size,
		p->warm_image, nc->warm_image);
	if (strcmp(p->warm_image, nc->warm_image) != 0) {
		p->cannot_warm = false; /* a new image may be warmable */
		p->imageless_ok = false;
	}
	p->size = nc->pool_size;
	snprintf(p->warm_image, sizeof(p->warm_image), "%s", nc->warm_image);
	p->backoff_ms = 0; /* the operator acted: try again now */
	p->retry_at_ms = 0;
	pw_pool_table_update(w);
}

static void on_sighup(uv_signal_t *h, int signum)
{
	struct pw_worker *w = h->data;
	struct ui_config *nc;
	char err[512];

	(void)signum;
	if (!w->cfg->path[0]) {
		ui_warn("SIGHUP: running on built-in defaults, nothing to reload");
		return;
	}
	nc = malloc(sizeof(*nc));
	if (!nc) {
		ui_error("SIGHUP: out of memory; configuration unchanged");
		return;
	}
	if (ui_config_load(w->cfg->path, nc, err, sizeof(err)) < 0) {
		ui_error("SIGHUP: %s; configuration unchanged", err);
	} else if (nc->warm_image[0] && !ui_config_image(w->cfg, nc->warm_image)) {
		ui_error("SIGHUP: pool.warm_image \"%s\" is not an image of the "
			 "running configuration (images change at the next start); "
			 "pool unchanged", nc->warm_image);
		ui_config_free(nc);
	} else {
		apply(w, nc);
		ui_config_free(nc);
	}
	free(nc);
}

/* ------------------------------------------------------------- lifetime */

int pw_pool_init(struct pw_worker *w)
{
	struct pw_pool *p = &w->pool;
	int rc;

	p->size = w->cfg->pool_size;
	snprintf(p->warm_image, sizeof(p->warm_image), "%s", w->cfg->warm_image);
	uv_timer_init(&w->loop, &p->refill);
	uv_timer_init(&w->loop, &p->drain);
	uv_signal_init(&w->loop, &p->sig_hup);
	p->refill.data = p->drain.data = p->sig_hup.data = w;
	rc = uv_signal_start(&p->sig_hup, on_sighup, SIGHUP);
	return rc;
}

void pw_pool_start(struct pw_worker *w)
{
	struct pw_pool *p = &w->pool;

	p->started = true;
	if (p->size)
		ui_info("pool: %u warm slot(s), warm image %s", p->size,
			p->warm_image[0] ? p->warm_image : "(none)");
	pw_pool_table_update(w);
}
