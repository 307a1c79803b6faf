# bench/lib.sh — shared by the benchmark parts (bench/part-*.sh, run by
# bench/run). It starts the uigniter stack in a private network namespace and
# temp directory with a benchmark config, talks to it through the loadgen
# client, writes the results JSON, and removes everything it created on exit,
# Ctrl-C or TERM: processes by pid, VMMs by the pids in our registries, the
# libvirt domains and daemons a part started, the namespace (bridge, taps),
# shm segments, the temp dir.
#
# The daemons are run from a snapshot of build/bin taken when the part starts,
# so a rebuild in the work tree during a long run cannot mix binaries.
set -euo pipefail

B_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
B_GUEST=$B_ROOT/build/guest
B_LOADGEN=$B_ROOT/build/bench/loadgen
B_RESULTS=${BENCH_RESULTS:-$B_ROOT/bench/results}
B_NS=uigb$$
B_BRIDGE=uigb0
# Laid out as on a host: state (registry, console logs) on a fresh ext4 of
# its own (a loop-mounted image: on this workplace's shared disk, /tmp and
# /var/tmp see so much create/delete churn from other test suites that
# ext4 takes up to ~1 ms to allocate an inode there, vs ~27 µs on a fresh
# file system — that would measure the machine, not the manager; fsync
# still costs what a disk costs), sockets in a tmpfs, as /run is on a host
# (the floor's sockets too).
B_IMG=$(mktemp /var/tmp/uigniter-bench.XXXXXX.img)
B_DIR=$(mktemp -d /tmp/uigniter-bench.XXXXXX)
truncate -s 8G "$B_IMG" && mkfs.ext4 -q -F "$B_IMG" && mount -o loop "$B_IMG" "$B_DIR" ||
	{ echo "bench: cannot mount a loop ext4 for the state" >&2; rm -f "$B_IMG"; exit 1; }
chmod 0755 "$B_DIR" # libvirt's qemu user must reach the guest files below it
B_RUNDIR=$(mktemp -d /dev/shm/uigniter-bench.XXXXXX)
chmod 0711 "$B_RUNDIR" # VMMs run as vmm.user: they reach <run_dir>/vms/<id>/
B_BIN=$B_DIR/bin
B_STACKS=()      # state dirs of every stack started (cleanup kills their VMMs)
B_PIDS=()        # other background processes we started
B_STACK_PID=
B_NETNS_MADE=

b_log() { echo "[$(date +%T)] $*" >&2; }
b_die() { b_log "FAIL: $*"; exit 1; }

# ------------------------------------------------------------------ cleanup

