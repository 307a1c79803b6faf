#!/usr/bin/env bash
# part-ms.sh — the seed's microservice system (examples/microservices) on
# real guests (QEMU, TCG here):
#   batch    examples/microservices/run: memcached, core (db+storage+master)
#            and 2 workers as VMs, a batch of BENCH_MS_TASKS grayscale tasks
#            (no artificial work time): wall time, per-task latency (queued
#            → done, and the worker's own time), every output checked;
#   oneshot  the seed's own figure: BENCH_MS_N instances of a one-shot app
#            (`ms fetch`: the VM fetches one URL from master and exits),
#            request → app response: from POST /vm/run (host clock) to
#            master's receipt of the VM's GET /hello (master runs on the
#            host, in the benchmark's namespace: one clock), cold and from a
#            warm pool (pool.size 4, prepared: VMM spawned, network and
#            machine applied, guest not started); BENCH_MS_PAR guests at
#            once (2: one per core; a TCG boot is CPU-bound).
#            A pool booted ahead does not apply: a one-shot app does its
#            work while booting, so booting it ahead would run it before the
#            request (part 7 measures ahead with a server app).
# Environment: BENCH_MS_N (100), BENCH_MS_TASKS (100), BENCH_MS_PAR (2).
. "$(dirname "$0")/lib.sh"

N=${BENCH_MS_N:-100}
TASKS=${BENCH_MS_TASKS:-100}
PAR=${BENCH_MS_PAR:-2}
MS=$B_ROOT/build/bin/ms UICTL=$B_ROOT/build/bin/uictl
b_need_root
[ -x "$MS" ] && [ -x "$UICTL" ] || b_die "build first (make): $MS, $UICTL"
[ -x /usr/bin/memcached ] || b_die "memcached not installed (tools/install-deps)"
B_HOST=$(b_host_json)
b_snapshot_bins
b_netns

# ---- batch ------------------------------------------------------------------
conf=$(b_config batch mem=128)
b_stack_start batch
b_log "batch: $TASKS tasks, 2 workers"
JSON=1 BUILD=build "$B_ROOT/examples/microservices/run" --config "$conf" --api "$B_SOCK" \
	--netns "$B_NS" --workers 2 --tasks "$TASKS" --slow-ms 0 >"$B_DIR/batch.json" \
	2>"$B_DIR/batch.log" || { cat "$B_DIR/batch.log" >&2; b_die "the batch failed"; }
[ "$(jq '[.tasks[] | select(.correct)] | length' "$B_DIR/batch.json")" = "$TASKS" ] ||
	b_die "not every output correct"
batch=$(jq -c --argjson q "$(jq '.tasks[].ms' "$B_DIR/batch.json" | b_stats)" \
	--argjson w "$(jq '.tasks[].work_ms' "$B_DIR/batch.json" | b_stats)" \
	'{tasks: (.tasks | length), wall_s, queued_to_done_ms: $q, worker_ms: $w,
	  by_worker: (.tasks | group_by(.vm) | map({vm: .[0].vm, tasks: length}))}' "$B_DIR/batch.json")
b_log "batch: $(jq -c '{tasks, wall_s, p50: .queued_to_done_ms.p50, work_p50: .worker_ms.p50}' <<<"$batch")"
b_stack_stop

# ---- one-shot ----------------------------------------------------------------
# master on the host side of the bridge (172.31.0.1), with its registry
ip netns exec "$B_NS" memcached -u root -l 127.0.0.1 -p 11299 -U 0 >/dev/null 2>&1 &
B_PIDS+=($!)
ip netns exec "$B_NS" "$MS" master --mc 127.0.0.1:11299 --port 8099 2>"$B_DIR/master.log" &
B_PIDS+=($!)
mkdir -p "$B_DIR/oneshot"
cat >"$B_DIR/oneshot/image.yaml" <<YAML
name: oneshot
binaries: [$MS]
cmd: ["$MS", fetch, "http://172.31.0.1:8099/hello"]
mem_mib: 80
YAML

oneshot() { # oneshot MODE: N runs, PAR at once → $B_DIR/MODE.ms
	local mode=$1 i n=0 t0 id p
	local -a runs=() alive
	: >"$B_DIR/$mode.sent"
	for ((i = 0; i < N; i++)); do
		while :; do # (memcached and master are jobs of this shell too: count ours)
			alive=()
			for p in "${runs[@]}"; do kill -0 "$p" 2>/dev/null && alive+=("$p"); done
			runs=("${alive[@]}")
			[ ${#runs[@]} -lt "$PAR" ] && break
			sleep 0.05
		done
		(
			t0=$(date +%s%3N)
			api POST /vm/run '{"image":"oneshot"}'
			[ "$API_STATUS" = 201 ] || { b_log "run: $API_STATUS $API_BODY"; exit 1; }
			id=$(jq -r .id <<<"$API_BODY")
			echo "$id $t0" >>"$B_DIR/$mode.sent"
			for _ in $(seq 600); do # the app exits, the guest powers off
				api GET "/vm/$id"
				case "$(jq -r .state <<<"$API_BODY")" in stopped|failed) exit 0 ;; esac
				sleep 0.1
			done
			api POST "/vm/$id/stop"
		) &
		runs+=($!)
	done
	for p in "${runs[@]}"; do wait "$p" || true; done
	ip netns exec "$B_NS" curl -s "http://172.31.0.1:8099/hellos" >"$B_DIR/$mode.hellos"
	# request → response, per VM that answered
	awk 'NR == FNR { sent[$1] = $2; next } ($1 in sent) { print $2 - sent[$1] }' \
		"$B_DIR/$mode.sent" "$B_DIR/$mode.hellos" >"$B_DIR/$mode.ms"
	n=$(wc -l <"$B_DIR/$mode.ms")
	[ "$n" = "$N" ] || b_log "$mode: $n of $N instances answered"
}

for mode in cold warm; do
	# the image first (a config whose pool names it loads only once it exists)
	conf=$(b_config "oneshot-$mode" mem=80)
	"$UICTL" --config "$conf" image build "$B_DIR/oneshot" >/dev/null || b_die "image build"
	[ $mode = cold ] || conf=$(b_config oneshot-warm mem=80 pool=$PAR warm=oneshot)
	b_stack_start "oneshot-$mode"
	[ $mode = warm ] && { b_wait_pool "$PAR" 300 || b_die "pool not filled"; }
	ip netns exec "$B_NS" curl -s -o /dev/null "http://172.31.0.1:8099/hellos" || b_die "master down"
	before=$(ip netns exec "$B_NS" curl -s "http://172.31.0.1:8099/hellos" | wc -l)
	oneshot $mode
	declare "r_$mode=$(b_stats <"$B_DIR/$mode.ms")"
	api GET /pool
	declare "pool_$mode=$API_BODY"
	b_log "oneshot $mode: $(jq -c '{n, mean, p50, p99}' <<<"$(eval echo \$r_$mode)")"
	b_stack_stop
done

b_write_result ms "$(jq -nc --argjson batch "$batch" \
	--argjson cold "$r_cold" --argjson warm "$r_warm" --argjson pool "$pool_warm" \
	--arg n "$N" --arg par "$PAR" '{batch: $batch,
	  oneshot: {instances: ($n | tonumber), at_once: ($par | tonumber),
	            request_to_response_ms: {cold: $cold, warm: $warm}, warm_pool: $pool},
	  cmd: "bench/run ms"}')"
