/*
 * pool.c — the warm pool's loop side (see pool.h): counts and the shm pool
 * table, refill, take, retirement, backoff, the SIGTERM drain and the
 * SIGHUP reload. The slots' transitions are the engine's.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pool.h"

static unsigned live_slots(const struct pw_pool *p)
{
	return p->count[PW_S_PENDING] + p->count[PW_S_WARMING] + p->count[PW_S_WARM];
}

static const struct ui_image *warm_img(const struct pw_pool *p)
{
	return p->warm_image[0] ? ui_config_image(p->e->cfg, p->warm_image) : NULL;
}

static void publish(struct pw_pool *p)
{
	struct ui_pool_table t = {
		.size = p->size, .ready = p->count[PW_S_WARM], .in_use = p->in_use,
		.hits = p->hits, .misses = p->misses, .refill_errors = p->refill_errors,
		.vms_running = p->count[PW_S_RUNNING], .vms_paused = p->count[PW_S_PAUSED],
		.warming = p->count[PW_S_PENDING] + p->count[PW_S_WARMING],
		.paused_rss_kib = p->paused_rss_kib, .n_rss = p->n_rss,
		.retired_image_changed = p->retired_image_changed,
	};

	memcpy(t.rss, p->rss, sizeof(t.rss));
	pw_snap_publish(&p->snap, &t);
	ui_pool_table_write(p->shm, &t);
}

static void on_refill(uv_timer_t *t);

/* Not a 0 ms timer: one armed from a timer callback (libcurl's answers come
 * through one) runs in the same pass of the loop's timers, and the new
 * slots' rows would join the batch whose commit answers the run that took
 * a slot — ~0.2 ms more before its 201. One tick later, they commit alone. */
static void kick(struct pw_pool *p)
{
	if (p->phase == PW_POOL_ON &&
	    uv_timer_start(&p->refill, on_refill, PW_POOL_REFILL_MS, 0) < 0)
		ui_error("pool: cannot arm the refill timer");
}

/* ---- counting ---------------------------------------------------------------- */

static bool counted(enum pw_state s)
{
	return s != PW_S_NEW && !pw_state_is_final(s);
}

static void count_move(struct pw_pool *p, const struct pw_vm *vm, enum pw_state from)
{
	bool was = from == PW_S_STARTING || pw_state_is_live(from);
	bool is = vm->state == PW_S_STARTING || pw_state_is_live(vm->state);

	if (counted(from) && p->count[from])
		p->count[from]--;
	if (counted(vm->state))
		p->count[vm->state]++;
	if (vm->origin != PW_ORIGIN_SLOT)
		return;
	p->in_use += is && !was;
	p->in_use -= was && !is && p->in_use;
	p->taking += vm->state == PW_S_STARTING && from != PW_S_STARTING;
	p->taking -= from == PW_S_STARTING && vm->state != PW_S_STARTING && p->taking;
}

static void recount(struct pw_pool *p)
{
	memset(p->count, 0, sizeof(p->count));
	p->in_use = p->taking = 0;
	for (struct pw_vm *vm = p->e->vms; vm; vm = vm->next)
		count_move(p, vm, PW_S_NEW);
}

/* ---- slot outcomes ------------------------------------------------------------- */

static void back_off(struct pw_pool *p, const char *why)
{
	p->refill_errors++;
	p->backoff_ms = pw_pool_backoff_next(p->backoff_ms);
	p->retry_at_ms = ui_now_ms() + p->backoff_ms;
	ui_warn("pool: warm slot failed: %s (next slot in %u ms)", why, p->backoff_ms);
}

/* A slot is gone: retired, or failed (backoff; a driver that cannot warm
 * without an image is told once and the pool keeps no slots). */
static void slot_gone(struct pw_pool *p, const struct pw_vm *vm)
{
	if (vm->fail_status == -ENOTSUP) {
		if (p->imageless != PW_IMAGELESS_NO)
			ui_warn("pool: no warm slots: %s", vm->row.error);
		p->imageless = PW_IMAGELESS_NO;
	} else if (vm->fail_status) {
		back_off(p, vm->row.error);
		pw_snap_slot_failed(&p->snap, vm->row.error);
	}
}