# The manager's shm name is "/uigniter-" + FNV-1a 64 of state_dir (config.c).
b_shm_hash() {
	local s=$1 h=-3750763034362895579 i c # 0xcbf29ce484222325
	for ((i = 0; i < ${#s}; i++)); do
		printf -v c '%d' "'${s:i:1}"
		h=$(( (h ^ c) * 1099511628211 ))
	done
	printf '%016x' "$h"
}

b_kill_wait() { # b_kill_wait PID [seconds]: TERM, wait, then KILL
	local pid=$1 n=$(( ${2:-5} * 10 ))
	kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for ((; n > 0; n--)); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
	kill -KILL "$pid" 2>/dev/null || true
}

# VMMs of one stack (they run in their own session: nothing else ends them).
b_kill_vmms() {
	local state=$1 pid
	for pid in $(sqlite3 "$state/registry.db" 'select vmm_pid from vms where vmm_pid > 0' 2>/dev/null); do
		if grep -qsE "$B_DIR|$B_RUNDIR" "/proc/$pid/cmdline"; then
			kill -KILL "$pid" 2>/dev/null || true
		fi
	done
}

b_cleanup() {
	local rc=$? s p
	set +e
	trap '' INT TERM # a second signal must not cut the clean-up short
	trap - EXIT
	[ -n "$B_STACK_PID" ] && b_kill_wait "$B_STACK_PID" 6
	for s in "${B_STACKS[@]}"; do
		b_kill_vmms "$s"
		rm -f "/dev/shm/uigniter-$(b_shm_hash "$s")"
	done
	declare -F b_libvirt_cleanup >/dev/null && b_libvirt_cleanup
	for p in "${B_PIDS[@]}"; do b_kill_wait "$p" 3; done
	# Processes that survived all that and still run from our temp dir.
	for p in $(pgrep -f "$B_DIR|$B_RUNDIR" 2>/dev/null); do
		[ "$p" != $$ ] && kill -KILL "$p" 2>/dev/null
	done
	[ -n "$B_NETNS_MADE" ] && ip netns del "$B_NS" 2>/dev/null
	umount "$B_DIR" 2>/dev/null || umount -l "$B_DIR"
	rm -rf "$B_DIR" "$B_RUNDIR" "$B_IMG"
	exit "$rc"
}
trap b_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
# bench/run starts each part in its own session and forwards INT/TERM to
# the part's whole process group: loadgen and the commands it runs end at
# once, then the trap above runs b_cleanup.

# ------------------------------------------------------------------ set-up

b_need_root() { [ "$(id -u)" -eq 0 ] || b_die "benchmarks need root (netns, taps)"; }

b_snapshot_bins() {
	mkdir -p "$B_BIN"
	cp "$B_ROOT"/build/bin/{uigniterd,netd,pool-worker,apid,uigniter-vmm-exec} "$B_BIN/"
	[ -x "$B_LOADGEN" ] || b_die "$B_LOADGEN missing (bench/run builds it)"
	[ -f "$B_GUEST/vmlinuz" ] || b_die "guest not built ($B_GUEST): run make"
}

b_netns() {
	ip netns add "$B_NS"
	B_NETNS_MADE=1
	ip -n "$B_NS" link set lo up
}

# b_config NAME [key=value...] → writes $B_DIR/NAME/uigniter.yaml, prints its path.
# keys: pool (size), driver (qemu|firecracker), fc (firecracker binary),
# mem (guest MiB), subnet_prefix, max_vms, log_level, boot (pool.boot:
# prepared|ahead|snapshot), ready_port (the hello image's ready rule),
# ready_http (with ready_port: the path a GET must answer), warm (the
# pool's image: hello by default; an image of images_dir may be named)
b_config() {
	local name=$1 d=$B_DIR/$1 kv pool=0 driver=qemu fc= mem=${BENCH_MEM_MIB:-80}
	local max_vms=1100 log_level=info pool_yaml= fc_yaml= boot=prepared ready_yaml= warm=hello
	shift
	for kv in "$@"; do
		case $kv in
		pool=*) pool=${kv#*=} ;; driver=*) driver=${kv#*=} ;; fc=*) fc=${kv#*=} ;;
		mem=*) mem=${kv#*=} ;; max_vms=*) max_vms=${kv#*=} ;;
		log_level=*) log_level=${kv#*=} ;;
		boot=*) boot=${kv#*=} ;;
		warm=*) warm=${kv#*=} ;;
		ready_port=*) ready_yaml="    ready_port: ${kv#*=}${ready_yaml:+
$ready_yaml}" ;;
		ready_http=*) [ -z "${kv#*=}" ] || ready_yaml="${ready_yaml:+$ready_yaml
}    ready_http: ${kv#*=}" ;;
		*) b_die "b_config: unknown $kv" ;;
		esac
	done
	mkdir -p "$d"
	[ "$pool" -gt 0 ] && pool_yaml="pool:
  size: $pool
  warm_image: $warm
  boot: $boot"
	[ -n "$fc" ] && fc_yaml="  firecracker: $fc"
	cat >"$d/uigniter.yaml" <<EOF
state_dir: $d/state
run_dir: $B_RUNDIR/$name/run
log_level: $log_level
api:
  listen: ["127.0.0.1:6666", "unix:$B_RUNDIR/$name/run/api.sock"]
