#!/bin/bash
# The REST API's HTTP (issue 14): every error is JSON {"message": ...}
# with Content-Type: application/json, the server's own too (malformed
# request 400, too large a body 413, an unknown method 501, too large a
# head 431, another HTTP version 505); and what clients do works: HTTP/1.0
# and 1.1, keep-alive, HEAD, a chunked body, Expect: 100-continue, two
# requests in one write, a client that goes away before its POST is
# answered.
. "$(dirname "$0")/lib.sh"
e2e_init
start_server

HOST=$CLOUD_IP
AUTH=$(printf '%s:%s' "$SC_USER" "$KEY" | base64 -w0)

# raw NAME: send $TMP/NAME.req on one connection, the whole answer (until
# the server closes, or 3 s of silence) in $TMP/NAME.ans
raw() {
	cloud "$PYTHON" - "$HOST" "$REST_PORT" "$TMP/$1.req" "$TMP/$1.ans" <<'EOF'
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
s.sendall(open(sys.argv[3], "rb").read())
s.settimeout(3)
out = b""
try:
    while True:
        b = s.recv(65536)
        if not b:
            break
        out += b
except socket.timeout:
    pass
open(sys.argv[4], "wb").write(out)
EOF
}

# json_error NAME STATUS: the answer is STATUS, JSON, with a message
json_error() {
	local ans=$TMP/$1.ans
	head -n 1 "$ans" | grep -q "^HTTP/1.1 $2 " ||
	    fail "$1: status line '$(head -n 1 "$ans")', want $2"
	tr -d '\r' <"$ans" | grep -qi '^Content-Type: application/json$' ||
	    fail "$1: not application/json: $(cat "$ans")"
	tr -d '\r' <"$ans" | sed '1,/^$/d' | json_get "j['message']" \
	    >"$TMP/$1.msg" || fail "$1: the body is not JSON {message}: $(cat "$ans")"
}

printf 'GARBAGE\r\n\r\n' >"$TMP/bad.req"
raw bad
json_error bad 400
ok "a malformed request: 400 JSON '$(cat "$TMP/bad.msg")'"

printf 'GET /rest/v1/ HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n' \
    >"$TMP/smuggle.req"
raw smuggle
json_error smuggle 400
ok "Content-Length with Transfer-Encoding: 400 JSON"

printf 'FROB /rest/v1/ HTTP/1.1\r\nHost: x\r\n\r\n' >"$TMP/method.req"
raw method
json_error method 501
ok "an unknown method: 501 JSON '$(cat "$TMP/method.msg")'"

printf 'GET /rest/v1/ HTTP/2.0\r\nHost: x\r\n\r\n' >"$TMP/version.req"
raw version
json_error version 505
ok "HTTP/2.0 in a request line: 505 JSON"

{ printf 'GET /rest/v1/ HTTP/1.1\r\nHost: x\r\n'
  for i in $(seq 1 100); do printf 'X-Pad-%d: %0400d\r\n' "$i" 0; done
  printf '\r\n'; } >"$TMP/big.req"
raw big
json_error big 431
ok "a 40 KB head: 431 JSON"

head -c $((64 * 1024 + 1)) /dev/zero | tr '\0' 'x' >"$TMP/body"
code=$(cloud curl -sS --max-time 10 -o "$TMP/413" -D "$TMP/413.h" \
    -w '%{http_code}' -u "$SC_USER:$KEY" --data-binary @"$TMP/body" \
    -H 'Content-Type: application/json' "$REST_URL/$SC_USER/tunnels")
[ "$code" = 413 ] || fail "a 64 KiB + 1 body: status $code, want 413"
tr -d '\r' <"$TMP/413.h" | grep -qi '^Content-Type: application/json$' ||
    fail "413 not application/json"
json_get "j['message']" <"$TMP/413" >/dev/null || fail "413 body: $(cat "$TMP/413")"
ok "a body over 64 KiB: 413 JSON"

code=$(cloud curl -sS --max-time 10 -o "$TMP/405" -w '%{http_code}' \
    -u "$SC_USER:$KEY" -X PUT "$REST_URL/$SC_USER/tunnels")
[ "$code" = 405 ] && json_get "j['message']" <"$TMP/405" >/dev/null ||
    fail "PUT on tunnels: $code $(cat "$TMP/405")"
ok "PUT on /tunnels: 405 JSON"

# HTTP/1.0, and 1.0 with keep-alive
printf 'GET /rest/v1/%s/tunnels HTTP/1.0\r\nAuthorization: Basic %s\r\n\r\n' \
    "$SC_USER" "$AUTH" >"$TMP/h10.req"
