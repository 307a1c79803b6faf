#!/usr/bin/env bash
# Names and DELETE (Firecracker fake):
#   - a name is unique among live VMs: a second run with it is 409 naming
#     the holder; once the holder is stopped the name is free again;
#   - GET /vm/{name} resolves the live VM of that name (else the newest
#     that had it); POST /vm/{name}/stop stops it;
#   - DELETE /vm/{id} of a live VM is 409 ("stop it first"); of a stopped
#     one, 200 and the row and its events are gone (GET 404, the list does
#     not show it); of an unknown id, 404.
ST_DRIVER=firecracker
ST_NEED_GUEST=0
. "$(dirname "$0")/lib.sh"

st_fc_fake

st_start

api POST /vm/run '{"image":"fc","name":"web1"}'
st_expect 201 "run web1"
a=$(json .id)
api POST /vm/run '{"image":"fc","name":"web1"}'
st_expect 409 "a second live web1"
grep -q "name web1 is taken by VM $a" <<<"$(json .error.message)" || st_fail "message: $API_BODY"
[ "$(sql "select count(*) from vms where name = 'web1'")" = 1 ] || st_fail "a second web1 row"

api GET /vm/web1
st_expect 200 "GET by name"
[ "$(json .id)" = "$a" ] || st_fail "GET /vm/web1: $API_BODY"
api DELETE "/vm/$a"
st_expect 409 "DELETE of a running VM"
grep -q "stop it first" <<<"$(json .error.message)" || st_fail "message: $API_BODY"
api POST /vm/web1/stop
st_expect 200 "stop by name"
[ "$(json .state)" = stopped ] && [ "$(json .id)" = "$a" ] || st_fail "stop by name: $API_BODY"

api POST /vm/run '{"image":"fc","name":"web1"}'
st_expect 201 "web1 again once the first is stopped"
b=$(json .id)
api GET /vm/web1
[ "$(json .id)" = "$b" ] || st_fail "the live web1 is $b: $API_BODY"

api DELETE "/vm/$a"
st_expect 200 "DELETE of a stopped VM"
[ "$(json .deleted)" = true ] && [ "$(json .id)" = "$a" ] || st_fail "DELETE: $API_BODY"
api GET "/vm/$a"
st_expect 404 "GET of a deleted VM"
[ "$(sql "select count(*) from events where vm_id = '$a'")" = 0 ] || st_fail "its events stayed"
api GET /vm
jq -e --arg a "$a" '[.vms[].id] | index($a) | not' <<<"$API_BODY" >/dev/null || st_fail "listed: $API_BODY"
api DELETE "/vm/$a"
st_expect 404 "DELETE again"
api DELETE /vm/vm-nosuch
st_expect 404 "DELETE of an unknown VM"

api POST "/vm/$b/stop"
st_expect 200 "stop"
api DELETE /vm/web1
st_expect 200 "DELETE by name"
[ "$(sql "select count(*) from vms")" = 0 ] || st_fail "rows left: $(sql "select id, state from vms")"
st_pass
