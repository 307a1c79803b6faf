#!/usr/bin/env bash
# pool.boot: snapshot with real QEMU (TCG), pool.size 2 (docs/ARCHITECTURE.md
# "Snapshot-started slots"): the hello image's template is booted once and
# saved under <state_dir>/templates (GET /pool template ready, its bytes);
# two slots are restored from it, each paused with its app answering.
#   - a run takes a slot: its first request is answered at once with
#     "hello from <its id>" on its own address, and the bridge learnt the
#     VM's own MAC there (not the template's); the slot's QEMU was restored
#     (-incoming fd:3, no boot of its own: no "Linux version" on its console);
#   - after it stops, a second run takes another restored slot: its own
#     address and MAC;
#   - SIGHUP with another warm_image: the old template's file is removed and
#     one for the new image is built; the image's files touched: that one
#     is discarded within a second and built again (the stale slot retired);
#   - kill -9 of pool-worker with a restored ready slot: after the restart
#     no VMM, tap or lease is left that no VM owns, and the pool refills;
#   - the stack stopped: no template file, no qemu, tap, lease or cgroup.
# At most two guests run at once: the pool is cut to one slot (SIGHUP)
# before the first run; the refill restores one while that VM runs.
. "$(dirname "$0")/lib.sh"

ST_VMM_EXTRA="pool:
  size: 2
  warm_image: hello
  boot: snapshot"
st_write_config
sed -i 's/^    mem_mib: 128$/    mem_mib: 128\n    ready_port: 80/' "$ST_CONF"
cp "$GUEST/vmlinuz" "$GUEST/initrd.cpio.gz" "$ST_DIR/" # hello2's files are ours to touch
cat >>"$ST_CONF" <<EOF
  hello2:
    kernel: $ST_DIR/vmlinuz
    initrd: $ST_DIR/initrd.cpio.gz
    mem_mib: 96
    ready_port: 80
EOF
st_start
TDIR=$ST_DIR/state/templates

pool_ready() { # pool_ready N SECONDS: N ready slots and the template ready
	local end=$((SECONDS + $2))
	while [ "$SECONDS" -lt "$end" ]; do
		api GET /pool
		[ "$(json .template.state)" = failed ] &&
			st_fail "template failed: $API_BODY; the last console: $(ls -t "$ST_DIR"/state/vms/*.console.log | head -n1 | xargs tail -n 20)"
		[ "$(json .ready)" = "$1" ] && [ "$(json .template.state)" = ready ] && return 0
		sleep 0.5
	done
	st_fail "pool not at $1 ready from a template in $2 s: $API_BODY"
}
reload() { # reload SIZE IMAGE: SIGHUP with pool.size / warm_image
	sed -i "s/^  size: .*/  size: $1/; s/^  warm_image: .*/  warm_image: $2/" "$ST_CONF"
	kill -HUP "$ST_PID"
	for _ in $(seq 100); do
		grep -q "SIGHUP: pool.size .* -> $1, pool.warm_image .* -> \"$2\"" "$ST_LOG" && return 0
		sleep 0.1
	done
	st_fail "SIGHUP not applied (size $1, $2)"
}
# run_checked: a run on a ready slot, its first request answered at once by
# its own guest, on its own address and MAC; leaves ID, IP, MAC.
run_checked() {
	local slots body neigh
	slots=$(st_sql "select id from vms where state = 'warm'")
	api POST /vm/run '{"image":"hello","wait":"ready"}'
	st_expect 201 "run on a restored slot"
	ID=$(json .id) IP=$(json .ip) MAC=$(st_sql "select mac from vms where id = '$(json .id)'")
	grep -qx "$ID" <<<"$slots" || st_fail "the run did not take a slot ($slots): $API_BODY"
	body=$(ip netns exec "$ST_NS" curl -s --max-time 5 "http://$IP/") ||
		st_fail "$ID: no answer to its first request on $IP"
	[ "$body" = "hello from $ID" ] || st_fail "$ID on $IP answered: $body"
	neigh=$(ip -n "$ST_NS" neigh show "$IP" dev uigt0 | awk '{print $3}')
	[ "$neigh" = "$MAC" ] || st_fail "$IP is at $neigh on the bridge, the VM's MAC is $MAC"
	grep -qs "Linux version" "$ST_DIR/state/vms/$ID.console.log" &&
		st_fail "$ID booted a kernel: not restored"
	grep -q "$ID: restored from the template: address line sent" "$ST_LOG" ||
		st_fail "$ID: no restore in the log"
	st_log "$ID answers on its own address $IP and MAC $MAC"
}
stop_vm() {
	api POST "/vm/$1/stop"
	st_expect 200 "stop of $1"
	[ "$(json .state)" = stopped ] || st_fail "stop $1: $API_BODY"
}

