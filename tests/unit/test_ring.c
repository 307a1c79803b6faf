/*
 * test_ring.c — the SPSC ring (shared/ring.c): single-threaded edge cases
 * (empty, full, FIFO, 32-bit index wrap, doorbell only when the consumer
 * announced sleep, discard), then a two-process run of 1,000,000 messages
 * through a real shm segment with the eventfd doorbell, checking every message
 * arrives exactly once, in order and intact.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <sched.h>
#include <stdalign.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <time.h>

#include "ring.h"
#include "shm.h"
#include "t.h"

#define MANY_MSGS 1000000u

/* Each test case runs in its own process, so one static ring is enough. */
static struct ui_ring ring;

static struct ui_msg msg_make(uint64_t i)
{
	struct ui_msg m;

	memset(&m, 0, sizeof(m));
	m.req_id = i;
	m.gen = (uint32_t)(i * 2654435761u); /* checksum of req_id */
	m.op = UI_OP_RUN;
	m.status = -(int32_t)(i % 4096);
	snprintf(m.vm_id, sizeof(m.vm_id), "vm-%" PRIu64, i);
	/* The last field too, so a partially copied slot shows. */
	snprintf(m.error, sizeof(m.error), "end-%" PRIu64, i);
	return m;
}

/* Fails the case unless m is exactly msg_make(i). */
static void msg_check(const struct ui_msg *m, uint64_t i)
{
	struct ui_msg want = msg_make(i);

	if (memcmp(m, &want, sizeof(want)) != 0)
		T_FAIL("message %" PRIu64 " corrupt or out of order (got req_id %" PRIu64
		       ", vm_id \"%.48s\")", i, m->req_id, m->vm_id);
}

static void ring_at(uint32_t index)
{
	ui_ring_init(&ring);
	atomic_store(&ring.head, index);
	atomic_store(&ring.tail, index);
}

static int new_eventfd(void)
{
	int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

	T_ASSERT(fd >= 0);
	return fd;
}

/* The eventfd counter, reset to 0 (0 when it was not rung). */
static uint64_t eventfd_take(int fd)
{
	uint64_t v = 0;

	if (read(fd, &v, sizeof(v)) < 0) {
		T_EQ_INT(errno, EAGAIN);
		return 0;
	}
	return v;
}

static void t_init(void)
{
	memset(&ring, 0xa5, sizeof(ring));
	ui_ring_init(&ring);
	T_EQ_INT(ring.cap, UI_RING_CAP);
	T_EQ_INT(ui_ring_count(&ring), 0);
	T_EQ_INT(atomic_load(&ring.consumer_waiting), 0);
}

static void t_empty_pop(void)
{
	struct ui_msg m = msg_make(7), out = msg_make(99);

	ui_ring_init(&ring);
	T_EQ_INT(ui_ring_pop(&ring, &out), -EAGAIN);
	T_EQ_INT(ui_ring_push(&ring, &m), 0);
	T_EQ_INT(ui_ring_pop(&ring, &out), 0);
	msg_check(&out, 7);
	T_EQ_INT(ui_ring_pop(&ring, &out), -EAGAIN);
}

static void fill_and_drain(void)
{
	struct ui_msg m, out;

	for (uint32_t i = 0; i < UI_RING_CAP; i++) {
		m = msg_make(i);
		T_EQ_INT(ui_ring_push(&ring, &m), 0);
		T_EQ_INT(ui_ring_count(&ring), i + 1);
	}
	m = msg_make(UI_RING_CAP);
	T_EQ_INT(ui_ring_push(&ring, &m), -EAGAIN);
	T_EQ_INT(ui_ring_count(&ring), UI_RING_CAP);
	for (uint32_t i = 0; i < UI_RING_CAP; i++) {
		T_EQ_INT(ui_ring_pop(&ring, &out), 0);
		msg_check(&out, i);
	}
	T_EQ_INT(ui_ring_pop(&ring, &out), -EAGAIN);
	T_EQ_INT(ui_ring_count(&ring), 0);
}

static void t_full_exactly_at_cap(void)
{
	ui_ring_init(&ring);
	fill_and_drain();
	fill_and_drain(); /* reuses every slot once more */
}

static void t_fifo_interleaved(void)
{
	struct ui_msg m, out;
	uint64_t next_in = 0, next_out = 0;

	ui_ring_init(&ring);
	/* Uneven push/pop batches so the fill level walks up and down. */
	for (int round = 0; round < 1000; round++) {
		int pushes = (round * 7) % 13 + 1, pops = (round * 5) % 11 + 1;

		for (int i = 0; i < pushes; i++) {
			m = msg_make(next_in);
			if (ui_ring_push(&ring, &m) == 0)
				next_in++;
		}
		for (int i = 0; i < pops && ui_ring_pop(&ring, &out) == 0; i++)
			msg_check(&out, next_out++);
		T_EQ_INT(ui_ring_count(&ring), next_in - next_out);
	}
	while (ui_ring_pop(&ring, &out) == 0)
		msg_check(&out, next_out++);
	T_EQ_INT(next_out, next_in);
	T_ASSERT(next_in > 1000);
}

