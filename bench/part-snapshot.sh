#!/usr/bin/env bash
# part-snapshot.sh — snapshot-started slots, by hand with real QEMU (TCG
# here), no uigniter stack: what creating one pool slot ("paused, answers
# HTTP on its own address") costs by cold boot (pool.boot: ahead today) and
# by restoring a saved template (docs/ARCHITECTURE.md "Snapshot-started
# slots: design").
#
#   cold      QEMU with drv_qemu.c's argv (-M microvm, the demo guest, ip= on
#             the kernel command line), boot until its HTTP answers on the
#             slot's address, QMP stop.
#   template  once: the same argv plus a virtio-serial port (chardev socket,
#             port name uigniter.agent), kernel command line without ip= but
#             uigniter.agent=uigniter.agent, a hubport netdev (no tap); boot
#             until the console says UIGNITER-TEMPLATE, stop, QMP migrate to
#             "exec:cat > FILE" (7.2 has no file: URI; mapped-ram is 9.0).
#   restore   the template's argv with the slot's tap and MAC, -S and
#             -incoming "exec:cat FILE"; once loaded (paused): cont, write
#             "ip=... uigniter.id=... uigniter.mac=..." to the agent socket,
#             wait until its HTTP answers on the slot's address (and MAC: the
#             bridge neighbours are static), QMP stop.
#   take      both: cont → the first HTTP answer (what a run then waits).
#
# CPU: utime+stime+cutime+cstime of the QEMU process (/proc/PID/stat; the
# restore's `cat` is a reaped child), at the slot's stop. Wall: QEMU's
# start → stopped. RSS: VmRSS of the stopped slot.
#
# Environment: BENCH_SNAP_N (repetitions of each, 3), BENCH_MEM_MIB (80),
# BENCH_SNAP_TMPL_ARGS (more kernel arguments for the template, e.g.
# init_on_free=1: freed pages zeroed, so not written to the state file).
. "$(dirname "$0")/lib.sh"

N=${BENCH_SNAP_N:-3}
MEM=${BENCH_MEM_MIB:-80}
QEMU=${BENCH_QEMU:-qemu-system-x86_64}
b_need_root
B_HOST=$(b_host_json)
[ -f "$B_GUEST/vmlinuz" ] || b_die "guest not built ($B_GUEST): run make"
b_netns
ip -n "$B_NS" link add "$B_BRIDGE" type bridge
ip -n "$B_NS" addr add 172.31.0.1/22 dev "$B_BRIDGE"
ip -n "$B_NS" link set "$B_BRIDGE" up
b_static_neigh 172.31.0 2 254 06:00
HZ=$(getconf CLK_TCK)
# Under TCG the guest cannot calibrate its TSC (no PIT/HPET on microvm): the
# host's rate, as pool-worker passes it (engine.c, accel.c).
TSC_ARGS="tsc_early_khz=$(awk '/^cpu MHz/ {printf "%d", $4 * 1000; exit}' /proc/cpuinfo) tsc=reliable"

# QMP over a unix socket: qmp SOCK COMMAND [ARGUMENTS_JSON] → the "return" JSON.
cat >"$B_DIR/qmp.py" <<'EOF'
import json, socket, sys, time
path, cmd = sys.argv[1], sys.argv[2]
args = json.loads(sys.argv[3]) if len(sys.argv) > 3 else None
for _ in range(200):
    try:
        s = socket.socket(socket.AF_UNIX); s.connect(path); break
    except OSError:
        time.sleep(0.05)
else:
    sys.exit("qmp: cannot connect to " + path)
f = s.makefile("rw")
def call(c, a=None):
    m = {"execute": c}
    if a is not None: m["arguments"] = a
    f.write(json.dumps(m) + "\n"); f.flush()
    while True:
        r = json.loads(f.readline())
        if "return" in r: return r["return"]
        if "error" in r: sys.exit("qmp %s: %s" % (c, r["error"]["desc"]))
