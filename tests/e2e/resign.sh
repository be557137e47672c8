#!/bin/bash
# TLS resigning at the entry proxy (issue 16), on by default: a CONNECT
# is answered by the server, which speaks TLS to the browser with a leaf
# of its CA (GET /rest/v1/public/ca.pem) for the SNI, else the CONNECT's
# host (an address: an IP SAN); the requests inside go down the tunnel
# as https:// and proxyd speaks TLS to the app.  curl verifies the leaf
# with the CA and fails without it; by name and by address; keep-alive
# (two requests, one browser connection, one connection at the app);
# 64 MiB byte-exact, an upload, a chunked answer; Server-Sent Events
# arrive as sent; a WebSocket over wss://; a request inside the TLS that
# a fast-fail rule denies is a 403 there; garbage instead of a
# ClientHello and an SNI that is no host name are closed with a log
# line, and the tunnel keeps serving; plain HTTP after the 200 (ws://)
# goes down the tunnel as http:// (an IPv4 address as SNI, which
# openssl s_client sends, names the address); a name no certificate can
# carry gets the KGP certificate and a 502 inside TLS that says why.  -B all
# and -B naming the host pass the CONNECT through: the browser sees the
# app's own certificate (its fingerprint), a host -B does not name is
# still resigned, and plain requests stay kept alive under -B all.
. "$(dirname "$0")/lib.sh"
APP_NAME=app.office.test

e2e_init
start_server
make_cert app "IP:$APP_IP,DNS:$APP_NAME"
printf '127.0.0.1 localhost\n%s %s\n' "$APP_IP" "$APP_NAME" | office_etc hosts
serve_app "$OFFICE" app "$APP_IP"
cloud curl -sS --max-time 5 -o "$TMP/ca.pem" \
    "http://$CLOUD_IP:$REST_PORT/rest/v1/public/ca.pem" ||
    fail "GET /rest/v1/public/ca.pem"
start_sc -F '.*/denied/.*'

URL_NAME=https://$APP_NAME:$APP_TLS_PORT
URL_IP=https://$APP_IP:$APP_TLS_PORT

# --- the server's CA verifies; nothing else does -------------------------
out=$(browse --cacert "$TMP/ca.pem" -w ' %{http_connect} %{http_code}' \
    "$URL_NAME/text/one") || fail "resigned GET by name: $out"
