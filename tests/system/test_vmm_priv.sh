#!/usr/bin/env bash
# VMMs without root (pool-worker/vmm_priv.h, vmm-exec/main.c, fc_jail.h):
# - the stack creates vmm.user on first start; every tap is owned by it;
# - QEMU (one real guest): /proc/PID/status Uid/Gid the VMM user's, no
#   capability in any set, NoNewPrivs 1, Seccomp 2 (its -sandbox); in its
#   VM's cgroup; its QMP socket in <run_dir>/vms/<id>/ (0700, the user's);
#   the guest answers HTTP through the tap the unprivileged QEMU opened;
#   a stop removes the directory and releases the tap;
# - the Firecracker fake, plain: the same /proc facts (its seccomp filter);
#   a kernel the user can read is used in place, one under state_dir (out
#   of its reach) is hard-linked into its directory;
# - the Firecracker fake through the jailer fake (vmm.jailer): the jailer
#   got exactly the documented arguments, the chroot holds exactly the
#   documented files, the API bodies name chroot paths, Firecracker runs
#   as the user inside it; a stop removes the whole jail;
# - an image path outside vmm.image_dirs is a config error at its key.
. "$(dirname "$0")/lib.sh"

FAKE=$ROOT/$BUILD/tests/fakes/firecracker
SFAKE=$ROOT/$BUILD/tests/fakes/static/firecracker
JAILER=$ROOT/$BUILD/tests/fakes/jailer
[ -x "$FAKE" ] || { echo "skip: $FAKE not built (make unit-tests)"; exit 77; }
sql() { sqlite3 -cmd '.timeout 20000' "$ST_DB" "$1"; }
hash=$(st_shm_hash)
# A jailed Firecracker's command line does not name $ST_DIR (lib.sh's
# cleanup finds VMMs by it): on a failure, it is killed here by its pid.
JPID=
jail_cleanup() {
	local rc=$?
	set +e # lib.sh's set -e would end the trap at (exit 1), before st_cleanup
	if [ -n "$JPID" ]; then kill -KILL "$JPID" 2>/dev/null; fi
	(exit $rc)
	st_cleanup
}
trap jail_cleanup EXIT

# status_is PID ID [CAPSET]: the /proc facts of an unprivileged, sandboxed VMM.
status_is() {
	local pid=$1 uid gid st
	uid=$(id -u "$ST_VMM_USER")
	gid=$(id -g "$ST_VMM_USER")
	st=$(cat "/proc/$pid/status")
	grep -qx "Uid:	$uid	$uid	$uid	$uid" <<<"$st" || st_fail "pid $pid Uid: $(grep Uid <<<"$st")"
	grep -qx "Gid:	$gid	$gid	$gid	$gid" <<<"$st" || st_fail "pid $pid Gid: $(grep Gid <<<"$st")"
	# the bounding set: emptied by our exec helper; the jailer (real or
	# fake) only changes ids, which clears the other sets
	for c in CapInh CapPrm CapEff CapAmb ${3:-CapBnd}; do
		grep -qx "$c:	0000000000000000" <<<"$st" || st_fail "pid $pid $(grep "$c" <<<"$st")"
	done
	grep -qx "NoNewPrivs:	1" <<<"$st" || st_fail "pid $pid $(grep NoNewPrivs <<<"$st")"
	grep -qx "Seccomp:	2" <<<"$st" || st_fail "pid $pid $(grep 'Seccomp:' <<<"$st")"
	for g in $(grep '^Groups:' <<<"$st" | cut -f2); do
		[ "$g" != 0 ] || st_fail "pid $pid is in group 0: $(grep Groups <<<"$st")"
	done
	# in its VM's cgroup (cgroup.h), whatever the hierarchy
	grep -q "/uigniter-$hash/$2\$" "/proc/$pid/cgroup" ||
		st_fail "pid $pid not in its VM's cgroup: $(cat "/proc/$pid/cgroup")"
	return 0
}

stop_stack() {
	kill -TERM "$ST_PID"
	for _ in $(seq 100); do kill -0 "$ST_PID" 2>/dev/null || break; sleep 0.1; done
	kill -0 "$ST_PID" 2>/dev/null && st_fail "uigniterd did not stop"
	ST_PID=
	rm -f "$ST_CONF"
}

run_vm() { # run_vm IMAGE: POST /vm/run, sets ID and PID
	api POST /vm/run "{\"image\":\"$1\"}"
	case $API_STATUS in 200 | 201) ;; *) st_fail "run $1: HTTP $API_STATUS: $API_BODY" ;; esac
	ID=$(json .id)
	PID=$(sql "select vmm_pid from vms where id = '$ID'")
	[ "${PID:-0}" -gt 0 ] || st_fail "no VMM pid for $ID"
}

