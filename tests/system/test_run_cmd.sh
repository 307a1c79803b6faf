#!/usr/bin/env bash
# A run's own command line on QEMU (TCG): "cmd" reaches the guest's app as
# its exact argv (the demo guest's init decodes uigniter.cmd= and execs it;
# the app here serves its argv over HTTP), with a warm slot of the same
# image in the pool — a QEMU slot's kernel command line is fixed at spawn,
# so the run is a cold start counted as a pool miss and the slot stays
# warm; a run with the image's own command still takes the slot. Bad
# cmd/boot_args bodies are 400 with a sentence, and leave nothing.
. "$(dirname "$0")/lib.sh"
st_write_config
sed -i 's/^  max_body_bytes: 4096$/  max_body_bytes: 16384/' "$ST_CONF"
cat >>"$ST_CONF" <<EOF
  fixed:
    kernel: $GUEST/vmlinuz
    initrd: $GUEST/initrd.cpio.gz
    allow_cmd: false
pool:
  size: 1
  warm_image: hello
EOF
st_start
st_wait_pool 1

# ---- bad bodies first: 400, nothing made -----------------------------------------
bad() { # bad BODY SUBSTRING
	api POST /vm/run "$1"
	st_expect 400 "bad body $1"
	[ "$(json .error.code)" = invalid_argument ] || st_fail "code: $API_BODY"
	grep -qF -- "$2" <<<"$(json .error.message)" || st_fail "message for $1: $API_BODY"
}
bad '{"image":"hello","cmd":"/bin/sh"}' "cmd must be a list of strings"
bad '{"image":"hello","cmd":[]}' "cmd must not be empty"
bad '{"image":"hello","cmd":["a",7]}' "cmd[1] must be a string"
bad '{"image":"hello","cmd":["a\nb"]}' "control character"
bad '{"image":"hello","boot_args":"quiet -- x"}' '"--" is not allowed'
bad '{"image":"hello","boot_args":"uigniter.id=forged"}' "uigniter.* and ip= are set by uigniter"
bad '{"image":"hello","boot_args":"a=\"b\""}' "without '\"'"
bad '{"image":"fixed","cmd":["/bin/true"]}' "does not allow a per-run cmd"
long=$(printf '"%0200d",' 1 2 3); long="[${long%,}]"
bad "{\"image\":\"hello\",\"cmd\":$long}" "at most 512 bytes"
[ "$(st_sql "select count(*) from vms where state not in ('warming','warm')")" = 0 ] ||
	st_fail "a bad run left a VM: $(st_sql 'select id, state from vms')"

# ---- a run with its own cmd: a cold start, a pool miss -----------------------------
api GET /pool
misses=$(json .misses) slot=$(st_sql "select id from vms where state = 'warm'")
cat >"$ST_DIR/run.json" <<'JSON'
{"image":"hello","wait":"ready","cmd":["/bin/sh","-c",
 "mkdir -p /e && printf '%s\\n' \"$0\" \"$@\" >/e/index.html && exec httpd -f -p 80 -h /e",
 "argv0","hello world","it's \"quoted\" ; $HOME & ok"]}
JSON
api POST /vm/run "$(cat "$ST_DIR/run.json")"
st_expect 201 "run with cmd"
id=$(json .id) ip=$(json .ip) tap=$(json .tap)
[ "$id" != "$slot" ] || st_fail "the warm slot $slot served a run with its own cmd"
body=$(st_guest_http "$ip") || st_fail "the app did not answer"
want=$'argv0\nhello world\nit\'s "quoted" ; $HOME & ok'
[ "$body" = "$want" ] || st_fail "the app's argv over HTTP:
$body
expected:
$want"
grep -q "uigniter.cmd=" <<<"$(st_sql "select boot_args from vms where id = '$id'")" ||
	st_fail "boot_args: $(st_sql "select boot_args from vms where id = '$id'")"
api GET /pool
[ "$(json .misses)" = $((misses + 1)) ] || st_fail "not counted as a miss: $API_BODY"
[ "$(json .ready)" = 1 ] || st_fail "the slot did not stay warm: $API_BODY"
grep -q "cmd/boot_args are not hello's" "$ST_LOG" || st_fail "no miss reason in the log"
api POST "/vm/$id/stop"
st_expect 200 "stop"
[ "$(json .state)" = stopped ] || st_fail "state after stop: $API_BODY"
st_tap_released "$tap" || st_fail "tap $tap not released"

# ---- the image's own command: the slot serves it -------------------------------------
api POST /vm/run '{"image":"hello"}'
st_expect 201 "run of the warm image"
[ "$(json .id)" = "$slot" ] || st_fail "a default run did not take the slot $slot: $API_BODY"
body=$(st_guest_http "$(json .ip)") || st_fail "the slot's guest did not answer"
grep -q "hello from $slot" <<<"$body" || st_fail "slot guest answered: $body"
api POST "/vm/$slot/stop"
st_expect 200 "stop the slot's VM"
st_pass
