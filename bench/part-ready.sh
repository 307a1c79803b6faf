#!/usr/bin/env bash
# part-ready.sh — request → ready ("wait": "ready": the 201 comes once the
# image's ready rule holds) with real guests (QEMU, TCG here), for two
# images, cold and from a warm pool (pool.size 2, prepared), one at a time:
#   hello      the demo guest, ready_port 80 (busybox httpd);
#   memcached  an app image from a manifest (uictl image build: Debian's
#              /usr/bin/memcached with the libraries its loader resolves),
#              ready: {port: 11211}.
# Each run: POST /vm/run {"image":…,"wait":"ready"}, timed by curl (request
# → 201), and the VM's own boot_ms (the manager's request → ready); then the
# VM is stopped and, with a pool, the next run waits for the pool to be full
# again. With UIGNITER_OSV_KERNEL/_DISK/_CMD/_HTTP_PORT set, an OSv image
# too (tests/system/test_osv.sh's variables).
# Environment: BENCH_READY_N (runs per image and way, 8); BENCH_READY_IMAGES
# (the images to measure, words of hello memcached osv; default all there
# are); BENCH_READY_WAYS (cold warm; ahead too: a one-slot pool booted ahead).
. "$(dirname "$0")/lib.sh"

N=${BENCH_READY_N:-8}
UICTL=$B_ROOT/build/bin/uictl
b_need_root
[ -x /usr/bin/memcached ] || b_die "memcached not installed (tools/install-deps)"
B_HOST=$(b_host_json)
b_snapshot_bins
b_netns

mkdir -p "$B_DIR/mc"
cat >"$B_DIR/mc/image.yaml" <<'YAML'
name: memcached
binaries: [/usr/bin/memcached]
cmd: [/usr/bin/memcached, -u, root, -p, "11211", -U, "0", -m, "32"]
ready: {port: 11211}
mem_mib: 128
YAML

images=(hello memcached)
osv=
if [ -n "${UIGNITER_OSV_KERNEL:-}" ] && [ -n "${UIGNITER_OSV_DISK:-}" ]; then
	images+=(osv) osv=1
	# as tests/system/test_osv.sh: the format from the disk's magic, the
	# command's words split on spaces, each one YAML string
	osv_fmt=raw osv_cmd=
	[ "$(head -c 4 "$UIGNITER_OSV_DISK" | od -An -tx1 | tr -d ' \n')" = 514649fb ] && osv_fmt=qcow2 # QFI\xfb
	for w in ${UIGNITER_OSV_CMD:-/libhttpserver-api.so}; do osv_cmd="$osv_cmd${osv_cmd:+, }\"$w\""; done
fi
# osv_image CONF: the OSv image copied under the stack's image directory
# (<state_dir>/images: vmm.image_dirs) and appended to CONF's images.
osv_image() {
	local d=$B_DIR/$name/state/images/osv
	mkdir -p "$d"
	cp --sparse=always "$UIGNITER_OSV_KERNEL" "$d/kernel.elf" &&
		cp --sparse=always "$UIGNITER_OSV_DISK" "$d/disk" || b_die "cannot copy the OSv image to $d"
	cat >>"$1" <<YAML
  osv:
    kind: osv
    kernel: $d/kernel.elf
    disk: $d/disk
    disk_format: $osv_fmt
    rootfs: ${UIGNITER_OSV_ROOTFS:-rofs}
    cmd: [$osv_cmd]
    mem_mib: 128
    ready_port: ${UIGNITER_OSV_HTTP_PORT:-8000}
YAML
}

if [ -n "${BENCH_READY_IMAGES:-}" ]; then
	for img in $BENCH_READY_IMAGES; do
		[[ " ${images[*]} " == *" $img "* ]] || b_die "BENCH_READY_IMAGES: no image '$img' (${images[*]})"
	done
	images=($BENCH_READY_IMAGES)
fi
WAYS=${BENCH_READY_WAYS:-cold warm}
for way in $WAYS; do
	case $way in cold|warm|ahead) ;; *) b_die "BENCH_READY_WAYS: '$way' is not cold, warm or ahead" ;; esac
done

declare -A json
for img in "${images[@]}"; do
	for way in $WAYS; do
		name=$img-$way size=0 boot=prepared
		[ $way = warm ] && size=2
		[ $way = ahead ] && size=1 boot=ahead # one slot: at most two guests run
		conf=$(b_config "$name" ready_port=80 mem=128)
		[ -z "$osv" ] || osv_image "$conf"
		"$UICTL" --config "$conf" image build "$B_DIR/mc" >/dev/null || b_die "memcached image"
		[ $way = cold ] || conf=$(b_config "$name" ready_port=80 mem=128 pool=$size warm=$img boot=$boot)
		[ -z "$osv" ] || [ $way = cold ] || osv_image "$conf"
		b_stack_start "$name"
		: >"$B_DIR/$name.curl.ms"; : >"$B_DIR/$name.boot.ms"
		for ((i = 0; i < N; i++)); do
			[ "$size" -gt 0 ] && { b_wait_pool "$size" 300 || b_log "$name: pool not filled"; }
			t0=$(date +%s%N)
			api POST /vm/run "{\"image\":\"$img\",\"wait\":\"ready\"}"
			t1=$(date +%s%N)
			[ "$API_STATUS" = 201 ] || { b_log "$name: run $i: $API_STATUS $API_BODY"; continue; }
			echo $(( (t1 - t0) / 1000000 )) >>"$B_DIR/$name.curl.ms"
			jq -r .boot_ms <<<"$API_BODY" >>"$B_DIR/$name.boot.ms"
			api POST "/vm/$(jq -r .id <<<"$API_BODY")/stop"
		done
		api GET /pool
		pool=$API_BODY
		b_stack_stop
		c=$(b_stats <"$B_DIR/$name.curl.ms") b=$(b_stats <"$B_DIR/$name.boot.ms")
		b_log "$name: request → ready (curl) $(jq -c '{n, p50, p99}' <<<"$c"), boot_ms $(jq -c '{p50, p99}' <<<"$b")"
		json[$name]=$(jq -nc --argjson c "$c" --argjson b "$b" --argjson p "$pool" --argjson s "$size" \
			'{pool_size: $s, request_to_ready_ms: $c, boot_ms: $b, pool_after: $p}')
	done
done

all=$(for k in "${!json[@]}"; do jq -nc --arg k "$k" --argjson v "${json[$k]}" '{($k): $v}'; done | jq -sc add)
b_write_result ready "$(jq -nc --argjson r "$all" --argjson n "$N" \
	--arg cmd "BENCH_READY_N=$N BENCH_READY_IMAGES='${images[*]}' BENCH_READY_WAYS='$WAYS' bench/run ready" \
	--arg osv "${osv:+$UIGNITER_OSV_KERNEL $UIGNITER_OSV_DISK cmd: ${UIGNITER_OSV_CMD:-/libhttpserver-api.so}}" \
	'{config: {driver: "qemu (TCG)", runs: $n, wait: "ready", osv_image: $osv}, results: $r, cmd: $cmd}')"
