#!/usr/bin/env bash
# A full state_dir (a 16 MiB tmpfs of its own, filled up while VMs run),
# with the Firecracker fake:
#   - a run is refused (503, Retry-After, a message that says the disk is
#     full) and nothing runs that the registry does not hold: no row, no
#     VMM;
#   - a stop is refused the same way, and the VM keeps running, as its row
#     says;
#   - a VMM that dies meanwhile is recorded once there is room again;
#   - then runs and stops work, and nothing is lost or leaked.
ST_DRIVER=firecracker
ST_NEED_GUEST=0
. "$(dirname "$0")/lib.sh"

st_fc_fake

MNT=$ST_DIR/state
mkdir -p "$MNT"
mount -t tmpfs -o size=16m uigniter-test-full "$MNT" || st_fail "cannot mount a tmpfs"
full_cleanup() {
	local rc=$?
	set +e       # lib.sh's set -e would end the trap at the next failure
	(exit $rc)
	(st_cleanup) # kills the stack and its VMMs (from the registry), then
	rc=$?        # removes the test dir — all but the mount point
	umount "$MNT" 2>/dev/null
	rm -rf "$ST_DIR"
	exit $rc
}
trap full_cleanup EXIT

st_start

api POST /vm/run '{"image":"fc"}'
st_expect 201 "run with room"
a=$(json .id)
api POST /vm/run '{"image":"fc"}'
st_expect 201 "second run with room"
b=$(json .id) bpid=$(sql "select vmm_pid from vms where id = '$b'")
apid=$(sql "select vmm_pid from vms where id = '$a'")
rows=$(sql "select count(*) from vms")
vmms() { pgrep -f -- "--api-sock $ST_DIR/run/vms/" | sort | tr '\n' ' '; }
vmms_before=$(vmms)

# Fill it. sqlite may still have room in its WAL: runs are tried until the
# registry refuses one, and every run until then must have worked.
dd if=/dev/zero of="$MNT/fill" bs=64k status=none 2>/dev/null || true
ok=0 refused=
for i in $(seq 40); do
	api POST /vm/run '{"image":"fc"}' -D "$ST_DIR/headers"
	if [ "$API_STATUS" = 201 ]; then
		ok=$((ok + 1))
		api POST "/vm/$(json .id)/stop"
		continue
	fi
	refused=1
	break
done
[ -n "$refused" ] || st_fail "40 runs on a full state_dir all answered 201"
st_expect 503 "run on a full state_dir"
grep -qi "full" <<<"$(json .error.message)" || st_fail "message: $API_BODY"
grep -qi '^retry-after:' "$ST_DIR/headers" || st_fail "no Retry-After: $(cat "$ST_DIR/headers")"
st_log "refused after $ok run(s) that still fit: $(json .error.message)"
rows_full=$(sql "select count(*) from vms")
sleep 1
# Nothing runs that the registry does not hold.
for pid in $(pgrep -f -- "--api-sock $ST_DIR/run/vms/"); do
	grep -q "$pid" <<<"$(sql "select vmm_pid from vms where state not in ('stopped','failed')")" ||
		st_fail "VMM $pid runs without a live row: $(tr '\0' ' ' </proc/$pid/cmdline)"
done

api POST "/vm/$a/stop" "" -D "$ST_DIR/headers"
st_expect 503 "stop on a full state_dir"
grep -qi "full" <<<"$(json .error.message)" || st_fail "stop message: $API_BODY"
api GET "/vm/$a"
[ "$(json .state)" = running ] || st_fail "VM $a after a refused stop: $API_BODY"
st_pid_alive "$apid" || st_fail "VMM of $a gone after a refused stop"
kill -KILL "$bpid" # dies while nothing can be written
sleep 1
api GET /healthz # it says so
st_expect 503 "healthz on a full state_dir"
grep -q "cannot write the registry" <<<"$(json '.problems[]')" || st_fail "healthz: $API_BODY"
[ "$(json '.restarts | add')" = 0 ] || st_fail "daemons restarted: $API_BODY"

# Room again: what happened meanwhile is recorded; everything works.
rm -f "$MNT/fill"
st_wait_vm "$b" failed # its VMM died while full
api POST "/vm/$a/stop"
st_expect 200 "stop with room again"
[ "$(json .state)" = stopped ] || st_fail "stop answered $API_BODY"
api POST /vm/run '{"image":"fc"}'
st_expect 201 "run with room again"
c=$(json .id)
api POST "/vm/$c/stop"
st_expect 200 "stop of the run with room again"
[ "$(sql "select count(*) from vms where state not in ('stopped','failed')")" = 0 ] ||
	st_fail "live rows left: $(sql "select id, state from vms")"
# The refused run left no row: 2 + the runs that fit + 1.
[ "$(sql "select count(*) from vms")" = $((rows + ok + 1)) ] ||
	st_fail "rows: $(sql "select id, state, error from vms")"
for _ in $(seq 50); do
	[ "$(sql "select count(*) from leases")" = 0 ] && break
	sleep 0.1
done
[ "$(sql "select count(*) from leases")" = 0 ] || st_fail "leases left: $(sql "select * from leases")"
[ -z "$(st_unowned_taps)" ] || st_fail "taps unaccounted for: $(st_unowned_taps)"
for _ in $(seq 50); do [ -z "$(vmms)" ] && break; sleep 0.1; done
[ -z "$(vmms)" ] || st_fail "VMMs left: $(vmms) (before the fill: $vmms_before, rows when full: $rows_full)"
st_pass