[ "$out" = "response one
 200 200" ] || fail "resigned GET by name: '$out'"
out=$(browse --cacert "$TMP/ca.pem" -w ' %{http_code}' "$URL_IP/text/two") ||
    fail "resigned GET by address: $out"
[ "$out" = "response two
 200" ] || fail "resigned GET by address: '$out'"
ok "CONNECT 200, then HTTPS verified with the server's CA: by name (SNI) and by address (IP SAN)"

browse -o /dev/null "$URL_NAME/text/x" 2>"$TMP/noca.err" && fail "curl without the CA verified the resigned certificate"
rc=$?
[ "$rc" = 60 ] || fail "curl without the CA: exit $rc, want 60: $(cat "$TMP/noca.err")"
browse -o /dev/null --cacert "$TMP/app.crt" "$URL_NAME/text/x" 2>/dev/null &&
    fail "the app's own certificate verified a resigned connection"
ok "without the server's CA (or with the app's) curl refuses the certificate (exit $rc)"

# the issuer is the server's CA, the subject the host
cloud openssl s_client -proxy "$ENTRY" -connect "$APP_NAME:$APP_TLS_PORT" \
    -servername "$APP_NAME" -CAfile "$TMP/ca.pem" -verify_return_error \
    </dev/null >"$TMP/sclient.out" 2>&1 || fail "openssl s_client: $(tail -n 5 "$TMP/sclient.out")"
grep -q "Verify return code: 0 (ok)" "$TMP/sclient.out" ||
    fail "s_client did not verify: $(grep -i verify "$TMP/sclient.out")"
ca_fp=$(openssl x509 -in "$TMP/ca.pem" -noout -fingerprint -sha256)
app_fp=$(openssl x509 -in "$TMP/app.crt" -noout -fingerprint -sha256)
leaf_fp=$(openssl x509 -in "$TMP/sclient.out" -noout -fingerprint -sha256)
[ "$leaf_fp" != "$app_fp" ] || fail "the browser got the app's own certificate"
openssl x509 -in "$TMP/sclient.out" -noout -ext subjectAltName |
    grep -q "DNS:$APP_NAME" || fail "the leaf does not name $APP_NAME"
ok "the leaf names $APP_NAME, verifies with the CA (${ca_fp#*=}) and is not the app's"

# --- keep-alive: two requests, one browser connection, one at the app -----
out=$(browse --cacert "$TMP/ca.pem" -w '%{num_connects}\n' \
    "$URL_NAME/conn" "$URL_NAME/conn")
n=$(echo "$out" | awk '/^[0-9]+$/ {s += $1} END {print s}')
[ "$n" = 1 ] || fail "two requests opened $n connections to the proxy: $out"
[ "$(echo "$out" | grep '^connection' | sort -u | wc -l)" = 1 ] ||
    fail "the two requests reached the app on different connections: $out"
ok "keep-alive: two requests on one resigned connection, one TLS connection at the app"

# --- bytes: 64 MiB down, 4 MiB up, chunked --------------------------------
size=$((64 * 1024 * 1024))
code=$(browse --cacert "$TMP/ca.pem" -o "$TMP/big" -w '%{http_code}' \
    "$URL_NAME/bytes/$size?seed=7") || fail "64 MiB: $code"
[ "$code" = 200 ] || fail "64 MiB: $code"
[ "$(sha256sum <"$TMP/big" | cut -d' ' -f1)" = "$(gen_sha256 $size 7)" ] ||
    fail "64 MiB through resigned TLS: digest differs"
rm -f "$TMP/big"
ok "64 MiB through resigned TLS, sha256 equal"

head -c $((4 * 1024 * 1024)) /dev/urandom >"$TMP/up"
want=$(sha256sum <"$TMP/up" | cut -d' ' -f1)
got=$(browse --cacert "$TMP/ca.pem" --data-binary @"$TMP/up" \
    "$URL_NAME/sink" | json_get 'j["sha256"]')
[ "$got" = "$want" ] || fail "4 MiB upload: the app got $got, want $want"
code=$(browse --cacert "$TMP/ca.pem" -o "$TMP/ck" -w '%{http_code}' \
    "$URL_NAME/chunked/1000000?seed=3") || fail "chunked: $code"
[ "$code" = 200 ] && [ "$(sha256sum <"$TMP/ck" | cut -d' ' -f1)" = "$(gen_sha256 1000000 3)" ] ||
    fail "chunked answer through resigned TLS differs"
ok "4 MiB upload and a chunked answer through resigned TLS, digests equal"

# --- Server-Sent Events: each arrives before the next is sent -------------
cloud curl -sS -N --max-time 30 -x "http://$ENTRY" --cacert "$TMP/ca.pem" \
    "$URL_NAME/sse?n=3&gate=$TMP/gate" >"$TMP/sse.out" 2>&1 &
SSE=$!
PIDS+=("$SSE")
for i in 1 2 3; do
	[ "$i" = 1 ] || touch "$TMP/gate.$i"
	wait_for 10 grep -q "data: event $i" "$TMP/sse.out" ||
	    fail "SSE: event $i did not arrive: $(cat "$TMP/sse.out")"
	[ "$i" = 3 ] || ! grep -q "data: event $((i + 1))" "$TMP/sse.out" ||
	    fail "SSE: event $((i + 1)) before its gate"
done
wait "$SSE" || fail "SSE: curl failed: $(cat "$TMP/sse.out")"
ok "Server-Sent Events through resigned TLS: each event arrived before the app sent the next"

# --- WebSocket over wss:// --------------------------------------------------
cloud timeout 60 "$PYTHON" "$E2E_DIR/wsclient.py" --connect --tls "$TMP/ca.pem" \
    "$ENTRY" "$APP_NAME:$APP_TLS_PORT" /ws >"$TMP/ws.out" 2>&1 ||
    fail "wss:// echo: $(cat "$TMP/ws.out")"
ok "WebSocket over wss:// through resigned TLS: $(cat "$TMP/ws.out")"

# --- a request inside the TLS that the rules deny ------------------------
out=$(browse --cacert "$TMP/ca.pem" -w ' %{http_code}' "$URL_NAME/denied/x") && true
case $out in
*"Denied by the tunnel's traffic rule"*"403") ;;
*) fail "a denied request inside resigned TLS: '$out', want a 403 naming the rule" ;;
esac
browse_tls_ok() {
	[ "$(browse --cacert "$TMP/ca.pem" "$URL_NAME/text/$1")" = "response $1" ]
}
browse_tls_ok after-deny || fail "a request after the denied one failed"
ok "fast-fail on the URL inside resigned TLS: 403 ($(echo "$out" | head -n 1))"

