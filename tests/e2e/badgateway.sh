#!/bin/bash
# A target nobody listens on (a closed port of the office address):
# 502 with a body that says the connection was refused, for a plain
# request, for CONNECT passed through (-B the address: proxyd answers the
# CONNECT), and inside a resigned CONNECT (to a name of the same address:
# the 200 comes from the server, the 502 inside the TLS); the tunnel
# still works afterwards.
. "$(dirname "$0")/lib.sh"
e2e_init
start_server
start_app
printf '127.0.0.1 localhost\n%s app.e2e.test\n' "$APP_IP" | office_etc hosts
cloud curl -sS --max-time 5 -o "$TMP/ca.pem" \
    "http://$CLOUD_IP:$REST_PORT/rest/v1/public/ca.pem" || fail "GET ca.pem"
start_sc -B "$APP_IP"

code=$(browse -o "$TMP/body" -w '%{http_code}' "http://$APP_IP:9/") ||
    fail "the request to a closed port got no answer"
[ "$code" = 502 ] || fail "closed port: status $code, want 502"
[ -s "$TMP/body" ] || fail "the 502 has no body"
# the reason is the refusal, not what a write after it would say
grep -qi 'connection refused' "$TMP/body" ||
    fail "the 502 does not say 'connection refused': $(cat "$TMP/body")"
ok "GET to a closed port: 502 saying the connection was refused"

out=$(browse -o /dev/null -w '%{http_connect}' "https://$APP_IP:9/" 2>/dev/null)
[ "$out" = 502 ] || fail "CONNECT to a closed port: '$out', want 502"
ok "CONNECT to a closed port, passed through: 502"

out=$(browse --cacert "$TMP/ca.pem" -o "$TMP/body" \
    -w '%{http_connect} %{http_code}' "https://app.e2e.test:9/" 2>&1)
[ "$out" = "200 502" ] || fail "resigned CONNECT to a closed port: '$out', want '200 502'"
grep -qi 'connection refused' "$TMP/body" ||
    fail "the 502 inside TLS does not say 'connection refused': $(cat "$TMP/body")"
ok "resigned CONNECT to a closed port: 200, then 502 inside TLS saying the connection was refused"

body=$(browse "$(app_url /)") || fail "the tunnel broke after the 502s"
[ "$body" = "hello from the office" ] || fail "GET / after 502: '$body'"
ok "the tunnel still serves after the 502s"
e2e_done
