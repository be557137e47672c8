#!/bin/bash
# TLS resigning, the first byte sooner (issue 16, speed): once the
# CONNECT is answered, the entry proxy opens the stream and
# warms it up, so that proxyd connects to the CONNECT's host and speaks
# TLS with it while the leaf is made and the browser's handshake runs;
# the first request takes that connection.  And the CONNECT host's leaf
# is asked for as soon as the CONNECT is answered, before the ClientHello.
# Checked as the app and the browser see it:
# - a browser whose handshake is done and that has sent no request yet:
#   the app has had its TLS client already (its SNI log); the request
#   then comes on that connection (no second TLS client at the app);
# - a warmed-up connection no request takes is closed after
#   PROXYD_WARM_MS (5 s) while the browser's stays open, and a request
#   after that opens a new one and is answered;
# - a request for another host than the CONNECT's goes there (the
#   warmed-up connection is not taken for it);
# - an app that is down: a 502 inside the TLS, as without warm-ups;
# - with rules, a browser cannot send a warm-up of its own (the field is
#   refused or its field dropped: a 4xx for "OPTIONS *", and the app
#   sees no TLS client);
# - a CONNECT whose browser sends nothing: the leaf for its host is made
#   all the same (the server's log), before any ClientHello, and so is
#   proxyd's TLS to the app (its SNI log); plain HTTP after the 200
#   (ws://) then lets the warm-up go and is answered as http://.
. "$(dirname "$0")/lib.sh"
APP_NAME=app.office.test

e2e_init
start_server
make_cert app "IP:$APP_IP,DNS:$APP_NAME"
printf '127.0.0.1 localhost\n%s %s\n' "$APP_IP" "$APP_NAME" | office_etc hosts
serve_app "$OFFICE" app "$APP_IP" --sni-log "$TMP/sni.log"
touch "$TMP/sni.log"
# a rule, so that the entry proxy reads every browser's head (without
# any, a plain request goes down as it came: then there is nothing a
# browser's warm-up could reach that its own request could not)
start_sc -v -F '.*/denied/.*'

# hold.py ENTRY TARGET NAME: CONNECT TARGET, TLS (SNI NAME, "-" for none,
# unverified), "handshake" in $TMP/hs.NAME; once $TMP/go.NAME exists, a
# GET /conn (Host: its content, else TARGET), the answer's status line and
# body printed; then it waits for $TMP/end.NAME, and closes
cat >"$TMP/hold.py" <<'EOF'
import os, sys, time
from proxytls import connect_tls
target, name, tmp = sys.argv[2], sys.argv[3], sys.argv[4]
t = connect_tls(sys.argv[1], target, None if name == "-" else name)
open(os.path.join(tmp, "hs." + name), "w").write("handshake\n")
def wait(path):
    while not os.path.exists(path):
        time.sleep(0.05)
wait(os.path.join(tmp, "go." + name))
hostf = open(os.path.join(tmp, "go." + name)).read().strip() or target
t.sendall(b"GET /conn HTTP/1.1\r\nHost: %s\r\n\r\n" % hostf.encode())
got = b""
def complete(got):
    if b"\r\n\r\n" not in got:
        return False
    head, body = got.split(b"\r\n\r\n", 1)
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            return len(body) >= int(v)
    return True
while not complete(got):
    b = t.recv(4096)
    if not b:
        break
    got += b
text = got.decode(errors="replace")
print(text.split("\r\n")[0])
print(text.split("\r\n\r\n", 1)[-1].strip(), flush=True)
wait(os.path.join(tmp, "end." + name))
EOF
# hold NAME TARGET: hold.py in the background, its output $TMP/out.NAME
hold() {
	PYTHONPATH=$E2E_DIR cloud timeout 60 "$PYTHON" "$TMP/hold.py" "$ENTRY" "$2" "$1" "$TMP" \
	    >"$TMP/out.$1" 2>&1 &
	PIDS+=($!)
	HOLD=$!
	wait_for 10 test -s "$TMP/hs.$1" ||
	    fail "$1: no TLS handshake through the entry proxy: $(cat "$TMP/out.$1")"
}
sni_lines() { wc -l <"$TMP/sni.log"; }
# (for wait_for, which runs a command again, not a value once)
sni_is() { [ "$(sni_lines)" = "$1" ]; }
# app_conns: the app's established TLS connections
app_conns() {
	office ss -tnH state established "( sport = :$APP_TLS_PORT )" | wc -l
}
conns_are() { [ "$(app_conns)" = "$1" ]; }

