#!/usr/bin/env bash
# kill -9 of pool-worker with jailed Firecrackers (the fakes: the static
# Firecracker fake, the jailer fake; pool.boot: snapshot, pool.size 1). A
# jailed Firecracker's command line names only its chroot's paths, so the
# orphan scan finds this instance's by their root (/proc/<pid>/root under
# <chroot_base>/firecracker/):
#   - a template still waiting for its guest's banner (no
#     FC_FAKE_GUEST_AGENT) when pool-worker dies: the new pool-worker kills
#     it ("killing orphaned VMM … jailed in …") and builds its own; that one
#     fails at the ready timeout and the slot boots ahead (jailed too); a
#     jail and a VMM directory no VM owns are removed at that restart;
#   - a run takes that slot; kill -9 again: the running VM's Firecracker is
#     re-adopted (same pid, still running), not called an orphan;
#   - with the agent: a slot restored from the template is adopted and
#     retired after kill -9 (warm slots are not kept), its jailed
#     Firecracker killed and its jail removed, and the pool refills;
#   - the stack stopped: no firecracker in our jails, no jail, no tap.
ST_DRIVER=firecracker
ST_NEED_GUEST=0
. "$(dirname "$0")/lib.sh"

st_fc_fake
. "$(dirname "$0")/snapshot_fc_lib.sh"
if ! jail_fakes; then
	echo "skip: $SFAKE / $JAILER not built (not under sanitizers)"
	exit 77
fi
# jailed ID: the pid of the Firecracker whose / is ID's jail root (the
# jailer's pivot_root makes /proc/PID/root read "/": compared by inode)
jailed() {
	local p want
	want=$(stat -c %d:%i "$JAILS/$1/root" 2>/dev/null) || return 1
	for p in $(pgrep -x firecracker); do
		[ "$(stat -Lc %d:%i "/proc/$p/root" 2>/dev/null)" = "$want" ] && { echo "$p"; return 0; }
	done
	return 1
}
# in_jails: every Firecracker in one of our jails
in_jails() {
	local d
	for d in "$JAILS"/*/; do [ -d "$d" ] && jailed "$(basename "$d")"; done
	return 0
}
# (a test cut short: lib.sh kills every process of its VMM user, jailed ones too)
gone() { for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done; return 1; }

export FC_FAKE_CONSOLE_ON_START="APP-READY: listening"
ST_IMAGES_EXTRA="$ST_IMAGES_EXTRA
    ready_pattern: APP-READY"
jail_config 5000

# ---- a jailed template orphaned while it builds
st_start
for _ in $(seq 100); do tpid=$(jailed template) && break; sleep 0.1; done
[ -n "$tpid" ] || st_fail "no jailed template: $(tail -n 5 "$ST_LOG")"
api GET /pool
[ "$(json .template.state)" = building ] || st_fail "template not building: $API_BODY"
# what a VMM gone with a crash leaves: its directory and its jail, no row
mkdir -p "$JAILS/vm-leftover/root/run" "$ST_DIR/run/vms/vm-leftover"
: >"$JAILS/vm-leftover/root/run/firecracker.socket.calls.jsonl"
st_kill_daemon pool-worker
gone "$tpid" || st_fail "the orphaned jailed template $tpid runs on: $(ps -o pid,uid,etime,args -p "$tpid")"
wait_log 1 "killing orphaned VMM pid $tpid (jailed in $JAILS/template/root)" ||
	st_fail "the kill is not logged: $(grep orphan "$ST_LOG")"
[ ! -e "$JAILS/vm-leftover" ] && [ ! -e "$ST_DIR/run/vms/vm-leftover" ] ||
	st_fail "leftover directories stay: $(ls "$JAILS" "$ST_DIR/run/vms")"
wait_log 1 "recovery: removed [0-9]* leftover VMM director[a-z]* under $JAILS" ||
	st_fail "the sweep is not logged: $(grep recovery "$ST_LOG")"
pool_fallback
slot=$(sql "select id from vms where state = 'warm'")
spid=$(jailed "$slot") || st_fail "the ahead slot $slot is not jailed: $(in_jails)"
[ "$(in_jails)" = "$spid" ] || st_fail "more than the slot in our jails: $(in_jails | xargs ps -o pid,etime,args -p)"
st_log "a jailed template orphaned by kill -9: killed; slot $slot booted ahead"

# ---- a run takes the slot; kill -9 again: the running VM is re-adopted,
# its jailed Firecracker spared
api POST /vm/run '{"image":"fc","wait":"ready"}'
st_expect 201 "run on the jailed ahead slot"
[ "$(json .id)" = "$slot" ] || st_fail "the run did not take slot $slot: $API_BODY"
st_kill_daemon pool-worker
wait_log 1 "$slot: adopted firecracker pid $spid (running)" ||
	st_fail "VM $slot not adopted: $(grep "$slot" "$ST_LOG" | tail -n 3)"
st_wait_vm "$slot" running
kill -0 "$spid" 2>/dev/null || st_fail "the adopted VM's Firecracker $spid was killed"
grep -q "killing orphaned VMM pid $spid" "$ST_LOG" && st_fail "the adopted VM was called an orphan"
api POST "/vm/$slot/stop"
st_expect 200 "stop of $slot"
gone "$spid" || st_fail "stopped, but its Firecracker $spid runs on"
st_log "a run on it, kill -9 again: VM $slot re-adopted running (pid $spid), then stopped"
stop_stack

# ---- a restored jailed slot: retired after kill -9, its Firecracker killed
export FC_FAKE_GUEST_AGENT=1
st_start
pool_ready 1
slot=$(sql "select id from vms where state = 'warm'")
spid=$(jailed "$slot") || st_fail "the restored slot $slot is not jailed"
st_kill_daemon pool-worker
gone "$spid" || st_fail "the retired slot's jailed Firecracker $spid runs on"
wait_log 1 "$slot: adopted firecracker pid $spid (warm)" ||
	st_fail "slot $slot not adopted to be retired: $(grep "$slot" "$ST_LOG" | tail -n 3)"
pool_ready 1 # refilled
[ "$(sql "select state from vms where id = '$slot'")" != warm ] || st_fail "slot $slot re-adopted"
for _ in $(seq 50); do [ ! -e "$JAILS/$slot" ] && break; sleep 0.1; done
[ ! -e "$JAILS/$slot" ] || st_fail "the retired slot's jail is left: $(ls -la "$JAILS/$slot")"
st_log "a restored jailed slot after kill -9: retired, its Firecracker killed, refilled"
stop_stack

for _ in $(seq 50); do [ -z "$(in_jails)" ] && break; sleep 0.1; done
[ -z "$(in_jails)" ] || st_fail "firecracker left in our jails: $(in_jails)"
for _ in $(seq 50); do [ -z "$(ls -A "$JAILS" 2>/dev/null)" ] && break; sleep 0.1; done
[ -z "$(ls -A "$JAILS" 2>/dev/null)" ] || st_fail "jails left: $(ls "$JAILS")"
! tmpl_taps || st_fail "the template's tap is left"
[ -z "$(st_unowned_taps | tr -d ' ')" ] || st_fail "taps left: $(st_unowned_taps)"
st_pass
