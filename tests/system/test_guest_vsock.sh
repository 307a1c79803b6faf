#!/usr/bin/env bash
# test_guest_vsock.sh — the demo guest's snapshot agent over vsock
# (uigniter.agent=vsock:PORT, tools/guest/init + uigniter-agent), with real
# QEMU and no daemon: three guests one after the other, a hubport netdev,
# in the test's own netns.
#
# This host has no /dev/vhost-vsock, so QEMU cannot give the guest a virtio
# vsock device: the peer is a process inside the guest, over the guest
# kernel's vsock_loopback (CID 1). The virtio transport to a real
# Firecracker host (its "CONNECT <port>" through the vsock uds) is NOT
# exercised here.
#
# The guest boots with uigniter.agent=vsock:52 and no ip=. An overlay
# cpio appended to the initrd (test-only, nothing in the production guest)
# adds vsock_loopback.ko and /sbin/uigniter-agent, found before
# /bin/uigniter-agent on init's PATH: it loads vsock_loopback, starts a
# sender playing the host's part, and execs the real agent. The sender
# first sends a line too long (dropped: no answer), then retries the good
# line every 250 ms until it reads OK. Asserted on the console:
#   * UIGNITER-TEMPLATE vsock:52 only after the agent started (the stand-in
#     starts it 2 s late); the agent's "dropped a connection: line
#     too long"; the sender saw no answer to that and OK to the good line;
#   * the line's words applied as the virtio-serial path applies them: RNG
#     seeded, eth0 with the line's MAC (not QEMU's) and address,
#     UIGNITER-READY with the line's id, the line's uigniter.cmd run;
#   * that app, the helper on its own: listen on
#     port 1234, send a line over CID 1 -> the answer OK, the listener
#     printed the line and exited 0; a second send finds nothing listening;
#   * the seed never on the console; QEMU exits by itself (the app's exit
#     powers the guest off); no process left.
#   * a second boot whose agent cannot listen (port 52 taken first): the
#     agent says why, init says it did not listen, no banner, the guest
#     boots on without a line;
#   * a third, the guest as built (no overlay): the banner, then, waiting
#     for its line, QMP system_powerdown powers it off (QEMU exits 0).
# First the helper's usage errors on the host (exit 2, a message).
# Fails on a guest whose init knows no uigniter.agent=vsock: (no banner).
. "$(dirname "$0")/lib.sh"

GUEST=${ST_SNAP_GUEST:-$GUEST} # another guest build (e.g. an old init, to see this fail)
[ -f "$GUEST/vmlinuz" ] || st_fail "guest not built ($GUEST): run make"
QPID=
trap 'rc=$?; set +e; [ -n "$QPID" ] && { kill -KILL "$QPID" 2>/dev/null; wait "$QPID" 2>/dev/null; }; (exit $rc); st_cleanup' EXIT

AGENT=$ROOT/build/guest-bin/uigniter-agent
[ -x "$AGENT" ] || st_fail "$AGENT not built: run make"
helper() { # helper WANT_RC WANT_STDERR ARGS...
	local rc=0 err
	err=$("$AGENT" "${@:3}" 2>&1 >/dev/null) || rc=$?
	[ "$rc" = "$1" ] && [[ "$err" == *"$2"* ]] ||
		st_fail "uigniter-agent ${*:3}: exit $rc, '$err' (wanted $1, '$2')"
}
helper 2 "usage: uigniter-agent listen [--ready] PORT"
helper 2 "usage: uigniter-agent listen" listen
helper 2 "usage: uigniter-agent listen" listen --readyy 52
helper 2 "PORT must be a number below 4294967295, not '5x'" listen 5x
helper 2 "PORT must be a number below 4294967295, not '4294967295'" listen --ready 4294967295
helper 2 "CID must be a number below 4294967295, not '-1'" send -1 52 words
helper 2 "LINE must be one non-empty line" send 1 52 ""
st_log "the helper: usage and malformed numbers exit 2"

