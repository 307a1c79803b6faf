#!/usr/bin/env bash
# part-control.sh — part 1: control-plane speed without guest boot. The stack
# runs the Firecracker driver against the contract fake
# (build/tests/fakes/firecracker: serves Firecracker's API, boots nothing, and
# exits ~50 ms after SendCtrlAltDel), so a run is all manager work. For each
# concurrency C: N run+stop cycles through the REST API (unix socket,
# bench/loadgen cycle), and the FLOOR: the same Firecracker API calls issued by
# a minimal client straight at the same fake (bench/loadgen floor: spawn,
# machine-config, network-interfaces/eth0, boot-source, InstanceStart;
# SendCtrlAltDel, wait for exit) — ours and the floor interleaved per C.
# Our run latency is broken into phases from the registry's event timestamps.
#
# Environment: BENCH_CP_N (1000 cycles), BENCH_CP_CONC ("1 16 64").
. "$(dirname "$0")/lib.sh"

N=${BENCH_CP_N:-1000}
CONC=${BENCH_CP_CONC:-1 16 64}
FAKE=$B_ROOT/build/tests/fakes/firecracker
CONTRACT=${FC_FAKE_CONTRACT:-$B_ROOT/../shared/reference/firecracker-api-v1.16.1.yaml}

b_need_root
B_HOST=$(b_host_json)
if [ ! -x "$FAKE" ] || [ ! -f "$B_ROOT/pool-worker/drv_firecracker.c" ] || [ ! -f "$CONTRACT" ]; then
	b_write_result control '{"skipped":"needs build/tests/fakes/firecracker, the firecracker driver and the API contract"}'
	exit 0
fi
b_snapshot_bins
cp "$FAKE" "$B_BIN/firecracker-fake"
export FC_FAKE_CONTRACT=$CONTRACT
b_netns
mkdir -p "$B_RUNDIR/floor"

runs='[]'
for c in $CONC; do
	name=cp-c$c
	b_config "$name" driver=firecracker fc="$B_BIN/firecracker-fake" >/dev/null
	b_stack_start "$name"
	b_loadgen cycle --unix "$B_SOCK" --image hello -n 20 -c "$c" >/dev/null || true # warm-up
	h0=$(b_health)
	ours=$(b_loadgen cycle --unix "$B_SOCK" --image hello -n "$N" -c "$c" --out "$B_DIR/$name.tsv") ||
		b_log "$name: errors"
	h1=$(b_health)
	phases=$(b_phases "$B_DIR/$name.tsv")
	b_stack_stop
	health=$(jq -n --argjson a "$h0" --argjson b "$h1" --argjson n "$N" '{
		write_tx_per_cycle: (if $b.commits then ((($b.commits - $a.commits) / $n) * 100 | round) / 100
				     else null end),
		restarts: $b.restarts, heartbeat_kills: $b.heartbeat_kills}')
	b_log "ours C=$c: $health"
	b_log "ours C=$c: $(jq -c '{runs_per_s, run_p50: .run_ms.p50, run_p99: .run_ms.p99, errors}' <<<"$ours")"
	b_loadgen floor --fc "$B_BIN/firecracker-fake" --dir "$B_RUNDIR/floor" --kernel "$B_GUEST/vmlinuz" \
		--initrd "$B_GUEST/initrd.cpio.gz" -n 20 -c "$c" >/dev/null || true # warm-up
	floor=$(b_loadgen floor --fc "$B_BIN/firecracker-fake" --dir "$B_RUNDIR/floor" --kernel "$B_GUEST/vmlinuz" \
		--initrd "$B_GUEST/initrd.cpio.gz" -n "$N" -c "$c") || b_log "floor C=$c: errors"
	rm -f "$B_RUNDIR/floor/"*
	b_log "floor C=$c: $(jq -c '{runs_per_s, run_p50: .run_ms.p50, run_p99: .run_ms.p99, errors}' <<<"$floor")"
	row=$(jq -n --argjson c "$c" --argjson o "$ours" --argjson f "$floor" --argjson ph "$phases" \
		--argjson h "$health" '
		def r(a; b): if b > 0 then ((a / b) * 100 | round) / 100 else null end;
		{concurrency:$c, ours:$o, floor:$f, ours_phases_ms:$ph, ours_health:$h,
		 ratio_ours_over_floor:{run_p50:r($o.run_ms.p50; $f.run_ms.p50),
			run_p99:r($o.run_ms.p99; $f.run_ms.p99),
			run_mean:r($o.run_ms.mean; $f.run_ms.mean),
			stop_p50:r($o.stop_ms.p50; $f.stop_ms.p50),
			runs_per_s:r($o.runs_per_s; $f.runs_per_s)}}')
	runs=$(jq --argjson r "$row" '. + [$r]' <<<"$runs")
done

b_write_result control "$(jq -n --argjson runs "$runs" --argjson n "$N" \
	'{config:{cycles_per_run:$n, driver:"firecracker (contract fake)", transport:"unix socket",
	   cycle:"POST /vm/run then POST /vm/{id}/stop, next; runs_per_s counts whole cycles"},
	  runs:$runs}')"
