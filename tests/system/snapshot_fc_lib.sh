# snapshot_fc_lib.sh — what the Firecracker snapshot-pool tests
# (test_pool_snapshot_fc*.sh) share; sourced after lib.sh and st_fc_fake.

# calllog ID: the fake's call log of VMM ID; calls ID: its requests as
# [method, path, status] lines
calllog() { echo "$ST_DIR/calls/$1.calls.jsonl"; }
calls() { calls_in "$(calllog "$1")"; }
calls_in() { jq -c 'select(.method) | [.method, .path, .status]' "$1"; } # a call log by path
# wait_log N PATTERN: the log holds N lines with PATTERN (it is relayed by
# uigniterd: a line may land a moment after the API shows its effect)
wait_log() { for _ in $(seq 100); do [ "$(grep -c -- "$2" "$ST_LOG")" -ge "$1" ] && return 0; sleep 0.1; done; return 1; }
# the template's own taps (pool-worker's, outside netd's prefix)
tmpl_taps() { ip -n "$ST_NS" -br link | awk '$1 ~ /^tmpl-uit-/ {print $1}' | grep .; }
# this test's template VMM(s) (unjailed: its API socket lies under ST_DIR;
# never another test's, which pgrep -f "--id template" would also find)
tmpl_pids() { pgrep -f -- "--api-sock $ST_DIR/run/vms/template/"; }
# holds FILE EXPR [jq args]: EXPR gives at least one value over FILE's lines,
# all true (jq 1.6's -e looks at the last line's output only)
holds() { local f=$1 e=$2; shift 2; jq -s -e "$@" "[.[] | $e] | length > 0 and all" "$f" >/dev/null; }
# nothing_left: once the stack has stopped, no fake Firecracker of ours, no
# tap (netd's or the template's), lease, template file (TDIR) or VMM directory
nothing_left() {
	for _ in $(seq 50); do [ -z "$(pgrep -f -- "--api-sock $ST_DIR/")" ] && break; sleep 0.1; done
	[ -z "$(pgrep -f -- "--api-sock $ST_DIR/")" ] || st_fail "firecracker left: $(pgrep -af -- "--api-sock $ST_DIR/")"
	[ -z "$(st_unowned_taps | tr -d ' ')" ] || st_fail "taps left: $(st_unowned_taps)"
	! tmpl_taps || st_fail "the template's tap is left"
	[ "$(sql "select count(*) from leases")" = 0 ] || st_fail "leases left: $(sql 'select * from leases')"
	[ ! -e "$TDIR" ] || [ -z "$(ls -A "$TDIR")" ] || st_fail "templates left: $(ls -la "$TDIR")"
	[ -z "$(ls -A "$ST_DIR/run/vms" 2>/dev/null)" ] || st_fail "VMM directories left: $(ls "$ST_DIR/run/vms")"
}
# pool_ready N: N ready slots and the template ready (60 s)
pool_ready() {
	for _ in $(seq 300); do
		api GET /pool
		[ "$(json .template.state)" = failed ] && st_fail "template failed: $API_BODY"
		[ "$(json .ready)" = "$1" ] && [ "$(json .template.state)" = ready ] && return 0
		sleep 0.2
	done
	st_fail "pool not at $1 ready from a template: $API_BODY"
}
# pool_fallback: the template failed and the slot booted ahead (30 s)
pool_fallback() {
	for _ in $(seq 300); do
		api GET /pool
		[ "$(json .template.state)" = failed ] && [ "$(json .ready)" = 1 ] && return 0
		sleep 0.1
	done
	st_fail "no slot booted ahead after the template failed: $API_BODY"
}
# stop_stack: uigniterd stopped by SIGTERM (30 s)
stop_stack() {
	kill -TERM "$ST_PID"
	for _ in $(seq 300); do kill -0 "$ST_PID" 2>/dev/null || break; sleep 0.1; done
	! kill -0 "$ST_PID" 2>/dev/null || st_fail "uigniterd did not stop"
	ST_PID=
}

# the pool these tests run: one slot of fc, restored from its template
SNAP_POOL="pool:
  size: 1
  warm_image: fc
  boot: snapshot"

# ---- jailed (the static fake and the jailer fake; not under sanitizers)
SFAKE=$ROOT/$BUILD/tests/fakes/static/firecracker
JAILER=$ROOT/$BUILD/tests/fakes/jailer
JAILS=$ST_DIR/run/jail/firecracker
jail_fakes() { [ -x "$SFAKE" ] && [ -x "$JAILER" ]; }
# jail_config READY_TIMEOUT_MS [VMM LINES]: pool.size 1 of fc, pool.boot
# snapshot, Firecracker through the jailer, the image (ST_IMAGES_EXTRA as the
# test made it) with a rootfs; the config written
jail_config() {
	head -c 65536 /dev/zero >"$ST_DIR/rootfs.ext4"
	ST_VMM_EXTRA="  firecracker: $SFAKE
  jailer: $JAILER${2:+
$2}
$SNAP_POOL"
	ST_IMAGES_EXTRA="$ST_IMAGES_EXTRA
    rootfs: $ST_DIR/rootfs.ext4"
	st_write_config
	sed -i "s/^limits:\$/limits:\n  ready_timeout_ms: $1/" "$ST_CONF"
}
