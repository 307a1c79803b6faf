#!/usr/bin/env bash
# The Firecracker driver, end to end, against the contract-enforcing fake
# (tests/fakes: every request validated against the Firecracker API YAML,
# calls logged to <api-sock>.calls.jsonl):
#   - driver selection: forced firecracker with a missing binary exits 100;
#     auto picks qemu when the binary is missing;
#   - run → 201 running, driver firecracker; the fake saw exactly
#     machine-config, network-interfaces, boot-source (+ drives), InstanceStart,
#     in order, all 204, with the VM's tap, MAC, IP and shape;
#   - stop → SendCtrlAltDel, the VMM exits 0, row stopped, tap, lease and
#     API socket gone;
#   - a stale socket file at the VM's API path does not stop a run (no tap
#     stock here, network.tap_stock: 0, so a run waits for netd to make its
#     tap: stopping netd holds it in `creating`);
#   - an image whose kernel does not exist → an API error carrying the
#     fake's fault_message, row failed, nothing left behind.
ST_DRIVER=firecracker
ST_NEED_GUEST=0
ST_NETWORK_EXTRA="  tap_stock: 0"
ST_STOP_TIMEOUT_MS=${ST_STOP_TIMEOUT_MS:-5000}
. "$(dirname "$0")/lib.sh"

FAKE=$ROOT/$BUILD/tests/fakes/firecracker
[ -x "$FAKE" ] || { echo "skip: $FAKE not built (make unit-tests)"; exit 77; }

sql() { sqlite3 -cmd '.timeout 5000' "$ST_DB" "$1"; }
# The requests a fake served: [method, path, status] per line.
calls() { jq -c 'select(.method) | [.method, .path, .status]' "$1"; }
# The body of the n-th request to path (1-based) in a call log.
body_of() { jq -c --arg p "$2" 'select(.path == $p) | .body' "$1" | sed -n "${3:-1}p"; }
# body_is LOG PATH JSON [N]: the n-th body sent to PATH equals JSON.
body_is() {
	[ "$(body_of "$1" "$2" "${4:-1}" | jq -S -c .)" = "$(jq -S -c . <<<"$3")" ] ||
		st_fail "$2 body: $(body_of "$1" "$2" "${4:-1}"), expected $3"
}

# ---------------------------------------------------------- driver choice

# pool-worker alone: the choice is made before it needs shm or netd.
pw_choice() { # driver firecracker-path → PW_RC and $ST_DIR/pw.log
	cat >"$ST_DIR/pw.yaml" <<EOF
state_dir: $ST_DIR/pw-state
run_dir: $ST_DIR/pw-run
vmm:
  driver: $1
  firecracker: $2
EOF
	PW_RC=0
	env -u UIGNITER_SHM timeout 20 "$BIN/pool-worker" --config "$ST_DIR/pw.yaml" \
		</dev/null >"$ST_DIR/pw.log" 2>&1 3<>/dev/null 4<>/dev/null \
		5<>/dev/null 6<>/dev/null || PW_RC=$?
}

pw_choice firecracker "$ST_DIR/no-such/firecracker"
[ "$PW_RC" = 100 ] || st_fail "forced firecracker, missing binary: exit $PW_RC, expected 100"
grep -q "vmm.driver is firecracker, but $ST_DIR/no-such/firecracker is not an executable" \
	"$ST_DIR/pw.log" || st_fail "no clear message: $(cat "$ST_DIR/pw.log")"
pw_choice firecracker no-such-firecracker-binary
[ "$PW_RC" = 100 ] || st_fail "forced firecracker, not in PATH: exit $PW_RC"
grep -q "not an executable file in PATH" "$ST_DIR/pw.log" || st_fail "$(cat "$ST_DIR/pw.log")"
pw_choice auto "$ST_DIR/no-such/firecracker"
grep -q "vmm: qemu (auto; not firecracker: $ST_DIR/no-such/firecracker not found)" \
	"$ST_DIR/pw.log" || st_fail "auto without the binary: $(cat "$ST_DIR/pw.log")"
pw_choice auto "$FAKE"
grep -qE "vmm: firecracker $FAKE \(auto\)|vmm: qemu \(auto; not firecracker: " "$ST_DIR/pw.log" ||
	st_fail "auto with the binary: $(cat "$ST_DIR/pw.log")"
st_log "driver choice: $(grep -o 'vmm: .*' "$ST_DIR/pw.log" | head -n1)"

# ------------------------------------------------------------------ stack

: >"$ST_DIR/vmlinux"
: >"$ST_DIR/initrd.img"
truncate -s 1M "$ST_DIR/rootfs.ext4"
ST_VMM_EXTRA="  firecracker: $FAKE
  boot_timeout_ms: 5000"
