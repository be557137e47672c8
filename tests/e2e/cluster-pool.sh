#!/bin/bash
# A pool over two nodes, browsers at a third (issue 21): nodes a and b
# (cluster-lib.sh: cloud, ports of their own) and node c (its own
# address $C_IP in cloud, its gateway -G there) on one PostgreSQL, one
# KGP key pair; the app only in office.
#  1. a tunnel on a first, then two sc --tunnel-pool members of one
#     name through a's REST API (the clients' -x: a stays up): the first
#     placed on b, the least loaded, the second on a (tunnels.node); node
#     c started after them; 20 requests through c's gateway (the pool's
#     name as the proxy user), all 200, forwarded over node links;
#  2. node b killed -9 during a loop of requests through c's gateway:
#     requests fail for no longer than NODELINK_CONNECT_SEC (5 s,
#     sc-server(8), "Node links") after the kill, the gateway taking the
#     member on a; every request after that succeeds, until b's member
#     has moved to a live node and for 20 requests more.  (Before the
#     gateway passed a remote member that failed, it kept sending every
#     browser to b's member until that member had moved: 503s for 15 s.)
SC_DB=pg
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/client-lib.sh"
. "$(dirname "$0")/cluster-lib.sh"
e2e_init
prom_init

BOUND_MS=5000		# NODELINK_CONNECT_SEC
FAIL_MAX=2
POOL=pool-$$
C_IP=10.216.$N.1
C_REST=http://$C_IP:$REST_PORT/rest/v1
C_GW=$C_IP:4480
cloud ip addr add "$C_IP/32" dev lo
office ip route add "$C_IP/32" via "$CLOUD_IP"

start_server --node a -m "$CLOUD_IP:9100"
start_app
start_b shared
# a tunnel on a first, so that the pool's first member goes to b
start_sc
wait_for 10 held a 1 || fail "node a's row does not say it holds sc's session"

# 1. two members, created through a's REST API (sc's -x: a stays up)
member() {
	sc_bg "$1" -u "$SC_USER" -k "$KEY" -x "$REST_URL" -i "$POOL" \
	    --tunnel-pool -f "$TMP/$1.ready" --ctl-socket "$TMP/$1.sock"
	sc_ready "$1"
}
member m1
id1=$(sc_id m1)
wait_for 5 node_is "$id1" b || fail "member 1 ($id1) is held by '$(node_of "$id1")', not b"
# a's REST worker places by the figures it last read: b's 1 in them
sessions_b() {
	cloud curl -sS --max-time 5 -o "$TMP/metrics" "http://$CLOUD_IP:9100/metrics" &&
	    [ "$(prom_value "$TMP/metrics" sc_server_cluster_node_sessions node=b)" = 1 ]
}
wait_for 10 sessions_b || fail "a's figures do not say b holds member 1: $(grep cluster_node "$TMP/metrics")"
member m2
id2=$(sc_id m2)
wait_for 5 node_is "$id2" a || fail "member 2 ($id2) is held by '$(node_of "$id2")', not a"

# node c after the placement: it holds no member, it reads them
mkdir -p -m 0700 "$TMP/state-c"
cp "$TMP/state/server.key" "$TMP/state/server.crt" "$TMP/state-c/" ||
    fail "cannot copy node a's key pair"
ip netns exec "$CLOUD" "$SC_SERVER" -d -v -s "$TMP/state-c" --node c \
    -R "$C_IP:$REST_PORT" -K "$C_IP:$KGP_PORT" -E "$C_IP" -H "$C_IP" \
    -G "$C_GW" -A "$C_IP/32" >>"$TMP/server-c.log" 2>&1 &
SERVER_C=$!
PIDS+=("$SERVER_C")
wait_for 10 cloud curl -sS --max-time 1 -o /dev/null "$C_REST/" ||
    fail "node c's REST API does not answer"

