#!/usr/bin/env bash
# make install into a DESTDIR (PREFIX=/usr) lays out a Debian-like service:
# every file at its path with its mode and nothing else; the config's image
# paths (and image_dirs) point at the installed guest; a second install keeps a changed
# config; `systemd-analyze verify` accepts the unit (against the DESTDIR
# copies, --root) and refuses it when its ExecStart binary is missing; each
# man page renders with `man -l --warnings` without a warning;
# uigniter.yaml(5) documents exactly the keys etc/uigniter.yaml does;
# `make uninstall` removes everything (a changed config stays, and says so).
set -euo pipefail
BUILD=${BUILD:-build}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
fail() { echo "FAIL: $*"; exit 1; }
log() { echo "[$(date +%T)] $*"; }
command -v systemd-analyze >/dev/null || { echo "skip: no systemd-analyze"; exit 77; }
command -v man >/dev/null || { echo "skip: no man (man-db)"; exit 77; }

T=$(mktemp -d /tmp/uigniter-install.XXXXXX)
trap 'rm -rf "$T"' EXIT
D=$T/dest
inst() { make -s BUILD="$BUILD" DESTDIR="$D" PREFIX=/usr "$@" >"$T/make.out" 2>&1 ||
	fail "make $*: $(cat "$T/make.out")"; }

inst install
log "installed into $D"
expected="644 etc/uigniter/uigniter.yaml
755 usr/bin/uictl
644 usr/lib/systemd/system/uigniterd.service
644 usr/lib/tmpfiles.d/uigniter.conf
755 usr/libexec/uigniter/apid
755 usr/libexec/uigniter/netd
755 usr/libexec/uigniter/pool-worker
755 usr/libexec/uigniter/uigniter-vmm-exec
755 usr/sbin/uigniterd
644 usr/share/man/man1/uictl.1
644 usr/share/man/man5/uigniter.yaml.5
644 usr/share/man/man8/uigniterd.8
644 usr/share/uigniter/guest/initrd.cpio.gz
644 usr/share/uigniter/guest/vmlinuz"
got=$(cd "$D" && find . -type f -printf '%m %P\n' | sort -k2)
[ "$got" = "$expected" ] || fail "installed files:
$(diff <(echo "$expected") <(echo "$got"))"
cmp -s "$BUILD/bin/uigniterd" "$D/usr/sbin/uigniterd" || fail "uigniterd is not the built one"
cmp -s build/guest/vmlinuz "$D/usr/share/uigniter/guest/vmlinuz" || fail "guest kernel differs"

# The installed config: the guest at its installed path; otherwise etc/'s.
C=$D/etc/uigniter/uigniter.yaml
grep -qE '^    kernel: /usr/share/uigniter/guest/vmlinuz$' "$C" || fail "config kernel path: $(grep kernel: "$C")"
grep -qE '^    initrd: /usr/share/uigniter/guest/initrd.cpio.gz$' "$C" || fail "config initrd path"
grep -qE '^  image_dirs: \[/var/lib/uigniter/images, /usr/share/uigniter/guest/\]$' "$C" ||
	fail "config image_dirs: $(grep image_dirs: "$C")"
[ "$(diff etc/uigniter.yaml "$C" | grep -c '^>')" = 3 ] || fail "config: more than the 3 paths changed"
# The unit runs the installed binary on the installed config.
U=$D/usr/lib/systemd/system/uigniterd.service
grep -qx 'ExecStart=/usr/sbin/uigniterd --config /etc/uigniter/uigniter.yaml' "$U" || fail "ExecStart: $(grep ExecStart "$U")"
for want in Type=notify KillMode=process 'ExecReload=/bin/kill -HUP $MAINPID'; do
	grep -qxF "$want" "$U" || fail "unit has no $want"
done
grep -qx 'd /run/uigniter 0755 root root -' "$D/usr/lib/tmpfiles.d/uigniter.conf" || fail "tmpfiles: no run_dir"
# uigniterd finds its daemons from sbin/ (../libexec/uigniter) and reads the config.
"$D/usr/sbin/uigniterd" --help >/dev/null || fail "installed uigniterd --help"

# A second install keeps a changed config.
echo "# changed by the admin" >>"$C"
inst install
tail -n1 "$C" | grep -qx '# changed by the admin' || fail "second install overwrote the config"
grep -q "keeping $C" "$T/make.out" || fail "second install did not say it kept the config: $(cat "$T/make.out")"

# systemd-analyze verify on the DESTDIR copies: a root with the installed
# tree, the host's targets and slices (the unit's dependencies), /bin/kill
# (ExecReload); Documentation= is checked against the installed man pages.
V=$T/root
cp -a "$D/." "$V/"
mkdir -p "$V/usr/lib/systemd/system" "$V/usr/bin"
cp /lib/systemd/system/*.target /lib/systemd/system/*.slice "$V/usr/lib/systemd/system/"
cp "$(readlink -f /bin/kill)" "$V/usr/bin/kill"
ln -s usr/bin "$V/bin"
verify() { MANPATH=$D/usr/share/man systemd-analyze verify --root="$V" \
	/usr/lib/systemd/system/uigniterd.service >"$T/verify.out" 2>&1; }
verify || fail "systemd-analyze verify: $(cat "$T/verify.out")"
[ ! -s "$T/verify.out" ] || fail "systemd-analyze verify warned: $(cat "$T/verify.out")"
mv "$V/usr/sbin/uigniterd" "$T/moved"
! verify || fail "systemd-analyze verify passed without the ExecStart binary"
grep -q 'uigniterd' "$T/verify.out" || fail "verify without the binary: $(cat "$T/verify.out")"
log "systemd-analyze verify: ok"

# Man pages render without warnings.
for page in man1/uictl.1 man5/uigniter.yaml.5 man8/uigniterd.8; do
	MANWIDTH=80 man -l --warnings "$D/usr/share/man/$page" >"$T/page" 2>"$T/warn" ||
		fail "man -l $page failed: $(cat "$T/warn")"
	[ ! -s "$T/warn" ] || fail "man -l $page warns: $(cat "$T/warn")"
	grep -q '^NAME' "$T/page" || fail "man -l $page: no NAME section"
done
# uigniter.yaml(5) documents exactly etc/uigniter.yaml's keys (.TP / .B KEY).
diff <(tools/config-keys etc/uigniter.yaml) \
	<(awk '/^\.TP/ { getline; if ($1 == ".B" && $2 !~ /^\//) print $2 }' man/uigniter.yaml.5 | sort -u) \
	>"$T/keys" || fail "uigniter.yaml(5) and etc/uigniter.yaml document other keys (< yaml, > man):
$(cat "$T/keys")"
[ "$(tools/config-keys etc/uigniter.yaml | wc -l)" -gt 30 ] || fail "config-keys found too few keys"

# Uninstall: all gone but the changed config, which it names.
inst uninstall
grep -q "keeping $C: it was changed" "$T/make.out" || fail "uninstall: $(cat "$T/make.out")"
left=$(cd "$D" && find . -type f -printf '%P\n')
[ "$left" = etc/uigniter/uigniter.yaml ] || fail "uninstall left: $left"
# An unchanged config goes too: nothing left at all.
rm "$C"
inst install
inst uninstall
left=$(cd "$D" && find . -type f -printf '%P\n')
[ -z "$left" ] || fail "uninstall left: $left"
[ ! -e "$D/etc/uigniter" ] && [ ! -e "$D/usr/share/uigniter" ] && [ ! -e "$D/usr/libexec/uigniter" ] ||
	fail "uninstall left directories: $(cd "$D" && find . -type d)"
log "PASS $(basename "$0")"
