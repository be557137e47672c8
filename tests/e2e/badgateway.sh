#!/bin/bash
# A target nobody listens on (a closed port of the office address):
# 502 with a body that says the connection was refused, for a plain
# request and for CONNECT; the tunnel still works afterwards.
. "$(dirname "$0")/lib.sh"
e2e_up

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
ok "CONNECT to a closed port: 502"

body=$(browse "$(app_url /)") || fail "the tunnel broke after the 502s"
[ "$body" = "hello from the office" ] || fail "GET / after 502: '$body'"
ok "the tunnel still serves after the 502s"
e2e_done