ST_IMAGES_EXTRA="  fc:
    kernel: $ST_DIR/vmlinux
    initrd: $ST_DIR/initrd.img
    boot_args: console=ttyS0 reboot=k panic=1
  fcdisk:
    kernel: $ST_DIR/vmlinux
    rootfs: $ST_DIR/rootfs.ext4
    vcpus: 2
    mem_mib: 256
  bogus:
    kernel: $ST_DIR/no-such-vmlinux"
export FC_FAKE_CHECK_TAP=1 # the fake insists the tap exists (in our netns)
st_start

# Everything a VM held is gone: VMM process, tap, lease, API socket.
assert_gone() { # id pid tap sock
	! kill -0 "$2" 2>/dev/null || st_fail "$1: VMM pid $2 still alive"
	st_tap_released "$3" || st_fail "$1: tap $3 left"
	[ "$(sql "select count(*) from leases where vm_id = '$1'")" = 0 ] ||
		st_fail "$1: lease left"
	[ ! -e "$4" ] || st_fail "$1: API socket $4 left"
}

# ---------------------------------------------------------------- run/stop

api POST /vm/run '{"image":"fc"}'
st_expect 201 "run"
id=$(json .id) ip=$(json .ip) mac=$(json .mac) tap=$(json .tap)
[ "$(json .state)" = running ] || st_fail "state $(json .state)"
[ "$(json .driver)" = firecracker ] || st_fail "driver $(json .driver)"
sock=$ST_DIR/run/vms/$id/sock
log=$ST_DIR/calls/$id.calls.jsonl
[ -S "$sock" ] || st_fail "no API socket at $sock"
[ "$(sql "select api_socket from vms where id = '$id'")" = "$sock" ] ||
	st_fail "registry api_socket: $(sql "select api_socket from vms where id = '$id'")"
pid=$(sql "select vmm_pid from vms where id = '$id'")
kill -0 "$pid" || st_fail "VMM pid $pid not alive"

want='["PUT","/machine-config",204]
["PUT","/network-interfaces/eth0",204]
["PUT","/boot-source",204]
["PUT","/actions",204]'
got=$(calls "$log")
[ "$got" = "$want" ] || st_fail "calls:
$got
expected:
$want"
jq -e --arg s "$sock" --arg id "$id" --arg f "$FAKE" \
	-s 'map(select(.event == "spawn"))[0].argv == [$f, "--api-sock", $s, "--id", $id]' \
	"$log" >/dev/null || st_fail "argv: $(jq -c 'select(.event == "spawn")' "$log")"
body_is "$log" /machine-config '{"vcpu_count":1,"mem_size_mib":128,"smt":false}'
body_is "$log" /network-interfaces/eth0 \
	"{\"iface_id\":\"eth0\",\"host_dev_name\":\"$tap\",\"guest_mac\":\"$mac\"}"
boot=$(body_of "$log" /boot-source)
jq -e --arg k "$ST_DIR/vmlinux" --arg i "$ST_DIR/initrd.img" \
	--arg a "console=ttyS0 reboot=k panic=1 ip=$ip::172.31.0.1:255.255.255.0::eth0:off uigniter.id=$id" \
	'.kernel_image_path == $k and .initrd_path == $i and .boot_args == $a' \
	<<<"$boot" >/dev/null || st_fail "boot-source: $boot"
body_is "$log" /actions '{"action_type":"InstanceStart"}'
st_log "run $id: $(calls "$log" | tr '\n' ' ')"

api POST "/vm/$id/stop"
st_expect 200 "stop"
[ "$(json .state)" = stopped ] || st_fail "state after stop: $API_BODY"
[ "$(json .exit_status)" = 0 ] || st_fail "exit_status $(json .exit_status): $API_BODY"
[ "$(calls "$log" | tail -n1)" = '["PUT","/actions",204]' ] || st_fail "last call: $(calls "$log" | tail -n1)"
body_is "$log" /actions '{"action_type":"SendCtrlAltDel"}' 2
[ "$(sql "select count(*) from events where vm_id = '$id' and kind = 'kill'")" = 0 ] ||
	st_fail "the VMM was killed, not stopped"
assert_gone "$id" "$pid" "$tap" "$sock"

# ------------------------------------------------------- rootfs and shape

api POST /vm/run '{"image":"fcdisk"}'
st_expect 201 "run with a rootfs"
id2=$(json .id) tap2=$(json .tap)
log2=$ST_DIR/calls/$id2.calls.jsonl
want='["PUT","/machine-config",204]
["PUT","/network-interfaces/eth0",204]
["PUT","/boot-source",204]
["PUT","/drives/rootfs",204]
["PUT","/actions",204]'
got=$(calls "$log2")
[ "$got" = "$want" ] || st_fail "calls with a rootfs:
$got"
body_is "$log2" /machine-config '{"vcpu_count":2,"mem_size_mib":256,"smt":false}'
body_is "$log2" /drives/rootfs "{\"drive_id\":\"rootfs\",\"path_on_host\":\"$ST_DIR/rootfs.ext4\",
	\"is_root_device\":true,\"is_read_only\":true}"
