#!/usr/bin/env bash
# pool.boot: snapshot with the Firecracker fake across file systems (tmpfs
# mounts here).
# 1. state_dir on another file system than run_dir — the production layout
#    (/var/lib on a disk, /run a tmpfs): Firecracker's templates live under
#    run/templates, so the template's files are hard links of what its
#    Firecracker wrote and each slot's are hard links of the templates'
#    (one inode: one page cache for every slot), never copies; a run takes
#    a slot; nothing is left at the stop.
# 2. Jailed, vmm.chroot_base on yet another file system: no link crosses,
#    so the template's files are copied into run/templates (root's, the
#    VMM group's, 0640, the same bytes) and each slot gets copies in its
#    chroot (the log says so once, with the fix); the pool still fills
#    from the template. (Needs the static
#    fake and the jailer fake: skipped under sanitizers.)
ST_DRIVER=firecracker
ST_NEED_GUEST=0
. "$(dirname "$0")/lib.sh"

st_fc_fake
. "$(dirname "$0")/snapshot_fc_lib.sh"

MNT=$ST_DIR/state JMNT=$ST_DIR/jails
mkdir -p "$MNT" "$JMNT"
mount -t tmpfs -o size=64m uigniter-test-xdev "$MNT" || st_fail "cannot mount a tmpfs"
xdev_umount() {
	umount "$MNT" || echo "cannot unmount $MNT" >&2
	! mountpoint -q "$JMNT" || umount "$JMNT" || echo "cannot unmount $JMNT" >&2
}
ST_CLEANUP_HOOK=xdev_umount

export FC_FAKE_GUEST_AGENT=1
export FC_FAKE_CONSOLE_ON_START="APP-READY: listening"
ST_VMM_EXTRA="$ST_VMM_EXTRA
$SNAP_POOL"
ST_IMAGES_EXTRA="$ST_IMAGES_EXTRA
    mem_mib: 16
    ready_pattern: APP-READY"
IMAGES0=$ST_IMAGES_EXTRA
st_write_config
sed -i 's/^limits:$/limits:\n  ready_timeout_ms: 10000/' "$ST_CONF"
TDIR=$ST_DIR/run/templates
tmpl_files_ok() { # root's, the VMM group's, 0640; a 16 MiB memory file
	local f
	for f in state mem; do
		[ "$(stat -c '%U:%G %a' "$TDIR/fc.1x16.$f")" = "root:$(id -gn "$ST_VMM_USER") 640" ] ||
			st_fail "template $f file: $(stat -c '%U:%G %a' "$TDIR/fc.1x16.$f")"
	done
	[ "$(stat -c %s "$TDIR/fc.1x16.mem")" = $((16 << 20)) ] || st_fail "mem file: $(ls -la "$TDIR")"
}
stop_checked() { # stopped: no template file, no VMM directory
	stop_stack
	[ ! -e "$TDIR" ] || [ -z "$(ls -A "$TDIR")" ] || st_fail "templates left: $(ls -la "$TDIR")"
	[ -z "$(ls -A "$ST_DIR/run/vms" 2>/dev/null)" ] || st_fail "VMM directories left: $(ls "$ST_DIR/run/vms")"
}

# ---- 1. state_dir elsewhere: links all the way
st_start
pool_ready 1
[ "$(stat -c %d "$MNT")" != "$(stat -c %d "$ST_DIR/run")" ] || st_fail "not two file systems"
[ -z "$(ls -A "$MNT/templates" 2>/dev/null)" ] || st_fail "templates under state_dir: $(ls -la "$MNT/templates")"
tmpl_files_ok
slot=$(sql "select id from vms where state = 'warm'")
[ "$(calls "$slot")" = '["PUT","/snapshot/load",204]
["PATCH","/vm",204]' ] || st_fail "slot calls: $(calls "$slot")"
for f in state mem; do
	[ "$(stat -c %i "$ST_DIR/run/vms/$slot/template.$f")" = "$(stat -c %i "$TDIR/fc.1x16.$f")" ] ||
		st_fail "the slot's template.$f is a copy, not a link of the template's"
done
api POST /vm/run '{"image":"fc","wait":"ready"}'
st_expect 201 "run on the slot"
[ "$(json .id)" = "$slot" ] || st_fail "the run did not take the slot: $API_BODY"
api POST "/vm/$slot/stop"
st_expect 200 "stop"
pool_ready 1 # a second slot restored
! grep -q "template files are copies" "$ST_LOG" || st_fail "links, but a copy warning: $(grep "copies" "$ST_LOG")"
stop_checked
st_log "state_dir on another file system: template and slot files are links of one inode"

# ---- 2. jailed, chroot_base on another file system: copies
if ! jail_fakes; then
	st_log "no static fake / jailer fake (sanitizers): the jailed part is left out"
	st_pass
	exit 0
fi
mount -t tmpfs -o size=64m uigniter-test-xdev-jails "$JMNT" || st_fail "cannot mount a tmpfs"
ST_IMAGES_EXTRA=$IMAGES0
jail_config 10000 "  chroot_base: $JMNT"
st_start
pool_ready 1
tmpl_files_ok
slot=$(sql "select id from vms where state = 'warm'")
root=$JMNT/firecracker/$slot/root
[ "$(stat -c %d "$root/run/template.mem")" != "$(stat -c %d "$TDIR/fc.1x16.mem")" ] ||
	st_fail "the slot's chroot is not on another file system"
cmp -s "$TDIR/fc.1x16.state" "$root/run/template.state" ||
	st_fail "the slot's state file is not the template's"
[ "$(calls_in "$root/run/firecracker.socket.calls.jsonl")" = '["PUT","/snapshot/load",204]
["PATCH","/vm",204]' ] || st_fail "jailed slot calls"
# the operator is told once, not at every slot
api POST /vm/run '{"image":"fc","wait":"ready"}'
st_expect 201 "run on the jailed slot"
vm=$(json .id)
pool_ready 1 # a second slot restored: copies again
wait_log 1 "template files are copies of $TDIR/fc.1x16.state, not hard links" ||
	st_fail "no warning about the copies: $(grep -i "snapshot" "$ST_LOG" | tail -n 3)"
[ "$(grep -c "template files are copies" "$ST_LOG")" = 1 ] ||
	st_fail "the copy warning more than once: $(grep "copies" "$ST_LOG")"
api POST "/vm/$vm/stop"
st_expect 200 "stop of $vm"
stop_checked
for _ in $(seq 50); do [ -z "$(ls -A "$JMNT/firecracker" 2>/dev/null)" ] && break; sleep 0.1; done
[ -z "$(ls -A "$JMNT/firecracker" 2>/dev/null)" ] || st_fail "jails left: $(ls "$JMNT/firecracker")"
st_log "jailed, chroot_base on another file system: copies, the pool filled"
st_pass
