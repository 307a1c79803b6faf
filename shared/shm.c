/*
 * shm.c — the instance's shared-memory segment: create (uigniterd), attach
 * and validate (daemons, tools), the pool-table seqlock and the daemon status
 * helpers; see shm.h for the layout.
 *
 * Ownership: the mapping returned by ui_shm_create/ui_shm_attach belongs to
 * the caller and is released with ui_shm_detach; no fd stays open (the
 * mapping keeps the segment alive). The segment is transient state: it is
 * never repaired, only recreated by uigniterd, and a daemon that finds a
 * header it does not understand refuses it (-EPROTO).
 *
 * Writers: header and ring init — uigniterd, before any daemon runs;
 * daemon[d].pid/up/generation/restarts — uigniterd; daemon[d].ready and
 * heartbeat_ms, reg_commits, reg_error, fault — daemon d itself; pool table — pool-worker only (one writer,
 * any number of lock-free readers); metrics.reg[d] — daemon d's registry
 * connection; metrics.pool — pool-worker.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "shm.h"

_Static_assert(sizeof(struct ui_shm) <= UINT32_MAX, "size field is 32-bit");

/* Readers give up on a seqlock whose writer died mid-write after this many
 * yields and return the last copy (a torn snapshot of counters, not a hang). */
#define SEQLOCK_MAX_TRIES 10000

static int shm_map_fd(int fd, int prot, struct ui_shm **out)
{
	struct stat st;
	void *p;

	if (fstat(fd, &st) < 0)
		return -errno;
	if ((size_t)st.st_size < sizeof(struct ui_shm))
		return -EPROTO;
	p = mmap(NULL, sizeof(struct ui_shm), prot, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	*out = p;
	return 0;
}

static bool shm_header_valid(const struct ui_shm *shm)
{
	if (shm->magic != UI_SHM_MAGIC || shm->version != UI_SHM_VERSION ||
	    shm->size != sizeof(struct ui_shm))
		return false;
	if (shm->metrics.version != UI_METRICS_VERSION ||
	    shm->metrics.size != sizeof(shm->metrics))
		return false;
	for (int i = 0; i < UI_RING_COUNT; i++)
		if (shm->ring[i].cap != UI_RING_CAP)
			return false;
	return true;
}

/* Opens and maps an existing segment and checks its header. */
static int shm_open_valid(const char *name, int oflag, struct ui_shm **out)
{
	int prot = oflag == O_RDONLY ? PROT_READ : PROT_READ | PROT_WRITE;
	struct ui_shm *shm = NULL;
	int fd, rc;

	fd = shm_open(name, oflag | O_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	rc = shm_map_fd(fd, prot, &shm);
	if (rc < 0)
		goto out_close;
	if (!shm_header_valid(shm)) {
		rc = -EPROTO;
		goto out_unmap;
	}
	*out = shm;
	goto out_close;

out_unmap:
	munmap(shm, sizeof(*shm));
out_close:
	close(fd);
	return rc;
}

/* The generation of a stale segment of that name, 0 if none or unreadable. */
static uint32_t stale_generation(const char *name)
{
	struct ui_shm *old = NULL;
	uint32_t gen;

	if (shm_open_valid(name, O_RDONLY, &old) < 0 || !old)
		return 0;
	gen = atomic_load_explicit(&old->generation, memory_order_relaxed);
	ui_shm_detach(old);
	return gen;
}

static void shm_init(struct ui_shm *shm, uint32_t generation)
{
	memset(shm, 0, sizeof(*shm));
	shm->version = UI_SHM_VERSION;
	shm->metrics.version = UI_METRICS_VERSION;
	shm->metrics.size = sizeof(shm->metrics);
	shm->size = sizeof(*shm);
	atomic_init(&shm->generation, generation);
	shm->supervisor_pid = getpid();
	for (int i = 0; i < UI_RING_COUNT; i++)
		ui_ring_init(&shm->ring[i]);
	/* Last: a half-initialised segment never validates. */
	shm->magic = UI_SHM_MAGIC;
}

int ui_shm_create(const char *name, struct ui_shm **out)
{
	uint32_t gen = stale_generation(name) + 1;
	struct ui_shm *shm = NULL;
	int fd, rc;

	if (shm_unlink(name) < 0 && errno != ENOENT)
		return -errno;
	fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, sizeof(struct ui_shm)) < 0) {
		rc = -errno;
		goto out_unlink;
	}
	rc = shm_map_fd(fd, PROT_READ | PROT_WRITE, &shm);
	if (rc < 0)
		goto out_unlink;
	shm_init(shm, gen ? gen : 1);
	*out = shm;
	goto out_close;

out_unlink:
	shm_unlink(name);
out_close:
	close(fd);
	return rc;
}

int ui_shm_attach(const char *name, struct ui_shm **out)
{
	return shm_open_valid(name, O_RDWR, out);
}

void ui_shm_detach(struct ui_shm *shm)
{
	if (shm)
		munmap(shm, sizeof(*shm));
}

int ui_shm_unlink(const char *name)
{
	return shm_unlink(name) < 0 ? -errno : 0;
}

