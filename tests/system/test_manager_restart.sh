#!/usr/bin/env bash
# Whole-manager restarts with a real guest: SIGTERM leaves the VM running and
# the next uigniterd re-adopts it; so does kill -9 of uigniterd and all its
# daemons at once; with shutdown_policy: stop, SIGTERM stops the VMs first.
. "$(dirname "$0")/lib.sh"

manager_down() { # SIGTERM (or $1) uigniterd and wait for it
	local sig=${1:-TERM} kids
	kids=$(pgrep -P "$ST_PID" -x 'netd|pool-worker|apid' | tr '\n' ' ')
	if [ "$sig" = KILL ]; then kill -KILL "$ST_PID" $kids; else kill -"$sig" "$ST_PID"; fi
	for _ in $(seq 300); do kill -0 "$ST_PID" 2>/dev/null || break; sleep 0.1; done
	kill -0 "$ST_PID" 2>/dev/null && st_fail "uigniterd did not exit on SIG$sig"
	wait "$ST_PID" 2>/dev/null || true
	ST_PID=
}

st_start
api POST /vm/run '{"image":"hello"}'
st_expect 201 "run"
id=$(json .id) ip=$(json .ip) pid=$(json .pid)
[ "$(st_guest_http "$ip")" = "hello from $id" ] || st_fail "guest never answered"

manager_down TERM
kill -0 "$pid" 2>/dev/null || st_fail "SIGTERM of the manager killed the VM (policy leave)"
[ "$(st_guest_http "$ip")" = "hello from $id" ] || st_fail "guest stopped answering while the manager was down"
st_log "manager stopped; VM $id (qemu $pid) still running"
st_start
api GET "/vm/$id"
st_expect 200 "get after restart"
[ "$(json .state)" = running ] && [ "$(json .pid)" = "$pid" ] || st_fail "not re-adopted: $API_BODY"
[ "$(st_sql "select count(*) from events where vm_id = '$id' and kind = 'adopt'")" -ge 1 ] || st_fail "no adopt event"

manager_down KILL
kill -0 "$pid" 2>/dev/null || st_fail "kill -9 of the manager killed the VM"
st_log "manager and daemons kill -9'd; VM still running"
st_start
api GET "/vm/$id"
[ "$(json .state)" = running ] && [ "$(json .pid)" = "$pid" ] || st_fail "not re-adopted after kill -9: $API_BODY"
[ "$(st_guest_http "$ip")" = "hello from $id" ] || st_fail "guest stopped answering"
api POST "/vm/$id/stop"
st_expect 200 "stop of a re-adopted VM"
[ "$(json .state)" = stopped ] || st_fail "state after stop: $API_BODY"
st_pid_alive "$pid" && st_fail "qemu $pid alive after stop"

# shutdown_policy: stop — SIGTERM stops the VMs before the manager exits.
sed -i 's/^log_level:/shutdown_policy: stop\nlog_level:/' "$ST_CONF"
manager_down TERM
st_start
api POST /vm/run '{"image":"hello"}'
st_expect 201 "run (policy stop)"
id2=$(json .id) pid2=$(json .pid)
st_guest_http "$(json .ip)" >/dev/null || st_fail "guest 2 never answered"
manager_down TERM
st_pid_alive "$pid2" && st_fail "policy stop: qemu $pid2 still alive after the manager stopped"
[ "$(st_sql "select state from vms where id = '$id2'")" = stopped ] ||
	st_fail "policy stop: row says $(st_sql "select state,error from vms where id = '$id2'")"
[ "$(st_sql 'select count(*) from leases')" = 0 ] || st_fail "policy stop: leases left"
[ -z "$(st_unowned_taps | tr -d ' ')" ] || st_fail "policy stop: taps left: $(st_unowned_taps)"
st_pass
