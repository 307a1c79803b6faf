/*
 * test_shm.c — the shm segment (shared/shm.c): create/attach round trip,
 * attach validation against hand-made bad segments (magic, version, size,
 * ring capacity, short file) and a missing name, stale-segment replacement,
 * the pool-table seqlock (round trip, a writer that died mid-write, and a
 * concurrent writer process), daemon status helpers and ui_now_ms.
 * Every segment is named /uigniter-test-shm-<pid>-<n> and unlinked at exit.
 */
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <inttypes.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>

#include "shm.h"
#include "t.h"

/* ---- helpers ---- */

static char names[8][64];
static int n_names;

static void unlink_names(void)
{
	for (int i = 0; i < n_names; i++)
		shm_unlink(names[i]);
}

/* A fresh segment name for this case, unlinked when the case exits. */
static const char *seg_name(void)
{
	T_ASSERT(n_names < 8);
	if (n_names == 0)
		atexit(unlink_names);
	snprintf(names[n_names], sizeof(names[0]), "/uigniter-test-shm-%d-%d",
		 getpid(), n_names);
	shm_unlink(names[n_names]);
	return names[n_names++];
}

/* True if name (a /dev/shm object) is mapped in this process. */
static bool is_mapped(const char *name)
{
	char line[512];
	FILE *f = fopen("/proc/self/maps", "re");
	bool found = false;

	T_ASSERT(f);
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, name) != NULL;
	fclose(f);
	return found;
}

/* A segment built by hand with shm_open: a valid header, changed by mutate,
 * in a file of file_size bytes. */
static void make_segment(const char *name, size_t file_size,
			 void (*mutate)(struct ui_shm *))
{
	struct ui_shm *img = calloc(1, sizeof(*img));
	size_t len = file_size < sizeof(*img) ? file_size : sizeof(*img);
	int fd;

	T_ASSERT(img);
	img->magic = UI_SHM_MAGIC;
	img->version = UI_SHM_VERSION;
	img->size = sizeof(*img);
	img->metrics.version = UI_METRICS_VERSION;
	img->metrics.size = sizeof(img->metrics);
	for (int i = 0; i < UI_RING_COUNT; i++)
		img->ring[i].cap = UI_RING_CAP;
	if (mutate)
		mutate(img);
	fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	T_ASSERT(fd >= 0);
	T_EQ_INT(ftruncate(fd, file_size), 0);
	T_EQ_INT(write(fd, img, len), len);
	close(fd);
	free(img);
}

static void bad_magic(struct ui_shm *s) { s->magic ^= 1; }
static void bad_version(struct ui_shm *s) { s->version = UI_SHM_VERSION + 1; }
static void bad_size_field(struct ui_shm *s) { s->size -= 64; }
static void bad_ring_cap(struct ui_shm *s) { s->ring[UI_RING_NET_TO_POOL].cap = 128; }
static void bad_metrics_version(struct ui_shm *s) { s->metrics.version = UI_METRICS_VERSION + 1; }
static void bad_metrics_size(struct ui_shm *s) { s->metrics.size -= 8; }

/* Attach must fail with want, leave *out alone, leak no fd and no mapping. */
static void expect_attach_fails(const char *name, int want)
{
	struct ui_shm *shm = NULL;
	int fds = t_count_fds();

	T_EQ_INT(ui_shm_attach(name, &shm), want);
	T_ASSERT(shm == NULL);
	T_EQ_INT(t_count_fds(), fds);
	T_ASSERT(!is_mapped(name));
}

/* ---- cases ---- */

