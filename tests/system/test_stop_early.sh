#!/usr/bin/env bash
# A stop sent right after a run, while the guest is still booting, still ends
# in a graceful guest poweroff (the power button is pressed again until the
# guest's ACPI driver is there), not a SIGKILL: exit_status 0 and no "kill"
# event. Also a VM's JSON has nulls, not "", for values not set yet.
ST_STOP_TIMEOUT_MS=${ST_STOP_TIMEOUT_MS:-60000}
. "$(dirname "$0")/lib.sh"
st_start

api POST /vm/run '{"image":"hello"}'
st_expect 201 "run"
id=$(json .id)
[ "$(json .stopped_at)" = null ] || st_fail "stopped_at of a running VM: $(json .stopped_at)"
[ "$(json .exit_status)" = null ] || st_fail "exit_status of a running VM"
api POST "/vm/$id/stop"
st_expect 200 "stop"
[ "$(json .state)" = stopped ] || st_fail "state $(json .state): $API_BODY"
[ "$(json .exit_status)" = 0 ] || st_fail "exit_status $(json .exit_status), expected 0 (graceful): $API_BODY"
kills=$(st_sql "select count(*) from events where vm_id = '$id' and kind = 'kill'")
[ "$kills" = 0 ] || st_fail "the VM was killed, not powered off: $(st_sql "select kind,detail from events where vm_id = '$id'")"
grep -q "UIGNITER-SHUTDOWN $id" "$ST_DIR/state/vms/$id.console.log" ||
	st_fail "the guest did not log its shutdown"
st_log "events: $(st_sql "select kind from events where vm_id = '$id' order by seq" | tr '\n' ' ')"
st_pass
