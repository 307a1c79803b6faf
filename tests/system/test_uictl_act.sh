#!/usr/bin/env bash
# uictl acts through the API (Firecracker fake, for speed): `run` prints the
# VM it started (table and --json), `ls`/`show` list it from the API, `top
# -n 2` shows it with its VMM's pid, CPU % and RSS and the pool line, `stop`
# and `rm` act and say so; errors of the API are passed through with exit 1
# (unknown image, unknown VM for stop/pause/resume/logs), a bad command line
# is exit 2, an unreachable --api is exit 3, --api over TCP sends the
# bearer token of --token or $UIGNITER_TOKEN and ls pages through `next`; with the stack stopped, `ls`
# and `show` read the registry and say "API down: read from registry".
ST_DRIVER=firecracker
ST_NEED_GUEST=0
. "$(dirname "$0")/lib.sh"
UICTL=$BIN/uictl
TOKSRV=
trap 'rc=$?; set +e; [ -z "$TOKSRV" ] || kill "$TOKSRV" 2>/dev/null; (exit $rc); st_cleanup' EXIT
st_fc_fake
st_start

# uictl ARGS... → $OUT (stdout), $ERR (stderr), $RC; never aborts the test.
uictl() {
	RC=0
	OUT=$("$UICTL" --config "$ST_CONF" "$@" 2>"$ST_DIR/uictl.err") || RC=$?
	ERR=$(cat "$ST_DIR/uictl.err")
}
want_rc() { [ "$RC" = "$1" ] || st_fail "$2: exit $RC, expected $1: $OUT $ERR"; }

# run: a table of "key value" lines, exit 0.
uictl run fc --name web1 --vcpus 1 --mem 64
want_rc 0 "run fc"
id=$(awk '$1 == "id" { print $2 }' <<<"$OUT")
[[ "$id" == vm-* ]] || st_fail "run: no id line: $OUT"
grep -qE '^name +web1$' <<<"$OUT" || st_fail "run: no name line: $OUT"
grep -qE '^state +running$' <<<"$OUT" || st_fail "run: not running: $OUT"
grep -qE '^mem_mib +64$' <<<"$OUT" || st_fail "run: mem_mib: $OUT"
st_log "run: $id"

# run --json: one object jq can read.
uictl run fc --json --wait running
want_rc 0 "run --json"
id2=$(jq -re .id <<<"$OUT") || st_fail "run --json: not JSON: $OUT"
[ "$(jq -r .state <<<"$OUT")" = running ] || st_fail "run --json: state: $OUT"

# The API's error, passed through: unknown image, exit 1.
uictl run nosuchimage
want_rc 1 "run nosuchimage"
grep -q 'nosuchimage' <<<"$ERR" || st_fail "run nosuchimage: message: $ERR"
grep -qE '^uictl: run: .*\(HTTP 4[0-9][0-9] [a-z_]+\)$' <<<"$ERR" ||
	st_fail "run nosuchimage: not the API's message: $ERR"
[ -z "$OUT" ] || st_fail "run nosuchimage: printed a VM: $OUT"

# ls (API): both VMs, running, header as before; --json parses.
uictl ls
want_rc 0 "ls"
[ -z "$ERR" ] || st_fail "ls with the API up printed on stderr: $ERR"
[ "$(head -n1 <<<"$OUT" | tr -s ' ')" = "ID NAME STATE IP MAC TAP PID CREATED STOPPED" ] ||
	st_fail "ls header: $OUT"
