#!/usr/bin/env bash
# test_guest_seed.sh — the demo guest's uigniter.seed= on the kernel command
# line, with real QEMU and no daemon (the snapshot path, the agent line, is
# test_snapshot_qemu.sh's): a cold boot with a seed of 64 hex characters
# prints "init: RNG seeded (256 bits, crng reseeded)" on its console before
# UIGNITER-READY (the seed is applied before the network and the app), and
# no "seed failed"; the QEMU process is gone at the end. One guest, a
# hubport netdev (no host device), inside the test's own netns.
# Fails on a guest whose init knows no uigniter.seed= (no "RNG seeded").
. "$(dirname "$0")/lib.sh"

GUEST=${ST_SNAP_GUEST:-$GUEST} # another guest build (e.g. an old init, to see this fail)
[ -f "$GUEST/vmlinuz" ] || st_fail "guest not built ($GUEST): run make"
QPID=
trap 'rc=$?; set +e; [ -n "$QPID" ] && { kill -KILL "$QPID" 2>/dev/null; wait "$QPID" 2>/dev/null; }; (exit $rc); st_cleanup' EXIT

ip netns add "$ST_NS"
TSC="tsc_early_khz=$(awk '/^cpu MHz/ {printf "%d", $4 * 1000; exit}' /proc/cpuinfo) tsc=reliable"
SEED=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
CON=$ST_DIR/console.log
ip netns exec "$ST_NS" qemu-system-x86_64 -M microvm -accel tcg -cpu max -m 128 -smp 1 \
	-nodefaults -no-user-config -nographic -no-reboot \
	-kernel "$GUEST/vmlinuz" -initrd "$GUEST/initrd.cpio.gz" \
	-append "console=ttyS0 reboot=k panic=-1 $TSC ip=172.31.0.9::172.31.0.1:255.255.255.0::eth0:off uigniter.id=seeded uigniter.seed=$SEED" \
	-chardev "file,id=con,path=$CON" -serial chardev:con \
	-netdev hubport,id=n0,hubid=0 -device virtio-net-device,netdev=n0,mac=06:00:ac:1f:00:09 \
	>"$ST_DIR/qemu.out" 2>&1 </dev/null &
QPID=$!

end=$((SECONDS + 240))
until grep -qs '^UIGNITER-READY seeded 172.31.0.9' "$CON"; do
	kill -0 "$QPID" 2>/dev/null || st_fail "QEMU exited: $(cat "$ST_DIR/qemu.out")"
	[ "$SECONDS" -lt "$end" ] || st_fail "no UIGNITER-READY: $(tail -n 5 "$CON")"
	sleep 0.2
done
seeded=$(grep -n '^init: RNG seeded (256 bits, crng reseeded)' "$CON" | cut -d: -f1) || true
ready=$(grep -n '^UIGNITER-READY' "$CON" | cut -d: -f1) || true
[ -n "$seeded" ] || st_fail "no 'init: RNG seeded' on the console: $(grep -i 'seed\|^init:' "$CON")"
[ "$seeded" -lt "$ready" ] || st_fail "the seed was applied after UIGNITER-READY"
! grep -q 'seed failed\|^uigniter-seed:' "$CON" || st_fail "the helper complained: $(grep -i seed "$CON")"
st_log "the cmdline seed was applied before READY (console line $seeded, READY $ready)"

kill -KILL "$QPID"
wait "$QPID" 2>/dev/null || true
QPID=
for p in $(pgrep -f "$ST_DIR"); do
	[ "$p" = $$ ] || st_fail "left running: $(tr '\0' ' ' </proc/$p/cmdline)"
done
st_pass
