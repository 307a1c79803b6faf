/*
 * accel.h — choosing the QEMU accelerator: KVM when it really runs a guest
 * here, TCG otherwise.
 *
 * pw_kvm_probe() is a real test, not a guess at /dev/kvm permissions: it
 * creates a VM with one page of guest memory holding a short loop and a
 * `hlt`, a vCPU in real mode pointed at it, and requires KVM_RUN to come back
 * with KVM_EXIT_HLT, fast (a host where KVM "works" 1000x slower than native
 * fails). A 500 ms timer interrupts a KVM_RUN that hangs. It blocks for at
 * most that long, so it is called once at start, before the loop runs.
 */
#ifndef PW_ACCEL_H
#define PW_ACCEL_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

/* true if KVM ran the probe guest; otherwise why (one short phrase). */
bool pw_kvm_probe(char *why, size_t len);

/* Resolves auto via the probe and logs the choice once:
 * "accel: tcg (kvm probe: <reason>)". Returns UI_ACCEL_KVM or UI_ACCEL_TCG. */
enum ui_accel pw_accel_choose(enum ui_accel configured);

/*
 * The host TSC frequency in kHz, measured (rdtsc against CLOCK_MONOTONIC_RAW
 * over 20 ms; blocks that long); 0 if unknown (not x86).
 *
 * Why: QEMU -M microvm with ACPI has no MADT override for IRQ0 while QEMU
 * delivers the PIT on IOAPIC pin 2, so under TCG a Linux guest never gets a
 * timer tick before its LAPIC timer runs, and hangs calibrating
 * ("Calibrating delay loop") — forever. Given "tsc_early_khz=<this>" (TCG's
 * guest TSC is the host TSC) it calibrates from the TSC and boots in ~2 s.
 */
unsigned pw_host_tsc_khz(void);

#endif
