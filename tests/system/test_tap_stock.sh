#!/usr/bin/env bash
# netd's stock of ready taps, as an operator sees it (Firecracker fake: no
# guest needed):
#   - at start netd makes network.tap_stock spare taps: a `taps` row each
#     ('ready', no lease) and a device on the bridge, up;
#   - a run takes the lowest spare (its tap existed before the run: no
#     kernel work on its path), a stop gives it back: still a device, no
#     lease;
#   - SIGHUP with a bigger tap_stock: more spares; with tap_stock 0: every
#     spare is deleted, device and row, in the background.
ST_DRIVER=firecracker
ST_NEED_GUEST=0
ST_NETWORK_EXTRA="  tap_stock: 3"
. "$(dirname "$0")/lib.sh"

FAKE=$ROOT/$BUILD/tests/fakes/firecracker
[ -x "$FAKE" ] || { echo "skip: $FAKE not built (make unit-tests)"; exit 77; }
sql() { sqlite3 -cmd '.timeout 5000' "$ST_DB" "$1"; }
spares() { sql "select name from taps where state = 'ready' and ip not in (select ip from leases) order by name"; }
# wait_spares N: until N spare rows, each a device on the bridge and up.
wait_spares() {
	local n=$1 on
	for _ in $(seq 100); do
		if [ "$(spares | wc -l)" = "$n" ]; then
			# admin up (the UP flag; the state is DOWN: no VMM, no carrier)
			on=$(ip -n "$ST_NS" -br link show master uigt0 | awk '$4 ~ /[<,]UP[,>]/ {sub(/@.*/, "", $1); print $1}')
			local ok=1 t
			for t in $(spares); do grep -qx "$t" <<<"$on" || ok=0; done
			[ $ok = 1 ] && return 0
		fi
		sleep 0.1
	done
	st_fail "expected $n spare taps on the bridge, got: $(spares | tr '\n' ' ') ($(ip -n "$ST_NS" -br link | tr '\n' ' '))"
}

: >"$ST_DIR/vmlinux"
ST_VMM_EXTRA="  firecracker: $FAKE"
ST_IMAGES_EXTRA="  fc:
    kernel: $ST_DIR/vmlinux"
st_start

wait_spares 3
[ "$(spares | tr '\n' ' ')" = "uit-2 uit-3 uit-4 " ] || st_fail "spares at the lowest addresses: $(spares)"
st_log "start: spares $(spares | tr '\n' ' ')"

api POST /vm/run '{"image":"fc"}'
st_expect 201 "run"
id=$(json .id) tap=$(json .tap)
[ "$tap" = uit-2 ] || st_fail "the run did not take the lowest spare: $tap"
[ "$(sql "select state from taps where name = '$tap'")" = ready ] || st_fail "tap row of the run"
api POST "/vm/$id/stop"
st_expect 200 "stop"
st_tap_released "$tap" || st_fail "tap $tap not released"
ip -n "$ST_NS" link show "$tap" >/dev/null 2>&1 || st_fail "the released tap was deleted, not kept"
st_log "run took $tap and gave it back"

sed -i 's/^  tap_stock: 3$/  tap_stock: 5/' "$ST_CONF"
kill -HUP "$ST_PID"
wait_spares 5
st_log "SIGHUP tap_stock 5: spares $(spares | tr '\n' ' ')"

sed -i 's/^  tap_stock: 5$/  tap_stock: 0/' "$ST_CONF"
kill -HUP "$ST_PID"
for _ in $(seq 100); do
	[ "$(sql 'select count(*) from taps')" = 0 ] &&
		[ "$(ip -n "$ST_NS" -br link | grep -c '^uit-' || true)" = 0 ] && break
	sleep 0.1
done
[ "$(sql 'select count(*) from taps')" = 0 ] || st_fail "tap rows left with tap_stock 0: $(sql 'select * from taps')"
[ "$(ip -n "$ST_NS" -br link | grep -c '^uit-' || true)" = 0 ] || st_fail "tap devices left with tap_stock 0"
grep -q "SIGHUP: network.tap_stock 5 -> 0" "$ST_LOG" || st_fail "netd did not say what it reloaded"
st_pass
