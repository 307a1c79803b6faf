#!/usr/bin/env bash
# A hung daemon (SIGSTOP: alive, not beating) is killed by uigniterd's
# heartbeat watchdog and restarted; the API answers again afterwards.
. "$(dirname "$0")/lib.sh"
st_start

for d in netd pool-worker; do
	old=$(st_daemon_pid "$d")
	[ -n "$old" ] || st_fail "no $d"
	kill -STOP "$old"
	st_log "stopped (SIGSTOP) $d pid $old"
	new=
	for _ in $(seq 150); do
		new=$(st_daemon_pid "$d" || true)
		[ -n "$new" ] && [ "$new" != "$old" ] && break
		sleep 0.1
	done
	[ -n "$new" ] && [ "$new" != "$old" ] || st_fail "$d was not restarted after SIGSTOP"
	kill -0 "$old" 2>/dev/null && st_fail "the hung $d ($old) is still alive"
	grep -q "$d (pid $old): no heartbeat" "$ST_LOG" || st_fail "watchdog did not log the hang of $d"
	st_log "$d restarted as pid $new"
done
for _ in $(seq 100); do
	api GET /healthz
	[ "$(json '.daemons["pool-worker"]')" = up ] && [ "$(json .daemons.netd)" = up ] && break
	sleep 0.1
done
[ "$(json '.daemons["pool-worker"]')" = up ] || st_fail "pool-worker not back up: $API_BODY"
st_pass