jq -e 'has("initrd_path") | not' <<<"$(body_of "$log2" /boot-source)" >/dev/null ||
	st_fail "initrd_path sent for an image without one"

# ------------------------------------------------------------ stale socket

# netd held (SIGSTOP, well under the supervisor's heartbeat deadline) keeps
# the run in `creating`: time to leave a dead socket at its API path.
# First the spares of the stops above gone (tap_stock 0): a run would take
# one at once, and spawn before anything can be planted.
for _ in $(seq 100); do
	[ "$(sql "select count(*) from taps t where not exists
		(select 1 from leases l where l.tap = t.name)")" = 0 ] && break
	sleep 0.05
done
netd=$(st_daemon_pid netd)
kill -STOP "$netd"
(
	api POST /vm/run '{"image":"fc"}'
	printf '%s\n%s\n' "$API_STATUS" "$API_BODY" >"$ST_DIR/stale.out"
) &
bg=$!
sid=
for _ in $(seq 100); do
	sid=$(sql "select id from vms where state = 'creating'" 2>/dev/null || true)
	[ -n "$sid" ] && break
	sleep 0.05
done
if [ -n "$sid" ]; then
	mkdir -p "$ST_DIR/run/vms/$sid" # its directory, as an earlier VMM left it
	python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' \
		"$ST_DIR/run/vms/$sid/sock" || : >"$ST_DIR/run/vms/$sid/sock"
fi
planted=
[ -n "$sid" ] && [ -e "$ST_DIR/run/vms/$sid/sock" ] && planted=1
kill -CONT "$netd" # (the check is before: once netd goes on, the spawn removes it)
[ -n "$sid" ] || st_fail "no run in creating while netd was stopped"
[ -n "$planted" ] || st_fail "could not plant the stale socket"
wait "$bg"
[ "$(head -n1 "$ST_DIR/stale.out")" = 201 ] || st_fail "run over a stale socket: $(cat "$ST_DIR/stale.out")"
[ "$(sql "select state from vms where id = '$sid'")" = running ] || st_fail "stale-socket VM not running"
[ "$(calls "$ST_DIR/calls/$sid.calls.jsonl" | tail -n1)" = '["PUT","/actions",204]' ] ||
	st_fail "stale-socket VM: $(calls "$ST_DIR/calls/$sid.calls.jsonl")"

# ---------------------------------------------------- a kernel that is not

api POST /vm/run '{"image":"bogus"}'
case $API_STATUS in 4?? | 5??) ;; *) st_fail "run of a bogus kernel: HTTP $API_STATUS: $API_BODY" ;; esac
msg=$(json .error.message)
grep -q "The kernel file cannot be opened" <<<"$msg" || st_fail "error message lacks the fault: $msg"
grep -q "firecracker: PUT /boot-source: " <<<"$msg" || st_fail "error message lacks the call: $msg"
bid=$(sql "select id from vms where image = 'bogus'")
[ "$(sql "select state from vms where id = '$bid'")" = failed ] || st_fail "bogus: row $(sql "select state from vms where id = '$bid'")"
grep -q "The kernel file cannot be opened" <<<"$(sql "select error from vms where id = '$bid'")" ||
	st_fail "bogus: row error $(sql "select error from vms where id = '$bid'")"
blog=$ST_DIR/calls/$bid.calls.jsonl
got=$(calls "$blog")
want='["PUT","/machine-config",204]
["PUT","/network-interfaces/eth0",204]
["PUT","/boot-source",400]'
[ "$got" = "$want" ] || st_fail "bogus calls:
$got"
jq -r 'select(.method) | .fault // empty' "$blog" | grep -q "The kernel file cannot be opened" ||
	st_fail "the 400 was not the kernel check: $(jq -c 'select(.status == 400)' "$blog")"
assert_gone "$bid" "$(sql "select vmm_pid from vms where id = '$bid'")" \
	"$(sql "select tap from vms where id = '$bid'")" "$ST_DIR/run/vms/$bid/sock"

# ---------------------------------------------------- the contract held

for f in "$ST_DIR"/calls/*.calls.jsonl; do
	[ "$f" = "$blog" ] && continue
	bad=$(jq -c 'select(.method and .status >= 300)' "$f")
	[ -z "$bad" ] || st_fail "a request the contract (or the fake) refused in $f: $bad"
done

for v in "$id2" "$sid"; do
	api POST "/vm/$v/stop"
	st_expect 200 "stop $v"
	[ "$(json .state)" = stopped ] || st_fail "stop $v: $API_BODY"
done
[ "$(sql "select count(*) from leases")" = 0 ] || st_fail "leases left"
[ -z "$(find "$ST_DIR/run/vms" -mindepth 1)" ] || st_fail "VMM directories left: $(ls -R "$ST_DIR"/run/vms/)"
[ -z "$(st_unowned_taps | tr -d ' ')" ] || st_fail "taps left: $(st_unowned_taps)"
st_pass