# ---- the overlay: vsock_loopback and the in-guest sender
moddir=$(awk '$2 ~ /\/modules\.dep$/ {print $2; exit}' "$GUEST/.inputs.sha256")
moddir=${moddir%/modules.dep}
loopback=$(find "$moddir/kernel/net/vmw_vsock" -name 'vsock_loopback.ko' 2>/dev/null | head -n 1)
[ -n "$loopback" ] || st_fail "no vsock_loopback.ko under $moddir (the guest kernel's modules)"

SEED=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
# the app the line names: the helper on its own over CID 1
APP='echo "APP mac=$(cat /sys/class/net/eth0/address) addr=$(ip -4 -o addr show eth0 | awk "{print \$4}")"
/bin/uigniter-agent listen 1234 >/tmp/got &
p=$!
i=0
until out=$(/bin/uigniter-agent send 1 1234 "hello over vsock"); do
	i=$((i + 1)); [ $i -lt 400 ] || break; usleep 250000
done
echo "APP send answered: $out"
wait $p
echo "APP listen exit $? printed: $(cat /tmp/got)"
/bin/uigniter-agent send 1 1234 "once more" 2>/tmp/err
echo "APP second send exit $?: $(cat /tmp/err)"'
CMD=$(printf '%s\0' /bin/sh -c "$APP" | base64 -w0)
LINE="ip=172.31.0.9::172.31.0.1:255.255.255.0::eth0:off uigniter.id=vsocked uigniter.mac=06:00:ac:1f:00:0a uigniter.seed=$SEED uigniter.cmd=$CMD"

# overlay_initrd NAME WRAPPER: $GUEST's initrd plus a cpio with
# vsock_loopback.ko, the line, and WRAPPER (a file) as /sbin/uigniter-agent
# -> $ST_DIR/NAME.cpio.gz
overlay_initrd() {
	local ov=$ST_DIR/$1.overlay
	mkdir -p "$ov/sbin" "$ov/lib/modules" "$ov/etc"
	cp "$loopback" "$ov/lib/modules/vsock_loopback.ko"
	printf '%s\n' "$LINE" >"$ov/etc/test-agent-line"
	install -m 0755 "$2" "$ov/sbin/uigniter-agent"
	{
		cat "$GUEST/initrd.cpio.gz"
		(cd "$ov" && find . -mindepth 1 | sed 's|^\./||' | LC_ALL=C sort |
			cpio -o -H newc -R 0:0 --quiet) | gzip -n
	} >"$ST_DIR/$1.cpio.gz"
}
cat >"$ST_DIR/sender.sh" <<'EOF'
#!/bin/sh
# test_guest_vsock.sh's stand-in, first on init's PATH: the host's part
# played inside the guest over vsock_loopback, then the real agent.
insmod /lib/modules/vsock_loopback.ko || echo "test: insmod vsock_loopback failed"
(
	long=$(head -c 5000 /dev/zero | tr '\0' a)
	i=0
	until /bin/uigniter-agent send 1 52 "$long" 2>&1 | grep -q 'no answer'; do
		i=$((i + 1)); [ $i -lt 1200 ] || { echo "test-sender: gave up (long)"; exit 1; }
		usleep 250000
	done
	echo "test-sender: the long line got no answer"
	line=$(cat /etc/test-agent-line)
	i=0
	until out=$(/bin/uigniter-agent send 1 52 "$line" 2>/dev/null); do
		i=$((i + 1)); [ $i -lt 1200 ] || { echo "test-sender: gave up"; exit 1; }
		usleep 250000
	done
	echo "test-sender: answer $out"
) </dev/null >/dev/console 2>&1 &
# late on purpose: init must wait for the agent's "listening" to print the
# banner (stdout is init's FIFO: the console by name)
sleep 2
echo "test: exec uigniter-agent $*" >/dev/console
exec /bin/uigniter-agent "$@"
EOF
# the second boot: port 52 is taken first, so the real agent cannot bind it
cat >"$ST_DIR/busy.sh" <<'EOF'
#!/bin/sh
/bin/uigniter-agent listen 52 </dev/null >/dev/null 2>&1 &
usleep 500000
exec /bin/uigniter-agent "$@"
EOF
overlay_initrd good "$ST_DIR/sender.sh"
overlay_initrd busy "$ST_DIR/busy.sh"
cp "$GUEST/initrd.cpio.gz" "$ST_DIR/plain.cpio.gz" # the guest as built, no overlay
QMP="/usr/bin/python3 $ROOT/tests/system/qmp_snap.py"