# --- bad input: garbage, a bad SNI -----------------------------------------
# hello.py KIND: CONNECT, then KIND's bytes; prints "closed" when the
# server closes the connection without a byte
cat >"$TMP/hello.py" <<'EOF'
import socket, struct, sys
host, port = sys.argv[1].rsplit(":", 1)
target, kind = sys.argv[2], sys.argv[3]
s = socket.create_connection((host, int(port)), timeout=10)
s.sendall(b"CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (target.encode(), target.encode()))
head = b""
while b"\r\n\r\n" not in head:
    b = s.recv(1)
    if not b:
        sys.exit("no answer to CONNECT")
    head += b
if b" 200 " not in head.split(b"\r\n")[0]:
    sys.exit("CONNECT answered " + head.decode())
def vec(n, b):
    return len(b).to_bytes(n, "big") + b
if kind == "garbage":
    data = b"\x16\x09 a handshake record of no TLS version\r\n\r\n"
elif kind == "plain":
    data = b"GET / HTTP/1.1\r\nHost: x.invalid\r\n\r\n"
else:
    name = b"bad..name" if kind == "badsni" else b"app.999"
    sni = vec(2, b"\x00" + vec(2, name))
    ext = struct.pack(">H", 0) + vec(2, sni)
    body = (b"\x03\x03" + bytes(32) + vec(1, b"") + vec(2, b"\x13\x01") +
            vec(1, b"\x00") + vec(2, ext))
    hs = b"\x01" + vec(3, body)
    data = b"\x16\x03\x01" + vec(2, hs)
s.sendall(data)
got = s.recv(4096)
print("closed" if got == b"" else "got %r" % got[:40])
EOF
for kind in garbage badsni numsni; do
	out=$(cloud timeout 20 "$PYTHON" "$TMP/hello.py" "$ENTRY" \
	    "$APP_NAME:$APP_TLS_PORT" $kind 2>&1)
	[ "$out" = closed ] || fail "$kind after CONNECT: '$out', want the connection closed"
done
wait_for 5 grep -q "not a TLS ClientHello: closed" "$TMP/server.log" ||
    fail "no log line for garbage instead of a ClientHello"
wait_for 5 grep -q "the SNI is not a host name: closed" "$TMP/server.log" ||
    fail "no log line for a bad SNI"
# the two are logged in turn: wait for the second as for the first
two_bad_sni() {
	[ "$(grep -c "the SNI is not a host name: closed" \
	    "$TMP/server.log")" -ge 2 ]
}
wait_for 5 two_bad_sni ||
    fail "no log line for a numeric SNI that is no address"
browse_tls_ok after-bad || fail "the tunnel does not serve after bad ClientHellos"
ok "garbage, an SNI with an empty label and one ending in digits: closed with a log line; the tunnel serves on"

# plain HTTP after the 200 (what a browser sends for ws://) is no TLS:
# read as HTTP and sent down the tunnel, where x.invalid cannot resolve
out=$(cloud timeout 20 "$PYTHON" "$TMP/hello.py" "$ENTRY" \
    "$APP_NAME:80" plain 2>&1)
case $out in
*"502 Bad Gateway"*) ;;
*) fail "plain HTTP after CONNECT: '$out', want proxyd's 502 for x.invalid" ;;
esac
wait_for 5 grep -q "plain HTTP inside CONNECT $APP_NAME:80" "$TMP/server.log" ||
    fail "no log line for plain HTTP inside a CONNECT"
