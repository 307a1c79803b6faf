#!/usr/bin/env bash
# A run's cmd/boot_args and an OSv image on Firecracker (the contract fake
# as the VMM: it checks every body against the API spec and logs it).
#   * a warm slot warmed without an image gets its boot-source at run: a
#     run with its own cmd takes it; the fake receives boot_args with the
#     argv as uigniter.cmd=<base64> and the run's boot_args after it;
#   * an OSv image: boot-source has the loader and OSv's boot line
#     (--rootfs, --nopci, --ip/--defaultgw/--nameserver, the app's command
#     quoted by OSv's rules, nothing of Linux's), no initrd; its raw disk is
#     the read-only root drive; stop is Ctrl+Alt+Del (OSv answers with an
#     i8042 reset, which ends Firecracker): stopped, never killed.
ST_DRIVER=firecracker
ST_NEED_GUEST=0
ST_NETWORK_EXTRA="  tap_stock: 0"
. "$(dirname "$0")/lib.sh"
st_fc_fake
calls() { jq -c 'select(.method) | [.method, .path, .status]' "$1"; }
body_of() { jq -c --arg p "$2" 'select(.path == $p) | .body' "$1" | sed -n "${3:-1}p"; }

: >"$ST_DIR/kernel.elf"
truncate -s 1M "$ST_DIR/usr.raw"
ST_IMAGES_EXTRA="$ST_IMAGES_EXTRA
    boot_args: console=ttyS0
  osv:
    kind: osv
    kernel: $ST_DIR/kernel.elf
    disk: $ST_DIR/usr.raw
    rootfs: rofs
    cmd: [/httpserver.so, --title, \"it's a test\"]
  osvq:
    kind: osv
    kernel: $ST_DIR/kernel.elf
    disk: $ST_DIR/usr.img
    disk_format: qcow2
    rootfs: rofs
    cmd: [/httpserver.so]"
printf 'QFI\373\0\0\0\3' >"$ST_DIR/usr.img" # a qcow2 header: OSv's build makes usr.img so
st_write_config
cat >>"$ST_CONF" <<EOF
pool:
  size: 1
EOF
st_start
st_wait_pool 1
slot=$(sql "select id from vms where state = 'warm'")

# ---- a run with its own cmd takes the slot (boot-source is set at run) ---------
api POST /vm/run '{"image":"fc","cmd":["/bin/app","a b","c\"d"],"boot_args":"quiet"}'
st_expect 201 "run with cmd"
id=$(json .id) ip=$(json .ip)
[ "$id" = "$slot" ] || st_fail "the prepared slot $slot did not serve it (got $id)"
b64=$(printf '/bin/app\0a b\0c"d\0' | base64 -w0)
want="console=ttyS0 ip=$ip::172.31.0.1:255.255.255.0::eth0:off uigniter.id=$id uigniter.cmd=$b64 quiet"
log=$ST_DIR/calls/$id.calls.jsonl
got=$(body_of "$log" /boot-source | jq -r .boot_args)
[ "$got" = "$want" ] || st_fail "boot_args the fake received:
$got
expected:
$want"
api POST "/vm/$id/stop"
st_expect 200 "stop"
[ "$(json .state)" = stopped ] || st_fail "state: $API_BODY"

# ---- an OSv image -----------------------------------------------------------------------
api POST /vm/run '{"image":"osv"}'
st_expect 201 "run osv"
id=$(json .id) ip=$(json .ip) tap=$(json .tap)
log=$ST_DIR/calls/$id.calls.jsonl
boot=$(body_of "$log" /boot-source)
want="--rootfs=rofs --nopci --ip=eth0,$ip,255.255.255.0 --defaultgw=172.31.0.1 --nameserver=172.31.0.1 /httpserver.so --title \"it's a test\""
jq -e --arg k "$ST_DIR/kernel.elf" --arg a "$want" \
	'.kernel_image_path == $k and .boot_args == $a and (has("initrd_path") | not)' \
	<<<"$boot" >/dev/null || st_fail "boot-source: $boot
expected boot_args: $want"
drive=$(body_of "$log" /drives/rootfs)
jq -e --arg p "$ST_DIR/usr.raw" \
	'.path_on_host == $p and .is_root_device == true and .is_read_only == true' \
	<<<"$drive" >/dev/null || st_fail "root drive: $drive"
[ "$(calls "$log" | grep -c '"/drives/rootfs",204')" = 1 ] || st_fail "calls: $(calls "$log")"
api POST "/vm/$id/stop"
st_expect 200 "stop osv"
[ "$(json .state)" = stopped ] || st_fail "state after stop: $API_BODY"
[ "$(jq -c --arg p /actions 'select(.path == $p) | .body.action_type' "$log" | tail -n1)" = '"SendCtrlAltDel"' ] ||
	st_fail "not stopped by Ctrl+Alt+Del: $(calls "$log")"
[ "$(sql "select count(*) from events where vm_id = '$id' and kind = 'kill'")" = 0 ] ||
	st_fail "the OSv VM was killed, not stopped"
st_tap_released "$tap" || st_fail "tap $tap left"

# ---- a qcow2 disk: Firecracker reads raw only — refused, nothing left ------------------
api POST /vm/run '{"image":"osvq"}'
st_expect 400 "run of an OSv image with a qcow2 disk on Firecracker"
grep -qF "Firecracker reads raw disks only" <<<"$(json .error.message)" || st_fail "error: $API_BODY"
[ "$(sql "select count(*) from vms where image = 'osvq' and state not in ('stopped','failed')")" = 0 ] ||
	st_fail "a VM of osvq left: $(sql "select id, state from vms where image = 'osvq'")"
[ "$(sql "select count(*) from vms where image = 'osvq' and vmm_pid > 0")" = 0 ] ||
	st_fail "a VMM was started for osvq"
st_pass
