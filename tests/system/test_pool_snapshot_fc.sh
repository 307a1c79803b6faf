#!/usr/bin/env bash
# pool.boot: snapshot with the Firecracker driver, against the contract
# fake (FC_FAKE_GUEST_AGENT=1: it stands in for the guest's vsock agent;
# FC_FAKE_CHECK_TAP=1: every tap it is given must exist), pool.size 2
# (docs/ARCHITECTURE.md "Snapshot-started slots"):
#   - the template: its call log has machine-config, eth0 on the template's
#     own tap (tmpl-<prefix><n>), boot-source with uigniter.agent=vsock:52 and
#     no ip=, PUT /vsock, InstanceStart, PATCH /vm Paused, then PUT
#     /snapshot/create (Full); GET /pool template ready with its bytes; the
#     two files under run/templates; its VMM, tap, cgroup and directory
#     gone once it is saved;
#   - each slot: a fresh Firecracker whose only configuration is PUT
#     /snapshot/load (mem_backend File, network_overrides eth0 → its own
#     tap, vsock_override → its own uds, resume_vm true), an `agent` event
#     whose line carries its own ip, id and MAC and a seed (not the other
#     slot's), then PATCH /vm Paused; its memory file is a hard link of the
#     template's (one page cache);
#   - a run with "wait": "ready" takes a slot: PATCH /vm Resumed, a pool
#     hit, ready at once; stopped; the pool refills from the template;
#   - SIGHUP to another warm image: the old template's two files go, one
#     for the new image (its shape) is built and its slots restored; its
#     kernel touched: discarded and built again;
#   - a template tap a crash would leave (tmpl-uit-999, made here) is
#     removed by pool-worker within seconds;
#   - kill -9 of pool-worker: the restored slots are retired (not
#     re-adopted: recover.c), the pool refills from a new template;
#   - the stack stopped: no firecracker, tap, lease, cgroup, template file
#     or VMM directory left.
ST_DRIVER=firecracker
ST_NEED_GUEST=0
. "$(dirname "$0")/lib.sh"

st_fc_fake
. "$(dirname "$0")/snapshot_fc_lib.sh"

export FC_FAKE_GUEST_AGENT=1 FC_FAKE_CHECK_TAP=1
export FC_FAKE_CONSOLE_ON_START="APP-READY: listening"
ST_VMM_EXTRA="$ST_VMM_EXTRA
pool:
  size: 2
  warm_image: fc
  boot: snapshot"
ST_IMAGES_EXTRA="$ST_IMAGES_EXTRA
    ready_pattern: APP-READY
  fc2:
    kernel: $ST_DIR/vmlinux2
    mem_mib: 96
    ready_pattern: APP-READY"
: >"$ST_DIR/vmlinux2"
st_write_config
sed -i 's/^limits:$/limits:\n  ready_timeout_ms: 10000/' "$ST_CONF"
st_start
TDIR=$ST_DIR/run/templates
TAP=tmpl-uit-

