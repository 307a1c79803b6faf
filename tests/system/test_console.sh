#!/usr/bin/env bash
# GET /vm/{id}/console with the Firecracker fake (its stdout is the guest's
# serial console; FC_FAKE_CONSOLE_EVERY_MS makes the "guest" print a
# numbered line every 50 ms):
#   - ?follow=1 streams new lines as they appear and ends when the VM
#     stops: curl exits 0 with the complete chunked body, a suffix of the
#     log file;
#   - ?bytes=N is exactly the file's last N bytes (text/plain), the
#     default the whole of a small log; a name works like an id;
#   - a client that leaves a follow: apid drops it (its fds come back);
#     HTTP/1.0 follows unchunked until apid closes;
#   - followers are bounded (limits.max_conns_unix 8: 2 at once, then 503);
#   - bad bytes/follow/unknown parameters → 400, an unknown VM → 404;
#     no log file (a VM that never ran) → 200 and empty;
#   - DELETE removes the VM's console files; the sweep at pool-worker's
#     start removes files no VM owns.
ST_DRIVER=firecracker
ST_NEED_GUEST=0
. "$(dirname "$0")/lib.sh"

st_fc_fake
export FC_FAKE_CONSOLE_EVERY_MS=50
st_write_config
sed -i 's/^limits:$/limits:\n  max_conns_unix: 8/' "$ST_CONF"
st_start

# con PATH OUT [curl args…]: GET PATH over the unix socket into OUT;
# prints the status, headers in OUT.h.
con() {
	local path=$1 out=$2
	shift 2
	curl -sS --max-time 60 --unix-socket "$ST_SOCK" -D "$out.h" -o "$out" \
		-w '%{http_code}' "$@" "http://uigniter$path"
}
# wait_text FILE TEXT: FILE holds TEXT within 20 s.
wait_text() {
	for _ in $(seq 200); do
		grep -qF "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	st_fail "$1 never held \"$2\": $(tail -c 300 "$1" 2>/dev/null)"
}

api POST /vm/run '{"image":"fc","name":"talker"}'
st_expect 201 "run"
a=$(json .id)
log=$(json .console_log)
[ -n "$log" ] && [ "$log" != null ] || st_fail "console_log: $API_BODY"
wait_text "$log" "fake console line 5"

st_log "follow: new output arrives, the stream ends when the VM stops"
out=$ST_DIR/follow.out
( con "/vm/$a/console?follow=1&bytes=1" "$out" -N >"$out.status"; echo $? >"$out.rc" ) &
fpid=$!
wait_text "$out" "fake console line 15"
[ ! -e "$out.rc" ] || st_fail "the follow ended while the VM runs: $(cat "$out.rc")"
grep -qi '^transfer-encoding: chunked' "$out.h" || st_fail "not chunked: $(cat "$out.h")"
grep -qi '^content-type: text/plain; charset=utf-8' "$out.h" || st_fail "type: $(cat "$out.h")"
api POST "/vm/$a/stop"
st_expect 200 "stop"
for _ in $(seq 200); do [ -e "$out.rc" ] && break; sleep 0.1; done
[ -e "$out.rc" ] || st_fail "the follow did not end after the stop"
wait "$fpid" || true
[ "$(cat "$out.rc")" = 0 ] || st_fail "curl exit $(cat "$out.rc") (incomplete chunked body?)"
[ "$(cat "$out.status")" = 200 ] || st_fail "follow status $(cat "$out.status")"
n=$(stat -c %s "$out")
[ "$n" -gt 100 ] || st_fail "follow got $n bytes"
tail -c "$n" "$log" | cmp -s - "$out" || st_fail "the follow's body is not the log's last $n bytes"

st_log "tail: exact bytes of the stopped VM's log"
size=$(stat -c %s "$log")
[ "$size" -gt 1000 ] || st_fail "log too small for the test: $size"
for nb in 1 100 1000; do
	[ "$(con "/vm/$a/console?bytes=$nb" "$ST_DIR/t")" = 200 ] || st_fail "bytes=$nb: $(cat "$ST_DIR/t")"
	tail -c "$nb" "$log" | cmp -s - "$ST_DIR/t" || st_fail "bytes=$nb is not the log's tail"
done
grep -qi '^content-type: text/plain; charset=utf-8' "$ST_DIR/t.h" || st_fail "type: $(cat "$ST_DIR/t.h")"
[ "$(con "/vm/talker/console" "$ST_DIR/t")" = 200 ] || st_fail "by name: $(cat "$ST_DIR/t")"
cmp -s "$log" "$ST_DIR/t" || st_fail "the default tail of a small log is not all of it"
# follow=1 on a stopped VM: the tail, and done
[ "$(con "/vm/$a/console?follow=1&bytes=10" "$ST_DIR/t")" = 200 ] || st_fail "follow of a stopped VM"
tail -c 10 "$log" | cmp -s - "$ST_DIR/t" || st_fail "follow of a stopped VM: not the tail"