/* Both indices start just below 2^32 and run across the wrap. */
static void t_wrap_32bit(void)
{
	struct ui_msg m, out;
	uint64_t next_in = 0, next_out = 0;

	ring_at(UINT32_MAX - 10);
	fill_and_drain(); /* full ring spanning the wrap */
	T_EQ_INT(atomic_load(&ring.head), UI_RING_CAP - 11);
	ring_at(UINT32_MAX - 3 * UI_RING_CAP / 2);
	for (int i = 0; i < 3 * (int)UI_RING_CAP; i++) {
		for (int k = 0; k < 3; k++) {
			m = msg_make(next_in);
			if (ui_ring_push(&ring, &m) == 0)
				next_in++;
		}
		T_EQ_INT(ui_ring_pop(&ring, &out), 0);
		msg_check(&out, next_out++);
		T_ASSERT(ui_ring_count(&ring) <= UI_RING_CAP);
	}
	/* Full after the last pushes, then one pop. */
	T_EQ_INT(ui_ring_count(&ring), UI_RING_CAP - 1);
	while (ui_ring_pop(&ring, &out) == 0)
		msg_check(&out, next_out++);
	T_EQ_INT(next_out, next_in);
	T_EQ_INT(next_in, 4 * UI_RING_CAP - 1);
	T_ASSERT(atomic_load(&ring.head) < UI_RING_CAP * 4); /* did wrap */
}

static void t_prepare_sleep_only_when_empty(void)
{
	struct ui_msg m = msg_make(1), out;

	ui_ring_init(&ring);
	T_ASSERT(ui_ring_prepare_sleep(&ring));
	T_EQ_INT(atomic_load(&ring.consumer_waiting), 1);
	ui_ring_wake(&ring);
	T_EQ_INT(atomic_load(&ring.consumer_waiting), 0);
	T_EQ_INT(ui_ring_push(&ring, &m), 0);
	T_ASSERT(!ui_ring_prepare_sleep(&ring));
	T_EQ_INT(ui_ring_pop(&ring, &out), 0);
	T_ASSERT(ui_ring_prepare_sleep(&ring));
	ring_at(UINT32_MAX); /* empty at the wrap point too */
	T_ASSERT(ui_ring_prepare_sleep(&ring));
	T_EQ_INT(ui_ring_push(&ring, &m), 0);
	T_ASSERT(!ui_ring_prepare_sleep(&ring));
}

static void t_send_rings_only_when_waiting(void)
{
	struct ui_msg m = msg_make(1), out;
	int efd = new_eventfd();

	ui_ring_init(&ring);
	T_EQ_INT(ui_ring_send(&ring, efd, &m), 0);
	T_EQ_INT(eventfd_take(efd), 0); /* consumer awake: no doorbell */
	T_EQ_INT(ui_ring_pop(&ring, &out), 0);
	T_ASSERT(ui_ring_prepare_sleep(&ring));
	T_EQ_INT(ui_ring_send(&ring, efd, &m), 0);
	T_EQ_INT(ui_ring_send(&ring, efd, &m), 0);
	T_EQ_INT(eventfd_take(efd), 2); /* asleep: rung on every send */
	T_EQ_INT(ui_ring_send(&ring, efd, &m), 0);
	ui_doorbell_drain(efd);
	T_EQ_INT(eventfd_take(efd), 0);
	ui_doorbell_drain(efd); /* drain of an idle doorbell does not block */
	ui_ring_wake(&ring);
	T_EQ_INT(ui_ring_send(&ring, efd, &m), 0);
	T_EQ_INT(eventfd_take(efd), 0);
	T_EQ_INT(ui_ring_count(&ring), 4);
	close(efd);
}

static void t_send_full_no_doorbell(void)
{
	struct ui_msg m = msg_make(1);
	int efd = new_eventfd();

	ui_ring_init(&ring);
	for (uint32_t i = 0; i < UI_RING_CAP; i++)
		T_EQ_INT(ui_ring_push(&ring, &m), 0);
	atomic_store(&ring.consumer_waiting, 1);
	T_EQ_INT(ui_ring_send(&ring, efd, &m), -EAGAIN);
	T_EQ_INT(eventfd_take(efd), 0);
	close(efd);
}

