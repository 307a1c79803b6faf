#!/usr/bin/env bash
# Firecracker driver, an API socket path that does not fit a sockaddr_un:
# with run_dir 75 bytes long, <run_dir>/vms/<id>/sock is 108 bytes (one too
# many; QEMU's <id>/qmp would still fit). The run fails with a clear error,
# nothing is spawned, and the lease is released.
ST_DRIVER=firecracker
ST_NEED_GUEST=0
. "$(dirname "$0")/lib.sh"

FAKE=$ROOT/$BUILD/tests/fakes/firecracker
[ -x "$FAKE" ] || { echo "skip: $FAKE not built (make unit-tests)"; exit 77; }
sql() { sqlite3 -cmd '.timeout 5000' "$ST_DB" "$1"; }

run_dir=$ST_DIR/r
while [ ${#run_dir} -lt 75 ]; do run_dir=${run_dir}x; done
[ ${#run_dir} = 75 ] || st_fail "cannot make a 75-byte run_dir from $ST_DIR"
: >"$ST_DIR/vmlinux"
ST_VMM_EXTRA="  firecracker: $FAKE"
ST_IMAGES_EXTRA="  fc:
    kernel: $ST_DIR/vmlinux"
st_write_config
sed -i "s|^run_dir: .*|run_dir: $run_dir|" "$ST_CONF"
mkdir -p "$ST_DIR/run" # api.sock stays there (api.listen)
st_start

api POST /vm/run '{"image":"fc"}'
case $API_STATUS in 4?? | 5??) ;; *) st_fail "run: HTTP $API_STATUS: $API_BODY" ;; esac
grep -q "firecracker API socket path too long (108 bytes, at most 107)" <<<"$(json .error.message)" ||
	st_fail "error: $(json .error.message)"
[ "$(sql "select state from vms")" = failed ] || st_fail "row: $(sql "select state, error from vms")"
[ "$(sql "select count(*) from vms where vmm_pid > 0")" = 0 ] || st_fail "a VMM was spawned"
[ "$(sql "select count(*) from leases")" = 0 ] || st_fail "lease left"
[ -z "$(st_unowned_taps | tr -d ' ')" ] || st_fail "tap left: $(st_unowned_taps)"
st_pass