static void t_create_attach_roundtrip(void)
{
	const char *name = seg_name();
	struct ui_shm *a, *b;
	char path[128];
	struct stat st;
	int fds = t_count_fds();

	T_EQ_INT(ui_shm_create(name, &a), 0);
	T_EQ_INT(t_count_fds(), fds); /* no fd kept open */
	T_ASSERT(a->magic == UI_SHM_MAGIC);
	T_EQ_INT(a->version, UI_SHM_VERSION);
	T_EQ_INT(a->size, sizeof(struct ui_shm));
	T_EQ_INT(atomic_load(&a->generation), 1);
	T_EQ_INT(a->supervisor_pid, getpid());
	for (int i = 0; i < UI_RING_COUNT; i++) {
		T_EQ_INT(a->ring[i].cap, UI_RING_CAP);
		T_EQ_INT(ui_ring_count(&a->ring[i]), 0);
	}
	snprintf(path, sizeof(path), "/dev/shm%s", name);
	T_EQ_INT(stat(path, &st), 0);
	T_EQ_INT(st.st_mode & 0777, 0600);
	T_EQ_INT(st.st_size, sizeof(struct ui_shm));

	T_EQ_INT(ui_shm_attach(name, &b), 0);
	T_ASSERT(a != b);
	T_EQ_INT(t_count_fds(), fds);
	atomic_store(&a->daemon[UI_D_POOL].pid, 1234);
	T_EQ_INT(atomic_load(&b->daemon[UI_D_POOL].pid), 1234);
	struct ui_msg m = { .req_id = 99 }, out;
	T_EQ_INT(ui_ring_push(&b->ring[UI_RING_POOL_TO_NET], &m), 0);
	T_EQ_INT(ui_ring_pop(&a->ring[UI_RING_POOL_TO_NET], &out), 0);
	T_EQ_INT(out.req_id, 99);
	ui_shm_detach(b);
	ui_shm_detach(a);
	ui_shm_detach(NULL);
	T_ASSERT(!is_mapped(name));
	T_EQ_INT(ui_shm_unlink(name), 0);
	T_EQ_INT(ui_shm_unlink(name), -ENOENT);
}

static void t_attach_missing(void)
{
	expect_attach_fails(seg_name(), -ENOENT);
}

static void t_attach_handmade_valid(void)
{
	const char *name = seg_name();
	struct ui_shm *shm = NULL;

	/* The positive control for the rejections below. */
	make_segment(name, sizeof(struct ui_shm), NULL);
	T_EQ_INT(ui_shm_attach(name, &shm), 0);
	T_ASSERT(shm && shm->magic == UI_SHM_MAGIC);
	ui_shm_detach(shm);
}

static void t_attach_rejects_bad_header(void)
{
	void (*mutate[])(struct ui_shm *) = { bad_magic, bad_version,
					      bad_size_field, bad_ring_cap,
					      bad_metrics_version, bad_metrics_size };

	for (size_t i = 0; i < sizeof(mutate) / sizeof(mutate[0]); i++) {
		const char *name = seg_name();

		make_segment(name, sizeof(struct ui_shm), mutate[i]);
		expect_attach_fails(name, -EPROTO);
	}
}

static void t_attach_rejects_short_file(void)
{
	const char *name = seg_name();

	make_segment(name, sizeof(struct ui_shm) - 1, NULL);
	expect_attach_fails(name, -EPROTO);
	name = seg_name();
	make_segment(name, 0, NULL);
	expect_attach_fails(name, -EPROTO);
}

static void t_create_replaces_stale(void)
{
	const char *name = seg_name();
	struct ui_shm *old, *fresh;
	struct ui_msg m = { .req_id = 1 };

	T_EQ_INT(ui_shm_create(name, &old), 0);
	atomic_store(&old->daemon[UI_D_APID].pid, 77);
	T_EQ_INT(ui_ring_push(&old->ring[0], &m), 0);
	T_EQ_INT(ui_shm_create(name, &fresh), 0); /* old one still mapped */
	T_EQ_INT(atomic_load(&fresh->generation), 2);
	T_EQ_INT(atomic_load(&fresh->daemon[UI_D_APID].pid), 0);
	T_EQ_INT(ui_ring_count(&fresh->ring[0]), 0);
	T_EQ_INT(ui_ring_count(&old->ring[0]), 1); /* a separate object */
	ui_shm_detach(old);
	ui_shm_detach(fresh);

	/* A garbage segment of that name is replaced too. */
	T_EQ_INT(ui_shm_unlink(name), 0);
	make_segment(name, 100, bad_magic);
	T_EQ_INT(ui_shm_create(name, &fresh), 0);
	T_EQ_INT(atomic_load(&fresh->generation), 1);
	T_EQ_INT(fresh->size, sizeof(struct ui_shm));
	ui_shm_detach(fresh);
}

static struct ui_pool_table pool_make(uint64_t k)
{
	struct ui_pool_table t;

	memset(&t, 0, sizeof(t));
	t.size = t.ready = t.in_use = t.vms_running = (uint32_t)k;
	t.hits = t.misses = t.refill_errors = k;
	return t;
}

