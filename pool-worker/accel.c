/*
 * accel.c — KVM probe and accelerator choice (see accel.h).
 *
 * The probe guest: one 4 KiB page at guest-physical 0x1000 holding a short
 * countdown loop (`mov ecx, N; 1: dec ecx; jnz 1b`) followed by `hlt`; the
 * vCPU stays in real mode (its reset state) with CS base and selector 0 and
 * RIP 0x1000. Without an in-kernel irqchip a hlt exits to user space with
 * KVM_EXIT_HLT: that exit proves KVM executes guest code here.
 *
 * Why the loop: some hosts (nested setups, emulated /dev/kvm) pass a bare
 * hlt test yet run guest code ~1000x slower than native — a Linux guest then
 * never finishes decompressing, while TCG boots it in a second. N = 100000
 * iterations take ~0.1 ms on real KVM; more than PROBE_MAX_MS means "too
 * slow to be worth it" and the answer is TCG.
 *
 * Safeguard: a POSIX timer (CLOCK_MONOTONIC, SIGRTMIN aimed at this thread)
 * interrupts a KVM_RUN that does not return; the handler is empty and
 * installed without SA_RESTART, so KVM_RUN fails with EINTR. The previous
 * SIGRTMIN disposition is restored afterwards; alarm() is left alone.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#endif

#include "accel.h"
#include "log.h"

#define PROBE_GPA 0x1000u
#define PROBE_PAGE 4096u
#define PROBE_TIMEOUT_NS 500000000L
#define PROBE_LOOPS 100000u
#define PROBE_MAX_MS 50.0

/* mov ecx, imm32 (patched) ; 1: dec ecx ; jnz 1b ; hlt — 16-bit code */
static const unsigned char probe_code[] = {
	0x66, 0xb9, 0, 0, 0, 0, 0x66, 0x49, 0x75, 0xfc, 0xf4,
};

struct probe {
	int kvm, vm, vcpu;
	void *mem;
	struct kvm_run *run;
	size_t run_size;
};

static void probe_alarm(int sig)
{
	(void)sig; /* only interrupts KVM_RUN */
}

static const char *probe_open(struct probe *p)
{
	int v;

	p->kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (p->kvm < 0)
		return "cannot open /dev/kvm";
	v = ioctl(p->kvm, KVM_GET_API_VERSION, 0);
	if (v != KVM_API_VERSION) {
		errno = v < 0 ? errno : EPROTO;
		return "unexpected KVM API version";
	}
	p->vm = ioctl(p->kvm, KVM_CREATE_VM, 0);
	if (p->vm < 0)
		return "KVM_CREATE_VM failed";
	return NULL;
}

