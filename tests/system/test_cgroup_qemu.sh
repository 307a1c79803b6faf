#!/usr/bin/env bash
# A real QEMU guest lands in its VM's cgroup too (pool-worker/cgroup.c):
# its VMM's /proc/PID/cgroup names the VM's cgroup in cpu, memory and pids,
# with the default limits (memory = mem_mib 128 + vmm.mem_overhead_mib 96),
# the guest boots and answers HTTP within that limit, and its stop removes
# the cgroup. Prints the VMM's peak memory (memory.max_usage_in_bytes): the
# overhead measured for docs/BENCHMARKS.md.
. "$(dirname "$0")/lib.sh"
for c in cpu memory pids; do
	[ -d "/sys/fs/cgroup/$c" ] || { echo "skip: no cgroup v1 $c hierarchy here"; exit 77; }
done
cg() { awk -F: -v c="$2" '{ n = split($2, a, ","); for (i = 1; i <= n; i++) if (a[i] == c) print $3 }' "/proc/$1/cgroup"; }
st_start

api POST /vm/run '{"image":"hello"}'
st_expect 201 "run"
id=$(json .id) pid=$(json .pid) ip=$(json .ip)
mem=$(cg "$pid" memory) cpu=$(cg "$pid" cpu) pids=$(cg "$pid" pids)
for p in "$mem" "$cpu" "$pids"; do
	[[ "$p" == */uigniter-$(st_shm_hash)/$id ]] ||
		st_fail "qemu $pid not in its VM's cgroup: $(cat "/proc/$pid/cgroup")"
done
[ "$(cat "/sys/fs/cgroup/memory$mem/memory.limit_in_bytes")" = $(( (128 + 96) << 20 )) ] ||
	st_fail "memory limit $(cat "/sys/fs/cgroup/memory$mem/memory.limit_in_bytes")"
[ "$(cat "/sys/fs/cgroup/cpu$cpu/cpu.cfs_quota_us")" = 100000 ] || st_fail "cpu quota"
[ "$(cat "/sys/fs/cgroup/pids$pids/pids.max")" = 256 ] || st_fail "pids.max"
body=$(st_guest_http "$ip") || st_fail "guest never answered HTTP"
[ "$body" = "hello from $id" ] || st_fail "guest answered '$body'"
peak=$(( $(cat "/sys/fs/cgroup/memory$mem/memory.max_usage_in_bytes") >> 20 ))
rss=$(awk '/VmHWM/ {print int($2 / 1024)}' "/proc/$pid/status")
st_log "qemu (mem_mib 128, booted, serving HTTP): cgroup peak $peak MiB, VmHWM $rss MiB"
grep -qi 'out of memory' "$ST_LOG" && st_fail "OOM in the log"

api POST "/vm/$id/stop"
st_expect 200 "stop"
[ "$(json .state)" = stopped ] || st_fail "state: $API_BODY"
for c in cpu memory pids; do
	case $c in cpu) p=$cpu ;; memory) p=$mem ;; pids) p=$pids ;; esac
	[ ! -d "/sys/fs/cgroup/$c$p" ] || st_fail "$c cgroup left after the stop"
done
st_pass
