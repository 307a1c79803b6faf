#!/usr/bin/env bash
# `uictl image build` without booting anything: each kind of bad manifest
# gives its exact "file:line:col" error, exit 1, and writes nothing under
# state_dir/images; a good one builds reproducibly (two state_dirs, cmp);
# a name uigniter.yaml already has is refused naming both files. The stack
# lists images_dir's images at start (GET /images) and picks a new one up on
# SIGHUP to uigniterd.
. "$(dirname "$0")/lib.sh"

st_write_config
U=$BIN/uictl
M=$ST_DIR/m
IMG=$ST_DIR/state/images

# bad NAME 'manifest text' 'expected stderr'
bad() {
	local out rc=0
	rm -rf "$M"; mkdir -p "$M"
	printf '%s\n' "$2" >"$M/image.yaml"
	out=$("$U" --config "$ST_CONF" image build "$M" 2>&1) || rc=$?
	[ "$rc" = 1 ] || st_fail "$1: exit $rc, expected 1 ($out)"
	[ "$out" = "$3" ] || st_fail "$1: said: $out
expected: $3"
	[ ! -e "$IMG" ] || st_fail "$1: wrote $(find "$IMG")"
}
bad "unknown key" $'name: a\ncmd: [/bin/true]\nbogus: 1' \
	"uictl: $M/image.yaml:3:1: unknown key \"bogus\" at top level (expected one of: name, kind, files, binaries, cmd, shell, env, ports, ready, vcpus, mem_mib, loader, disk, disk_format, rootfs)"
bad "wrong type" $'name: a\ncmd: /bin/true' \
	"uictl: $M/image.yaml:2:6: cmd: expected a list, found a scalar"
bad "missing binary" $'name: a\nbinaries: [/nonexistent/app]\ncmd: [/nonexistent/app]' \
	"uictl: $M/image.yaml:2:12: binaries[0]: /nonexistent/app: does not exist"
bad "missing file" $'name: a\nfiles: {/etc/x.conf: x.conf}\ncmd: [x]' \
	"uictl: $M/image.yaml:2:22: files[/etc/x.conf]: $M/x.conf: does not exist"
bad "missing cmd" $'name: a\nbinaries: [/usr/bin/memcached]' \
	"uictl: $M/image.yaml:1:1: \"cmd\" is required (the app's argv)"
bad "bad ready" $'name: a\ncmd: [x]\nready: {socket: 1}' \
	"uictl: $M/image.yaml:3:9: unknown key \"socket\" in ready (expected one of: port, pattern)"
bad "osv without loader" $'name: a\nkind: osv\ncmd: [x]' \
	"uictl: $M/image.yaml:1:1: \"loader\" is required for kind: osv"
bad "duplicate name" $'name: hello\ncmd: [/bin/true]' \
	"uictl: $M/image.yaml: image \"hello\" is already defined in $ST_CONF"
st_log "bad manifests: exact errors, nothing written"

# Reproducible: the same inputs in another state_dir give the same bytes.
rm -rf "$M"; mkdir -p "$M/conf/sub"
echo "one" >"$M/conf/a.txt"; echo "two" >"$M/conf/sub/b.txt"; ln -s a.txt "$M/conf/link"
cat >"$M/image.yaml" <<'YAML'
name: tree
files: {/srv/conf: conf}
binaries: [/bin/busybox]
cmd: [/bin/busybox, sleep, "1000"]
ready: null
YAML
"$U" --config "$ST_CONF" image build "$M" >"$ST_DIR/b1" || st_fail "build 1"
sed "s|^state_dir: .*|state_dir: $ST_DIR/state2|" "$ST_CONF" >"$ST_DIR/other.yaml"
"$U" --config "$ST_DIR/other.yaml" image build "$M" >"$ST_DIR/b2" || st_fail "build 2"
h1=$(ls "$IMG/tree") h2=$(ls "$ST_DIR/state2/images/tree")
[ "$h1" = "$h2" ] || st_fail "hashes differ: $h1 $h2"
cmp "$IMG/tree/$h1/initrd.img" "$ST_DIR/state2/images/tree/$h2/initrd.img" || st_fail "initrd differs"
"$U" --config "$ST_CONF" image build "$M" | grep -q "(up to date)" || st_fail "no cache hit"
# the app layer holds the tree, the link as a link, the argv NUL-separated
mkdir "$ST_DIR/x"
lay=$ST_DIR/x
base=$(stat -c %s "$GUEST/initrd.cpio.gz")
tail -c +$((base + (4 - base % 4) % 4 + 1)) "$IMG/tree/$h1/initrd.img" >"$ST_DIR/layer.cpio"
(cd "$lay" && cpio -idm --quiet <"$ST_DIR/layer.cpio") || st_fail "layer is not a cpio"
[ "$(cat "$lay/srv/conf/sub/b.txt")" = two ] || st_fail "tree not copied"
[ "$(readlink "$lay/srv/conf/link")" = a.txt ] || st_fail "symlink not kept"
[ "$(tr '\0' ' ' <"$lay/etc/uigniter/cmd")" = "/bin/busybox sleep 1000 " ] || st_fail "cmd file"
grep -q '^  ready_pattern: ""$' "$IMG/tree.yaml" || st_fail "ready: null not registered: $(cat "$IMG/tree.yaml")"
st_log "reproducible: $h1"

st_start
api GET /images
st_expect 200 "GET /images"
[ "$(jq -c '[.images[] | [.name, .source, .ready]]' <<<"$API_BODY")" = \
  "[[\"hello\",\"$ST_CONF\",{\"pattern\":\"UIGNITER-READY\"}],[\"tree\",\"$IMG/tree.yaml\",null]]" ] ||
	st_fail "GET /images at start: $API_BODY"

# A new image while running: registered, then SIGHUP.
rm -rf "$M"; mkdir -p "$M"
printf 'name: late\ncmd: [/bin/true]\nready: {port: 7}\n' >"$M/image.yaml"
"$U" --config "$ST_CONF" image build "$M" >/dev/null || st_fail "build late"
kill -HUP "$ST_PID"
for _ in $(seq 100); do
	api GET /images
	[ "$(jq -c '.images[] | select(.name == "late") | .ready' <<<"$API_BODY")" = '{"port":7}' ] && break
	sleep 0.1
done
[ "$(jq -c '.images[] | select(.name == "late") | .ready' <<<"$API_BODY")" = '{"port":7}' ] ||
	st_fail "late image not listed after SIGHUP: $API_BODY"
# and pool-worker has it too: a run of it is not an unknown image
api POST /vm/run '{"image":"nope"}'
st_expect 404 "unknown image"
"$U" --config "$ST_CONF" image ls | grep -q "^late .*port 7 .*$IMG/late.yaml$" || st_fail "image ls: $("$U" --config "$ST_CONF" image ls)"
st_pass
