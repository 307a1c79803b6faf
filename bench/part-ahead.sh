#!/usr/bin/env bash
# part-ahead.sh — request → the app's first answer with real guests (QEMU,
# TCG here), three ways in one run, the same hello image (ready_port 80):
#   cold      pool.size 0: spawn, boot, then the app;
#   prepared  pool.size 4, pool.boot prepared: a VMM paused (-S) before the
#             guest's first instruction, the guest still boots after the run;
#   ahead     pool.size 8, pool.boot ahead: slots booted until port 80
#             accepts, then paused; a run resumes one.
# Each run: loadgen boot -n 1 (POST /vm/run, then poll http://<ip>/ every
# BENCH_POLL_MS until it answers "hello from <id>"), then the VM is
# stopped and — with a pool — the next run waits until the pool is full
# again, so every run finds the pool as its operator sized it (the refill's
# cost is not in these figures: a pre-booted slot is a whole boot of CPU).
#
# Environment: BENCH_AHEAD_N (runs per way, 8), BENCH_POLL_MS (10).
. "$(dirname "$0")/lib.sh"

N=${BENCH_AHEAD_N:-8}
POLL_MS=${BENCH_POLL_MS:-10}
b_need_root
B_HOST=$(b_host_json)
b_snapshot_bins
b_netns

declare -A json
for way in cold prepared ahead; do
	case $way in
	cold) size=0 boot=prepared ;; prepared) size=4 boot=prepared ;; ahead) size=8 boot=ahead ;;
	esac
	b_config "$way" pool=$size boot=$boot ready_port=80 >/dev/null
	b_stack_start "$way"
	: >"$B_DIR/$way.run.ms"
	: >"$B_DIR/$way.http.ms"
	for ((i = 0; i < N; i++)); do
		[ "$size" -gt 0 ] && { b_wait_pool "$size" 300 || b_log "$way: pool not filled"; }
		b_loadgen boot --unix "$B_SOCK" --image hello -n 1 -c 1 --poll-ms "$POLL_MS" \
			--out "$B_DIR/$way-$i.tsv" >/dev/null || b_log "$way: run $i failed"
		# tsv (loadgen): id ip t0 run_ms http_ms stop_ms status
		awk -F'\t' '$7 == "ok" {print $4 >> "'"$B_DIR/$way.run.ms"'"; print $5 >> "'"$B_DIR/$way.http.ms"'"}' \
			"$B_DIR/$way-$i.tsv"
		id=$(awk -F'\t' 'NR == 1 {print $1}' "$B_DIR/$way-$i.tsv")
		[ -n "$id" ] && api POST "/vm/$id/stop"
	done
	api GET /pool
	pool=$API_BODY
	health=$(b_health)
	b_stack_stop
	run=$(b_stats <"$B_DIR/$way.run.ms")
	http=$(b_stats <"$B_DIR/$way.http.ms")
	b_log "$way: run→201 $(jq -c '{n, p50, p99}' <<<"$run")  run→app answer $(jq -c '{n, p50, p99}' <<<"$http")  pool $pool"
	json[$way]=$(jq -n --argjson r "$run" --argjson h "$http" --argjson p "$pool" \
		--argjson s "$size" --arg b "$boot" --argjson hl "$health" \
		'{pool_size:$s, pool_boot:$b, run_to_201_ms:$r, run_to_app_answer_ms:$h, pool_after:$p, health:$hl}')
done

b_write_result ahead "$(jq -n --argjson c "${json[cold]}" --argjson w "${json[prepared]}" \
	--argjson a "${json[ahead]}" --argjson n "$N" --argjson poll "$POLL_MS" '
	def r(a; b): if b > 0 then ((a / b) * 1000 | round) / 1000 else null end;
	{config:{driver:"qemu (TCG)", image:"hello (ready_port 80)", runs_per_way:$n, poll_ms:$poll},
	 cold:$c, prepared:$w, ahead:$a,
	 ratio_ahead_over_cold:{app_answer_p50: r($a.run_to_app_answer_ms.p50; $c.run_to_app_answer_ms.p50)}}')"
