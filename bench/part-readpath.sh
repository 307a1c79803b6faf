#!/usr/bin/env bash
# part-readpath.sh — part 5: the API's read path. GET /healthz (shm only) and
# GET /vm/{id} (one registry read) over TCP with wrk (inside the namespace,
# 127.0.0.1:6666), and over the unix socket and TCP with loadgen's get mode
# (libcurl multi, keep-alive) — the same client on both transports, so the
# transport difference is not a client difference. Requests/s and p50/p99.
#
# Environment: BENCH_RP_SECONDS (10), BENCH_RP_CONNS ("1 16 64").
. "$(dirname "$0")/lib.sh"

SECS=${BENCH_RP_SECONDS:-10}
CONNS=${BENCH_RP_CONNS:-1 16 64}

b_need_root
command -v wrk >/dev/null || b_die "wrk is not installed (bench/run installs it)"
b_snapshot_bins
b_netns
B_HOST=$(b_host_json)

b_config readpath >/dev/null
b_stack_start readpath
# One VM, then stopped: its row is what GET /vm/{id} reads; no guest burns
# CPU during the measurement.
api POST /vm/run '{"image":"hello"}'
[ "$API_STATUS" = 201 ] || b_die "run: $API_STATUS $API_BODY"
ID=$(jq -r .id <<<"$API_BODY")
api POST "/vm/$ID/stop"
[ "$API_STATUS" = 200 ] || b_die "stop: $API_STATUS $API_BODY"

# wrk's text → {"requests_per_s", "p50_ms", "p99_ms", "errors"}
wrk_json() {
	awk '
	function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0;
			 if (v ~ /s$/) return v * 1000; return v }
	/^ +50%/ { p50 = ms($2) } /^ +90%/ { p90 = ms($2) } /^ +99%/ { p99 = ms($2) }
	/^Requests\/sec:/ { rps = $2 }
	/Non-2xx or 3xx responses:/ { err += $NF }
	/Socket errors:/ { for (i = 3; i <= NF; i++) if ($i ~ /^[0-9]+,?$/) err += $i }
	END { printf "{\"requests_per_s\":%.0f,\"p50_ms\":%.3f,\"p90_ms\":%.3f,\"p99_ms\":%.3f,\"errors\":%d}\n",
		rps, p50, p90, p99, err }'
}

rows='[]'
for path in /healthz "/vm/$ID"; do
	label=${path/$ID/\{id\}}
	for c in $CONNS; do
		w=$(ip netns exec "$B_NS" wrk -t1 -c"$c" -d"${SECS}s" --latency \
			-H "Authorization: Bearer $(cat "$B_STATE/api.token")" "http://127.0.0.1:6666$path" | wrk_json)
		u=$(b_loadgen get --unix "$B_SOCK" --path "$path" -c "$c" -d "$SECS")
		t=$(b_loadgen get --tcp 127.0.0.1:6666 --token-file "$B_STATE/api.token" --path "$path" -c "$c" -d "$SECS")
		row=$(jq -n --arg p "$label" --argjson c "$c" --argjson w "$w" --argjson u "$u" --argjson t "$t" '
			def lg(x): {requests_per_s:x.requests_per_s, p50_ms:x.latency_ms.p50,
				    p90_ms:x.latency_ms.p90, p99_ms:x.latency_ms.p99, errors:x.errors};
			{path:$p, connections:$c, wrk_tcp:$w, loadgen_unix:lg($u), loadgen_tcp:lg($t)}')
		b_log "$(jq -c '{path, connections, wrk: .wrk_tcp.requests_per_s, unix: .loadgen_unix.requests_per_s, tcp: .loadgen_tcp.requests_per_s}' <<<"$row")"
		rows=$(jq --argjson r "$row" '. + [$r]' <<<"$rows")
	done
done
b_stack_stop

b_write_result readpath "$(jq -n --argjson rows "$rows" --argjson s "$SECS" \
	'{config:{seconds_per_run:$s, wrk:"wrk -t1 -cC --latency over TCP 127.0.0.1:6666 (in the namespace)",
	   loadgen:"bench/loadgen get: libcurl multi, C keep-alive connections, one thread"},
	  runs:$rows}')"
