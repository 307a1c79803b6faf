# osv_image.sh — sourced by the OSv system tests (test_osv*.sh), before
# lib.sh: the user's OSv image from the environment (README "OSv images"),
# or a skip (77) without one:
#   UIGNITER_OSV_KERNEL     OSv's loader-stripped.elf (kernel.elf)
#   UIGNITER_OSV_DISK       its disk (usr.img qcow2, or a raw copy)
#   UIGNITER_OSV_CMD        the app's command, words split on spaces
#   UIGNITER_OSV_HTTP_PORT  the port its app answers HTTP on (default 8000)
# Sets K, D, PORT, OSV_CMD (the command's words); after lib.sh,
# osv_image_copy puts the image under the test's directory (vmm.image_dirs)
# and sets fmt (raw|qcow2, by qcow2's magic) and cmd (the words as a YAML
# flow list's items).
K=${UIGNITER_OSV_KERNEL:-} D=${UIGNITER_OSV_DISK:-}
if [ -z "$K" ] || [ -z "$D" ]; then
	echo "skip: set UIGNITER_OSV_KERNEL and UIGNITER_OSV_DISK to an OSv image (README \"OSv images\")"
	exit 77
fi
[ -r "$K" ] && [ -r "$D" ] || { echo "FAIL: $K or $D not readable"; exit 1; }
PORT=${UIGNITER_OSV_HTTP_PORT:-8000}
OSV_CMD=${UIGNITER_OSV_CMD:-/libhttpserver-api.so}

osv_image_copy() {
	local w
	fmt=raw
	[ "$(head -c 4 "$D" | od -An -tx1 | tr -d ' \n')" = 514649fb ] && fmt=qcow2 # QFI\xfb
	# Image files must lie under vmm.image_dirs: a copy in the test's own
	# directory (sparse: a raw OSv disk is mostly holes).
	mkdir -p "$ST_DIR/osv"
	cp --sparse=always "$K" "$ST_DIR/osv/kernel.elf" && cp --sparse=always "$D" "$ST_DIR/osv/disk" ||
		st_fail "cannot copy the OSv image into $ST_DIR/osv"
	K=$ST_DIR/osv/kernel.elf D=$ST_DIR/osv/disk
	cmd=
	for w in $OSV_CMD; do cmd="$cmd${cmd:+, }\"$w\""; done
}
