#!/usr/bin/env bash
# Connection floods (issue 9, item 7): 1,100 idle TCP connections, then a
# slowloris with reconnects, against an apid whose fd ceiling is 1024
# (ulimit -n 1024 for the whole stack). The unix socket has its own
# connections, so /healthz over it answers during the flood; a new TCP
# client gets in too (the longest idle connection is closed for it); the
# limit and the fd ceiling are in the log; apid is never restarted.
. "$(dirname "$0")/lib.sh"
FLOOD_PIDS=()
stop_flood() {
	local p
	for p in "${FLOOD_PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
	for p in "${FLOOD_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	FLOOD_PIDS=()
}
trap 'rc=$?; set +e; stop_flood; (exit $rc); st_cleanup' EXIT # set +e: lib.sh's set -e would end the trap at (exit 1)

ulimit -n 1024 # soft and hard: the stack (and each flooding client) gets 1024 fds
st_start
apid=$(st_daemon_pid apid)
[ -n "$apid" ] || st_fail "no apid process"

# flood MODE: 2 clients × 550 connections (each client has 1024 fds too)
flood() {
	local i
	for i in 1 2; do
		rm -f "$ST_DIR/flood$i"
		ip netns exec "$ST_NS" python3 "$ROOT/tests/system/flood.py" 550 "$1" \
			"$ST_DIR/flood$i" &
		FLOOD_PIDS+=($!)
	done
	for _ in $(seq 600); do
		[ -s "$ST_DIR/flood1" ] && [ -s "$ST_DIR/flood2" ] && break
		sleep 0.1
	done
	[ -s "$ST_DIR/flood1" ] && [ -s "$ST_DIR/flood2" ] ||
		st_fail "$1 flood: the clients could not open their 1,100 connections"
	st_log "$1 flood: 1,100 TCP connections open"
}

# /healthz over the unix socket and over TCP must answer 200 now.
probe() {
	local code
	API_STATUS=
	out=$(curl -sS --max-time 20 --unix-socket "$ST_SOCK" -w '\n%{http_code}' \
		http://uigniter/healthz 2>&1) || true
	[ "${out##*$'\n'}" = 200 ] || st_fail "$1: /healthz over the unix socket: $out"
	# TCP: a new client gets in, if not at its first try under a slowloris
	# whose reconnects can fill every slot for a moment (a connection
	# refused when every one is busy is closed: the client tries again)
	for _ in $(seq 10); do
		code=$(ip netns exec "$ST_NS" curl -sS --max-time 20 -o /dev/null -w '%{http_code}' \
			http://127.0.0.1:6666/healthz 2>&1) || true
		[ "$code" = 200 ] && break
		sleep 0.5
	done
	[ "$code" = 200 ] || st_fail "$1: /healthz over TCP, 10 tries: $code"
	st_log "$1: /healthz answers over the unix socket and over TCP"
}

flood idle
for _ in $(seq 300); do
	grep -q 'TCP connection limit' "$ST_LOG" && break
	sleep 0.1
done
grep -q 'TCP connection limit' "$ST_LOG" || st_fail "the TCP connection limit was never logged"
probe "idle flood"
grep -qE 'apid.*fd ceiling 1024' "$ST_LOG" || st_fail "apid did not log its fd ceiling"
stop_flood

flood slow
sleep 2 # the slowloris sends its first header lines
probe "slowloris"
stop_flood

[ "$(st_daemon_pid apid)" = "$apid" ] || st_fail "apid was restarted during the flood"
! grep -q 'no heartbeat' "$ST_LOG" || st_fail "a daemon missed its heartbeat"
api GET /healthz
st_expect 200 "healthz after the flood"
[ "$(json .restarts.apid)" = 0 ] || st_fail "apid restarts: $(json .restarts.apid)"
st_pass
