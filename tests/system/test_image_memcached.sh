#!/usr/bin/env bash
# Images from a manifest, booted (QEMU, TCG; two guests). `uictl image build`
# makes the memcached image from Debian's /usr/bin/memcached and the
# libraries its loader resolves (binaries:), registers it in images_dir,
# and the stack finds it at start: POST /vm/run {"wait":"ready"} answers 201
# once memcached accepts on 11211, and a set then a get over TCP from the
# namespace return the value. A second image runs a shell app (shell: true)
# whose console line is its ready pattern. Both stop; nothing is left.
. "$(dirname "$0")/lib.sh"

[ -x /usr/bin/memcached ] || st_fail "memcached not installed (tools/install-deps)"
st_write_config

mkdir -p "$ST_DIR/mc" "$ST_DIR/echo"
cat >"$ST_DIR/mc/image.yaml" <<'YAML'
name: memcached
binaries: [/usr/bin/memcached]
cmd: [/usr/bin/memcached, -u, root, -p, "11211", -U, "0"]
ports: [11211]
ready: {port: 11211}
mem_mib: 192
YAML
cat >"$ST_DIR/echo/image.yaml" <<'YAML'
name: echoapp
cmd: ["echo \"APP-UP $GREETING\"; exec sleep 100000"]
shell: true
env: {GREETING: hello-env}
ready: {pattern: APP-UP hello-env}
YAML
"$BIN/uictl" --config "$ST_CONF" image build "$ST_DIR/mc" || st_fail "build memcached"
"$BIN/uictl" --config "$ST_CONF" image build "$ST_DIR/echo" || st_fail "build echoapp"
st_start

api GET /images
st_expect 200 "GET /images"
[ "$(jq -c '.images[] | select(.name == "memcached") | [.kind, .ready, .cmd[0], .source]' <<<"$API_BODY")" = \
  "[\"linux\",{\"port\":11211},\"/usr/bin/memcached\",\"$ST_DIR/state/images/memcached.yaml\"]" ] ||
	st_fail "GET /images: $API_BODY"

api POST /vm/run '{"image":"memcached","wait":"ready"}'
st_expect 201 "run memcached with wait ready"
id=$(json .id) ip=$(json .ip)
tap=$(st_sql "select tap from leases where vm_id = '$id'")
[ "$(st_sql "select detail from events where vm_id = '$id' and kind = 'ready'")" = "port 11211 accepts" ] ||
	st_fail "events: $(st_sql "select kind, detail from events where vm_id = '$id'")"
out=$(ip netns exec "$ST_NS" python3 - "$ip" <<'PY'
import socket, sys
s = socket.create_connection((sys.argv[1], 11211), timeout=20)
def cmd(b, end):
    s.sendall(b)
    got = b""
    while not got.endswith(end):
        chunk = s.recv(4096)
        if not chunk:
            break
        got += chunk
    return got.decode()
print(cmd(b"set greeting 0 0 11\r\nhello-world\r\n", b"\r\n").strip())
print(cmd(b"get greeting\r\n", b"END\r\n").replace("\r\n", "|"))
PY
) || st_fail "memcached client failed: $out"
[ "$out" = $'STORED\nVALUE greeting 0 11|hello-world|END|' ] || st_fail "memcached said: $out"
st_log "memcached in the guest: set/get ok"

api POST /vm/run '{"image":"echoapp","wait":"ready"}'
st_expect 201 "run echoapp with wait ready"
id2=$(json .id)
tap2=$(st_sql "select tap from leases where vm_id = '$id2'")
[ "$(st_sql "select count(*) from events where vm_id = '$id2' and kind = 'ready'")" = 1 ] ||
	st_fail "echoapp events: $(st_sql "select kind, detail from events where vm_id = '$id2'")"

for v in "$id" "$id2"; do
	api POST "/vm/$v/stop"
	st_expect 200 "stop $v"
	st_wait_vm "$v" stopped
done
left=$(st_unowned_taps); [ -z "$left" ] || st_fail "taps left: $left"
for t in "$tap" "$tap2"; do st_tap_released "$t" || st_fail "tap $t not released"; done
st_pass
