#!/usr/bin/env bash
# part-pause.sh — pause and resume with a real guest (QEMU, TCG here), the
# hello image (ready_port 80), pool.boot ahead with pool.size 2:
#   rss        VmRSS of each pre-booted (paused) slot, from GET /pool;
#   roundtrip  a running VM: POST /vm/{id}/pause then POST /vm/{id}/resume,
#              the two calls' wall time together (curl), N cycles
#              (p50/p99), apid's own time for each (its log), and resume →
#              the guest's first HTTP answer;
#   clock      the guest's wall clock (GET /cgi-bin/time, "<sec>.<usec>")
#              minus the host's (the midpoint of the request) on a VM just
#              taken from a slot that waited paused, and before / after a
#              pause of BENCH_PAUSE_HOLD_S seconds: the drift a pause leaves,
#              and 2 s later, once the guest's clock agent (tools/guest/init:
#              the RTC, driven by the host's clock, is not paused) stepped it.
#
# Environment: BENCH_PAUSE_N (cycles, 20), BENCH_PAUSE_HOLD_S (5).
. "$(dirname "$0")/lib.sh"

N=${BENCH_PAUSE_N:-20}
HOLD=${BENCH_PAUSE_HOLD_S:-5}
b_need_root
B_HOST=$(b_host_json)
b_snapshot_bins
b_netns

now_ns() { date +%s%N; }
ms_since() { echo $(( ($(now_ns) - $1) / 1000 )) | awk '{printf "%.3f\n", $1 / 1000}'; }
# guest clock − host clock in ms (host: the request's midpoint)
# (a loaded host can make the guest's CGI slow: up to 5 tries of 10 s)
clock_offset_ms() {
	local t0 t1 g i
	for ((i = 0; i < 5; i++)); do
		t0=$(now_ns)
		g=$(ip netns exec "$B_NS" curl -s --max-time 10 "http://$1/cgi-bin/time") &&
			[[ $g =~ ^[0-9]+\.[0-9]+$ ]] && break
		g=
	done
	[ -n "$g" ] || return 1
	t1=$(now_ns)
	awk -v g="$g" -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f\n", g * 1000 - (a + b) / 2e6}'
}

b_config pause pool=2 boot=ahead ready_port=80 >/dev/null
b_stack_start pause
b_wait_pool 2 600 || b_die "pool not filled"
api GET /pool
rss=$(jq '[.paused[] | select(.kind == "slot") | .rss_kib]' <<<"$API_BODY")
b_log "paused slots' VmRSS (KiB): $(jq -c . <<<"$rss")"
sleep "$HOLD" # the slot waits paused
slot_wait_s=$HOLD
api POST /vm/run '{"image":"hello","wait":"ready"}'
[ "$API_STATUS" = 201 ] || b_die "run: $API_STATUS $API_BODY"
id=$(jq -r .id <<<"$API_BODY") ip=$(jq -r .ip <<<"$API_BODY")
slot_offset=$(clock_offset_ms "$ip") || b_die "guest clock unreadable"
sleep 2 # the guest's clock agent (tools/guest/init) steps it once a second
slot_later=$(clock_offset_ms "$ip") || b_die "guest clock unreadable"
b_log "VM $id taken from a slot (paused ≥ $slot_wait_s s): guest − host = $slot_offset ms, 2 s later $slot_later ms"

: >"$B_DIR/rt.ms"; : >"$B_DIR/answer.ms"
for ((i = 0; i < N; i++)); do
	t=$(now_ns)
	api POST "/vm/$id/pause"; [ "$API_STATUS" = 200 ] || b_die "pause: $API_BODY"
	api POST "/vm/$id/resume"; [ "$API_STATUS" = 200 ] || b_die "resume: $API_BODY"
	ms_since "$t" >>"$B_DIR/rt.ms"
	t=$(now_ns)
	ip netns exec "$B_NS" curl -s --max-time 5 "http://$ip/" >/dev/null || b_die "no answer after resume"
	ms_since "$t" >>"$B_DIR/answer.ms"
done
before=$(clock_offset_ms "$ip") || b_die "guest clock unreadable"
api POST "/vm/$id/pause"
sleep "$HOLD"
api POST "/vm/$id/resume"
after=$(clock_offset_ms "$ip") || b_die "guest clock unreadable"
sleep 2
later=$(clock_offset_ms "$ip") || b_die "guest clock unreadable"
drift=$(awk -v a="$after" -v b="$before" 'BEGIN {printf "%.1f\n", a - b}')
b_log "clock: guest − host before $before ms, after a $HOLD s pause $after ms (2 s later $later ms): drift $drift ms"
api POST "/vm/$id/stop"
# apid's own time per request (its log: "POST /vm/<id>/pause 200 2ms"):
# the round trip without curl's process start
for op in pause resume; do
	sed -n "s|.*apid\[[0-9]*\] info: POST /vm/$id/$op 200 \([0-9.]*\)ms\$|\1|p" "$B_LOG" \
		>"$B_DIR/apid-$op.ms"
done
apid_pause=$(b_stats <"$B_DIR/apid-pause.ms")
apid_resume=$(b_stats <"$B_DIR/apid-resume.ms")
health=$(b_health)
b_stack_stop
rt=$(b_stats <"$B_DIR/rt.ms")
ans=$(b_stats <"$B_DIR/answer.ms")
b_log "pause→resume round trip $(jq -c '{n, p50, p99}' <<<"$rt")  resume→HTTP answer $(jq -c '{n, p50, p99}' <<<"$ans")"
b_log "apid: pause $(jq -c '{n, p50, p99}' <<<"$apid_pause")  resume $(jq -c '{n, p50, p99}' <<<"$apid_resume")"
b_write_result pause "$(jq -n --argjson rt "$rt" --argjson ans "$ans" --argjson rss "$rss" \
	--argjson n "$N" --argjson hold "$HOLD" --argjson so "$slot_offset" --argjson sl "$slot_later" --argjson b "$before" \
	--argjson a "$after" --argjson l "$later" --argjson d "$drift" --argjson h "$health" \
	--argjson ap "$apid_pause" --argjson ar "$apid_resume" '
	{config:{driver:"qemu (TCG)", image:"hello (ready_port 80)", pool_size:2, pool_boot:"ahead",
	         cycles:$n, hold_s:$hold},
	 paused_slot_rss_kib:$rss, pause_resume_roundtrip_ms:$rt, resume_to_http_answer_ms:$ans,
	 apid_pause_ms:$ap, apid_resume_ms:$ar,
	 clock:{slot_taken_after_s:$hold, slot_guest_minus_host_ms:$so, slot_two_s_later_ms:$sl,
	        before_pause_ms:$b, after_pause_ms:$a, two_s_later_ms:$l, drift_ms:$d},
	 health:$h}')"
