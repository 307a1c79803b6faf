#!/usr/bin/env bash
# pool.boot: ahead with a real guest (QEMU, TCG): a slot boots the hello
# image until its app accepts on port 80, then is paused (QMP stop); a run
# takes it (QMP cont) and its 201 — "wait": "ready" included — comes without
# a boot: the first request to the guest, made once right after, is
# answered by the slot's guest, under the VM's id (the slot's). The image's
# ready rule is ready_http: / on port 80: the slot counts as ready once GET /
# answers 200 (its app's request path run once before the pause), and
# GET /images shows the rule.
. "$(dirname "$0")/lib.sh"

ST_VMM_EXTRA="pool:
  size: 1
  warm_image: hello
  boot: ahead"
st_write_config
sed -i 's|^    mem_mib: 128$|    mem_mib: 128\n    ready_port: 80\n    ready_http: /|' "$ST_CONF"
st_start
api GET /images
st_expect 200 "images"
[ "$(jq -c '.images[] | select(.name == "hello") | .ready' <<<"$API_BODY")" = '{"port":80,"http":"/"}' ] ||
	st_fail "GET /images: the hello image's ready rule: $API_BODY"

for _ in $(seq 300); do
	api GET /pool
	[ "$(json .ready)" = 1 ] && break
	sleep 0.2
done
[ "$(json .ready)" = 1 ] || st_fail "no pre-booted slot: $API_BODY"
slot=$(st_sql "select id from vms where state = 'warm'")
grep -q "warm slot ready (GET / answered 200): pausing it" "$ST_LOG" || st_fail "slot not readied by GET /"
pid=$(st_sql "select vmm_pid from vms where id = '$slot'")

start=$(date +%s%N)
api POST /vm/run '{"image":"hello","wait":"ready"}'
ms=$(( ($(date +%s%N) - start) / 1000000 ))
st_expect 201 "run on a pre-booted slot"
id=$(json .id) ip=$(json .ip)
[ "$id" = "$slot" ] || st_fail "the run did not take the slot ($slot): $API_BODY"
[ "$(st_sql "select vmm_pid from vms where id = '$id'")" = "$pid" ] || st_fail "another VMM"
body=$(ip netns exec "$ST_NS" curl -s --max-time 5 "http://$ip/") ||
	st_fail "the resumed guest did not answer its first request"
grep -q "$id" <<<"$body" || st_fail "guest answered: $body"
st_log "run → 201 in $ms ms on a pre-booted slot; boot_ms $(json .boot_ms)"
api POST "/vm/$id/stop"
st_expect 200 "stop of the resumed VM"
[ "$(json .state)" = stopped ] || st_fail "stop: $API_BODY"
st_pass
