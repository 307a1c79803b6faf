#!/usr/bin/env bash
# Firecracker driver, a guest that ignores Ctrl+Alt+Del (the fake with
# FC_FAKE_IGNORE_CTRL_ALT_DEL=1): stop sends SendCtrlAltDel (again each
# second, harmlessly), and after vmm.stop_timeout_ms the VMM is SIGKILLed —
# event "kill", exit_status 137, row stopped, tap, lease and API socket gone.
ST_DRIVER=firecracker
ST_NEED_GUEST=0
ST_STOP_TIMEOUT_MS=1500
. "$(dirname "$0")/lib.sh"

FAKE=$ROOT/$BUILD/tests/fakes/firecracker
[ -x "$FAKE" ] || { echo "skip: $FAKE not built (make unit-tests)"; exit 77; }
sql() { sqlite3 -cmd '.timeout 5000' "$ST_DB" "$1"; }

: >"$ST_DIR/vmlinux"
ST_VMM_EXTRA="  firecracker: $FAKE"
ST_IMAGES_EXTRA="  fc:
    kernel: $ST_DIR/vmlinux"
export FC_FAKE_IGNORE_CTRL_ALT_DEL=1 # inherited by every fake VMM
st_start

api POST /vm/run '{"image":"fc"}'
st_expect 201 "run"
id=$(json .id) tap=$(json .tap)
sock=$ST_DIR/run/vms/$id/sock
pid=$(sql "select vmm_pid from vms where id = '$id'")
kill -0 "$pid" || st_fail "VMM pid $pid not alive"

t0=$(date +%s%N)
api POST "/vm/$id/stop"
st_expect 200 "stop"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ "$(json .state)" = stopped ] || st_fail "state after stop: $API_BODY"
[ "$(json .exit_status)" = 137 ] || st_fail "exit_status $(json .exit_status), expected 137: $API_BODY"
[ "$ms" -ge 1400 ] || st_fail "killed after $ms ms, before stop_timeout_ms (1500)"
[ "$(sql "select detail from events where vm_id = '$id' and kind = 'kill'")" = "stop timeout" ] ||
	st_fail "events: $(sql "select kind, detail from events where vm_id = '$id'")"
presses=$(jq -c 'select(.method == "PUT" and .path == "/actions" and .body.action_type == "SendCtrlAltDel") | .status' \
	"$ST_DIR/calls/$id.calls.jsonl" | sort -u | tr '\n' ' ')
[ "$presses" = "204 " ] || st_fail "SendCtrlAltDel answers: '$presses'"
! kill -0 "$pid" 2>/dev/null || st_fail "VMM pid $pid still alive"
st_tap_released "$tap" || st_fail "tap $tap left"
[ "$(sql "select count(*) from leases")" = 0 ] || st_fail "lease left"
[ ! -e "$sock" ] || st_fail "API socket left"
st_log "stopped by SIGKILL after $ms ms ($(jq -c 'select(.body.action_type == "SendCtrlAltDel")' "$ST_DIR/calls/$id.calls.jsonl" | wc -l) SendCtrlAltDel)"
st_pass
