#!/usr/bin/env bash
# part-libvirt.sh — part 3: uigniter side by side with libvirt (Debian 12's
# libvirtd, qemu driver, TCG: <domain type='qemu'>), in one network namespace
# and on one bridge (netd's), with the same QEMU binary, the same machine type
# (microvm: libvirt 9.0 accepts it with a virtio-mmio NIC and no USB
# controller), the same guest kernel + initrd bytes, the same kernel command
# line (copied from a uigniter VM's registry row), 1 vCPU and the same memory.
#
#   A = POST /vm/run (unix socket)       B = virsh create DOMAIN.xml
#   time from the request to the guest's first HTTP answer ("hello from <id>"),
#   A/B interleaved (ABBA...), the ratio A/B per pair; then the stops:
#   A = POST /vm/{id}/stop (graceful: ACPI power button, returns after the VMM
#   exited and its tap is gone); B = virsh shutdown + wait until the domain is
#   gone (graceful), or virsh destroy (SIGTERM/SIGKILL; alternate pairs).
#
# Environment: BENCH_LV_PAIRS (6 single-VM pairs), BENCH_LV_N (20 VMs at once),
# BENCH_LV_ROUNDS (2 rounds of N, A/B and B/A), BENCH_MEM_MIB (80).
. "$(dirname "$0")/lib.sh"

PAIRS=${BENCH_LV_PAIRS:-6}
NBIG=${BENCH_LV_N:-20}
ROUNDS=${BENCH_LV_ROUNDS:-2}
MEM=${BENCH_MEM_MIB:-80}
LV=$B_DIR/libvirt
LV_PIDS=()
URI=
PREFIX=uigb$$-lv

b_need_root
command -v libvirtd >/dev/null && command -v virsh >/dev/null ||
	b_die "libvirt is not installed (bench/run installs libvirt-daemon-system libvirt-clients)"
b_snapshot_bins
b_netns
B_HOST=$(b_host_json)

# ---------------------------------------------------------------- libvirt

b_libvirt_cleanup() {
	local d p
	if [ -n "$URI" ]; then
		for d in $(virsh -q -c "$URI" list --name 2>/dev/null | grep "^$PREFIX" || true); do
			virsh -q -c "$URI" destroy "$d" >/dev/null 2>&1
		done
	fi
	for p in "${LV_PIDS[@]}"; do b_kill_wait "$p" 5; done
	rm -f /var/log/libvirt/qemu/"$PREFIX"-*.log
}

# libvirtd (and the virtlogd it needs) in our namespace, so the taps it makes
# land on netd's bridge; its sockets in our temp dir, nothing else changed.
lv_start() {
	mkdir -p "$LV/sock" "$LV/guest"
	cat >"$LV/libvirtd.conf" <<EOF
unix_sock_dir = "$LV/sock"
listen_tls = 0
listen_tcp = 0
log_outputs = "3:file:$LV/libvirtd.log"
EOF
	setsid ip netns exec "$B_NS" virtlogd -p "$LV/virtlogd.pid" >>"$LV/virtlogd.out" 2>&1 </dev/null &
	LV_PIDS+=($!)
	sleep 0.3
	setsid ip netns exec "$B_NS" libvirtd -f "$LV/libvirtd.conf" -p "$LV/libvirtd.pid" >>"$LV/libvirtd.out" 2>&1 </dev/null &
	LV_PIDS+=($!)
	URI="qemu:///system?socket=$LV/sock/libvirt-sock"
	for _ in $(seq 100); do
		virsh -q -c "$URI" version >/dev/null 2>&1 && break
		kill -0 "${LV_PIDS[1]}" 2>/dev/null || b_die "libvirtd exited: $(tail -5 "$LV/libvirtd.out")"
		sleep 0.2
	done
	virsh -q -c "$URI" version >/dev/null || b_die "libvirtd did not answer"
	# Copies of the same bytes: libvirt's DAC driver chowns the files it boots.
	cp "$B_GUEST/vmlinuz" "$B_GUEST/initrd.cpio.gz" "$LV/guest/"
	chmod 0755 "$LV" "$LV/guest"
	chmod 0644 "$LV/guest/"*
	b_static_neigh 172.31.2 10 250 06:01
	b_log "libvirtd up ($(libvirtd --version | head -n1))"
}

