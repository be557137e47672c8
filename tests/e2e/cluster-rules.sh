#!/bin/bash
# Traffic rules for a browser forwarded from another node (issue 21):
# node a holds the tunnel's client session, node b (ports of its own, -D
# too) takes the browsers at its gateway and forwards them to a over a
# node link; on a, the node link's stream never leaves the KGP worker:
# its entry reads the head from the KGP engine and decides as for a
# browser of its own port.  The tunnel's rules (sc -D, -F, -B all):
#  1. deny: 403 from node a naming the rule, the host never reached;
#  2. direct: the internet host answers (a request and a CONNECT, the
#     origin's certificate), no stream down the tunnel;
#  3. down the tunnel: the office app, and 8 MiB byte-exact each way,
#     spliced onto the client's stream (node a logs no socket pair);
#  4. a keep-alive connection through b: a tunnelled request ends it,
#     the next is decided again (200 then 403);
#  5. resigned (sc without -B, the session on a or b): TLS inside a
#     CONNECT through the other node resigned on the session's (its
#     CA), 8 MiB byte-exact, a URL denied inside (403).
SC_DB=pg
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/client-lib.sh"
. "$(dirname "$0")/cluster-lib.sh"
e2e_init
cloud_etc resolv.conf <<EOT
nameserver 127.0.0.1
EOT
cloud_etc hosts <<EOT
127.0.0.1 localhost
$INET_IP www.internet.test ads.internet.test
EOT
office_etc hosts <<EOT
127.0.0.1 localhost
$APP_IP app.office.test
EOT
start_server --node a -D "$INET_IP/32" -G "$CLOUD_IP:4480" -A "$CLOUD_IP/32"
start_app
start_internet
start_sc -D "*.internet.test,$INET_IP" -F 'ads\.internet' -B all

mkdir -p -m 0700 "$TMP/state-b"
ip netns exec "$CLOUD" "$SC_SERVER" -d -v -s "$TMP/state-b" --node b \
    -R "$CLOUD_IP:4401" -K "$CLOUD_IP:4444" -G "$CLOUD_IP:4481" \
    -D "$INET_IP/32" -A "$CLOUD_IP/32" >>"$TMP/server-b.log" 2>&1 &
SERVER_B=$!
PIDS+=("$SERVER_B")
wait_for 10 cloud curl -sS --max-time 1 -o /dev/null "$REST_B/" ||
    fail "node b's REST API does not answer"
wait_for 10 node_is "$TUNNEL_ID" a || fail "the tunnel's node is not a"

APP=http://app.office.test:$APP_PORT
INET=http://www.internet.test:$APP_PORT

# via PORT [curl args]: curl in cloud through the gateway on PORT (a's
# 4480, b's 4481), the tunnel named in the proxy user
via() {
	local port=$1
	shift
	cloud curl -sS --max-time 30 -x "http://$CLOUD_IP:$port" \
	    --proxy-user "$SC_USER+$TUNNEL_NAME:$KEY" "$@"
}
via_b() {
	via 4481 "$@"
}
code() {
	local url=$1
	shift
	via_b -o "$TMP/body" -w '%{http_code}' "$@" "$url" 2>/dev/null
}
# the first: b's link to a comes up
wait_for 15 test "$(code "$APP/text/first")" = 200 ||
    fail "through b's gateway: $(code "$APP/text/first") $(cat "$TMP/body")"
grep -q "node a: link to $CLOUD_IP port $KGP_PORT up" "$TMP/server-b.log" ||
    fail "node b logged no link to a"
before=$(ctl_field streams-total)

# 1. deny
c=$(code "http://ads.internet.test:$APP_PORT/banner")
[ "$c" = 403 ] && grep -q "ads\\\\.internet" "$TMP/body" ||
    fail "-F ads through b: status $c: $(cat "$TMP/body")"
grep -q "GET http://ads.internet.test:$APP_PORT/banner from .* via b: denied" \
    "$TMP/server.log" || fail "node a did not log the denial"
grep -q 'GET /banner' "$TMP/inet.log" && fail "a denied request reached the host"
ok "deny through b: 403 from a, '$(cat "$TMP/body")'"

# 2. direct, a request and a CONNECT
c=$(code "$INET/text/directb")
[ "$c" = 200 ] && [ "$(cat "$TMP/body")" = "response directb" ] ||
    fail "-D through b: status $c: $(cat "$TMP/body")"
grep -q 'GET /text/directb' "$TMP/inet.log" ||
    fail "the internet host did not see /text/directb"
c=$(via_b --cacert "$TMP/inet.crt" -o "$TMP/body" \
    -w '%{http_connect} %{http_code}' \
    "https://www.internet.test:$APP_TLS_PORT/text/tlsb" 2>&1)