# gw WHAT: a request through c's gateway for the app's /text/WHAT; its
# status (000: no answer)
gw() {
	local code
	code=$(cloud curl -sS --max-time 5 -o "$TMP/gw.out" -w '%{http_code}' \
	    -x "http://$C_GW" --proxy-user "$SC_USER+$POOL:$KEY" \
	    "$(app_url "/text/$1")" 2>/dev/null)
	[ "$code" = 200 ] && [ "$(cat "$TMP/gw.out")" = "response $1" ] ||
	    code=${code:-000}x
	echo "$code"
}
gw_ok() { [ "$(gw "$1")" = 200 ]; }
wait_for 15 gw_ok first || fail "c's gateway does not serve the pool: $(gw first)"
for n in $(seq 1 20); do
	code=$(gw "before$n")
	[ "$code" = 200 ] || fail "request $n through c's gateway: $code"
done
# the members c's gateway took
used() {
	grep -c "gateway: GET $(app_url /text/before)[0-9]* from .*: tunnel $1" \
	    "$TMP/server-c.log"
}
victim=b vpid=$SERVER_B moved=$id1
[ "$(used "$id1")" -gt 0 ] && [ "$(used "$id2")" -gt 0 ] ||
    fail "c's gateway sent $(used "$id1") requests to the member on b, $(used "$id2") to a's: want both"
ok "members placed on b ($id1) and a ($id2); 20 requests through node c's" \
    "gateway all 200, $(used "$id1") by the member on b, $(used "$id2") by a's"

# 2. the victim's node killed -9 in a loop of requests through c's gateway
declare -a AT=() CODE=()
n=0
t0=
kill_ms=
moved_ms=
ok_after=0
while :; do
	now=$(($(date +%s%N) / 1000000))
	[ -n "$t0" ] || t0=$now
	if [ -z "$kill_ms" ] && [ "$n" = 10 ]; then
		kill -KILL $(proc_tree "$vpid")
		kill_ms=$(($(date +%s%N) / 1000000))
		log "node $victim killed at request $n"
	fi
	code=$(gw "loop$n")
	AT+=($(($(date +%s%N) / 1000000)))
	CODE+=("$code")
	n=$((n + 1))
	[ -n "$kill_ms" ] || continue
	if [ -z "$moved_ms" ]; then
		node=$(node_of "$moved")
		case $node in a|b|c) [ "$node" != "$victim" ] &&
		    moved_ms=$(($(date +%s%N) / 1000000)) ;; esac
	fi
	if [ "$code" = 200 ]; then
		ok_after=$((ok_after + 1))
	else
		ok_after=0
	fi
	[ -n "$moved_ms" ] && [ "$ok_after" -ge 20 ] && break
	[ $(($(date +%s%N) / 1000000 - kill_ms)) -lt 60000 ] ||
	    fail "60 s after the kill: member moved: ${moved_ms:-no}, last codes: ${CODE[*]: -10}"
done
nfail=0
worst=0
for i in "${!CODE[@]}"; do
	[ "${CODE[$i]}" = 200 ] && continue
	nfail=$((nfail + 1))
	late=$((AT[i] - kill_ms))
	[ "$late" -le "$worst" ] || worst=$late
done
log "$n requests, $nfail failed, the last failure $worst ms after the kill: ${CODE[*]}"
[ "$worst" -le "$BOUND_MS" ] ||
    fail "a request through c's gateway failed $worst ms after node $victim's kill (bound $BOUND_MS ms); $nfail of $n failed: ${CODE[*]}"
# one on its way to b when b's link went, perhaps; the next ones pass b's
# member over
[ "$nfail" -le "$FAIL_MAX" ] ||
    fail "$nfail of $n requests through c's gateway failed after node $victim's kill, want $FAIL_MAX at most: ${CODE[*]}"
ok "node $victim killed -9: $nfail of $n requests through c's gateway failed," \
    "the last ${worst} ms after the kill (bound $BOUND_MS); member $moved" \
    "moved to node $(node_of "$moved") $((moved_ms - kill_ms)) ms after it," \
    "and the last $ok_after requests all succeeded"
e2e_done
