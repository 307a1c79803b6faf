#!/usr/bin/env bash
# A run is answered from pool-worker's reply, which carries the VM's row as
# committed (UI_REPLY_VM, shared/ring_vm.h), not from a registry read
# (Firecracker fake, pool.size 1 with its warm image):
#   - a warm run and a cold one: the 201's body is byte for byte what a GET
#     right after it answers (read-your-writes: running, the same pid,
#     started_at), the pid is a live process, and GET /metrics counts the
#     answers as taken from the reply, none from the registry;
#   - a replay (the same Idempotency-Key) answers 200 with the same VM,
#     read from the registry (counted so); a stop too;
#   - nothing left after the stops.
ST_DRIVER=firecracker
ST_NEED_GUEST=0
. "$(dirname "$0")/lib.sh"

st_fc_fake
st_write_config
printf 'pool:\n  size: 1\n  warm_image: fc\n' >>"$ST_CONF"
st_start

# answers FROM: uigniter_api_vm_answers_total{from=FROM}
answers() {
	api GET /metrics
	st_expect 200 "metrics"
	awk -v k="uigniter_api_vm_answers_total{from=\"$1\"}" '$1 == k {print $2}' <<<"$API_BODY"
}

# run_checked WHAT BODY [curl args]: a 201 equal to the GET that follows.
run_checked() {
	local what=$1 body=$2 run get id pid
	shift 2
	api POST /vm/run "$body" "$@"
	st_expect 201 "$what"
	run=$API_BODY
	id=$(json .id)
	pid=$(json .pid)
	[ "$(json .state)" = running ] || st_fail "$what: state $(json .state)"
	[ "$(json .started_at)" != null ] || st_fail "$what: no started_at: $run"
	api GET "/vm/$id"
	st_expect 200 "GET after $what"
	get=$API_BODY
	[ "$run" = "$get" ] || st_fail "$what: the 201 and the GET differ:
run: $run
get: $get"
	kill -0 "$pid" 2>/dev/null || st_fail "$what: pid $pid is not a process"
	RUN_ID=$id
}

st_wait_pool 1
[ "$(answers reply)" = 0 ] && [ "$(answers registry)" = 0 ] ||
	st_fail "answers before any run: reply $(answers reply), registry $(answers registry)"

run_checked "warm run" '{"image":"fc","name":"warm-one"}'
warm=$RUN_ID
api GET /pool
[ "$(json .hits)" = 1 ] || st_fail "the run missed the pool: $API_BODY"
[ "$(answers reply)" = 1 ] || st_fail "warm run not answered from the reply: $(answers reply)"
[ "$(answers registry)" = 0 ] || st_fail "warm run read the registry: $(answers registry)"

run_checked "cold run" '{"image":"fc","vcpus":2,"mem_mib":256}' -H "Idempotency-Key: answer-k1"
cold=$RUN_ID
[ "$(answers reply)" = 2 ] && [ "$(answers registry)" = 0 ] ||
	st_fail "cold run: reply $(answers reply), registry $(answers registry)"

api POST /vm/run '{"image":"fc","vcpus":2,"mem_mib":256}' -H "Idempotency-Key: answer-k1"
st_expect 200 "replay"
[ "$(json .id)" = "$cold" ] && [ "$(json .state)" = running ] || st_fail "replay: $API_BODY"
[ "$(answers registry)" = 1 ] || st_fail "replay not read from the registry: $(answers registry)"

for v in "$warm" "$cold"; do
	api POST "/vm/$v/stop"
	st_expect 200 "stop $v"
	[ "$(json .state)" = stopped ] || st_fail "stop $v: $API_BODY"
done
[ "$(answers reply)" = 2 ] && [ "$(answers registry)" = 3 ] ||
	st_fail "after the stops: reply $(answers reply), registry $(answers registry)"
[ "$(sql "select count(*) from leases l join vms v on v.id = l.vm_id where v.state != 'warm'")" = 0 ] ||
	st_fail "leases of stopped VMs left"
st_pass
