# lib.sh — shared by the system tests: starts the whole uigniter stack in a
# private network namespace and temp directory, talks to its API over the
# unix socket, and removes everything on exit (processes by pid, the
# namespace with its bridge and taps, the shm segment, the temp dir).
#
# Usage in a test:  . "$(dirname "$0")/lib.sh"; st_start; ...; st_pass
# Requires root (skips with 77 otherwise).
set -euo pipefail

BUILD=${BUILD:-build}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=$ROOT/$BUILD/bin
GUEST=$ROOT/build/guest
# uictl image build layers apps on this base (any build dir: asan too)
export UIGNITER_GUEST_BASE=$GUEST

if [ "$(id -u)" -ne 0 ]; then
	echo "skip: system tests need root (netns, taps)"
	exit 77
fi

ST_NAME=uigt$$
ST_NS=$ST_NAME
ST_DIR=$(mktemp -d /tmp/uigniter-test.XXXXXX)
chmod 0711 "$ST_DIR" # the VMM user reaches its own directory under run/vms
# VMMs run as this user (vmm.user), created by the stack on first start and
# removed again on exit (st_cleanup).
ST_VMM_USER=${ST_VMM_USER:-uigt-vmm-$$}
# The Firecracker fake's call logs (<id>.calls.jsonl) outlive the VMM's own
# directory, which a stop removes; any VMM user may write there.
export FC_FAKE_LOG_DIR=$ST_DIR/calls
mkdir -m 1777 "$FC_FAKE_LOG_DIR"
ST_CONF=$ST_DIR/uigniter.yaml
ST_SOCK=$ST_DIR/run/api.sock
ST_LOG=$ST_DIR/uigniter.log
ST_DB=$ST_DIR/state/registry.db
ST_API_LOG=$ST_DIR/api.jsonl
ST_TOKEN_FILE=$ST_DIR/state/api.token # api.token_file's default (made by uigniterd)
ST_PID=

st_log() { echo "[$(date +%T)] $*"; }
st_fail() {
	echo "FAIL: $*"
	echo "---- last lines of the uigniter log:"
	tail -n 40 "$ST_LOG" 2>/dev/null || true
	exit 1
}

# The config of the test instance; tests may append to it before st_start.
# Optional hooks (unset: the defaults below): ST_DRIVER (vmm.driver),
# ST_VMM_EXTRA (more lines for the vmm: section, indented two spaces),
# ST_NETWORK_EXTRA (the same for network:),
# ST_IMAGES_EXTRA (more images, indented two spaces), ST_NEED_GUEST=0 (no
# built guest needed, e.g. with the Firecracker fake). Image files must lie
# in $GUEST or $ST_DIR (vmm.image_dirs); VMMs run as $ST_VMM_USER.
st_write_config() {
	cat >"$ST_CONF" <<EOF
state_dir: $ST_DIR/state
run_dir: $ST_DIR/run
log_level: ${ST_LOG_LEVEL:-info}
api:
  listen: ["127.0.0.1:6666", "unix:$ST_SOCK"]
network:
  bridge: uigt0
  subnet: 172.31.0.0/24
  gateway: 172.31.0.1
${ST_NETWORK_EXTRA:-}
vmm:
  driver: ${ST_DRIVER:-qemu}
  stop_timeout_ms: ${ST_STOP_TIMEOUT_MS:-8000}
  user: $ST_VMM_USER
  image_dirs: [$GUEST, $ST_DIR]
${ST_VMM_EXTRA:-}
limits:
  max_body_bytes: 4096
images:
  hello:
    kernel: $GUEST/vmlinuz
    initrd: $GUEST/initrd.cpio.gz
    mem_mib: 128
${ST_IMAGES_EXTRA:-}
EOF
}

# The pids of every qemu started for this instance (from the registry).
st_vmm_pids() {
	sqlite3 "$ST_DB" 'select vmm_pid from vms where vmm_pid > 0' 2>/dev/null || true
}

# The test's VMM user (and its group), once its VMMs are gone; only a name
# this file made up (uigt-vmm-PID), never a user the host had.
st_vmm_user_remove() {
	case $ST_VMM_USER in uigt-vmm-[0-9]*) ;; *) return 0 ;; esac
	id -u "$ST_VMM_USER" >/dev/null 2>&1 || return 0
	for _ in $(seq 50); do
		userdel "$ST_VMM_USER" 2>/dev/null && return 0
		sleep 0.1 # a VMM just killed still runs as it
	done
	echo "warning: cannot remove the test user $ST_VMM_USER"
}

