#!/usr/bin/env bash
# The warm pool with QEMU (pool: {size: 1, warm_image: hello}): a warm slot is
# a paused qemu with its own id and lease, hidden from the API; a run of the
# warm image takes it (same id, same qemu pid: nothing spawned on the run
# path) and the guest answers with that id; the pool refills; a run of
# another shape starts cold; SIGHUP resizes the pool; a pool-worker crash
# reclaims the slots; SIGTERM leaves no qemu, tap, lease or warm row.
. "$(dirname "$0")/lib.sh"
st_write_config
cat >>"$ST_CONF" <<EOF
pool:
  size: 1
  warm_image: hello
EOF
st_start

pool() { api GET /pool; st_expect 200 "GET /pool"; json ".$1"; }
wait_pool() { # wait_pool FIELD VALUE WHAT
	for _ in $(seq 150); do
		[ "$(pool "$1")" = "$2" ] && return 0
		sleep 0.2
	done
	st_fail "$3: pool $API_BODY"
}
warm_ids() { st_sql "select id from vms where state in ('warming','warm','retiring') order by id"; }
pid_of() { st_sql "select vmm_pid from vms where id = '$1'"; }
ms() { date +%s%3N; }
is_qemu() { grep -q qemu "/proc/$1/cmdline" 2>/dev/null; }

# ---- the first slot: paused qemu, own id and lease, hidden from the API
wait_pool ready 1 "the pool never filled"
[ "$(pool size)" = 1 ] || st_fail "size: $API_BODY"
slot=$(warm_ids)
[ "$(wc -w <<<"$slot")" = 1 ] || st_fail "expected 1 warm row, got: $slot"
[[ $slot =~ ^vm-[0-9a-hjkmnp-tv-z]{20}$ ]] || st_fail "slot id $slot"
slot_pid=$(pid_of "$slot")
is_qemu "$slot_pid" || st_fail "warm slot pid $slot_pid is not a live qemu"
grep -q -- ' -S' <(tr '\0' ' ' <"/proc/$slot_pid/cmdline") || st_fail "warm qemu not started with -S"
[ "$(st_sql "select count(*) from leases where vm_id = '$slot'")" = 1 ] || st_fail "no lease for the slot"
sleep 1
[ ! -s "$ST_DIR/state/vms/$slot.console.log" ] || st_fail "a warm guest printed on its console (not paused)"
api GET /vm
[ "$(jq '.vms | length' <<<"$API_BODY")" = 0 ] || st_fail "GET /vm shows the warm slot: $API_BODY"
api GET "/vm?state=warm"
[ "$(jq -r '.vms[0].id' <<<"$API_BODY")" = "$slot" ] || st_fail "?state=warm: $API_BODY"
api GET "/vm/$slot"
st_expect 404 "GET of a warm slot"
api POST "/vm/$slot/stop"
st_expect 404 "stop of a warm slot"
st_log "warm slot $slot (qemu pid $slot_pid, paused)"

# ---- a hit: the VM is the slot (id, qemu pid); the guest has the slot's id
t0=$(ms)
api POST /vm/run '{"image":"hello","name":"warm1"}'
t_hit=$(( $(ms) - t0 ))
st_expect 201 "warm run"
id1=$(json .id) ip1=$(json .ip)
[ "$id1" = "$slot" ] || st_fail "warm run got id $id1, the slot was $slot"
[ "$(json .state)" = running ] || st_fail "warm run state $(json .state)"
[ "$(json .name)" = warm1 ] || st_fail "warm run name"
[ "$(pid_of "$id1")" = "$slot_pid" ] || st_fail "warm run has qemu pid $(pid_of "$id1"), the slot had $slot_pid"
[ "$(pool hits)" = 1 ] || st_fail "hits: $API_BODY"
[ "$(pool misses)" = 0 ] || st_fail "misses: $API_BODY"
body=$(st_guest_http "$ip1") || st_fail "guest $id1 at $ip1 never answered HTTP"
[ "$body" = "hello from $id1" ] || st_fail "guest $ip1 answered '$body'"
st_log "warm run: $id1 in $t_hit ms, $ip1 answers: $body"

# ---- refill: a new paused slot
wait_pool ready 1 "no refill after the hit"
slot2=$(warm_ids)
[ "$(wc -w <<<"$slot2")" = 1 ] && [ "$slot2" != "$slot" ] || st_fail "refill: warm rows '$slot2'"
slot2_pid=$(pid_of "$slot2")
is_qemu "$slot2_pid" || st_fail "refilled slot pid $slot2_pid not a live qemu"
[ "$(pool in_use)" = 1 ] || st_fail "in_use: $API_BODY"
st_log "refilled: $slot2 (qemu pid $slot2_pid)"

# ---- a miss: another shape starts cold and leaves the slot alone
t0=$(ms)
api POST /vm/run '{"image":"hello","name":"cold1","mem_mib":96}'
t_miss=$(( $(ms) - t0 ))
st_expect 201 "cold run"
id2=$(json .id) ip2=$(json .ip)
[ "$id2" != "$slot2" ] || st_fail "cold run took the warm slot"
[ "$(json .mem_mib)" = 96 ] || st_fail "cold run mem_mib $(json .mem_mib)"
[ "$(pool misses)" = 1 ] || st_fail "misses: $API_BODY"
[ "$(pool hits)" = 1 ] || st_fail "hits after the miss: $API_BODY"
[ "$(warm_ids)" = "$slot2" ] || st_fail "the warm slot changed on a miss: $(warm_ids)"
body=$(st_guest_http "$ip2") || st_fail "cold guest $id2 never answered HTTP"
[ "$body" = "hello from $id2" ] || st_fail "cold guest answered '$body'"
st_log "cold run: $id2 in $t_miss ms (warm: $t_hit ms), $ip2 answers: $body"