grep -E "^$id +web1 +running " <<<"$OUT" >/dev/null || st_fail "ls: no $id web1 running: $OUT"
grep -qE "^$id2 " <<<"$OUT" || st_fail "ls: no $id2: $OUT"
uictl ls --json
want_rc 0 "ls --json"
[ "$(jq -r "map(select(.id == \"$id\")) | .[0].name" <<<"$OUT")" = web1 ] ||
	st_fail "ls --json: $OUT"
[ "$(jq -r 'length' <<<"$OUT")" = 2 ] || st_fail "ls --json: not 2 VMs: $OUT"

# show (API) and show --json.
uictl show "$id"
want_rc 0 "show"
grep -qE "^state +running$" <<<"$OUT" || st_fail "show: $OUT"
grep -qE "^pid +[0-9]+$" <<<"$OUT" || st_fail "show: no pid: $OUT"
uictl show --json "$id"
[ "$(jq -r .name <<<"$OUT")" = web1 ] || st_fail "show --json: $OUT"
pid=$(jq -r .pid <<<"$OUT")
uictl show vm-nope
want_rc 1 "show vm-nope"
grep -q 'no VM with id vm-nope' <<<"$ERR" || st_fail "show vm-nope: $ERR"

# top -n 2: two refreshes; the VM with its VMM's pid, a CPU % and an RSS.
uictl top -n 2
want_rc 0 "top -n 2"
[ "$(grep -c '^uictl top ' <<<"$OUT")" = 2 ] || st_fail "top -n 2: not 2 refreshes: $OUT"
grep -qE '^pool: size [0-9]+ +ready [0-9]+' <<<"$OUT" || st_fail "top: no pool line: $OUT"
grep -qE "^$id +web1 +running +$pid +[0-9]+\.[0-9] +[0-9]+\.[0-9]$" <<<"$OUT" ||
	st_fail "top: no row '$id web1 running $pid CPU RSS': $OUT"
uictl top -n 2 --json
want_rc 0 "top --json"
[ "$(wc -l <<<"$OUT")" = 2 ] || st_fail "top --json: not one line per refresh: $OUT"
rss=$(tail -n1 <<<"$OUT" | jq -r ".vms[] | select(.id == \"$id\") | .rss_kib")
[ "$rss" -gt 0 ] 2>/dev/null || st_fail "top --json: rss_kib of $id: $OUT"
want=$(awk '/^VmRSS/ { print $2 }' "/proc/$pid/status")
[ "$rss" -gt $((want / 2)) ] && [ "$rss" -lt $((want * 2 + 1024)) ] ||
	st_fail "top --json: rss_kib $rss far from /proc's $want"
tail -n1 <<<"$OUT" | jq -e '.pool.size >= 0 and .api == true' >/dev/null ||
	st_fail "top --json: pool: $OUT"

# pause/resume/logs of an unknown VM: the API's 404 message, exit 1 (and
# whatever the API answers for a real one is shown, never swallowed).
for cmd in pause resume logs; do
	uictl "$cmd" vm-nope
	want_rc 1 "$cmd vm-nope"
	grep -qE "^uictl: $cmd vm-nope: .+ \(HTTP 404 not_found\)$" <<<"$ERR" ||
		st_fail "$cmd vm-nope: $ERR"
done
# pause and resume of a real one: through the API, the state it answers
uictl pause "$id"
want_rc 0 "pause $id"
api GET "/vm/$id"
[ "$(json .state)" = paused ] || st_fail "after uictl pause: $API_BODY"
uictl resume "$id"
want_rc 0 "resume $id after pause"
api GET "/vm/$id"
[ "$(json .state)" = running ] || st_fail "after uictl resume: $API_BODY"
# logs: the console's tail as the API gives it, byte for byte
uictl logs --bytes 200 "$id"
want_rc 0 "logs $id"
api GET "/vm/$id/console?bytes=200"
[ "$OUT" = "$(printf %s "$API_BODY")" ] || st_fail "uictl logs: '$OUT', the API: '$API_BODY'"

# stop and rm: one line per VM, the API's state.
uictl stop "$id" vm-nope
want_rc 1 "stop $id vm-nope"
grep -qE "^$id (stopped|stopping)$" <<<"$OUT" || st_fail "stop: $OUT"
grep -q "stop vm-nope: no VM with id vm-nope" <<<"$ERR" || st_fail "stop vm-nope: $ERR"
st_wait_vm "$id" stopped
uictl ls
! grep -q "^$id " <<<"$OUT" || st_fail "ls lists the stopped VM: $OUT"
uictl ls --all
grep -qE "^$id +web1 +stopped " <<<"$OUT" || st_fail "ls --all: $OUT"
uictl rm "$id2"
want_rc 1 "rm of a running VM"
grep -qE "^uictl: rm $id2: .*running.* \(HTTP 409 conflict\)$" <<<"$ERR" || st_fail "rm running: $ERR"
uictl rm -f "$id2"
want_rc 0 "rm -f"
grep -qx "$id2 deleted" <<<"$OUT" || st_fail "rm: $OUT"
api GET "/vm/$id2"
st_expect 404 "GET the removed VM"

# Bad command lines: 2, before anything is asked.
for bad in "run" "run fc extra" "run fc --vcpus 0" "run fc --wait soon" "stop" "rm" \
	"rm --bogus v" "logs" "logs --bytes x v" "top -n 0" "show" "pause" "frob"; do
	# shellcheck disable=SC2086 # split into words on purpose
	uictl $bad
	want_rc 2 "uictl $bad"
done

# An API nobody serves: actions exit 3.
RC=0; "$UICTL" --api http://127.0.0.1:1 stop "$id" 2>"$ST_DIR/err" || RC=$?
[ "$RC" = 3 ] || st_fail "unreachable --api: exit $RC: $(cat "$ST_DIR/err")"
grep -q 'unreachable' "$ST_DIR/err" || st_fail "unreachable --api: $(cat "$ST_DIR/err")"

# --api over TCP with --token FILE (or $UIGNITER_TOKEN): each request
# carries "Authorization: Bearer <token>", and ls follows `next` to the
# last page (a listener of our own answers two pages: vm-a, then vm-b).
echo "s3cret-token" >"$ST_DIR/token"
python3 - "$ST_DIR/port" "$ST_DIR/headers" <<'PY' &
import json, socket, sys
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1)
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
vm = lambda i: {"id": i, "name": None, "state": "running", "ip": None, "mac": None,
                "tap": None, "pid": None, "created_at": "x", "stopped_at": None}
for _ in range(4):
    c, _a = s.accept(); req = b""
    while b"\r\n\r\n" not in req:
        req += c.recv(4096)
    head = req.split(b"\r\n\r\n")[0]
    open(sys.argv[2], "ab").write(head + b"\n")
    page2 = b"after=vm-a" in head.split(b"\r\n")[0]
    body = json.dumps({"vms": [vm("vm-b" if page2 else "vm-a")],
                       "next": None if page2 else "vm-a"}).encode()
    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
              + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)
    c.close()