network:
  bridge: $B_BRIDGE
  subnet: 172.31.0.0/22
  gateway: 172.31.0.1
vmm:
  driver: $driver
  image_dirs: [$B_GUEST, $d/state/images]  # the demo guest; what uictl image build registers
$fc_yaml
  stop_timeout_ms: 15000
  boot_timeout_ms: 60000
$pool_yaml
limits:
  max_vms: $max_vms
  run_timeout_ms: 180000
images:
  hello:
    kernel: $B_GUEST/vmlinuz
    initrd: $B_GUEST/initrd.cpio.gz
    boot_args: "console=ttyS0 reboot=k panic=-1 quiet"
    vcpus: 1
    mem_mib: $mem
$ready_yaml
EOF
	echo "$d/uigniter.yaml"
}

# api METHOD PATH [BODY] → "$API_STATUS", "$API_BODY"
api() {
	local out args=()
	[ -n "${3-}" ] && args=(-H 'Content-Type: application/json' --data-binary "$3")
	out=$(curl -sS --max-time 60 --unix-socket "$B_SOCK" -X "$1" "${args[@]}" \
		-w '\n%{http_code}' "http://uigniter$2") || true
	API_STATUS=${out##*$'\n'}
	API_BODY=${out%$'\n'*}
}

# b_stack_start NAME: uigniterd with $B_DIR/NAME/uigniter.yaml in the netns.
b_stack_start() {
	local d=$B_DIR/$1
	B_SOCK=$B_RUNDIR/$1/run/api.sock B_DB=$d/state/registry.db B_LOG=$d/uigniter.log B_STATE=$d/state
	B_STACKS+=("$d/state")
	# Own session: a signal to the part's process group (bench/run forwards
	# Ctrl-C that way) ends loadgen at once, the clean-up ends the stack.
	setsid ip netns exec "$B_NS" "$B_BIN/uigniterd" --config "$d/uigniter.yaml" >>"$B_LOG" 2>&1 </dev/null &
	B_STACK_PID=$!
	for _ in $(seq 150); do
		if [ -S "$B_SOCK" ]; then
			api GET /healthz
			if [ "$API_STATUS" = 200 ] &&
			   [ "$(jq -r '.daemons["pool-worker"]' <<<"$API_BODY")" = up ] &&
			   [ "$(jq -r '.daemons.netd' <<<"$API_BODY")" = up ]; then
				b_log "stack $1 up (uigniterd pid $B_STACK_PID)"
				b_static_neigh 172.31.0 2 254 06:00
				return 0
			fi
		fi
		kill -0 "$B_STACK_PID" 2>/dev/null || { tail -20 "$B_LOG" >&2; b_die "uigniterd exited during start"; }
		sleep 0.2
	done
	tail -20 "$B_LOG" >&2
	b_die "stack $1 did not become healthy in 30 s"
}

# Permanent ARP entries for the guests' addresses (MAC = 06:0x:<ip in hex>,
# netd's rule), so a poll of a guest that is still booting never waits on ARP
# retransmits (1 s each) or floods ARP broadcasts to every guest.
b_static_neigh() { # PREFIX(a.b.c) FIRST LAST MACPREFIX
	local i a b c
	IFS=. read -r a b c <<<"$1"
	for ((i = $2; i <= $3; i++)); do
		printf 'neigh replace %s.%d lladdr %s:%02x:%02x:%02x:%02x dev %s nud permanent\n' \
			"$1" "$i" "$4" "$a" "$b" "$c" "$i" "$B_BRIDGE"
	done | ip -n "$B_NS" -batch -
}

# Stops the manager (VMs are left running by design), then kills what is left.
# The stack's log is kept, gzipped, as bench/results/logs/<date>-<stack>.log.gz.
b_stack_stop() {
	[ -n "$B_STACK_PID" ] || return 0
	b_kill_wait "$B_STACK_PID" 6
	B_STACK_PID=
	b_kill_vmms "$B_STATE"
	rm -f "/dev/shm/uigniter-$(b_shm_hash "$B_STATE")"
	mkdir -p "$B_RESULTS/logs"
	gzip -c "$B_LOG" >"$B_RESULTS/logs/$(date +%F)-$(basename "$(dirname "$B_LOG")").log.gz" || true
}

b_daemon_pid() { pgrep -P "$B_STACK_PID" -x "$1" | head -n1; }

# b_health: the stack's counters as JSON {commits, restarts, heartbeat_kills}:
# registry write transactions of pool-worker + netd (null on a stack that
# does not report them), daemon restarts, and watchdog kills in the log.
# The daemons publish their commit count each heartbeat (1 s): wait one.
b_health() {
	local kills
	sleep 1.2
	api GET /healthz
	kills=$(grep -c 'no heartbeat for' "$B_LOG" || true)
	jq -c --argjson k "$kills" '{commits: (if .registry_commits then
		(.registry_commits["pool-worker"] + .registry_commits.netd) else null end),
		restarts: (.restarts // null), heartbeat_kills: $k}' <<<"$API_BODY"
}

# ----------------------------------------------------------------- results

b_host_json() {
	local head dirty
	head=$(git -C "$B_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
	dirty=$(git -C "$B_ROOT" status --porcelain 2>/dev/null | grep -c . || true)
	jq -n --arg date "$(date -u +%FT%TZ)" --arg cpu "$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n1)" \
		--arg kernel "$(uname -r)" --arg qemu "$(qemu-system-x86_64 --version | head -n1)" \
		--arg load "$(cut -d' ' -f1-3 /proc/loadavg)" --arg head "$head" --argjson dirty "$dirty" \
		--argjson nproc "$(nproc)" --argjson mem "$(awk '/MemTotal/ {print int($2/1024)}' /proc/meminfo)" \
		'{date:$date, nproc:$nproc, cpu:$cpu, mem_mib:$mem, kernel:$kernel, qemu:$qemu,
		  accel:"tcg", loadavg_at_start:$load, git_head:$head, uncommitted_files:$dirty}'
}

# b_write_result PART JSON → bench/results/<date>-PART.json (host info merged in)
b_write_result() {
	local f
	mkdir -p "$B_RESULTS"
	f=$B_RESULTS/$(date +%F)-$1.json
	jq --argjson host "$B_HOST" --arg part "$1" '{part:$part, host:$host} + .' <<<"$2" >"$f"
	b_log "results: $f"
	jq -c . "$f" >&2
}

b_stats() { "$B_LOADGEN" stats; } # numbers on stdin → stats JSON

# ------------------------------------------------------------------ phases

# Per VM, the registry's event times as epoch ms: id create lease net spawn running
# (the last `create`: a warm slot has one when it is made and one when a run
# takes it; its lease and spawn come before the take)
b_event_times() {
	sqlite3 -separator $'\t' "$B_DB" "
	  select vm_id,
	    max(case when kind='create'  then ms end), max(case when kind='lease' then ms end),
	    max(case when kind='net'     then ms end), max(case when kind='spawn' then ms end),
	    max(case when kind='running' then ms end)
	  from (select vm_id, kind, round((julianday(time) - 2440587.5) * 86400000.0) as ms
	        from events where vm_id is not null)
	  group by vm_id"
}

# b_phases LOADGEN_TSV → JSON {phase: stats} joining the client's timestamps
# (id ip t0_epoch api_ms http_ms ...) with the registry's events. Phases:
#   http_to_create   client sends POST → pool-worker has inserted the row
#                    (HTTP parse, ring 0 hop, registry insert)
#   create_to_running  all of pool-worker's part (cold or warm)
#   create_to_lease  (before the engine redesign: NET_ALLOC over ring 2, netd's
#                    lease row + tap; since: 0, the lease is bound in the
#                    create transaction)
#   lease_to_spawn   the tap (ready from netd's stock, or made by netd on a
#                    kick), then the VMM's fork+exec and the spawn record
#   spawn_to_running VMM API: QMP connect + query-status (qemu) / FC API calls
#   warm_take_to_running  a run that took a warm slot: take → VMM running
#   running_to_reply ring 1 hop, apid reads the row, HTTP answer reaches client
#   http_and_rings   client-observed run latency minus (running - create):
#                    apid, HTTP and the ring hops, i.e. all but pool-worker
#   reply_to_guest_http (boot runs) guest boot until its HTTP server answers
b_phases() {
	local tsv=$1 ev=$B_DIR/events.$$.tsv tmp=$B_DIR/phases.$$ k out='{}'
	b_event_times >"$ev"
	awk -F'\t' -v dir="$tmp" '
		NR == FNR { c[$1] = $2; l[$1] = $3; s[$1] = $5; r[$1] = $6; next }
		$7 == "ok" && ($1 in r) && r[$1] != "" {
			t0 = $3; reply = $3 + $4
			print c[$1] - t0   > (dir ".http_to_create")
			print r[$1] - c[$1] > (dir ".create_to_running")
			if (l[$1] >= c[$1]) { # cold: lease and spawn after the request
				print l[$1] - c[$1] > (dir ".create_to_lease")
				print s[$1] - l[$1] > (dir ".lease_to_spawn")
				print r[$1] - s[$1] > (dir ".spawn_to_running")
			} else {              # warm slot: leased and spawned before it
				print r[$1] - c[$1] > (dir ".warm_take_to_running")
			}
			print reply - r[$1] > (dir ".running_to_reply")
			print $4 - (r[$1] - c[$1]) > (dir ".http_and_rings")
			if ($5 > 0) print $5 - $4 > (dir ".reply_to_guest_http")
		}' "$ev" "$tsv"
	for k in http_to_create create_to_running create_to_lease lease_to_spawn spawn_to_running \
		 warm_take_to_running running_to_reply http_and_rings reply_to_guest_http; do
		[ -f "$tmp.$k" ] || continue
		out=$(jq --arg k "$k" --argjson v "$(b_stats <"$tmp.$k")" '. + {($k): $v}' <<<"$out")
	done
	rm -f "$ev" "$tmp".*
	echo "$out"
}

# --------------------------------------------------------------- footprint

b_rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
b_cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; } # utime+stime