ok "plain HTTP inside a CONNECT: read as HTTP, down the tunnel (a 502 from proxyd for a name that does not resolve)"

# no leaf: a host no certificate can name, no SNI; the handshake goes on
# with the KGP certificate, and the request gets a 502 that says why
cat >"$TMP/noleaf.py" <<'EOF'
import ssl, sys
from proxytls import connect_tls
target = sys.argv[2]
t = connect_tls(sys.argv[1], target, None, timeout=10)
t.sendall(b"GET / HTTP/1.1\r\nHost: %s\r\n\r\n" % target.encode())
got = b""
while True:
    try:
        b = t.recv(4096)
    except ssl.SSLError:
        break
    if not b:
        break
    got += b
text = got.decode(errors="replace")
print(text.split("\r\n")[0])
print(text.split("\r\n\r\n", 1)[-1].strip())
EOF
out=$(PYTHONPATH=$E2E_DIR cloud timeout 20 "$PYTHON" "$TMP/noleaf.py" "$ENTRY" "no~leaf.test:$APP_TLS_PORT" 2>&1)
case $out in
"HTTP/1.1 502 "*"cannot resign TLS"*"no~leaf.test"*) ;;
*) fail "no leaf: '$out', want a 502 inside TLS that says why" ;;
esac
grep -q "cannot resign TLS for no~leaf.test" "$TMP/server.log" ||
    fail "no log line for the missing leaf"
browse_tls_ok after-noleaf || fail "the tunnel does not serve after a missing leaf"
ok "no leaf for a name: the KGP certificate, then '$(echo "$out" | tail -n 1)'"

# --- passthrough: -B all, -B naming the host -------------------------------
# leaf_fp HOST: the fingerprint of the certificate the browser gets for
# HOST through the entry proxy
leaf_fp() {
	cloud openssl s_client -proxy "$ENTRY" -connect "$1:$APP_TLS_PORT" \
	    -servername "$1" </dev/null 2>/dev/null |
	    openssl x509 -noout -fingerprint -sha256
}
stop_sc
start_sc -B all
[ "$(leaf_fp "$APP_NAME")" = "$app_fp" ] || fail "-B all: not the app's certificate"
out=$(browse --cacert "$TMP/app.crt" "$URL_NAME/text/pass") ||
    fail "-B all: HTTPS with the app's certificate: $out"
ok "-B all: the app's own certificate reaches the browser (fingerprint equal), curl verifies it"
# rules that only pass TLS through leave plain requests kept alive
n=$(browse -o /dev/null -w '%{num_connects}\n' "$(app_url /text/k1)" \
    "$(app_url /text/k2)" | awk '{ s += $1 } END { print s }')
[ "$n" = 1 ] || fail "-B all: two plain requests opened $n connections, want 1"
ok "-B all: two plain requests on one kept connection"
stop_sc
start_sc -B "$APP_NAME"
[ "$(leaf_fp "$APP_NAME")" = "$app_fp" ] || fail "-B $APP_NAME: not the app's certificate"
fp=$(leaf_fp "$APP_IP")
[ -n "$fp" ] && [ "$fp" != "$app_fp" ] || fail "-B $APP_NAME: $APP_IP was not resigned"
out=$(browse --cacert "$TMP/ca.pem" "$URL_IP/text/resigned") || fail "-B $APP_NAME: $out"
ok "-B $APP_NAME: the app's certificate for it, $APP_IP still resigned"
e2e_done