st_log "bad parameters, unknown VM"
for q in bytes=0 bytes=1048577 bytes=abc follow=yes tail=5 "bytes=1&bytes=2"; do
	api GET "/vm/$a/console?$q"
	st_expect 400 "?$q"
	[ "$(json .error.code)" = invalid_argument ] || st_fail "?$q: $API_BODY"
done
api GET "/vm/$a/console?bytes=0"
grep -q "1..1048576 (limits.console_bytes)" <<<"$(json .error.message)" || st_fail "message: $API_BODY"
api GET /vm/vm-nosuchvm0000000000000/console
st_expect 404 "unknown VM"
[ "$(json .error.code)" = not_found ] || st_fail "404 body: $API_BODY"
api GET /vm/nobody/console
st_expect 404 "unknown name"

st_log "a client that leaves; the follower limit"
api POST /vm/run '{"image":"fc"}'
st_expect 201 "run b"
b=$(json .id)
apid=$(st_daemon_pid apid)
fds0=$(ls "/proc/$apid/fd" | wc -l)
curl -sS -N --max-time 60 --unix-socket "$ST_SOCK" -o "$ST_DIR/f1" "http://uigniter/vm/$b/console?follow=1" &
f1=$!
curl -sS -N --max-time 60 --unix-socket "$ST_SOCK" -o "$ST_DIR/f2" "http://uigniter/vm/$b/console?follow=1" &
f2=$!
wait_text "$ST_DIR/f1" "fake console line"
wait_text "$ST_DIR/f2" "fake console line"
api GET "/vm/$b/console?follow=1"
st_expect 503 "a third follower (limits.max_conns_unix 8: 2)"
grep -q "too many console followers" <<<"$(json .error.message)" || st_fail "503: $API_BODY"
kill "$f1" "$f2"
wait "$f1" "$f2" 2>/dev/null || true
for _ in $(seq 100); do
	[ "$(ls "/proc/$apid/fd" | wc -l)" -le "$fds0" ] && break
	sleep 0.1
done
[ "$(ls "/proc/$apid/fd" | wc -l)" -le "$fds0" ] ||
	st_fail "apid kept the followers' fds: $(ls -l "/proc/$apid/fd")"
curl -sS -N --max-time 60 --unix-socket "$ST_SOCK" -o "$ST_DIR/f3" "http://uigniter/vm/$b/console?follow=1" &
f3=$!
# HTTP/1.0: no chunks, the body ends when apid closes
curl -sS -N --http1.0 --max-time 60 --unix-socket "$ST_SOCK" -D "$ST_DIR/f4.h" -o "$ST_DIR/f4" \
	"http://uigniter/vm/$b/console?follow=1" &
f4=$!
wait_text "$ST_DIR/f3" "fake console line"
wait_text "$ST_DIR/f4" "fake console line"
api POST "/vm/$b/stop"
st_expect 200 "stop b"
wait "$f3" || st_fail "the follow after the others left did not end cleanly"
wait "$f4" || st_fail "the HTTP/1.0 follow did not end cleanly"
grep -qi '^transfer-encoding' "$ST_DIR/f4.h" && st_fail "HTTP/1.0 got chunks: $(cat "$ST_DIR/f4.h")"
grep -qi '^connection: close' "$ST_DIR/f4.h" || st_fail "HTTP/1.0 follow without Connection: close"
blog0=$(st_sql "select console_log from vms where id = '$b'")
n4=$(stat -c %s "$ST_DIR/f4")
tail -c "$n4" "$blog0" | cmp -s - "$ST_DIR/f4" || st_fail "the HTTP/1.0 follow is not the log's tail"

st_log "no log file: empty; DELETE removes the files"
blog=$(st_sql "select console_log from vms where id = '$b'")
[ -s "$blog" ] || st_fail "b's log $blog is empty"
mv "$blog" "$blog.kept"
[ "$(con "/vm/$b/console" "$ST_DIR/t")" = 200 ] || st_fail "no file: $(cat "$ST_DIR/t")"
[ ! -s "$ST_DIR/t" ] || st_fail "no file, but a body: $(cat "$ST_DIR/t")"
mv "$blog.kept" "$blog"
api DELETE "/vm/$b"
st_expect 200 "delete b"
[ ! -e "$blog" ] || st_fail "DELETE left $blog"
api GET "/vm/$b/console"
st_expect 404 "the console of a deleted VM"

st_log "the sweep: files no VM owns go when pool-worker starts (a prune, a crash)"
stray=$(dirname "$log")/vm-06h00000000000000000.console.log
echo "left by a crash" >"$stray"
echo "left by a crash" >"$stray.1"
pw=$(st_daemon_pid pool-worker)
kill -9 "$pw"
for _ in $(seq 100); do
	[ ! -e "$stray" ] && [ ! -e "$stray.1" ] && break
	sleep 0.1
done
[ ! -e "$stray" ] && [ ! -e "$stray.1" ] || st_fail "the sweep left $stray"
[ -s "$log" ] || st_fail "the sweep removed $log (its VM has a row)"
st_pass
