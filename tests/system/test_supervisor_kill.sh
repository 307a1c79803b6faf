#!/usr/bin/env bash
# kill -9 of uigniterd alone (issue 9, item 1). Its daemons must die with it
# while the VMMs keep running; the next uigniterd must run exactly one set of
# daemons, re-adopt every VM and hand out no address twice. Two daemon sets
# can never run against one state_dir: a daemon started while its role's
# lock is held refuses, and a supervisor that finds a role lock held (a
# survivor of an earlier manager) starts nothing until it is released.
# Firecracker fake: no guest needed.
ST_DRIVER=firecracker
ST_NEED_GUEST=0
. "$(dirname "$0")/lib.sh"

FAKE=$ROOT/$BUILD/tests/fakes/firecracker
[ -x "$FAKE" ] || { echo "skip: $FAKE not built (make unit-tests)"; exit 77; }
DAEMONS="netd pool-worker apid"
SPARE_PIDS= # processes this test started besides the stack: ended at exit

# lib.sh's cleanup ends the manager and the VMMs; daemons that survived their
# manager (the fault) and our helpers are ended here, by pid.
sup_cleanup() {
	local rc=$? pid
	set +e
	for pid in $SPARE_PIDS $(instance_daemons); do
		kill -KILL "$pid" 2>/dev/null
	done
	(exit $rc)
	st_cleanup
}
trap sup_cleanup EXIT

# Every netd, pool-worker or apid process of this instance (its command line
# names our config), whoever its parent.
instance_daemons() {
	local dir pid
	for dir in /proc/[0-9]*; do
		pid=${dir#/proc/}
		case $(cat "$dir/comm" 2>/dev/null) in netd|pool-worker|apid) ;; *) continue ;; esac
		st_pid_alive "$pid" || continue
		tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$ST_CONF" &&
			echo "$pid"
	done
	return 0
}
ppid_of() { awk '{print $4}' "/proc/$1/stat" 2>/dev/null; }
comm_of() { cat "/proc/$1/comm" 2>/dev/null; }

# exactly one of each daemon, each a child of the running uigniterd.
check_one_set() {
	local all n d pid
	all=$(instance_daemons)
	n=$(echo "$all" | grep -c .)
	[ "$n" = 3 ] || st_fail "$1: $n daemons run against this state_dir, expected 3:$(for p in $all; do echo -n " $(comm_of "$p")/$p(ppid $(ppid_of "$p"))"; done)"
	for d in $DAEMONS; do
		pid=$(st_daemon_pid "$d")
		[ -n "$pid" ] || st_fail "$1: no $d child of uigniterd $ST_PID"
	done
}

run_vms() { # run_vms N: runs N Firecracker VMs, appends their ids to IDS
	local i
	for i in $(seq "$1"); do
		api POST /vm/run '{"image":"fc"}'
		st_expect 201 "run"
		[ "$(json .state)" = running ] || st_fail "run: $API_BODY"
		IDS="$IDS $(json .id)"
	done
}

