#!/usr/bin/env bash
# A warm pool of a real OSv image (QEMU; q35 under TCG), one slot:
# pool.boot prepared (OSV_POOL_BOOT unset: the VMM spawned paused before
# the first instruction, the run continues it) or ahead (test_osv_pool_ahead.sh:
# the slot boots until the app accepts on its port, then is paused). A run
# with "wait": "ready" takes the slot (same VM id, same QEMU), the app
# answers over HTTP, the stop is OSv's own power-off (no kill), and the pool
# fills again with a fresh slot. Skips (77) without an OSv image, as
# test_osv.sh (UIGNITER_OSV_KERNEL, _DISK, _CMD, _HTTP_PORT, _ROOTFS).
. "$(dirname "$0")/osv_image.sh"
MODE=${OSV_POOL_BOOT:-prepared}
ST_STOP_TIMEOUT_MS=60000 # a stop that waited for the SIGKILL would show
. "$(dirname "$0")/lib.sh"

osv_image_copy
ST_VMM_EXTRA="pool:
  size: 1
  warm_image: osv
  boot: $MODE"
ST_IMAGES_EXTRA="  osv:
    kind: osv
    kernel: $ST_DIR/osv/kernel.elf
    disk: $ST_DIR/osv/disk
    disk_format: $fmt
    rootfs: ${UIGNITER_OSV_ROOTFS:-rofs}
    cmd: [$cmd]
    mem_mib: 128
    ready_port: $PORT
    ready_pattern: \"\""
st_write_config
st_start

# The one slot, warm (generous: TCG on a shared machine).
wait_slot() {
	for _ in $(seq 600); do
		api GET /pool
		[ "$(json .ready)" = 1 ] && return 0
		sleep 0.2
	done
	st_fail "no warm OSv slot ($MODE): $API_BODY"
}
wait_slot
slot=$(st_sql "select id from vms where state = 'warm'")
pid=$(st_sql "select vmm_pid from vms where id = '$slot'")
[ -n "$slot" ] && [ -n "$pid" ] || st_fail "no warm row"
if [ "$MODE" = ahead ]; then
	grep -q "$slot: warm slot ready (port $PORT accepts): pausing it" "$ST_LOG" ||
		st_fail "slot not booted to ready"
fi

api POST /vm/run '{"image":"osv","wait":"ready"}'
st_expect 201 "run on the warm OSv slot ($MODE)"
id=$(json .id) ip=$(json .ip) tap=$(json .tap)
[ "$id" = "$slot" ] || st_fail "the run did not take the slot $slot: $API_BODY"
[ "$(st_sql "select vmm_pid from vms where id = '$id'")" = "$pid" ] || st_fail "another VMM"
st_log "OSv slot $id ($MODE) → 201, boot_ms $(json .boot_ms)"
code=$(ip netns exec "$ST_NS" curl -s -o /dev/null -w '%{http_code}' --max-time 10 \
	"http://$ip:$PORT/") || st_fail "no HTTP answer from $ip:$PORT"
case $code in 2??|3??|404) ;; *) st_fail "HTTP $code" ;; esac
api GET /pool
[ "$(json .hits)" -ge 1 ] || st_fail "no pool hit: $API_BODY"

api POST "/vm/$id/stop"
st_expect 200 "stop"
[ "$(json .state)" = stopped ] || st_fail "state after stop: $API_BODY"
[ "$(st_sql "select count(*) from events where vm_id = '$id' and kind = 'kill'")" = 0 ] ||
	st_fail "OSv was killed, not powered off: $(st_sql "select kind, detail from events where vm_id = '$id'")"
! kill -0 "$pid" 2>/dev/null || st_fail "qemu $pid still alive"
st_tap_released "$tap" || st_fail "tap $tap left"

wait_slot # refilled
[ "$(st_sql "select id from vms where state = 'warm'")" != "$slot" ] || st_fail "the same slot again"
st_pass
