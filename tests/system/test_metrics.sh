#!/usr/bin/env bash
# GET /metrics (Firecracker fake, a warm pool of one): the Prometheus text
# exposition passes `promtool check metrics`, and its values are what was
# done:
#   - three runs (the first one takes the warm slot, two of another shape
#     start cold), two stops, one VMM killed: runs_total cold 2, warm 1 =
#     GET /pool's hits, stops 2,
#     failures_total{reason="vmm_exit"} 1 and no other reason; the run and
#     boot and ready ("wait": "ready") phases observed 3 times, lease and
#     spawn twice (cold only); VMs
#     by state as the registry has them;
#   - registry writes of pool-worker and netd observed;
#   - pool-worker killed: its restart is counted, and runs/stops/failures
#     are still there (they live in shm).
ST_DRIVER=firecracker
ST_NEED_GUEST=0
. "$(dirname "$0")/lib.sh"

command -v promtool >/dev/null || { echo "skip: promtool (Debian: prometheus) not installed"; exit 77; }
st_fc_fake
export FC_FAKE_CONSOLE_ON_START="APP-READY: listening"
ST_VMM_EXTRA="$ST_VMM_EXTRA
pool:
  size: 1
  warm_image: fc"
ST_IMAGES_EXTRA="$ST_IMAGES_EXTRA
    ready_pattern: APP-READY"
st_start

# metric NAME{LABELS}: its value in $API_BODY (a scrape); "" when absent.
metric() { awk -v k="$1" '$1 == k { print $2 }' <<<"$API_BODY"; }
scrape() {
	api GET /metrics "" -D "$ST_DIR/metrics.hdr"
	st_expect 200 "GET /metrics"
	promtool check metrics <<<"$API_BODY" >"$ST_DIR/promtool.out" 2>&1 ||
		st_fail "promtool check metrics: $(cat "$ST_DIR/promtool.out")"
}

st_wait_pool 1
ids=()
# the first takes the warm slot; a shape no slot has starts cold
for body in '{"image":"fc","wait":"ready"}' '{"image":"fc","mem_mib":256,"wait":"ready"}' \
	    '{"image":"fc","mem_mib":256,"wait":"ready"}'; do
	api POST /vm/run "$body"
	st_expect 201 "run $body"
	ids+=("$(json .id)")
done
api POST "/vm/${ids[0]}/stop"
st_expect 200 "stop 1"
api POST "/vm/${ids[1]}/stop"
st_expect 200 "stop 2"
pid=$(sql "select vmm_pid from vms where id = '${ids[2]}'")
kill -9 "$pid"
st_wait_vm "${ids[2]}" failed
st_wait_pool 1
api GET /pool
hits=$(json .hits) misses=$(json .misses)
[ "$hits" = 1 ] || st_fail "not one pool hit: $API_BODY"

scrape
grep -qi '^content-type: text/plain; version=0.0.4' "$ST_DIR/metrics.hdr" ||
	st_fail "content type: $(cat "$ST_DIR/metrics.hdr")"
cold=$(metric 'uigniter_runs_total{origin="cold"}')
warm=$(metric 'uigniter_runs_total{origin="warm"}')
[ "$cold" = 2 ] && [ "$warm" = 1 ] || st_fail "runs_total cold $cold, warm $warm"
[ "$warm" = "$hits" ] || st_fail "runs_total{warm} $warm, pool hits $hits"
[ "$(metric uigniter_pool_hits_total)" = "$hits" ] &&
[ "$(metric uigniter_pool_misses_total)" = "$misses" ] ||
	st_fail "pool hits/misses: $(grep '^uigniter_pool' <<<"$API_BODY")"
[ "$(metric uigniter_stops_total)" = 2 ] || st_fail "stops_total $(metric uigniter_stops_total)"
[ "$(metric 'uigniter_failures_total{reason="vmm_exit"}')" = 1 ] ||
	st_fail "failures{vmm_exit}: $(grep '^uigniter_failures_total' <<<"$API_BODY")"
[ "$(grep '^uigniter_failures_total' <<<"$API_BODY" | awk '{s += $2} END {print s}')" = 1 ] ||
	st_fail "failures: $(grep '^uigniter_failures_total' <<<"$API_BODY")"
for p in run boot ready; do
	[ "$(metric "uigniter_vm_phase_seconds_count{phase=\"$p\"}")" = 3 ] ||
		st_fail "phase $p: $(grep "phase=\"$p\"" <<<"$API_BODY")"
	[ "$(metric "uigniter_vm_phase_seconds_bucket{phase=\"$p\",le=\"+Inf\"}")" = 3 ] ||
		st_fail "phase $p +Inf bucket"
done
for p in lease spawn; do
	[ "$(metric "uigniter_vm_phase_seconds_count{phase=\"$p\"}")" = 2 ] ||
		st_fail "phase $p (the cold runs): $(grep "phase=\"$p\"" <<<"$API_BODY")"
done
for s in running stopped failed warm; do
	want=$(sql "select count(*) from vms where state = '$s'")
	[ "$(metric "uigniter_vms{state=\"$s\"}")" = "$want" ] ||
		st_fail "vms{state=$s}: $(metric "uigniter_vms{state=\"$s\"}"), registry $want"
done
[ "$(metric 'uigniter_vms{state="stopped"}')" = 2 ] || st_fail "stopped VMs"
[ "$(metric uigniter_pool_size)" = 1 ] && [ "$(metric uigniter_pool_ready)" = 1 ] ||
	st_fail "pool gauges: $(grep '^uigniter_pool' <<<"$API_BODY")"
for d in pool-worker netd; do
	n=$(metric "uigniter_registry_write_seconds_count{daemon=\"$d\"}")
	[ -n "$n" ] && [ "$n" -gt 0 ] || st_fail "registry writes of $d: '$n'"
done
[ "$(grep -c '^uigniter_ring_depth{' <<<"$API_BODY")" = 4 ] || st_fail "ring depths"
[ "$(metric 'uigniter_daemon_restarts_total{daemon="pool-worker"}')" = 0 ] ||
	st_fail "restarts before any"
[ "$(metric 'uigniter_daemon_up{daemon="apid"}')" = 1 ] || st_fail "apid up"

# pool-worker restarts: counted; the shm counters stay
kill -9 "$(st_daemon_pid pool-worker)"
for _ in $(seq 100); do
	api GET /healthz
	[ "$API_STATUS" = 200 ] && [ "$(json '.daemons["pool-worker"]')" = up ] && break
	sleep 0.2
done
scrape
[ "$(metric 'uigniter_daemon_restarts_total{daemon="pool-worker"}')" = 1 ] ||
	st_fail "pool-worker restart not counted: $(grep restarts <<<"$API_BODY")"
[ "$(( $(metric 'uigniter_runs_total{origin="cold"}') + $(metric 'uigniter_runs_total{origin="warm"}') ))" = 3 ] ||
	st_fail "runs_total after the restart: $(grep '^uigniter_runs_total' <<<"$API_BODY")"
[ "$(metric uigniter_stops_total)" = 2 ] || st_fail "stops_total after the restart"
[ "$(metric 'uigniter_failures_total{reason="vmm_exit"}')" = 1 ] || st_fail "failures after the restart"

api POST /metrics ''
st_expect 405 "POST /metrics"
st_pass
