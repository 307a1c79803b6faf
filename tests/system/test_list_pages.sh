#!/usr/bin/env bash
# A huge list (issue 9, item 8): 100,000 stopped/failed rows. GET /vm is
# paged by cursor (default 100 rows, ?limit= up to 1000, `next` = the last
# id while more rows follow, ?after= to continue): a walk sees every row
# once, in id order; bad parameters are 400s. Four clients walking the
# whole list at once while /healthz is asked over the unix socket: every
# health check answers and apid is never killed by the watchdog.
. "$(dirname "$0")/lib.sh"
st_write_config
sed -i 's/^  max_body_bytes: 4096$/&\n  keep_stopped: 1000000/' "$ST_CONF"
st_start
apid=$(st_daemon_pid apid)
N=100000

# ids vm-00000000000000000001.. (they sort as the created order); every
# tenth row failed
sqlite3 "$ST_DB" ".timeout 10000" "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL
	SELECT i + 1 FROM n WHERE i < $N)
	INSERT INTO vms (id, name, state, image, driver, vcpus, mem_mib, created_at, stopped_at,
	                 exit_status)
	SELECT printf('vm-%020d', i), 'bulk' || i, CASE WHEN i % 10 = 0 THEN 'failed'
	       ELSE 'stopped' END, 'hello', 'qemu', 1, 128, '2026-01-01T00:00:00.000Z',
	       '2026-01-01T00:00:01.000Z', 0 FROM n" >/dev/null
[ "$(st_sql 'SELECT count(*) FROM vms')" = $N ] || st_fail "rows not inserted"
st_log "$N rows inserted"

api GET /vm
st_expect 200 "GET /vm"
[ "$(json '.vms | length')" = 100 ] || st_fail "default page: $(json '.vms | length') rows"
[ "$(json '.vms[0].id')" = vm-00000000000000000001 ] || st_fail "first row: $(json '.vms[0].id')"
[ "$(json .next)" = "$(json '.vms[99].id')" ] || st_fail "next: $(json .next)"
[ "$(json '.vms[0] | has("state") and has("ip") and has("created_at")')" = true ] ||
	st_fail "a row lacks the VM fields: $(json '.vms[0]')"

# walk QUERY — follows next with limit=1000; prints "rows pages"
walk() {
	local q=$1 after= prev= rows=0 pages=0 n
	while :; do
		# every row once, in id order, the cursor is the last row
		read -r n prev after < <(curl -sS --max-time 60 --unix-socket "$ST_SOCK" -f \
			"http://uigniter/vm?limit=1000${q}${after:+&after=$after}" |
			jq -er --arg prev "$prev" 'if (.vms | length) <= 1000 and
				([.vms[].id] == ([.vms[].id] | sort)) and
				((.vms | length) == 0 or .vms[0].id > $prev) and
				(.next == null or .next == .vms[-1].id)
				then "\(.vms | length) \(.vms[-1].id // "-") \(.next // "")"
				else error("bad page") end') || return 1
		rows=$((rows + n)) pages=$((pages + 1))
		[ -n "$after" ] || break
	done
	echo "$rows $pages"
}
out=$(walk "") || st_fail "walk of the whole list failed"
[ "$out" = "$N 100" ] || st_fail "walk: $out (rows pages), expected $N 100"
out=$(walk "&state=failed") || st_fail "walk of ?state=failed failed"
[ "$out" = "$((N / 10)) 10" ] || st_fail "walk of failed: $out"
api GET "/vm?state=failed&limit=5&after=vm-00000000000000000010"
st_expect 200 "a failed page"
[ "$(json '[.vms[].state] | unique | join(",")')" = failed ] || st_fail "filter: $API_BODY"
[ "$(json '.vms[0].id')" = vm-00000000000000000020 ] || st_fail "after: $(json '.vms[0].id')"
st_log "walks: every row once, in order"

for q in limit=0 limit=1001 limit=abc limit= 'after=bad%21id' after= 'limit=10&limit=20' sort=id; do
	api GET "/vm?$q"
	st_expect 400 "GET /vm?$q"
	[ "$(json .error.code)" = invalid_argument ] || st_fail "$q: $API_BODY"
done
st_log "bad parameters: 400 invalid_argument"

# four clients walk the list while the unix socket is asked for /healthz
pids=()
for i in $(seq 4); do
	( walk "" >"$ST_DIR/walk$i" ) &
	pids+=($!)
done
checks=0
while kill -0 "${pids[@]}" 2>/dev/null; do
	code=$(curl -sS --max-time 20 --unix-socket "$ST_SOCK" -o /dev/null -w '%{http_code}' \
		http://uigniter/healthz) || code="failed"
	[ "$code" = 200 ] || st_fail "/healthz during 4 walks: $code"
	checks=$((checks + 1))
	sleep 0.2
done
for i in $(seq 4); do
	wait "${pids[$((i - 1))]}" || st_fail "walker $i failed"
	[ "$(cat "$ST_DIR/walk$i")" = "$N 100" ] || st_fail "walker $i: $(cat "$ST_DIR/walk$i")"
done
st_log "4 parallel walks done; $checks health checks answered meanwhile"
[ "$(st_daemon_pid apid)" = "$apid" ] || st_fail "apid was restarted"
! grep -q 'no heartbeat' "$ST_LOG" || st_fail "a daemon missed its heartbeat"
st_pass
