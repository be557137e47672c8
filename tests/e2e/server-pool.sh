#!/bin/bash
# Pools behind the gateway (issue 19): three --tunnel-pool clients of one
# name, each in an office namespace of its own with its own app (the
# same address in each, reachable from nowhere else: the app that logs a
# request proves the member that carried it).  The REST API shows the
# pool on each member.  Through the gateway (user alice+pool):
# connections spread over the members, each serves some; a new
# connection goes to the member with the fewest open streams (two
# members busy with slow answers: the quick requests all go to the
# third); a member killed with SIGKILL drops out and the next requests
# all succeed; with every member gone, 503 with the reason.
. "$(dirname "$0")/lib.sh"
GW=127.0.0.1:4480
POOL=pool-$$
EXTRA_NS=()

e2e_init
# the extra namespaces go with the test, before lib.sh's cleanup
trap 'st=$?; for ns in "${EXTRA_NS[@]}"; do
	for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p"; done
	ip netns del "$ns" 2>/dev/null; done; (exit $st); cleanup' EXIT
start_server

# office_n N: namespace $OFFICE-N, its veth to cloud (10.216.N.x/30 with
# a route to the server), the app on $APP_IP on its loopback
office_n() {
	local i=$1 ns=sc-office$1-$$ net=10.$((215 + $1)).$N
	EXTRA_NS+=("$ns")
	ip netns add "$ns" || fail "ip netns add $ns"
	ip link add name "veth$i" netns "$CLOUD" type veth peer name veth0 \
	    netns "$ns" || fail "veth for $ns"
	ip netns exec "$ns" ip link set lo up
	ip netns exec "$ns" ip addr add "$net.2/30" dev veth0
	ip netns exec "$ns" ip addr add "$APP_IP/32" dev lo
	cloud ip addr add "$net.1/30" dev "veth$i"
	ip netns exec "$ns" ip link set veth0 up
	cloud ip link set "veth$i" up
	# no default route: a name server out of reach fails at once
	ip netns exec "$ns" ip route add "$CLOUD_IP/32" via "$net.1" ||
	    fail "route in $ns"
	wait_for 5 ip netns exec "$ns" curl -sS --max-time 1 -o /dev/null \
	    "$REST_URL/" ||
	    fail "$ns does not reach $CLOUD_IP"
	make_cert "app$i" "IP:$APP_IP"
	serve_app "$ns" "app$i" "$APP_IP"
}
office_n 1
office_n 2
office_n 3
cloud curl -sS --max-time 3 -o /dev/null "$(app_url /)" 2>/dev/null &&
    fail "an app is reachable from cloud without a tunnel"

# a client's sc and its children go at once, kill -KILL $(proc_tree
# PID): one left behind would delete the tunnel on its way out
# member N: sc --tunnel-pool in office N
member() {
	local i=$1
	rm -f "$TMP/ready.$i"
	ip netns exec "sc-office$i-$$" "$SC" -u "$SC_USER" -k "$KEY" \
	    -x "$REST_URL" -i "$POOL" --tunnel-pool -f "$TMP/ready.$i" \
	    -d "$TMP/sc.$i.pid" --ctl-socket "$TMP/ctl.$i.sock" \
	    >"$TMP/sc.$i.log" 2>&1 &
	PIDS+=($!)
	eval "SC_$i=$!"
	wait_for 30 test -e "$TMP/ready.$i" || fail "member $i not ready"
	eval "ID_$i=$(sed -n 's/.*Tunnel ID: \([0-9a-f]*\).*/\1/p' \
	    "$TMP/sc.$i.log" | head -n 1)"
}
member 1
member 2
member 3

# --- the REST API shows the pool -------------------------------------------
want=$(printf '%s\n' "$ID_1" "$ID_2" "$ID_3" | sort | tr '\n' ' ')
for i in 1 2 3; do
	id=$(eval echo "\$ID_$i")
	got=$(rest GET "/$SC_USER/tunnels/$id" | json_get \
	    "j['pool']['name'] + ' ' + ' '.join(sorted(j['pool']['members']))")
	[ "$got" = "$POOL $want" ] || [ "$got " = "$POOL $want" ] ||
	    fail "tunnel $id: pool '$got', want '$POOL $want'"
