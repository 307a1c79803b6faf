#!/usr/bin/env bash
# test_snapshot_qemu.sh — a snapshot-started slot, by hand with real QEMU
# (docs/ARCHITECTURE.md "Snapshot-started slots"; no uigniter
# daemon: test_pool_snapshot.sh tests pool.boot snapshot). Two guests, one at a time:
#   1. a template: drv_qemu.c's argv (-M microvm, the hello guest) plus a
#      virtio-serial port "uigniter.agent", a hubport netdev, the kernel
#      command line without ip= but uigniter.agent=uigniter.agent: its
#      console says UIGNITER-TEMPLATE; QMP stop, migrate to "exec:cat > FILE";
#   2. a copy: the same argv with a tap and MAC of its own, -S -incoming
#      "exec:cat FILE": paused once loaded; the address line written to its
#      agent socket, cont → it answers "hello from snap1" on 172.31.0.7 (the
#      bridge's neighbour entry for it is static: only the slot's own MAC
#      gets the frames), its console says UIGNITER-READY snap1 172.31.0.7,
#      a second line is not needed; and nothing is left (processes, taps).
# Fails on a guest whose init knows no uigniter.agent= (no UIGNITER-TEMPLATE).
. "$(dirname "$0")/lib.sh"

GUEST=${ST_SNAP_GUEST:-$GUEST} # another guest build (e.g. an old init, to see this fail)
QMP="/usr/bin/python3 $ROOT/tests/system/qmp_snap.py"
[ -f "$GUEST/vmlinuz" ] || st_fail "guest not built ($GUEST): run make"
PIDS=()
snap_end() {
	local p
	for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null || true; done
	PIDS=()
}
trap 'rc=$?; set +e; snap_end; (exit $rc); st_cleanup' EXIT # set +e: (exit 1) would end the trap

ip netns add "$ST_NS"
ip -n "$ST_NS" link set lo up
ip -n "$ST_NS" link add uigt0 type bridge
ip -n "$ST_NS" addr add 172.31.0.1/24 dev uigt0
ip -n "$ST_NS" link set uigt0 up
ip -n "$ST_NS" tuntap add dev snaptap1 mode tap
ip -n "$ST_NS" link set snaptap1 master uigt0
ip -n "$ST_NS" link set snaptap1 up
MAC=06:00:ac:1f:00:07
ip -n "$ST_NS" neigh replace 172.31.0.7 lladdr "$MAC" dev uigt0 nud permanent
TSC="tsc_early_khz=$(awk '/^cpu MHz/ {printf "%d", $4 * 1000; exit}' /proc/cpuinfo) tsc=reliable"

argv() { # argv DIR NETDEV MAC → ARGV
	mkdir -p "$1"
	ARGV=(qemu-system-x86_64 -M microvm -accel tcg -cpu max -m 128 -smp 1 -nodefaults
		-no-user-config -nographic -no-reboot -kernel "$GUEST/vmlinuz" -initrd "$GUEST/initrd.cpio.gz"
		-append "console=ttyS0 reboot=k panic=-1 $TSC uigniter.agent=uigniter.agent"
		-chardev "file,id=con,path=$1/console.log,append=on" -serial chardev:con
		-netdev "$2" -device "virtio-net-device,netdev=n0,mac=$3"
		-qmp "unix:$1/qmp.sock,server=on,wait=off"
		-device virtio-serial-device,max_ports=2
		-chardev "socket,id=ag,path=$1/agent.sock,server=on,wait=off"
		-device virtserialport,chardev=ag,name=uigniter.agent)
}
spawn() { # spawn DIR EXTRA... (ARGV set)
	ip netns exec "$ST_NS" "${ARGV[@]}" "${@:2}" >"$1/qemu.out" 2>&1 </dev/null &
	QPID=$!
	PIDS+=("$QPID")
}
wait_for() { # wait_for SECONDS CMD...: until CMD succeeds, while QEMU lives
	local end=$((SECONDS + $1))
	shift
	while [ "$SECONDS" -lt "$end" ]; do
		"$@" && return 0
		kill -0 "$QPID" 2>/dev/null || { cat "$D/qemu.out"; return 1; }
		sleep 0.1
	done
	return 1
}

# ---- 1. the template
D=$ST_DIR/tmpl
argv "$D" hubport,id=n0,hubid=0 06:00:ac:1f:00:02
spawn "$D"
wait_for 240 grep -qs '^UIGNITER-TEMPLATE uigniter.agent' "$D/console.log" ||
	st_fail "template: no UIGNITER-TEMPLATE on its console: $(tail -n 5 "$D/console.log")"
! grep -qs UIGNITER-READY "$D/console.log" || st_fail "template says READY before it has an address"
$QMP qmp "$D/qmp.sock" stop >/dev/null || st_fail "template: QMP stop"
FILE=$ST_DIR/template.state
$QMP qmp "$D/qmp.sock" migrate "{\"uri\":\"exec:cat > $FILE\"}" >/dev/null || st_fail "template: migrate"
mig() { [ "$($QMP qmp "$D/qmp.sock" query-migrate | jq -r .status)" = completed ]; }
wait_for 120 mig || st_fail "template: migration did not complete"
[ "$(stat -c %s "$FILE")" -gt 1000000 ] || st_fail "template: state file $(stat -c %s "$FILE") bytes"
snap_end
st_log "template saved: $(stat -c %s "$FILE") bytes"

# ---- 2. a copy with its own tap, MAC and address
D=$ST_DIR/snap1
argv "$D" tap,id=n0,ifname=snaptap1,script=no,downscript=no "$MAC"
spawn "$D" -S -incoming "exec:cat $FILE"
loaded() {
	local st
	st=$($QMP qmp "$D/qmp.sock" query-status 2>/dev/null | jq -r .status) || return 1
	[ "$st" = paused ] || [ "$st" = prelaunch ]
}
wait_for 120 loaded || st_fail "copy: not paused after the restore: $(cat "$D/qemu.out")"
grep -qs UIGNITER-READY "$D/console.log" && st_fail "copy: READY before its address"
$QMP agent "$D/agent.sock" "ip=172.31.0.7::172.31.0.1:255.255.255.0::eth0:off uigniter.id=snap1 uigniter.mac=$MAC" &
PIDS+=($!)
$QMP qmp "$D/qmp.sock" cont >/dev/null || st_fail "copy: QMP cont"
answers() { [ "$(ip netns exec "$ST_NS" curl -s --max-time 2 http://172.31.0.7/)" = "hello from snap1" ]; }
wait_for 120 answers || st_fail "copy: no 'hello from snap1' on 172.31.0.7: $(tail -n 5 "$D/console.log")"
grep -q '^UIGNITER-READY snap1 172.31.0.7' "$D/console.log" || st_fail "copy: no READY line"
[ "$($QMP qmp "$D/qmp.sock" query-status | jq -r .status)" = running ] || st_fail "copy: not running"
st_log "the copy answers on its own address and MAC"

snap_end
ip -n "$ST_NS" link del snaptap1
for p in $(pgrep -f "$ST_DIR"); do
	[ "$p" = $$ ] || st_fail "left running: $(tr '\0' ' ' </proc/$p/cmdline)"
done
[ -z "$(ip -n "$ST_NS" -o link show type tun)" ] || st_fail "taps left"
st_pass
