#!/usr/bin/env bash
# part-ahead.sh — request → the app's first answer with real guests (QEMU,
# TCG here), three ways in one run, the same hello image (ready_port 80):
#   cold      pool.size 0: spawn, boot, then the app;
#   prepared  pool.size 4, pool.boot prepared: a VMM paused (-S) before the
#             guest's first instruction, the guest still boots after the run;
#   ahead     pool.size 8, pool.boot ahead: slots booted until port 80
#             accepts, then paused; a run resumes one;
#   snapshot  pool.size 8, pool.boot snapshot: the same slots, each restored
#             from a template booted once (pool-worker/snapshot.c).
# With a pool, slot creation is measured too: the CPU-seconds (utime+stime,
# /proc/PID/stat) of each ready slot's QEMU — paused, so its whole cost of
# becoming ready — and the snapshot template's build (its log lines).
# Each run: loadgen boot -n 1 (POST /vm/run, then poll http://<ip>/ every
# BENCH_POLL_MS until it answers "hello from <id>"), then the VM is
# stopped and — with a pool — the next run waits until the pool is full
# again, so every run finds the pool as its operator sized it (the refill's
# cost is not in these figures: a pre-booted slot is a whole boot of CPU).
#
# Environment: BENCH_AHEAD_N (runs per way, 8), BENCH_POLL_MS (10),
# BENCH_AHEAD_WAYS (which ways, "cold prepared ahead snapshot"),
# BENCH_AHEAD_SIZE (the pool of ahead and snapshot, 8), BENCH_CONNECT_MS (loadgen's
# connect timeout per guest HTTP attempt, 50), BENCH_READY_HTTP (the hello
# image's ready_http, "/"; empty: none, the port accepting is ready).
. "$(dirname "$0")/lib.sh"

N=${BENCH_AHEAD_N:-8}
POLL_MS=${BENCH_POLL_MS:-10}
b_need_root
B_HOST=$(b_host_json)
b_snapshot_bins
b_netns

