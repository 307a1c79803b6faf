#!/usr/bin/env bash
# The crash-safety round of test_fault_chaos.sh, smaller, with real QEMU
# guests (TCG on two cores: a few VMs, slower kills).
export CHAOS_DRIVER=qemu CHAOS_RUNS=${CHAOS_RUNS:-12} CHAOS_RUNS2=${CHAOS_RUNS2:-4} CHAOS_MS=${CHAOS_MS:-600}
exec bash "$(dirname "$0")/test_fault_chaos.sh"
