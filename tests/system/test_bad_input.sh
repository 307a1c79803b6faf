#!/usr/bin/env bash
# Bad requests get the right 4xx with a JSON error body, and create nothing:
# no VM row, no lease, no tap, no qemu.
. "$(dirname "$0")/lib.sh"
st_start

check() { # check STATUS CODE what
	st_expect "$1" "$3"
	[ "$(json .error.code)" = "$2" ] || st_fail "$3: error.code '$(json .error.code)', expected $2: $API_BODY"
	[ -n "$(json '.error.message // empty')" ] || st_fail "$3: no error.message"
}

api POST /vm/run '{"image": "hello",'
check 400 bad_json "malformed JSON"
api POST /vm/run '["hello"]'
check 400 bad_json "not an object"
api POST /vm/run '{"image": 5}'
check 400 invalid_argument "image of the wrong type"
api POST /vm/run '{"image": "hello", "colour": "red"}'
check 400 invalid_argument "unknown field"
api POST /vm/run '{"image": "hello", "vcpus": 0}'
check 400 invalid_argument "vcpus out of range"
api POST /vm/run '{"image": "nope"}'
check 404 unknown_image "unknown image"
api GET /vm/vm-doesnotexist
check 404 not_found "unknown VM"
api POST /vm/vm-doesnotexist/stop
check 404 not_found "stop of an unknown VM"
big=$(head -c 8000 /dev/zero | tr '\0' 'a')
api POST /vm/run "{\"image\":\"hello\",\"name\":\"$big\"}"
check 413 body_too_large "body over the limit"
api GET /nowhere
check 404 not_found "unknown route"
api PATCH /vm/run
check 405 method_not_allowed "wrong method"
api PUT /vm
check 405 method_not_allowed "PUT on the list route"

# raw REQUEST_TEXT → API_STATUS/API_BODY of the answer to bytes sent as they
# are (curl cannot send a request line without a version); the server must
# answer and close by itself.
raw() {
	local out
	out=$(/usr/bin/python3 - "$ST_SOCK" "$1" <<-'PY'
		import socket, sys
		s = socket.socket(socket.AF_UNIX)
		s.settimeout(30)
		s.connect(sys.argv[1])
		s.sendall(sys.argv[2].encode().decode("unicode_escape").encode("latin-1"))
		data = b""
		while True:
		    chunk = s.recv(65536)
		    if not chunk:
		        break
		    data += chunk
		head, _, body = data.partition(b"\r\n\r\n")
		print(head.split(b" ")[1].decode() if head.startswith(b"HTTP/1.1 ") else "none")
		print(body.decode("latin-1"))
	PY
	) || st_fail "raw request '$1': no answer"
	API_STATUS=${out%%$'\n'*}
	API_BODY=${out#*$'\n'}
}
raw 'GET /healthz\r\n'
check 400 bad_request "HTTP/0.9 request line (no version)"
raw 'GET /healthz\r\n\r\n'
check 400 bad_request "HTTP/0.9 request line and an empty line"
raw 'GET /healthz HTTP/2.0\r\n\r\n'
check 505 http_version_not_supported "HTTP/2.0 request line"
raw 'GET /healthz HTTP/1.0\r\n\r\n'
st_expect 200 "HTTP/1.0 still served"

[ "$(st_sql 'select count(*) from vms')" = 0 ] || st_fail "a VM row was created"
[ "$(st_sql 'select count(*) from leases')" = 0 ] || st_fail "a lease was created"
[ -z "$(st_unowned_taps | tr -d ' ')" ] || st_fail "a tap was created: $(st_unowned_taps)"
api GET /healthz
st_expect 200 "healthz after bad input"
st_pass