PY
TOKSRV=$!
for _ in $(seq 50); do [ -s "$ST_DIR/port" ] && break; sleep 0.1; done
port=$(cat "$ST_DIR/port")
RC=0; OUT=$("$UICTL" --api "http://127.0.0.1:$port" --token "$ST_DIR/token" ls --json) || RC=$?
[ "$RC" = 0 ] || st_fail "ls over TCP: exit $RC: $OUT"
[ "$(jq -r 'map(.id) | join(",")' <<<"$OUT")" = "vm-a,vm-b" ] || st_fail "ls over TCP, two pages: $OUT"
RC=0; OUT=$(UIGNITER_TOKEN=env-token "$UICTL" --api "http://127.0.0.1:$port" ls) || RC=$?
[ "$RC" = 0 ] || st_fail "ls over TCP with UIGNITER_TOKEN: exit $RC: $OUT"
grep -q '^vm-b ' <<<"$OUT" || st_fail "ls over TCP, table: $OUT"
wait "$TOKSRV" || st_fail "token listener failed"
TOKSRV=
tr -d '\r' <"$ST_DIR/headers" >"$ST_DIR/headers.txt"
[ "$(grep -cx 'Authorization: Bearer s3cret-token' "$ST_DIR/headers.txt")" = 2 ] ||
	st_fail "no bearer token from --token on both pages: $(cat "$ST_DIR/headers.txt")"
[ "$(grep -cx 'Authorization: Bearer env-token' "$ST_DIR/headers.txt")" = 2 ] ||
	st_fail "no bearer token from UIGNITER_TOKEN: $(cat "$ST_DIR/headers.txt")"
grep -qx 'GET /vm?limit=500&after=vm-a HTTP/1.1' "$ST_DIR/headers.txt" ||
	st_fail "ls did not ask for the next page: $(cat "$ST_DIR/headers.txt")"

# The stack down: ls and show read the registry, and say so.
kill -TERM "$ST_PID"
for _ in $(seq 300); do kill -0 "$ST_PID" 2>/dev/null || break; sleep 0.1; done
! kill -0 "$ST_PID" 2>/dev/null || st_fail "uigniterd did not stop"
ST_PID=
uictl ls --all
want_rc 0 "ls --all, API down"
grep -q '^uictl: API down: read from registry' <<<"$ERR" || st_fail "ls: no note: $ERR"
grep -qE "^$id +web1 +stopped " <<<"$OUT" || st_fail "ls from the registry: $OUT"
uictl ls --json --all
[ "$(jq -r "map(select(.id == \"$id\")) | .[0].state" <<<"$OUT")" = stopped ] ||
	st_fail "ls --json from the registry: $OUT"
uictl show "$id"
want_rc 0 "show, API down"
grep -q '^uictl: API down: read from registry' <<<"$ERR" || st_fail "show: no note: $ERR"
grep -qE '^state +stopped$' <<<"$OUT" || st_fail "show from the registry: $OUT"
uictl show --json "$id"
want_rc 0 "show --json, API down"
[ "$(jq -r .name <<<"$OUT")" = web1 ] || st_fail "show --json from the registry: $OUT"
# --db: the registry only, no API asked, no note.
RC=0; OUT=$("$UICTL" --db "$ST_DB" ls --all 2>"$ST_DIR/err") || RC=$?
[ "$RC" = 0 ] && [ ! -s "$ST_DIR/err" ] || st_fail "--db ls: exit $RC: $(cat "$ST_DIR/err")"
grep -qE "^$id +web1 +stopped " <<<"$OUT" || st_fail "--db ls: $OUT"
uictl stop "$id"
want_rc 3 "stop, API down"
st_pass
