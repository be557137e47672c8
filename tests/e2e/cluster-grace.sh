#!/bin/bash
# A session briefly broken within its grace keeps its node (issue 21):
# two nodes on one PostgreSQL, C on $CLOUD_IP (the client's, -g 60) and
# A on $A_IP (in cloud too), a browser at A's entry of the tunnel, which
# A forwards to C over a node link.
#  1. the client's connection to C is cut (office answers C's packets
#     with a TCP reset, so C's own reads fail): C logs the connection lost and
#     keeps the session; tunnels.node stays nodec all the while;
#  2. a request through A's entry made during the cut gets its answer
#     (200, the app's bytes) once the client is back: A still finds the
#     tunnel's session at C, and the client resumed it there.
SC_DB=pg
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/resume-lib.sh"
e2e_init
fw_init

A_IP=10.216.$N.1
A_REST=http://$A_IP:$REST_PORT/rest/v1
cloud ip addr add "$A_IP/32" dev lo
office ip route add "$A_IP/32" via "$CLOUD_IP"

start_server --node nodec -g 60
start_app
start_sc --max-missed-acks 3

node_is() {
	[ "$(db_query "SELECT coalesce(node, '-') FROM tunnels WHERE id = '$TUNNEL_ID'")" = "$1" ]
}
wait_for 10 node_is nodec || fail "tunnels.node of $TUNNEL_ID is not nodec"

ip netns exec "$CLOUD" "$SC_SERVER" -d -v -s "$TMP/stateA" \
    -R "$A_IP:$REST_PORT" -K "$A_IP:$KGP_PORT" -E "$A_IP" -H "$A_IP" \
    -G "$A_IP:4480" -A "$A_IP/32" --node nodea -g 60 >>"$TMP/serverA.log" 2>&1 &
A_PID=$!
PIDS+=("$A_PID")
wait_for 10 cloud curl -sS --max-time 1 -o /dev/null "$A_REST/" ||
    fail "node A's REST API does not answer"
a_entry_up() {
	A_ENTRY=$(cloud curl -sS --max-time 5 -u "$SC_USER:$KEY" \
	    "$A_REST/$SC_USER/tunnels?full=true" 2>/dev/null |
	    json_get "[t['entry_proxy'] for t in j if t['id'] == '$TUNNEL_ID'][0]" 2>/dev/null)
	case $A_ENTRY in "$A_IP":*) return 0 ;; esac
	return 1
}
wait_for 15 a_entry_up || fail "node A has no entry proxy of tunnel $TUNNEL_ID: '$A_ENTRY'"
via_a() {
	cloud curl -sS --max-time 30 -x "http://$A_ENTRY" "$@"
}
[ "$(via_a "$(app_url /text/before)")" = "response before" ] ||
    fail "no answer through A's entry before the cut"

# 1. the cut: C's packets to office answered with a reset
if [ "$FW" = nft ]; then
	office nft add rule inet sc_e2e in tcp sport "$KGP_PORT" reject with tcp reset
else
	office iptables -A SC_E2E_IN -p tcp --sport "$KGP_PORT" -j REJECT --reject-with tcp-reset
fi || fail "cannot add the rule of the cut"
wait_for 15 grep -q "tunnel $TUNNEL_ID: connection 0 lost: .*; keeping it for 60 s" "$TMP/server.log" ||
    fail "C did not lose the client's connection"
# the request through A, made during the cut
via_a -o "$TMP/during" -w '%{http_code}' "$(app_url /text/during)" \
    >"$TMP/during.code" 2>"$TMP/during.err" &
REQ=$!
PIDS+=("$REQ")
# the session waits at C: its node is not cleared (C's parent hears of
# the break at once; it is watched for 3 s)
node_not() {
	! node_is "$1"
}
if wait_for 3 node_not nodec; then
	fail "tunnels.node of $TUNNEL_ID is '$(db_query "SELECT coalesce(node, '-') FROM tunnels WHERE id = '$TUNNEL_ID'")' while its session waits for its client at C"
fi
ok "the client's connection lost at C: tunnels.node stayed nodec for 3 s"

# 2. the client back: the request made during the cut is answered
fw_clear
wait_for 30 grep -q "tunnel $TUNNEL_ID: connection 0 resumed" "$TMP/server.log" ||
    fail "the client did not resume its session at C"
wait_for 30 not_running "$REQ" || fail "the request through A made during the cut did not end"
wait "$REQ" || fail "the request through A made during the cut failed: $(cat "$TMP/during.err")"
[ "$(cat "$TMP/during.code")" = 200 ] && [ "$(cat "$TMP/during")" = "response during" ] ||
    fail "the request through A made during the cut: $(cat "$TMP/during.code") '$(cat "$TMP/during")'"
node_is nodec || fail "tunnels.node is not nodec after the resume"
ok "a request through A made during the cut: 200 once the client resumed at C"
