#!/bin/bash
# proxyd speaks TLS to the app for absolute-form https:// requests (issue
# 16: what a resigning entry proxy will send down the tunnel; here curl
# sends them itself, with --request-target, and the entry proxy passes
# them on as they are).  By default the app's certificate is not
# verified (intranet certificates are self-signed): a GET and 4 MiB
# come back whole, SNI is the host's name (none for an address), and
# three requests on one browser connection use one TLS connection to the
# app.  An app that does not speak TLS, or closes at once: 502 with the
# reason.  With --cacert-file naming another CA: 502 saying the
# certificate does not verify; naming the app's own: 200.
. "$(dirname "$0")/lib.sh"
APP_NAME=app.office.test

e2e_init
start_server
make_app_cert
# the app's certificate also names it (SNI is sent for names only)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -days 2 -subj "/CN=e2e-app" \
    -addext "subjectAltName=IP:$APP_IP,DNS:$APP_NAME" \
    -keyout "$TMP/app.key" -out "$TMP/app.crt" >/dev/null 2>&1 ||
    fail "openssl could not make the app certificate"
printf '127.0.0.1 localhost\n%s %s\n' "$APP_IP" "$APP_NAME" | office_etc hosts
ip netns exec "$OFFICE" "$PYTHON" "$E2E_DIR/app.py" serve --addr "$APP_IP" \
    --http-port "$APP_PORT" --tls-port "$APP_TLS_PORT" \
    --cert "$TMP/app.crt" --key "$TMP/app.key" --sni-log "$TMP/sni.log" \
    --ready "$TMP/app.ready" >"$TMP/app.log" 2>&1 &
PIDS+=($!)
wait_for 10 test -f "$TMP/app.ready" || fail "the app did not start"
if cloud curl -sS --max-time 3 -o /dev/null -k \
    "https://$APP_IP:$APP_TLS_PORT/" 2>/dev/null; then
	fail "the app is reachable from cloud without the tunnel"
fi
start_sc -v

# --- no verification ----------------------------------------------------
out=$(BROWSE_TIMEOUT=8 https_get "$APP_IP:$APP_TLS_PORT" /text/one) || fail "https GET failed: $out"
[ "$out" = "response one
200" ] || fail "https GET by address: '$out'"
out=$(https_get "$APP_NAME:$APP_TLS_PORT" /text/two) || fail "https GET failed: $out"
[ "$out" = "response two
200" ] || fail "https GET by name: '$out'"
[ "$(cat "$TMP/sni.log")" = "-
$APP_NAME" ] || fail "SNI seen by the app: '$(tr '\n' ' ' <"$TMP/sni.log")', want '- $APP_NAME'"
ok "https:// in absolute form: 200 by address (no SNI) and by name (SNI $APP_NAME), no verification"

size=$((4 * 1024 * 1024))
code=$(browse -o "$TMP/big" -w '%{http_code}' --request-target \
    "https://$APP_IP:$APP_TLS_PORT/bytes/$size?seed=5" \
    "http://$APP_IP:$APP_TLS_PORT/bytes/$size?seed=5") || fail "4 MiB over TLS: $code"
[ "$code" = 200 ] || fail "4 MiB over TLS: $code"
[ "$(sha256sum <"$TMP/big" | cut -d' ' -f1)" = "$(gen_sha256 $size 5)" ] ||
    fail "4 MiB over TLS: digest differs"
ok "4 MiB over TLS to the app, digest equal"

# three requests on one browser connection: one TLS connection to the app
# (the browser's connection stays open meanwhile)
: >"$TMP/sni.log"
req="GET https://$APP_IP:$APP_TLS_PORT/text/k1 HTTP/1.1\r\nHost: $APP_IP\r\n\r\n"
req="$req${req//k1/k2}${req//k1/k3}"
cloud "$PYTHON" - "$ENTRY" "$req" >"$TMP/ka.out" 2>&1 <<'EOF' &
import socket, sys, time
host, port = sys.argv[1].rsplit(":", 1)
s = socket.create_connection((host, int(port)), timeout=10)
s.sendall(sys.argv[2].encode().decode("unicode_escape").encode())
got = b""
while got.count(b"response k") < 3:
    b = s.recv(65536)
    if not b:
        break
    got += b
sys.stdout.write(got.decode())
sys.stdout.flush()
time.sleep(5)
EOF
KA=$!
PIDS+=("$KA")
wait_for 10 eval '[ "$(grep -c "^response k" "$TMP/ka.out")" = 3 ]' ||
    fail "three requests on one connection: $(cat "$TMP/ka.out")"
n=$(office ss -Htn state established "( sport = :$APP_TLS_PORT )" | wc -l)
[ "$n" = 1 ] || fail "$n TLS connections at the app for three requests, want 1"
[ "$(wc -l <"$TMP/sni.log")" = 1 ] || fail "$(wc -l <"$TMP/sni.log") TLS handshakes at the app"
kill "$KA" 2>/dev/null
ok "three https:// requests on one browser connection: one TLS connection to the app"

# --- apps whose TLS fails -----------------------------------------------
https_502 "$APP_IP:$APP_PORT" /text/x "TLS with $APP_IP port $APP_PORT" \
    "https:// to a plain HTTP port"
ok "https:// to an app that does not speak TLS: 502 ($(echo "$out" | head -n 1))"

# --- verification ---------------------------------------------------------
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -days 2 -subj "/CN=another CA" -keyout "$TMP/other.key" \
    -out "$TMP/other.crt" >/dev/null 2>&1 || fail "openssl: another CA"
stop_sc
[ "$SC_STATUS" = 0 ] || fail "sc exited $SC_STATUS"
start_sc --cacert-file "$TMP/other.crt"
https_502 "$APP_IP:$APP_TLS_PORT" /text/v \
    "TLS with $APP_IP port $APP_TLS_PORT: certificate verification failed" \
    "--cacert-file another CA"
ok "--cacert-file another CA: 502 ($(echo "$out" | head -n 1))"
stop_sc
start_sc --cacert-file "$TMP/other.crt" --cacert-file "$TMP/app.crt"
out=$(https_get "$APP_IP:$APP_TLS_PORT" /text/v) || fail "https GET failed: $out"
[ "$out" = "response v
200" ] || fail "--cacert-file the app's CA, by address: '$out'"
out=$(https_get "$APP_NAME:$APP_TLS_PORT" /text/w) || fail "https GET failed: $out"
[ "$out" = "response w
200" ] || fail "--cacert-file the app's CA, by name: '$out'"
ok "--cacert-file naming the app's CA: 200 by address and by name"
stop_sc
out=$(ip netns exec "$OFFICE" "$SC" -u "$SC_USER" -k "$KEY" -x "$REST_URL" \
    --cacert-file "$TMP/nonexistent.crt" 2>&1)
rc=$?
[ "$rc" = 1 ] || fail "--cacert-file of no file: exit $rc, want 1: $out"
case $out in *nonexistent.crt*) ;; *) fail "no file name in: $out" ;; esac
ok "--cacert-file of no file: exit 1, saying which"
e2e_done
