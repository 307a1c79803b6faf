#!/usr/bin/env bash
# pool.boot: snapshot with the Firecracker fake when state_dir is another
# file system than run_dir (a tmpfs here; /run is one in production): no
# hard link crosses, so the template's files are copied into
# state/templates (root's, the VMM group's, 0640, the same bytes) and each
# slot gets copies of them in its own directory; the pool still fills
# from the template, a run takes a slot, and nothing is left at the stop.
ST_DRIVER=firecracker
ST_NEED_GUEST=0
. "$(dirname "$0")/lib.sh"

st_fc_fake
. "$(dirname "$0")/snapshot_fc_lib.sh"

MNT=$ST_DIR/state
mkdir -p "$MNT"
mount -t tmpfs -o size=64m uigniter-test-xdev "$MNT" || st_fail "cannot mount a tmpfs"
xdev_umount() { umount "$MNT" || echo "cannot unmount $MNT" >&2; }
ST_CLEANUP_HOOK=xdev_umount

export FC_FAKE_GUEST_AGENT=1 FC_FAKE_CHECK_TAP=1
export FC_FAKE_CONSOLE_ON_START="APP-READY: listening"
ST_VMM_EXTRA="$ST_VMM_EXTRA
pool:
  size: 1
  warm_image: fc
  boot: snapshot"
ST_IMAGES_EXTRA="$ST_IMAGES_EXTRA
    mem_mib: 16
    ready_pattern: APP-READY"
st_write_config
sed -i 's/^limits:$/limits:\n  ready_timeout_ms: 10000/' "$ST_CONF"
st_start
TDIR=$ST_DIR/state/templates

for _ in $(seq 300); do
	api GET /pool
	[ "$(json .template.state)" = failed ] && st_fail "template failed: $API_BODY"
	[ "$(json .ready)" = 1 ] && [ "$(json .template.state)" = ready ] && break
	sleep 0.2
done
[ "$(json .ready)" = 1 ] && [ "$(json .template.state)" = ready ] ||
	st_fail "no slot restored across file systems: $API_BODY"
[ "$(stat -c %d "$TDIR")" != "$(stat -c %d "$ST_DIR/run")" ] || st_fail "not two file systems"
for f in state mem; do
	[ "$(stat -c '%U:%G %a' "$TDIR/fc.1x16.$f")" = "root:$(id -gn "$ST_VMM_USER") 640" ] ||
		st_fail "template $f file: $(stat -c '%U:%G %a' "$TDIR/fc.1x16.$f")"
done
[ "$(stat -c %s "$TDIR/fc.1x16.mem")" = $((16 << 20)) ] || st_fail "mem file: $(ls -la "$TDIR")"
slot=$(sql "select id from vms where state = 'warm'")
[ "$(calls "$slot")" = '["PUT","/snapshot/load",204]
["PATCH","/vm",204]' ] || st_fail "slot calls: $(calls "$slot")"
cmp -s "$TDIR/fc.1x16.state" "$ST_DIR/run/vms/$slot/template.state" ||
	st_fail "the slot's state file is not the template's"
api POST /vm/run '{"image":"fc","wait":"ready"}'
st_expect 201 "run on the slot"
[ "$(json .id)" = "$slot" ] || st_fail "the run did not take the slot: $API_BODY"
api POST "/vm/$slot/stop"
st_expect 200 "stop"
kill -TERM "$ST_PID"
for _ in $(seq 300); do kill -0 "$ST_PID" 2>/dev/null || break; sleep 0.1; done
! kill -0 "$ST_PID" 2>/dev/null || st_fail "uigniterd did not stop"
ST_PID=
[ ! -e "$TDIR" ] || [ -z "$(ls -A "$TDIR")" ] || st_fail "templates left: $(ls -la "$TDIR")"
[ -z "$(ls -A "$ST_DIR/run/vms" 2>/dev/null)" ] || st_fail "VMM directories left: $(ls "$ST_DIR/run/vms")"
st_pass
