#!/usr/bin/env bash
# uigniterd under a NOTIFY_SOCKET of our own (as systemd's Type=notify):
# READY=1 arrives once, when GET /healthz already answers 200; none of the
# daemons inherits NOTIFY_SOCKET; SIGHUP sends RELOADING=1 then READY=1;
# SIGTERM sends STOPPING=1. (Firecracker fake: no guest needed.)
ST_DRIVER=firecracker
ST_NEED_GUEST=0
. "$(dirname "$0")/lib.sh"
st_fc_fake
NLOG=$ST_DIR/notify.log
: >"$NLOG"
python3 "$ROOT/tests/system/notify_listen.py" "$ST_DIR/notify" "$ST_SOCK" "$NLOG" &
LISTENER=$!
trap 'rc=$?; set +e; kill "$LISTENER" 2>/dev/null; (exit $rc); st_cleanup' EXIT
for _ in $(seq 50); do [ -S "$ST_DIR/notify" ] && break; sleep 0.1; done
[ -S "$ST_DIR/notify" ] || st_fail "listener did not bind"

# waits until the log has a line matching $1 (20 s)
wait_line() {
	for _ in $(seq 200); do grep -qE "$1" "$NLOG" && return 0; sleep 0.1; done
	st_fail "no notify message matching '$1': $(cat "$NLOG")"
}

NOTIFY_SOCKET=$ST_DIR/notify st_start
wait_line '^READY=1'
grep -qE '^READY=1\|STATUS=.+ healthz=200$' "$NLOG" ||
	st_fail "READY=1 came before /healthz answered: $(cat "$NLOG")"
[ "$(grep -c 'READY=1' "$NLOG")" = 1 ] || st_fail "READY=1 more than once: $(cat "$NLOG")"
for d in netd pool-worker apid; do
	pid=$(st_daemon_pid "$d")
	[ -n "$pid" ] || st_fail "no $d"
	! tr '\0' '\n' <"/proc/$pid/environ" | grep -q '^NOTIFY_SOCKET=' ||
		st_fail "$d inherited NOTIFY_SOCKET"
done
st_log "READY=1 after /healthz answered"

kill -HUP "$ST_PID"
wait_line '^RELOADING=1$'
for _ in $(seq 100); do [ "$(grep -c 'READY=1' "$NLOG")" = 2 ] && break; sleep 0.1; done
[ "$(grep -c 'READY=1' "$NLOG")" = 2 ] || st_fail "no READY=1 after the reload: $(cat "$NLOG")"
[ "$(sed -n 2p "$NLOG")" = RELOADING=1 ] || st_fail "order: $(cat "$NLOG")"

kill -TERM "$ST_PID"
wait_line '^STOPPING=1'
for _ in $(seq 300); do kill -0 "$ST_PID" 2>/dev/null || break; sleep 0.1; done
! kill -0 "$ST_PID" 2>/dev/null || st_fail "uigniterd did not stop"
ST_PID=
st_pass
