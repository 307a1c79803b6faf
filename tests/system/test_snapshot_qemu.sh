#!/usr/bin/env bash
# test_snapshot_qemu.sh — snapshot-started slots, by hand with real QEMU
# (docs/ARCHITECTURE.md "Snapshot-started slots"; no uigniter
# daemon: test_pool_snapshot.sh tests pool.boot snapshot). At most two guests at once:
#   1. a template: drv_qemu.c's argv (-M microvm, the hello guest) plus a
#      virtio-serial port "uigniter.agent", a hubport netdev, the kernel
#      command line without ip= but uigniter.agent=uigniter.agent: its
#      console says UIGNITER-TEMPLATE; it runs $ST_SNAP_AGE (125) s, past
#      the kernel's early-boot reseeding; QMP stop, migrate to "exec:cat > FILE";
#   2. copies, two at a time, each the same argv with a tap and MAC of its
#      own, -S -incoming "exec:cat FILE": paused once loaded; the address
#      line written to its agent socket, cont → copy N answers "hello from
#      snapN" on 172.31.0.(6+N) (the bridge's neighbour entries are static:
#      only the slot's own MAC gets the frames), its console says
#      UIGNITER-READY; a second line is not needed.
#      a. the control, lines without a seed (copy 2's is malformed: its
#         console says "init: seed failed", it boots on): 64 reads of
#         /dev/urandom (/cgi-bin/random?64) of the two copies share values —
#         the template's crng stream, shifted by the draws each made first;
#      b. lines with uigniter.seed=<64 hex>, another per copy: the consoles
#         say "init: RNG seeded", and the copies' 64 values share nothing,
#         with each other or with the control's.
#   And nothing is left (processes, taps).
# Fails on a guest whose init knows no uigniter.agent= (no UIGNITER-TEMPLATE)
# or no uigniter.seed= (2b: no "RNG seeded", the streams overlap).
. "$(dirname "$0")/lib.sh"

GUEST=${ST_SNAP_GUEST:-$GUEST} # another guest build (e.g. an old init, to see this fail)
QMP="/usr/bin/python3 $ROOT/tests/system/qmp_snap.py"
[ -f "$GUEST/vmlinuz" ] || st_fail "guest not built ($GUEST): run make"
AGE=${ST_SNAP_AGE:-125} # seconds the template runs before it is saved (below)
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
T0=$SECONDS
spawn "$D"
wait_for 240 grep -qs '^UIGNITER-TEMPLATE uigniter.agent' "$D/console.log" ||
	st_fail "template: no UIGNITER-TEMPLATE on its console: $(tail -n 5 "$D/console.log")"
! grep -qs UIGNITER-READY "$D/console.log" || st_fail "template says READY before it has an address"
# Past the kernel's early boot (uptime 120 s) its crng reseeds every 60 s,
# not every uptime/2: copies of an older template keep its crng for ~50 s
# after the restore, so the control below sees it (with a 4 s old template
# the copies' own first reseed, 2 s in, hides it before a test can look).
while [ $((SECONDS - T0)) -lt "$AGE" ]; do
	kill -0 "$QPID" 2>/dev/null || st_fail "template: QEMU exited: $(cat "$D/qemu.out")"
	sleep 1
done
$QMP qmp "$D/qmp.sock" stop >/dev/null || st_fail "template: QMP stop"
FILE=$ST_DIR/template.state
$QMP qmp "$D/qmp.sock" migrate "{\"uri\":\"exec:cat > $FILE\"}" >/dev/null || st_fail "template: migrate"
mig() { [ "$($QMP qmp "$D/qmp.sock" query-migrate | jq -r .status)" = completed ]; }
wait_for 120 mig || st_fail "template: migration did not complete"
[ "$(stat -c %s "$FILE")" -gt 1000000 ] || st_fail "template: state file $(stat -c %s "$FILE") bytes"
snap_end
st_log "template saved: $(stat -c %s "$FILE") bytes"

