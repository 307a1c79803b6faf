#!/usr/bin/env bash
# Crash safety under load (Firecracker contract fake, so VMs are cheap):
# tests/fault/chaos.py runs CHAOS_RUNS runs and stops from several clients
# with idempotency keys while daemons are kill -9'd at random; then, in a
# second round, uigniterd and all its daemons are kill -9'd together and
# started again. After a quiet period the invariants must hold:
# - every VM a client got a 2xx for is in the registry in the state the
#   client last asked for, and its VMM process exists iff it is running;
# - no two running VMs share an IP, MAC or tap; no key names two VMs;
# - no VMM process, tap, lease, API socket or console log without a row
#   that owns it (a tap: its `taps` row; spare taps outlive leases).
#
# CHAOS_DRIVER=qemu runs a smaller round with real QEMU guests
# (test_fault_chaos_qemu.sh); CHAOS_RUNS, CHAOS_RUNS2, CHAOS_MS size it.
. "$(dirname "$0")/lib.sh"
FAKE=$ROOT/$BUILD/tests/fakes/firecracker
RUNS=${CHAOS_RUNS:-200}
RUNS2=${CHAOS_RUNS2:-40}
CHAOS_MS=${CHAOS_MS:-300}

st_write_config
sed -i -e "s|^limits:|limits:\n  max_vms: 1000|" "$ST_CONF"
if [ "${CHAOS_DRIVER:-firecracker}" = qemu ]; then
	VMM_RE="qemu-system-x86_64 .*$ST_DIR/run/vms/"
else
	[ -x "$FAKE" ] || st_fail "the Firecracker fake is not built ($FAKE)"
	sed -i -e "s|^  driver: qemu|  driver: firecracker\n  firecracker: $FAKE|" "$ST_CONF"
	VMM_RE="^$FAKE --api-sock $ST_DIR/"
fi
st_start

# Round 1: random daemon kills under load.
/usr/bin/python3 "$ROOT/tests/fault/chaos.py" --sock "$ST_SOCK" --uigniterd-pid "$ST_PID" \
	--runs "$RUNS" --clients 4 --chaos-ms "$CHAOS_MS" --out "$ST_DIR/round1.json" ||
	st_fail "chaos round 1 saw client-visible errors: $(jq -c .errors "$ST_DIR/round1.json" | head -c 2000)"
st_log "round 1: $(jq -c '{runs_ok, stops_ok, retries, kills, longest_health_gap_ms}' "$ST_DIR/round1.json")"

# Round 2: the whole manager dies at once (kill -9), then starts again.
kids=$(pgrep -P "$ST_PID" -x 'netd|pool-worker|apid' | tr '\n' ' ')
kill -KILL "$ST_PID" $kids
wait "$ST_PID" 2>/dev/null || true
st_log "killed uigniterd $ST_PID and daemons $kids"
ST_PID=
st_start
/usr/bin/python3 "$ROOT/tests/fault/chaos.py" --sock "$ST_SOCK" --uigniterd-pid "$ST_PID" \
	--runs "$RUNS2" --clients 4 --chaos-ms $((CHAOS_MS * 4 / 3)) --out "$ST_DIR/round2.json" ||
	st_fail "chaos round 2 saw client-visible errors: $(jq -c .errors "$ST_DIR/round2.json" | head -c 2000)"
st_log "round 2: $(jq -c '{runs_ok, stops_ok, retries, kills, longest_health_gap_ms}' "$ST_DIR/round2.json")"

# Quiet period: let restarts and recovery settle, and all daemons be up.
for _ in $(seq 100); do
	api GET /healthz
	[ "$(json '.daemons["pool-worker"]')" = up ] && [ "$(json .daemons.netd)" = up ] && break
	sleep 0.1
done
sleep 2

# Invariant 1: what the clients were told is what the registry says.
jq -s '.[0].vms + .[1].vms | to_entries[] | "\(.key) \(.value.want)"' -r \
	"$ST_DIR/round1.json" "$ST_DIR/round2.json" >"$ST_DIR/want.txt"
