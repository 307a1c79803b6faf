#!/usr/bin/env bash
# GET /events (Firecracker fake): the registry's event log by cursor and
# the long-poll that waits for the next one.
#   - a run's events (create … running) follow `since`, oldest first, all
#     of its VM; `next` is the last seq given; limit=1 walks the same
#     events one by one;
#   - a long-poll (wait=30) started before a stop is held (its curl still
#     runs) until the stop commits, then answers with the `stop` event;
#   - vm=ID: a long-poll on one VM is not woken by another's events;
#     twenty long-polls all answer the one change;
#   - a wait that ends with nothing new is 200 {"events":[],"next":since};
#   - bad parameters are 400 invalid_argument, POST is 405;
#   - after apid is killed and restarted, the log and its seqs are the same
#     and new events follow the old cursor;
#   - DELETE of the VM with the newest events leaves a `deleted` mark, and
#     the next VM's events still follow a cursor taken before.
ST_DRIVER=firecracker
ST_NEED_GUEST=0
. "$(dirname "$0")/lib.sh"

st_fc_fake
st_start

# poll_bg NAME QUERY: a long-poll in the background, its answer in
# $ST_DIR/NAME.out ("<body>\n<status>"), its pid in BG.
poll_bg() {
	curl -sS --max-time 90 --unix-socket "$ST_SOCK" -w '\n%{http_code}' \
		"http://uigniter/events?$2" >"$ST_DIR/$1.out" 2>&1 &
	BG=$!
}
# bg_body NAME / bg_status NAME: the answer of a finished long-poll.
bg_body() { sed '$d' "$ST_DIR/$1.out"; }
bg_status() { tail -n1 "$ST_DIR/$1.out"; }
# A background long-poll is waiting (has not answered) — checked after a
# moment, with 30 s still to go on its wait.
still_waiting() { sleep 0.5; kill -0 "$1" 2>/dev/null; }

api GET /events
st_expect 200 "GET /events"
start=$(json .next)
[ "$(json '.events | type')" = array ] || st_fail "no events array: $API_BODY"

api POST /vm/run '{"image":"fc"}'
st_expect 201 "run a"
a=$(json .id)
api GET "/events?since=$start"
st_expect 200 "events since $start"
kinds=$(jq -r '[.events[].kind] | join(",")' <<<"$API_BODY")
[[ $kinds == create,lease,*running* ]] || st_fail "a's events: $kinds: $API_BODY"
jq -e --arg a "$a" 'all(.events[]; .vm == $a)' <<<"$API_BODY" >/dev/null ||
	st_fail "an event of another VM: $API_BODY"
jq -e '[.events[].seq] | . == sort and (unique | length) == length' <<<"$API_BODY" >/dev/null ||
	st_fail "seqs not increasing: $API_BODY"
jq -e --argjson s "$start" 'all(.events[]; .seq > $s and (.time | type) == "string")' \
	<<<"$API_BODY" >/dev/null || st_fail "seq/time: $API_BODY"
[ "$(json .next)" = "$(json '.events[-1].seq')" ] || st_fail "next is not the last seq: $API_BODY"
all=$(jq -c '[.events[].seq]' <<<"$API_BODY")
cursor=$(json .next)

# limit=1: one by one, the same events
walked=() s=$start
while :; do
	api GET "/events?since=$s&limit=1"
	st_expect 200 "page after $s"
	[ "$(json '.events | length')" -le 1 ] || st_fail "limit=1 gave more: $API_BODY"
	[ "$(json '.events | length')" = 1 ] || break
	walked+=("$(json '.events[0].seq')")
	s=$(json .next)
done
[ "$(printf '%s\n' "${walked[@]}" | jq -sc .)" = "$all" ] ||
	st_fail "paging saw ${walked[*]}, the page $all"
[ "$(json .next)" = "$cursor" ] || st_fail "an empty page's next is its since: $API_BODY"

# a long-poll returns when the VM changes state
poll_bg stop "since=$cursor&wait=30"; p=$BG
still_waiting "$p" || st_fail "the long-poll answered before anything happened: $(cat "$ST_DIR/stop.out")"
api POST "/vm/$a/stop"
st_expect 200 "stop a"
wait "$p" || st_fail "long-poll curl failed: $(cat "$ST_DIR/stop.out")"
[ "$(bg_status stop)" = 200 ] || st_fail "long-poll: $(cat "$ST_DIR/stop.out")"
body=$(bg_body stop)
jq -e --arg a "$a" --argjson c "$cursor" \
	'.events[0].kind == "stop" and .events[0].vm == $a and .events[0].seq > $c and
	 .next == .events[-1].seq' <<<"$body" >/dev/null || st_fail "long-poll answer: $body"

st_wait_vm "$a" stopped
api GET "/events?since=$cursor"
cursor=$(json .next)

