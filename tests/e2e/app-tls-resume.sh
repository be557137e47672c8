#!/bin/bash
# proxyd resumes its TLS sessions with an https:// app (issue 16: the
# resigned requests' TLS to the app): of three requests on three browser
# connections to one host and port, the app sees one full handshake and
# two resumed (app.py --resume-log); another host (the address) gets a
# full handshake of its own.  The same with --cacert-file naming the
# app's CA.  Verification still holds with sessions cached: a name the
# certificate does not carry, on the same address and port, is a 502
# that says so; an app whose certificate changed to one of another CA
# (and whose session tickets are no longer good) is a 502 that says the
# certificate does not verify; and with --cacert-file naming only
# another CA, every request is a 502, the second as the first.
. "$(dirname "$0")/lib.sh"
APP_NAME=app.office.test
OTHER_NAME=other.office.test

e2e_init
start_server
make_cert app "IP:$APP_IP,DNS:$APP_NAME"
printf '127.0.0.1 localhost\n%s %s %s\n' "$APP_IP" "$APP_NAME" \
    "$OTHER_NAME" | office_etc hosts
serve_app "$OFFICE" app "$APP_IP" --resume-log "$TMP/resume.log"
APP_PID=${PIDS[-1]}

# handshakes N: the app's last N handshakes, on one line
handshakes() {
	tail -n "$1" "$TMP/resume.log" | tr '\n' ' ' | sed 's/ $//'
}

# three_gets HOSTPORT TAG: three GETs, a browser connection each
three_gets() {
	local i out
	for i in 1 2 3; do
		out=$(https_get "$1" "/text/$2$i") || fail "https GET $2$i: $out"
		[ "$out" = "response $2$i
200" ] || fail "https GET $2$i of $1: '$out'"
	done
}

# --- no verification ----------------------------------------------------
start_sc -v
: >"$TMP/resume.log"
three_gets "$APP_NAME:$APP_TLS_PORT" n
[ "$(handshakes 3)" = "full resumed resumed" ] ||
    fail "three connections to $APP_NAME: handshakes '$(handshakes 3)', want 'full resumed resumed'"
wait_for 5 grep -q "TLS with $APP_NAME port $APP_TLS_PORT: TLSv1.3, .*, resumed" \
    "$TMP/sc.log" || fail "no 'resumed' in proxyd's log"
ok "three connections to $APP_NAME: one full handshake, two resumed"
three_gets "$APP_IP:$APP_TLS_PORT" a
[ "$(handshakes 3)" = "full resumed resumed" ] ||
    fail "three connections to $APP_IP: handshakes '$(handshakes 3)', want 'full resumed resumed'"
ok "its address, another key: a full handshake of its own, then resumed"
stop_sc
[ "$SC_STATUS" = 0 ] || fail "sc exited $SC_STATUS"

# --- verification ---------------------------------------------------------
start_sc --cacert-file "$TMP/app.crt"
: >"$TMP/resume.log"
three_gets "$APP_NAME:$APP_TLS_PORT" v
[ "$(handshakes 3)" = "full resumed resumed" ] ||
    fail "--cacert-file: handshakes '$(handshakes 3)', want 'full resumed resumed'"
ok "--cacert-file naming the app's CA: 200, one full handshake, two resumed"

https_502 "$OTHER_NAME:$APP_TLS_PORT" /text/o "TLS with $OTHER_NAME port \
$APP_TLS_PORT: certificate verification failed: hostname mismatch" \
    "a name not in the certificate"
ok "a name the certificate does not carry, same address and port: 502 ($(echo "$out" | head -n 1))"

# the app comes back with a certificate of another CA
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -days 2 -subj "/CN=another CA" \
    -addext "subjectAltName=IP:$APP_IP,DNS:$APP_NAME" \
    -keyout "$TMP/other.key" -out "$TMP/other.crt" >/dev/null 2>&1 ||
    fail "openssl: another CA"
kill "$APP_PID"
wait "$APP_PID" 2>/dev/null
rm -f "$TMP/other.ready"
serve_app "$OFFICE" other "$APP_IP" --resume-log "$TMP/resume.log"
for i in 1 2; do
	https_502 "$APP_NAME:$APP_TLS_PORT" "/text/c$i" "TLS with $APP_NAME \
port $APP_TLS_PORT: certificate verification failed" \
	    "the app's certificate of another CA, request $i"
done
ok "the app's certificate now of another CA, sessions cached: 502 twice ($(echo "$out" | head -n 1))"
stop_sc
[ "$SC_STATUS" = 0 ] || fail "sc exited $SC_STATUS"

start_sc --cacert-file "$TMP/app.crt"
: >"$TMP/resume.log"
for i in 1 2; do
	https_502 "$APP_NAME:$APP_TLS_PORT" "/text/w$i" "TLS with $APP_NAME \
port $APP_TLS_PORT: certificate verification failed" \
	    "--cacert-file another CA, request $i"
done
[ ! -s "$TMP/resume.log" ] || fail "the app saw a handshake through: $(handshakes 2)"
ok "--cacert-file naming another CA than the app's: 502, the second request as the first"
stop_sc
[ "$SC_STATUS" = 0 ] || fail "sc exited $SC_STATUS"
e2e_done
