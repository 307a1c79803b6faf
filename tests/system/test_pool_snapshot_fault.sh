#!/usr/bin/env bash
# pool.boot: snapshot when restores fail (real QEMU, TCG; pool.size 1): the
# template is built and a slot restored from it; then the state file is
# damaged (truncated) and a run takes the slot. The refill's restores no
# longer load (QEMU exits), and after PW_SNAP_MAX_FAILS (2) failed slots in a
# row the template is failed: GET /pool says template.state "failed" with the
# reason, refill_errors counts the failures, the file is removed, and the
# pool still fills — its slot booted ahead (a kernel boot on its console, no
# restore). Nothing is left once the stack stops (qemu, taps, leases).
# At most two guests at once: the running VM and one slot.
. "$(dirname "$0")/lib.sh"

ST_VMM_EXTRA="pool:
  size: 1
  warm_image: hello
  boot: snapshot"
st_write_config
sed -i 's/^    mem_mib: 128$/    mem_mib: 128\n    ready_port: 80/' "$ST_CONF"
st_start
tmpl=$ST_DIR/state/templates/hello.1x128.state

for _ in $(seq 1200); do
	api GET /pool
	[ "$(json .ready)" = 1 ] && [ "$(json .template.state)" = ready ] && break
	sleep 0.5
done
[ "$(json .template.state)" = ready ] && [ "$(json .ready)" = 1 ] ||
	st_fail "no slot restored from a template: $API_BODY"
[ "$(json .refill_errors)" = 0 ] || st_fail "refill errors before the damage: $API_BODY"
truncate -s 4096 "$tmpl" # a state file cut short: QEMU's -incoming fails on it

api POST /vm/run '{"image":"hello","wait":"ready"}'
st_expect 201 "run on the restored slot"
id=$(json .id)
[ "$(st_guest_http "$(json .ip)")" = "hello from $id" ] || st_fail "$id does not answer"

st_snap_restores_failed 1200 0.5 # backoff 1 s, 2 s, then a boot under TCG
[ ! -e "$tmpl" ] || st_fail "the damaged template file is still there"
slot=$(st_sql "select id from vms where state = 'warm'")
grep -qs "Linux version" "$ST_DIR/state/vms/$slot.console.log" ||
	st_fail "slot $slot was not booted ahead"
grep -q "template for hello failed: 2 slots in a row failed to restore" "$ST_LOG" ||
	st_fail "the fallback is not logged"
st_log "template failed ($(json .template.error)); slot $slot booted ahead"

api POST "/vm/$id/stop"
st_expect 200 "stop of $id"
kill -TERM "$ST_PID"
for _ in $(seq 300); do kill -0 "$ST_PID" 2>/dev/null || break; sleep 0.1; done
! kill -0 "$ST_PID" 2>/dev/null || st_fail "uigniterd did not stop"
ST_PID=
for _ in $(seq 50); do [ -z "$(pgrep -f "qemu-system.*$ST_DIR")" ] && break; sleep 0.1; done
[ -z "$(pgrep -f "qemu-system.*$ST_DIR")" ] || st_fail "qemu left after the stop"
[ -z "$(st_unowned_taps | tr -d ' ')" ] || st_fail "taps left: $(st_unowned_taps)"
[ "$(st_sql "select count(*) from leases")" = 0 ] || st_fail "leases left: $(st_sql 'select * from leases')"
[ -z "$(ls "$ST_DIR/state/templates" 2>/dev/null)" ] || st_fail "templates left: $(ls "$ST_DIR/state/templates")"
st_pass
