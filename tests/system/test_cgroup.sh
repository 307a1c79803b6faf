#!/usr/bin/env bash
# A cgroup per VM (pool-worker/cgroup.c), with the Firecracker fake growing
# FC_FAKE_ALLOC_MIB=300 MiB once started (a guest using its memory):
# - a running VMM's /proc/PID/cgroup names its VM's cgroup in cpu, memory and
#   pids, and the limits read back from the cgroup files are the config's
#   (quota = vcpus × period, memory = mem_mib + vmm.mem_overhead_mib,
#   pids.max); the VMs' parent has the lower CPU weight;
# - a VM whose limit (128 + 64 MiB) is below what it grows to is killed by
#   its memory cgroup alone: failed, "out of memory (limit 192 MiB)"; the
#   other (512 + 64 MiB) keeps running; no cgroup of the dead one is left;
# - a stop removes the VM's cgroup;
# - kill -9 of pool-worker: the adopted VM keeps its cgroup (and its VMM
#   stays in it), a leftover empty VM cgroup no row owns is removed;
# - the manager's stop leaves no cgroup of this instance behind.
# The stack runs under `ip netns exec`, whose /sys has no cgroup mounts:
# pool-worker mounts the v1 hierarchies itself (the log says so).
ST_DRIVER=firecracker
ST_NEED_GUEST=0
. "$(dirname "$0")/lib.sh"

FAKE=$ROOT/$BUILD/tests/fakes/firecracker
[ -x "$FAKE" ] || { echo "skip: $FAKE not built (make unit-tests)"; exit 77; }
for c in cpu memory pids; do
	[ -d "/sys/fs/cgroup/$c" ] || { echo "skip: no cgroup v1 $c hierarchy here"; exit 77; }
done
sql() { sqlite3 -cmd '.timeout 5000' "$ST_DB" "$1"; }

# cg PID CONTROLLER: PID's cgroup in that v1 hierarchy.
cg() { awk -F: -v c="$2" '{ n = split($2, a, ","); for (i = 1; i <= n; i++) if (a[i] == c) print $3 }' "/proc/$1/cgroup"; }
# cgfile CONTROLLER PATH FILE: a file of that cgroup, read in the host's view.
cgfile() { cat "/sys/fs/cgroup/$1$2/$3"; }

wait_state() { # wait_state ID STATE
	for _ in $(seq 200); do
		[ "$(sql "select state from vms where id = '$1'")" = "$2" ] && return 0
		sleep 0.1
	done
	return 1
}

: >"$ST_DIR/vmlinux"
export FC_FAKE_ALLOC_MIB=300
ST_VMM_EXTRA="  firecracker: $FAKE
  mem_overhead_mib: 64
  pids_max: 64"
ST_IMAGES_EXTRA="  fc:
    kernel: $ST_DIR/vmlinux"
st_start
grep -q 'cgroup: v1, VMs under' "$ST_LOG" || st_fail "no cgroup choice logged"
grep -q 'cgroup: mounted cgroup -o memory at' "$ST_LOG" ||
	st_fail "pool-worker did not mount the memory hierarchy inside the namespace"

# A VM that fits: 2 vcpus, 512 MiB (+64) > 300 MiB grown.
api POST /vm/run '{"image":"fc","vcpus":2,"mem_mib":512}'
st_expect 201 "run big"
big=$(json .id) bigpid=$(json .pid) console=$(json .console_log)
for _ in $(seq 100); do grep -q 'MiB touched' "$console" 2>/dev/null && break; sleep 0.1; done
grep -q 'MiB touched' "$console" || st_fail "the big VM did not grow: $(cat "$console")"
st_pid_alive "$bigpid" || st_fail "the big VM's VMM died"
mem=$(cg "$bigpid" memory) cpu=$(cg "$bigpid" cpu) pids=$(cg "$bigpid" pids)
hash=$(st_shm_hash)
for p in "$mem" "$cpu" "$pids"; do
	[[ "$p" == */uigniter-$hash/$big ]] || st_fail "VMM $bigpid not in its VM's cgroup: $(cat /proc/$bigpid/cgroup)"
done
[ "$(cgfile memory "$mem" memory.limit_in_bytes)" = $(( (512 + 64) << 20 )) ] ||
	st_fail "memory limit $(cgfile memory "$mem" memory.limit_in_bytes)"
[ "$(cgfile cpu "$cpu" cpu.cfs_quota_us)" = $(( 2 * $(cgfile cpu "$cpu" cpu.cfs_period_us) )) ] ||
	st_fail "cpu quota $(cgfile cpu "$cpu" cpu.cfs_quota_us) / $(cgfile cpu "$cpu" cpu.cfs_period_us)"