# a wait with nothing new: empty, next = since
api GET "/events?since=$cursor&wait=1"
st_expect 200 "a wait that ends empty"
[ "$(json '.events | length')" = 0 ] && [ "$(json .next)" = "$cursor" ] ||
	st_fail "empty wait: $API_BODY"

# vm=: only that VM; a long-poll on b ignores c
api POST /vm/run '{"image":"fc"}'
st_expect 201 "run b"
b=$(json .id)
api GET "/events?vm=$b"
jq -e --arg b "$b" '(.events | length) > 0 and all(.events[]; .vm == $b)' <<<"$API_BODY" \
	>/dev/null || st_fail "vm=$b: $API_BODY"
api GET "/events?since=$cursor"
cursor=$(json .next)
poll_bg b "since=$cursor&vm=$b&wait=30"; pb=$BG
pids=()
for i in $(seq 20); do poll_bg "many$i" "since=$cursor&wait=30"; pids+=("$BG"); done
still_waiting "$pb" || st_fail "the vm=b long-poll answered early: $(cat "$ST_DIR/b.out")"
api POST /vm/run '{"image":"fc"}'
st_expect 201 "run c"
c=$(json .id)
for i in $(seq 20); do
	wait "${pids[$((i - 1))]}" || st_fail "long-poll $i: $(cat "$ST_DIR/many$i.out")"
	jq -e --arg c "$c" '.events[0].vm == $c and .events[0].kind == "create"' \
		<<<"$(bg_body "many$i")" >/dev/null || st_fail "long-poll $i: $(cat "$ST_DIR/many$i.out")"
done
still_waiting "$pb" || st_fail "c's events woke the vm=b long-poll: $(cat "$ST_DIR/b.out")"
api POST "/vm/$b/stop"
st_expect 200 "stop b"
wait "$pb" || st_fail "vm=b long-poll: $(cat "$ST_DIR/b.out")"
jq -e --arg b "$b" '.events[0].kind == "stop" and all(.events[]; .vm == $b)' \
	<<<"$(bg_body b)" >/dev/null || st_fail "vm=b long-poll: $(cat "$ST_DIR/b.out")"

# bad parameters
for q in since=-1 since=abc since= wait=61 wait=x limit=0 limit=1001 limit=1x vm= \
	 'vm=a*b' foo=1 'since=1&since=2' since; do
	api GET "/events?$q"
	st_expect 400 "GET /events?$q"
	[ "$(json .error.code)" = invalid_argument ] || st_fail "?$q: $API_BODY"
done
api POST /events '{}'
st_expect 405 "POST /events"

# apid restart: the same log, new events after the old cursor
api GET /events?limit=1000
before=$(jq -c '[.events[] | [.seq, .kind, .vm]]' <<<"$API_BODY")
cursor=$(json .next)
old=$(st_daemon_pid apid)
kill -9 "$old"
for _ in $(seq 100); do
	new=$(st_daemon_pid apid || true)
	if [ -n "$new" ] && [ "$new" != "$old" ]; then
		api GET /healthz 2>/dev/null || API_STATUS=
		[ "$API_STATUS" = 200 ] && break
	fi
	sleep 0.2
done
[ "$API_STATUS" = 200 ] || st_fail "apid did not come back"
api GET /events?limit=1000
[ "$(jq -c '[.events[] | [.seq, .kind, .vm]]' <<<"$API_BODY")" = "$before" ] ||
	st_fail "the log changed across the apid restart: $API_BODY"
api POST "/vm/$c/stop"
st_expect 200 "stop c"
api GET "/events?since=$cursor"
jq -e --arg c "$c" --argjson k "$cursor" \
	'.events[0].kind == "stop" and .events[0].vm == $c and .events[0].seq > $k' \
	<<<"$API_BODY" >/dev/null || st_fail "after the restart: $API_BODY"

# DELETE of the VM whose events are the newest: their seqs are not given
# again (a `deleted` event with no VM keeps the top), so a cursor taken
# before the delete still sees the next VM's events
st_wait_vm "$c" stopped
api GET "/events?since=$cursor"
cursor=$(json .next)
api DELETE "/vm/$c"
st_expect 200 "DELETE c"
api GET "/events?since=$cursor"
jq -e --arg c "$c" '.events == [.events[0]] and .events[0].kind == "deleted" and
	.events[0].vm == null and .events[0].detail == $c' <<<"$API_BODY" >/dev/null ||
	st_fail "the delete's mark: $API_BODY"
api POST /vm/run '{"image":"fc"}'
st_expect 201 "run e"
e=$(json .id)
api GET "/events?since=$cursor"
jq -e --arg e "$e" 'any(.events[]; .vm == $e and .kind == "create")' <<<"$API_BODY" \
	>/dev/null || st_fail "e's events are hidden below an old cursor: $API_BODY"
api POST "/vm/$e/stop"
st_expect 200 "stop e"
st_pass
