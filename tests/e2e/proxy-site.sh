#!/bin/bash
# issue 17: what proxyd does for each request, as sc run's flags ask.
# An office-only name server (dnsmasq, in office) alone knows the app's
# name; sc is given a dead name server first and it second (-n, -n,
# --dns-timeout), so the name resolves through the fallback.  The app
# wants basic authentication: proxyd adds the site's credentials (-a,
# a password holding ':' and '@') to plain http:// and to absolute-form
# https:// requests that have none, never to one that has its own, never
# for another port; the password is in no ps output, log line or tunnel
# metadata.  Header rules (-H: set, set empty, remove, remove by prefix)
# are what the app sees; response rules (-R) what the browser sees.  A
# name the office server does not know: 502 with the resolver's reason.
# Bad values, from a flag, a SAUCE_* variable or the config file: exit 1
# naming the flag, no tunnel created.
. "$(dirname "$0")/lib.sh"
command -v dnsmasq >/dev/null || skip "needs dnsmasq (dnsmasq-base)"
APP_NAME=app.office.test
DNS_IP=10.216.$N.53
DEAD_DNS=10.216.$N.54
APP_USER=alice
APP_PASS='s3cr:t@x'

e2e_init
start_server
make_app_cert
office ip addr add "$DNS_IP/32" dev lo
office dnsmasq --keep-in-foreground --no-resolv --no-hosts --no-poll \
    --bind-interfaces --listen-address="$DNS_IP" --port=53 --user=root \
    --pid-file="$TMP/dnsmasq.pid" --log-queries \
    --log-facility="$TMP/dnsmasq.log" \
    --address="/$APP_NAME/$APP_IP" >"$TMP/dnsmasq.out" 2>&1 &
PIDS+=($!)
wait_for 10 grep -q 'started' "$TMP/dnsmasq.log" ||
    fail "dnsmasq did not start: $(cat "$TMP/dnsmasq.out")"
# the system's resolver of office does not know the name
printf 'nameserver %s\n' "$DEAD_DNS" | office_etc resolv.conf
office getent hosts "$APP_NAME" >/dev/null &&
    fail "office's own resolver knows $APP_NAME"
serve_app "$OFFICE" app "$APP_IP" --basic-auth "$APP_USER:$APP_PASS"

launch_sc run -u "$SC_USER" -k "$KEY" -i "$TUNNEL_NAME" \
    --rest-url "$REST_URL" -f "$TMP/ready" --ctl-socket "$TMP/ctl.sock" \
    -n "$DEAD_DNS" -n "$DNS_IP:53" --dns-timeout 300ms \
    -a "$APP_USER:$APP_PASS@$APP_NAME:$APP_PORT" \
    -a "$APP_USER:$APP_PASS@$APP_IP:$APP_TLS_PORT" \
    -a "nobody:nothing@*:9" \
    -H "X-Tunnel: yes" -H "-X-Secret" -H "-X-Internal-*" -H "X-Empty;" \
    -R "-X-Debug-*" -R "X-Via-Tunnel: sc"

# --- DNS: the office server, after the dead one ------------------------
out=$(browse -w '%{http_code}' "http://$APP_NAME:$APP_PORT/private") ||
    fail "GET by name: $out"
[ "$out" = "private ok $APP_USER
200" ] || fail "GET /private by name: '$out'"
grep -qi "query\[A\] $APP_NAME" "$TMP/dnsmasq.log" ||
    fail "the office name server was not asked"
ok "the name only office's server knows resolves (-n dead -n office, fallback in 300ms), credentials added: 200"

out=$(browse -w '%{http_code}' "http://nope.office.test:$APP_PORT/") &&
    true
case $out in
*"cannot resolve nope.office.test"*"name server $DNS_IP:53"*502) ;;
*) fail "unknown name: '$out'" ;;
esac
ok "a name the office server does not know: 502 with the reason and the server"

# --- site credentials ---------------------------------------------------
code=$(browse -o /dev/null -w '%{http_code}' -u "mallory:guess" \
    "http://$APP_NAME:$APP_PORT/private") || fail "GET with credentials"
[ "$code" = 401 ] || fail "the browser's own credentials: $code, want 401"
code=$(browse -o /dev/null -w '%{http_code}' \
    "http://$APP_IP:$APP_PORT/private") || fail "GET by address"
[ "$code" = 401 ] || fail "credentials for the name used for the address: $code"
ok "the browser's own Authorization is left alone (401); credentials go to their host:port only"

out=$(browse -w '%{http_code}' --request-target \
    "https://$APP_IP:$APP_TLS_PORT/private" \
    "http://$APP_IP:$APP_TLS_PORT/private") || fail "https GET: $out"