# ---- SIGHUP: pool.size 2
sed -i 's/^  size: 1$/  size: 2/' "$ST_CONF"
kill -HUP "$ST_PID"
wait_pool ready 2 "SIGHUP resize to 2"
[ "$(pool size)" = 2 ] || st_fail "size after SIGHUP: $API_BODY"
[ "$(warm_ids | wc -l)" = 2 ] || st_fail "warm rows after SIGHUP: $(warm_ids)"
st_log "SIGHUP: pool size 2, ready 2"

# ---- SIGHUP, no warm image: qemu cannot warm without one → no slots
sed -i 's/^  warm_image: hello$/  warm_image: ""/' "$ST_CONF"
kill -HUP "$ST_PID"
for _ in $(seq 100); do grep -q 'cannot warm a VMM without' "$ST_LOG" && break; sleep 0.1; done
grep -q 'cannot warm a VMM without' "$ST_LOG" || st_fail "no log line: qemu cannot warm without an image"
for _ in $(seq 50); do [ -z "$(warm_ids)" ] && break; sleep 0.1; done
[ -z "$(warm_ids)" ] || st_fail "warm rows left without a warm image: $(warm_ids)"
sleep 1
[ -z "$(warm_ids)" ] && [ "$(pool ready)" = 0 ] || st_fail "slots without a warm image: $API_BODY $(warm_ids)"
# Tried once, told once (the slot's own transition line says it too).
[ "$(grep -c 'pool: no warm slots: .*cannot warm a VMM without' "$ST_LOG")" = 1 ] ||
	st_fail "not logged once"
[ "$(grep -c -- ' (error): .*cannot warm a VMM without' "$ST_LOG")" = 1 ] ||
	st_fail "more than one slot tried without a warm image"
sed -i 's/^  warm_image: ""$/  warm_image: hello/' "$ST_CONF"
kill -HUP "$ST_PID"
wait_pool ready 2 "SIGHUP back to warm_image hello"
st_log "SIGHUP: no warm image → 0 slots (logged once); back to hello → ready 2"

# ---- pool-worker crash: the old slots are reclaimed, new ones warmed
old_slots=$(warm_ids)
old_pids=$(for s in $old_slots; do pid_of "$s"; done)
pw=$(st_daemon_pid pool-worker)
kill -KILL "$pw"
for _ in $(seq 150); do
	new=$(warm_ids)
	if [ "$(wc -l <<<"$new")" = 2 ] && [ -z "$(comm -12 <(echo "$old_slots") <(echo "$new"))" ] &&
	   [ "$(pool ready)" = 2 ]; then
		break
	fi
	sleep 0.2
done
[ -z "$(comm -12 <(echo "$old_slots") <(warm_ids))" ] || st_fail "old warm rows not reclaimed: $(warm_ids)"
[ "$(pool ready)" = 2 ] || st_fail "no new slots after the crash: $API_BODY"
for p in $old_pids; do
	for _ in $(seq 50); do is_qemu "$p" || break; sleep 0.1; done
	is_qemu "$p" && st_fail "qemu $p of a reclaimed slot still alive"
done
[ "$(st_sql "select count(*) from vms where id in ('${old_slots//$'\n'/\',\'}')")" = 0 ] ||
	st_fail "reclaimed slot rows not deleted"
for id in "$id1" "$id2"; do
	[ "$(st_sql "select state from vms where id = '$id'")" = running ] || st_fail "$id not running after the crash"
done
st_log "pool-worker crash: slots $(echo $old_slots) reclaimed, new: $(echo $(warm_ids))"

# ---- stop the VMs, then uigniterd: nothing of the pool remains
for id in "$id1" "$id2"; do
	api POST "/vm/$id/stop"
	st_expect 200 "stop $id"
done
all_pids=$(st_vmm_pids)
kill -TERM "$ST_PID"
for _ in $(seq 150); do kill -0 "$ST_PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$ST_PID" 2>/dev/null && st_fail "uigniterd did not exit"
ST_PID=
for p in $all_pids; do
	is_qemu "$p" && st_fail "qemu $p alive after uigniterd stopped"
done
# Taps stay as netd's stock (rows 'ready', no lease): the next start reuses them.
[ -z "$(st_unowned_taps | tr -d ' ')" ] || st_fail "taps left: $(st_unowned_taps)"
[ "$(st_sql 'select count(*) from leases')" = 0 ] || st_fail "leases left: $(st_sql 'select * from leases')"
[ "$(st_sql "select count(*) from vms where state in ('warming','warm','retiring')")" = 0 ] ||
	st_fail "warm rows left"
grep -q 'warm slots released' "$ST_LOG" || st_fail "pool-worker did not release its slots on SIGTERM"
st_log "after SIGTERM: no qemu, tap, lease or warm row"
st_pass