/* True if every field of t carries the same k. */
static bool pool_consistent(const struct ui_pool_table *t, uint64_t *k)
{
	*k = t->hits;
	return t->misses == *k && t->refill_errors == *k &&
	       t->size == (uint32_t)*k && t->ready == (uint32_t)*k &&
	       t->in_use == (uint32_t)*k && t->vms_running == (uint32_t)*k;
}

static void t_pool_seqlock_roundtrip(void)
{
	const char *name = seg_name();
	struct ui_pool_table src = { .size = 4, .ready = 3, .in_use = 1,
				     .hits = 1ull << 40, .misses = 5,
				     .refill_errors = 6, .vms_running = 9 };
	struct ui_pool_table dst;
	struct ui_shm *shm;

	T_EQ_INT(ui_shm_create(name, &shm), 0);
	ui_pool_table_read(shm, &dst);
	T_EQ_INT(dst.size, 0);
	ui_pool_table_write(shm, &src);
	T_EQ_INT(atomic_load(&shm->pool.seq), 2);
	ui_pool_table_read(shm, &dst);
	T_EQ_INT(dst.size, 4);
	T_EQ_INT(dst.ready, 3);
	T_EQ_INT(dst.in_use, 1);
	T_ASSERT(dst.hits == 1ull << 40);
	T_EQ_INT(dst.misses, 5);
	T_EQ_INT(dst.refill_errors, 6);
	T_EQ_INT(dst.vms_running, 9);
	T_EQ_INT(atomic_load(&dst.seq), 2);
	ui_shm_detach(shm);
}

/* A writer killed between its two seq bumps: readers must not hang, and the
 * next writer must bring seq back to even. */
static void t_pool_seqlock_dead_writer(void)
{
	const char *name = seg_name();
	struct ui_pool_table src = pool_make(3), dst;
	struct ui_shm *shm;
	uint64_t t0, k;

	T_EQ_INT(ui_shm_create(name, &shm), 0);
	atomic_store(&shm->pool.seq, 5);
	t0 = ui_now_ms();
	ui_pool_table_read(shm, &dst);
	T_ASSERT(ui_now_ms() - t0 < 10000);
	ui_pool_table_write(shm, &src);
	T_EQ_INT(atomic_load(&shm->pool.seq) % 2, 0);
	T_ASSERT(atomic_load(&shm->pool.seq) > 5);
	ui_pool_table_read(shm, &dst);
	T_ASSERT(pool_consistent(&dst, &k) && k == 3);
	ui_shm_detach(shm);
}

#define SEQLOCK_WRITES 300000u

/* A writer process and this reader: no read is ever torn or goes back. */
static void t_pool_seqlock_concurrent(void)
{
	const char *name = seg_name();
	struct ui_pool_table dst;
	struct ui_shm *shm;
	uint64_t k, last = 0, reads = 0;
	int status;
	pid_t pid;

	T_EQ_INT(ui_shm_create(name, &shm), 0);
	pid = fork();
	T_ASSERT(pid >= 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (uint64_t i = 1; i <= SEQLOCK_WRITES; i++) {
			struct ui_pool_table src = pool_make(i);

			ui_pool_table_write(shm, &src);
		}
		_exit(0);
	}
	do {
		ui_pool_table_read(shm, &dst);
		if (!pool_consistent(&dst, &k))
			T_FAIL("torn read after %" PRIu64 " reads: hits %" PRIu64
			       " size %u", reads, dst.hits, dst.size);
		T_ASSERT(k >= last);
		last = k;
		reads++;
	} while (k < SEQLOCK_WRITES);
	T_EQ_INT(waitpid(pid, &status, 0), pid);
	T_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	T_EQ_INT(atomic_load(&shm->pool.seq), 2 * SEQLOCK_WRITES);
	fprintf(stderr, "  %" PRIu64 " consistent reads\n", reads);
	ui_shm_detach(shm);
}

