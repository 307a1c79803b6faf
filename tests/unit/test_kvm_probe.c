/*
 * test_kvm_probe.c — the KVM probe (pool-worker/accel.c) must return, within
 * its own safeguard, a definite answer: KVM usable, or not with a reason.
 * Either answer passes; which one is printed. The accelerator choice honours
 * a forced config value without probing.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../../pool-worker/accel.h"
#include "t.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void t_probe_answers(void)
{
	char why[160] = "";
	double t0 = now_s();
	bool kvm = pw_kvm_probe(why, sizeof(why));
	double dt = now_s() - t0;

	printf("  kvm probe: %s (%s) in %.3f s\n", kvm ? "kvm usable" : "no kvm",
	       why, dt);
	T_ASSERT(why[0] != '\0');
	if (kvm)
		T_EQ_STR(why, "ok");
	else
		T_ASSERT(strcmp(why, "ok") != 0);
	T_ASSERT(dt < 5.0); /* the 500 ms safeguard plus setup */
}

static void t_probe_repeatable(void)
{
	char a[160], b[160];

	/* The probe cleans up after itself: a second run gives the same answer. */
	T_EQ_INT(pw_kvm_probe(a, sizeof(a)), pw_kvm_probe(b, sizeof(b)));
}

static void t_forced_accel(void)
{
	T_EQ_INT(pw_accel_choose(UI_ACCEL_TCG), UI_ACCEL_TCG);
	T_EQ_INT(pw_accel_choose(UI_ACCEL_KVM), UI_ACCEL_KVM);
	T_ASSERT(pw_accel_choose(UI_ACCEL_AUTO) != UI_ACCEL_AUTO);
}

static void t_host_tsc_khz(void)
{
	unsigned a = pw_host_tsc_khz(), b = pw_host_tsc_khz();

	printf("  host TSC: %u kHz, %u kHz\n", a, b);
#if defined(__x86_64__)
	T_ASSERT(a > 100000 && a < 10000000); /* 100 MHz .. 10 GHz */
	T_ASSERT(a / 1000 == b / 1000 || (a > b ? a - b : b - a) < a / 100);
#endif
}

int main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		T_CASE_TIMEOUT(t_probe_answers, 20),
		T_CASE_TIMEOUT(t_probe_repeatable, 20),
		T_CASE_TIMEOUT(t_forced_accel, 20),
		T_CASE_TIMEOUT(t_host_tsc_khz, 10),
		{ 0 },
	};
	return t_run(argc, argv, cases);
}