# ---- the template, then two restored slots
pool_ready 2 600
tmpl=$TDIR/hello.1x128.state
[ -f "$tmpl" ] || st_fail "no template file $tmpl: $(ls -la "$TDIR")"
[ "$(json .template.image)" = hello ] || st_fail "template of: $API_BODY"
[ "$(json .template.bytes)" = "$(stat -c %s "$tmpl")" ] || st_fail "template bytes: $API_BODY"
[ "$(json .template.bytes)" -gt 1000000 ] || st_fail "template too small: $API_BODY"
[ "$(stat -c %a "$TDIR")" = 700 ] || st_fail "templates dir mode $(stat -c %a "$TDIR")"
[ "$(grep -c "restored from the template: address line sent" "$ST_LOG")" = 2 ] ||
	st_fail "slots not restored"
[ -z "$(pgrep -f "$ST_DIR/run/vms/template/")" ] || st_fail "the template's qemu still runs"
st_log "template $(json .template.bytes) bytes; 2 slots restored"

# ---- two runs, each on its own slot, address and MAC
reload 1 hello # two guests at most: no refill while the first one runs
run_checked
first=$ID first_ip=$IP
stop_vm "$first"
pool_ready 1 600 # the slot restored meanwhile
run_checked
[ "$IP" != "$first_ip" ] || st_fail "both runs on $IP"
second=$ID

# ---- another warm image: the old template goes, a new one is built
reload 1 hello2
for _ in $(seq 100); do [ -f "$tmpl" ] || break; sleep 0.1; done
[ ! -f "$tmpl" ] || st_fail "the old template $tmpl is still there"
stop_vm "$second"
pool_ready 1 600
[ "$(json .template.image)" = hello2 ] || st_fail "template of: $API_BODY"
[ -f "$TDIR/hello2.1x96.state" ] || st_fail "no template for hello2: $(ls "$TDIR")"

# ---- the image's files change: that template goes too, a new one is built
built=$(json .template.built_at)
touch "$ST_DIR/initrd.cpio.gz"
for _ in $(seq 100); do
	grep -q "template for hello2 discarded: the image's files changed on disk" "$ST_LOG" && break
	sleep 0.1
done
grep -q "template for hello2 discarded: the image's files changed on disk" "$ST_LOG" ||
	st_fail "the template outlived its image's change"
api POST /vm/run '{"image":"hello2","wait":"ready"}' # the old slot is retired: a cold start
st_expect 201 "run of hello2 after its files changed"
[ "$(json .boot_ms)" -gt 100 ] || st_fail "the run took the stale slot: $API_BODY"
stop_vm "$(json .id)"
pool_ready 1 600
[ "$(json .template.built_at)" != "$built" ] || st_fail "no new template: $API_BODY"
[ "$(json .retired_image_changed)" -ge 1 ] || st_fail "stale slot not retired: $API_BODY"

# ---- kill -9 pool-worker with a restored ready slot
slot=$(st_sql "select id from vms where state = 'warm'")
st_kill_daemon pool-worker
pool_ready 1 600
for p in $(pgrep -f "qemu-system.*$ST_DIR"); do
	[ -n "$(st_sql "select id from vms where vmm_pid = $p and state in ('warm','running')")" ] ||
		st_fail "qemu $p has no VM: $(tr '\0' ' ' </proc/$p/cmdline | head -c 300)"
done
[ -z "$(st_unowned_taps | tr -d ' ')" ] || st_fail "unowned taps: $(st_unowned_taps)"
[ "$(ls "$TDIR" | grep -c '\.state')" = 1 ] || st_fail "templates after the restart: $(ls "$TDIR")"
st_log "after kill -9 (slot $slot): pool refilled, nothing unowned"

# ---- stop the stack: nothing left
kill -TERM "$ST_PID"
for _ in $(seq 300); do kill -0 "$ST_PID" 2>/dev/null || break; sleep 0.1; done
! kill -0 "$ST_PID" 2>/dev/null || st_fail "uigniterd did not stop"
ST_PID=
[ -z "$(ls "$TDIR" 2>/dev/null | grep '\.state')" ] || st_fail "template left: $(ls "$TDIR")"
for _ in $(seq 50); do [ -z "$(pgrep -f "qemu-system.*$ST_DIR")" ] && break; sleep 0.1; done
[ -z "$(pgrep -f "qemu-system.*$ST_DIR")" ] || st_fail "qemu left after the stop"
[ -z "$(st_cgroups_left)" ] || st_fail "cgroups left: $(st_cgroups_left)"
[ -z "$(st_unowned_taps | tr -d " ")" ] || st_fail "taps left: $(st_unowned_taps)"
[ "$(st_sql "select count(*) from leases")" = 0 ] || st_fail "leases left: $(st_sql 'select * from leases')"
st_pass