st_cleanup() {
	local rc=$? pid left d
	set +e
	if [ -n "$ST_PID" ] && kill -0 "$ST_PID" 2>/dev/null; then
		kill -TERM "$ST_PID"
		for _ in $(seq 50); do kill -0 "$ST_PID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$ST_PID" 2>/dev/null
	fi
	# VMs are left running by design when the manager stops: end ours.
	for pid in $(st_vmm_pids); do
		if grep -qE 'qemu|firecracker' "/proc/$pid/cmdline" 2>/dev/null &&
		   grep -q "$ST_DIR" "/proc/$pid/cmdline" 2>/dev/null; then
			kill -KILL "$pid"
		fi
	done
	# A jailed VMM's command line names only its chroot's paths, and a test
	# cut short may leave VMMs the registry no longer lists: every process
	# of this test's own VMM user (uigt-vmm-<pid>, made for it) is ours.
	case $ST_VMM_USER in
	uigt-vmm-[0-9]*) for pid in $(pgrep -u "$ST_VMM_USER" 2>/dev/null); do kill -KILL "$pid"; done ;;
	esac
	if grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:' "$ST_LOG" 2>/dev/null; then
		echo "FAIL: sanitizer report in the uigniter log:"
		grep -B2 -A30 -E 'AddressSanitizer|LeakSanitizer|runtime error:' "$ST_LOG" | head -80
		rc=1
	fi
	ip netns del "$ST_NS" 2>/dev/null
	for _ in $(seq 30); do # VMMs just killed: their cgroups empty once reaped
		left=$(st_cgroups_left)
		[ -z "$left" ] && break
		for d in $left; do rmdir "$d" 2>/dev/null; done
		sleep 0.1
	done
	rm -f /dev/shm/uigniter-"$(st_shm_hash)" 2>/dev/null
	st_vmm_user_remove
	[ -n "${ST_KEEP_LOG:-}" ] && cp "$ST_LOG" "$ST_KEEP_LOG"
	# a test's own last step before its directory goes (e.g. a umount)
	[ -n "${ST_CLEANUP_HOOK:-}" ] && "$ST_CLEANUP_HOOK"
	rm -rf "$ST_DIR"
	exit $rc
}
trap st_cleanup EXIT
trap 'exit 130' INT TERM

