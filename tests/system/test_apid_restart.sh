#!/usr/bin/env bash
# kill -9 apid while a VM runs: uigniterd restarts it, GET /vm answers again
# with the same VM, and the VM kept running (its guest still answers).
. "$(dirname "$0")/lib.sh"
st_start

api POST /vm/run '{"image":"hello"}'
st_expect 201 "run"
id=$(json .id) ip=$(json .ip)
st_guest_http "$ip" >/dev/null || st_fail "guest never answered"

old=$(st_daemon_pid apid)
[ -n "$old" ] || st_fail "no apid process"
kill -KILL "$old"
st_log "killed apid $old"
for _ in $(seq 100); do
	API_STATUS=
	api GET /vm 2>/dev/null || true
	[ "$API_STATUS" = 200 ] && break
	sleep 0.1
done
st_expect 200 "GET /vm after apid restart"
new=$(st_daemon_pid apid)
[ -n "$new" ] && [ "$new" != "$old" ] || st_fail "apid not restarted (old $old new $new)"
[ "$(jq -r --arg id "$id" '.vms[] | select(.id == $id) | .state' <<<"$API_BODY")" = running ] ||
	st_fail "VM $id not listed as running after restart: $API_BODY"
[ "$(st_guest_http "$ip")" = "hello from $id" ] || st_fail "guest stopped answering"
grep -q 'apid: .*killed by signal 9' "$ST_LOG" || st_fail "supervisor did not log the crash"

api POST "/vm/$id/stop"
st_expect 200 "stop after restart"
[ "$(json .state)" = stopped ] || st_fail "state after stop: $(json .state)"
st_pass
