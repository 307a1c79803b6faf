#!/usr/bin/env bash
# pool.boot: ahead with the Firecracker fake (its stdout is the guest's
# console; FC_FAKE_CONSOLE_ON_START is the guest saying it is ready):
#   - a slot is configured, started (InstanceStart), watched until its
#     image's ready pattern shows, then paused (PATCH /vm Paused): only then
#     is it counted ready in GET /pool;
#   - a run takes it with one call, PATCH /vm Resumed: the VM keeps the
#     slot's id and address, and is ready at once (ready_at set, "wait":
#     "ready" answered without waiting);
#   - slots whose guest never gets ready are retired with the reason,
#     counted in refill_errors, never handed out (a run is cold);
#   - everything stops clean.
ST_DRIVER=firecracker
ST_NEED_GUEST=0
. "$(dirname "$0")/lib.sh"

st_fc_fake
calls() { jq -c 'select(.method) | [.method, .path, .status]' "$1"; }
calllog() { echo "$ST_DIR/calls/$1.calls.jsonl"; }

export FC_FAKE_CONSOLE_ON_START="APP-READY: listening"
ST_VMM_EXTRA="$ST_VMM_EXTRA
pool:
  size: 2
  warm_image: fc
  boot: ahead"
ST_IMAGES_EXTRA="$ST_IMAGES_EXTRA
    ready_pattern: APP-READY"
st_write_config
sed -i 's/^limits:$/limits:\n  ready_timeout_ms: 1500/' "$ST_CONF"
st_start

st_wait_pool 2
slot=$(sql "select id from vms where state = 'warm' order by created_at limit 1")
want='["PUT","/machine-config",204]
["PUT","/network-interfaces/eth0",204]
["PUT","/boot-source",204]
["PUT","/actions",204]
["PATCH","/vm",204]'
[ "$(calls "$(calllog "$slot")")" = "$want" ] || st_fail "slot calls:
$(calls "$(calllog "$slot")")"
jq -e 'select(.method == "PATCH") | .body.state == "Paused"' "$(calllog "$slot")" >/dev/null ||
	st_fail "the slot was not paused: $(cat "$(calllog "$slot")")"
grep -q "APP-READY" "$(sql "select console_log from vms where id = '$slot'")" ||
	st_fail "the slot's console has no ready line"

api GET /pool; hits=$(json .hits)
api POST /vm/run '{"image":"fc","wait":"ready"}'
st_expect 201 "run on a pre-booted slot"
id=$(json .id)
api GET /pool
[ "$(json .hits)" = $((hits + 1)) ] || st_fail "not a pool hit: $API_BODY"
grep -q "\"$id\"" <<<"$(sql "select '\"' || id || '\"' from vms where id = '$id'")" || st_fail "no row"
[ "$(calls "$(calllog "$id")" | tail -n1)" = '["PATCH","/vm",204]' ] ||
	st_fail "run calls: $(calls "$(calllog "$id")")"
[ "$(jq -c 'select(.method == "PATCH") | .body.state' "$(calllog "$id")" | tail -n1)" = '"Resumed"' ] ||
	st_fail "the run did not resume the slot: $(cat "$(calllog "$id")")"
api GET "/vm/$id"
[ "$(json .state)" = running ] && [ "$(json .ready_at)" != null ] || st_fail "VM: $API_BODY"
api POST "/vm/$id/stop"
st_expect 200 "stop of the resumed VM"
st_wait_pool 2
st_log "pre-booted slot taken and resumed: $id"

# Guests that never get ready: slots retired with the reason, never handed out.
kill -TERM "$ST_PID"; wait "$ST_PID" 2>/dev/null || true
unset FC_FAKE_CONSOLE_ON_START
st_start
for _ in $(seq 100); do
	api GET /pool
	[ "$(json .refill_errors)" -ge 1 ] 2>/dev/null && break
	sleep 0.1
done
[ "$(json .refill_errors)" -ge 1 ] 2>/dev/null || st_fail "no refill error counted: $API_BODY"
[ "$(json .ready)" = 0 ] || st_fail "an unready slot counted ready: $API_BODY"
grep -q "not ready within 1500 ms" "$ST_LOG" || st_fail "the reason is not logged"
api POST /vm/run '{"image":"fc"}'
st_expect 201 "a cold run while no slot is ready"
id=$(json .id)
[ "$(calls "$(calllog "$id")" | head -n1)" = '["PUT","/machine-config",204]' ] ||
	st_fail "not a cold start: $(calls "$(calllog "$id")")"
api POST "/vm/$id/stop"
st_expect 200 "stop"
st_pass