json.loads(f.readline())  # greeting
call("qmp_capabilities")
print(json.dumps(call(cmd, args)))
EOF
qmp() { /usr/bin/python3 "$B_DIR/qmp.py" "$@"; }
# agent SOCK LINE: connects to the guest agent's port, writes LINE, holds the
# connection until killed (the host end stays open, as a driver would keep it).
cat >"$B_DIR/agent.py" <<'EOF'
import socket, sys, time
for _ in range(200):
    try:
        s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); break
    except OSError:
        time.sleep(0.05)
else:
    sys.exit("agent: cannot connect to " + sys.argv[1])
s.sendall((sys.argv[2] + "\n").encode())
time.sleep(3600)
EOF

now_ns() { date +%s%N; }
ms_since() { echo $(( ($(now_ns) - $1) / 1000000 )); }
cpu_s() { awk -v hz="$HZ" '{printf "%.2f\n", ($14 + $15 + $16 + $17) / hz}' "/proc/$1/stat"; }
mac_of() { printf '06:00:ac:1f:00:%02x' "$1"; } # netd's rule: 06:0x:<ip in hex>

tap_add() {
	ip -n "$B_NS" tuntap add dev "$1" mode tap
	ip -n "$B_NS" link set "$1" master "$B_BRIDGE"
	ip -n "$B_NS" link set "$1" up
}

# qemu_argv NAME KERNEL_ARGS NETDEV MAC [agent] → QEMU_ARGV (drv_qemu.c's order)
qemu_argv() {
	local d=$B_DIR/$1
	mkdir -p "$d"
	QEMU_ARGV=("$QEMU" -M microvm -accel tcg -cpu max -m "$MEM" -smp 1 -nodefaults -no-user-config
		-nographic -no-reboot -kernel "$B_GUEST/vmlinuz" -initrd "$B_GUEST/initrd.cpio.gz"
		-append "console=ttyS0 reboot=k panic=-1 quiet $TSC_ARGS $2"
		-chardev "file,id=con,path=$d/console.log,append=on" -serial chardev:con
		-netdev "$3" -device "virtio-net-device,netdev=n0,mac=$4"
		-qmp "unix:$d/qmp.sock,server=on,wait=off")
	[ "${5-}" = agent ] && QEMU_ARGV+=(-device virtio-serial-device,max_ports=2
		-chardev "socket,id=ag,path=$d/agent.sock,server=on,wait=off"
		-device virtserialport,chardev=ag,name=uigniter.agent)
	return 0
}

start_qemu() { # start_qemu NAME EXTRA... → QPID
	setsid ip netns exec "$B_NS" "${QEMU_ARGV[@]}" "${@:2}" >"$B_DIR/$1/qemu.out" 2>&1 </dev/null &
	QPID=$!
}

wait_console() { # NAME WORD SECONDS
	local end=$((SECONDS + $3))
	while [ "$SECONDS" -lt "$end" ]; do
		grep -qs "$2" "$B_DIR/$1/console.log" && return 0
		kill -0 "$QPID" 2>/dev/null || { cat "$B_DIR/$1/qemu.out" >&2; return 1; }
		sleep 0.1
	done
	return 1
}

