#!/usr/bin/env bash
# The QEMU side of an OSv image, without OSv (test_osv.sh boots a real one
# when the user has it): an image of kind osv whose "loader" is the demo
# Linux kernel (it boots and, with no root, stays up: OSv's boot line means
# nothing to it). Under TCG the driver must choose q35 (OSv's only clock
# there is q35's HPET), say why in the log, and QEMU must accept the argv
# it builds: PCI virtio devices with their ROMs off, the rofs disk
# read-only, no initrd, OSv's boot line (--rootfs, --ip, no --nopci on PCI,
# nothing of Linux's). Then `stop: kill` (a stateless unikernel): the stop
# kills at once — stopped, with stop_timeout_ms at 60 s never reached.
. "$(dirname "$0")/lib.sh"
ST_STOP_TIMEOUT_MS=60000
truncate -s 1M "$ST_DIR/usr.raw"
ST_IMAGES_EXTRA="  osv:
    kind: osv
    kernel: $GUEST/vmlinuz
    disk: $ST_DIR/usr.raw
    rootfs: rofs
    cmd: [/httpserver.so, \"a b\"]
    stop: kill
    ready_pattern: \"\""
st_write_config
st_start

api POST /vm/run '{"image":"osv","cmd":["/other.so","x"],"boot_args":"--verbose"}'
st_expect 201 "run osv"
id=$(json .id) ip=$(json .ip) tap=$(json .tap) pid=$(json .pid) mac=$(json .mac)
[ "$(json .state)" = running ] || st_fail "state: $API_BODY"
argv=$(tr '\0' '\n' <"/proc/$pid/cmdline")
for want in "q35" "-no-reboot" "-nodefaults" \
	"id=rootfs,file=$ST_DIR/usr.raw,format=raw,if=none,readonly=on" \
	"virtio-blk-pci,drive=rootfs,romfile=" "virtio-net-pci,netdev=n0,mac=$mac,romfile=" \
	"--rootfs=rofs --ip=eth0,$ip,255.255.255.0 --defaultgw=172.31.0.1 --nameserver=172.31.0.1 --verbose /other.so x"; do
	grep -qxF -- "$want" <<<"$argv" || st_fail "qemu argv has no '$want':
$argv"
done
! grep -qx -- "-initrd" <<<"$argv" || st_fail "an OSv image got an initrd"
! grep -q -- "tsc_early_khz\|uigniter\.\|--nopci" <<<"$argv" || st_fail "wrong boot line: $argv"
grep -q "$id: machine q35 (OSv under TCG: no kvmclock, and microvm has no HPET" "$ST_LOG" ||
	st_fail "machine choice not logged: $(grep "$id: machine" "$ST_LOG" || true)"
grep -q "$id: machine q35 .*stop by kill" "$ST_LOG" || st_fail "stop method not logged"

api POST "/vm/$id/stop"
st_expect 200 "stop"
[ "$(json .state)" = stopped ] || st_fail "state after stop: $API_BODY"
! st_sql "select detail from events where vm_id = '$id'" | grep -q "stop timeout" ||
	st_fail "the stop waited for its timeout: $(st_sql "select kind, detail from events where vm_id = '$id'")"
! kill -0 "$pid" 2>/dev/null || st_fail "qemu $pid still alive"
st_tap_released "$tap" || st_fail "tap $tap left"
st_pass