# --- the handshake done, no request yet: the app has its TLS client ------
hold one "$APP_IP:$APP_TLS_PORT"
wait_for 5 sni_is 1 ||
    fail "no TLS client at the app before the first request (no warm-up)"
[ "$(sni_lines)" = 1 ] || fail "warm-up: $(sni_lines) TLS clients at the app, want 1"
echo >"$TMP/go.one"
wait_for 10 grep -q '^connection' "$TMP/out.one" ||
    fail "the request after the warm-up: $(cat "$TMP/out.one")"
head -n 1 "$TMP/out.one" | grep -q '^HTTP/1.1 200 ' ||
    fail "the request after the warm-up: $(cat "$TMP/out.one")"
[ "$(sni_lines)" = 1 ] ||
    fail "the first request opened a TLS connection of its own: $(sni_lines) at the app"
touch "$TMP/end.one"
wait "$HOLD" 2>/dev/null
ok "the app had proxyd's TLS before the browser's first request, and the request came on it ($(tail -n 1 "$TMP/out.one"))"

# --- a warmed-up connection nothing takes: closed after 5 s ---------------
wait_for 10 conns_are 0 || fail "the app's connections stay after the browser left"
hold two "$APP_IP:$APP_TLS_PORT"
wait_for 5 sni_is 2 || fail "no warm-up for the second browser"
wait_for 5 conns_are 1 || fail "no warmed-up connection at the app"
start=$(date +%s)
wait_for 15 conns_are 0 ||
    fail "the warmed-up connection stayed open unused"
took=$(( $(date +%s) - start ))
kill -0 "$HOLD" 2>/dev/null || fail "the browser's connection ended with the warm-up"
[ "$took" -ge 3 ] || fail "the warmed-up connection closed after $took s, want about 5"
echo >"$TMP/go.two"
wait_for 10 grep -q '^connection' "$TMP/out.two" ||
    fail "a request after the warm-up was closed: $(cat "$TMP/out.two")"
[ "$(sni_lines)" = 3 ] || fail "the request did not open its own connection"
touch "$TMP/end.two"
wait "$HOLD" 2>/dev/null
ok "a warmed-up connection unused closed after about $took s, the browser's kept; its request then opened one and was answered"

# --- another host than the CONNECT's ----------------------------------------
hold three "$APP_IP:$APP_TLS_PORT"
wait_for 5 sni_is 4 || fail "no warm-up for the third browser"
echo "$APP_NAME:$APP_TLS_PORT" >"$TMP/go.three"
wait_for 10 grep -q '^connection' "$TMP/out.three" ||
    fail "a request for $APP_NAME: $(cat "$TMP/out.three")"
[ "$(tail -n 1 "$TMP/sni.log")" = "$APP_NAME" ] ||
    fail "the request for $APP_NAME took the warm-up for $APP_IP: $(tail -n 2 "$TMP/sni.log")"
touch "$TMP/end.three"
wait "$HOLD" 2>/dev/null
ok "a request for $APP_NAME inside CONNECT $APP_IP went to $APP_NAME on its own connection"

# --- the app down: a 502 inside the TLS -------------------------------------
out=$(browse -k -w ' %{http_connect} %{http_code}' "https://$APP_IP:1/x") && true
case $out in
*"200 502") ;;
*) fail "an app that is down, warmed up for: '$out', want 200 then 502" ;;
esac
ok "an app that is down: CONNECT 200, then a 502 inside TLS ($(echo "$out" | head -n 1))"