done
ok "GET of each member: \"pool\": {\"name\": \"$POOL\", \"members\": [3 ids]}"

# served N: requests for /text/TAG the app of member N logged
served() {
	grep -c "GET /text/$2 " "$TMP/app$1.log"
}
gw() {
	cloud curl -sS --max-time 30 -o "$TMP/gw.out" -w '%{http_code}' \
	    -x "http://$GW" --proxy-user "alice+$POOL:$KEY" "$@"
}

# --- spread ------------------------------------------------------------------
for n in $(seq 1 30); do
	code=$(gw "$(app_url /text/spread)")
	[ "$code" = 200 ] && [ "$(cat "$TMP/gw.out")" = "response spread" ] ||
	    fail "request $n through the pool: $code"
done
a=$(served 1 spread) b=$(served 2 spread) c=$(served 3 spread)
[ "$a" -gt 0 ] && [ "$b" -gt 0 ] && [ "$c" -gt 0 ] &&
    [ $((a + b + c)) = 30 ] || fail "30 requests spread $a/$b/$c"
ok "30 requests: all 200, members served $a, $b and $c"

# --- the least loaded: two members busy, the third takes the rest -----------
# slow N: how many slow requests the gateway has sent down a tunnel
slow() {
	[ "$(grep -c "gateway: GET $(app_url /sleep/4000) from .*: tunnel" \
	    "$TMP/server.log")" = "$1" ]
}
gw "$(app_url /sleep/4000)" >/dev/null &
s1=$!
wait_for 5 slow 1 || fail "the first slow request did not go down a tunnel"
gw "$(app_url /sleep/4000)" >/dev/null &
s2=$!
wait_for 5 slow 2 || fail "the second slow request did not go down a tunnel"
idle=
for i in 1 2 3; do
	grep "gateway: GET $(app_url /sleep/4000) from .*: tunnel $(eval echo "\$ID_$i")" \
	    "$TMP/server.log" >/dev/null || idle=$i
done
[ -n "$idle" ] || fail "both slow requests on one member"
for n in 1 2 3 4; do
	[ "$(gw "$(app_url /text/quick)")" = 200 ] || fail "quick request $n"
done
[ "$(served "$idle" quick)" = 4 ] ||
    fail "quick requests while 2 members are busy: $(served 1 quick)/$(served 2 quick)/$(served 3 quick), want all 4 on member $idle"
wait "$s1" "$s2"
ok "two members busy (open streams): the 4 quick requests all went to member $idle"

# --- a member killed: it drops out, nothing fails ----------------------------
kill -KILL $(proc_tree "$SC_2")
wait_for 10 not_running "$SC_2" || fail "member 2 still running"
for n in $(seq 1 20); do
	code=$(gw "$(app_url /text/after)")
	[ "$code" = 200 ] || fail "request $n after member 2 was killed: $code $(cat "$TMP/gw.out")"
done
[ "$(served 2 after)" = 0 ] && [ "$(served 1 after)" -gt 0 ] &&
    [ "$(served 3 after)" -gt 0 ] ||
    fail "after the kill: $(served 1 after)/$(served 2 after)/$(served 3 after)"
ok "member 2 killed (SIGKILL): 20 of 20 requests, on members 1 and 3"

# --- none left ---------------------------------------------------------------
kill -KILL $(proc_tree "$SC_1") $(proc_tree "$SC_3")
wait_for 10 not_running "$SC_1" && wait_for 10 not_running "$SC_3" ||
    fail "members still running"
wait_for 10 eval '[ "$(gw "$(app_url /text/x)")" = 503 ]' ||
    fail "no member left: not 503"
[ "$(cat "$TMP/gw.out")" = "No member of the pool named \"$POOL\" has a client connected." ] ||
    fail "503 body: '$(cat "$TMP/gw.out")'"
ok "every member gone: 503 '$(cat "$TMP/gw.out")'"
e2e_done