template_gone() { # its VMM, tap, cgroup and directory
	for _ in $(seq 100); do
		! tmpl_pids >/dev/null && ! tmpl_taps &&
			[ ! -e "$ST_DIR/run/vms/template" ] &&
			[ -z "$(st_cgroups_left | grep '/template$')" ] && return 0
		sleep 0.1
	done
	st_fail "the template left: $(tmpl_pids | xargs -r ps -o pid,uid,etime,args -p) $(tmpl_taps) $(ls -d "$ST_DIR/run/vms/template" 2>&1) $(st_cgroups_left)"
}
# check_slot ID: restored, and told its own identity
check_slot() {
	local id=$1 log tap ip mac line
	log=$(calllog "$id")
	tap=$(sql "select tap from vms where id = '$id'")
	ip=$(sql "select ip from vms where id = '$id'")
	mac=$(sql "select mac from vms where id = '$id'")
	[ "$(calls "$id")" = '["PUT","/snapshot/load",204]
["PATCH","/vm",204]' ] || st_fail "slot $id calls: $(calls "$id")"
	holds "$log" 'select(.path == "/snapshot/load") | .body |
		 .network_overrides == [{"iface_id": "eth0", "host_dev_name": $tap}] and
		 .vsock_override == {"uds_path": $uds} and
		 .mem_backend == {"backend_type": "File", "backend_path": $mem} and
		 .snapshot_path == $st and .resume_vm == true' --arg tap "$tap" \
		--arg uds "$ST_DIR/run/vms/$id/vsock" --arg mem "$ST_DIR/run/vms/$id/template.mem" \
		--arg st "$ST_DIR/run/vms/$id/template.state" ||
		st_fail "slot $id: /snapshot/load body: $(jq -c 'select(.path == "/snapshot/load")' "$log")"
	holds "$log" 'select(.method == "PATCH") | .body.state == "Paused"' ||
		st_fail "slot $id not paused"
	line=$(jq -r 'select(.event == "agent") | .line' "$log")
	[ "$(jq -c 'select(.event == "agent") | .port' "$log")" = 52 ] ||
		st_fail "slot $id: no agent line on port 52: $(cat "$log")"
	grep -q "^ip=$ip::172.31.0.1:255.255.255.0::eth0:off uigniter.id=$id " <<<"$line" ||
		st_fail "slot $id ($ip): agent line $line"
	grep -q " uigniter.mac=$mac uigniter.seed=[0-9a-f]\{64\}$" <<<"$line" ||
		st_fail "slot $id ($mac): agent line $line"
	# the agent event comes before the pause (ready after the line)
	[ "$(jq -r 'if .event == "agent" then "agent" elif .method == "PATCH" then "pause" else empty end' "$log" | tr '\n' ' ')" = "agent pause " ] ||
		st_fail "slot $id: agent and pause out of order: $(cat "$log")"
	[ "$(stat -c %i "$ST_DIR/run/vms/$id/template.mem")" = "$(stat -c %i "$TDIR"/*.mem)" ] ||
		st_fail "slot $id: its memory file is not the template's (a copy)"
	echo "${line##*uigniter.seed=}"
}

# ---- the template, then two restored slots
pool_ready 2
tlog=$(calllog template)
want='["PUT","/machine-config",204]
["PUT","/network-interfaces/eth0",204]
["PUT","/boot-source",204]
["PUT","/vsock",204]
["PUT","/actions",204]
["PATCH","/vm",204]
["PUT","/snapshot/create",204]'
[ "$(calls template)" = "$want" ] || st_fail "template calls: $(calls template)"
holds "$tlog" 'select(.path == "/network-interfaces/eth0") | .body.host_dev_name | test("^" + $tap + "[0-9]+$")' \
	--arg tap "$TAP" || st_fail "template tap: $(cat "$tlog")"
args=$(jq -r 'select(.path == "/boot-source") | .body.boot_args' "$tlog")
grep -q 'uigniter.agent=vsock:52$' <<<"$args" && ! grep -q 'ip=' <<<"$args" ||
	st_fail "template boot_args: $args"
holds "$tlog" 'select(.path == "/vsock") | .body == {"guest_cid": 3, "uds_path": $uds}' \
	--arg uds "$ST_DIR/run/vms/template/vsock" ||
	st_fail "template vsock: $(jq -c 'select(.path == "/vsock")' "$tlog")"
holds "$tlog" 'select(.method == "PATCH") | .body.state == "Paused"' ||
	st_fail "template not paused"
holds "$tlog" 'select(.path == "/snapshot/create") | .body ==
	{"snapshot_path": ($d + "/template.state"), "mem_file_path": ($d + "/template.mem"),
	 "snapshot_type": "Full"}' --arg d "$ST_DIR/run/vms/template" ||
	st_fail "template snapshot/create: $(jq -c 'select(.path == "/snapshot/create")' "$tlog")"
[ -f "$TDIR/fc.1x128.state" ] && [ -f "$TDIR/fc.1x128.mem" ] ||
	st_fail "template files: $(ls -la "$TDIR")"
[ "$(json .template.image)" = fc ] && [ "$(json .template.built_at)" != null ] || st_fail "template: $API_BODY"
[ "$(json .template.bytes)" = $(($(stat -c %s "$TDIR/fc.1x128.state") + $(stat -c %s "$TDIR/fc.1x128.mem"))) ] ||
	st_fail "template bytes: $API_BODY"
[ "$(json .refill_errors)" = 0 ] || st_fail "refill errors: $API_BODY"
template_gone
seeds=
for s in $(sql "select id from vms where state = 'warm'"); do
	seeds="$seeds $(check_slot "$s")"
done
[ "$(tr ' ' '\n' <<<"$seeds" | sed '/^$/d' | sort -u | wc -l)" = 2 ] || st_fail "seeds: $seeds"
wait_log 2 "the guest took its address line" || st_fail "restores not logged"
st_log "template $(json .template.bytes) bytes; 2 slots restored, each told its own identity"

# ---- a run takes a slot
slots=$(sql "select id from vms where state = 'warm'")
hits=$(json .hits)
api POST /vm/run '{"image":"fc","wait":"ready"}'
st_expect 201 "run on a restored slot"
id=$(json .id)
grep -qx "$id" <<<"$slots" || st_fail "the run did not take a slot ($slots): $API_BODY"
[ "$(json .state)" = running ] && [ "$(json .ready_at)" != null ] || st_fail "run: $API_BODY"
[ "$(calls "$id" | tail -n1)" = '["PATCH","/vm",204]' ] &&
	[ "$(jq -c 'select(.method == "PATCH") | .body.state' "$(calllog "$id")" | tail -n1)" = '"Resumed"' ] ||
	st_fail "the run did not resume the slot: $(calls "$id")"
api GET /pool
[ "$(json .hits)" = $((hits + 1)) ] || st_fail "not a pool hit: $API_BODY"
api POST "/vm/$id/stop"
st_expect 200 "stop of $id"
pool_ready 2
wait_log 3 "the guest took its address line" || st_fail "the refill was not restored"
new=$(sql "select id from vms where state = 'warm' and id not in ($(sed "s/.*/'&'/" <<<"$slots" | paste -sd,))")
check_slot "$new" >/dev/null
[ "$(jq -c 'select(.path == "/snapshot/create")' "$tlog" | wc -l)" = 1 ] || st_fail "the template was built twice"
st_log "run $id took a restored slot; $new restored in its place"

# ---- another warm image, then its files change
sed -i 's/^  warm_image: fc$/  warm_image: fc2/' "$ST_CONF"
kill -HUP "$ST_PID"
for _ in $(seq 100); do [ -e "$TDIR/fc.1x128.state" ] || [ -e "$TDIR/fc.1x128.mem" ] || break; sleep 0.1; done
[ ! -e "$TDIR/fc.1x128.state" ] && [ ! -e "$TDIR/fc.1x128.mem" ] || st_fail "the old template's files stay: $(ls "$TDIR")"
for _ in $(seq 300); do
	api GET /pool
	[ "$(json .template.image)" = fc2 ] && [ "$(json .template.state)" = ready ] && [ "$(json .ready)" = 2 ] &&
		[ "$(sql "select count(*) from vms where state = 'warm' and image = 'fc2'")" = 2 ] && break
	sleep 0.2
done
[ "$(json .template.image)" = fc2 ] && [ "$(json .ready)" = 2 ] || st_fail "no fc2 pool: $API_BODY"
[ -f "$TDIR/fc2.1x96.state" ] && [ -f "$TDIR/fc2.1x96.mem" ] || st_fail "fc2 template: $(ls "$TDIR")"
built=$(json .template.built_at)
sleep 1.1 # built_at has second resolution
touch "$ST_DIR/vmlinux2"
wait_log 1 "template for fc2 discarded: the image's files changed on disk" || st_fail "discard not logged"
[ ! -e "$TDIR/fc2.1x96.state" ] && [ ! -e "$TDIR/fc2.1x96.mem" ] || st_fail "the stale template's files stay"
api POST /vm/run '{"image":"fc2","wait":"ready"}' # the stale slots are retired: cold
st_expect 201 "run of fc2 after its kernel changed"
[ "$(calls "$(json .id)" | head -n1)" = '["PUT","/machine-config",204]' ] ||
	st_fail "the run took a stale slot: $(calls "$(json .id)")"
api POST "/vm/$(json .id)/stop"
st_expect 200 "stop"
pool_ready 2
[ "$(json .template.built_at)" != "$built" ] || st_fail "no new template after the kernel changed: $API_BODY"
[ "$(json .retired_image_changed)" -ge 1 ] || st_fail "stale slots not retired: $API_BODY"
template_gone
st_log "SIGHUP to fc2: its own template; its kernel touched: built anew"

# ---- a template tap left by a crash: removed (level-triggered, each tick)
ip -n "$ST_NS" tuntap add dev tmpl-uit-999 mode tap
for _ in $(seq 100); do tmpl_taps >/dev/null || break; sleep 0.1; done
! tmpl_taps >/dev/null || st_fail "a leftover template tap stays: $(tmpl_taps)"
wait_log 1 "template: tap tmpl-uit-999 removed: no template owns it" || st_fail "not logged"

# ---- kill -9 pool-worker: restored slots are retired, the pool refills
old=$(sql "select id from vms where state = 'warm'")
st_kill_daemon pool-worker
pool_ready 2
for s in $old; do
	[ "$(sql "select count(*) from vms where id = '$s' and state = 'warm'")" = 0 ] ||
		st_fail "slot $s re-adopted after kill -9"
done
for p in $(pgrep -f -- "--api-sock $ST_DIR/"); do
	[ -n "$(sql "select id from vms where vmm_pid = $p and state = 'warm'")" ] ||
		st_fail "firecracker $p has no slot: $(tr '\0' ' ' </proc/$p/cmdline)"
done
template_gone
st_log "after kill -9: slots retired, refilled from a new template"

# ---- stop: nothing left
kill -TERM "$ST_PID"
for _ in $(seq 300); do kill -0 "$ST_PID" 2>/dev/null || break; sleep 0.1; done
! kill -0 "$ST_PID" 2>/dev/null || st_fail "uigniterd did not stop"
ST_PID=
nothing_left # no firecracker, tap, lease, template file or VMM directory
for _ in $(seq 50); do [ -z "$(st_cgroups_left | grep -v "uigniter-$(st_shm_hash)$")" ] && break; sleep 0.1; done
[ -z "$(st_cgroups_left | grep -v "uigniter-$(st_shm_hash)$")" ] || st_fail "cgroups left: $(st_cgroups_left)"
st_pass
