#!/usr/bin/env bash
# Firecracker driver across a pool-worker crash: kill -9 pool-worker while a
# Firecracker VM runs; the restarted pool-worker adopts the VMM (pidfd +
# start time, then GET / on its API socket), and a stop afterwards still
# powers it off through the API and releases tap, lease and socket.
ST_DRIVER=firecracker
ST_NEED_GUEST=0
. "$(dirname "$0")/lib.sh"

FAKE=$ROOT/$BUILD/tests/fakes/firecracker
[ -x "$FAKE" ] || { echo "skip: $FAKE not built (make unit-tests)"; exit 77; }
sql() { sqlite3 -cmd '.timeout 5000' "$ST_DB" "$1"; }
calls() { jq -c 'select(.method) | [.method, .path, .status]' "$1"; }

: >"$ST_DIR/vmlinux"
ST_VMM_EXTRA="  firecracker: $FAKE"
ST_IMAGES_EXTRA="  fc:
    kernel: $ST_DIR/vmlinux"
st_start

api POST /vm/run '{"image":"fc"}'
st_expect 201 "run"
id=$(json .id) tap=$(json .tap)
sock=$ST_DIR/run/vms/$id/sock
pid=$(sql "select vmm_pid from vms where id = '$id'")

st_kill_daemon pool-worker
for _ in $(seq 50); do
	[ "$(calls "$ST_DIR/calls/$id.calls.jsonl" | tail -n1)" = '["GET","/",200]' ] && break
	sleep 0.1
done
[ "$(calls "$ST_DIR/calls/$id.calls.jsonl" | tail -n1)" = '["GET","/",200]' ] ||
	st_fail "the new pool-worker did not ask the adopted VMM: $(calls "$ST_DIR/calls/$id.calls.jsonl")"
[ "$(sql "select count(*) from events where vm_id = '$id' and kind = 'adopt'")" = 1 ] ||
	st_fail "no adopt event"
kill -0 "$pid" || st_fail "the VMM died with pool-worker"

api POST "/vm/$id/stop"
st_expect 200 "stop after adoption"
[ "$(json .state)" = stopped ] || st_fail "state: $API_BODY"
[ "$(sql "select count(*) from events where vm_id = '$id' and kind = 'kill'")" = 0 ] ||
	st_fail "the adopted VMM was killed, not powered off"
[ "$(calls "$ST_DIR/calls/$id.calls.jsonl" | tail -n1)" = '["PUT","/actions",204]' ] ||
	st_fail "last call: $(calls "$ST_DIR/calls/$id.calls.jsonl" | tail -n1)"
! kill -0 "$pid" 2>/dev/null || st_fail "VMM pid $pid still alive"
st_tap_released "$tap" || st_fail "tap $tap left"
[ "$(sql "select count(*) from leases")" = 0 ] || st_fail "lease left"
[ ! -e "$sock" ] || st_fail "API socket left"
st_pass