# lv_xml INDEX → writes $LV/INDEX.xml for guest 172.31.2.(10+INDEX), prints the
# targets line "name ip xml" for loadgen.
lv_xml() {
	local i=$1 name=$PREFIX-$1 ip=172.31.2.$((10 + $1)) args
	args=$(sed -e "s|ip=[^ ]*|ip=$ip::172.31.0.1:255.255.252.0::eth0:off|" \
		-e "s|uigniter.id=[^ ]*|uigniter.id=$name|" <<<"$BOOT_ARGS")
	cat >"$LV/$i.xml" <<EOF
<domain type='qemu'>
  <name>$name</name>
  <memory unit='MiB'>$MEM</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='microvm'>hvm</type>
    <kernel>$LV/guest/vmlinuz</kernel>
    <initrd>$LV/guest/initrd.cpio.gz</initrd>
    <cmdline>$args</cmdline>
  </os>
  <features><acpi/></features>
  <cpu mode='maximum'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>$(command -v qemu-system-x86_64)</emulator>
    <controller type='usb' model='none'/>
    <interface type='bridge'>
      <source bridge='$B_BRIDGE'/>
      <mac address='$(printf '06:01:ac:1f:02:%02x' $((10 + i)))'/>
      <model type='virtio'/>
      <address type='virtio-mmio'/>
    </interface>
    <serial type='file'><source path='$LV/$i.console'/></serial>
    <memballoon model='none'/>
  </devices>
</domain>
EOF
	printf '%s %s %s\n' "$name" "$ip" "$LV/$i.xml"
}

# Graceful libvirt stop that returns when the domain is gone (virsh shutdown
# only asks the guest): waits for the QEMU pid, then for libvirt's clean-up.
# Appends "name asked exited gone" (ms after the start) to lv-shutdown.tsv.
cat >"$B_DIR/lv-shutdown" <<EOF
#!/bin/sh
t0=\$(date +%s%N)
pid=\$(cat "/run/libvirt/qemu/\$2.pid") || exit 1
virsh -q -c "\$1" shutdown "\$2" >/dev/null || exit 1
t1=\$(date +%s%N)
tail --pid="\$pid" -s 0.01 -f /dev/null
t2=\$(date +%s%N)
while virsh -q -c "\$1" domid "\$2" >/dev/null 2>&1; do sleep 0.01; done
t3=\$(date +%s%N)
echo "\$2 \$(( (t1 - t0) / 1000000 )) \$(( (t2 - t0) / 1000000 )) \$(( (t3 - t0) / 1000000 ))" >>"$B_DIR/lv-shutdown.tsv"
EOF
chmod +x "$B_DIR/lv-shutdown"

# ------------------------------------------------------------------ sides

# side_a TAG N → $B_DIR/TAG.{boot,stop}.json: N VMs at once through the API.
side_a() {
	local tag=$1 n=$2
	b_loadgen boot --unix "$B_SOCK" --image hello -n "$n" -c "$n" --poll-ms 20 \
		--out "$B_DIR/$tag.tsv" >"$B_DIR/$tag.boot.json" || b_log "$tag: errors"
	awk -F'\t' '$1 != "-" {print $1}' "$B_DIR/$tag.tsv" >"$B_DIR/$tag.ids"
	b_loadgen stop --unix "$B_SOCK" --targets "$B_DIR/$tag.ids" -c "$n" \
		>"$B_DIR/$tag.stop.json" || b_log "$tag: stop errors"
}

# side_b TAG N FIRST STOP(shutdown|destroy) → the same with virsh.
side_b() {
	local tag=$1 n=$2 first=$3 how=$4 i stopcmd
	: >"$B_DIR/$tag.targets"
	for ((i = first; i < first + n; i++)); do lv_xml "$i" >>"$B_DIR/$tag.targets"; done
	b_loadgen boot --cmd "virsh -q -c $URI create {arg}" --targets "$B_DIR/$tag.targets" \
		-c "$n" --poll-ms 20 --out "$B_DIR/$tag.tsv" >"$B_DIR/$tag.boot.json" || b_log "$tag: errors"
	if [ "$how" = destroy ]; then stopcmd="virsh -q -c $URI destroy {id}"
	else stopcmd="$B_DIR/lv-shutdown $URI {id}"; fi
	b_loadgen stop --cmd "$stopcmd" --targets "$B_DIR/$tag.targets" -c "$n" \
		>"$B_DIR/$tag.stop.json" || b_log "$tag: stop errors"
	[ -z "$(virsh -q -c "$URI" list --name | grep "^$PREFIX" || true)" ] ||
		b_log "$tag: domains left after the stop"
}

