#!/usr/bin/env bash
# uictl reads the registry of a live stack: `ls` shows a running VM with its
# id, ip and state and hides it once stopped, `ls --all` still shows it as
# stopped, `show` prints its columns and events, `leases` its lease while it
# runs; a missing VM or registry is exit 1, a bad command line exit 2.
. "$(dirname "$0")/lib.sh"
UICTL=$BIN/uictl
st_start

# uictl ARGS... → $OUT (stdout+stderr) and $RC; never aborts the test.
uictl() { RC=0; OUT=$("$UICTL" "$@" 2>&1) || RC=$?; }

api POST /vm/run '{"image":"hello"}'
st_expect 201 "run"
id=$(json .id) ip=$(json .ip)
st_log "running $id at $ip"

uictl --config "$ST_CONF" ls
[ "$RC" = 0 ] || st_fail "ls: exit $RC: $OUT"
row=$(grep -E "^$id " <<<"$OUT") || st_fail "ls does not list $id: $OUT"
grep -qE " $ip " <<<"$row" || st_fail "ls row without ip $ip: $row"
grep -q ' running ' <<<"$row" || st_fail "ls row not running: $row"
[ "$(head -n1 <<<"$OUT" | tr -s ' ')" = "ID NAME STATE IP MAC TAP PID CREATED STOPPED" ] ||
	st_fail "ls header: $(head -n1 <<<"$OUT")"

uictl --db "$ST_DB" leases
[ "$RC" = 0 ] || st_fail "leases: exit $RC: $OUT"
grep -qE "^$ip +06:00:ac:1f:00:[0-9a-f]{2} +uit-[0-9]+ +$id +bound " <<<"$OUT" ||
	st_fail "leases: no bound lease of $id at $ip: $OUT"

uictl --config "$ST_CONF" show "$id"
[ "$RC" = 0 ] || st_fail "show: exit $RC: $OUT"
for want in "id +$id" "state +running" "ip +$ip" "image +hello" "lease.ip +$ip"; do
	grep -qE "^$want\$" <<<"$OUT" || st_fail "show: no line '$want': $OUT"
done
# The events, oldest first: create first, running later.
events=$(sed -n '/^events$/,$p' <<<"$OUT" | awk 'NR > 1 { print $2 }')
[ "$(head -n1 <<<"$events")" = create ] || st_fail "show: first event not create: $OUT"
grep -qx running <<<"$events" || st_fail "show: no running event: $OUT"

api POST "/vm/$id/stop"
st_expect 200 "stop"
uictl --config "$ST_CONF" ls
[ "$RC" = 0 ] || st_fail "ls after stop: exit $RC: $OUT"
! grep -q "$id" <<<"$OUT" || st_fail "ls still lists the stopped VM: $OUT"
uictl --config "$ST_CONF" ls --all
grep -E "^$id " <<<"$OUT" | grep -q ' stopped ' || st_fail "ls --all: $id not stopped: $OUT"
uictl --config "$ST_CONF" ls --state stopped
grep -qE "^$id " <<<"$OUT" || st_fail "ls --state stopped: $OUT"
uictl --config "$ST_CONF" show "$id"
grep -qE '^state +stopped$' <<<"$OUT" || st_fail "show after stop: not stopped: $OUT"
! grep -q '^lease\.' <<<"$OUT" || st_fail "show after stop: still a lease: $OUT"
grep -qE '^  [0-9T:.Z-]+  stopped' <<<"$OUT" || st_fail "show: no stopped event: $OUT"

uictl --config "$ST_CONF" show vm-nope
[ "$RC" = 1 ] || st_fail "show vm-nope: exit $RC, expected 1: $OUT"
grep -q 'vm-nope' <<<"$OUT" || st_fail "show vm-nope: message does not name it: $OUT"
uictl --db "$ST_DIR/nowhere.db" ls
[ "$RC" = 1 ] || st_fail "missing registry: exit $RC, expected 1"
[ "$OUT" = "uictl: $ST_DIR/nowhere.db: no registry (is uigniterd configured with this state_dir?)" ] ||
	st_fail "missing registry: $OUT"
for bad in "" "frob" "ls extra" "ls --state nonsense" "ls --bogus" "show" "show a b"; do
	# shellcheck disable=SC2086 # split into words on purpose
	uictl --db "$ST_DB" $bad
	[ "$RC" = 2 ] || st_fail "uictl $bad: exit $RC, expected 2: $OUT"
done

st_pass