# --- a browser's own warm-up is none ---------------------------------------
n=$(sni_lines)
code=$(browse -o /dev/null -w '%{http_code}' -X OPTIONS --request-target '*' \
    -H "Sc-Warm: https://$APP_IP:$APP_TLS_PORT" "http://$APP_IP:$APP_PORT/") && true
case $code in
4??) ;;
*) fail "a browser's OPTIONS * with Sc-Warm: $code, want a 4xx, not a warm-up's 204" ;;
esac
sleep 0.5	# (what would have come: a TLS client at the app, now)
[ "$(sni_lines)" = "$n" ] || fail "a browser's Sc-Warm field made proxyd connect"
ok "a browser's OPTIONS * with Sc-Warm: $code, no TLS at the app"

# --- the CONNECT's leaf, before the ClientHello ---------------------------
cat >"$TMP/connect.py" <<'EOF'
import os, socket, sys, time
host, port = sys.argv[1].rsplit(":", 1)
s = socket.create_connection((host, int(port)), timeout=30)
s.sendall(b"CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (sys.argv[2].encode(), sys.argv[2].encode()))
print(s.recv(4096).split(b"\r\n")[0].decode(), flush=True)
while not os.path.exists(sys.argv[3]):
    time.sleep(0.05)
EOF
cloud timeout 30 "$PYTHON" "$TMP/connect.py" "$ENTRY" "ahead.office.test:443" \
    "$TMP/end.ahead" >"$TMP/out.ahead" 2>&1 &
PIDS+=($!)
wait_for 5 grep -q ' 200 ' "$TMP/out.ahead" || fail "CONNECT ahead.office.test: $(cat "$TMP/out.ahead")"
wait_for 5 grep -q "a certificate for ahead.office.test" "$TMP/server.log" ||
    fail "no leaf for the CONNECT's host before its ClientHello"
touch "$TMP/end.ahead"
ok "the CONNECT host's leaf is made before the browser's ClientHello"

# --- the warm-up, before the ClientHello -----------------------------------
# from the CONNECT on, not a round trip later at the ClientHello (where it
# was the last thing a new host's first request waited for)
n=$(sni_lines)
cloud timeout 30 "$PYTHON" "$TMP/connect.py" "$ENTRY" "$APP_IP:$APP_TLS_PORT" \
    "$TMP/end.early" >"$TMP/out.early" 2>&1 &
PIDS+=($!)
wait_for 5 grep -q ' 200 ' "$TMP/out.early" || fail "CONNECT $APP_IP: $(cat "$TMP/out.early")"
wait_for 5 sni_is $((n + 1)) ||
    fail "no TLS client at the app while the browser has sent no ClientHello (the warm-up waits for it)"
touch "$TMP/end.early"
ok "proxyd's TLS to the app begins at the CONNECT, before the browser's ClientHello"

# plain HTTP after the 200 (ws://): the warm-up for TLS is let go, and the
# request goes down as http:// and is answered
cat >"$TMP/plain.py" <<'EOF2'
import socket, sys
host, port = sys.argv[1].rsplit(":", 1)
s = socket.create_connection((host, int(port)), timeout=30)
s.sendall(b"CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (sys.argv[2].encode(), sys.argv[2].encode()))
got = b""
while b"\r\n\r\n" not in got:
    got += s.recv(4096)
s.sendall(b"GET /conn HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % sys.argv[2].encode())
got = b""
while True:
    b = s.recv(4096)
    if not b:
        break
    got += b
print(got.split(b"\r\n")[0].decode(), flush=True)
EOF2
out=$(cloud timeout 30 "$PYTHON" "$TMP/plain.py" "$ENTRY" "$APP_IP:$APP_PORT" 2>&1) && true
case $out in
"HTTP/1.1 200 "*) ;;
*) fail "plain HTTP inside CONNECT $APP_IP:$APP_PORT after a warm-up: '$out', want the app's 200" ;;
esac
ok "plain HTTP inside a CONNECT after the warm-up began: the app's answer ($out)"
e2e_done