# pair_json TAG_A TAG_B ORDER STOP_METHOD → one JSON object
pair_json() {
	jq -n --slurpfile ab "$B_DIR/$1.boot.json" --slurpfile ast "$B_DIR/$1.stop.json" \
		--slurpfile bb "$B_DIR/$2.boot.json" --slurpfile bst "$B_DIR/$2.stop.json" \
		--arg order "$3" --arg how "$4" '
		def r(a; b): if (a|type) == "number" and (b|type) == "number" and b > 0
			then ((a / b) * 1000 | round) / 1000 else null end;
		{order:$order, libvirt_stop:$how,
		 uigniter:{request_ms:$ab[0].api_ms.mean, http_ms:$ab[0].http_ms.mean,
			   http_p50_ms:$ab[0].http_ms.p50, all_answered_ms:$ab[0].wall_ms,
			   stop_ms:$ast[0].stop_ms.mean, errors:($ab[0].errors + $ast[0].errors)},
		 libvirt:{request_ms:$bb[0].api_ms.mean, http_ms:$bb[0].http_ms.mean,
			  http_p50_ms:$bb[0].http_ms.p50, all_answered_ms:$bb[0].wall_ms,
			  stop_ms:$bst[0].stop_ms.mean, errors:($bb[0].errors + $bst[0].errors)},
		 ratio_uigniter_over_libvirt:{
			request:r($ab[0].api_ms.mean; $bb[0].api_ms.mean),
			http:r($ab[0].http_ms.mean; $bb[0].http_ms.mean),
			all_answered:r($ab[0].wall_ms; $bb[0].wall_ms),
			stop:r($ast[0].stop_ms.mean; $bst[0].stop_ms.mean)}}'
}

# ------------------------------------------------------------------- run

b_config libvirt >/dev/null
b_stack_start libvirt
lv_start

# Warm-up (not counted): one VM each way; its registry row gives the exact
# kernel command line uigniter uses, which the libvirt guests then get too.
b_loadgen boot --unix "$B_SOCK" --image hello -n 1 -c 1 --out "$B_DIR/warm.tsv" >/dev/null
BOOT_ARGS=$(sqlite3 "$B_DB" "select boot_args from vms order by created_at limit 1")
QEMU_A=$(tr '\0' ' ' <"/proc/$(sqlite3 "$B_DB" "select vmm_pid from vms order by created_at limit 1")/cmdline")
cut -f1 "$B_DIR/warm.tsv" >"$B_DIR/warm.ids"
b_loadgen stop --unix "$B_SOCK" --targets "$B_DIR/warm.ids" -c 1 >/dev/null
side_b warm-b 1 0 destroy
QEMU_B=$(sed -n '/^\/usr\/bin\/qemu-system/,/-msg/p' "/var/log/libvirt/qemu/$PREFIX-0.log" | tr -d '\\\n' | tr -s ' ')
b_log "kernel command line: $BOOT_ARGS"

pairs='[]'
for ((p = 0; p < PAIRS; p++)); do
	how=shutdown; [ $((p % 2)) -eq 1 ] && how=destroy
	if [ $((p % 2)) -eq 0 ]; then order=AB; side_a "s$p-a" 1; side_b "s$p-b" 1 $((1 + p)) "$how"
	else order=BA; side_b "s$p-b" 1 $((1 + p)) "$how"; side_a "s$p-a" 1; fi
	j=$(pair_json "s$p-a" "s$p-b" "$order" "$how")
	b_log "single pair $p: $(jq -c '.ratio_uigniter_over_libvirt' <<<"$j") $(jq -c '[.uigniter.http_ms, .libvirt.http_ms]' <<<"$j")"
	pairs=$(jq --argjson j "$j" '. + [$j]' <<<"$pairs")
done

rounds='[]'
for ((k = 0; k < ROUNDS; k++)); do
	if [ $((k % 2)) -eq 0 ]; then order=AB; side_a "m$k-a" "$NBIG"; side_b "m$k-b" "$NBIG" 100 shutdown
	else order=BA; side_b "m$k-b" "$NBIG" 100 shutdown; side_a "m$k-a" "$NBIG"; fi
	j=$(pair_json "m$k-a" "m$k-b" "$order" shutdown)
	j=$(jq --slurpfile a "$B_DIR/m$k-a.boot.json" --slurpfile b "$B_DIR/m$k-b.boot.json" \
		'. + {uigniter_boot:$a[0], libvirt_boot:$b[0]}' <<<"$j")
	b_log "$NBIG-VM round $k: $(jq -c '.ratio_uigniter_over_libvirt' <<<"$j")"
	rounds=$(jq --argjson j "$j" '. + [$j]' <<<"$rounds")
