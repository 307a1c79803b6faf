#!/usr/bin/env bash
# Firecracker driver, warm pool (pool.size 1), against the contract fake:
#   - a slot without a warm image gets machine-config + network-interfaces
#     only (guest not started); a run of the same shape takes it: only
#     boot-source + InstanceStart follow, the VM keeps the slot's id;
#   - a run of another shape does not fit: a cold start (all four calls);
#   - with pool.warm_image (SIGHUP), the slot gets boot-source too, and a run
#     of that image sends InstanceStart alone;
#   - everything stops clean: no tap, lease, socket or process left.
ST_DRIVER=firecracker
ST_NEED_GUEST=0
. "$(dirname "$0")/lib.sh"

FAKE=$ROOT/$BUILD/tests/fakes/firecracker
[ -x "$FAKE" ] || { echo "skip: $FAKE not built (make unit-tests)"; exit 77; }
sql() { sqlite3 -cmd '.timeout 5000' "$ST_DB" "$1"; }
calls() { jq -c 'select(.method) | [.method, .path, .status]' "$1"; }
calllog() { echo "$ST_DIR/calls/$1.calls.jsonl"; }

# The id of a warm slot that is ready (its "warm" event) and not in $1.
ready_slot() {
	local s
	for _ in $(seq 100); do
		s=$(sql "select e.vm_id from events e join vms v on v.id = e.vm_id
			 where e.kind = 'warm' and v.state = 'warm' order by e.seq desc limit 1")
		[ -n "$s" ] && [ "$s" != "${1:-}" ] && { echo "$s"; return 0; }
		sleep 0.1
	done
	return 1
}

: >"$ST_DIR/vmlinux"
: >"$ST_DIR/initrd.img"
ST_VMM_EXTRA="  firecracker: $FAKE"
ST_IMAGES_EXTRA="  fc:
    kernel: $ST_DIR/vmlinux
    initrd: $ST_DIR/initrd.img"
export FC_FAKE_CHECK_TAP=1
st_write_config
printf 'pool:\n  size: 1\n' >>"$ST_CONF"
st_start

# ---------------------------------------------------- slot without image
slot=$(ready_slot) || st_fail "no warm slot became ready"
want='["PUT","/machine-config",204]
["PUT","/network-interfaces/eth0",204]'
[ "$(calls "$(calllog "$slot")")" = "$want" ] || st_fail "warm-up calls: $(calls "$(calllog "$slot")")"
jq -e -s 'map(select(.path == "/machine-config"))[0].body == {"vcpu_count":1,"mem_size_mib":128,"smt":false}' \
	"$(calllog "$slot")" >/dev/null || st_fail "slot machine-config"

api POST /vm/run '{"image":"fc"}'
st_expect 201 "run on a warm slot"
[ "$(json .id)" = "$slot" ] || st_fail "run did not take slot $slot: $(json .id)"
[ "$(json .state)" = running ] || st_fail "state $(json .state)"
want='["PUT","/machine-config",204]
["PUT","/network-interfaces/eth0",204]
["PUT","/boot-source",204]
["PUT","/actions",204]'
[ "$(calls "$(calllog "$slot")")" = "$want" ] || st_fail "calls on the slot: $(calls "$(calllog "$slot")")"
jq -e -s --arg ip "$(json .ip)" \
	'map(select(.path == "/boot-source"))[0].body.boot_args | contains("ip=" + $ip + "::")' \
	"$(calllog "$slot")" >/dev/null || st_fail "boot-source of the slot lacks its IP"

# ------------------------------------------------- another shape: cold
slot2=$(ready_slot "$slot") || st_fail "the pool did not refill"
api POST /vm/run '{"image":"fc","vcpus":2,"mem_mib":256}'
st_expect 201 "run of another shape"
cold=$(json .id)
[ "$cold" != "$slot2" ] || st_fail "a 2-vcpu run took a 1-vcpu slot"
[ "$(calls "$(calllog "$cold")" | wc -l)" = 4 ] || st_fail "cold calls: $(calls "$(calllog "$cold")")"
[ "$(calls "$(calllog "$slot2")" | wc -l)" = 2 ] || st_fail "slot2 touched: $(calls "$(calllog "$slot2")")"

# ---------------------------------------------- warm image pre-applied
sed -i 's/^  size: 1$/  size: 1\n  warm_image: fc/' "$ST_CONF"
kill -HUP "$(st_daemon_pid pool-worker)"
for _ in $(seq 100); do
	[ "$(sql "select count(*) from vms where id = '$slot2'")" = 0 ] && break
	sleep 0.1
done
[ "$(sql "select count(*) from vms where id = '$slot2'")" = 0 ] || st_fail "old slot not retired"
[ ! -e "$ST_DIR/run/vms/$slot2/sock" ] || st_fail "retired slot's socket left"
slot3=$(ready_slot "$slot2") || st_fail "no slot with the warm image"
want='["PUT","/machine-config",204]
["PUT","/network-interfaces/eth0",204]
["PUT","/boot-source",204]'
[ "$(calls "$(calllog "$slot3")")" = "$want" ] || st_fail "image slot calls: $(calls "$(calllog "$slot3")")"
api POST /vm/run '{"image":"fc"}'
st_expect 201 "run on an image slot"
[ "$(json .id)" = "$slot3" ] || st_fail "run did not take slot $slot3"
[ "$(calls "$(calllog "$slot3")" | tail -n1)" = '["PUT","/actions",204]' ] &&
	[ "$(calls "$(calllog "$slot3")" | wc -l)" = 4 ] ||
	st_fail "image slot after run: $(calls "$(calllog "$slot3")")"

# ----------------------------------------------------------------- clean
for v in "$slot" "$cold" "$slot3"; do
	api POST "/vm/$v/stop"
	st_expect 200 "stop $v"
	[ "$(json .state)" = stopped ] && [ "$(json .exit_status)" = 0 ] ||
		st_fail "stop $v (expected a clean exit): $API_BODY"
	[ ! -e "$ST_DIR/run/vms/$v/sock" ] || st_fail "socket of $v left"
done
[ "$(sql "select count(*) from leases l join vms v on v.id = l.vm_id where v.state != 'warm'")" = 0 ] ||
	st_fail "leases of stopped VMs left"
for f in "$ST_DIR"/calls/*.calls.jsonl; do
	bad=$(jq -c 'select(.method and .status >= 300)' "$f")
	[ -z "$bad" ] || st_fail "refused request in $f: $bad"
done
st_pass