static void t_daemon_status(void)
{
	const char *name = seg_name();
	struct ui_shm *shm;
	uint64_t t0, hb;

	T_EQ_STR(ui_daemon_name(UI_D_NETD), "netd");
	T_EQ_STR(ui_daemon_name(UI_D_POOL), "pool-worker");
	T_EQ_STR(ui_daemon_name(UI_D_APID), "apid");
	T_ASSERT(ui_daemon_name(UI_D_COUNT) != NULL);
	T_EQ_INT(ui_shm_create(name, &shm), 0);
	t0 = ui_now_ms();
	ui_daemon_set_ready(shm, UI_D_POOL);
	T_EQ_INT(atomic_load(&shm->daemon[UI_D_POOL].ready), 1);
	T_EQ_INT(atomic_load(&shm->daemon[UI_D_APID].ready), 0);
	hb = atomic_load(&shm->daemon[UI_D_POOL].heartbeat_ms);
	T_ASSERT(hb >= t0 && hb <= ui_now_ms());
	usleep(30 * 1000);
	ui_daemon_heartbeat(shm, UI_D_POOL);
	T_ASSERT(atomic_load(&shm->daemon[UI_D_POOL].heartbeat_ms) >= hb + 30);
	T_EQ_INT(atomic_load(&shm->daemon[UI_D_NETD].heartbeat_ms), 0);
	ui_shm_detach(shm);
}

/* The metrics block's helpers: a histogram bumps one bucket per
 * observation (the boundary belongs to its bucket, beyond the last is
 * +Inf); error sentences of the engine map to their reasons. */
static void t_metrics_helpers(void)
{
	struct ui_hist h = { 0 };
	size_t n;
	const uint64_t *b = ui_hist_bounds(UI_HIST_PHASE, &n);

	ui_hist_observe(&h, UI_HIST_PHASE, 0);
	ui_hist_observe(&h, UI_HIST_PHASE, b[0]);
	ui_hist_observe(&h, UI_HIST_PHASE, b[0] + 1);
	ui_hist_observe(&h, UI_HIST_PHASE, b[n - 1] + 1);
	T_EQ_INT(atomic_load(&h.bucket[0]), 2);
	T_EQ_INT(atomic_load(&h.bucket[1]), 1);
	T_EQ_INT(atomic_load(&h.bucket[n]), 1);
	T_EQ_INT(atomic_load(&h.count), 4);
	T_EQ_INT(atomic_load(&h.sum_us), 2 * b[0] + 1 + b[n - 1] + 1);
	T_EQ_INT(ui_fail_reason_of("out of memory (limit 224 MiB)", 0), UI_FAIL_OOM);
	T_EQ_INT(ui_fail_reason_of("vmm exited with signal 9", 0), UI_FAIL_VMM_EXIT);
	T_EQ_INT(ui_fail_reason_of("firecracker exited with status 1: timeout in guest", 0),
		 UI_FAIL_VMM_EXIT);
	T_EQ_INT(ui_fail_reason_of("qemu did not report running within 5000 ms", 0),
		 UI_FAIL_TIMEOUT);
	T_EQ_INT(ui_fail_reason_of("registry: cannot record running: Disk full", 0),
		 UI_FAIL_REGISTRY);
	T_EQ_INT(ui_fail_reason_of("network: tap uit-3 was not made within 10000 ms", 1),
		 UI_FAIL_NETWORK);
	T_EQ_INT(ui_fail_reason_of("vmm gone after pool-worker restart", 0), UI_FAIL_RESTART);
	T_EQ_INT(ui_fail_reason_of("interrupted by a pool-worker restart", 1), UI_FAIL_RESTART);
	T_EQ_INT(ui_fail_reason_of("cannot exec /nope: No such file", 1), UI_FAIL_SPAWN);
	T_EQ_INT(ui_fail_reason_of("something else", 0), UI_FAIL_OTHER);
	T_EQ_INT(ui_fail_reason_of(NULL, 0), UI_FAIL_OTHER);
	for (int r = 0; r < UI_FAIL_COUNT; r++)
		T_ASSERT(strcmp(ui_fail_reason_name(r), "other") != 0 || r == UI_FAIL_OTHER);
}

int main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		T_CASE(t_create_attach_roundtrip),
		T_CASE(t_attach_missing),
		T_CASE(t_attach_handmade_valid),
		T_CASE(t_attach_rejects_bad_header),
		T_CASE(t_attach_rejects_short_file),
		T_CASE(t_create_replaces_stale),
		T_CASE(t_pool_seqlock_roundtrip),
		T_CASE(t_pool_seqlock_dead_writer),
		T_CASE_TIMEOUT(t_pool_seqlock_concurrent, 120),
		T_CASE(t_daemon_status),
		T_CASE(t_metrics_helpers),
		{ 0 },
	};

	return t_run(argc, argv, cases);
}