# Host CPU busy fraction between two /proc/stat "cpu" samples (all cores).
b_cpu_sample() { awk '/^cpu / {print $2+$3+$4+$7+$8, $5+$6; exit}' /proc/stat; } # busy idle
b_cpu_busy_pct() { # "busy idle" before, "busy idle" after
	awk -v a="$1" -v b="$2" 'BEGIN { split(a, x, " "); split(b, y, " ");
		db = y[1] - x[1]; di = y[2] - x[2]; printf "%.1f\n", (db + di > 0) ? 100 * db / (db + di) : 0 }'
}

# loadgen inside the namespace (guests' addresses are reachable only there).
b_loadgen() { ip netns exec "$B_NS" "$B_LOADGEN" "$@"; }

# b_wait_pool SIZE SECONDS: waits until GET /pool says SIZE slots are ready.
b_wait_pool() {
	local i
	for ((i = 0; i < $2 * 5; i++)); do
		api GET /pool
		[ "$API_STATUS" = 200 ] && [ "$(jq -r '.ready // 0' <<<"$API_BODY")" -ge "$1" ] && return 0
		sleep 0.2
	done
	return 1
}

# b_fit N PER_VM_MIB → the largest n <= N whose VMMs fit in MemAvailable less
# 2 GiB (a TCG QEMU holds its guest's RAM plus ~100 MiB of translated code).
b_fit() {
	awk -v n="$1" -v per="$2" '/^MemAvailable:/ {
		m = int(($2 / 1024 - 2048) / per); if (m < 0) m = 0; print (m < n ? m : n) }' /proc/meminfo
}
