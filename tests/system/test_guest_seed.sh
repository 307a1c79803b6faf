#!/usr/bin/env bash
# test_guest_seed.sh — the demo guest's uigniter.seed= on the kernel command
# line, with real QEMU and no daemon (the snapshot path, the agent line, is
# test_snapshot_qemu.sh's): a cold boot with a seed of 64 hex characters
# prints "init: RNG seeded (256 bits, crng reseeded)" on its console before
# UIGNITER-READY (the seed is applied before the network and the app), and
# no "seed failed"; the QEMU process is gone at the end. One guest, a
# hubport netdev (no host device), inside the test's own netns.
# First the helper itself on the host, where it must not touch the host's
# RNG: no argument or a malformed seed -> exit 2 and a message, before any
# ioctl; a good seed without CAP_SYS_ADMIN (as nobody) -> exit 1,
# "RNDADDENTROPY: Operation not permitted".
# Fails on a guest whose init knows no uigniter.seed= (no "RNG seeded").
. "$(dirname "$0")/lib.sh"

GUEST=${ST_SNAP_GUEST:-$GUEST} # another guest build (e.g. an old init, to see this fail)
[ -f "$GUEST/vmlinuz" ] || st_fail "guest not built ($GUEST): run make"
QPID=
trap 'rc=$?; set +e; [ -n "$QPID" ] && { kill -KILL "$QPID" 2>/dev/null; wait "$QPID" 2>/dev/null; }; (exit $rc); st_cleanup' EXIT

HELPER=$ROOT/build/guest-bin/uigniter-seed
[ -x "$HELPER" ] || st_fail "$HELPER not built: run make"
SEED=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
helper() { # helper WANT_RC WANT_STDERR ARGS...: runs the helper as nobody
	local rc=0 err
	err=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$HELPER" "${@:3}" 2>&1 >/dev/null) || rc=$?
	[ "$rc" = "$1" ] && [[ "$err" == *"$2"* ]] ||
		st_fail "uigniter-seed ${*:3}: exit $rc, '$err' (wanted $1, '$2')"
}
helper 2 "usage: uigniter-seed HEX"
helper 2 "usage: uigniter-seed HEX" "$SEED" "$SEED"
helper 2 "the seed must be exactly 64 hex characters" "${SEED:1}"
helper 2 "the seed must be exactly 64 hex characters" "${SEED:1}g"
helper 2 "the seed must be exactly 64 hex characters" "${SEED}0"
helper 1 "RNDADDENTROPY: Operation not permitted" "$SEED"
st_log "the helper: usage and malformed seeds exit 2, no CAP_SYS_ADMIN exits 1"

ip netns add "$ST_NS"
TSC="tsc_early_khz=$(awk '/^cpu MHz/ {printf "%d", $4 * 1000; exit}' /proc/cpuinfo) tsc=reliable"
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