[ "$c" = "200 200" ] && [ "$(cat "$TMP/body")" = "response tlsb" ] ||
    fail "CONNECT direct through b: '$c'"
[ "$(ctl_field streams-total)" = "$before" ] ||
    fail "deny and direct opened streams: $(ctl_field streams-total), was $before"
ok "direct through b: the internet host answers, a request and a CONNECT" \
    "(its certificate); no stream down the tunnel"

# 3. down the tunnel, spliced: 8 MiB each way, byte-exact
SIZE=$((8 * 1024 * 1024))
want=$(gen_sha256 "$SIZE" 41)
via_b -o "$TMP/down" "$(app_url "/bytes/$SIZE?seed=41")" 2>"$TMP/err" ||
    fail "the download through b: $(cat "$TMP/err")"
got=$(sha256sum "$TMP/down" | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "the download through b: digest $got, want $want"
"$PYTHON" "$E2E_DIR/app.py" gen "$SIZE" 42 >"$TMP/up.bin"
want=$(sha256sum "$TMP/up.bin" | cut -d' ' -f1)
via_b -o "$TMP/up.json" --data-binary "@$TMP/up.bin" \
    -H 'Content-Type: application/octet-stream' "$(app_url /sink)" \
    2>"$TMP/err" || fail "the upload through b: $(cat "$TMP/err")"
[ "$(json_get "j['sha256']" <"$TMP/up.json")" = "$want" ] ||
    fail "the upload through b: $(cat "$TMP/up.json")"
grep -q "socketpair" "$TMP/server.log" && fail "node a logged a socket pair"
ok "8 MiB down and up through b to the client on a, byte-exact"

# 4. keep-alive through b: the tunnelled request ends its connection
c=$(via_b -o /dev/null -o /dev/null -w '%{http_code} ' "$APP/text/ka1" \
    "http://ads.internet.test:$APP_PORT/ka2" 2>/dev/null)
[ "$c" = "200 403 " ] || fail "tunnel then deny on one connection: '$c'"
ok "a tunnelled request through b ends its connection: the next is decided (200 403)"

# 5. resigned (sc without -B): a CONNECT through the node that does not
#    hold the session (placement picks it), its TLS resigned on the one
#    that does, with that node's CA; the requests inside decided one by
#    one
stop_sc
start_sc -D "*.internet.test,$INET_IP" -F '.*/denied/.*'
wait_for 10 test "$(node_of "$TUNNEL_ID")" != - ||
    fail "the new tunnel's session is on no node"
if node_is "$TUNNEL_ID" a; then
	holder=a fwd=b gw=4481 rest=$REST_URL
else
	holder=b fwd=a gw=4480 rest=$REST_B
fi
cloud curl -sS --max-time 5 -o "$TMP/ca.pem" "$rest/public/ca.pem" ||
    fail "GET $holder's /public/ca.pem"
resigned() {
	out=$(via "$gw" --cacert "$TMP/ca.pem" \
	    -w ' %{http_connect} %{http_code}' "$(app_tls_url /text/rs)" 2>&1)
	[ "$out" = "response rs
 200 200" ]
}
wait_for 20 resigned || fail "a resigned GET through $fwd: '$out'"
grep -q "CONNECT $APP_IP:$APP_TLS_PORT from .*: to node $holder" \
    "$TMP/server.log" "$TMP/server-b.log" ||
    fail "node $fwd did not forward the CONNECT to $holder"
want=$(gen_sha256 "$SIZE" 43)
via "$gw" --cacert "$TMP/ca.pem" -o "$TMP/down" \
    "$(app_tls_url "/bytes/$SIZE?seed=43")" 2>"$TMP/err" ||
    fail "a resigned download through $fwd: $(cat "$TMP/err")"
got=$(sha256sum "$TMP/down" | cut -d' ' -f1)
[ "$got" = "$want" ] ||
    fail "a resigned download through $fwd: digest $got, want $want"
c=$(via "$gw" --cacert "$TMP/ca.pem" -o "$TMP/body" -w '%{http_code}' \
    "$(app_tls_url /denied/x)" 2>/dev/null)
[ "$c" = 403 ] || fail "a denied URL inside resigned TLS through $fwd: $c"
via "$gw" --cacert "$TMP/app.crt" -o /dev/null "$(app_tls_url /text/x)" \
    2>/dev/null && fail "the app's own certificate verified a resigned connection"
ok "resigned through $fwd for the session on $holder: $holder's CA" \
    "verifies, 8 MiB byte-exact, a URL denied inside the TLS (403)"
kill -0 "$SERVER_PID" && kill -0 "$SERVER_B" || fail "a node died"
e2e_done