static const char *probe_memory(struct probe *p)
{
	struct kvm_userspace_memory_region region = {
		.slot = 0, .guest_phys_addr = PROBE_GPA,
		.memory_size = PROBE_PAGE,
	};

	p->mem = mmap(NULL, PROBE_PAGE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p->mem == MAP_FAILED) {
		p->mem = NULL;
		return "cannot map guest memory";
	}
	memset(p->mem, 0xf4, PROBE_PAGE); /* hlt after anything unexpected */
	memcpy(p->mem, probe_code, sizeof(probe_code));
	memcpy((char *)p->mem + 2, &(uint32_t){ PROBE_LOOPS }, 4);
	region.userspace_addr = (uint64_t)(uintptr_t)p->mem;
	if (ioctl(p->vm, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		return "KVM_SET_USER_MEMORY_REGION failed";
	return NULL;
}

static const char *probe_vcpu(struct probe *p)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs = { .rip = 0, .rflags = 2 };
	int size;

	p->vcpu = ioctl(p->vm, KVM_CREATE_VCPU, 0);
	if (p->vcpu < 0)
		return "KVM_CREATE_VCPU failed";
	size = ioctl(p->kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (size < (int)sizeof(struct kvm_run)) {
		errno = size < 0 ? errno : EPROTO;
		return "KVM_GET_VCPU_MMAP_SIZE failed";
	}
	p->run = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED,
		      p->vcpu, 0);
	if (p->run == MAP_FAILED) {
		p->run = NULL;
		return "cannot map kvm_run";
	}
	p->run_size = (size_t)size;
	if (ioctl(p->vcpu, KVM_GET_SREGS, &sregs) < 0)
		return "KVM_GET_SREGS failed";
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	if (ioctl(p->vcpu, KVM_SET_SREGS, &sregs) < 0)
		return "KVM_SET_SREGS failed";
	regs.rip = PROBE_GPA;
	if (ioctl(p->vcpu, KVM_SET_REGS, &regs) < 0)
		return "KVM_SET_REGS failed";
	return NULL;
}

/* KVM_RUN under a one-shot timer; returns NULL on KVM_EXIT_HLT. */
static const char *probe_run(struct probe *p, char *buf, size_t len)
{
	struct sigaction sa = { .sa_handler = probe_alarm }, old;
	struct sigevent sev = { .sigev_notify = SIGEV_THREAD_ID,
				.sigev_signo = SIGRTMIN };
	struct itimerspec its = { .it_value.tv_nsec = PROBE_TIMEOUT_NS };
	const char *why = NULL;
	struct timespec t0, t1;
	timer_t timer;
	double ms;
	int rc, err;

	sev._sigev_un._tid = gettid();
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGRTMIN, &sa, &old) < 0)
		return "cannot install the probe timeout";
	if (timer_create(CLOCK_MONOTONIC, &sev, &timer) < 0) {
		why = "cannot create the probe timer";
		goto restore_signal;
	}
	timer_settime(timer, 0, &its, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = ioctl(p->vcpu, KVM_RUN, 0);
	err = errno;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	timer_delete(timer);
	ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
	     (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	if (rc < 0)
		snprintf(buf, len, "KVM_RUN failed: %s", err == EINTR ?
			 "timed out" : strerror(err));
	else if (p->run->exit_reason != KVM_EXIT_HLT)
		snprintf(buf, len, "KVM_RUN exit reason %u, not HLT",
			 p->run->exit_reason);
	else if (ms > PROBE_MAX_MS)
		snprintf(buf, len, "guest too slow: %u-iteration loop took %.0f ms",
			 PROBE_LOOPS, ms);
	else
		goto restore_signal;
	why = buf;
restore_signal:
	sigaction(SIGRTMIN, &old, NULL);
	return why;
}

static void probe_close(struct probe *p)
{
	if (p->run)
		munmap(p->run, p->run_size);
	if (p->vcpu >= 0)
		close(p->vcpu);
	if (p->mem)
		munmap(p->mem, PROBE_PAGE);
	if (p->vm >= 0)
		close(p->vm);
	if (p->kvm >= 0)
		close(p->kvm);
}

bool pw_kvm_probe(char *why, size_t len)
{
	struct probe p = { .kvm = -1, .vm = -1, .vcpu = -1 };
	char buf[128];
	const char *err;
	int saved;

	err = probe_open(&p);
	if (!err)
		err = probe_memory(&p);
	if (!err)
		err = probe_vcpu(&p);
	saved = errno;
	if (err && err != buf) {
		/* setup failures: add errno for the operator */
		snprintf(buf, sizeof(buf), "%s: %s", err, strerror(saved));
		err = buf;
	}
	if (!err)
		err = probe_run(&p, buf, sizeof(buf));
	probe_close(&p);
	snprintf(why, len, "%s", err ? err : "ok");
	return err == NULL;
}

enum ui_accel pw_accel_choose(enum ui_accel configured)
{
	char why[160];

	if (configured == UI_ACCEL_KVM || configured == UI_ACCEL_TCG) {
		ui_info("accel: %s (forced by config)",
			configured == UI_ACCEL_KVM ? "kvm" : "tcg");
		return configured;
	}
	if (pw_kvm_probe(why, sizeof(why))) {
		ui_info("accel: kvm (kvm probe: ok)");
		return UI_ACCEL_KVM;
	}
	ui_info("accel: tcg (kvm probe: %s)", why);
	return UI_ACCEL_TCG;
}

static int64_t ns_between(const struct timespec *a, const struct timespec *b)
{
	return (int64_t)(b->tv_sec - a->tv_sec) * 1000000000 +
	       (b->tv_nsec - a->tv_nsec);
}

unsigned pw_host_tsc_khz(void)
{
#if defined(__x86_64__) || defined(__i386__)
	struct timespec a0, a1, b0, b1;
	uint64_t t0, t1;
	int64_t ns;

	/* Bracket each rdtsc with clock reads; use the midpoints. */
	clock_gettime(CLOCK_MONOTONIC_RAW, &a0);
	t0 = __rdtsc();
	clock_gettime(CLOCK_MONOTONIC_RAW, &a1);
	do {
		clock_gettime(CLOCK_MONOTONIC_RAW, &b0);
	} while (ns_between(&a0, &b0) < 20000000);
	t1 = __rdtsc();
	clock_gettime(CLOCK_MONOTONIC_RAW, &b1);
	ns = (ns_between(&a0, &b0) + ns_between(&a1, &b1)) / 2;
	if (ns <= 0 || t1 <= t0)
		return 0;
	return (unsigned)(((t1 - t0) * 1000000 + (uint64_t)ns / 2) / (uint64_t)ns);
#else
	return 0;
#endif
}