wait_http() { # IP EXPECT SECONDS
	local end=$((SECONDS + $3))
	while [ "$SECONDS" -lt "$end" ]; do
		[ "$(ip netns exec "$B_NS" curl -s --max-time 1 "http://$1/" 2>/dev/null)" = "$2" ] && return 0
		kill -0 "$QPID" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

end_qemu() { b_kill_wait "$QPID" 3; wait "$QPID" 2>/dev/null || true; QPID=; }

# ------------------------------------------------------------------ cold
: >"$B_DIR/cold.tsv"
for ((i = 0; i < N; i++)); do
	n=$((10 + i)) ip=172.31.0.$((10 + i))
	tap_add "tc$i"
	qemu_argv "cold$i" "ip=$ip::172.31.0.1:255.255.252.0::eth0:off uigniter.id=cold$i" \
		"tap,id=n0,ifname=tc$i,script=no,downscript=no" "$(mac_of "$n")"
	t0=$(now_ns)
	start_qemu "cold$i"
	wait_http "$ip" "hello from cold$i" 120 || b_die "cold$i: no HTTP answer"
	qmp "$B_DIR/cold$i/qmp.sock" stop >/dev/null
	wall=$(ms_since "$t0") cpu=$(cpu_s "$QPID") rss=$(b_rss_kib "$QPID")
	t1=$(now_ns)
	qmp "$B_DIR/cold$i/qmp.sock" cont >/dev/null
	wait_http "$ip" "hello from cold$i" 30 || b_die "cold$i: no answer after cont"
	take=$(ms_since "$t1")
	printf '%s\t%s\t%s\t%s\n' "$cpu" "$wall" "$rss" "$take" >>"$B_DIR/cold.tsv"
	b_log "cold $i: cpu ${cpu}s wall ${wall}ms rss ${rss}KiB take ${take}ms"
	end_qemu
	ip -n "$B_NS" link del "tc$i"
done

# ------------------------------------------------------------------ template
snap=$B_DIR/template.state
TMPL_ARGS=${BENCH_SNAP_TMPL_ARGS:-}
qemu_argv tmpl "${TMPL_ARGS:+$TMPL_ARGS }uigniter.agent=uigniter.agent" "hubport,id=n0,hubid=0" "$(mac_of 2)" agent
TMPL_ARGV=("${QEMU_ARGV[@]}")
t0=$(now_ns)
start_qemu tmpl
wait_console tmpl UIGNITER-TEMPLATE 120 || b_die "template: no UIGNITER-TEMPLATE"
qmp "$B_DIR/tmpl/qmp.sock" stop >/dev/null
caps=$(qmp "$B_DIR/tmpl/qmp.sock" query-migrate-capabilities | jq -c '[.[].capability]')
ts=$(now_ns)
qmp "$B_DIR/tmpl/qmp.sock" migrate "{\"uri\":\"exec:cat > $snap\"}" >/dev/null
for ((k = 0; k < 600; k++)); do
	st=$(qmp "$B_DIR/tmpl/qmp.sock" query-migrate | jq -r .status)
	[ "$st" = completed ] && break
	[ "$st" = failed ] && b_die "template: migrate failed"
	sleep 0.1
done
[ "$st" = completed ] || b_die "template: migrate did not complete"
save_ms=$(ms_since "$ts")
tmpl_wall=$(ms_since "$t0") tmpl_cpu=$(cpu_s "$QPID")
snap_bytes=$(stat -c %s "$snap")
b_log "template: cpu ${tmpl_cpu}s wall ${tmpl_wall}ms (save ${save_ms}ms), state file $snap_bytes bytes"
b_log "migration capabilities of $("$QEMU" --version | head -n1): $caps"
end_qemu

# ------------------------------------------------------------------ restore
: >"$B_DIR/restore.tsv"
for ((i = 0; i < N; i++)); do
	n=$((50 + i)) ip=172.31.0.$((50 + i)) mac=$(mac_of $((50 + i)))
	tap_add "tr$i"
	d=$B_DIR/snap$i
	mkdir -p "$d"
	# the template's argv, with this slot's tap, MAC and sockets
	QEMU_ARGV=()
	for a in "${TMPL_ARGV[@]}"; do
		case $a in
		hubport,*) a="tap,id=n0,ifname=tr$i,script=no,downscript=no" ;;
		virtio-net-device,*) a="virtio-net-device,netdev=n0,mac=$mac" ;;
		*) a=${a//$B_DIR\/tmpl\//$d/} ;;
		esac
		QEMU_ARGV+=("$a")
	done
	t0=$(now_ns)
	start_qemu "snap$i" -S -incoming "exec:cat $snap"
	for ((k = 0; k < 600; k++)); do
		st=$(qmp "$d/qmp.sock" query-status 2>/dev/null | jq -r .status) || st=
		[ -n "$st" ] && [ "$st" != inmigrate ] && break
		kill -0 "$QPID" 2>/dev/null || { cat "$d/qemu.out" >&2; b_die "snap$i: QEMU exited"; }
		sleep 0.05
	done
	[ "$st" = paused ] || [ "$st" = prelaunch ] || b_die "snap$i: status $st after the restore"
	loaded_ms=$(ms_since "$t0") loaded_cpu=$(cpu_s "$QPID") loaded_rss=$(b_rss_kib "$QPID")
	ta=$(now_ns)
	/usr/bin/python3 "$B_DIR/agent.py" "$d/agent.sock" \
		"ip=$ip::172.31.0.1:255.255.252.0::eth0:off uigniter.id=snap$i uigniter.mac=$mac" &
	apid_=$!
	B_PIDS+=("$apid_")
	qmp "$d/qmp.sock" cont >/dev/null
	wait_http "$ip" "hello from snap$i" 60 || b_die "snap$i: no HTTP answer on $ip"
	addr_ms=$(ms_since "$ta")
	qmp "$d/qmp.sock" stop >/dev/null
	wall=$(ms_since "$t0") cpu=$(cpu_s "$QPID") rss=$(b_rss_kib "$QPID")
	t1=$(now_ns)
	qmp "$d/qmp.sock" cont >/dev/null
	wait_http "$ip" "hello from snap$i" 30 || b_die "snap$i: no answer after cont"
	take=$(ms_since "$t1")
	grep -q "UIGNITER-READY snap$i $ip" "$d/console.log" || b_die "snap$i: no READY line"
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$cpu" "$wall" "$rss" "$take" "$loaded_cpu" "$loaded_ms" \
		"$loaded_rss" "$addr_ms" >>"$B_DIR/restore.tsv"
	b_log "restore $i: cpu ${cpu}s wall ${wall}ms rss ${rss}KiB take ${take}ms (loaded: cpu ${loaded_cpu}s ${loaded_ms}ms rss ${loaded_rss}KiB; address → HTTP ${addr_ms}ms)"
	end_qemu
	b_kill_wait "$apid_" 1
	ip -n "$B_NS" link del "tr$i"
done

col() { cut -f"$2" "$B_DIR/$1.tsv" | b_stats; }
b_write_result snapshot "$(jq -n --argjson n "$N" --argjson mem "$MEM" \
	--argjson cc "$(col cold 1)" --argjson cw "$(col cold 2)" --argjson cr "$(col cold 3)" \
	--argjson ct "$(col cold 4)" \
	--argjson rc "$(col restore 1)" --argjson rw "$(col restore 2)" --argjson rr "$(col restore 3)" \
	--argjson rt "$(col restore 4)" --argjson lc "$(col restore 5)" --argjson lw "$(col restore 6)" \
	--argjson lr "$(col restore 7)" --argjson aw "$(col restore 8)" \
	--argjson tc "$tmpl_cpu" --argjson tw "$tmpl_wall" --argjson sv "$save_ms" \
	--argjson sb "$snap_bytes" --argjson caps "$caps" --arg ta "$TMPL_ARGS" '
	{config:{vmm:"qemu -M microvm (TCG)", guest:"build/guest (demo httpd)", mem_mib:$mem, repetitions:$n,
	         save:"QMP migrate exec:cat > file", restore:"-S -incoming exec:cat file",
	         address:"virtio-serial port uigniter.agent, tools/guest/init", template_kernel_args:$ta},
	 cold:{cpu_s:$cc, wall_ms:$cw, rss_kib:$cr, take_ms:$ct},
	 template:{cpu_s:$tc, wall_ms:$tw, save_ms:$sv, state_file_bytes:$sb},
	 restore:{cpu_s:$rc, wall_ms:$rw, rss_kib:$rr, take_ms:$rt,
	          loaded:{cpu_s:$lc, wall_ms:$lw, rss_kib:$lr}, address_to_http_ms:$aw},
	 migration_capabilities:$caps}')"
