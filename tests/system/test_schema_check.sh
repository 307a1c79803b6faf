#!/usr/bin/env bash
# A half-made registry (issue 9, item 5): user_version claims a schema whose
# tables or columns are missing. The manager refuses to start with exit 100
# and a message naming what is missing — it never comes up answering
# /healthz "ok" while runs and GET /vm fail. A registry damaged while the
# manager runs (a table dropped) makes /healthz answer 503, not "ok".
ST_NEED_GUEST=0
. "$(dirname "$0")/lib.sh"

sql() { sqlite3 -cmd '.timeout 5000' "$ST_DB" "$1"; }

stop_stack() {
	kill -TERM "$ST_PID"
	wait "$ST_PID" || st_fail "uigniterd exit status $? on SIGTERM"
	ST_PID=
}

# start_refused WHAT PATTERN: uigniterd must exit 100 with PATTERN in its
# output, and leave no API socket answering.
start_refused() {
	local rc=0 out
	out=$(ip netns exec "$ST_NS" timeout 60 "$BIN/uigniterd" --config "$ST_CONF" 2>&1) || rc=$?
	[ $rc = 100 ] || st_fail "$1: uigniterd exit $rc, expected 100: $(tail -n5 <<<"$out")"
	grep -q "$2" <<<"$out" || st_fail "$1: refusal does not say '$2': $out"
	st_log "$1 refused: $(grep -m1 "$2" <<<"$out")"
	API_STATUS=
	api GET /healthz 2>/dev/null || API_STATUS=none
	[ "$API_STATUS" != 200 ] || st_fail "$1: /healthz answered 200: $API_BODY"
}

st_start
stop_stack
cp "$ST_DB" "$ST_DIR/good.db"
version=$(sql 'PRAGMA user_version') # the current schema, as migrated

# A table of the claimed version missing.
sql 'DROP TABLE taps'
[ "$(sql 'PRAGMA user_version')" = "$version" ] || st_fail "user_version changed"
start_refused "missing table" "table taps is missing"

# A column missing.
cp "$ST_DIR/good.db" "$ST_DB"; rm -f "$ST_DB-wal" "$ST_DB-shm"
sql 'ALTER TABLE vms DROP COLUMN error'
start_refused "missing column" "table vms lacks column error"

# Schema 1 claimed, half-made: refused before any migration step runs.
cp "$ST_DIR/good.db" "$ST_DB"; rm -f "$ST_DB-wal" "$ST_DB-shm"
sql 'DROP TABLE taps; DROP TABLE events; PRAGMA user_version = 1'
start_refused "half-made schema 1" "table events is missing"
[ "$(sql 'PRAGMA user_version')" = 1 ] || st_fail "a half-made schema 1 was migrated"

# The good file starts again; a table dropped under a running manager makes
# /healthz say the registry is not usable.
cp "$ST_DIR/good.db" "$ST_DB"; rm -f "$ST_DB-wal" "$ST_DB-shm"
st_start
api GET /healthz
st_expect 200 "/healthz of a good registry"
[ "$(json .status)" = ok ] || st_fail "/healthz: $API_BODY"
sql 'DROP TABLE leases'
api GET /healthz
st_expect 503 "/healthz with the leases table dropped"
[ "$(json .status)" != ok ] || st_fail "/healthz says ok: $API_BODY"
grep -q "leases" <<<"$API_BODY" || st_fail "/healthz does not name the problem: $API_BODY"
st_log "/healthz: $API_BODY"
st_pass