[ "$out" = "private ok $APP_USER
200" ] || fail "https:// absolute form: '$out'"
ok "absolute-form https:// requests get the credentials too"

# never shown
ps -o args= -p "$SC_PID" >"$TMP/ps.out"
ps -o args= --ppid "$SC_PID" >>"$TMP/ps.out"
grep -q -- "-a $APP_USER:\*\*\*\*\*\*\*\*@$APP_NAME" "$TMP/ps.out" ||
	fail "sc's command line: $(cat "$TMP/ps.out")"
grep -F -- "$APP_PASS" "$TMP/ps.out" && fail "the site password is in ps output"
grep -F -- "$APP_PASS" "$TMP/sc.log" && fail "the site password is in sc's log"
grep -q "site credentials for $APP_NAME port $APP_PORT: user $APP_USER, password \*\*\*\*" \
    "$TMP/sc.log" || fail "no masked credentials line in sc's log"
meta=$(rest GET "/$SC_USER/tunnels/$TUNNEL_ID" | json_get "j['metadata']['command']")
case $meta in
*"$APP_PASS"*) fail "the site password is in the tunnel's metadata" ;;
*"$APP_USER:********@$APP_NAME"*) ;;
*) fail "metadata command: '$meta'" ;;
esac
ok "the password is in no ps output, log line or metadata (shown as ********)"

# --- header rules -------------------------------------------------------
out=$(browse -H "X-Secret: 1" -H "X-Internal-A: a" -H "x-internal-b: b" \
    -H "X-Keep: k" -H "X-Tunnel: no" "http://$APP_NAME:$APP_PORT/echo") ||
    fail "GET /echo: $out"
echo "$out" >"$TMP/echo.out"
grep -qx 'X-Tunnel: yes' "$TMP/echo.out" || fail "X-Tunnel not set: $out"
[ "$(grep -ci '^X-Tunnel:' "$TMP/echo.out")" = 1 ] ||
    fail "X-Tunnel not replaced: $out"
grep -qx 'X-Empty: ' "$TMP/echo.out" || grep -qx 'X-Empty:' "$TMP/echo.out" ||
    fail "X-Empty not there: $out"
grep -qi '^X-Secret:\|^X-Internal-' "$TMP/echo.out" &&
    fail "removed fields reached the app: $out"
grep -qx 'X-Keep: k' "$TMP/echo.out" || fail "X-Keep lost: $out"
ok "request rules: set (replacing), set empty, remove, remove by prefix"

browse -D "$TMP/resp.h" -o /dev/null "http://$APP_NAME:$APP_PORT/respfields" ||
    fail "GET /respfields"
grep -qi '^X-App-Info: app' "$TMP/resp.h" || fail "X-App-Info lost"
grep -qi '^X-Debug-' "$TMP/resp.h" && fail "X-Debug-* reached the browser"
grep -qi '^X-Via-Tunnel: sc' "$TMP/resp.h" || fail "X-Via-Tunnel not set"
ok "response rules: remove by prefix, set"

stop_sc
[ "$SC_STATUS" = 0 ] || fail "sc exit status $SC_STATUS"

# --- bad values: exit 1 at start, naming the flag, before any REST call --
before=$(rest GET "/$SC_USER/tunnels" | json_get 'len(j)')
bad_run "-H: a control character" -H "$(printf 'X-A: b\r\nX-B: c')"
bad_run "-R: bad header name" -R "Bad Name: x"
bad_run "-a: expected user:password@host:port" -a "$APP_NAME:$APP_PORT"
bad_run "-n: 'ns.office.test' is not an IP address" -n ns.office.test
bad_run "--dns-timeout: '5 s' is not a duration" --dns-timeout "5 s"
bad_run "--deny-networks: '10.0.0.0/99'" --deny-networks 10.0.0.0/99
bad_run "--proxy-localhost: 'sometimes'" --proxy-localhost sometimes
SAUCE_HEADER="-Content-Length" bad_run "SAUCE_HEADER: Content-Length frames"
printf 'response-header:\n  - "X-A: \\x01"\n' >"$TMP/bad.yaml"
chmod 600 "$TMP/bad.yaml"
bad_run "config file $TMP/bad.yaml, line 1: response-header: a control character" \
    -c "$TMP/bad.yaml"
[ "$(rest GET "/$SC_USER/tunnels" | json_get 'len(j)')" = "$before" ] ||
    fail "a bad value still created a tunnel"
ok "bad values from flags, SAUCE_* and the config file: exit 1 naming the flag, no tunnel"
e2e_done
