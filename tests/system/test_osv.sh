#!/usr/bin/env bash
# An OSv unikernel that really boots, on QEMU. OSv cannot be built from
# this project's package sources, so the image is the user's (README "OSv
# images"); without one this test skips (77):
#   UIGNITER_OSV_KERNEL     OSv's loader-stripped.elf (kernel.elf)
#   UIGNITER_OSV_DISK       its disk (usr.img qcow2, or a raw copy)
#   UIGNITER_OSV_CMD        the app's command, words split on spaces
#                           (default /libhttpserver-api.so)
#   UIGNITER_OSV_HTTP_PORT  the port its app answers HTTP on (default 8000)
#   UIGNITER_OSV_ROOTFS     rofs (default) | zfs | ramfs; set empty: no
#                           rootfs key (OSv finds its filesystem itself)
# With them: a run with "wait": "ready" on the port answers once the app
# accepts; one HTTP GET from the namespace is answered; the machine chosen
# and why is in the log (q35 under TCG); pause stops its answers, resume
# brings them back; the stop (of it paused) is graceful (the ACPI power
# button on q35: stopped, no kill — with a 60 s stop_timeout_ms, a guest
# that ignored the button would show as a kill); nothing is left (qemu,
# tap, lease, cgroup); a run's own cmd (an app the image lacks) reaches
# OSv and its end is told to the run waiting for ready.
. "$(dirname "$0")/osv_image.sh"
ST_STOP_TIMEOUT_MS=60000 # a stop that waited for the SIGKILL would show
. "$(dirname "$0")/lib.sh"

osv_image_copy
ROOTFS=${UIGNITER_OSV_ROOTFS-rofs}
ST_IMAGES_EXTRA="  osv:
    kind: osv
    kernel: $K
    disk: $D
    disk_format: $fmt
${ROOTFS:+    rootfs: $ROOTFS
}    cmd: [$cmd]
    mem_mib: 128
    ready_port: $PORT
    ready_pattern: \"\"
  osv-norule:
    kind: osv
    kernel: $K
    disk: $D
    disk_format: $fmt
${ROOTFS:+    rootfs: $ROOTFS
}    cmd: [$cmd]
    mem_mib: 128
  osv-late:
    kind: osv
    kernel: $K
    disk: $D
    disk_format: $fmt
${ROOTFS:+    rootfs: $ROOTFS
}    cmd: [$cmd]
    mem_mib: 128
    ready_port: 9"
st_write_config
st_start

api POST /vm/run '{"image":"osv","wait":"ready"}'
[ "$API_STATUS" = 201 ] || { find "$ST_DIR" -name "*.console.log" -exec cat {} + ; }
st_expect 201 "run osv (wait ready)"
id=$(json .id) ip=$(json .ip) tap=$(json .tap) pid=$(json .pid)
st_log "OSv $id at $ip: boot_ms $(json .boot_ms)"
ip netns exec "$ST_NS" curl -s -o /dev/null -w '%{http_code}' --max-time 10 \
	"http://$ip:$PORT/" >"$ST_DIR/code" || st_fail "no HTTP answer from $ip:$PORT"
case $(cat "$ST_DIR/code") in 2??|3??|404) ;; *) st_fail "HTTP $(cat "$ST_DIR/code")" ;; esac
grep -q "$id: machine " "$ST_LOG" || st_fail "no machine choice logged"
st_log "$(grep -o "$id: machine .*" "$ST_LOG" | head -n1)"
args=$(st_sql "select boot_args from vms where id = '$id'")
case $args in
${ROOTFS:+--rootfs=$ROOTFS }--ip=eth0,$ip,255.255.255.0\ --defaultgw=172.31.0.1\ --nameserver=172.31.0.1*) ;;
*) st_fail "boot line: $args" ;;
esac
! grep -qE 'tsc_early_khz|uigniter\.|console=' <<<"$args" || st_fail "Linux args reached OSv: $args"

# Pause and resume (QMP stop / cont): a paused OSv does not answer, a
# resumed one does (its HPET clock jumps; TCP recovers); then the stop of
# a paused guest: resumed, then the button.
osv_answers() {
	ip netns exec "$ST_NS" curl -s -o /dev/null --max-time "$1" "http://$ip:$PORT/"
}
api POST "/vm/$id/pause"
st_expect 200 "pause"
[ "$(json .state)" = paused ] || st_fail "pause: $API_BODY"
! osv_answers 2 || st_fail "a paused OSv answered HTTP"
api POST "/vm/$id/resume"
st_expect 200 "resume"
[ "$(json .state)" = running ] || st_fail "resume: $API_BODY"
osv_answers 10 || st_fail "the resumed OSv did not answer"
api POST "/vm/$id/pause"
st_expect 200 "pause before the stop"

api POST "/vm/$id/stop"
st_expect 200 "stop"
[ "$(json .state)" = stopped ] || st_fail "state after stop: $API_BODY"
[ "$(st_sql "select count(*) from events where vm_id = '$id' and kind = 'kill'")" = 0 ] ||
	st_fail "OSv was killed, not powered off: $(st_sql "select kind, detail from events where vm_id = '$id'")"
! kill -0 "$pid" 2>/dev/null || st_fail "qemu $pid still alive"
st_tap_released "$tap" || st_fail "tap $tap left"
[ -z "$(st_cgroups_left | grep "$id" || true)" ] || st_fail "cgroup left: $(st_cgroups_left)"