stop_vm() { # stop_vm ID: stopped, its tap released
	local tap
	tap=$(sql "select tap from vms where id = '$1'")
	api POST "/vm/$1/stop"
	case $API_STATUS in 200 | 202) ;; *) st_fail "stop $1: HTTP $API_STATUS: $API_BODY" ;; esac
	st_wait_vm "$1" stopped
	for _ in $(seq 100); do st_tap_released "$tap" && break; sleep 0.1; done
	st_tap_released "$tap" || st_fail "tap $tap of $1 not released"
}

# ---- an image outside the image directories: refused at its key ----------
! id -u "$ST_VMM_USER" >/dev/null 2>&1 || st_fail "test user $ST_VMM_USER exists already"
ST_IMAGES_EXTRA="  evil:
    kernel: /etc/hostname"
st_write_config
out=$("$BIN/uigniterd" --config "$ST_CONF" 2>&1) && st_fail "uigniterd started with /etc/hostname as a kernel"
line=$(grep -n 'kernel: /etc/hostname' "$ST_CONF" | cut -d: -f1)
grep -qF "$ST_CONF:$line:13: images.evil.kernel: /etc/hostname is outside every image directory (vmm.image_dirs: $GUEST, $ST_DIR)" <<<"$out" ||
	st_fail "config error: $out"
rm -f "$ST_CONF"
ST_IMAGES_EXTRA=

# ---- QEMU, one real guest --------------------------------------------------
st_start
id -u "$ST_VMM_USER" >/dev/null 2>&1 || st_fail "vmm.user $ST_VMM_USER not created"
uid=$(id -u "$ST_VMM_USER")
gid=$(id -g "$ST_VMM_USER")
grep -q "VMMs run as $ST_VMM_USER (uid $uid, gid $gid) without capabilities" "$ST_LOG" ||
	st_fail "pool-worker did not say who VMMs run as"
run_vm hello
status_is "$PID" "$ID"
grep -q 'qemu-system' "/proc/$PID/cmdline" || st_fail "pid $PID is not qemu: $(tr '\0' ' ' <"/proc/$PID/cmdline")"
tr '\0' '\n' <"/proc/$PID/cmdline" | grep -qx 'on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny' ||
	st_fail "qemu without its -sandbox: $(tr '\0' ' ' <"/proc/$PID/cmdline")"
dir=$ST_DIR/run/vms/$ID
[ "$(stat -c '%u:%g %a' "$dir")" = "$uid:$gid 700" ] || st_fail "VMM dir: $(stat -c '%u:%g %a' "$dir")"
[ -S "$dir/qmp" ] && [ "$(stat -c %u "$dir/qmp")" = "$uid" ] || st_fail "QMP socket: $(ls -la "$dir")"
tap=$(sql "select tap from vms where id = '$ID'")
[ "$(ip netns exec "$ST_NS" cat "/sys/class/net/$tap/owner")" = "$uid" ] &&
	[ "$(ip netns exec "$ST_NS" cat "/sys/class/net/$tap/group")" = "$gid" ] ||
	st_fail "tap $tap owner: $(ip netns exec "$ST_NS" cat "/sys/class/net/$tap/owner")"
for t in $(sql "select name from taps where state = 'ready'"); do # the stock too
	[ "$(ip netns exec "$ST_NS" cat "/sys/class/net/$t/owner")" = "$uid" ] ||
		st_fail "stock tap $t not owned by the VMM user"
done
ip=$(sql "select ip from vms where id = '$ID'")
st_wait_vm "$ID" running
st_guest_http "$ip" >/dev/null || st_fail "guest $ip does not answer HTTP (tap opened by the unprivileged qemu)"
stop_vm "$ID"
[ ! -e "$dir" ] || st_fail "VMM dir left: $(ls -la "$dir")"
stop_stack

# ---- the Firecracker fake, plain --------------------------------------------
: >"$ST_DIR/vmlinux"
ST_DRIVER=firecracker
ST_VMM_EXTRA="  firecracker: $FAKE"
mkdir -p "$ST_DIR/state/images" && : >"$ST_DIR/state/images/vmlinux"
ST_IMAGES_EXTRA="  fc:
    kernel: $ST_DIR/vmlinux
  fcstate:
    kernel: $ST_DIR/state/images/vmlinux"
