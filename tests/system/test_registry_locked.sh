#!/usr/bin/env bash
# A registry whose write lock another process holds (an admin tool's
# BEGIN IMMEDIATE left open for 20 s) while runs and stops come in, with the
# Firecracker fake and a warm pool of 2:
#   - the daemons' loops never block on the lock long enough for the
#     watchdog (no restart, no "no heartbeat" line); /healthz answers, 503
#     saying pool-worker cannot write the registry;
#   - a run (cold or on a warm slot) is refused with 503, Retry-After and a
#     message that says the registry is busy — no VM, no VMM, no lease;
#   - a stop is refused the same way, and the VM keeps running (row and
#     VMM), as the registry says;
#   - a VMM that exits meanwhile is recorded once the lock is released;
#   - after the release, runs and stops work and nothing is lost or leaked.
ST_DRIVER=firecracker
ST_NEED_GUEST=0
. "$(dirname "$0")/lib.sh"

st_fc_fake

ST_VMM_EXTRA="$ST_VMM_EXTRA
pool:
  size: 2
  warm_image: fc"
st_start

st_wait_pool 2

api POST /vm/run '{"image":"fc"}'
st_expect 201 "run before the lock"
a=$(json .id)
api POST /vm/run '{"image":"fc"}'
st_expect 201 "second run before the lock"
b=$(json .id) bpid=$(sql "select vmm_pid from vms where id = '$b'")
st_wait_pool 2
leases_before=$(sql "select count(*) from leases")
rows_before=$(sql "select count(*) from vms")

# The lock: a second connection in BEGIN IMMEDIATE, held 20 s.
/usr/bin/python3 - "$ST_DB" >"$ST_DIR/locker.out" 2>&1 <<'EOF' &
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
c.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(20)
c.execute("ROLLBACK")
print("released", flush=True)
EOF
locker=$!
for _ in $(seq 100); do grep -q locked "$ST_DIR/locker.out" && break; sleep 0.1; done
grep -q locked "$ST_DIR/locker.out" || st_fail "the locker did not get the lock: $(cat "$ST_DIR/locker.out")"

busy() { # busy WHAT: the answer is a 503 saying the registry is busy, with Retry-After
	st_expect 503 "$1 while the registry is locked"
	grep -qi "registry is busy" <<<"$(json .error.message)" || st_fail "$1: message: $API_BODY"
	grep -qi '^retry-after:' "$ST_DIR/headers" || st_fail "$1: no Retry-After: $(cat "$ST_DIR/headers")"
}
api POST /vm/run '{"image":"fc"}' -D "$ST_DIR/headers"
busy "run on a warm slot"
api POST /vm/run '{"image":"fc", "mem_mib": 96}' -D "$ST_DIR/headers"
busy "cold run"
api POST "/vm/$a/stop" "" -D "$ST_DIR/headers"
busy "stop"
api GET "/vm/$a"
[ "$(json .state)" = running ] || st_fail "VM $a after a refused stop: $API_BODY"
apid=$(sql "select vmm_pid from vms where id = '$a'" 2>/dev/null || true)
kill -KILL "$bpid" # a VMM that dies while the lock is held
# /healthz answers, and says so: a write of pool-worker's fails (the VMM's
# exit, retried every 250 ms; published with the 1 s heartbeat).
for _ in $(seq 50); do
	api GET /healthz
	[ "$API_STATUS" = 503 ] && break
	[ "$API_STATUS" = 200 ] || st_fail "healthz while the registry is locked: $API_STATUS $API_BODY"
	sleep 0.1
done
st_expect 503 "healthz while the registry is locked"
grep -q "cannot write the registry" <<<"$(json '.problems[]')" || st_fail "healthz: $API_BODY"

# Ten seconds of the lock: twice the heartbeat deadline.
for _ in $(seq 10); do
	api POST /vm/run '{"image":"fc"}'
	[ "$API_STATUS" = 503 ] || st_fail "run during the lock: HTTP $API_STATUS: $API_BODY"
	sleep 1
done
kill -0 "$locker" 2>/dev/null || st_fail "the locker ended early: $(cat "$ST_DIR/locker.out")"
grep -q 'no heartbeat for' "$ST_LOG" && st_fail "the watchdog killed a daemon during the lock"
api GET /healthz
[ "$(json '.restarts | add')" = 0 ] || st_fail "daemons restarted during the lock: $API_BODY"
wait "$locker" || st_fail "locker: $(cat "$ST_DIR/locker.out")"

# Released: what happened meanwhile is recorded, and everything works.
st_wait_vm "$b" failed # its VMM died during the lock
api GET "/vm/$a"
[ "$(json .state)" = running ] || st_fail "VM $a after the lock: $API_BODY"
api POST "/vm/$a/stop"
st_expect 200 "stop after the lock"
[ "$(json .state)" = stopped ] || st_fail "stop answered $API_BODY"
api POST /vm/run '{"image":"fc"}'
st_expect 201 "run after the lock"
c=$(json .id)
api POST "/vm/$c/stop"
st_expect 200 "stop of the run after the lock"
[ "$(sql "select count(*) from vms where state not in ('stopped','failed','warm','warming')")" = 0 ] ||
	st_fail "rows left: $(sql "select id, state from vms")"
# Refused runs made no row: the rows are the 2 runs, the run after, and slots.
[ "$(sql "select count(*) from vms where state in ('stopped','failed')")" = 3 ] ||
	st_fail "VM rows: $(sql "select id, state, error from vms")"
for _ in $(seq 50); do
	[ "$(sql "select count(*) from leases l join vms v on v.id = l.vm_id
		where v.state in ('stopped','failed')")" = 0 ] && break
	sleep 0.1
done
[ -z "$(st_unowned_taps)" ] || st_fail "taps unaccounted for: $(st_unowned_taps)"
for pid in $apid $bpid; do ! st_pid_alive "$pid" || st_fail "VMM $pid still alive"; done
st_log "rows before $rows_before, leases before $leases_before; after: $(sql "select state, count(*) from vms group by state" | tr '\n' ' ')"
st_pass
