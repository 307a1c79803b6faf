#!/usr/bin/env bash
# The console cap (limits.console_bytes 65536) with the Firecracker fake
# flooding its console (FC_FAKE_CONSOLE_FLOOD: 4000 bytes every 10 ms, up
# to 400 KB/s, in numbered 100-byte lines):
#   - the files on disk stay within the documented bound (pool-worker/
#     console.h): <log> ≤ cap + what the guest writes in one check
#     interval (asserted with 1 s of flood as slack: a loaded host's loop
#     is late), <log>.1 ≤ 2 × cap — while ~2 MB are written;
#   - the tail is exactly cap bytes once rotated, and bytes=cap+1 is 400;
#   - a follow across many rotations sees the lines in order (the rest of
#     each old log read from <log>.1), nothing re-read from the start;
#   - after a kill -9 of pool-worker the adopted VMM's log is capped again.
ST_DRIVER=firecracker
ST_NEED_GUEST=0
. "$(dirname "$0")/lib.sh"

st_fc_fake
export FC_FAKE_CONSOLE_FLOOD=4000
st_write_config
sed -i 's/^limits:$/limits:\n  console_bytes: 65536/' "$ST_CONF"
st_start

cap=65536
slack=400000 # 1 s of flood
api POST /vm/run '{"image":"fc"}'
st_expect 201 "run"
a=$(json .id)
log=$(json .console_log)

# sample SECONDS: the largest sizes of <log> and <log>.1 seen, every 50 ms
sample() {
	local end=$((SECONDS + $1)) s s1
	max=0 max1=0
	while [ $SECONDS -lt $end ]; do
		s=$(stat -c %s "$log" 2>/dev/null || echo 0)
		s1=$(stat -c %s "$log.1" 2>/dev/null || echo 0)
		[ "$s" -gt "$max" ] && max=$s
		[ "$s1" -gt "$max1" ] && max1=$s1
		sleep 0.05
	done
}

st_log "flooding: the files stay bounded"
out=$ST_DIR/follow.out
curl -sS -N --max-time 60 --unix-socket "$ST_SOCK" -o "$out" \
	"http://uigniter/vm/$a/console?follow=1&bytes=1" &
fpid=$!
sample 5
st_log "largest: $log $max bytes, $log.1 $max1 bytes"
[ -e "$log.1" ] || st_fail "never rotated"
[ "$max" -le $((cap + slack)) ] || st_fail "$log reached $max bytes (cap $cap)"
[ "$max1" -le $((2 * cap)) ] || st_fail "$log.1 reached $max1 bytes (2 × cap $((2 * cap)))"
kill "$fpid"; wait "$fpid" 2>/dev/null || true
last=$(tail -n 1 "$log" | awk '{print $2}')
st_log "the guest wrote ~$((10#$last * 100)) bytes"
[ $((10#$last * 100)) -gt $((2 * (cap + slack))) ] || st_fail "the flood was too slow to test the cap: line $last"

st_log "the follow across rotations: lines in order"
lines=$(grep -c '^flood ' "$out" || true)
[ "$lines" -gt 1000 ] || st_fail "the follow got $lines lines"
# numbers strictly increasing (nothing re-read), and few gaps
awk '$1 == "flood" { n = $2 + 0; if (seen && n <= prev) { print "backwards at " NR ": " prev " then " n; bad = 1; exit 1 }
	if (seen && n != prev + 1) gaps++; prev = n; seen = 1 }
	END { if (!bad) print gaps + 0 }' "$out" >"$ST_DIR/gaps" ||
	st_fail "the follow went backwards: $(cat "$ST_DIR/gaps")"
st_log "follow: $lines lines, $(cat "$ST_DIR/gaps") gap(s)"
# collapsing (ext4, xfs) loses nothing; copy-truncate (tmpfs) may lose a write
if grep -q "console logs: rotated by collapsing" "$ST_LOG"; then
	lossless=1
	[ "$(cat "$ST_DIR/gaps")" = 0 ] || st_fail "the follow lost output $(cat "$ST_DIR/gaps") times"
else
	lossless=0
	grep -q "console logs: rotated by copy-truncate" "$ST_LOG" || st_fail "no rotation mode logged"
	[ "$(cat "$ST_DIR/gaps")" -le 10 ] || st_fail "the follow lost output $(cat "$ST_DIR/gaps") times"
fi

st_log "the tail is exactly the cap"
code=$(curl -sS --max-time 30 --unix-socket "$ST_SOCK" -o "$ST_DIR/t" -w '%{http_code}' \
	"http://uigniter/vm/$a/console?bytes=$cap")
[ "$code" = 200 ] || st_fail "bytes=$cap: $code"
[ "$(stat -c %s "$ST_DIR/t")" = $cap ] || st_fail "bytes=$cap gave $(stat -c %s "$ST_DIR/t") bytes"
api GET "/vm/$a/console?bytes=$((cap + 1))"
st_expect 400 "bytes above limits.console_bytes"

st_log "pool-worker kill -9: the adopted VMM's log is capped again"
pw=$(st_daemon_pid pool-worker)
kill -9 "$pw"
for _ in $(seq 100); do
	new=$(st_daemon_pid pool-worker || true)
	[ -n "$new" ] && [ "$new" != "$pw" ] && grep -q "$a: adopted" "$ST_LOG" && break
	sleep 0.1
done
grep -q "$a: adopted" "$ST_LOG" || st_fail "the VM was not adopted"
sleep 1 # the first check after the restart rotates what grew meanwhile
sample 3
st_log "after the restart: $log $max bytes, $log.1 $max1 bytes"
[ "$max" -le $((cap + slack)) ] || st_fail "after the restart $log reached $max bytes"
[ "$max1" -le $((2 * cap)) ] || st_fail "after the restart $log.1 reached $max1 bytes"

api POST "/vm/$a/stop"
st_expect 200 "stop"
# <log>.1 then <log>: one run of lines, none lost at the last rotation
if [ "$lossless" = 1 ]; then
	cat "$log.1" "$log" | awk '$1 == "flood" { n = $2 + 0; if (seen && n != prev + 1) { print prev " then " n; exit 1 } prev = n; seen = 1 }' >"$ST_DIR/seam" ||
		st_fail "<log>.1 and <log> do not join: $(cat "$ST_DIR/seam")"
fi
st_pass