done

b_libvirt_cleanup
b_stack_stop

# Summaries over the single pairs: stats of each side and of the per-pair ratios.
summ() { jq -r "$1" <<<"$pairs" | b_stats; }
summary=$(jq -n \
	--argjson a_http "$(summ '.[].uigniter.http_ms')" --argjson b_http "$(summ '.[].libvirt.http_ms')" \
	--argjson r_http "$(summ '.[].ratio_uigniter_over_libvirt.http')" \
	--argjson a_req "$(summ '.[].uigniter.request_ms')" --argjson b_req "$(summ '.[].libvirt.request_ms')" \
	--argjson r_req "$(summ '.[].ratio_uigniter_over_libvirt.request')" \
	--argjson a_stop "$(summ '.[].uigniter.stop_ms')" \
	--argjson b_shut "$(summ '.[] | select(.libvirt_stop=="shutdown") | .libvirt.stop_ms')" \
	--argjson b_dest "$(summ '.[] | select(.libvirt_stop=="destroy") | .libvirt.stop_ms')" \
	--argjson r_shut "$(summ '.[] | select(.libvirt_stop=="shutdown") | .ratio_uigniter_over_libvirt.stop')" \
	--argjson r_dest "$(summ '.[] | select(.libvirt_stop=="destroy") | .ratio_uigniter_over_libvirt.stop')" \
	'{uigniter_http_ms:$a_http, libvirt_http_ms:$b_http, ratio_http:$r_http,
	  uigniter_request_ms:$a_req, libvirt_request_ms:$b_req, ratio_request:$r_req,
	  uigniter_stop_ms:$a_stop, libvirt_shutdown_ms:$b_shut, libvirt_destroy_ms:$b_dest,
	  ratio_stop_vs_shutdown:$r_shut, ratio_stop_vs_destroy:$r_dest}')

# Where libvirt's graceful stop spends its time: single VMs (index < 100) and
# the N-at-once rounds (index >= 100) apart.
shut_breakdown() { # awk filter on the domain index
	awk -v sel="$1" '{ i = $1; sub(/.*-/, "", i); if ((sel == "single") == (i + 0 < 100)) print }' \
		"$B_DIR/lv-shutdown.tsv" >"$B_DIR/lv-shutdown.$1"
	jq -n --argjson a "$(awk '{print $2}' "$B_DIR/lv-shutdown.$1" | b_stats)" \
		--argjson e "$(awk '{print $3 - $2}' "$B_DIR/lv-shutdown.$1" | b_stats)" \
		--argjson g "$(awk '{print $4 - $3}' "$B_DIR/lv-shutdown.$1" | b_stats)" \
		'{virsh_shutdown_returns:$a, then_qemu_exits:$e, then_domain_gone:$g}'
}
if [ -s "$B_DIR/lv-shutdown.tsv" ]; then
	summary=$(jq --argjson s "$(shut_breakdown single)" '. + {libvirt_shutdown_breakdown_ms:$s}' <<<"$summary")
	rounds=$(jq --argjson s "$(shut_breakdown many)" 'map(. + {libvirt_shutdown_breakdown_ms_all_rounds:$s})' <<<"$rounds")
fi

b_write_result libvirt "$(jq -n --argjson pairs "$pairs" --argjson rounds "$rounds" \
	--argjson summary "$summary" --arg args "$BOOT_ARGS" --arg qa "$QEMU_A" --arg qb "$QEMU_B" \
	--arg lv "$(libvirtd --version | head -n1)" --argjson mem "$MEM" --argjson n "$NBIG" \
	'{config:{machine:"microvm (both sides)", accel:"tcg", mem_mib:$mem, vcpus:1, libvirt:$lv,
	   kernel_cmdline:$args, qemu_cmdline_uigniter:$qa, qemu_cmdline_libvirt:$qb,
	   big_round_vms:$n, poll_interval_ms:20},
	  single_vm:{summary:$summary, pairs:$pairs}, many_vms:$rounds}')"