WAYS=${BENCH_AHEAD_WAYS:-cold prepared ahead snapshot}
SIZE=${BENCH_AHEAD_SIZE:-8}
CONNECT_MS=${BENCH_CONNECT_MS:-50} # loadgen's connect timeout per guest HTTP attempt
READY_HTTP=${BENCH_READY_HTTP-/} # the ready rule's GET ("": the port accepting is ready)
HZ=$(getconf CLK_TCK)
# slot_cpu WAY: each ready slot's QEMU CPU-seconds, once per slot id.
slot_cpu() {
	local id pid
	api GET '/vm?state=warm'
	for id in $(jq -r '.vms[]?.id // empty' <<<"$API_BODY"); do
		grep -qx "$id" "$B_DIR/$1.slots" 2>/dev/null && continue
		pid=$(jq -r --arg id "$id" '.vms[] | select(.id == $id) | .pid' <<<"$API_BODY")
		[ -r "/proc/$pid/stat" ] || continue
		echo "$id" >>"$B_DIR/$1.slots"
		awk -v hz="$HZ" '{printf "%.3f\n", ($14 + $15) / hz}' "/proc/$pid/stat" >>"$B_DIR/$1.slot.cpu"
	done
}
declare -A json
for way in $WAYS; do
	case $way in
	cold) size=0 boot=prepared ;; prepared) size=4 boot=prepared ;;
	ahead) size=$SIZE boot=ahead ;; snapshot) size=$SIZE boot=snapshot ;;
	*) b_die "unknown way $way" ;;
	esac
	b_config "$way" pool=$size boot=$boot ready_port=80 ready_http="$READY_HTTP" >/dev/null
	b_stack_start "$way"
	: >"$B_DIR/$way.run.ms"
	: >"$B_DIR/$way.http.ms"
	: >"$B_DIR/$way.slot.cpu"
	: >"$B_DIR/$way.attempts"
	: >"$B_DIR/$way.first.ms"
	: >"$B_DIR/$way.first.failed"
	for ((i = 0; i < N; i++)); do
		[ "$size" -gt 0 ] && { b_wait_pool "$size" 600 || b_log "$way: pool not filled"; }
		[ "$boot" = prepared ] || slot_cpu "$way"
		b_loadgen boot --unix "$B_SOCK" --image hello -n 1 -c 1 --poll-ms "$POLL_MS" \
			--connect-ms "$CONNECT_MS" --out "$B_DIR/$way-$i.tsv" >/dev/null || b_log "$way: run $i failed"
		# tsv (loadgen): id ip t0 run_ms http_ms stop_ms status attempts first_cc first_ms
		awk -F'\t' '$7 == "ok" {print $4 >> "'"$B_DIR/$way.run.ms"'"; print $5 >> "'"$B_DIR/$way.http.ms"'"
			print $8 >> "'"$B_DIR/$way.attempts"'"; print $10 >> "'"$B_DIR/$way.first.ms"'"
			if ($9 != 0) nf++} END {printf "%d\n", nf}' "$B_DIR/$way-$i.tsv" >>"$B_DIR/$way.first.failed"
		id=$(awk -F'\t' 'NR == 1 {print $1}' "$B_DIR/$way-$i.tsv")
		[ -n "$id" ] && api POST "/vm/$id/stop"
	done
	api GET /pool
	pool=$API_BODY
	health=$(b_health)
	tmpl=null
	if [ "$boot" = snapshot ]; then # the template's build: its QEMU's start → saved
		tmpl=$(awk '/template for .*: qemu pid/ {s = $1} /template: .* saved/ {e = $1}
			END {print s, e}' "$B_DIR/$way/uigniter.log" | while read -r s e; do
			[ -n "$e" ] && echo "$(( $(date -d "$e" +%s%3N) - $(date -d "$s" +%s%3N) ))"
		done)
		tcpu=$(sed -n 's/.*template for .*: its qemu used \([0-9.]*\) CPU-s.*/\1/p' \
			"$B_DIR/$way/uigniter.log" | head -n1)
		tmpl=$(jq -n --argjson ms "${tmpl:-null}" --argjson t "$(jq .template <<<"$pool")" \
			--argjson c "${tcpu:-null}" '{build_wall_ms:$ms, cpu_s:$c, state:$t.state, bytes:$t.bytes}')
	fi
	b_stack_stop
	run=$(b_stats <"$B_DIR/$way.run.ms")
	http=$(b_stats <"$B_DIR/$way.http.ms")
	# the guest HTTP attempts per run (polled every POLL_MS, each with
	# loadgen's 50 ms connect timeout), when the first one ended, and how
	# many first attempts did not get the page (timeout, refused, reset)
	att=$(b_stats <"$B_DIR/$way.attempts")
	first=$(b_stats <"$B_DIR/$way.first.ms")
	ffail=$(awk '{n += $1} END {print n + 0}' "$B_DIR/$way.first.failed")
	cpu=null
	[ -s "$B_DIR/$way.slot.cpu" ] && cpu=$(b_stats <"$B_DIR/$way.slot.cpu")
	b_log "$way: run→201 $(jq -c '{n, p50, p99}' <<<"$run")  run→app answer $(jq -c '{n, p50, p99}' <<<"$http")  attempts $(jq -c '{p50, max}' <<<"$att") (first failed: $ffail)  slot CPU-s $(jq -c '{n, p50, mean}' <<<"$cpu" 2>/dev/null)  pool $pool"
	json[$way]=$(jq -n --argjson r "$run" --argjson h "$http" --argjson p "$pool" \
		--argjson s "$size" --arg b "$boot" --argjson hl "$health" --argjson c "$cpu" \
		--argjson t "$tmpl" --argjson at "$att" --argjson fi "$first" --argjson ff "$ffail" \
		'{pool_size:$s, pool_boot:$b, run_to_201_ms:$r, run_to_app_answer_ms:$h,
		  guest_http_attempts:$at, first_attempt_end_ms:$fi, first_attempts_failed:$ff,
		  slot_creation_cpu_s:$c, template:$t, pool_after:$p, health:$hl}')
done
for way in cold prepared ahead snapshot; do [ -n "${json[$way]:-}" ] || json[$way]=null; done

b_write_result ahead "$(jq -n --argjson c "${json[cold]}" --argjson w "${json[prepared]}" \
	--argjson a "${json[ahead]}" --argjson sn "${json[snapshot]}" --argjson n "$N" \
	--argjson poll "$POLL_MS" --argjson cm "$CONNECT_MS" --arg rh "$READY_HTTP" --arg ways "$WAYS" '
	def r(a; b): if a != null and b != null and b > 0 then ((a / b) * 1000 | round) / 1000 else null end;
	{config:{driver:"qemu (TCG)", image:"hello (ready_port 80)", runs_per_way:$n, poll_ms:$poll, connect_ms:$cm, ready_http:$rh,
	         ways:$ways},
	 cold:$c, prepared:$w, ahead:$a, snapshot:$sn,
	 ratio_ahead_over_cold:{app_answer_p50: r($a.run_to_app_answer_ms.p50; $c.run_to_app_answer_ms.p50)},
	 ratio_snapshot_over_ahead:{slot_creation_cpu_s_mean: r($sn.slot_creation_cpu_s.mean; $a.slot_creation_cpu_s.mean),
	                            app_answer_p50: r($sn.run_to_app_answer_ms.p50; $a.run_to_app_answer_ms.p50)}}')"