# The manager's shm name is "/uigniter-" + FNV-1a 64 of state_dir (config.c);
# after a kill -9 of uigniterd the segment is ours to remove.
st_shm_hash() {
	local s=$ST_DIR/state h=-3750763034362895579 i c # 0xcbf29ce484222325
	for ((i = 0; i < ${#s}; i++)); do
		printf -v c '%d' "'${s:i:1}"
		h=$(( (h ^ c) * 1099511628211 ))
	done
	printf '%016x' "$h"
}

# The cgroups of this instance still in the host's hierarchies (the VMs'
# parent "uigniter-<hash>" and its VM cgroups, children first; empty =
# none). pool-worker mounts what it needs inside the namespace; the kernel
# hierarchy is the same one as /sys/fs/cgroup/<controller> here.
st_cgroups_left() {
	local c
	for c in cpu memory pids unified; do
		[ -d "/sys/fs/cgroup/$c" ] || continue
		find "/sys/fs/cgroup/$c" -depth -type d -path "*/uigniter-$(st_shm_hash)*" \
			2>/dev/null || true
	done
}

# api METHOD PATH [BODY] [extra curl args...] → prints "<status>\n<body>"
# Every answer is recorded in $ST_API_LOG; st_pass checks them all against
# docs/openapi.yaml (tests/openapi/check.py), so the spec cannot drift.
api() {
	local method=$1 path=$2 body=${3-} out ctype
	shift 2; [ $# -gt 0 ] && shift
	if [ -n "$body" ]; then
		out=$(curl -sS --max-time 90 --unix-socket "$ST_SOCK" -X "$method" \
			-H 'Content-Type: application/json' --data-binary "$body" \
			-w '\n%{content_type}\n%{http_code}' "$@" "http://uigniter$path")
	else
		out=$(curl -sS --max-time 90 --unix-socket "$ST_SOCK" -X "$method" \
			-w '\n%{content_type}\n%{http_code}' "$@" "http://uigniter$path")
	fi
	API_STATUS=${out##*$'\n'}
	out=${out%$'\n'*}
	ctype=${out##*$'\n'}
	API_BODY=${out%$'\n'*}
	[ "$API_STATUS" = 000 ] || st_api_record "$method" "$path" "$API_STATUS" \
		"$ctype" "$API_BODY" "$body"
}

# st_api_record METHOD PATH STATUS CONTENT_TYPE BODY [REQUEST]: one answer
# for the OpenAPI check (tests that call curl themselves may use it too).
st_api_record() {
	jq -nc --arg m "$1" --arg p "$2" --argjson s "$3" --arg ct "$4" \
		--arg b "$5" --arg r "${6-}" \
		'{method:$m,path:$p,status:$s,content_type:$ct,body:$b,request:$r}' \
		>>"$ST_API_LOG" || st_fail "cannot record an API answer in $ST_API_LOG"
}

# st_api_check: every recorded answer is as docs/openapi.yaml says.
st_api_check() {
	[ -s "$ST_API_LOG" ] || return 0
	/usr/bin/python3 "$ROOT/tests/openapi/check.py" \
		"$ROOT/docs/openapi.yaml" "$ST_API_LOG" >"$ST_DIR/openapi.out" 2>&1 ||
		st_fail "answers not as docs/openapi.yaml says: $(head -n 20 "$ST_DIR/openapi.out")"
	st_log "$(tail -n 1 "$ST_DIR/openapi.out")"
}

# api_tcp METHOD PATH [BODY] [extra curl args...] — the same over TCP
# (127.0.0.1:6666 in the namespace) with the bearer token of api.token_file.
api_tcp() {
	local method=$1 path=$2 body=${3-} out ctype
	local -a data=()
	shift 2; [ $# -gt 0 ] && shift
	[ -n "$body" ] && data=(-H 'Content-Type: application/json' --data-binary "$body")
	out=$(ip netns exec "$ST_NS" curl -sS --max-time 90 -X "$method" "${data[@]}" \
		-H "Authorization: Bearer $(cat "$ST_TOKEN_FILE")" \
		-w '\n%{content_type}\n%{http_code}' "$@" "http://127.0.0.1:6666$path")
	API_STATUS=${out##*$'\n'}
	out=${out%$'\n'*}
	ctype=${out##*$'\n'}
	API_BODY=${out%$'\n'*}
	[ "$API_STATUS" = 000 ] || st_api_record "$method" "$path" "$API_STATUS" \
		"$ctype" "$API_BODY" "$body"
}

# json FIELD — a top-level string/number field of $API_BODY (jq).
json() { jq -r "$1" <<<"$API_BODY"; }

st_expect() { # st_expect STATUS what
	[ "$API_STATUS" = "$1" ] || st_fail "$2: HTTP $API_STATUS, expected $1: $API_BODY"
}

st_start() {
	[ "${ST_NEED_GUEST:-1}" = 0 ] || [ -f "$GUEST/vmlinuz" ] ||
		st_fail "guest not built ($GUEST): run make"
	[ -f "$ST_CONF" ] || st_write_config
	ip netns list | grep -qw "$ST_NS" || ip netns add "$ST_NS"
	ip -n "$ST_NS" link set lo up
	ip netns exec "$ST_NS" "$BIN/uigniterd" --config "$ST_CONF" >>"$ST_LOG" 2>&1 &
	ST_PID=$!
	for _ in $(seq 100); do
		if [ -S "$ST_SOCK" ]; then
			api GET /healthz 2>/dev/null || API_STATUS= # a stale socket
			if [ "$API_STATUS" = 200 ] &&
			   [ "$(json '.daemons["pool-worker"]')" = up ] &&
			   [ "$(json '.daemons.netd')" = up ]; then
				st_log "stack up (uigniterd pid $ST_PID)"
				return 0
			fi
		fi
		kill -0 "$ST_PID" 2>/dev/null || st_fail "uigniterd exited during start"
		sleep 0.2
	done
	st_fail "stack did not become healthy in 20 s"
}

# The pid of one of the manager's daemons (netd, pool-worker, apid).
st_daemon_pid() { pgrep -P "$ST_PID" -x "$1" | head -n1; }

# Waits until the guest at $1 answers HTTP; prints the body.
st_guest_http() {
	local ip=$1 body
	for _ in $(seq 180); do
		body=$(ip netns exec "$ST_NS" curl -s --max-time 2 "http://$ip/" 2>/dev/null) &&
			[ -n "$body" ] && { echo "$body"; return 0; }
		sleep 0.5
	done
	return 1
}

st_sql() { sqlite3 "$ST_DB" "$1"; }

# Taps nothing accounts for (prints them; empty = none): a device with our
# prefix that has no `taps` row — netd records every tap it makes, and a
# spare of its stock is a 'ready' row no lease names — or a lease whose VM
# is gone or final.
st_unowned_taps() {
	local devs rows
	devs=$(ip -n "$ST_NS" -br link | awk '$1 ~ /^uit-/ {sub(/@.*/, "", $1); print $1}' | sort)
	rows=$(st_sql "select name from taps where state in ('ready','deleting')" | sort)
	comm -23 <(echo "$devs") <(echo "$rows") | tr '\n' ' '
	st_sql "select l.tap from leases l left join vms v on v.id = l.vm_id
		where v.state is null or v.state in ('stopped','failed')" | tr '\n' ' '
}

# st_tap_released TAP: no lease names TAP, and its device is gone or back
# in netd's stock (a spare: reused by a later run, no kernel work).
st_tap_released() {
	[ "$(st_sql "select count(*) from leases where tap = '$1'")" = 0 ] || return 1
	! ip -n "$ST_NS" link show "$1" >/dev/null 2>&1 && return 0
	[ -n "$(st_sql "select name from taps where name = '$1' and state in ('ready','deleting')")" ]
}

# True if pid runs (a zombie waiting for its reaper does not: VMMs orphaned
# by a manager kill -9 are reaped by init, a moment after they exit).
st_pid_alive() {
	local s
	s=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$s" ] && [ "$s" != Z ] && [ "$s" != X ]
}

# st_kill_daemon NAME: SIGKILL the daemon (netd, pool-worker, apid) and wait
# (10 s) until uigniterd has restarted it and /healthz says it is up; the
# new pid is left in ST_NEW_PID.
st_kill_daemon() {
	local old new=
	old=$(st_daemon_pid "$1") || st_fail "no $1 running"
	kill -KILL "$old"
	for _ in $(seq 100); do
		new=$(st_daemon_pid "$1" || true)
		if [ -n "$new" ] && [ "$new" != "$old" ]; then
			api GET /healthz
			[ "$(json ".daemons[\"$1\"]")" = up ] && { ST_NEW_PID=$new; return 0; }
		fi
		sleep 0.1
	done
	st_fail "$1 did not come back after kill -9 (pid $old)"
}

st_pass() { st_api_check; st_log "PASS $(basename "$0")"; }

# st_snap_restores_failed TRIES SLEEP: pool.boot snapshot after slots in a
# row failed to restore — GET /pool says the template failed with that
# reason, refill_errors counts them, and the pool filled by booting ahead
# (polled TRIES times, SLEEP s apart; API_BODY left with the answer).
st_snap_restores_failed() {
	for _ in $(seq "$1"); do
		api GET /pool
		[ "$(json .template.state)" = failed ] && [ "$(json .ready)" = 1 ] && break
		sleep "$2"
	done
	[ "$(json .template.state)" = failed ] || st_fail "template not failed: $API_BODY"
	[ "$(json .ready)" = 1 ] || st_fail "the pool did not fill by booting ahead: $API_BODY"
	grep -q "slots in a row failed to restore" <<<"$(json .template.error)" ||
		st_fail "template.error: $API_BODY"
	[ "$(json .refill_errors)" -ge 2 ] || st_fail "refill_errors: $API_BODY"
}

# st_wait_vm ID STATE: polls GET /vm/ID (10 s) until it says STATE; the
# answer is left in API_BODY (st_fail with it when the state never came).
st_wait_vm() {
	for _ in $(seq 100); do
		api GET "/vm/$1"
		[ "$(json .state)" = "$2" ] && return 0
		sleep 0.1
	done
	st_fail "VM $1 never $2: $API_BODY"
}

# st_wait_pool N: polls GET /pool (10 s) until N warm slots are ready.
st_wait_pool() {
	for _ in $(seq 100); do
		api GET /pool
		[ "$(json .ready)" = "$1" ] && return 0
		sleep 0.1
	done
	st_fail "pool not at $1 ready: $API_BODY"
}

# st_fc_fake: the Firecracker contract fake as the VMM (skip, 77, when it is
# not built), sql() with a busy timeout, and an image "fc" whose kernel is
# an empty file (the fake boots nothing). Set ST_DRIVER=firecracker and
# ST_NEED_GUEST=0 before sourcing this file; call it before st_start; more
# vmm:/images: lines may then be appended to ST_VMM_EXTRA / ST_IMAGES_EXTRA
# (lines right after ST_IMAGES_EXTRA's start belong to the fc image).
st_fc_fake() {
	FAKE=$ROOT/$BUILD/tests/fakes/firecracker
	[ -x "$FAKE" ] || { echo "skip: $FAKE not built (make unit-tests)"; exit 77; }
	sql() { sqlite3 -cmd '.timeout 20000' "$ST_DB" "$1"; }
	: >"$ST_DIR/vmlinux"
	ST_VMM_EXTRA="  firecracker: $FAKE"
	ST_IMAGES_EXTRA="  fc:
    kernel: $ST_DIR/vmlinux"
}