# A run's own cmd reaches OSv, quoted: here an app no image has. OSv says so
# on its console and powers off by itself; the run waiting for ready is told
# (502 guest_stopped, with the VM's id and OSv's last line); the VM is
# stopped (a clean exit), never killed, and leaves nothing.
api POST /vm/run '{"image":"osv","cmd":["/uigniter-no-such-app","a b"],"wait":"ready"}'
st_expect 502 "run of an app the image lacks (wait ready)"
[ "$(json .error.code)" = guest_stopped ] || st_fail "error code: $API_BODY"
msg=$(json .error.message)
bad=$(grep -o 'vm-[0-9a-z]*' <<<"$msg" | head -n1)
[ -n "$bad" ] || st_fail "no VM id in: $msg"
st_log "502: $msg"
grep -qF 'Failed to load object: /uigniter-no-such-app' <<<"$msg" || st_fail "no OSv line in: $msg"
st_wait_vm "$bad" stopped
api GET "/vm/$bad/console"
st_expect 200 "console of $bad"
grep -qF 'Cmdline: /uigniter-no-such-app "a b"' <<<"$API_BODY" || st_fail "console: $API_BODY"
[ "$(st_sql "select count(*) from events where vm_id = '$bad' and kind = 'kill'")" = 0 ] ||
	st_fail "$bad was killed: $(st_sql "select kind, detail from events where vm_id = '$bad'")"
st_tap_released "$(st_sql "select tap from vms where id = '$bad'")" || st_fail "tap of $bad left"
[ -z "$(st_cgroups_left | grep "$bad" || true)" ] || st_fail "cgroup left: $(st_cgroups_left)"

# A run's own cmd (the app's words again, as a list) and boot_args (an
# OSv option, before the command): the app answers, and the line says so.
jcmd=$(printf '%s\n' $OSV_CMD | jq -R . | jq -sc .)
api POST /vm/run "{\"image\":\"osv\",\"cmd\":$jcmd,\"boot_args\":\"--verbose\",\"wait\":\"ready\"}"
st_expect 201 "run with its own cmd and boot_args (wait ready)"
rc=$(json .id) rip=$(json .ip)
ip netns exec "$ST_NS" curl -s -o /dev/null --max-time 10 "http://$rip:$PORT/" ||
	st_fail "no HTTP answer from the run with its own cmd"
case $(st_sql "select boot_args from vms where id = '$rc'") in
*" --nameserver=172.31.0.1 --verbose $OSV_CMD") ;;
*) st_fail "boot line: $(st_sql "select boot_args from vms where id = '$rc'")" ;;
esac
# kill -9 of pool-worker: the OSv VM is adopted (same QEMU), still answers,
# and its stop is still OSv's own power-off (the stop method re-derived).
rpid=$(json .pid)
st_kill_daemon pool-worker
api GET "/vm/$rc"
[ "$(json .state)" = running ] && [ "$(json .pid)" = "$rpid" ] || st_fail "not adopted: $API_BODY"
ip netns exec "$ST_NS" curl -s -o /dev/null --max-time 10 "http://$rip:$PORT/" ||
	st_fail "the adopted OSv did not answer"
api POST "/vm/$rc/stop"
st_expect 200 "stop $rc (adopted)"
[ "$(json .state)" = stopped ] || st_fail "stop of the adopted OSv: $API_BODY"
[ "$(st_sql "select count(*) from events where vm_id = '$rc' and kind = 'kill'")" = 0 ] ||
	st_fail "the adopted OSv was killed: $(st_sql "select kind, detail from events where vm_id = '$rc'")"

# Stopped by a request while a run waits for ready (nothing answers on
# port 9): that run is told so (409 conflict), not "guest_stopped".
curl -sS --max-time 120 --unix-socket "$ST_SOCK" -X POST -H 'Content-Type: application/json' \
	--data-binary '{"image":"osv-late","wait":"ready"}' -w '\n%{http_code}' \
	http://uigniter/vm/run >"$ST_DIR/late.out" &
waiter=$!
late=
for _ in $(seq 300); do
	late=$(st_sql "select id from vms where image = 'osv-late' and state = 'running'")
	[ -n "$late" ] && break
	sleep 0.1
done
[ -n "$late" ] || st_fail "osv-late never running"
api POST "/vm/$late/stop"
st_expect 200 "stop of $late while a run waits for it to be ready"
wait "$waiter" || st_fail "the waiting run got no answer"
[ "$(tail -n1 "$ST_DIR/late.out")" = 409 ] || st_fail "the waiting run: $(cat "$ST_DIR/late.out")"
head -n1 "$ST_DIR/late.out" | jq -e '.error.code == "conflict" and
	(.error.message | test("stopped \\(a stop request\\) before it was ready"))' >/dev/null ||
	st_fail "the waiting run: $(cat "$ST_DIR/late.out")"

# An OSv image with no ready rule of its own has none (the Linux default
# pattern is our init's line, which OSv never prints): "wait": "ready"
# answers as it runs, not after ready_timeout_ms with a 504.
api POST /vm/run '{"image":"osv-norule","wait":"ready"}'
st_expect 201 "run of an OSv image without a ready rule (wait ready)"
nr=$(json .id)
[ "$(json .ready_at)" = "$(json .started_at)" ] || st_fail "ready_at is not started_at: $API_BODY"
api POST "/vm/$nr/stop"
st_expect 200 "stop $nr"
st_pass