/*
 * Pool table seqlock (Boehm, "Can seqlocks get along with programming
 * language memory models?"). The payload fields are plain in the struct, so
 * they are accessed with relaxed __atomic builtins: racy reads are then
 * defined, and a torn copy is detected by the sequence check.
 *   (W1) writer: odd seq store, then release fence, then payload stores
 *        ↔ (R2) reader: payload loads, then acquire fence, then seq reload:
 *        a reader that saw any new payload value sees the odd/new seq.
 *   (W2) writer: release store of the even seq after the payload
 *        ↔ (R1) reader: acquire load of seq before the payload.
 */
#define LOAD(p) __atomic_load_n(p, __ATOMIC_RELAXED)
#define STORE(p, v) __atomic_store_n(p, v, __ATOMIC_RELAXED)

static void pool_copy_out(const struct ui_pool_table *t, struct ui_pool_table *d)
{
	d->size = LOAD(&t->size);
	d->ready = LOAD(&t->ready);
	d->in_use = LOAD(&t->in_use);
	d->hits = LOAD(&t->hits);
	d->misses = LOAD(&t->misses);
	d->refill_errors = LOAD(&t->refill_errors);
	d->vms_running = LOAD(&t->vms_running);
	d->warming = LOAD(&t->warming);
	d->vms_paused = LOAD(&t->vms_paused);
	d->paused_rss_kib = LOAD(&t->paused_rss_kib);
	d->retired_image_changed = LOAD(&t->retired_image_changed);
	d->n_rss = LOAD(&t->n_rss);
	if (d->n_rss > UI_POOL_RSS_MAX)
		d->n_rss = UI_POOL_RSS_MAX; /* torn: the retry rereads it */
	for (uint32_t i = 0; i < d->n_rss; i++) {
		for (size_t k = 0; k < sizeof(d->rss[i].id); k++)
			d->rss[i].id[k] = LOAD(&t->rss[i].id[k]);
		d->rss[i].id[sizeof(d->rss[i].id) - 1] = '\0';
		d->rss[i].slot = LOAD(&t->rss[i].slot);
		d->rss[i].rss_kib = LOAD(&t->rss[i].rss_kib);
	}
	d->tmpl_state = LOAD(&t->tmpl_state);
	d->tmpl_bytes = LOAD(&t->tmpl_bytes);
	for (size_t k = 0; k < sizeof(d->tmpl_image); k++)
		d->tmpl_image[k] = LOAD(&t->tmpl_image[k]);
	for (size_t k = 0; k < sizeof(d->tmpl_built_at); k++)
		d->tmpl_built_at[k] = LOAD(&t->tmpl_built_at[k]);
	for (size_t k = 0; k < sizeof(d->tmpl_error); k++)
		d->tmpl_error[k] = LOAD(&t->tmpl_error[k]);
}

static void pool_copy_in(struct ui_pool_table *t, const struct ui_pool_table *s)
{
	STORE(&t->size, s->size);
	STORE(&t->ready, s->ready);
	STORE(&t->in_use, s->in_use);
	STORE(&t->hits, s->hits);
	STORE(&t->misses, s->misses);
	STORE(&t->refill_errors, s->refill_errors);
	STORE(&t->vms_running, s->vms_running);
	STORE(&t->warming, s->warming);
	STORE(&t->vms_paused, s->vms_paused);
	STORE(&t->paused_rss_kib, s->paused_rss_kib);
	STORE(&t->retired_image_changed, s->retired_image_changed);
	STORE(&t->n_rss, s->n_rss < UI_POOL_RSS_MAX ? s->n_rss : UI_POOL_RSS_MAX);
	for (uint32_t i = 0; i < s->n_rss && i < UI_POOL_RSS_MAX; i++) {
		for (size_t k = 0; k < sizeof(t->rss[i].id); k++)
			STORE(&t->rss[i].id[k], s->rss[i].id[k]);
		STORE(&t->rss[i].slot, s->rss[i].slot);
		STORE(&t->rss[i].rss_kib, s->rss[i].rss_kib);
	}
	STORE(&t->tmpl_state, s->tmpl_state);
	STORE(&t->tmpl_bytes, s->tmpl_bytes);
	for (size_t k = 0; k < sizeof(t->tmpl_image); k++)
		STORE(&t->tmpl_image[k], s->tmpl_image[k]);
	for (size_t k = 0; k < sizeof(t->tmpl_built_at); k++)
		STORE(&t->tmpl_built_at[k], s->tmpl_built_at[k]);
	for (size_t k = 0; k < sizeof(t->tmpl_error); k++)
		STORE(&t->tmpl_error[k], s->tmpl_error[k]);
}

void ui_pool_table_write(struct ui_shm *shm, const struct ui_pool_table *src)
{
	struct ui_pool_table *t = &shm->pool;
	uint32_t seq = atomic_load_explicit(&t->seq, memory_order_relaxed);
	/* Next odd value; also recovers a seq left odd by a writer that died. */
	uint32_t odd = (seq + 1) | 1;

	atomic_store_explicit(&t->seq, odd, memory_order_relaxed);
	/* W1: pairs with R2 in ui_pool_table_read. */
	atomic_thread_fence(memory_order_release);
	pool_copy_in(t, src);
	/* W2: pairs with R1 in ui_pool_table_read. */
	atomic_store_explicit(&t->seq, odd + 1, memory_order_release);
}

