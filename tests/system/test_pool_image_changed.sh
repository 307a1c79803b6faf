#!/usr/bin/env bash
# A warm slot whose image files changed on disk, or were removed, after it
# was made is retired with the reason and never handed out (Firecracker
# fake, slots booted ahead and paused): the run starts cold on the new
# files, GET /pool counts retired_image_changed, a new slot is made.
ST_DRIVER=firecracker
ST_NEED_GUEST=0
. "$(dirname "$0")/lib.sh"

st_fc_fake
export FC_FAKE_CONSOLE_ON_START="APP-READY"
ST_VMM_EXTRA="$ST_VMM_EXTRA
pool:
  size: 1
  warm_image: fc
  boot: ahead"
ST_IMAGES_EXTRA="$ST_IMAGES_EXTRA
    ready_pattern: APP-READY"
st_write_config
st_start

st_wait_pool 1
slot=$(sql "select id from vms where state = 'warm'")
# the slot itself is fine: a run takes it
api POST /vm/run '{"image":"fc"}'
st_expect 201 "run on an unchanged slot"
[ "$(json .id)" = "$slot" ] || st_fail "the unchanged slot was not taken: $API_BODY"

st_wait_pool 1
slot=$(sql "select id from vms where state = 'warm'")
echo "a new kernel" >"$ST_DIR/vmlinux.new"
mv "$ST_DIR/vmlinux.new" "$ST_DIR/vmlinux" # a new file under the same name
api POST /vm/run '{"image":"fc"}'
st_expect 201 "run after the image changed"
id=$(json .id)
[ "$id" != "$slot" ] || st_fail "the slot of the old image was handed out"
grep -q "$slot: warm slot retired, never handed out: image fc's files changed on disk" "$ST_LOG" ||
	st_fail "no reason logged"
for _ in $(seq 50); do
	[ "$(sql "select count(*) from vms where id = '$slot'")" = 0 ] && break
	sleep 0.1
done
[ "$(sql "select count(*) from vms where id = '$slot'")" = 0 ] || st_fail "slot row left"
api GET /pool
[ "$(json .retired_image_changed)" = 1 ] || st_fail "not counted: $API_BODY"

st_wait_pool 1 # a new slot, on the new files
slot=$(sql "select id from vms where state = 'warm'")
rm "$ST_DIR/vmlinux"
api POST /vm/run '{"image":"fc"}'
[ "$(json .id)" != "$slot" ] || st_fail "the slot of a removed image was handed out: $API_BODY"
grep -q "$slot: warm slot retired, never handed out: $ST_DIR/vmlinux: No such file" "$ST_LOG" ||
	st_fail "no reason logged for the removed image"
api GET /pool
[ "$(json .retired_image_changed)" = 2 ] || st_fail "not counted: $API_BODY"
st_pass
