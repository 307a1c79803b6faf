#!/usr/bin/env bash
# Pause and resume with the Firecracker fake (it checks every body against
# the contract, VmState's enum included):
#   - POST /vm/{id}/pause → 200 "paused": PATCH /vm {"state":"Paused"} sent
#     and answered 204, the VMM's GET / says "Paused"; a second pause is
#     409 naming the state; resume → 200 "running" (PATCH Resumed, GET /
#     "Running"), started_at kept; a resume of a running VM is 409;
#   - kill -9 of pool-worker with the VM paused: it is adopted paused; the
#     row wins — the VMM resumed behind our back is paused again, and one
#     paused behind our back under a running row is resumed;
#   - stop of a paused VM: resumed, then Ctrl+Alt+Del (no kill): stopped,
#     nothing left; pause or resume of a stopped VM → 409; unknown → 404.
ST_DRIVER=firecracker
ST_NEED_GUEST=0
. "$(dirname "$0")/lib.sh"

st_fc_fake
calls() { jq -c 'select(.method) | [.method, .path, .status, .body.state]' "$1"; }
vmm_state() { # GET / on the VMM's own API socket
	curl -s --unix-socket "$1" http://localhost/ | jq -r .state
}
st_start

api POST /vm/run '{"image":"fc","name":"p1"}' -H 'Idempotency-Key: pause-k1'
st_expect 201 "run"
id=$(json .id) tap=$(json .tap) started=$(json .started_at)
sock=$ST_DIR/run/vms/$id/sock
pid=$(sql "select vmm_pid from vms where id = '$id'")

api POST /vm/p1/pause
st_expect 200 "pause (by name)"
[ "$(json .state)" = paused ] && [ "$(json .id)" = "$id" ] || st_fail "pause: $API_BODY"
[ "$(calls "$ST_DIR/calls/$id.calls.jsonl" | tail -n1)" = '["PATCH","/vm",204,"Paused"]' ] ||
	st_fail "pause calls: $(calls "$ST_DIR/calls/$id.calls.jsonl")"
[ "$(vmm_state "$sock")" = Paused ] || st_fail "the VMM is not paused"
api GET "/vm/$id"
[ "$(json .state)" = paused ] || st_fail "GET: $API_BODY"
api GET "/vm?state=paused"
[ "$(json '.vms | length')" = 1 ] && [ "$(json '.vms[0].id')" = "$id" ] ||
	st_fail "?state=paused: $API_BODY"
api GET /pool
[ "$(json .vms_paused)" = 1 ] && [ "$(json .vms_running)" = 0 ] || st_fail "pool: $API_BODY"
rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")
[ "$(json '.paused | length')" = 1 ] && [ "$(json '.paused[0].id')" = "$id" ] &&
	[ "$(json '.paused[0].kind')" = vm ] || st_fail "pool's paused list: $API_BODY"
[ "$(json .paused_rss_kib)" -gt 0 ] && [ "$(json .paused_rss_kib)" -le $((rss * 2)) ] ||
	st_fail "paused_rss_kib $(json .paused_rss_kib) vs VmRSS $rss"
api POST /vm/run '{"image":"fc","name":"p1"}' -H 'Idempotency-Key: pause-k1'
st_expect 200 "a replayed run of the paused VM (answered, not left waiting)"
[ "$(json .id)" = "$id" ] && [ "$(json .state)" = paused ] || st_fail "replay: $API_BODY"
api POST "/vm/$id/pause"
st_expect 409 "pause of a paused VM"
[ "$(json .error.code)" = conflict ] && grep -q "is paused" <<<"$(json .error.message)" ||
	st_fail "409 body: $API_BODY"

api POST "/vm/$id/resume"
st_expect 200 "resume"
[ "$(json .state)" = running ] || st_fail "resume: $API_BODY"
[ "$(json .started_at)" = "$started" ] || st_fail "started_at changed: $API_BODY"
[ "$(calls "$ST_DIR/calls/$id.calls.jsonl" | tail -n1)" = '["PATCH","/vm",204,"Resumed"]' ] ||
	st_fail "resume calls: $(calls "$ST_DIR/calls/$id.calls.jsonl")"
[ "$(vmm_state "$sock")" = Running ] || st_fail "the VMM is not running"
api POST "/vm/$id/resume"
st_expect 409 "resume of a running VM"
grep -q "is running" <<<"$(json .error.message)" || st_fail "409 body: $API_BODY"
kinds=$(sql "select group_concat(kind, ' ') from (select kind from events where vm_id = '$id'
	and kind in ('pause','paused','resume','resumed') order by seq)")
[ "$kinds" = "pause paused resume resumed" ] || st_fail "events: $kinds"

# kill -9 of pool-worker with the VM paused; behind its back the VMM is
# resumed: the row (paused) wins.
api POST "/vm/$id/pause"
st_expect 200 "pause again"
old=$(st_daemon_pid pool-worker)
kill -STOP "$old" # frozen: it cannot see the VMM resumed behind its back
curl -s --unix-socket "$sock" -X PATCH -H 'Content-Type: application/json' \
	-d '{"state":"Resumed"}' http://localhost/vm >/dev/null
[ "$(vmm_state "$sock")" = Running ] || st_fail "could not resume the VMM by hand"
kill -KILL "$old"
for _ in $(seq 100); do
	new=$(st_daemon_pid pool-worker || true)
	if [ -n "$new" ] && [ "$new" != "$old" ]; then
		api GET /healthz
		[ "$(json '.daemons["pool-worker"]')" = up ] && break
	fi
	sleep 0.1