raw h10
head -n 1 "$TMP/h10.ans" | grep -q '^HTTP/1.1 200 ' ||
    fail "HTTP/1.0: $(head -n 1 "$TMP/h10.ans")"
tr -d '\r' <"$TMP/h10.ans" | grep -qi '^Connection: close$' ||
    fail "HTTP/1.0 without keep-alive: no Connection: close"
ok "an HTTP/1.0 request: 200, then the server closes"

# two requests in one write, the second HEAD, then the first's answers
{ printf 'GET /rest/v1/%s/tunnels HTTP/1.1\r\nHost: x\r\nAuthorization: Basic %s\r\n\r\n' \
    "$SC_USER" "$AUTH"
  printf 'HEAD /rest/v1/%s/all_tunnels HTTP/1.1\r\nHost: x\r\nAuthorization: Basic %s\r\n\r\n' \
    "$SC_USER" "$AUTH"; } >"$TMP/pipe.req"
raw pipe
[ "$(grep -c '^HTTP/1.1 200 ' "$TMP/pipe.ans")" = 2 ] ||
    fail "two requests in one write: $(cat "$TMP/pipe.ans")"
[ "$(tail -c 15 "$TMP/pipe.ans" | tr -d '\r\n')" != '{"tunnels":[]}' ] ||
    fail "HEAD sent a body"
ok "two requests in one write on a keep-alive connection: two 200s, HEAD without a body"

# curl: keep-alive across requests, a chunked body, 100-continue
cloud curl -sS --max-time 10 -v -o /dev/null -o /dev/null \
    -u "$SC_USER:$KEY" "$REST_URL/$SC_USER/tunnels" \
    "$REST_URL/$SC_USER/all_tunnels" 2>"$TMP/ka.log" ||
    fail "curl with two URLs failed"
grep -q 'Re-using existing connection' "$TMP/ka.log" ||
    fail "curl did not reuse the connection: $(cat "$TMP/ka.log")"
ok "curl: the second request on the same connection"
code=$(cloud curl -sS --max-time 10 -o "$TMP/ch" -w '%{http_code}' \
    -u "$SC_USER:$KEY" -H 'Transfer-Encoding: chunked' \
    -H 'Content-Type: application/json' \
    -d '{"tunnel_identifier": "chunked"}' "$REST_URL/$SC_USER/tunnels")
[ "$code" = 200 ] || fail "a chunked POST: $code $(cat "$TMP/ch")"
[ "$(json_get "j['tunnel_identifier']" <"$TMP/ch")" = chunked ] ||
    fail "a chunked POST: $(cat "$TMP/ch")"
ok "a POST with a chunked body creates the tunnel"
code=$(cloud curl -sS --max-time 10 -v -o "$TMP/ex" -w '%{http_code}' \
    -u "$SC_USER:$KEY" -H 'Expect: 100-continue' \
    -d '{"tunnel_identifier": "expect"}' "$REST_URL/$SC_USER/tunnels" \
    2>"$TMP/ex.log")
[ "$code" = 200 ] && grep -q '< HTTP/1.1 100 Continue' "$TMP/ex.log" ||
    fail "Expect: 100-continue: $code $(cat "$TMP/ex.log")"
ok "Expect: 100-continue: 100, then 200"

# a POST whose client is gone before the answer
body='{"tunnel_identifier": "gone"}'
printf 'POST /rest/v1/%s/tunnels HTTP/1.1\r\nHost: x\r\nAuthorization: Basic %s\r\nContent-Length: %d\r\n\r\n%s' \
    "$SC_USER" "$AUTH" "${#body}" "$body" >"$TMP/gone.req"
cloud "$PYTHON" -c '
import socket, sys
for i in range(20):
    s = socket.create_connection((sys.argv[1], int(sys.argv[2])))
    s.sendall(open(sys.argv[3], "rb").read())
    s.close()' "$HOST" "$REST_PORT" "$TMP/gone.req"
# each is created once its registry is on disk, after the client left
tunnel_count() { rest GET "/$SC_USER/tunnels" | json_get 'len(j)'; }
wait_for 10 eval '[ "$(tunnel_count)" = 22 ]' ||
    fail "$(tunnel_count) tunnels 10 s after 20 abandoned POSTs, want 22"
kill -0 "$SERVER_PID" || fail "sc-server is gone"
! grep -q 'killed by signal\|exited' "$TMP/server.log" ||
    fail "a worker died: $(grep 'killed by signal\|exited' "$TMP/server.log")"
ok "20 POSTs whose clients left before the answer: created, no worker died"
e2e_done
