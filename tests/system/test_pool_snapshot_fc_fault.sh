#!/usr/bin/env bash
# pool.boot: snapshot with the Firecracker driver when things fail (the
# contract fake; pool.size 1). First a guest without the agent (no
# FC_FAKE_GUEST_AGENT): while the template waits for its banner it runs as
# the VMM user in its own cgroup with a tap the user owns, and no slot is
# made; at the ready timeout the template fails with that reason, counted,
# its VMM and tap gone, and the slot boots ahead.
# Then with the agent (FC_FAKE_GUEST_AGENT=1): a slot is restored
# from the template; then the template's state file is damaged and a run
# takes the slot. The refill's /snapshot/load is refused, and after
# PW_SNAP_MAX_FAILS (2) failed slots in a row the template is failed:
# GET /pool says template.state "failed" with the reason, refill_errors
# counts the failures, both template files are removed, and the pool still
# fills — its slot booted ahead (machine-config … InstanceStart, no
# /snapshot/load). Nothing is left once the stack stops.
ST_DRIVER=firecracker
ST_NEED_GUEST=0
. "$(dirname "$0")/lib.sh"

st_fc_fake
. "$(dirname "$0")/snapshot_fc_lib.sh"

export FC_FAKE_CHECK_TAP=1
export FC_FAKE_CONSOLE_ON_START="APP-READY: listening"
ST_VMM_EXTRA="$ST_VMM_EXTRA
$SNAP_POOL"
ST_IMAGES_EXTRA="$ST_IMAGES_EXTRA
    ready_pattern: APP-READY"
st_write_config
sed -i 's/^limits:$/limits:\n  ready_timeout_ms: 4000/' "$ST_CONF"
TDIR=$ST_DIR/run/templates

# ---- a guest without the agent: the template never says it waits
st_start
for _ in $(seq 100); do # the template once it is the fake (not yet
	tpid=$(tmpl_pids || true) # uigniter-vmm-exec, still root a moment)
	[ -n "$tpid" ] && [ "$(cat "/proc/$tpid/comm" 2>/dev/null)" = firecracker ] && break
	sleep 0.1
done
[ -n "$tpid" ] || st_fail "no template VMM: $(tail -n 5 "$ST_LOG")"
api GET /pool
[ "$(json .template.state)" = building ] && [ "$(json .ready)" = 0 ] ||
	st_fail "while building: $API_BODY"
# spawned as a slot is: the VMM user, a cgroup of its own, a tap it owns
[ "$(stat -c %u "/proc/$tpid")" = "$(id -u "$ST_VMM_USER")" ] ||
	st_fail "template runs as uid $(stat -c %u "/proc/$tpid"), not $ST_VMM_USER's $(id -u "$ST_VMM_USER"): $(ps -o pid,uid,etime,args -p "$tpid")"
grep -q "uigniter-$(st_shm_hash)/template$" "/proc/$tpid/cgroup" ||
	st_fail "template not in its cgroup: $(cat "/proc/$tpid/cgroup")"
tap=$(tmpl_taps) || st_fail "no template tap"
[ "$(ip netns exec "$ST_NS" cat "/sys/class/net/$tap/owner")" = "$(id -u "$ST_VMM_USER")" ] ||
	st_fail "template tap $tap owner $(ip netns exec "$ST_NS" cat "/sys/class/net/$tap/owner")"
pool_fallback
[ "$(json .template.error)" = "template: no UIGNITER-TEMPLATE vsock:52 on its console within 4000 ms" ] ||
	st_fail "template.error: $API_BODY"
[ "$(json .refill_errors)" = 1 ] || st_fail "refill_errors: $API_BODY"
[ "$(calls "$(sql "select id from vms where state = 'warm'")" | head -n1)" = '["PUT","/machine-config",204]' ] ||
	st_fail "the slot was not booted ahead"
for _ in $(seq 50); do ! tmpl_taps >/dev/null && ! kill -0 "$tpid" 2>/dev/null && break; sleep 0.1; done
! tmpl_taps >/dev/null || st_fail "the failed template's tap is left: $(tmpl_taps)"
! kill -0 "$tpid" 2>/dev/null || st_fail "the failed template's VMM runs on"
[ "$(ls -A "$TDIR")" = fc.1x128.console.log ] || st_fail "a failed template left files: $(ls -la "$TDIR")"
grep -q "UIGNITER-TEMPLATE" "$TDIR/fc.1x128.console.log" && st_fail "a banner on the template's console"
st_log "a template without the agent: failed ($(json .template.error)), slots booted ahead"
stop_stack

# ---- a damaged template file
export FC_FAKE_GUEST_AGENT=1
sed -i 's/^  ready_timeout_ms: 4000$/  ready_timeout_ms: 10000/' "$ST_CONF"
st_start

for _ in $(seq 300); do
	api GET /pool
	[ "$(json .ready)" = 1 ] && [ "$(json .template.state)" = ready ] && break
	sleep 0.2
done
[ "$(json .template.state)" = ready ] && [ "$(json .ready)" = 1 ] ||
	st_fail "no slot restored from a template: $API_BODY"
[ "$(json .refill_errors)" = 0 ] || st_fail "refill errors before the damage: $API_BODY"
restored=$(sql "select id from vms where state = 'warm'")
[ "$(calls "$restored" | head -n1)" = '["PUT","/snapshot/load",204]' ] ||
	st_fail "slot $restored not restored: $(calls "$restored")"
echo "damaged" >"$TDIR/fc.1x128.state" # the state file cut short and overwritten

api POST /vm/run '{"image":"fc","wait":"ready"}'
st_expect 201 "run on the restored slot"
id=$(json .id)
[ "$id" = "$restored" ] || st_fail "the run did not take the slot: $API_BODY"

st_snap_restores_failed 300 0.2 # backoff 1 s, 2 s, then a slot booted ahead
[ ! -e "$TDIR/fc.1x128.state" ] && [ ! -e "$TDIR/fc.1x128.mem" ] ||
	st_fail "the damaged template's files are still there: $(ls -la "$TDIR")"
failed=$(jq -r 'select(.path == "/snapshot/load" and .status != 204) | input_filename' \
	"$ST_DIR"/calls/vm-*.calls.jsonl | sort -u | wc -l)
[ "$failed" -ge 2 ] || st_fail "$failed refused /snapshot/load in the call logs"
slot=$(sql "select id from vms where state = 'warm'")
want='["PUT","/machine-config",204]
["PUT","/network-interfaces/eth0",204]
["PUT","/boot-source",204]
["PUT","/actions",204]
["PATCH","/vm",204]'
[ "$(calls "$slot")" = "$want" ] || st_fail "slot $slot was not booted ahead: $(calls "$slot")"
wait_log 1 "template for fc failed: 2 slots in a row failed to restore" ||
	st_fail "the fallback is not logged"
st_log "template failed ($(json .template.error)); slot $slot booted ahead"

api POST "/vm/$id/stop"
st_expect 200 "stop of $id"
stop_stack
nothing_left # no firecracker, tap, lease, template file or VMM directory
st_pass