done
[ "$(json '.daemons["pool-worker"]')" = up ] || st_fail "pool-worker did not come back"
for _ in $(seq 100); do
	[ "$(vmm_state "$sock")" = Paused ] && break
	sleep 0.1
done
[ "$(vmm_state "$sock")" = Paused ] || st_fail "the adopted VMM was not paused again"
st_wait_vm "$id" paused
[ "$(sql "select count(*) from events where vm_id = '$id' and kind = 'adopt'")" -ge 1 ] ||
	st_fail "no adopt event"
kill -0 "$pid" || st_fail "the VMM died with pool-worker"

# The other way: the row says running, the VMM was paused behind our back
# while pool-worker was down: resumed (the row wins).
api POST "/vm/$id/resume"
st_expect 200 "resume after the restart"
old=$(st_daemon_pid pool-worker)
kill -STOP "$old"
curl -s --unix-socket "$sock" -X PATCH -H 'Content-Type: application/json' \
	-d '{"state":"Paused"}' http://localhost/vm >/dev/null
[ "$(vmm_state "$sock")" = Paused ] || st_fail "could not pause the VMM by hand"
kill -KILL "$old"
for _ in $(seq 100); do
	[ "$(vmm_state "$sock")" = Running ] && break
	sleep 0.1
done
[ "$(vmm_state "$sock")" = Running ] || st_fail "the adopted VMM paused under a running row stayed paused"
st_wait_vm "$id" running
api POST "/vm/$id/pause"
st_expect 200 "pause before the stop"

api POST "/vm/$id/stop"
st_expect 200 "stop of a paused VM"
[ "$(json .state)" = stopped ] || st_fail "stop: $API_BODY"
last2=$(calls "$ST_DIR/calls/$id.calls.jsonl" | tail -n2 | tr '\n' ' ')
[ "$last2" = '["PATCH","/vm",204,"Resumed"] ["PUT","/actions",204,null] ' ] ||
	st_fail "stop of a paused VM did not resume it first: $last2"
[ "$(sql "select count(*) from events where vm_id = '$id' and kind = 'kill'")" = 0 ] ||
	st_fail "the paused VM was killed, not powered off"
for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
! kill -0 "$pid" 2>/dev/null || st_fail "VMM pid $pid still alive"
st_tap_released "$tap" || st_fail "tap $tap left"
[ "$(sql "select count(*) from leases")" = 0 ] || st_fail "lease left"

api POST "/vm/$id/pause"
st_expect 409 "pause of a stopped VM"
grep -q "is stopped" <<<"$(json .error.message)" || st_fail "409 body: $API_BODY"
api POST "/vm/$id/resume"
st_expect 409 "resume of a stopped VM"
api POST /vm/vm-nosuchvm/pause
st_expect 404 "pause of an unknown VM"
api GET /vm/x/pause
st_expect 405 "GET on the pause route"

# A VMM that does not answer the pause (frozen): the VM fails with the
# reason (its state is no longer known), the request is answered, the VMM
# killed, nothing left.
api POST /vm/run '{"image":"fc"}'
st_expect 201 "run of a second VM"
id2=$(json .id) tap2=$(json .tap)
pid2=$(sql "select vmm_pid from vms where id = '$id2'")
kill -STOP "$pid2"
api POST "/vm/$id2/pause"
[ "$API_STATUS" -ge 500 ] || st_fail "pause of a frozen VMM: HTTP $API_STATUS: $API_BODY"
st_wait_vm "$id2" failed
grep -q "PATCH /vm" <<<"$(json .error)" || st_fail "the failure does not say why: $API_BODY"
for _ in $(seq 50); do kill -0 "$pid2" 2>/dev/null || break; sleep 0.1; done
! kill -0 "$pid2" 2>/dev/null || st_fail "the frozen VMM was not killed"
st_tap_released "$tap2" || st_fail "tap $tap2 left"

# pool.max_mem_mib: slots booted ahead whose guests hold 64 MiB each; the
# cap leaves room for one: the pool stops there (size 3), and says so.
kill -TERM "$ST_PID"; wait "$ST_PID" 2>/dev/null || true
export FC_FAKE_CONSOLE_ON_START="APP-READY" FC_FAKE_ALLOC_MIB=64
ST_VMM_EXTRA="$ST_VMM_EXTRA
pool:
  size: 3
  warm_image: fc
  boot: ahead
  max_mem_mib: 100"
ST_IMAGES_EXTRA="$ST_IMAGES_EXTRA
    ready_pattern: APP-READY"
st_write_config
st_start
st_wait_pool 1
for _ in $(seq 50); do grep -q "would pass pool.max_mem_mib 100" "$ST_LOG" && break; sleep 0.1; done
grep -q "would pass pool.max_mem_mib 100" "$ST_LOG" || st_fail "the cap is not said"
sleep 2 # the tick measures every second: no second slot comes
api GET /pool
[ "$(json .ready)" = 1 ] || st_fail "the cap did not hold: $API_BODY"
[ "$(sql "select count(*) from vms where state in ('warming','warm')")" = 1 ] ||
	st_fail "more slots made: $(sql "select id, state from vms")"
[ "$(json .paused_rss_kib)" -ge $((64 * 1024)) ] && [ "$(json '.paused[0].kind')" = slot ] ||
	st_fail "the slot's memory is not shown: $API_BODY"
st_log "pool.max_mem_mib 100: 1 slot of $(json .paused_rss_kib) KiB"
st_pass