# ---- 2. copies, each with its own tap, MAC and address (two at a time)
# copy N ROUND [WORDS...]: restores copy N (tap snaptapN, 172.31.0.(6+N),
# MAC 06:00:ac:1f:00:0(6+N)) from the template, writes its agent line (the
# address words, then WORDS), conts it and waits until it answers
# "hello from snapN". Sets D and QPID to the copy's.
copy() {
	local n=$1 round=$2 ip=172.31.0.$((6 + $1)) mac=06:00:ac:1f:00:0$((6 + $1))
	shift 2
	D=$ST_DIR/$round-snap$n
	argv "$D" "tap,id=n0,ifname=snaptap$n,script=no,downscript=no" "$mac"
	spawn "$D" -S -incoming "exec:cat $FILE"
	CDIR[n]=$D CPID[n]=$QPID
	wait_for 120 loaded || st_fail "copy $n: not paused after the restore: $(cat "$D/qemu.out")"
	! grep -qs UIGNITER-READY "$D/console.log" || st_fail "copy $n: READY before its address"
	$QMP agent "$D/agent.sock" "ip=$ip::172.31.0.1:255.255.255.0::eth0:off uigniter.id=snap$n uigniter.mac=$mac $*" &
	PIDS+=($!)
	$QMP qmp "$D/qmp.sock" cont >/dev/null || st_fail "copy $n: QMP cont"
}
loaded() {
	local st
	st=$($QMP qmp "$D/qmp.sock" query-status 2>/dev/null | jq -r .status) || return 1
	[ "$st" = paused ] || [ "$st" = prelaunch ]
}
use() { D=${CDIR[$1]} QPID=${CPID[$1]}; } # use N: wait_for watches copy N
answers() { [ "$(ip netns exec "$ST_NS" curl -s --max-time 2 "http://172.31.0.$((6 + $1))/")" = "hello from snap$1" ]; }
ready() { # ready N: it answers on its own address and MAC (static neighbour)
	use "$1"
	wait_for 120 answers "$1" || st_fail "copy $1: no 'hello from snap$1' on 172.31.0.$((6 + $1)): $(tail -n 5 "$D/console.log")"
	grep -q "^UIGNITER-READY snap$1 172.31.0.$((6 + $1))" "$D/console.log" || st_fail "copy $1: no READY line"
	[ "$($QMP qmp "$D/qmp.sock" query-status | jq -r .status)" = running ] || st_fail "copy $1: not running"
}
draw() { # draw N VAR: VAR = 64 lines, 16-byte reads of copy N's /dev/urandom in hex
	local r
	r=$(ip netns exec "$ST_NS" curl -sf --max-time 20 "http://172.31.0.$((6 + $1))/cgi-bin/random?64") ||
		st_fail "copy $1: GET /cgi-bin/random failed"
	[ "$(grep -cxE '[0-9a-f]{32}' <<<"$r")" = 64 ] || st_fail "copy $1: /cgi-bin/random said '$r'"
	printf -v "$2" %s "$r"
}
common() { comm -12 <(sort -u <<<"$1") <(sort -u <<<"$2") | wc -l; } # values in both
CDIR=() CPID=()
for n in 1 2; do
	ip -n "$ST_NS" tuntap add dev snaptap$n mode tap
	ip -n "$ST_NS" link set snaptap$n master uigt0
	ip -n "$ST_NS" link set snaptap$n up
	ip -n "$ST_NS" neigh replace 172.31.0.$((6 + n)) lladdr 06:00:ac:1f:00:0$((6 + n)) dev uigt0 nud permanent
done

# ---- 2a. the control: two copies without a seed draw the template's stream
# (the same values, shifted by the draws each made before the read); copy 2's
# seed is malformed: refused, nothing added, and the guest goes on
copy 1 plain
copy 2 plain uigniter.seed=0123456789abcdefXY
ready 1
ready 2
draw 1 P1
draw 2 P2
st_log "without a seed: copy 1 drew $(head -n1 <<<"$P1")..., copy 2 $(head -n1 <<<"$P2")...; $(common "$P1" "$P2") of 64 values in both"
[ "$(common "$P1" "$P2")" -gt 0 ] ||
	st_fail "control: two unseeded copies share no value (the kernel reseeded them by itself: template ${AGE}s old), so this test cannot show what the seed does"
grep -qs '^init: RNG seeded' "${CDIR[1]}/console.log" && st_fail "copy 1 seeded without a seed"
grep -q '^uigniter-seed: the seed must be exactly 64 hex characters' "${CDIR[2]}/console.log" &&
	grep -q '^init: seed failed (uigniter-seed exit 2)' "${CDIR[2]}/console.log" ||
	st_fail "copy 2: a malformed seed, and no 'init: seed failed': $(grep -i seed "${CDIR[2]}/console.log")"
snap_end

# ---- 2b. two copies, each with a seed of its own: streams of their own
S1=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n') S2=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
copy 1 seeded "uigniter.seed=$S1"
copy 2 seeded "uigniter.seed=$S2"
ready 1
ready 2
draw 1 R1
draw 2 R2
st_log "seeded: copy 1 drew $(head -n1 <<<"$R1")..., copy 2 $(head -n1 <<<"$R2")...; $(common "$R1" "$R2") values in both"
[ "$(common "$R1" "$R2")" = 0 ] || st_fail "two copies with different seeds drew the same values"
[ "$(common "$(printf '%s\n' "$R1" "$R2")" "$(printf '%s\n' "$P1" "$P2")")" = 0 ] || st_fail "a seeded copy drew what an unseeded one did"
for n in 1 2; do
	grep -q '^init: RNG seeded (256 bits, crng reseeded)' "${CDIR[$n]}/console.log" ||
		st_fail "copy $n: no 'init: RNG seeded' on its console: $(grep '^init:' "${CDIR[$n]}/console.log")"
done
st_log "the seeded copies answer on their own addresses and MACs and draw streams of their own"

snap_end
ip -n "$ST_NS" link del snaptap1
ip -n "$ST_NS" link del snaptap2
for p in $(pgrep -f "$ST_DIR"); do
	[ "$p" = $$ ] || st_fail "left running: $(tr '\0' ' ' </proc/$p/cmdline)"
done
[ -z "$(ip -n "$ST_NS" -o link show type tun)" ] || st_fail "taps left"
st_pass