void ui_pool_table_read(struct ui_shm *shm, struct ui_pool_table *dst)
{
	struct ui_pool_table *t = &shm->pool;
	uint32_t s1, s2;

	for (int tries = 0;; tries++) {
		/* R1: pairs with W2. */
		s1 = atomic_load_explicit(&t->seq, memory_order_acquire);
		pool_copy_out(t, dst);
		/* R2: pairs with W1. */
		atomic_thread_fence(memory_order_acquire);
		s2 = atomic_load_explicit(&t->seq, memory_order_relaxed);
		if ((s1 == s2 && !(s1 & 1)) || tries >= SEQLOCK_MAX_TRIES)
			break;
		sched_yield();
	}
	atomic_init(&dst->seq, s2);
}

/* Tells the supervisor on the inherited readiness pipe, once. */
static void notify_ready_fd(void)
{
	const char *s = getenv(UI_READY_FD_ENV);
	char *end;
	long fd;

	if (!s || !*s)
		return;
	fd = strtol(s, &end, 10);
	unsetenv(UI_READY_FD_ENV);
	if (*end || fd < 3 || fd > 1024)
		return;
	if (write((int)fd, "R", 1) < 0) {
		/* the supervisor also sees the shm flag */
	}
	close((int)fd);
}

void ui_daemon_set_ready(struct ui_shm *shm, enum ui_daemon d)
{
	ui_daemon_heartbeat(shm, d);
	/* Readers (uigniterd, apid) only test the flag; no data hangs off it. */
	atomic_store_explicit(&shm->daemon[d].ready, 1, memory_order_relaxed);
	notify_ready_fd();
}

void ui_daemon_heartbeat(struct ui_shm *shm, enum ui_daemon d)
{
	atomic_store_explicit(&shm->daemon[d].heartbeat_ms, ui_now_ms(),
			      memory_order_relaxed);
}

/* The fault seqlock: the same pairs as the pool table's (W1/R2, W2/R1). */
void ui_daemon_set_fault(struct ui_shm *shm, enum ui_daemon d, int fault, const char *msg)
{
	struct ui_daemon_status *st = &shm->daemon[d];
	uint32_t seq = atomic_load_explicit(&st->fault_seq, memory_order_relaxed);
	uint32_t odd = (seq + 1) | 1;
	char buf[sizeof(st->fault_msg)] = "";
	bool same = true;

	if (fault && msg)
		snprintf(buf, sizeof(buf), "%s", msg);
	for (size_t i = 0; i < sizeof(buf) && same; i++)
		same = LOAD(&st->fault_msg[i]) == buf[i];
	if (!(seq & 1) && same && atomic_load_explicit(&st->fault, memory_order_relaxed) == fault)
		return;
	atomic_store_explicit(&st->fault_seq, odd, memory_order_relaxed);
	/* W1: pairs with R2 in ui_daemon_fault_read. */
	atomic_thread_fence(memory_order_release);
	atomic_store_explicit(&st->fault, fault, memory_order_relaxed);
	for (size_t i = 0; i < sizeof(buf); i++)
		STORE(&st->fault_msg[i], buf[i]);
	/* W2: pairs with R1 in ui_daemon_fault_read. */
	atomic_store_explicit(&st->fault_seq, odd + 1, memory_order_release);
}

int ui_daemon_fault_read(struct ui_shm *shm, enum ui_daemon d, char *msg, size_t len)
{
	struct ui_daemon_status *st = &shm->daemon[d];
	char buf[sizeof(st->fault_msg)];
	uint32_t s1, s2;
	int fault;

	for (int tries = 0;; tries++) {
		/* R1: pairs with W2. */
		s1 = atomic_load_explicit(&st->fault_seq, memory_order_acquire);
		fault = atomic_load_explicit(&st->fault, memory_order_relaxed);
		for (size_t i = 0; i < sizeof(buf); i++)
			buf[i] = LOAD(&st->fault_msg[i]);
		/* R2: pairs with W1. */
		atomic_thread_fence(memory_order_acquire);
		s2 = atomic_load_explicit(&st->fault_seq, memory_order_relaxed);
		if ((s1 == s2 && !(s1 & 1)) || tries >= SEQLOCK_MAX_TRIES)
			break;
		sched_yield();
	}
	buf[sizeof(buf) - 1] = '\0';
	if (len)
		snprintf(msg, len, "%s", fault ? buf : "");
	return fault;
}

const char *ui_daemon_name(enum ui_daemon d)
{
	static const char *const names[UI_D_COUNT] = {
		[UI_D_NETD] = "netd",
		[UI_D_POOL] = "pool-worker",
		[UI_D_APID] = "apid",
	};

	return (unsigned)d < UI_D_COUNT ? names[d] : "unknown";
}

uint64_t ui_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}
