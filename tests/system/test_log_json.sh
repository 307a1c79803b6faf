#!/usr/bin/env bash
# log_format: json (Firecracker fake): every line the manager and its
# daemons write is one JSON object with ts, level, daemon, pid and msg;
# a VM's state changes are lines with vm, event, from and to, in order
# (new → creating → starting → running → stopping → stopped); reads (GET)
# are not logged at info, mutations are.
ST_DRIVER=firecracker
ST_NEED_GUEST=0
. "$(dirname "$0")/lib.sh"

st_fc_fake
st_write_config
sed -i 's/^log_level: .*/&\nlog_format: json/' "$ST_CONF"
st_start

api POST /vm/run '{"image":"fc"}'
st_expect 201 "run"
a=$(json .id)
for _ in 1 2 3; do
	api GET "/vm/$a"
	st_expect 200 "get"
done
api GET /vm
api POST "/vm/$a/stop"
st_expect 200 "stop"
kill -TERM "$ST_PID"
wait "$ST_PID" || st_fail "uigniterd exit $?"
ST_PID=

# has [jq args] FILTER: some line of the log satisfies FILTER
has() {
	local f=${*: -1}
	jq -e -s "${@:1:$#-1}" "map(select($f)) | length > 0" "$ST_LOG" >/dev/null
}
n=0
while IFS= read -r line; do
	n=$((n + 1))
	jq -e 'type == "object" and (.ts | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z$"))
	       and (.level | IN("debug", "info", "warn", "error")) and (.daemon | type == "string")
	       and (.pid | type == "number") and (.msg | type == "string")' <<<"$line" >/dev/null ||
		st_fail "line $n is not a log object: $line"
done <"$ST_LOG"
[ "$n" -gt 20 ] || st_fail "only $n lines"
for d in uigniterd netd pool-worker apid; do
	has --arg d "$d" '.daemon == $d' || st_fail "no line of $d"
done
path=$(jq -r --arg a "$a" 'select(.vm == $a) | .from + ">" + .to + "(" + .event + ")"' "$ST_LOG" | tr '\n' ' ')
st_log "VM $a: $path"
want="new>creating(run) creating>creating(tap-ready) creating>starting(spawned) starting>running(booted) running>stopping(stop) stopping>stopped(exit-clean) "
[ "$path" = "$want" ] || st_fail "state changes: $path, expected $want"
has --arg a "$a" '.vm == $a and .to == "stopped" and .daemon == "pool-worker" and .level == "info"' ||
	st_fail "the stop line"
if has '.daemon == "apid" and .level == "info" and (.msg | startswith("GET "))'; then
	st_fail "reads logged at info: $(jq -c 'select(.msg | startswith("GET "))' "$ST_LOG" | head -3)"
fi
has '.daemon == "apid" and .level == "info" and (.msg | startswith("POST /vm/run 201"))' ||
	st_fail "the run is not logged"
st_pass
