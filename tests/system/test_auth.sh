#!/usr/bin/env bash
# Who may do what (issue 13, item 3): a local unprivileged user — made here,
# removed on exit — cannot run or stop VMs over TCP without the bearer
# token (401 + WWW-Authenticate), nor over the unix socket outside
# api.group (EACCES), cannot read the registry (+ -wal, -shm), a console
# log, the token or the shm segment, and `uictl ls` tells it why; with the
# token it can run and stop over TCP, and once in api.group it can use the
# socket and read the registry. VMMs get a clean environment. A 0755
# state_dir and a 0644 registry left by an older version are tightened at
# start; a token file others may read, and a non-loopback TCP listener
# without a token, stop uigniterd at start (exit 100) with a clear error.
ST_DRIVER=firecracker
ST_NEED_GUEST=0
. "$(dirname "$0")/lib.sh"

command -v useradd >/dev/null && command -v runuser >/dev/null ||
	{ echo "skip: useradd/runuser missing"; exit 77; }
st_fc_fake

U=uigtu$$
G=uigtg$$
auth_cleanup() {
	userdel "$U" 2>/dev/null
	groupdel "$G" 2>/dev/null
	true
}
trap 'rc=$?; set +e; auth_cleanup; (exit $rc); st_cleanup' EXIT # set +e: (exit 1) would end the trap
groupadd "$G"
useradd -M -N -g nogroup -s /bin/sh -d /nonexistent "$U"
# The test dir is mktemp's 0700: open it, so only our modes stand in the way.
chmod 0755 "$ST_DIR"

