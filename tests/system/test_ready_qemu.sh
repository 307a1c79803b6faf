#!/usr/bin/env bash
# Readiness with a real guest (QEMU, TCG): the hello image's rule is its
# HTTP port (ready_port: 80). A run with "wait": "ready" answers 201 only
# once the guest's app accepts, so the very first request to it, made once,
# right after the 201, is answered; ready_at and boot_ms say when.
. "$(dirname "$0")/lib.sh"

st_write_config
sed -i 's/^    mem_mib: 128$/    mem_mib: 128\n    ready_port: 80/' "$ST_CONF"
grep -q "ready_port: 80" "$ST_CONF" || st_fail "config not edited"
st_start

api POST /vm/run '{"image":"hello","wait":"ready"}'
st_expect 201 "run with wait ready"
id=$(json .id) ip=$(json .ip)
body=$(ip netns exec "$ST_NS" curl -s --max-time 5 "http://$ip/") ||
	st_fail "the guest did not answer its first request after the 201"
grep -q "$id" <<<"$body" || st_fail "guest answered: $body"
[ "$(json .ready_at)" != null ] || st_fail "ready_at: $API_BODY"
st_log "boot_ms $(json .boot_ms) (request → port 80 accepts)"
[ "$(st_sql "select detail from events where vm_id = '$id' and kind = 'ready'")" = "port 80 accepts" ] ||
	st_fail "events: $(st_sql "select kind, detail from events where vm_id = '$id'")"
api POST "/vm/$id/stop"
st_expect 200 "stop"
st_pass
