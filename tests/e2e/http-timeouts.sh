#!/bin/bash
# issue 17: the two --http-* timeouts that bound proxyd's side of an app
# connection once it is connected.
#   - --http-tls-handshake-timeout: an app port that accepts TCP and never
#     answers the ClientHello; an absolute-form https:// request to it is a
#     504 naming the bound, after it and well before the default 10s;
#   - --http-idle-conn-timeout: a kept-alive connection to the app, idle
#     between two requests of one browser connection, is closed by proxyd
#     after the bound (the app's count of established connections falls
#     to 0), while the browser's connection stays open and its next
#     request opens a new one: 200.
. "$(dirname "$0")/lib.sh"
SILENT_PORT=8449
BOUND_MS=1000

e2e_init
start_server
start_app
# a TLS "app" that takes connections and never says a word
silent_listener "$APP_IP" "$SILENT_PORT"

run_sc --http-tls-handshake-timeout 1s --http-idle-conn-timeout 1s

# --- --http-tls-handshake-timeout ---------------------------------------
start=$(date +%s%N)
out=$(get "http://$APP_IP:$SILENT_PORT/" --request-target \
    "https://$APP_IP:$SILENT_PORT/")
took=$(( ($(date +%s%N) - start) / 1000000 ))
case $out in
*"the TLS handshake with $APP_IP port $SILENT_PORT took longer than $BOUND_MS ms"*504) ;;
*) fail "an app that never answers the ClientHello: '$out'" ;;
esac
[ "$took" -ge $((BOUND_MS - 100)) ] || fail "the 504 came after $took ms, before the bound"
[ "$took" -lt 5000 ] || fail "the 504 took $took ms, want about $BOUND_MS"
ok "an app silent after TCP: 504 after --http-tls-handshake-timeout 1s ($took ms)"

# the same app reached quickly still works with the bound
out=$(get "http://$APP_IP:$APP_TLS_PORT/text/tls" --request-target \
    "https://$APP_IP:$APP_TLS_PORT/text/tls")
[ "$out" = "response tls  200" ] || fail "https:// within the bound: '$out'"
ok "an app that answers the handshake at once: 200 under the same bound"

# --- --http-idle-conn-timeout -------------------------------------------
# app_conns: the app's established connections on its HTTP port
app_conns() {
	office ss -Htn state established "( sport = :$APP_PORT )" | wc -l
}
[ "$(app_conns)" = 0 ] || fail "connections at the app before the test: $(app_conns)"
# one browser connection: a request, then (once told) a second one
req="GET http://$APP_IP:$APP_PORT/text/i1 HTTP/1.1\r\nHost: $APP_IP\r\n\r\n"
cloud "$PYTHON" - "$ENTRY" "$req" "$TMP/idle.go" >"$TMP/idle.out" 2>&1 <<'EOF' &
import os, socket, sys, time
host, port = sys.argv[1].rsplit(":", 1)
req = sys.argv[2].encode().decode("unicode_escape").encode()
s = socket.create_connection((host, int(port)), timeout=20)


def one(want):
    s.sendall(req.replace(b"i1", want.encode()))
    got = b""
    while b"response " + want.encode() not in got:
        b = s.recv(65536)
        if not b:
            print("closed", flush=True)
            sys.exit(1)
        got += b
    print(got.split(b" ", 1)[1].split(b"\r\n")[0].decode(), "|",
          "response " + want, flush=True)


one("i1")
while not os.path.exists(sys.argv[3]):
    time.sleep(0.05)
one("i2")
time.sleep(20)
EOF
IDLE=$!
PIDS+=("$IDLE")
wait_for 10 grep -q "response i1" "$TMP/idle.out" ||
    fail "the first request: $(cat "$TMP/idle.out")"
start=$(date +%s%N)
[ "$(app_conns)" = 1 ] || fail "$(app_conns) connections at the app after a kept-alive request, want 1"
wait_for 10 eval '[ "$(app_conns)" = 0 ]' ||
    fail "the idle app connection is still open after 10 s"
took=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$took" -lt 5000 ] || fail "the idle connection was closed after $took ms"
kill -0 "$IDLE" 2>/dev/null || fail "the browser's connection went too: $(cat "$TMP/idle.out")"
touch "$TMP/idle.go"
wait_for 10 grep -q "response i2" "$TMP/idle.out" ||
    fail "the second request on the browser's connection: $(cat "$TMP/idle.out")"
grep -q "^200 OK | response i2" "$TMP/idle.out" ||
    fail "the second request: $(cat "$TMP/idle.out")"
kill "$IDLE" 2>/dev/null
ok "a kept-alive app connection closed after --http-idle-conn-timeout 1s (within $took ms of the answer); the browser's next request: 200"

stop_sc
e2e_done
