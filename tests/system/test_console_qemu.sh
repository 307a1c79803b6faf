#!/usr/bin/env bash
# The console of a real QEMU guest (one guest), with limits.console_bytes
# 4096 so its boot output rotates the log:
#   - QEMU appends (O_APPEND) to the log pool-worker rotates: the files
#     stay within the bound (<log>.1 ≤ 2 × cap, <log> ≤ cap + slack) and
#     together still hold the guest's ready line;
#   - ?follow=1 from before the stop sees the guest's shutdown line and
#     ends with the VM (curl exits 0);
#   - ?bytes=4096 is the tail, 4096 bytes.
. "$(dirname "$0")/lib.sh"

st_write_config
sed -i 's/^limits:$/limits:\n  console_bytes: 4096/' "$ST_CONF"
st_start

api POST /vm/run '{"image":"hello","wait":"ready"}'
st_expect 201 "run"
a=$(json .id)
ip=$(json .ip)
log=$(json .console_log)
st_guest_http "$ip" >/dev/null || st_fail "the guest does not answer"
for _ in $(seq 50); do [ -e "$log.1" ] && break; sleep 0.1; done
[ -e "$log.1" ] || st_fail "the boot output never rotated the log ($(stat -c %s "$log") bytes)"
qemu=$(st_sql "select vmm_pid from vms where id = '$a'")
flags=$(awk '/^flags:/ {print $2}' "/proc/$qemu/fdinfo/$(ls -l "/proc/$qemu/fd" | awk -v l="$log" '$NF == l {print $9; exit}')")
[ $((0$flags & 02000)) -ne 0 ] || st_fail "QEMU's console fd is not O_APPEND (flags $flags)"
cat "$log.1" "$log" | grep -q "UIGNITER-READY $a" || st_fail "the ready line is in neither file"

out=$ST_DIR/follow.out
( curl -sS -N --max-time 120 --unix-socket "$ST_SOCK" -o "$out" \
	"http://uigniter/vm/$a/console?follow=1&bytes=100"; echo $? >"$out.rc" ) &
sleep 1
api POST "/vm/$a/stop"
st_expect 200 "stop"
for _ in $(seq 200); do [ -e "$out.rc" ] && break; sleep 0.1; done
[ "$(cat "$out.rc" 2>/dev/null)" = 0 ] || st_fail "the follow did not end cleanly: $(cat "$out.rc" 2>/dev/null)"
grep -q "UIGNITER-SHUTDOWN $a" "$out" || st_fail "the follow missed the shutdown line: $(tail -c 300 "$out")"
s=$(stat -c %s "$log"); s1=$(stat -c %s "$log.1")
[ "$s1" -le 8192 ] || st_fail "$log.1: $s1 bytes"
[ "$s" -le $((4096 + 65536)) ] || st_fail "$log: $s bytes"
code=$(curl -sS --unix-socket "$ST_SOCK" -o "$ST_DIR/t" -w '%{http_code}' "http://uigniter/vm/$a/console?bytes=4096")
[ "$code" = 200 ] && [ "$(stat -c %s "$ST_DIR/t")" = 4096 ] || st_fail "bytes=4096: $code, $(stat -c %s "$ST_DIR/t") bytes"
cat "$log.1" "$log" | tail -c 4096 | cmp -s - "$ST_DIR/t" || st_fail "bytes=4096 is not the tail of <log>.1 + <log>"
st_pass