[ "$(wc -l <"$ST_DIR/want.txt")" -ge $(((RUNS + RUNS2) / 2)) ] || st_fail "too few VMs were run: $(wc -l <"$ST_DIR/want.txt")"
bad=0
while read -r id want; do
	row=$(st_sql "select state, coalesce(vmm_pid,0), coalesce(vmm_start_time,0) from vms where id = '$id'")
	IFS='|' read -r state pid start <<<"$row"
	if [ "$state" != "$want" ]; then
		echo "  $id: registry says '$state', client last asked for '$want'"; bad=$((bad + 1)); continue
	fi
	alive=no
	if [ "$pid" -gt 0 ] && st_pid_alive "$pid"; then
		[ "$(awk '{print $22}' "/proc/$pid/stat" 2>/dev/null)" = "$start" ] && alive=yes
	fi
	if [ "$state" = running ] && [ $alive = no ]; then
		echo "  $id: running but its VMM (pid $pid) is gone"; bad=$((bad + 1))
	elif [ "$state" != running ] && [ $alive = yes ]; then
		echo "  $id: $state but its VMM (pid $pid) is alive"; bad=$((bad + 1))
	fi
done <"$ST_DIR/want.txt"
[ $bad = 0 ] || st_fail "$bad VMs disagree with what their clients were told"

# Invariant 2: no sharing among live VMs; one VM per key.
for col in ip mac tap; do
	dup=$(st_sql "select $col from vms where state in ('running','starting','stopping','creating') and $col is not null group by $col having count(*) > 1")
	[ -z "$dup" ] || st_fail "running VMs share a $col: $dup"
done
dup=$(st_sql "select idempotency_key from vms where idempotency_key is not null group by 1 having count(*) > 1")
[ -z "$dup" ] || st_fail "an idempotency key names two VMs: $dup"

# Invariant 3: nothing without an owner.
running_pids=$(st_sql "select vmm_pid from vms where state = 'running'" | sort)
fake_pids=$(pgrep -f "$VMM_RE" | sort || true)
orphans=$(comm -13 <(echo "$running_pids") <(echo "$fake_pids") | tr '\n' ' ')
[ -z "${orphans// /}" ] || st_fail "VMM processes without a running row: $orphans"
leases=$(st_sql "select l.tap from leases l left join vms v on v.id = l.vm_id where v.state is null or v.state in ('stopped','failed')")
[ -z "$leases" ] || st_fail "leases whose VM is gone: $leases"
# Spare taps outlive leases (the stock), but every tap device has a `taps`
# row ('ready', or 'deleting' while netd removes it), every 'ready' row has
# its device, and every lease's tap is a 'ready' row.
taps=$(ip -n "$ST_NS" -br link | awk '$1 ~ /^uit-/ {sub(/@.*/, "", $1); print $1}' | sort)
rows=$(st_sql "select name from taps where state in ('ready','deleting')" | sort)
unowned=$(comm -23 <(echo "$taps") <(echo "$rows") | tr '\n' ' ')
[ -z "${unowned// /}" ] || st_fail "tap devices without a ready or deleting row: $unowned"
ready=$(st_sql "select name from taps where state = 'ready'" | sort)
missing=$(comm -13 <(echo "$taps") <(echo "$ready") | tr '\n' ' ')
[ -z "${missing// /}" ] || st_fail "ready taps rows without a device: $missing"
unready=$(st_sql "select l.tap || ':' || coalesce(t.state, 'no row') from leases l left join taps t on t.name = l.tap where t.state is not 'ready'")
[ -z "$unready" ] || st_fail "leases whose tap is not a ready row: $unready"
for s in "$ST_DIR"/run/vms/*/*; do # <run_dir>/vms/<id>/qmp or sock
	[ -e "$s" ] || continue
	case $s in *.calls.jsonl) continue ;; esac
	n=$(st_sql "select count(*) from vms where api_socket = '$s' and state = 'running'")
	[ "$n" = 1 ] || st_fail "socket file without a running VM: $s"
done
for l in "$ST_DIR"/state/vms/*.console.log; do
	[ -e "$l" ] || continue
	n=$(st_sql "select count(*) from vms where console_log = '$l'")
	[ "$n" = 1 ] || st_fail "console log without a VM row: $l"
done
st_log "invariants hold for $(wc -l <"$ST_DIR/want.txt") VMs; running now: $(st_sql "select count(*) from vms where state='running'")"
st_log "longest /healthz gap: round 1 $(jq .longest_health_gap_ms "$ST_DIR/round1.json") ms, round 2 $(jq .longest_health_gap_ms "$ST_DIR/round2.json") ms"

# Stop what is still running, so the cleanup finds nothing of ours alive.
for id in $(st_sql "select id from vms where state = 'running'"); do
	api POST "/vm/$id/stop"
	st_expect 200 "final stop of $id"
done
st_pass