st_write_config
st_start
run_vm fc
status_is "$PID" "$ID"
dir=$ST_DIR/run/vms/$ID
[ -S "$dir/sock" ] && [ "$(stat -c %u "$dir/sock")" = "$uid" ] || st_fail "API socket: $(ls -la "$dir")"
k=$(jq -r 'select(.path == "/boot-source") | .body.kernel_image_path' "$ST_DIR/calls/$ID.calls.jsonl")
[ "$k" = "$ST_DIR/vmlinux" ] || st_fail "a kernel the user can read was not used in place: $k"
stop_vm "$ID"
[ ! -e "$dir" ] || st_fail "VMM dir left: $(ls -la "$dir")"
# a kernel under state_dir (0700: out of the user's reach) is linked into its directory
run_vm fcstate
dir=$ST_DIR/run/vms/$ID
k=$(jq -r 'select(.path == "/boot-source") | .body.kernel_image_path' "$ST_DIR/calls/$ID.calls.jsonl")
[ "$k" = "$dir/kernel" ] || st_fail "kernel under state_dir: $k"
[ "$(stat -c %i "$dir/kernel")" = "$(stat -c %i "$ST_DIR/state/images/vmlinux")" ] ||
	st_fail "kernel under state_dir not hard-linked"
stop_vm "$ID"
[ ! -e "$dir" ] || st_fail "VMM dir left: $(ls -la "$dir")"
stop_stack

# ---- the Firecracker fake through the jailer fake ---------------------------
if [ ! -x "$SFAKE" ] || [ ! -x "$JAILER" ]; then
	echo "skip (jailer part): $SFAKE / $JAILER not built (not under sanitizers)"
	st_pass
	exit 0
fi
ST_VMM_EXTRA="  firecracker: $SFAKE
  jailer: $JAILER"
ST_IMAGES_EXTRA="  fc:
    kernel: $ST_DIR/vmlinux"
st_write_config
st_start
run_vm fc
JPID=$PID
jail=$ST_DIR/run/jail/firecracker/$ID
root=$jail/root
status_is "$PID" "$ID" CapEff
want_args="$JAILER
--id
$ID
--exec-file
$SFAKE
--uid
$uid
--gid
$gid
--chroot-base-dir
$ST_DIR/run/jail
--cgroup-version
$(grep -q 'cgroup: v2' "$ST_LOG" && echo 2 || echo 1)
--
--api-sock
/run/firecracker.socket"
[ "$(cat "$jail/jailer.argv")" = "$want_args" ] || st_fail "jailer arguments:
$(cat "$jail/jailer.argv")
expected:
$want_args"
cmd=$(tr '\0' ' ' <"/proc/$PID/cmdline")
[[ "$cmd" =~ ^/firecracker\ --id\ $ID\ --start-time-us\ [0-9]+\ --start-time-cpu-us\ [0-9]+\ --api-sock\ /run/firecracker.socket\ $ ]] ||
	st_fail "jailed firecracker's command line: $cmd"
# its / is the chroot (a bind mount of it in the jailer's mount namespace)
[ "$(stat -Lc %d:%i "/proc/$PID/root")" = "$(stat -c %d:%i "$root")" ] ||
	st_fail "not chrooted: its / is $(stat -Lc %d:%i "/proc/$PID/root"), the chroot $(stat -c %d:%i "$root")"
st_wait_vm "$ID" running
layout=$(cd "$root" && find . | sort | tr '\n' ' ')
want=". ./dev ./dev/kvm ./dev/net ./dev/net/tun ./firecracker ./firecracker-api-v1.16.1.yaml ./kernel ./run ./run/firecracker.socket ./run/firecracker.socket.calls.jsonl "
[ "$layout" = "$want" ] || st_fail "chroot layout: $layout
expected: $want"
[ "$(stat -c '%u:%g' "$root" "$root/run" "$root/dev/net/tun" "$root/dev/kvm" | sort -u)" = "$uid:$gid" ] ||
	st_fail "chroot ownership: $(stat -c '%n %u:%g' "$root" "$root/run" "$root/dev/net/tun" "$root/dev/kvm")"
[ "$(stat -c '%F %t,%T' "$root/dev/net/tun")" = "character special file a,c8" ] ||
	st_fail "dev/net/tun: $(stat -c '%F %t,%T' "$root/dev/net/tun")"
[ "$(stat -c %i "$root/kernel")" = "$(stat -c %i "$ST_DIR/vmlinux")" ] || st_fail "kernel not hard-linked"
boot=$(grep '"path":"/boot-source"' "$root/run/firecracker.socket.calls.jsonl" | jq -c .body)
[ "$(jq -r .kernel_image_path <<<"$boot")" = /kernel ] || st_fail "boot-source body: $boot"
stop_vm "$ID"
[ ! -e "$jail" ] || st_fail "jail left: $(find "$jail")"
stop_stack
st_pass
