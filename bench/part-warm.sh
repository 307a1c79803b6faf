#!/usr/bin/env bash
# part-warm.sh — warm pool vs cold start, run latency (request → 201: the
# reply is sent once InstanceStart is acknowledged / the paused QEMU is
# resumed), measured in one run: blocks of cycles alternate cold (pool.size
# 0) and warm (pool.size 4, warm_image hello) stacks, so drift on this noisy
# host hits both alike. Firecracker contract fake, so guest boot is not in
# the figure; for real QEMU guests see part 2 (API answer p50 with and
# without the pool) and docs/BENCHMARKS.md.
#
# Then the burst: a pool of BENCH_BURST (64) slots, and that many runs sent
# at once (64 concurrent clients, one run+stop each); BENCH_BURST_ROUNDS (5)
# bursts, the pool refilled between them; run latency p50/p99 over all —
# beside its floor, in the same run: 64 fakes configured straight by
# loadgen (as a warm slot is), then all 64 InstanceStarts at once
# (loadgen floor --warm).
#
# Environment: BENCH_WARM_N (cycles per block, 100), BENCH_WARM_BLOCKS (3),
# BENCH_BURST (64), BENCH_BURST_ROUNDS (5).
. "$(dirname "$0")/lib.sh"

N=${BENCH_WARM_N:-100}
BLOCKS=${BENCH_WARM_BLOCKS:-3}
FAKE=$B_ROOT/build/tests/fakes/firecracker
CONTRACT=${FC_FAKE_CONTRACT:-$B_ROOT/../shared/reference/firecracker-api-v1.16.1.yaml}

b_need_root
B_HOST=$(b_host_json)
[ -x "$FAKE" ] && [ -f "$CONTRACT" ] || b_die "needs $FAKE and $CONTRACT"
b_snapshot_bins
cp "$FAKE" "$B_BIN/firecracker-fake"
export FC_FAKE_CONTRACT=$CONTRACT
b_netns

: >"$B_DIR/cold.ms"
: >"$B_DIR/warm.ms"
pool_after='{}'
for ((blk = 0; blk < BLOCKS; blk++)); do
	for mode in cold warm; do
		name=warm-$mode-$blk
		size=0; [ $mode = warm ] && size=4
		b_config "$name" driver=firecracker fc="$B_BIN/firecracker-fake" pool=$size >/dev/null
		b_stack_start "$name"
		[ $mode = warm ] && { b_wait_pool 4 20 || b_log "$name: pool not filled"; }
		b_loadgen cycle --unix "$B_SOCK" --image hello -n "$N" -c 1 --out "$B_DIR/$name.tsv" >/dev/null ||
			b_log "$name: errors"
		# tsv (loadgen): id ip t0 run_ms http_ms stop_ms status.
		awk -F'\t' '$7 == "ok" {print $4}' "$B_DIR/$name.tsv" >>"$B_DIR/$mode.ms"
		if [ $mode = warm ]; then api GET /pool; pool_after=$API_BODY; fi
		b_stack_stop
	done
done
BURST=${BENCH_BURST:-64}
ROUNDS=${BENCH_BURST_ROUNDS:-5}
: >"$B_DIR/burst.ms"
b_config burst driver=firecracker fc="$B_BIN/firecracker-fake" pool="$BURST" >/dev/null
b_stack_start burst
for ((r = 0; r < ROUNDS; r++)); do
	b_wait_pool "$BURST" 120 || b_log "burst $r: pool not filled"
	b_loadgen cycle --unix "$B_SOCK" --image hello -n "$BURST" -c "$BURST" \
		--out "$B_DIR/burst-$r.tsv" >/dev/null || b_log "burst $r: errors"
	awk -F'\t' '$7 == "ok" {print $4}' "$B_DIR/burst-$r.tsv" >>"$B_DIR/burst.ms"
done
api GET /pool
burst_pool=$API_BODY
burst_health=$(b_health)
b_stack_stop
burst=$(b_stats <"$B_DIR/burst.ms")
: >"$B_DIR/burst-floor.ms"
mkdir -p "$B_RUNDIR/floor"
for ((r = 0; r < ROUNDS; r++)); do
	b_loadgen floor --warm --fc "$B_BIN/firecracker-fake" --dir "$B_RUNDIR/floor" \
		--kernel "$B_GUEST/vmlinuz" --initrd "$B_GUEST/initrd.cpio.gz" -n "$BURST" -c "$BURST" \
		--out "$B_DIR/burst-floor-$r.tsv" >/dev/null || b_log "burst floor $r: errors"
	awk -F'\t' '$7 == "ok" {print $4}' "$B_DIR/burst-floor-$r.tsv" >>"$B_DIR/burst-floor.ms"
	rm -f "$B_RUNDIR/floor/"*
done
burst_floor=$(b_stats <"$B_DIR/burst-floor.ms")
b_log "burst of $BURST x $ROUNDS: $(jq -c '{n, p50, p99}' <<<"$burst") pool: $burst_pool"
b_log "burst floor: $(jq -c '{n, p50, p99}' <<<"$burst_floor")"


cold=$(b_stats <"$B_DIR/cold.ms")
warm=$(b_stats <"$B_DIR/warm.ms")
b_log "cold: $(jq -c '{n, p50, p99}' <<<"$cold")  warm: $(jq -c '{n, p50, p99}' <<<"$warm")  pool: $pool_after"
b_write_result warm "$(jq -n --argjson c "$cold" --argjson w "$warm" --argjson p "$pool_after" \
	--argjson n "$N" --argjson b "$BLOCKS" --argjson bu "$burst" --argjson bp "$burst_pool" \
	--argjson bh "$burst_health" --argjson bn "$BURST" --argjson br "$ROUNDS" \
	--argjson bf "$burst_floor" '
	def r(a; b): if b > 0 then ((a / b) * 100 | round) / 100 else null end;
	{config:{driver:"firecracker (contract fake)", cycles_per_block:$n, blocks_each:$b,
	  concurrency:1, warm_pool:{size:4, warm_image:"hello"}},
	 cold_run_ms:$c, warm_run_ms:$w, last_warm_pool:$p,
	 burst:{pool_size:$bn, concurrent_runs:$bn, rounds:$br, run_ms:$bu, pool_after:$bp,
		health:$bh, floor_run_ms:$bf,
		ratio_over_floor:{p50:r($bu.p50; $bf.p50), p99:r($bu.p99; $bf.p99)}},
	 ratio_warm_over_cold:{p50:r($w.p50; $c.p50), p99:r($w.p99; $c.p99)}}')"