[ "$(cgfile pids "$pids" pids.max)" = 64 ] || st_fail "pids.max $(cgfile pids "$pids" pids.max)"
[ "$(cgfile cpu "${cpu%/*}" cpu.shares)" = 256 ] || st_fail "parent cpu.shares $(cgfile cpu "${cpu%/*}" cpu.shares)"
grep -qx "$bigpid" "/sys/fs/cgroup/memory$mem/cgroup.procs" || st_fail "pid not in cgroup.procs"
peak=$(( $(cgfile memory "$mem" memory.max_usage_in_bytes) >> 20 ))
[ "$peak" -ge 300 ] || st_fail "the growth was not charged to the VM's cgroup ($peak MiB)"
st_log "firecracker fake grown by 300 MiB: cgroup peak $peak MiB (overhead $((peak - 300)) MiB)"

# A VM that does not: 128 MiB (+64) < 300 MiB.
api POST /vm/run '{"image":"fc","mem_mib":128}'
[ "$API_STATUS" = 201 ] || [ "$API_STATUS" = 500 ] || st_fail "run small: HTTP $API_STATUS $API_BODY"
small=$(sql "select id from vms where id != '$big' and mem_mib = 128")
[ -n "$small" ] || st_fail "no row for the small VM"
wait_state "$small" failed || st_fail "small VM: $(sql "select state, error from vms where id = '$small'")"
[ "$(sql "select error from vms where id = '$small'")" = "out of memory (limit 192 MiB)" ] ||
	st_fail "error: $(sql "select error from vms where id = '$small'")"
[ "$(sql "select exit_status from vms where id = '$small'")" = 137 ] || st_fail "exit status"
api GET "/vm/$small"
[ "$(json .error)" = "out of memory (limit 192 MiB)" ] || st_fail "GET: $API_BODY"
# killed alone
st_pid_alive "$bigpid" || st_fail "the big VM's VMM was killed too"
api GET "/vm/$big"
[ "$(json .state)" = running ] || st_fail "big VM: $API_BODY"
for _ in $(seq 50); do [ ! -d "/sys/fs/cgroup/memory${mem%/*}/$small" ] && break; sleep 0.1; done
for c in cpu memory pids; do
	p=$(cg "$bigpid" "$c")
	[ ! -d "/sys/fs/cgroup/$c${p%/*}/$small" ] || st_fail "the OOM-killed VM's $c cgroup is left"
done

# A stop removes the VM's cgroup.
api POST "/vm/$big/stop"
st_expect 200 "stop big"
for c in cpu memory pids; do
	case $c in cpu) p=$cpu ;; memory) p=$mem ;; pids) p=$pids ;; esac
	[ ! -d "/sys/fs/cgroup/$c$p" ] || st_fail "stopped VM's $c cgroup is left"
done

# Crash: an adopted VM keeps its cgroup, a leftover one no row owns goes.
api POST /vm/run '{"image":"fc","mem_mib":512}'
st_expect 201 "run kept"
kept=$(json .id) keptpid=$(json .pid)
keptmem=$(cg "$keptpid" memory)
[[ "$keptmem" == */uigniter-$hash/$kept ]] || st_fail "kept VM not in its cgroup"
for c in cpu memory pids; do
	p=$(cg "$keptpid" "$c")
	mkdir "/sys/fs/cgroup/$c${p%/*}/vm-leftover" || st_fail "cannot plant a leftover cgroup"
done
st_kill_daemon pool-worker
[ "$(sql "select count(*) from events where vm_id = '$kept' and kind = 'adopt'")" = 1 ] ||
	st_fail "no adopt event"
for c in cpu memory pids; do
	p=$(cg "$keptpid" "$c")
	for _ in $(seq 50); do [ ! -d "/sys/fs/cgroup/$c${p%/*}/vm-leftover" ] && break; sleep 0.1; done
	[ ! -d "/sys/fs/cgroup/$c${p%/*}/vm-leftover" ] || st_fail "leftover $c cgroup not removed"
	[ -d "/sys/fs/cgroup/$c$p" ] || st_fail "the adopted VM lost its $c cgroup"
done
[ "$(cg "$keptpid" memory)" = "$keptmem" ] || st_fail "the adopted VMM moved"
[ "$(cgfile memory "$keptmem" memory.limit_in_bytes)" = $(( (512 + 64) << 20 )) ] ||
	st_fail "adopted VM's limit changed"
grep -q 'cgroup vm-leftover removed: no VM owns it' "$ST_LOG" || st_fail "removal not logged"

api POST "/vm/$kept/stop"
st_expect 200 "stop kept"
[ ! -d "/sys/fs/cgroup/memory$keptmem" ] || st_fail "kept VM's cgroup left after its stop"

# The manager's stop: nothing of this instance is left.
kill -TERM "$ST_PID"
for _ in $(seq 100); do kill -0 "$ST_PID" 2>/dev/null || break; sleep 0.1; done
! kill -0 "$ST_PID" 2>/dev/null || st_fail "manager did not stop"
ST_PID=
left=$(st_cgroups_left)
[ -z "$left" ] || st_fail "cgroups left after the manager's stop: $left"
st_pass