# No two live VMs share an IP, a MAC or a tap, by the API and by the
# interfaces the VMMs were actually given (the fake records its calls).
check_no_duplicates() {
	local field dup
	api GET /vm
	st_expect 200 "list"
	for field in ip mac tap; do
		dup=$(json "[.vms[] | select(.state != \"stopped\" and .state != \"failed\") | .$field] | group_by(.) | map(select(length > 1) | .[0]) | join(\" \")")
		[ -z "$dup" ] || st_fail "$1: live VMs share $field $dup: $API_BODY"
	done
	dup=$(cat "$ST_DIR"/calls/*.calls.jsonl 2>/dev/null |
		jq -r 'select(.method == "PUT" and (.path | startswith("/network-interfaces"))) | .body.host_dev_name // empty' |
		sort | uniq -d | tr '\n' ' ')
	[ -z "${dup// /}" ] || st_fail "$1: two VMMs were given tap $dup"
}

: >"$ST_DIR/vmlinux"
ST_VMM_EXTRA="  firecracker: $FAKE"
ST_IMAGES_EXTRA="  fc:
    kernel: $ST_DIR/vmlinux"
st_start
IDS=
run_vms 3
vmm_pids=$(st_vmm_pids | tr '\n' ' ')
[ "$(echo $vmm_pids | wc -w)" = 3 ] || st_fail "expected 3 VMM pids, got '$vmm_pids'"
check_one_set "first start"
old_daemons=$(instance_daemons | tr '\n' ' ')

# --- 1. kill -9 of uigniterd alone: its daemons die with it, VMMs do not.
old_sv=$ST_PID
kill -KILL "$old_sv"
wait "$old_sv" 2>/dev/null || true
ST_PID=
st_log "uigniterd $old_sv kill -9'd alone; its daemons were $old_daemons"
for pid in $old_daemons; do
	for _ in $(seq 300); do st_pid_alive "$pid" || break; sleep 0.1; done
	st_pid_alive "$pid" &&
		st_fail "$(comm_of "$pid") (pid $pid) survived the kill -9 of its uigniterd (its parent is now $(ppid_of "$pid"))"
done
for pid in $vmm_pids; do
	st_pid_alive "$pid" || st_fail "VMM $pid died with the manager (shutdown_policy leave)"
done
st_log "every daemon died with uigniterd; the 3 VMMs run on"

# --- 2. the next uigniterd: one set, every VM re-adopted, new runs unique.
st_start
check_one_set "after the restart"
for id in $IDS; do
	api GET "/vm/$id"
	st_expect 200 "get $id after the restart"
	[ "$(json .state)" = running ] || st_fail "$id not re-adopted: $API_BODY"
done
run_vms 3
check_no_duplicates "after the restart"
api GET /healthz
st_expect 200 "healthz"
for d in $DAEMONS; do
	[ "$(json ".restarts[\"$d\"]")" = 0 ] || st_fail "$d restarted under the new manager: $API_BODY"
done
check_one_set "after new runs"

# --- 3. a daemon started while its role's lock is held refuses clearly.
netd_pid=$(st_daemon_pid netd)
set +e
out=$(UIGNITER_SHM=/uigniter-$(st_shm_hash) timeout 20 ip netns exec "$ST_NS" \
	"$BIN/netd" --config "$ST_CONF" 3</dev/null 4</dev/null 5</dev/null 6</dev/null 2>&1)
rc=$?
set -e
[ "$rc" = 111 ] || st_fail "a second netd against the same state_dir: exit $rc, expected 111: $out"
grep -q "another netd (pid $netd_pid) is running with state_dir $ST_DIR/state" <<<"$out" ||
	st_fail "a second netd's message: $out"
check_one_set "after a second netd was refused"

# --- 4. every VM answers and can be stopped; nothing is left.
for id in $IDS; do
	api GET "/vm/$id"
	st_expect 200 "get $id"
	api POST "/vm/$id/stop"
	st_expect 200 "stop $id"
	[ "$(json .state)" = stopped ] || st_fail "stop $id: $API_BODY"
done
for pid in $(sqlite3 "$ST_DB" 'select vmm_pid from vms') $vmm_pids; do
	st_pid_alive "$pid" && st_fail "VMM $pid alive after every VM was stopped"
done
[ "$(st_sql 'select count(*) from leases')" = 0 ] || st_fail "leases left: $(st_sql 'select * from leases')"
[ -z "$(st_unowned_taps | tr -d ' ')" ] || st_fail "taps left: $(st_unowned_taps)"
[ -z "$(find "$ST_DIR/run/vms" -type s)" ] || st_fail "API sockets left: $(find "$ST_DIR/run/vms" -type s)"

# --- 5. a survivor holding a role lock: a new manager starts nothing
# until it is gone, and gives up (111) if it outlasts 30 s. The holder
# stands in for a pool-worker of an older manager that outlived it.
manager_pid=$ST_PID
kill -TERM "$manager_pid"
for _ in $(seq 300); do kill -0 "$manager_pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$manager_pid" 2>/dev/null && st_fail "uigniterd did not stop on SIGTERM"
wait "$manager_pid" 2>/dev/null || true
ST_PID=
[ -z "$(instance_daemons)" ] || st_fail "daemons left after SIGTERM: $(instance_daemons)"
mkfifo "$ST_DIR/hold"
python3 -c '
import fcntl, os, sys
f = open(sys.argv[1], "a+")
fcntl.flock(f, fcntl.LOCK_EX)
f.truncate(0); f.write("%d\n" % os.getpid()); f.flush()
print("held", flush=True)
open(sys.argv[2]).read()  # until the test opens the fifo for writing
' "$ST_DIR/state/pool-worker.lock" "$ST_DIR/hold" >"$ST_DIR/hold.out" &
holder=$!
SPARE_PIDS="$SPARE_PIDS $holder"
for _ in $(seq 100); do grep -q held "$ST_DIR/hold.out" && break; sleep 0.1; done
grep -q held "$ST_DIR/hold.out" || st_fail "the lock holder did not start"
want="pool-worker (pid $holder) from an earlier manager still runs with state_dir $ST_DIR/state; waiting for it to exit"
# A manager that outwaits the survivor (30 s) gives up: 111, no second set.
ip netns exec "$ST_NS" "$BIN/uigniterd" --config "$ST_CONF" >>"$ST_LOG" 2>&1 &
ST_PID=$!
for _ in $(seq 200); do grep -qF "$want" "$ST_LOG" && break; sleep 0.1; done
grep -qF "$want" "$ST_LOG" || st_fail "uigniterd did not say it waits for the survivor"
for _ in $(seq 900); do
	[ -z "$(pgrep -P "$ST_PID")" ] ||
		st_fail "uigniterd started daemons while a survivor holds a lock: $(pgrep -P "$ST_PID" -l | tr '\n' ' ')"
	kill -0 "$ST_PID" 2>/dev/null || break
	sleep 0.1
done
kill -0 "$ST_PID" 2>/dev/null && st_fail "uigniterd waited for the survivor for more than 90 s"
rc=0; wait "$ST_PID" || rc=$?
ST_PID=
[ "$rc" = 111 ] || st_fail "uigniterd that gave up on the survivor: exit $rc, expected 111"
grep -qF "1 daemon(s) of an earlier manager still run with state_dir $ST_DIR/state after 30 s; not starting a second set" "$ST_LOG" ||
	st_fail "no clear message when uigniterd gave up on the survivor"
[ -z "$(instance_daemons)" ] || st_fail "daemons started while a survivor holds a lock"
st_log "uigniterd gave up on the survivor after 30 s (exit 111), starting nothing"
# The next one waits for the survivor, then starts once it is gone.
wc -l <"$ST_LOG" >"$ST_LOG.mark" # the next message must be a new line
ip netns exec "$ST_NS" "$BIN/uigniterd" --config "$ST_CONF" >>"$ST_LOG" 2>&1 &
ST_PID=$!
said() { tail -n +"$(($(cat "$ST_LOG.mark") + 1))" "$ST_LOG" | grep -qF "$want"; }
for _ in $(seq 200); do said && break; sleep 0.1; done
said || st_fail "the new uigniterd did not say it waits for the survivor"
kill -0 "$ST_PID" 2>/dev/null || st_fail "the new uigniterd exited while it should wait"
[ -z "$(pgrep -P "$ST_PID")" ] ||
	st_fail "the new uigniterd started daemons while a survivor holds a lock: $(pgrep -P "$ST_PID" -l | tr '\n' ' ')"
[ -z "$(instance_daemons)" ] || st_fail "daemons started while a survivor holds a lock"
: >"$ST_DIR/hold" # the holder reads EOF and exits: the lock is free
wait "$holder" 2>/dev/null || true
for _ in $(seq 200); do
	api GET /healthz 2>/dev/null || API_STATUS=
	[ "$API_STATUS" = 200 ] && [ "$(json '.daemons["pool-worker"]')" = up ] &&
		[ "$(json '.daemons.netd')" = up ] && break
	kill -0 "$ST_PID" 2>/dev/null || st_fail "uigniterd exited after the survivor was gone"
	sleep 0.2
done
[ "$API_STATUS" = 200 ] && [ "$(json '.daemons["pool-worker"]')" = up ] ||
	st_fail "the stack did not come up once the survivor was gone: $API_BODY"
check_one_set "after the survivor was gone"
st_pass
