#!/usr/bin/env bash
# part-footprint.sh — part 4: the manager's own footprint. RSS (VmRSS from
# /proc/PID/status) of uigniterd, netd, pool-worker and apid with 0 and 100
# running qemu VMs, and with 1,000 running VMs on the Firecracker contract
# fake (when build/tests/fakes/firecracker and the driver exist); per-VM
# manager memory from the differences; and the CPU time (utime+stime from
# /proc/PID/stat) the four processes use over 60 s of idle with 100 running
# VMs (nothing should poll: expect ~0). The VMMs themselves are not the
# manager and are not counted (their RSS is reported separately).
#
# Environment: BENCH_FP_N (100), BENCH_FP_BIG (1000), BENCH_FP_IDLE_S (60),
# BENCH_MEM_MIB (80).
. "$(dirname "$0")/lib.sh"

N=${BENCH_FP_N:-100}
BIG=${BENCH_FP_BIG:-1000}
IDLE_S=${BENCH_FP_IDLE_S:-60}
FAKE=$B_ROOT/build/tests/fakes/firecracker
CONTRACT=$B_ROOT/../shared/reference/firecracker-api-v1.16.1.yaml
DAEMONS="uigniterd netd pool-worker apid"
HZ=$(getconf CLK_TCK)

b_need_root
N_ASKED=$N
N=$(b_fit "$N" $(( ${BENCH_MEM_MIB:-80} + 120 )))
[ "$N" -eq "$N_ASKED" ] || b_log "only $N VMs fit in memory (asked $N_ASKED)"
b_snapshot_bins
b_netns
B_HOST=$(b_host_json)

pids_of_stack() { # "name pid" lines
	echo "uigniterd $B_STACK_PID"
	for d in netd pool-worker apid; do echo "$d $(b_daemon_pid "$d")"; done
}

# rss_json → {"uigniterd":KiB,...,"total":KiB}
rss_json() {
	local name pid out='{}' total=0 kib
	while read -r name pid; do
		kib=$(b_rss_kib "$pid")
		total=$((total + kib))
		out=$(jq --arg n "$name" --argjson v "$kib" '. + {($n): $v}' <<<"$out")
	done < <(pids_of_stack)
	jq --argjson t "$total" '. + {total: $t}' <<<"$out"
}

# The VMMs' RSS, for scale (sum and mean KiB).
vmm_rss_json() {
	local pids kib sum=0 n=0 p
	pids=$(sqlite3 "$B_DB" "select vmm_pid from vms where state='running' and vmm_pid > 0")
	for p in $pids; do kib=$(b_rss_kib "$p"); sum=$((sum + kib)); n=$((n + 1)); done
	jq -n --argjson s "$sum" --argjson n "$n" '{count:$n, total_kib:$s, mean_kib:(if $n > 0 then ($s / $n | round) else null end)}'
}

settle() { sleep 2; } # let start-up work (reconcile, refill timers) finish

# ----------------------------------------------------- qemu: 0 and N VMs
b_config fp-qemu >/dev/null
b_stack_start fp-qemu
settle
rss0=$(rss_json)
b_log "0 VMs: $(jq -c . <<<"$rss0")"
b_log "starting $N qemu VMs (4 at a time, each until its guest answers HTTP)"
boot=$(b_loadgen boot --unix "$B_SOCK" --image hello -n "$N" -c 4 --out "$B_DIR/fp.tsv") ||
	b_log "some VMs failed"
running=$(sqlite3 "$B_DB" "select count(*) from vms where state='running'")
settle
rssN=$(rss_json)
vmmN=$(vmm_rss_json)
b_log "$running VMs: $(jq -c . <<<"$rssN"); VMMs $(jq -c . <<<"$vmmN")"

b_log "idle for $IDLE_S s with $running running VMs"
declare -A t0
while read -r name pid; do t0[$name]=$(b_cpu_ticks "$pid"); done < <(pids_of_stack)
c0=$(b_cpu_sample)
sleep "$IDLE_S"
c1=$(b_cpu_sample)
idle='{}'
tot=0
while read -r name pid; do
	d=$(( $(b_cpu_ticks "$pid") - ${t0[$name]} ))
	tot=$((tot + d))
	idle=$(jq --arg n "$name" --argjson v "$((d * 1000 / HZ))" '. + {($n): $v}' <<<"$idle")
done < <(pids_of_stack)
idle=$(jq --argjson t "$((tot * 1000 / HZ))" --argjson s "$IDLE_S" --argjson hz "$HZ" \
	--argjson host "$(b_cpu_busy_pct "$c0" "$c1")" \
	'{cpu_ms_by_process: (. + {total: $t}), seconds: $s, clock_ticks_per_s: $hz,
	  manager_cpu_pct_of_one_core: (($t / ($s * 1000) * 100 * 100 | round) / 100),
	  host_cpu_busy_pct_all_cores: $host}' <<<"$idle")
b_log "idle: $(jq -c . <<<"$idle")"
b_stack_stop
qemu_json=$(jq -n --argjson r0 "$rss0" --argjson rn "$rssN" --argjson n "$running" \
	--argjson vmm "$vmmN" --argjson idle "$idle" --argjson boot "$boot" '
	{vms_running:$n, rss_kib_0_vms:$r0, rss_kib_n_vms:$rn, vmm_rss:$vmm,
	 manager_kib_per_vm: (if $n > 0 then ((($rn.total - $r0.total) / $n * 10 | round) / 10) else null end),
	 idle_cpu:$idle, boot:$boot}')

# ------------------------------------------- firecracker fake: BIG VMs
fc_json='{"skipped":"build/tests/fakes/firecracker or the firecracker driver is not available"}'
if [ -x "$FAKE" ] && [ -f "$B_ROOT/pool-worker/drv_firecracker.c" ]; then
	cp "$FAKE" "$B_BIN/firecracker-fake"
	export FC_FAKE_CONTRACT=$CONTRACT
	b_config fp-fc driver=firecracker fc="$B_BIN/firecracker-fake" >/dev/null
	b_stack_start fp-fc
	settle
	f0=$(rss_json)
	b_log "fake: starting $BIG VMs (16 at a time)"
	fboot=$(b_loadgen boot --no-poll --unix "$B_SOCK" --image hello -n "$BIG" -c 16 \
		--out "$B_DIR/fp-fc.tsv") || b_log "some fake VMs failed"
	frun=$(sqlite3 "$B_DB" "select count(*) from vms where state='running'")
	settle
	fN=$(rss_json)
	b_log "fake: $frun VMs: $(jq -c . <<<"$fN")"
	b_stack_stop
	fc_json=$(jq -n --argjson r0 "$f0" --argjson rn "$fN" --argjson n "$frun" --argjson boot "$fboot" '
		{vms_running:$n, rss_kib_0_vms:$r0, rss_kib_n_vms:$rn,
		 manager_kib_per_vm: (if $n > 0 then ((($rn.total - $r0.total) / $n * 10 | round) / 10) else null end),
		 run_api:$boot}')
fi

b_write_result footprint "$(jq -n --argjson q "$qemu_json" --argjson f "$fc_json" \
	--argjson mem "${BENCH_MEM_MIB:-80}" \
	'{config:{guest_mem_mib:$mem, rss:"VmRSS from /proc/PID/status, KiB", cpu:"utime+stime from /proc/PID/stat"},
	  qemu:$q, firecracker_fake:$f}')"
