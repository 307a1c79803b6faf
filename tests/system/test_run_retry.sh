#!/usr/bin/env bash
# Retrying a run with its Idempotency-Key (Firecracker fake):
#   - a run whose outcome was unknown (503 "retry with the same
#     Idempotency-Key": pool-worker killed while the run waited for its tap)
#     and that never had a VMM, retried with its key: a new VM runs (201);
#     the old row failed, gave its key up, and says it was retried; a second
#     retry replays the new VM (200, same id);
#   - a run whose VM ran and then failed, retried with its key: answered as
#     the failure (500, the VM's error), not as a success, and no new VM.
ST_DRIVER=firecracker
ST_NEED_GUEST=0
. "$(dirname "$0")/lib.sh"

st_fc_fake

ST_NETWORK_EXTRA="  tap_stock: 0" # a stopped netd keeps a run in creating
st_start
key=retry-$$

# ---- the outcome unknown, no VMM: the retry runs anew
netd=$(st_daemon_pid netd) pw=$(st_daemon_pid pool-worker)
kill -STOP "$netd"
(
	api POST /vm/run '{"image":"fc"}' -H "Idempotency-Key: $key"
	printf '%s\n%s\n' "$API_STATUS" "$API_BODY" >"$ST_DIR/first.out"
) &
bg=$!
old=
for _ in $(seq 100); do
	old=$(sql "select id from vms where idempotency_key = '$key' and state = 'creating'")
	[ -n "$old" ] && break
	sleep 0.02
done
[ -n "$old" ] || { kill -CONT "$netd"; st_fail "no run in creating while netd was stopped"; }
kill -KILL "$pw"
wait "$bg"
kill -CONT "$netd"
[ "$(head -n1 "$ST_DIR/first.out")" = 503 ] || st_fail "first attempt: $(cat "$ST_DIR/first.out")"
grep -q "Idempotency-Key" "$ST_DIR/first.out" || st_fail "first attempt: $(cat "$ST_DIR/first.out")"
for _ in $(seq 100); do
	[ "$(sql "select state from vms where id = '$old'")" = failed ] && break
	sleep 0.1
done
[ "$(sql "select state from vms where id = '$old'")" = failed ] ||
	st_fail "the interrupted run: $(sql "select state, error from vms where id = '$old'")"
for _ in $(seq 100); do
	api GET /healthz
	[ "$(json '.daemons["pool-worker"]')" = up ] && [ "$(json .daemons.netd)" = up ] && break
	sleep 0.1
done

api POST /vm/run '{"image":"fc"}' -H "Idempotency-Key: $key"
st_expect 201 "retry of a run that never had a VMM"
new=$(json .id)
[ "$(json .state)" = running ] || st_fail "retry: $API_BODY"
[ "$new" != "$old" ] || st_fail "the retry answered the failed VM $old"
[ "$(sql "select coalesce(idempotency_key, '-') from vms where id = '$old'")" = - ] ||
	st_fail "the failed VM kept the key"
[ "$(sql "select detail from events where vm_id = '$old' and kind = 'retried'")" = "as $new" ] ||
	st_fail "events of $old: $(sql "select kind, detail from events where vm_id = '$old'")"
api POST /vm/run '{"image":"fc"}' -H "Idempotency-Key: $key"
st_expect 200 "second retry"
[ "$(json .id)" = "$new" ] || st_fail "second retry: $API_BODY"

# ---- it ran, then failed: the retry is answered as the failure
key2=ran-$$
api POST /vm/run '{"image":"fc"}' -H "Idempotency-Key: $key2"
st_expect 201 "run"
vm=$(json .id)
kill -KILL "$(sql "select vmm_pid from vms where id = '$vm'")"
st_wait_vm "$vm" failed # its VMM was killed
rows=$(sql "select count(*) from vms")
api POST /vm/run '{"image":"fc"}' -H "Idempotency-Key: $key2"
st_expect 500 "retry of a run whose VM failed"
grep -q "ran and failed" <<<"$(json .error.message)" || st_fail "message: $API_BODY"
grep -q "$vm" <<<"$(json .error.message)" || st_fail "message does not name the VM: $API_BODY"
[ "$(sql "select count(*) from vms")" = "$rows" ] || st_fail "the retry made a VM"

api POST "/vm/$new/stop"
st_expect 200 "stop"
[ "$(sql "select count(*) from vms where state not in ('stopped','failed')")" = 0 ] ||
	st_fail "live rows: $(sql "select id, state from vms")"
st_pass
