#!/bin/bash
# test_openapi_check.sh — the OpenAPI check itself: docs/openapi.yaml is a
# valid OpenAPI 3.1 document whose schemas are valid JSON Schema, and
# tests/openapi/check.py passes answers the spec describes and fails each
# kind of drift (undocumented route, method, status, field, content type,
# and a 2xx to a request body or query the spec does not allow). Every
# system test's answers are checked by lib.sh's st_pass; this test shows
# the check can fail.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SPEC=$ROOT/docs/openapi.yaml
CHECK=$ROOT/tests/openapi/check.py
D=$(mktemp -d /tmp/uigniter-openapi.XXXXXX)
trap 'rm -rf "$D"' EXIT
fail() { echo "FAIL test_openapi_check.sh: $*" >&2; exit 1; }

/usr/bin/python3 - "$SPEC" <<'PY' || fail "docs/openapi.yaml is not a valid spec"
import sys, yaml, jsonschema
doc = yaml.safe_load(open(sys.argv[1]))
assert str(doc["openapi"]).startswith("3.1"), "openapi: 3.1.x"
for k in ("info", "paths", "components"):
    assert k in doc, k
for name, s in doc["components"]["schemas"].items():
    jsonschema.Draft202012Validator.check_schema(s)
for path, item in doc["paths"].items():
    assert path.startswith("/"), path
    for m, op in item.items():
        if m == "parameters":
            continue
        assert m in ("get", "post", "put", "delete", "patch"), (path, m)
        assert op.get("responses"), (path, m, "no responses")
        for st in op["responses"]:
            assert st.isdigit() or st in ("default",), (path, m, st)
PY

vm='{"id":"vm-0jd7k2m3n4p5q6r7s8t9","name":null,"state":"running","image":"hello","ip":"172.31.0.2","mac":"06:00:ac:1f:00:02","tap":"uig0","vcpus":1,"mem_mib":128,"driver":"qemu","pid":42,"created_at":"2026-12-01T13:00:00.000Z","started_at":"2026-12-01T13:00:00.010Z","stopped_at":null,"exit_status":null,"error":null,"console_log":"/run/x.log","ready_at":null,"boot_ms":null}'
rec() { # rec METHOD PATH STATUS CTYPE BODY [REQUEST]
	jq -nc --arg m "$1" --arg p "$2" --argjson s "$3" --arg ct "$4" --arg b "$5" \
		--arg r "${6-}" '{method:$m,path:$p,status:$s,content_type:$ct,body:$b,request:$r}'
}
expect() { # expect pass|fail WHAT RECORD [pattern]
	local want=$1 what=$2 out rc=0
	rec_line=$3
	echo "$rec_line" >"$D/log"
	out=$(/usr/bin/python3 "$CHECK" "$SPEC" "$D/log" 2>&1) || rc=$?
	if [ "$want" = pass ]; then
		[ $rc = 0 ] || fail "$what: expected to pass: $out"
	else
		[ $rc = 1 ] || fail "$what: expected to fail (rc $rc): $out"
		[ -z "${4-}" ] || grep -q -- "$4" <<<"$out" || fail "$what: message lacks '$4': $out"
	fi
	echo "ok: $what ($want)"
}
err='{"error":{"code":"not_found","message":"no such VM"}}'
expect pass "a VM answer" "$(rec GET /vm/vm-x 200 application/json "$vm")"
expect pass "a run" "$(rec POST /vm/run 201 application/json "$vm" '{"image":"hello","wait":"ready"}')"
expect pass "an unknown route's 404" "$(rec GET /nope 404 application/json "$err")"
expect pass "a 405" "$(rec PUT /vm/run 405 application/json '{"error":{"code":"method_not_allowed","message":"m"}}')"
expect fail "an undocumented route answering 200" "$(rec GET /nope 200 application/json '{}')" "no route /nope"
expect fail "an undocumented method answering 200" "$(rec PUT /pool 200 application/json '{}')" "no PUT"
expect fail "an undocumented status" "$(rec GET /pool 418 application/json "$err")" "418 is not documented"
expect fail "an undocumented field" "$(rec GET /vm/vm-x 200 application/json "${vm%\}},\"extra\":1}")" "extra"
expect fail "a missing field" "$(rec GET /vm/vm-x 200 application/json "$(jq -c 'del(.ip)' <<<"$vm")")" "'ip' is a required"
expect fail "a wrong type" "$(rec GET /vm/vm-x 200 application/json "$(jq -c '.vcpus="1"' <<<"$vm")")" "vcpus"
expect fail "a content type not documented" "$(rec GET /vm/vm-x 200 text/plain "$vm")" "content type text/plain"
expect fail "a body that is not JSON" "$(rec GET /pool 200 application/json 'oops')" "not JSON"
expect fail "an error code not documented" "$(rec GET /vm/x 404 application/json '{"error":{"code":"nope","message":"m"}}')" "code"
expect fail "a 2xx to a run body with an undocumented field" \
	"$(rec POST /vm/run 201 application/json "$vm" '{"image":"hello","colour":"red"}')" "colour"
expect fail "a 2xx to an undocumented query parameter" \
	"$(rec GET '/vm?colour=red' 200 application/json '{"vms":[],"next":null}')" "colour"
echo "PASS test_openapi_check.sh"