static void slot_ready(struct pw_pool *p, const struct pw_vm *vm)
{
	p->backoff_ms = 0;
	pw_snap_slot_ready(&p->snap);
	if (!vm->row.image[0])
		p->imageless = PW_IMAGELESS_OK;
	ui_info("%s: warm slot ready (%s pid %lld, %s)", vm->row.id, vm->vmm.drv->name,
		(long long)vm->row.vmm_pid, vm->row.image[0] ? vm->row.image : "no image");
}

static bool drain_done(const struct pw_pool *p)
{
	bool stop = p->e->cfg->shutdown_policy == UI_SHUTDOWN_STOP;

	return live_slots(p) + p->count[PW_S_RETIRING] == 0 &&
	       (!stop || p->count[PW_S_STOPPING] + p->count[PW_S_FAILING] == 0);
}

static void drain_finish(struct pw_pool *p, const char *how)
{
	if (p->phase != PW_POOL_DRAINING)
		return;
	ui_info("pool: %s; exiting, %s", how,
		p->e->cfg->shutdown_policy == UI_SHUTDOWN_STOP ?
		"VMs stopped (shutdown_policy: stop)" : "VMs left running");
	p->phase = PW_POOL_DRAINED;
	uv_timer_stop(&p->drain);
	p->drained(p);
}

static void on_drain_over(uv_timer_t *t)
{
	drain_finish(t->data, "warm slots released");
}

void pw_pool_changed(struct pw_pool *p, struct pw_vm *vm, enum pw_state from)
{
	char why[256];

	if (from == PW_S_NEW && vm->state == PW_S_PENDING && vm->row.image[0]) {
		vm->img_stamped = pw_image_stamp(&vm->row, &vm->img_stamp, why, sizeof(why)) == 0;
		if (!vm->img_stamped)
			ui_warn("%s: warm slot: cannot stamp its image: %s", vm->row.id, why);
	}
	count_move(p, vm, from);
	if (vm->state == PW_S_WARM && from != PW_S_WARM)
		slot_ready(p, vm);
	if (vm->state == PW_S_GONE && from != PW_S_GONE)
		slot_gone(p, vm);
	if (vm->state != from && (vm->state == PW_S_WARM || vm->state == PW_S_PAUSED ||
				  from == PW_S_WARM || from == PW_S_PAUSED))
		pw_pool_measure(p); /* the memory held paused changed: at once */
	publish(p);
	if (p->phase == PW_POOL_DRAINING && drain_done(p)) {
		/* Not from inside the transition that called us: the drain's end
		 * frees every VM, this one included. */
		if (uv_timer_start(&p->drain, on_drain_over, 0, 0) < 0)
			ui_error("pool: cannot arm the drain timer");
	} else if (vm->state != from) {
		kick(p);
	}
}

/* ---- refill ---------------------------------------------------------------------- */

/* Slots warmed for something the pool no longer wants, then slots beyond
 * pool.size (those still preparing first). */
static void retire_unwanted(struct pw_pool *p, const struct ui_vmm_driver *drv,
			    const struct ui_image *img)
{
	bool can = drv->warm && p->imageless != PW_IMAGELESS_NO;
	unsigned live;

	for (struct pw_vm *vm = p->e->vms, *next; vm; vm = next) {
		next = vm->next; /* retiring may free vm */
		if (pw_state_is_slot(vm->state) && vm->state != PW_S_RETIRING &&
		    (!can || !pw_pool_slot_current(vm, drv, img)))
			pw_engine_retire(vm, "pool.warm_image or driver changed");
	}
	live = live_slots(p);
	for (int pass = 0; pass < 2 && live > p->size; pass++) {
		for (struct pw_vm *vm = p->e->vms, *next; vm && live > p->size; vm = next) {
			next = vm->next;
			if (!pw_state_is_slot(vm->state) || vm->state == PW_S_RETIRING ||
			    (pass == 0) == (vm->state == PW_S_WARM))
				continue;
			pw_engine_retire(vm, "pool.size reduced");
			live--;
		}
	}
}

