#!/usr/bin/env bash
# Readiness with the Firecracker fake (its stdout is the guest's console;
# FC_FAKE_CONSOLE_ON_START makes the "guest" print its ready line):
#   - "wait": "ready" answers 201 only once the image's console pattern is
#     seen: ready_at and boot_ms are set, a `ready` event recorded;
#   - without wait, the run answers at running and ready_at follows;
#   - a guest that never gets ready: 504 after limits.ready_timeout_ms, the
#     VM left running (ready_at null, a `not-ready` event), and it stops;
#   - an image without a rule is ready as it runs;
#   - a bad "wait" is a 400.
ST_DRIVER=firecracker
ST_NEED_GUEST=0
. "$(dirname "$0")/lib.sh"

st_fc_fake

export FC_FAKE_CONSOLE_ON_START="APP-READY: listening"
ST_IMAGES_EXTRA="$ST_IMAGES_EXTRA
    ready_pattern: APP-READY
  never:
    kernel: $ST_DIR/vmlinux
    ready_pattern: NEVER-PRINTED
  norule:
    kernel: $ST_DIR/vmlinux
    ready_pattern: \"\""
st_write_config
sed -i 's/^limits:$/limits:\n  ready_timeout_ms: 1500/' "$ST_CONF"
st_start

api POST /vm/run '{"image":"fc","wait":"ready"}'
st_expect 201 "run with wait ready"
a=$(json .id)
[ "$(json .state)" = running ] || st_fail "state: $API_BODY"
[ "$(json .ready_at)" != null ] || st_fail "201 before ready: $API_BODY"
[ "$(json .boot_ms)" -ge 0 ] 2>/dev/null || st_fail "boot_ms: $API_BODY"
[ "$(sql "select detail from events where vm_id = '$a' and kind = 'ready'")" = "console pattern seen" ] ||
	st_fail "events: $(sql "select kind, detail from events where vm_id = '$a'")"

api POST /vm/run '{"image":"fc"}'
st_expect 201 "run without wait"
b=$(json .id)
for _ in $(seq 50); do
	api GET "/vm/$b"
	[ "$(json .ready_at)" != null ] && break
	sleep 0.1
done
[ "$(json .ready_at)" != null ] || st_fail "ready_at never set without wait: $API_BODY"

api POST /vm/run '{"image":"never","wait":"ready"}'
st_expect 504 "a guest that never gets ready"
grep -q "not ready within 1500 ms" <<<"$(json .error.message)" || st_fail "message: $API_BODY"
grep -q "left running" <<<"$(json .error.message)" || st_fail "message: $API_BODY"
c=$(sql "select id from vms where image = 'never'")
api GET "/vm/$c"
[ "$(json .state)" = running ] || st_fail "the unready VM: $API_BODY"
[ "$(json .ready_at)" = null ] || st_fail "the unready VM: $API_BODY"
[ "$(sql "select detail from events where vm_id = '$c' and kind = 'not-ready'")" = "not ready within 1500 ms" ] ||
	st_fail "events: $(sql "select kind, detail from events where vm_id = '$c'")"

api POST /vm/run '{"image":"norule","wait":"ready"}'
st_expect 201 "an image without a ready rule"
[ "$(json .ready_at)" = "$(json .started_at)" ] || st_fail "no rule: $API_BODY"

api POST /vm/run '{"image":"fc","wait":"booted"}'
st_expect 400 "a bad wait"

for id in $(sql "select id from vms where state = 'running'"); do
	api POST "/vm/$id/stop"
	st_expect 200 "stop $id"
done
[ "$(sql "select count(*) from vms where state not in ('stopped','failed')")" = 0 ] ||
	st_fail "live rows: $(sql "select id, state from vms")"
st_pass