# ---- the guests, one at a time
ip netns add "$ST_NS"
TSC="tsc_early_khz=$(awk '/^cpu MHz/ {printf "%d", $4 * 1000; exit}' /proc/cpuinfo) tsc=reliable"
boot() { # boot NAME: QEMU on $ST_DIR/NAME.cpio.gz, console $ST_DIR/NAME.console
	CON=$ST_DIR/$1.console
	ip netns exec "$ST_NS" qemu-system-x86_64 -M microvm -accel tcg -cpu max -m 128 -smp 1 \
		-nodefaults -no-user-config -nographic -no-reboot \
		-kernel "$GUEST/vmlinuz" -initrd "$ST_DIR/$1.cpio.gz" \
		-append "console=ttyS0 reboot=k panic=-1 $TSC uigniter.agent=vsock:52" \
		-chardev "file,id=con,path=$CON" -serial chardev:con \
		-qmp "unix:$ST_DIR/$1.qmp,server=on,wait=off" \
		-netdev hubport,id=n0,hubid=0 -device virtio-net-device,netdev=n0,mac=06:00:ac:1f:00:09 \
		>"$ST_DIR/qemu.out" 2>&1 </dev/null &
	QPID=$!
}
boot good

end=$((SECONDS + 400)) # TCG on a loaded 2-core host: generous
until grep -qs '^UIGNITER-READY' "$CON"; do
	kill -0 "$QPID" 2>/dev/null || st_fail "QEMU exited: $(cat "$ST_DIR/qemu.out"; tail -n 20 "$CON")"
	[ "$SECONDS" -lt "$end" ] || st_fail "no UIGNITER-READY: $(tail -n 20 "$CON")"
	sleep 0.5
done
grep -q '^UIGNITER-TEMPLATE vsock:52' "$CON" ||
	st_fail "no 'UIGNITER-TEMPLATE vsock:52' before READY: $(grep '^init:\|^UIGNITER' "$CON")"
st_log "the template banner, then READY"

# the app exits -> UIGNITER-APP-EXIT, the guest powers off, QEMU exits 0
until ! kill -0 "$QPID" 2>/dev/null; do
	[ "$SECONDS" -lt "$end" ] || st_fail "QEMU still running: $(tail -n 20 "$CON")"
	sleep 0.5
done
qrc=0
wait "$QPID" || qrc=$?
QPID=
[ "$qrc" = 0 ] || st_fail "QEMU exit $qrc: $(cat "$ST_DIR/qemu.out")"

TXT=$ST_DIR/console.txt # the serial console's lines end in \r\n
tr -d '\r' <"$CON" >"$TXT"
line_of() { grep -n -m1 -F -- "$1" "$TXT" | cut -d: -f1; }
banner=$(grep -n -m1 -x 'UIGNITER-TEMPLATE vsock:52' "$TXT" | cut -d: -f1) || true
[ -n "$banner" ] || st_fail "no line 'UIGNITER-TEMPLATE vsock:52' exactly"
expect() { # expect TEXT: on the console, after the banner; prints its line
	local n
	n=$(line_of "$1")
	[ -n "$n" ] || st_fail "not on the console: '$1'; it has: $(grep -v '^\[' "$TXT" | tail -n 30)"
	[ "$n" -gt "$banner" ] || st_fail "'$1' (line $n) before the banner (line $banner)"
	echo "$n"
}
started=$(line_of 'test: exec uigniter-agent listen --ready 52')
[ -n "$started" ] || st_fail "init did not run 'uigniter-agent listen --ready 52'"
[ "$started" -lt "$banner" ] || st_fail "the banner (line $banner) came before the agent started (line $started)"
expect 'uigniter-agent: dropped a connection: line too long (at most 4096 bytes' >/dev/null
expect 'test-sender: the long line got no answer' >/dev/null
expect 'test-sender: answer OK' >/dev/null
seeded=$(expect 'init: RNG seeded (256 bits, crng reseeded)')
ready=$(expect 'UIGNITER-READY vsocked 172.31.0.9')
[ "$seeded" -lt "$ready" ] || st_fail "the seed was applied after UIGNITER-READY"
expect 'APP mac=06:00:ac:1f:00:0a addr=172.31.0.9/24' >/dev/null
st_log "init's vsock branch: a too-long line dropped, the good one answered OK and applied (seed, MAC, address, id, cmd)"
expect 'APP send answered: OK' >/dev/null
expect 'APP listen exit 0 printed: hello over vsock' >/dev/null
expect 'APP second send exit 1: uigniter-agent: connect to vsock 1:1234:' >/dev/null
expect 'UIGNITER-APP-EXIT 0' >/dev/null
st_log "the helper alone over vsock_loopback: OK back, the line printed, one line and it is gone"
! grep -q 'seed failed\|^uigniter-seed:\|test: insmod\|test-sender: gave up' "$TXT" ||
	st_fail "complaints: $(grep 'seed\|test' "$TXT")"
