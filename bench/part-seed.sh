#!/usr/bin/env bash
# part-seed.sh — part 2: the seed's test with real guests. Starts N `hello`
# VMs through the API (qemu driver, TCG) at most C at a time and measures, per
# VM, POST /vm/run → the guest's first HTTP answer "hello from <id>"; then
# stops them all and measures the stops. Once with pool size 0, once with
# the warm pool (pool.boot prepared: VMMs paused before the guest's first
# instruction) and once with a pool booted ahead (slots booted until port 80
# accepts, then paused; refilled one boot at a time) — each skipped, and
# said so, if its pool does not fill. With N > pool size the ahead run is
# also the burst case: what the refill sustains once the ready slots are
# taken (runs that find none start cold, counted as misses). A fourth way,
# snapshot (not in the default list), is the ahead run with its slots
# restored from a saved template (pool.boot snapshot: ~1 CPU-s a slot
# instead of a boot's ~4): what that refill sustains in the same burst.
#
# Environment: BENCH_SEED_N (100), BENCH_SEED_C (4), BENCH_STOP_C (10),
# BENCH_POOL_SIZE (16), BENCH_MEM_MIB (80), BENCH_POLL_MS (20),
# BENCH_SEED_MODES ("cold warm ahead"; also "snapshot"), BENCH_READY_HTTP (the
# hello image's ready_http, "/"; empty: the port rule only).
. "$(dirname "$0")/lib.sh"

N=${BENCH_SEED_N:-100}
C=${BENCH_SEED_C:-4}
STOP_C=${BENCH_STOP_C:-10}
POOL=${BENCH_POOL_SIZE:-16}
POLL_MS=${BENCH_POLL_MS:-20}

b_need_root
N_ASKED=$N
N=$(b_fit "$N" $(( ${BENCH_MEM_MIB:-80} + 120 )))
[ "$N" -eq "$N_ASKED" ] || b_log "only $N VMs fit in memory (asked $N_ASKED)"
b_snapshot_bins
b_netns
B_HOST=$(b_host_json)

# seed_run NAME POOL_SIZE [BOOT] → $B_DIR/NAME.json (not in a subshell: the
# stack's pid must stay visible to the cleanup trap)
seed_run() {
	local name=$1 pool=$2 boot_mode=${3:-prepared} tsv=$B_DIR/$1.boot.tsv stsv=$B_DIR/$1.stop.tsv
	local boot stop phases cpu0 cpu1 busy pool_before='null' pool_after='null' live fill=180
	b_config "$name" pool="$pool" boot="$boot_mode" ready_port=80 ready_http="${BENCH_READY_HTTP-/}" >/dev/null
	b_stack_start "$name"
	case $boot_mode in ahead | snapshot) fill=$((60 + pool * 30)) ;; esac # one boot at a time
	if [ "$pool" -gt 0 ]; then
		if ! b_wait_pool "$pool" "$fill"; then
			api GET /pool
			b_log "warm pool did not fill ($API_BODY): skipped"
			jq -n --argjson p "$pool" --arg pool "$API_BODY" \
				--arg b "$boot_mode" \
				'{pool_size:$p, pool_boot:$b, skipped:"the pool did not report its ready slots in time", pool_table:$pool}' \
				>"$B_DIR/$name.json"
			b_stack_stop
			return 0
		fi
		api GET /pool; pool_before=$API_BODY
	fi
	b_log "$name: starting $N VMs, at most $C at a time"
	cpu0=$(b_cpu_sample)
	boot=$(b_loadgen boot --unix "$B_SOCK" --image hello -n "$N" -c "$C" \
		--poll-ms "$POLL_MS" --out "$tsv") || b_log "$name: some VMs failed (see errors)"
	cpu1=$(b_cpu_sample)
	busy=$(b_cpu_busy_pct "$cpu0" "$cpu1")
	b_log "$name: boot $boot (host CPU busy $busy%)"
	[ "$pool" -gt 0 ] && { api GET /pool; pool_after=$API_BODY; }
	phases=$(b_phases "$tsv")
	awk -F'\t' '$1 != "-" {print $1}' "$tsv" >"$B_DIR/$name.ids" # ours, not warm slots
	live=$(grep -c . "$B_DIR/$name.ids" || true)
	b_log "$name: stopping $live VMs, at most $STOP_C at a time"
	stop='{"items":0}'
	[ "$live" -gt 0 ] && { stop=$(b_loadgen stop --unix "$B_SOCK" --targets "$B_DIR/$name.ids" \
		-c "$STOP_C" --out "$stsv") || b_log "$name: some stops failed"; }
	b_log "$name: stop $stop"
	b_stack_stop
	jq -n --argjson p "$pool" --argjson boot "$boot" --argjson stop "$stop" \
		--argjson phases "$phases" --argjson busy "$busy" --arg bm "$boot_mode" \
		--argjson pb "$pool_before" --argjson pa "$pool_after" \
		'{pool_size:$p, pool_boot:$bm, boot:$boot, phases_ms:$phases, host_cpu_busy_pct_during_boot:$busy,
		  stop:$stop, pool_table_before:$pb, pool_table_after:$pa}' >"$B_DIR/$name.json"
}

runs=()
for mode in ${BENCH_SEED_MODES:-cold warm ahead}; do
	case $mode in
	cold) seed_run seed-pool0 0; runs+=("$B_DIR/seed-pool0.json") ;;
	warm) seed_run seed-pool"$POOL" "$POOL"; runs+=("$B_DIR/seed-pool$POOL.json") ;;
	ahead) seed_run seed-ahead"$POOL" "$POOL" ahead; runs+=("$B_DIR/seed-ahead$POOL.json") ;;
	snapshot) seed_run seed-snapshot"$POOL" "$POOL" snapshot; runs+=("$B_DIR/seed-snapshot$POOL.json") ;;
	*) b_die "BENCH_SEED_MODES: unknown mode $mode (cold warm ahead snapshot)" ;;
	esac
done
b_write_result seed "$(jq -s --argjson n "$N" --argjson c "$C" --argjson sc "$STOP_C" \
	--argjson mem "${BENCH_MEM_MIB:-80}" --argjson poll "$POLL_MS" \
	--argjson asked "$N_ASKED" \
	'{config:{vms:$n, vms_asked:$asked, launch_concurrency:$c, stop_concurrency:$sc, mem_mib:$mem,
	   poll_interval_ms:$poll, driver:"qemu", guest:"build/guest (Debian cloud kernel + busybox initrd)"},
	  seed_reference:{mean_ms:163, setup:"Firecracker + OSv on KVM"},
	  runs:.}' "${runs[@]}")"
