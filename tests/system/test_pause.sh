#!/usr/bin/env bash
# Pause and resume with real guests (QEMU, TCG; at most two at once: a VM
# and a pre-booted slot):
#   - pause → 200 "paused" and the guest stops answering HTTP; resume →
#     200 "running" and it answers again; 409s for the wrong states;
#   - kill -9 of pool-worker with the VM paused and a slot ready: the VM is
#     adopted paused (it still does not answer; resume brings it back), the
#     slot is reclaimed (killed, its row gone) and a new one boots;
#   - a slot's VMM killed while it waits paused is noticed and replaced;
#   - stop of a paused VM: resumed, then the power button (no kill):
#     stopped; nothing left (VMM, tap, lease, cgroup).
. "$(dirname "$0")/lib.sh"

ST_VMM_EXTRA="pool:
  size: 1
  warm_image: hello
  boot: ahead"
st_write_config
sed -i 's/^    mem_mib: 128$/    mem_mib: 128\n    ready_port: 80/' "$ST_CONF"
st_start
guest_answers() { ip netns exec "$ST_NS" curl -s --max-time "${2:-3}" "http://$1/" >/dev/null; }
wait_ready_slot() { # a pre-booted slot other than $1
	local s
	for _ in $(seq 600); do
		s=$(st_sql "select id from vms where state = 'warm' and id != '${1:-}'")
		api GET /pool
		[ -n "$s" ] && [ "$(json .ready)" = 1 ] && { echo "$s"; return 0; }
		sleep 0.2
	done
	return 1
}

wait_ready_slot >/dev/null || st_fail "no pre-booted slot: $API_BODY"
api POST /vm/run '{"image":"hello","wait":"ready"}'
st_expect 201 "run"
id=$(json .id) ip=$(json .ip) tap=$(json .tap)
pid=$(st_sql "select vmm_pid from vms where id = '$id'")
guest_answers "$ip" 5 || st_fail "the guest does not answer"

api POST "/vm/$id/pause"
st_expect 200 "pause"
[ "$(json .state)" = paused ] || st_fail "pause: $API_BODY"
! guest_answers "$ip" 2 || st_fail "a paused guest answered HTTP"
api POST "/vm/$id/pause"
st_expect 409 "pause of a paused VM"
[ "$(json .error.code)" = conflict ] || st_fail "409: $API_BODY"
api POST "/vm/$id/resume"
st_expect 200 "resume"
[ "$(json .state)" = running ] || st_fail "resume: $API_BODY"
guest_answers "$ip" 5 || st_fail "the resumed guest does not answer"
api POST "/vm/$id/resume"
st_expect 409 "resume of a running VM"
st_log "pause → no answer, resume → answers ($id)"

# kill -9 of pool-worker: a paused VM and a ready slot.
slot=$(wait_ready_slot "$id") || st_fail "no second slot: $API_BODY"
slot_pid=$(st_sql "select vmm_pid from vms where id = '$slot'")
api POST "/vm/$id/pause"
st_expect 200 "pause before the crash"
st_kill_daemon pool-worker
st_wait_vm "$id" paused
st_pid_alive "$pid" || st_fail "the paused VM's VMM died with pool-worker"
[ "$(st_sql "select count(*) from events where vm_id = '$id' and kind = 'adopt'")" = 1 ] ||
	st_fail "no adopt event"
! guest_answers "$ip" 2 || st_fail "the adopted paused guest answered"
for _ in $(seq 100); do st_pid_alive "$slot_pid" || break; sleep 0.1; done
! st_pid_alive "$slot_pid" || st_fail "the slot's VMM was not reclaimed"
[ "$(st_sql "select count(*) from vms where id = '$slot'")" = 0 ] || st_fail "slot row left"
api POST "/vm/$id/resume"
st_expect 200 "resume after the crash"
guest_answers "$ip" 5 || st_fail "the guest resumed after adoption does not answer"
st_log "adopted paused, slot $slot reclaimed"

# A ready slot whose VMM dies while it waits paused is replaced.
slot=$(wait_ready_slot) || st_fail "no slot after the restart: $API_BODY"
slot_pid=$(st_sql "select vmm_pid from vms where id = '$slot'")
kill -KILL "$slot_pid"
for _ in $(seq 100); do
	[ "$(st_sql "select count(*) from vms where id = '$slot'")" = 0 ] && break
	sleep 0.1
done
[ "$(st_sql "select count(*) from vms where id = '$slot'")" = 0 ] ||
	st_fail "the dead slot was not noticed"
wait_ready_slot "$slot" >/dev/null || st_fail "the dead slot was not replaced: $API_BODY"

# Stop of a paused VM: graceful, nothing left.
api POST "/vm/$id/pause"
st_expect 200 "pause before the stop"
api POST "/vm/$id/stop"
st_expect 200 "stop of a paused VM"
[ "$(json .state)" = stopped ] || st_fail "stop: $API_BODY"
[ "$(st_sql "select count(*) from events where vm_id = '$id' and kind = 'kill'")" = 0 ] ||
	st_fail "the paused VM was killed, not powered off"
for _ in $(seq 50); do st_pid_alive "$pid" || break; sleep 0.1; done
! st_pid_alive "$pid" || st_fail "VMM pid $pid still alive"
st_tap_released "$tap" || st_fail "tap $tap left"
[ "$(st_sql "select count(*) from leases where vm_id = '$id'")" = 0 ] || st_fail "lease left"
[ -z "$(st_cgroups_left | grep "$id" || true)" ] || st_fail "cgroup left"
api POST "/vm/$id/pause"
st_expect 409 "pause of a stopped VM"
grep -q "is stopped" <<<"$(json .error.message)" || st_fail "409: $API_BODY"
st_pass
