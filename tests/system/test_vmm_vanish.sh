#!/usr/bin/env bash
# The VMM binary vanishes while the manager runs (issue 9, item 5/6): a run
# is a server-side fault — 503 with the reason, never 404 not_found —
# /healthz says so (503), and after a kill -9 of pool-worker the manager
# keeps running: the new pool-worker serves (exit 100 is only for faults
# there at first start), re-adopts the running VM, which stays stoppable.
# Once the binary is back, /healthz is ok and runs work again.
ST_DRIVER=firecracker
ST_NEED_GUEST=0
. "$(dirname "$0")/lib.sh"

st_fc_fake

# The binary the manager runs is a copy we can take away and put back.
mkdir -p "$ST_DIR/bin"
VMM=$ST_DIR/bin/firecracker
cp "$FAKE" "$VMM"
# A copy away from the repo: tell it where the contract is.
export FC_FAKE_CONTRACT=$ROOT/../shared/reference/firecracker-api-v1.16.1.yaml
ST_VMM_EXTRA="  firecracker: $VMM"
st_start

api POST /vm/run '{"image":"fc"}'
st_expect 201 "run with the binary there"
a=$(json .id) a_tap=$(json .tap)
a_pid=$(sql "select vmm_pid from vms where id = '$a'")
st_log "VM $a running (pid $a_pid)"

mv "$VMM" "$VMM.gone"

# A run now: the server's fault, with the reason.
api POST /vm/run '{"image":"fc"}'
[ "$API_STATUS" != 404 ] || st_fail "missing VMM binary answered 404: $API_BODY"
st_expect 503 "run with the VMM binary missing"
[ "$(json .error.code)" = unavailable ] || st_fail "error code: $API_BODY"
grep -q "$VMM" <<<"$(json .error.message)" || st_fail "message does not name the binary: $API_BODY"
st_log "run refused: $(json .error.message)"
[ "$(sql "select count(*) from leases")" = 1 ] || st_fail "the refused run left a lease"

# /healthz tells the truth: runs cannot be served.
for _ in $(seq 50); do
	api GET /healthz
	[ "$API_STATUS" = 503 ] && break
	sleep 0.2
done
st_expect 503 "/healthz with the VMM binary missing"
[ "$(json .status)" != ok ] || st_fail "/healthz says ok: $API_BODY"
grep -q "$VMM" <<<"$API_BODY" || st_fail "/healthz does not say why: $API_BODY"
st_log "/healthz: $API_BODY"

# pool-worker crashes while the binary is missing: the manager stays.
pw=$(st_daemon_pid pool-worker)
kill -KILL "$pw"
new=
for _ in $(seq 150); do
	kill -0 "$ST_PID" 2>/dev/null || st_fail "the manager stopped after a pool-worker crash"
	new=$(st_daemon_pid pool-worker || true)
	api GET /healthz
	if [ -n "$new" ] && [ "$new" != "$pw" ] &&
	   [ "$(json '.daemons["pool-worker"]')" = up ]; then
		break
	fi
	sleep 0.2
done
[ "$(json '.daemons["pool-worker"]')" = up ] ||
	st_fail "pool-worker did not come back with the binary missing: $API_BODY"
grep -q "failed permanently" "$ST_LOG" && st_fail "a missing binary at run time was treated as permanent"
st_expect 503 "/healthz after the restart, binary still missing"
st_log "pool-worker $pw -> $new, manager still running"

api GET "/vm/$a"
st_expect 200 "GET the running VM"
[ "$(json .state)" = running ] || st_fail "VM $a not re-adopted: $API_BODY"
api POST /vm/run '{"image":"fc"}'
st_expect 503 "run after the restart, binary still missing"
grep -q "$VMM" <<<"$(json .error.message)" || st_fail "message: $API_BODY"

api POST "/vm/$a/stop"
st_expect 200 "stop of the re-adopted VM"
[ "$(json .state)" = stopped ] || st_fail "stop: $API_BODY"
! st_pid_alive "$a_pid" || st_fail "VMM $a_pid still alive after stop"
st_tap_released "$a_tap" || st_fail "tap $a_tap not released"

# The binary is back: healthy again, runs work.
mv "$VMM.gone" "$VMM"
for _ in $(seq 50); do
	api GET /healthz
	[ "$API_STATUS" = 200 ] && break
	sleep 0.2
done
st_expect 200 "/healthz with the binary back"
[ "$(json .status)" = ok ] || st_fail "/healthz: $API_BODY"
api POST /vm/run '{"image":"fc"}'
st_expect 201 "run with the binary back"
b=$(json .id)
api POST "/vm/$b/stop"
st_expect 200 "stop $b"
[ "$(sql "select count(*) from leases")" = 0 ] || st_fail "leases left: $(sql 'select * from leases')"
kill -0 "$ST_PID" || st_fail "manager gone"
st_pass