static void refill(struct pw_pool *p)
{
	const struct ui_vmm_driver *drv = pw_engine_driver(p->e);
	const struct ui_image *img = warm_img(p);
	unsigned warming = p->count[PW_S_PENDING] + p->count[PW_S_WARMING], n;
	uint64_t now = ui_now_ms();

	retire_unwanted(p, drv, img);
	if (!p->size || p->imageless == PW_IMAGELESS_NO || !drv->warm || p->taking)
		return; /* a run on a slot still starting kicks again when done */
	pw_pool_measure(p);
	if (!pw_pool_mem_allows(p))
		return; /* the tick tries again */
	if (now < p->retry_at_ms) {
		if (uv_timer_start(&p->refill, on_refill, p->retry_at_ms - now, 0) < 0)
			ui_error("pool: cannot arm the refill timer");
		return;
	}
	/* snapshot: no slot before its template is built (then restored, or
	 * booted ahead if it failed) */
	if (p->e->cfg->pool_boot == UI_POOL_BOOT_SNAPSHOT && img && live_slots(p) < p->size &&
	    pw_snap_want(&p->snap, img) == PW_TMPL_BUILDING) {
		publish(p);
		return; /* its end kicks */
	}
	n = pw_pool_to_spawn(p->size, live_slots(p), warming,
			     p->e->cfg->pool_boot != UI_POOL_BOOT_PREPARED ? PW_POOL_MAX_BOOTING :
									     PW_POOL_MAX_WARMING);
	if (!img && p->imageless == PW_IMAGELESS_UNKNOWN && n > 0)
		n = warming ? 0 : 1; /* can the driver warm without image? one asks */
	for (; n > 0 && p->phase == PW_POOL_ON && now >= p->retry_at_ms; n--) {
		int rc = pw_engine_slot_new(p->e, drv, img);

		if (rc < 0 && rc != -EPERM)
			back_off(p, strerror(-rc));
	}
}

static void on_refill(uv_timer_t *t)
{
	struct pw_pool *p = t->data;

	if (p->phase == PW_POOL_ON)
		refill(p);
}

struct pw_vm *pw_pool_take(struct pw_pool *p, const struct ui_image *img, unsigned vcpus,
			   unsigned mem_mib, bool custom)
{
	struct pw_vm *vm;

	if (!p->size || p->phase != PW_POOL_ON)
		return NULL;
	/* bounded: a retire the registry holds leaves the slot WARM (picked again) */
	for (unsigned tries = 0; tries < 16 &&
	     (vm = pw_pool_pick(p->e->vms, pw_engine_driver(p->e), img, vcpus, mem_mib)); tries++) {
		char why[320];

		if (custom && vm->row.image[0])
			break; /* its kernel command line is fixed: a miss */
		if (pw_image_unchanged(vm, why, sizeof(why))) {
			p->hits++;
			return vm;
		}
		ui_warn("%s: warm slot retired, never handed out: %s", vm->row.id, why);
		p->retired_image_changed++;
		pw_engine_retire(vm, why); /* RETIRING now: not picked again */
	}
	p->misses++;
	if (vm)
		ui_info("pool: the run's cmd/boot_args are not %s's and a warm slot's kernel "
			"command line is fixed: cold start", img->name);
	else
		ui_info("pool: no warm slot fits %s (%u vcpus, %u MiB): cold start", img->name,
			vcpus, mem_mib);
	publish(p);
	return NULL;
}

void pw_pool_tick(struct pw_pool *p)
{
	bool discarded = pw_snap_tick(&p->snap);

	pw_pool_measure(p);
	publish(p);
	if (p->mem_capped || discarded)
		kick(p); /* measured again there: room again? a template to build? */
}

/* ---- drain ------------------------------------------------------------------------ */

static void on_drain_timeout(uv_timer_t *t)
{
	struct pw_pool *p = t->data;

	ui_warn("pool: %u warm slot(s) not released in time: left to the next start",
		live_slots(p) + p->count[PW_S_RETIRING]);
	drain_finish(p, "drain timed out");
}

