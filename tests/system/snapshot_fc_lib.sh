# snapshot_fc_lib.sh — what the Firecracker snapshot-pool tests
# (test_pool_snapshot_fc*.sh) share; sourced after lib.sh and st_fc_fake.

# calllog ID: the fake's call log of VMM ID; calls ID: its requests as
# [method, path, status] lines
calllog() { echo "$ST_DIR/calls/$1.calls.jsonl"; }
calls() { jq -c 'select(.method) | [.method, .path, .status]' "$(calllog "$1")"; }
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
