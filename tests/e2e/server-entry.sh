#!/bin/bash
# Entry proxy access control.  With -E 0.0.0.0 and no -A only loopback
# may use an entry proxy: the cloud address and office get 403 and a log
# line.  With -A OFFICE_IP -P: office may, with Proxy-Authorization of
# the tunnel's owner only (407 with Proxy-Authenticate otherwise), for a
# GET and a CONNECT; cloud's address is still refused.  Also: plain HTTP
# REST on a non-loopback address logs a warning.
. "$(dirname "$0")/lib.sh"
e2e_init
start_server -E 0.0.0.0 -H "$CLOUD_IP"
start_app

grep -q 'REST API on a non-loopback address without TLS' "$TMP/server.log" ||
    fail "no warning about plain HTTP on $CLOUD_IP"
ok "plain HTTP REST on $CLOUD_IP: warning logged"

start_sc
port=${ENTRY##*:}
[ "$ENTRY" = "$CLOUD_IP:$port" ] || fail "entry proxy '$ENTRY', want $CLOUD_IP:$port"

# status_via NS PROXY [curl args] URL: the status code of a proxied GET
status_via() {
	local ns=$1 proxy=$2
	shift 2
	"$ns" curl -sS --max-time 20 -o "$TMP/via.out" -D "$TMP/via.h" \
	    -w '%{http_code}' -x "http://$proxy" "$@"
}

code=$(status_via cloud "127.0.0.1:$port" "$(app_url /text/lo)")
[ "$code" = 200 ] && [ "$(cat "$TMP/via.out")" = "response lo" ] ||
    fail "loopback through the entry proxy: status $code"
ok "loopback client: 200 through the tunnel"
code=$(status_via cloud "$ENTRY" "$(app_url /text/x)")
[ "$code" = 403 ] || fail "cloud address without -A: status $code, want 403"
ok "client on $CLOUD_IP without -A: 403 '$(cat "$TMP/via.out")'"
code=$(status_via office "$ENTRY" "$(app_url /text/x)")
[ "$code" = 403 ] || fail "office without -A: status $code, want 403"
ok "client on $OFFICE_IP without -A: 403"
grep -q "entry connection from $OFFICE_IP:[0-9]* refused" "$TMP/server.log" ||
    fail "no log line for the refused connection"
ok "refusals logged"

# again with -A OFFICE_IP -P
stop_sc
[ "$SC_STATUS" = 0 ] || fail "sc: exit $SC_STATUS after SIGTERM"
kill -TERM "$SERVER_PID"
wait_for 10 not_running "$SERVER_PID" || fail "sc-server did not exit"
mv "$TMP/server.log" "$TMP/server1.log"
run_server -E 0.0.0.0 -H "$CLOUD_IP" -A "$OFFICE_IP/32" -P
start_sc
grep -q 'entry proxies require Proxy-Authorization' "$TMP/server.log" ||
    fail "-P not announced in the log"

code=$(status_via office "$ENTRY" "$(app_url /text/x)")
[ "$code" = 407 ] || fail "-A office, no credentials: status $code, want 407"
grep -qi '^Proxy-Authenticate: Basic' "$TMP/via.h" ||
    fail "407 without Proxy-Authenticate: Basic"
ok "-A $OFFICE_IP -P, no credentials: 407 with Proxy-Authenticate"
code=$(status_via office "$ENTRY" --proxy-user "$SC_USER:wrong" \
    "$(app_url /text/x)")
[ "$code" = 407 ] || fail "wrong key: status $code, want 407"
ok "wrong proxy key: 407"
code=$(status_via office "$ENTRY" --proxy-user "$SC_USER:$KEY" \
    "$(app_url /text/auth)")
[ "$code" = 200 ] && [ "$(cat "$TMP/via.out")" = "response auth" ] ||
    fail "owner's credentials: status $code"
ok "owner's credentials: 200 through the tunnel"
code=$(status_via office "$ENTRY" --proxy-user "$SC_USER:$KEY" -k \
    "$(app_tls_url /text/tls)")
[ "$code" = 200 ] && [ "$(cat "$TMP/via.out")" = "response tls" ] ||
    fail "CONNECT with the owner's credentials: status $code"
ok "CONNECT with the owner's credentials: 200"
code=$(status_via office "$ENTRY" --proxy-user "bob:$KEY" \
    "$(app_url /text/x)")
[ "$code" = 407 ] || fail "another user name: status $code, want 407"
ok "another user name with the key: 407"
code=$(status_via cloud "$ENTRY" --proxy-user "$SC_USER:$KEY" \
    "$(app_url /text/x)")
[ "$code" = 403 ] || fail "cloud address with -A office: status $code, want 403"
ok "$CLOUD_IP not in -A: 403 even with credentials"
grep -q 'proxy authentication missing, 407' "$TMP/server.log" &&
    grep -q 'proxy authentication failed, 407' "$TMP/server.log" ||
    fail "no log line for the 407s"
ok "407s logged"
stop_sc
[ "$SC_STATUS" = 0 ] || fail "sc: exit $SC_STATUS after SIGTERM"
e2e_done
