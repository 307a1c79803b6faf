#!/usr/bin/env bash
# Firecracker driver, a VMM that dies by itself while the VM runs (the fake
# with FC_FAKE_EXIT_AFTER_START_MS: exit status 1 shortly after
# InstanceStart): the row becomes `failed` with the exit status and an
# error saying so; tap, lease and API socket are released.
ST_DRIVER=firecracker
ST_NEED_GUEST=0
. "$(dirname "$0")/lib.sh"

FAKE=$ROOT/$BUILD/tests/fakes/firecracker
[ -x "$FAKE" ] || { echo "skip: $FAKE not built (make unit-tests)"; exit 77; }
sql() { sqlite3 -cmd '.timeout 5000' "$ST_DB" "$1"; }

: >"$ST_DIR/vmlinux"
ST_VMM_EXTRA="  firecracker: $FAKE"
ST_IMAGES_EXTRA="  fc:
    kernel: $ST_DIR/vmlinux"
export FC_FAKE_EXIT_AFTER_START_MS=1000 # inherited by every fake VMM
st_start

api POST /vm/run '{"image":"fc"}'
st_expect 201 "run"
[ "$(json .state)" = running ] || st_fail "state $(json .state)"
id=$(json .id) tap=$(json .tap)
sock=$ST_DIR/run/vms/$id/sock
pid=$(sql "select vmm_pid from vms where id = '$id'")

st_wait_vm "$id" failed # its VMM died by itself
[ "$(json .exit_status)" = 1 ] || st_fail "exit_status $(json .exit_status): $API_BODY"
grep -q "exited with status 1" <<<"$(json .error)" || st_fail "error: $(json .error)"
[ "$(sql "select detail from events where vm_id = '$id' and kind = 'exit'")" = "status 1" ] ||
	st_fail "events: $(sql "select kind, detail from events where vm_id = '$id'")"
[ "$(sql "select count(*) from events where vm_id = '$id' and kind = 'kill'")" = 0 ] ||
	st_fail "the engine killed a VMM that had exited by itself"
! kill -0 "$pid" 2>/dev/null || st_fail "VMM pid $pid still alive"
st_tap_released "$tap" || st_fail "tap $tap left"
[ "$(sql "select count(*) from leases")" = 0 ] || st_fail "lease left"
[ ! -e "$sock" ] || st_fail "API socket left"
st_log "failed: $(json .error)"
st_pass
