#!/usr/bin/env bash
# Three hello VMs run concurrently through the API; each answers HTTP from its
# own IP through the bridge; the list shows them; stopping them leaves no
# qemu process, no tap, no lease, and registry rows that say stopped.
. "$(dirname "$0")/lib.sh"
st_start

ids=() ips=() clients=()
for i in 1 2 3; do
	curl -sS --max-time 120 --unix-socket "$ST_SOCK" -X POST \
		-d "{\"image\":\"hello\",\"name\":\"web$i\"}" -w '\n%{http_code}' \
		http://uigniter/vm/run >"$ST_DIR/run$i.out" &
	clients+=($!)
done
wait "${clients[@]}"
for i in 1 2 3; do
	out=$(cat "$ST_DIR/run$i.out")
	API_STATUS=${out##*$'\n'} API_BODY=${out%$'\n'*}
	st_expect 201 "run web$i"
	[ "$(json .state)" = running ] || st_fail "web$i state $(json .state)"
	[ "$(json .name)" = "web$i" ] || st_fail "web$i name $(json .name)"
	ids+=("$(json .id)") ips+=("$(json .ip)")
	[[ "$(json .mac)" =~ ^06:00:ac:1f:00:[0-9a-f]{2}$ ]] || st_fail "mac $(json .mac)"
done
st_log "running: ${ids[*]} at ${ips[*]}"
[ "$(printf '%s\n' "${ips[@]}" | sort -u | wc -l)" = 3 ] || st_fail "IPs not distinct: ${ips[*]}"

for i in 0 1 2; do
	body=$(st_guest_http "${ips[$i]}") || st_fail "guest ${ids[$i]} at ${ips[$i]} never answered HTTP"
	[ "$body" = "hello from ${ids[$i]}" ] || st_fail "guest ${ips[$i]} answered '$body'"
	st_log "${ips[$i]} answers: $body"
done

api GET /vm
st_expect 200 "list"
[ "$(jq '[.vms[] | select(.state == "running")] | length' <<<"$API_BODY")" = 3 ] ||
	st_fail "list does not show 3 running VMs: $API_BODY"
api GET "/vm?state=running"
[ "$(jq '.vms | length' <<<"$API_BODY")" = 3 ] || st_fail "state filter: $API_BODY"
api GET "/vm/${ids[0]}"
st_expect 200 "get"
[ "$(json .ip)" = "${ips[0]}" ] || st_fail "get ip"

pids=$(st_vmm_pids)
[ "$(wc -w <<<"$pids")" = 3 ] || st_fail "expected 3 vmm pids, got: $pids"
[ "$(st_sql 'select count(*) from leases')" = 3 ] || st_fail "expected 3 leases"
# Each VM's tap exists, on the bridge (netd's spare taps may be there too).
on_bridge=$(ip -n "$ST_NS" -br link show master uigt0 | awk '{sub(/@.*/, "", $1); print $1}')
for tap in $(st_sql 'select tap from leases'); do
	grep -qx "$tap" <<<"$on_bridge" || st_fail "tap $tap of a VM is not on the bridge"
done

for id in "${ids[@]}"; do
	api POST "/vm/$id/stop"
	st_expect 200 "stop $id"
	[ "$(json .state)" = stopped ] || st_fail "stop $id: state $(json .state)"
	[ -n "$(json '.stopped_at // empty')" ] || st_fail "stop $id: no stopped_at"
done
# A second stop of a stopped VM is not an error.
api POST "/vm/${ids[0]}/stop"
st_expect 200 "second stop"

for pid in $pids; do
	kill -0 "$pid" 2>/dev/null && st_fail "qemu pid $pid still alive after stop"
done
[ -z "$(st_unowned_taps | tr -d ' ')" ] || st_fail "taps left: $(st_unowned_taps)"
[ "$(st_sql 'select count(*) from leases')" = 0 ] || st_fail "leases left"
[ "$(st_sql "select count(*) from vms where state = 'stopped' and stopped_at is not null")" = 3 ] ||
	st_fail "registry rows: $(st_sql 'select id,state,stopped_at from vms')"
st_log "registry: $(st_sql 'select id,state,ip,stopped_at from vms' | tr '\n' ' ')"
st_pass