void pw_pool_drain(struct pw_pool *p)
{
	bool stop = p->e->cfg->shutdown_policy == UI_SHUTDOWN_STOP;
	unsigned wait_ms = PW_POOL_DRAIN_MS + (stop ? p->e->cfg->stop_timeout_ms : 0);

	p->phase = PW_POOL_DRAINING;
	uv_timer_stop(&p->refill);
	pw_snap_stop(&p->snap); /* its file goes with us */
	publish(p);
	if (uv_timer_start(&p->drain, on_drain_timeout, wait_ms, 0) < 0)
		ui_error("pool: cannot arm the drain timer");
	ui_info("pool: retiring %u warm slot(s)%s before exiting", live_slots(p),
		stop ? ", stopping every VM" : "");
	for (struct pw_vm *vm = p->e->vms, *next; vm; vm = next) {
		next = vm->next;
		if (pw_state_is_slot(vm->state))
			pw_engine_retire(vm, "pool-worker stopping");
		else if (stop && pw_state_is_live(vm->state))
			pw_engine_stop_vm(vm, "manager stopping (shutdown_policy: stop)");
	}
	if (drain_done(p) && uv_timer_start(&p->drain, on_drain_over, 0, 0) < 0)
		ui_error("pool: cannot arm the drain timer");
}

/* ---- SIGHUP ------------------------------------------------------------------------ */

static void apply(struct pw_pool *p, const struct ui_config *nc)
{
	ui_info("SIGHUP: pool.size %u -> %u, pool.warm_image \"%s\" -> \"%s\" "
		"(other settings apply at the next start)", p->size, nc->pool_size,
		p->warm_image, nc->warm_image);
	if (strcmp(p->warm_image, nc->warm_image) != 0)
		p->imageless = PW_IMAGELESS_UNKNOWN; /* a new image may be warmable */
	p->size = nc->pool_size;
	snprintf(p->warm_image, sizeof(p->warm_image), "%s", nc->warm_image);
	p->backoff_ms = 0; /* the operator acted: try again now */
	pw_snap_retry(&p->snap);
	p->retry_at_ms = 0;
	publish(p);
	kick(p);
}

void pw_pool_reload(struct pw_pool *p)
{
	const struct ui_config *cfg = p->e->cfg;
	struct ui_config *nc;
	char err[512];

	if (!cfg->path[0]) {
		ui_warn("SIGHUP: running on built-in defaults, nothing to reload");
		return;
	}
	if (!(nc = malloc(sizeof(*nc)))) {
		ui_error("SIGHUP: out of memory; configuration unchanged");
		return;
	}
	if (ui_config_load(cfg->path, nc, err, sizeof(err)) < 0) {
		ui_error("SIGHUP: %s; configuration unchanged", err);
		free(nc);
		return;
	}
	if (nc->warm_image[0] && !ui_config_image(cfg, nc->warm_image))
		ui_error("SIGHUP: pool.warm_image \"%s\" is not an image of the running "
			 "configuration; pool unchanged",
			 nc->warm_image);
	else
		apply(p, nc);
	ui_config_free(nc);
	free(nc);
}

/* ---- lifetime ---------------------------------------------------------------------- */

/* A template build ended: failed → counted (slots boot ahead); either way
 * the pool refills. */
static void on_template(struct pw_snap *s, int status)
{
	struct pw_pool *p = s->arg;

	if (status < 0)
		p->refill_errors++;
	publish(p);
	kick(p);
}

int pw_pool_init(struct pw_pool *p, struct pw_engine *e, struct ui_shm *shm,
		 void (*drained)(struct pw_pool *p), void *arg)
{
	int rc;

	memset(p, 0, sizeof(*p));
	p->e = e;
	p->shm = shm;
	p->drained = drained;
	p->arg = arg;
	p->size = e->cfg->pool_size;
	snprintf(p->warm_image, sizeof(p->warm_image), "%s", e->cfg->warm_image);
	if ((rc = pw_snap_init(&p->snap, &e->env, e->tsc_khz, on_template, p)) < 0)
		return rc;
	e->env.snap = &p->snap;
	if ((rc = uv_timer_init(e->env.loop, &p->refill)) < 0 ||
	    (rc = uv_timer_init(e->env.loop, &p->drain)) < 0)
		return rc;
	p->refill.data = p->drain.data = p;
	return 0;
}

void pw_pool_start(struct pw_pool *p)
{
	recount(p);
	p->phase = PW_POOL_ON;
	if (p->size)
		ui_info("pool: %u warm slot(s), warm image %s", p->size,
			p->warm_image[0] ? p->warm_image : "(none)");
	publish(p);
	kick(p);
}