! grep -qF "$SEED" "$TXT" || st_fail "the seed was printed on the console"

# ---- the agent cannot listen: no banner, the guest boots on without a line
boot busy
end=$((SECONDS + 400))
until grep -qs '^UIGNITER-READY' "$CON"; do
	kill -0 "$QPID" 2>/dev/null || st_fail "QEMU exited: $(cat "$ST_DIR/qemu.out"; tail -n 20 "$CON")"
	[ "$SECONDS" -lt "$end" ] || st_fail "no UIGNITER-READY: $(tail -n 20 "$CON")"
	sleep 0.5
done
kill -KILL "$QPID"
wait "$QPID" 2>/dev/null || true
QPID=
tr -d '\r' <"$CON" >"$TXT"
for want in 'uigniter-agent: bind vsock port 52: Address already in use' \
	'init: uigniter-agent did not listen on vsock port 52 (exit 1)' \
	'init: no ip= on the kernel command line; network not configured'; do
	grep -qxF "$want" "$TXT" || st_fail "not on the console: '$want'; it has: $(grep -v '^\[' "$TXT")"
done
! grep -q 'UIGNITER-TEMPLATE' "$TXT" || st_fail "a banner from a guest whose agent could not listen"
st_log "an agent that cannot listen: no banner, said on the console, the guest boots on"

# ---- the guest as built, waiting for its line: the power button still
# stops it (init's wait for the agent ends on the trapped signal)
boot plain
end=$((SECONDS + 400))
until grep -qs '^UIGNITER-TEMPLATE vsock:52' "$CON"; do
	kill -0 "$QPID" 2>/dev/null || st_fail "QEMU exited: $(cat "$ST_DIR/qemu.out"; tail -n 20 "$CON")"
	[ "$SECONDS" -lt "$end" ] || st_fail "no UIGNITER-TEMPLATE: $(tail -n 20 "$CON")"
	sleep 0.5
done
while kill -0 "$QPID" 2>/dev/null; do # pressed until it is off, as pool-worker does
	[ "$SECONDS" -lt "$end" ] || st_fail "QEMU still running after system_powerdown: $(tail -n 20 "$CON")"
	$QMP qmp "$ST_DIR/plain.qmp" system_powerdown >/dev/null 2>&1 || true
	sleep 1
done
qrc=0
wait "$QPID" || qrc=$?
QPID=
[ "$qrc" = 0 ] || st_fail "QEMU exit $qrc after a powerdown: $(cat "$ST_DIR/qemu.out")"
tr -d '\r' <"$CON" >"$TXT"
grep -qx 'UIGNITER-SHUTDOWN ?' "$TXT" || st_fail "no 'UIGNITER-SHUTDOWN ?': $(grep -v '^\[' "$TXT")"
! grep -q '^UIGNITER-READY' "$TXT" || st_fail "READY without a line"
st_log "the built guest: banner, waiting; the power button powers it off (QEMU exit 0)"

for p in $(pgrep -f "$ST_DIR"); do
	[ "$p" = $$ ] || st_fail "left running: $(tr '\0' ' ' </proc/$p/cmdline)"
done
st_pass