static void t_discard(void)
{
	struct ui_msg m, out;

	ring_at(UINT32_MAX - 5);
	for (uint32_t i = 0; i < 20; i++) {
		m = msg_make(i);
		T_EQ_INT(ui_ring_push(&ring, &m), 0);
	}
	ui_ring_discard(&ring);
	T_EQ_INT(ui_ring_count(&ring), 0);
	T_EQ_INT(ui_ring_pop(&ring, &out), -EAGAIN);
	T_ASSERT(ui_ring_prepare_sleep(&ring));
	m = msg_make(42);
	T_EQ_INT(ui_ring_push(&ring, &m), 0);
	T_EQ_INT(ui_ring_pop(&ring, &out), 0);
	msg_check(&out, 42);
	ui_ring_discard(&ring); /* on an empty ring: no-op */
	T_EQ_INT(ui_ring_count(&ring), 0);
}

/* ---- two processes through a real segment ---- */

static char seg_name[64];

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Child: attach by name, tell the parent, send MANY_MSGS; pauses now and
 * then so the consumer really goes to sleep on the doorbell. */
static void producer(int efd, int ready_fd)
{
	struct ui_shm *shm;
	struct ui_ring *r;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (ui_shm_attach(seg_name, &shm) < 0)
		_exit(2);
	if (write(ready_fd, "a", 1) != 1)
		_exit(3);
	close(ready_fd);
	r = &shm->ring[UI_RING_API_TO_POOL];
	for (uint64_t i = 0; i < MANY_MSGS; i++) {
		struct ui_msg m = msg_make(i);

		for (unsigned spins = 0; ui_ring_send(r, efd, &m) == -EAGAIN; spins++)
			if (spins > 64)
				sched_yield();
		if (i % 50000 == 49999)
			usleep(1000);
	}
	ui_shm_detach(shm);
	_exit(0);
}

struct consume_stats {
	unsigned sleeps;
};

/* Parent: pop until MANY_MSGS arrived, sleeping on the doorbell when empty. */
static void consume(struct ui_ring *r, int efd, struct consume_stats *st)
{
	struct pollfd pfd = { .fd = efd, .events = POLLIN };
	struct ui_msg m;
	uint64_t next = 0;

	while (next < MANY_MSGS) {
		if (ui_ring_pop(r, &m) == 0) {
			msg_check(&m, next++);
			continue;
		}
		if (!ui_ring_prepare_sleep(r))
			continue;
		st->sleeps++;
		if (poll(&pfd, 1, 5000) != 1)
			T_FAIL("no doorbell for 5 s at message %" PRIu64
			       " (lost wakeup?), count %u", next, ui_ring_count(r));
		ui_ring_wake(r);
		ui_doorbell_drain(efd);
	}
	T_EQ_INT(ui_ring_pop(r, &m), -EAGAIN); /* nothing extra */
}

static void t_two_process_million(void)
{
	struct consume_stats st = { 0 };
	struct ui_shm *shm;
	int efd, ready[2], status;
	double t0;
	char c;
	pid_t pid;

	snprintf(seg_name, sizeof(seg_name), "/uigniter-test-ring-%d", getpid());
	T_EQ_INT(ui_shm_create(seg_name, &shm), 0);
	/* Start the indices just below 2^32 so the run crosses the wrap. */
	atomic_store(&shm->ring[0].head, UINT32_MAX - 1000);
	atomic_store(&shm->ring[0].tail, UINT32_MAX - 1000);
	efd = new_eventfd();
	T_EQ_INT(pipe2(ready, O_CLOEXEC), 0);
	pid = fork();
	T_ASSERT(pid >= 0);
	if (pid == 0)
		producer(efd, ready[1]);
	close(ready[1]);
	status = read(ready[0], &c, 1);
	ui_shm_unlink(seg_name); /* both mapped: the name is no longer needed */
	T_EQ_INT(status, 1);
	t0 = now_s();
	consume(&shm->ring[UI_RING_API_TO_POOL], efd, &st);
	fprintf(stderr, "  %u messages in %.3f s, consumer slept %u times\n",
		MANY_MSGS, now_s() - t0, st.sleeps);
	T_EQ_INT(waitpid(pid, &status, 0), pid);
	T_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	T_ASSERT(st.sleeps > 0); /* the producer paused 20 times */
	ui_shm_detach(shm);
	close(efd);
}

int main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		T_CASE(t_init),
		T_CASE(t_empty_pop),
		T_CASE(t_full_exactly_at_cap),
		T_CASE(t_fifo_interleaved),
		T_CASE(t_wrap_32bit),
		T_CASE(t_prepare_sleep_only_when_empty),
		T_CASE(t_send_rings_only_when_waiting),
		T_CASE(t_send_full_no_doorbell),
		T_CASE(t_discard),
		T_CASE_TIMEOUT(t_two_process_million, 300),
		{ 0 },
	};

	return t_run(argc, argv, cases);
}
