#!/bin/bash
# Placement and failover of two sc-server nodes on one PostgreSQL
# (issue 21): node a (the usual ports) and node b (ports and a state
# directory of their own, node a's KGP key pair: one a cluster's clients
# pin) in cloud, the clients in office.
#  1. sc "one" is placed on a (no node holds a session yet, the node
#     that answers wins ties); once a's heartbeat says it holds one, the
#     create answer of sc "two" names b, the least-loaded node, and its
#     connection comes up there (tunnels.node = b; while b's parent is
#     stopped, b holds its HELLO for KGP_HOLD_MS, 1 s, then answers "try
#     again" and sc tries again after 20 ms, not after the backoff);
#     "sc-server node
#     list" shows both nodes up, a and b holding one tunnel each;
#  2. node b killed with SIGKILL: sc "two" asks the REST API again,
#     moves to a and fetches a page through a's entry proxy again within
#     the bound (NODE_DEAD_SEC, 10 s, and the reconnection's waits);
#     node list says b is down, and so do a's metrics.
SC_DB=pg
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/client-lib.sh"
. "$(dirname "$0")/cluster-lib.sh"
e2e_init
prom_init
start_server --node a -m "$CLOUD_IP:9100"
start_app

start_b shared

# 1. placement
sc_v4 one -i one-$$
sc_ready one
id1=$(sc_id one)
wait_for 5 node_is "$id1" a || fail "sc one's tunnel $id1 is held by '$(node_of "$id1")', not a"
wait_for 10 held a 1 || fail "node a's row does not say it holds 1 tunnel"
# b's parent stopped: b's KGP worker has not read sc two's tunnel (made
# through a a moment before), and its parent cannot read it now: the
# HELLO waits its bound (1 s), then b answers "try again" (code 5);
# sc tries again after 20 ms (LINK_SOON_MS), not after the backoff, and
# the tunnel comes up once b's parent reads it
kill -STOP "$SERVER_B"
sc_v4 two -i two-$$
if ! wait_for 15 grep -q "Reconnecting in 0.02 seconds (connection 0: the server says try again)" "$TMP/two.log"; then
	kill -CONT "$SERVER_B"
	fail "sc two did not try again at once: $(grep -i 'reconnect\|lost' "$TMP/two.log" | head -n 5)"
fi
kill -CONT "$SERVER_B"
sc_ready two
id2=$(sc_id two)
wait_for 5 node_is "$id2" b || fail "sc two's tunnel $id2 is held by '$(node_of "$id2")', not b"
wait_for 10 held b 1 || fail "node b's row does not say it holds 1 tunnel"
"$SC_SERVER" -s "$TMP/state" node list >"$TMP/nodes" ||
    fail "sc-server node list failed"
grep -Eq '^a +10\.213\.[0-9]+\.1:4443/4480 +up +1 ' "$TMP/nodes" &&
    grep -Eq '^b +10\.213\.[0-9]+\.1:4444/4481 +up +1 ' "$TMP/nodes" ||
    fail "node list: $(cat "$TMP/nodes")"
metric() {
	cloud curl -sS --max-time 5 -o "$TMP/metrics" "http://$CLOUD_IP:9100/metrics" &&
	    [ "$(prom_value "$TMP/metrics" "$@")" = "$WANT" ]
}
WANT=1 metric sc_server_node_info node=a || fail "no sc_server_node_info{node=\"a\"} 1 in a's metrics"
WANT=1 wait_for 5 metric sc_server_cluster_node_up node=b state=up ||
    fail "a's metrics do not say b is up: $(grep cluster_node "$TMP/metrics")"
WANT=1 wait_for 5 metric sc_server_cluster_node_sessions node=b ||
    fail "a's metrics do not say b holds 1 session: $(grep cluster_node "$TMP/metrics")"
ok "sc one on a, sc two placed on b (the least loaded); node list: $(tail -n +2 "$TMP/nodes" | awk '{print $1, $3, $4}' | tr '\n' ' ')"

# 2. node b killed
entry2=$(tunnel_on "$REST_URL" "$id2" entry_proxy)
[ -n "$entry2" ] || fail "no entry proxy of $id2 on a"
t0=$(date +%s%N)
kill -KILL "$SERVER_B"
wait_for 5 not_running "$SERVER_B" || fail "node b still runs"
fetched() { fetch_via "$entry2" moved; }
wait_for 40 fetched || fail "no page through a's entry proxy for $id2 within 40 s of node b's kill: $(grep -i 'moving\|connection' "$TMP/two.log" | tail -n 5)"
ms=$((($(date +%s%N) - t0) / 1000000))
grep -q "Moving to the tunnel server at $CLOUD_IP:4443" "$TMP/two.log" ||
    fail "sc two does not say it moves to a"
node_is "$id2" a || fail "tunnel $id2 is held by '$(node_of "$id2")' after the move"
[ "$ms" -le 30000 ] || fail "the move took $ms ms, more than the 30 s bound"
sc_alive() { ! not_running "${SCPID[two]}"; }
sc_alive || fail "sc two exited"
down_b() {
	"$SC_SERVER" -s "$TMP/state" node list | grep -Eq '^b .* down '
}
wait_for 15 down_b || fail "node list does not say b is down: $("$SC_SERVER" -s "$TMP/state" node list)"
WANT=0 wait_for 5 metric sc_server_cluster_node_up node=b ||
    fail "a's metrics do not say b is down: $(grep cluster_node "$TMP/metrics")"
ok "node b killed: sc two moved to a and fetched a page after $ms ms; node list says b is down"

e2e_done
