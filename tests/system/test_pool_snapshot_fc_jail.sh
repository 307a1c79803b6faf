#!/usr/bin/env bash
# pool.boot: snapshot with Firecracker through its jailer (the fakes: the
# static Firecracker fake with FC_FAKE_GUEST_AGENT=1, the jailer fake), an
# image with a rootfs, pool.size 1: every path Firecracker is given is its
# chroot's —
#   - the template wrote its files inside its chroot (/run/template.*): they
#     are in run/templates, and its whole jail is gone once it is saved;
#   - the slot: its /snapshot/load names /run/template.state,
#     /run/template.mem and /run/vsock, its chroot holds them as hard links of
#     the templates' (one page cache) and the image's rootfs as /rootfs (the
#     path the snapshot's drive names, opened again by the restore); its
#     agent line came over the chroot's vsock socket; it is paused;
#   - a run takes it (PATCH /vm Resumed) and a stop removes its jail;
#   - the stack stopped: no firecracker, jail, template file or tap left.
ST_DRIVER=firecracker
ST_NEED_GUEST=0
. "$(dirname "$0")/lib.sh"

st_fc_fake
. "$(dirname "$0")/snapshot_fc_lib.sh"
if ! jail_fakes; then
	echo "skip: $SFAKE / $JAILER not built (not under sanitizers)"
	exit 77
fi

# (no FC_FAKE_CHECK_TAP: a chroot has no /sys to look the tap up in;
# test_pool_snapshot_fc.sh checks the taps)
export FC_FAKE_GUEST_AGENT=1
export FC_FAKE_CONSOLE_ON_START="APP-READY: listening"
ST_IMAGES_EXTRA="$ST_IMAGES_EXTRA
    ready_pattern: APP-READY"
jail_config 10000
st_start
TDIR=$ST_DIR/run/templates

pool_ready 1
[ -f "$TDIR/fc.1x128.state" ] && [ -f "$TDIR/fc.1x128.mem" ] || st_fail "template files: $(ls -la "$TDIR")"
for _ in $(seq 50); do [ ! -e "$JAILS/template" ] && break; sleep 0.1; done
[ ! -e "$JAILS/template" ] || st_fail "the template's jail is left: $(find "$JAILS/template")"

slot=$(sql "select id from vms where state = 'warm'")
root=$JAILS/$slot/root
log=$root/run/firecracker.socket.calls.jsonl
tap=$(sql "select tap from vms where id = '$slot'")
[ "$(calls_in "$log")" = '["PUT","/snapshot/load",204]
["PATCH","/vm",204]' ] || st_fail "slot calls: $(calls_in "$log")"
holds "$log" 'select(.path == "/snapshot/load") | .body ==
	{"snapshot_path": "/run/template.state",
	 "mem_backend": {"backend_type": "File", "backend_path": "/run/template.mem"},
	 "network_overrides": [{"iface_id": "eth0", "host_dev_name": $tap}],
	 "vsock_override": {"uds_path": "/run/vsock"}, "resume_vm": true}' --arg tap "$tap" ||
	st_fail "slot /snapshot/load: $(jq -c 'select(.path == "/snapshot/load")' "$log")"
[ "$(stat -c %i "$root/run/template.mem")" = "$(stat -c %i "$TDIR/fc.1x128.mem")" ] &&
	[ "$(stat -c %i "$root/run/template.state")" = "$(stat -c %i "$TDIR/fc.1x128.state")" ] ||
	st_fail "the slot's template files are not the templates' (copies)"
[ "$(stat -c %i "$root/rootfs")" = "$(stat -c %i "$ST_DIR/rootfs.ext4")" ] ||
	st_fail "no /rootfs in the slot's chroot: $(ls -la "$root")"
[ -S "$root/run/vsock" ] || st_fail "no vsock socket in the slot's chroot"
ip=$(sql "select ip from vms where id = '$slot'")
holds "$log" 'select(.event == "agent") | .port == 52 and (.line | startswith("ip=" + $ip + "::") and
	contains(" uigniter.id=" + $id + " "))' --arg ip "$ip" --arg id "$slot" ||
	st_fail "agent line: $(jq -c 'select(.event == "agent")' "$log")"
st_log "jailed: template saved, slot $slot restored in its chroot"

api POST /vm/run '{"image":"fc","wait":"ready"}'
st_expect 201 "run on the jailed restored slot"
[ "$(json .id)" = "$slot" ] || st_fail "the run did not take the slot: $API_BODY"
[ "$(jq -c 'select(.method == "PATCH") | .body.state' "$log" | tail -n1)" = '"Resumed"' ] ||
	st_fail "not resumed: $(calls_in "$log")"
api POST "/vm/$slot/stop"
st_expect 200 "stop of $slot"
for _ in $(seq 50); do [ ! -e "$JAILS/$slot" ] && break; sleep 0.1; done
[ ! -e "$JAILS/$slot" ] || st_fail "the slot's jail is left"

stop_stack
for _ in $(seq 50); do [ -z "$(ls -A "$JAILS" 2>/dev/null)" ] && break; sleep 0.1; done
[ -z "$(ls -A "$JAILS" 2>/dev/null)" ] || st_fail "jails left: $(ls "$JAILS")"
[ ! -e "$TDIR" ] || [ -z "$(ls -A "$TDIR")" ] || st_fail "templates left: $(ls -la "$TDIR")"
! tmpl_taps || st_fail "the template's tap is left"
[ -z "$(st_unowned_taps | tr -d ' ')" ] || st_fail "taps left: $(st_unowned_taps)"
st_pass
