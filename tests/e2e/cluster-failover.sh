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
#  2. node b killed with SIGKILL: sc "two" (4 tunnel connections, its
#     REST API behind restfault.py, which answers each GET of the tunnel
#     503 after 1.5 s until connection 0 failed 5 times) asks the REST
#     API again, one GET for all its connections each round (no more
#     GETs in restfault.py's log than connection 0 made attempts),
#     without blocking its event loop (sc-ctl status answers within
#     1 s all along); then, the REST API answering, it moves to a and
#     fetches a page through a's entry proxy again within the bound
#     (NODE_DEAD_SEC, 10 s, and the reconnection's waits); node list
#     says b is down, and so do a's metrics.
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
# sc two's REST API: a's, behind restfault.py, slow once $TMP/slow exists
ip netns exec "$CLOUD" "$PYTHON" "$E2E_DIR/restfault.py" \
    --listen "$CLOUD_IP:4411" --upstream "$CLOUD_IP:$REST_PORT" \
    --log "$TMP/two.rest" \
    --rule '{"method": "GET", "path": "/tunnels/[0-9a-f]+$", "delay": 1.5, "status": 503, "if_file": "'"$TMP/slow"'"}' \
    >"$TMP/fault.log" 2>&1 &
PIDS+=("$!")
wait_for 10 grep -q listening "$TMP/fault.log" ||
    fail "restfault.py does not start: $(cat "$TMP/fault.log")"
sc_bg two -u "$SC_USER" -k "$KEY" -x "http://$CLOUD_IP:4411/rest/v1" \
    -f "$TMP/two.ready" --ctl-socket "$TMP/two.sock" -i two-$$ \
    --tunnel-connections 4
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
attempts() { grep -c 'connection 0: cannot connect' "$TMP/two.log"; }
attempts0=$(attempts)
touch "$TMP/slow"
# sc-ctl status, every 0.2 s while sc two moves: the slowest answer
ctl_probe() {
	local t s most=0
	while [ ! -e "$TMP/probe.stop" ]; do
		t=$(date +%s%N)
		timeout 20 ip netns exec "$OFFICE" "$SC_CTL" -s "$TMP/two.sock" status >/dev/null 2>&1 ||
		    { echo "fail" >"$TMP/probe.out"; return; }
		s=$((($(date +%s%N) - t) / 1000000))
		[ "$s" -gt "$most" ] && most=$s
		echo "$most" >"$TMP/probe.out"
		sleep 0.2
	done
}
ctl_probe &
PROBE=$!
PIDS+=("$PROBE")
t0=$(date +%s%N)
kill -KILL "$SERVER_B"
wait_for 5 not_running "$SERVER_B" || fail "node b still runs"
five() { [ $(($(attempts) - attempts0)) -ge 5 ]; }
wait_for 30 five || fail "connection 0 of sc two did not fail 5 times: $(grep 'connection 0' "$TMP/two.log" | tail -n 3)"
rounds=$(($(attempts) - attempts0))
rm -f "$TMP/slow"
fetched() { fetch_via "$entry2" moved; }
wait_for 40 fetched || fail "no page through a's entry proxy for $id2 within 40 s of node b's kill: $(grep -i 'moving\|connection' "$TMP/two.log" | tail -n 5)"
ms=$((($(date +%s%N) - t0) / 1000000))
touch "$TMP/probe.stop"
wait "$PROBE"
grep -q "Moving to the tunnel server at $CLOUD_IP:4443" "$TMP/two.log" ||
    fail "sc two does not say it moves to a"
n=$(grep -c "GET /rest/v1/$SC_USER/tunnels/$id2 503" "$TMP/two.rest")
[ "$n" -ge 1 ] && [ "$n" -le "$rounds" ] ||
    fail "sc two asked the REST API $n times for 4 connections, connection 0 failed $rounds times: want 1 GET a round at most"
most=$(cat "$TMP/probe.out" 2>/dev/null)
[ -n "$most" ] && [ "$most" != fail ] && [ "$most" -lt 1000 ] ||
    fail "sc-ctl status took $most ms while sc two asked a slow REST API (1.5 s a GET), want < 1000"
ok "4 connections, b killed, the REST API slow: $n GETs of the tunnel while connection 0 failed $rounds times; sc-ctl status answered in $most ms at most"
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
