#!/usr/bin/env bash
# run-tests.sh [unit|system|all] — runs the unit test binaries in
# $BUILD/tests and the system tests in tests/system/*.sh, each in its own
# process with a timeout. Exit 77 from a test means "skipped". Ends with the
# line "N passed, N failed, N skipped"; exits non-zero if anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export BUILD
what=${1:-all}
passed=0 failed=0 skipped=0
failures=()

count_unit() { # $1 = output of a unit test binary (t.h harness)
	local line
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' <<<"$1" | tail -n1)
	[ -n "$line" ] || return 1
	read -r p _ f _ s _ <<<"${line//,/}"
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
}

run_unit() {
	local t out rc
	for t in "$BUILD"/tests/test_*; do
		[ -x "$t" ] || continue
		echo "== unit: $(basename "$t")"
		out=$(timeout 600 "$t" 2>&1); rc=$?
		echo "$out" | sed 's/^/   /'
		if ! count_unit "$out"; then
			echo "   (no summary line: exit $rc)"
			failed=$((failed + 1)); failures+=("$(basename "$t")")
		elif [ $rc -ne 0 ]; then
			failures+=("$(basename "$t")")
		fi
	done
}

run_system() {
	local t rc start
	for t in tests/system/test_*.sh; do
		[ -f "$t" ] || continue
		echo "== system: $(basename "$t")"
		start=$(date +%s)
		timeout -k 10 900 bash "$t" 2>&1 | sed 's/^/   /'
		rc=${PIPESTATUS[0]}
		case $rc in
		0) passed=$((passed + 1)); echo "   ok ($(( $(date +%s) - start )) s)" ;;
		77) skipped=$((skipped + 1)); echo "   skipped" ;;
		*) failed=$((failed + 1)); failures+=("$(basename "$t")"); echo "   FAIL (exit $rc)" ;;
		esac
	done
}

case $what in
unit) run_unit ;;
system) run_system ;;
all) run_unit; run_system ;;
*) echo "usage: $0 [unit|system|all]" >&2; exit 2 ;;
esac

[ ${#failures[@]} -gt 0 ] && echo "failed: ${failures[*]}"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
