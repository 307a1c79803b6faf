#!/usr/bin/env bash
# The manager's own contract: a bad config is refused with file:line:col and
# exit 100; a second manager on the same state_dir is refused; SIGTERM stops
# the daemons and removes the shm segment.
. "$(dirname "$0")/lib.sh"

bad=$ST_DIR/bad.yaml
printf 'state_dir: %s/state\nnetwork:\n  subnet: 172.31.0.0/33\n' "$ST_DIR" >"$bad"
rc=0; out=$("$BIN/uigniterd" --config "$bad" 2>&1) || rc=$?
[ $rc = 100 ] || st_fail "bad config: exit $rc, expected 100"
grep -q "$bad:3:11:" <<<"$out" || st_fail "bad config message lacks file:line:col: $out"
st_log "bad config refused: $out"

st_start
rc=0; out=$(ip netns exec "$ST_NS" "$BIN/uigniterd" --config "$ST_CONF" 2>&1) || rc=$?
[ $rc = 100 ] || st_fail "second manager: exit $rc, expected 100"
grep -q "already running" <<<"$out" || st_fail "second manager message: $out"
st_log "second manager refused: $(tail -n1 <<<"$out")"

children=$(pgrep -P "$ST_PID" | tr '\n' ' ')
[ "$(wc -w <<<"$children")" = 3 ] || st_fail "expected 3 daemons, got: $children"
shm=/dev/shm/uigniter-$(st_shm_hash)
[ -e "$shm" ] || st_fail "shm segment $shm missing"
kill -TERM "$ST_PID"
for _ in $(seq 100); do kill -0 "$ST_PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$ST_PID" 2>/dev/null && st_fail "uigniterd did not stop on SIGTERM"
wait "$ST_PID" || st_fail "uigniterd exit status $? on SIGTERM"
for c in $children; do kill -0 "$c" 2>/dev/null && st_fail "daemon $c outlived the manager"; done
[ -e "$shm" ] && st_fail "shm segment left behind"
ST_PID=
st_pass