# as_user CMD... — runs CMD as $U inside the namespace (its own groups).
as_user() { ip netns exec "$ST_NS" runuser -u "$U" -- "$@"; }
# u_curl ARGS... — curl as $U; sets U_STATUS, U_BODY, U_HDRS.
u_curl() {
	local out
	out=$(as_user curl -sS --max-time 30 -D - -w '\n%{http_code}' "$@" 2>&1) || true
	U_STATUS=${out##*$'\n'}
	out=${out%$'\n'*}
	U_HDRS=${out%%$'\r\n\r\n'*}
	U_BODY=${out#*$'\r\n\r\n'}
}
mode_of() { stat -c '%a %U:%G' "$1"; }
expect_mode() { # expect_mode PATH "MODE OWNER:GROUP"
	[ "$(mode_of "$1")" = "$2" ] || st_fail "$1: $(mode_of "$1"), expected $2"
}
count_vms() { sql "select count(*) from vms where image = 'fc'"; }

st_write_config
sed -i "s|^api:|api:\n  group: $G|" "$ST_CONF"
st_start

# ---- the modes --------------------------------------------------------------
S=$ST_DIR/state
expect_mode "$S" "750 root:$G"
expect_mode "$ST_DIR/run" "751 root:$G" # o+x: VMMs (vmm.user) reach run/vms/<id>/
expect_mode "$S/vms" "2750 root:$G"
expect_mode "$ST_DB" "640 root:$G"
for f in "$ST_DB-wal" "$ST_DB-shm"; do
	[ -e "$f" ] || st_fail "$f missing (the daemons hold the registry open)"
	expect_mode "$f" "640 root:$G"
done
expect_mode "$ST_TOKEN_FILE" "600 root:root"
[ "$(wc -c <"$ST_TOKEN_FILE")" = 65 ] && grep -qE '^[0-9a-f]{64}$' "$ST_TOKEN_FILE" ||
	st_fail "the token is not 64 hex characters"
expect_mode "$ST_SOCK" "660 root:$G"
for l in uigniterd netd pool-worker apid; do expect_mode "$S/$l.lock" "600 root:root"; done
SHM=/dev/shm/uigniter-$(st_shm_hash)
expect_mode "$SHM" "600 root:root"
st_log "modes: state_dir 0750, registry 0640 (group $G), token and locks 0600, shm 0600"

api POST /vm/run '{"image":"fc"}'
st_expect 201 "run as root over the unix socket"
a=$(json .id)
log=$(json .console_log)
expect_mode "$log" "640 root:$G"
pid=$(sql "select vmm_pid from vms where id = '$a'")
env=$(tr '\0' '\n' <"/proc/$pid/environ")
grep -q '^UIGNITER' <<<"$env" && st_fail "the VMM got our environment: $env"
grep -qx 'PATH=/usr/sbin:/usr/bin:/sbin:/bin' <<<"$env" || st_fail "VMM env: $env"
st_log "VM $a: console log 0640, VMM environment: $(tr '\n' ' ' <<<"$env")"

# ---- TCP without the token -----------------------------------------------------
n=$(count_vms)
u_curl -X POST -H 'Content-Type: application/json' --data-binary '{"image":"fc"}' \
	http://127.0.0.1:6666/vm/run
[ "$U_STATUS" = 401 ] || st_fail "run over TCP without a token: $U_STATUS $U_BODY"
grep -qi '^WWW-Authenticate: Bearer realm="uigniter"' <<<"$U_HDRS" ||
	st_fail "no WWW-Authenticate: $U_HDRS"
[ "$(jq -r .error.code <<<"$U_BODY")" = unauthorized ] || st_fail "401 body: $U_BODY"
u_curl -X POST "http://127.0.0.1:6666/vm/$a/stop"
[ "$U_STATUS" = 401 ] || st_fail "stop over TCP without a token: $U_STATUS $U_BODY"
u_curl -H "Authorization: Bearer $(tr 0-9a-f 1-9a-f0 <"$ST_TOKEN_FILE")" \
	-X POST "http://127.0.0.1:6666/vm/$a/stop"
[ "$U_STATUS" = 401 ] || st_fail "stop with a wrong token: $U_STATUS $U_BODY"
grep -qi 'error="invalid_token"' <<<"$U_HDRS" || st_fail "wrong token: $U_HDRS"
u_curl -H 'Authorization: Basic dXNlcjpwYXNz' http://127.0.0.1:6666/vm
[ "$U_STATUS" = 401 ] || st_fail "GET /vm with Basic auth: $U_STATUS"
u_curl http://127.0.0.1:6666/healthz
[ "$U_STATUS" = 200 ] || st_fail "/healthz needs no token: $U_STATUS $U_BODY"
[ "$(count_vms)" = "$n" ] || st_fail "a run without the token made a VM"
api GET "/vm/$a"
[ "$(json .state)" = running ] || st_fail "a stop without the token stopped $a: $API_BODY"
st_log "TCP without the token: 401 (run, stop, wrong token, Basic); /healthz 200"

# ---- the unix socket and the files, outside the group ------------------------
u_curl --unix-socket "$ST_SOCK" http://uigniter/vm
[ "$U_STATUS" = 000 ] || st_fail "the unix socket outside $G: $U_STATUS $U_BODY"
# curl says only "couldn't connect": the errno, from connect(2) itself
out=$(as_user python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(sys.argv[1])
except OSError as e:
    print(e.strerror)
else:
    print("connected")' "$ST_SOCK")
[ "$out" = "Permission denied" ] || st_fail "connect to the socket outside $G: $out"
for f in "$ST_DB" "$ST_DB-wal" "$ST_DB-shm" "$log" "$ST_TOKEN_FILE" "$SHM"; do
	out=$(as_user cat "$f" 2>&1 >/dev/null) && st_fail "$U read $f"
	grep -q 'Permission denied' <<<"$out" || st_fail "reading $f: $out"
done
as_user sqlite3 "$ST_DB" 'select count(*) from vms' >/dev/null 2>&1 &&
	st_fail "$U queried the registry"
out=$(as_user "$BIN/uictl" --config "$ST_CONF" ls 2>&1) && st_fail "uictl ls as $U: $out"
grep -q 'permission denied: the registry is readable only by root and the members of api.group' \
	<<<"$out" || st_fail "uictl ls as $U: $out"
st_log "outside $G: socket EACCES; registry, wal, shm, console log, token, shm segment unreadable; uictl: $out"

# ---- with the token ----------------------------------------------------------
TOKEN=$(cat "$ST_TOKEN_FILE")
u_curl -H "Authorization: Bearer $TOKEN" -X POST -H 'Content-Type: application/json' \
	--data-binary '{"image":"fc"}' http://127.0.0.1:6666/vm/run
[ "$U_STATUS" = 201 ] || st_fail "run with the token: $U_STATUS $U_BODY"
b=$(jq -r .id <<<"$U_BODY")
u_curl -H "authorization: bearer   $TOKEN " -X POST "http://127.0.0.1:6666/vm/$b/stop"
[ "$U_STATUS" = 200 ] && [ "$(jq -r .state <<<"$U_BODY")" = stopped ] ||
	st_fail "stop with the token: $U_STATUS $U_BODY"
api_tcp POST "/vm/$a/stop"
st_expect 200 "stop over TCP with api_tcp"
st_log "with the token: run $b 201, stop 200"

# ---- in the group ------------------------------------------------------------
usermod -a -G "$G" "$U"
u_curl --unix-socket "$ST_SOCK" -X POST -H 'Content-Type: application/json' \
	--data-binary '{"image":"fc"}' http://uigniter/vm/run
[ "$U_STATUS" = 201 ] || st_fail "run over the socket in $G: $U_STATUS $U_BODY"
c=$(jq -r .id <<<"$U_BODY")
u_curl --unix-socket "$ST_SOCK" -X POST "http://uigniter/vm/$c/stop"
[ "$U_STATUS" = 200 ] || st_fail "stop over the socket in $G: $U_STATUS $U_BODY"
as_user cat "$ST_DB" >/dev/null || st_fail "a member of $G cannot read the registry"
as_user cat "$ST_TOKEN_FILE" >/dev/null 2>&1 && st_fail "a member of $G read the token"
st_log "in $G: the socket serves it (run $c, stop), the registry is readable, the token is not"

# ---- an older version's modes are tightened at start -------------------------
kill -TERM "$ST_PID"; wait "$ST_PID" 2>/dev/null || true
ST_PID=
chmod 0755 "$S"
chmod 0644 "$ST_DB"
chgrp root "$ST_DB"
st_start
expect_mode "$S" "750 root:$G"
expect_mode "$ST_DB" "640 root:$G"
grep -q "state_dir $S: mode 0755 → 0750, group $G" "$ST_LOG" || st_fail "tightening not logged"
st_log "a 0755 state_dir and a 0644 registry were tightened (and logged)"

# ---- refused at start --------------------------------------------------------
kill -TERM "$ST_PID"; wait "$ST_PID" 2>/dev/null || true
ST_PID=
chmod 0644 "$ST_TOKEN_FILE"
code=0
ip netns exec "$ST_NS" "$BIN/uigniterd" --config "$ST_CONF" >"$ST_DIR/refused.log" 2>&1 || code=$?
[ "$code" = 100 ] || st_fail "a 0644 token file: exit $code"
grep -q "api.token_file $ST_TOKEN_FILE: mode 0644 lets others read it: refused" "$ST_DIR/refused.log" ||
	st_fail "a 0644 token file: $(cat "$ST_DIR/refused.log")"
chmod 0600 "$ST_TOKEN_FILE"

sed -i 's|listen: \["127.0.0.1:6666"|listen: ["0.0.0.0:6666"|; s|^api:|api:\n  token_file: ""|' "$ST_CONF"
line=$(grep -n '0.0.0.0:6666' "$ST_CONF" | cut -d: -f1)
code=0
ip netns exec "$ST_NS" "$BIN/uigniterd" --config "$ST_CONF" >"$ST_DIR/refused.log" 2>&1 || code=$?
[ "$code" = 100 ] || st_fail "non-loopback TCP without a token: exit $code"
grep -q "$ST_CONF:$line:12: api.listen: 0.0.0.0:6666 is not a loopback address and api.token_file is \"\"" \
	"$ST_DIR/refused.log" || st_fail "non-loopback without a token: $(cat "$ST_DIR/refused.log")"
st_log "refused at start: a 0644 token file; 0.0.0.0:6666 without a token ($(cat "$ST_DIR/refused.log"))"

st_pass
