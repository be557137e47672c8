#!/bin/bash
# sc-server --kgp-workers 2 (issue 20): two KGP worker processes, each
# on its own KGP port (-K's port and the next), each holding the tunnels
# placed on it.  Four tunnels of real sc clients: two on each worker
# (the ports the REST answers name, the log lines of each worker, the
# sockets of each pid); a page through each tunnel's entry port and
# through the gateway, where a connection accepted by the worker that
# does not hold the tunnel is handed to the one that does; then one KGP
# worker killed: the other worker's tunnels keep serving during and
# after, the killed one's come back (their clients resume) and serve
# again, on the same ports; and after a restart of sc-server, each
# tunnel on the worker of the port its client knows.  GET /endpoint
# names, before each create, the port that create gets.  Four members
# of a pool posted at once all get one worker's port.
. "$(dirname "$0")/lib.sh"
GW=127.0.0.1:4480

e2e_init
add_user
# the option must exist: an old sc-server says so and exits
if ! ip netns exec "$CLOUD" "$SC_SERVER" -s "$TMP/state" --kgp-workers 2 \
    --kgp-workers x >"$TMP/opt.out" 2>&1; then
	grep -q -- '--kgp-workers x: invalid' "$TMP/opt.out" ||
	    fail "--kgp-workers x: $(cat "$TMP/opt.out")"
fi
ip netns exec "$CLOUD" "$SC_SERVER" -s "$TMP/state" --kgp-workers 17 \
    >"$TMP/opt.out" 2>&1 && fail "--kgp-workers 17 accepted"
grep -q -- '--kgp-workers 17: too large (1 to 16)' "$TMP/opt.out" ||
    fail "--kgp-workers 17: $(cat "$TMP/opt.out")"
ok "--kgp-workers 17: refused, '$(head -n 1 "$TMP/opt.out")'"
METRICS=$CLOUD_IP:9401
run_server --kgp-workers 2 -m "$METRICS"
start_app
grep -q "KGP worker 0 listening on $CLOUD_IP:$KGP_PORT " "$TMP/server.log" &&
    grep -q "KGP worker 1 listening on $CLOUD_IP:$((KGP_PORT + 1)) " \
    "$TMP/server.log" || fail "no 'KGP worker N listening' lines"
ok "KGP worker 0 on port $KGP_PORT, worker 1 on $((KGP_PORT + 1))"

# kgp_pids: the KGP workers' pids
kgp_pids() {
	pgrep -P "$SERVER_PID" -f -- "-W kgp\$" | sort -n
}
wait_for 10 eval '[ "$(kgp_pids | wc -l)" = 2 ]' ||
    fail "not two KGP workers: $(kgp_pids | tr '\n' ' ')"

TAGS="t1 t2 t3 t4"
for t in $TAGS; do
	# GET /endpoint names the port the next create gets
	rest GET "/$SC_USER/endpoint" >"$TMP/ep.json" || fail "GET endpoint"
	ep=$(json_get 'j["ssh_port"]' <"$TMP/ep.json")
	sc_up "$t" -i "$t"
	id=$(sed -n 's/.*Tunnel ID: \([0-9a-f]*\).*/\1/p' "$TMP/sc.$t.log" |
	    head -n 1)
	[ -n "$id" ] || fail "sc $t: no tunnel id"
	eval "ID_$t=$id"
	rest GET "/$SC_USER/tunnels/$id" >"$TMP/t.json" || fail "GET tunnel $t"
	eval "PORT_$t=$(json_get 'j["ssh_port"]' <"$TMP/t.json")"
	eval "[ \"\$PORT_$t\" = \"$ep\" ]" ||
	    fail "tunnel $t: ssh_port $(eval echo "\$PORT_$t"), GET endpoint said $ep"
	eval "ENTRY_$t=$(json_get 'j["entry_proxy"]' <"$TMP/t.json")"
done
n0=0
n1=0
for t in $TAGS; do
	eval "p=\$PORT_$t id=\$ID_$t"
	case $p in
	"$KGP_PORT") n0=$((n0 + 1)); w=0 ;;
	"$((KGP_PORT + 1))") n1=$((n1 + 1)); w=1 ;;
	*) fail "tunnel $t: ssh_port $p" ;;
	esac
	eval "W_$t=$w"
	grep -q "\[kgp$w\] tunnel $id of $SC_USER: entry proxy" "$TMP/server.log" ||
	    fail "tunnel $t ($id): no [kgp$w] tunnel ... entry proxy line"
	# its client's KGP connection ends in that worker's port
	wait_for 10 eval "cloud ss -Htn state established \"( sport = :$p )\" | grep -q ." ||
	    fail "tunnel $t: no KGP connection on port $p"
done
[ "$n0" = 2 ] && [ "$n1" = 2 ] || fail "tunnels per worker: $n0 and $n1"
ok "four tunnels: two on KGP worker 0 (port $KGP_PORT), two on worker 1 ($((KGP_PORT + 1))), as the create answers, GET endpoint said before each and each worker's log lines say"
# /metrics adds the two workers' figures up: each client holds two KGP
# connections (sc's default --tunnel-connections), so 8, 4 in each worker
sessions_up() {
	cloud curl -sS --max-time 5 "http://$METRICS/metrics" |
	    awk '$1 == "sc_server_sessions_up" { print $2 }'
}
wait_for 15 eval '[ "$(sessions_up)" = 8 ]' ||
    fail "/metrics: sc_server_sessions_up $(sessions_up), not 8 (4 in each worker)"
ok "/metrics: sc_server_sessions_up 8, the sum of both workers' 4"
# each worker's pid holds its own port's connections
for w in 0 1; do
	port=$((KGP_PORT + w))
	pids=$(cloud ss -Htnp state established "( sport = :$port )" |
	    sed -n 's/.*pid=\([0-9]*\).*/\1/p' | sort -u)
	[ "$(echo "$pids" | wc -l)" = 1 ] && [ -n "$pids" ] ||
	    fail "port $port: pids '$pids'"
	kgp_pids | grep -qx "$pids" || fail "port $port: pid $pids is no KGP worker"
	eval "PID_$w=$pids"
done
[ "$PID_0" != "$PID_1" ] || fail "one pid for both ports: $PID_0"
ok "KGP worker pids $PID_0 and $PID_1 hold the connections of their ports"

# page TAG NAME: /text/NAME through tunnel TAG's own entry port
page() {
	local e code
	eval "e=\$ENTRY_$1"
	code=$(cloud curl -sS --max-time 10 -o "$TMP/page.$1" -w '%{http_code}' \
	    -x "http://$e" "$(app_url "/text/$2")" 2>/dev/null) || return 1
	[ "$code" = 200 ] && [ "$(cat "$TMP/page.$1")" = "response $2" ]
}
# gw TAG NAME: the same through the gateway, user alice+TAG
gw() {
	local code
	code=$(cloud curl -sS --max-time 10 -o "$TMP/gw.$1" -w '%{http_code}' \
	    -x "http://$GW" --proxy-user "$SC_USER+$1:$KEY" \
	    "$(app_url "/text/$2")" 2>/dev/null) || return 1
	[ "$code" = 200 ] && [ "$(cat "$TMP/gw.$1")" = "response $2" ]
}
for t in $TAGS; do
	page "$t" "entry-$t" || fail "tunnel $t through its entry port"
	gw "$t" "gw-$t" || fail "tunnel $t through the gateway: $(cat "$TMP/gw.$t")"
done
ok "a page through each tunnel's entry port and through the gateway"

# the gateway: each worker accepts on the one socket; one that does not
# hold the tunnel hands the connection over (its log line says so)
i=0
while ! grep -q "\[kgp0\] gateway: connection from .* handed over by KGP worker 1" \
    "$TMP/server.log" || ! grep -q \
    "\[kgp1\] gateway: connection from .* handed over by KGP worker 0" \
    "$TMP/server.log"; do
	[ "$i" -lt 100 ] || fail "no hand-over each way in 100 gateway requests"
	for t in $TAGS; do
		gw "$t" "hand-$i" || fail "gateway, tunnel $t, request $i: $(cat "$TMP/gw.$t")"
	done
	i=$((i + 1))
done
ok "gateway connections handed over both ways (within $((i * 4)) requests), each served: 200"

# --- one KGP worker killed --------------------------------------------------
# the tunnels of the worker that stays
if [ "$W_t1" = 0 ]; then victim=1; else victim=0; fi
eval "vpid=\$PID_$victim"
stay=
gone=
for t in $TAGS; do
	eval "w=\$W_$t"
	if [ "$w" = "$victim" ]; then gone="$gone $t"; else stay="$stay $t"; fi
done
# fetches through the staying tunnels the whole time
(
	n=0
	while [ ! -e "$TMP/stop" ]; do
		for t in $stay; do
			if page "$t" "during-$n"; then
				echo "ok $t" >>"$TMP/during"
			else
				echo "FAIL $t $n" >>"$TMP/during"
			fi
		done
		n=$((n + 1))
	done
) &
PIDS+=($!)
fetcher=$!
wait_for 10 eval '[ "$(grep -c ^ok "$TMP/during" 2>/dev/null)" -ge 4 ]' ||
    fail "no fetches before the kill"
kill -KILL "$vpid"
wait_for 10 eval '[ "$(kgp_pids | wc -l)" = 2 ] && ! kgp_pids | grep -qx "$vpid"' ||
    fail "no new KGP worker $victim"
for t in $gone; do
	wait_for 40 page "$t" "back-$t" || fail "tunnel $t after the kill"
done
n=$(grep -c ^ok "$TMP/during")
touch "$TMP/stop"
wait "$fetcher" 2>/dev/null
grep -q FAIL "$TMP/during" && fail "fetches failed meanwhile: $(grep FAIL "$TMP/during" | head -n 3)"
ok "KGP worker $victim (pid $vpid) killed: tunnels$stay fetched $n times during it, none failed; tunnels$gone back"
for t in $TAGS; do
	eval "p=\$PORT_$t"
	rest GET "/$SC_USER/tunnels/$(eval echo "\$ID_$t")" >"$TMP/t.json"
	[ "$(json_get 'j["ssh_port"]' <"$TMP/t.json")" = "$p" ] ||
	    fail "tunnel $t: ssh_port now $(json_get 'j["ssh_port"]' <"$TMP/t.json"), was $p"
	page "$t" "after-$t" || fail "tunnel $t after"
	gw "$t" "gwafter-$t" || fail "tunnel $t through the gateway after"
done
ok "every tunnel on its old port, 200 through its entry port and the gateway"

# --- sc-server restarted: each tunnel on the worker of its old port -------
kill -TERM "$SERVER_PID"
wait_for 30 not_running "$SERVER_PID" || fail "sc-server did not exit"
run_server --kgp-workers 2
for t in $TAGS; do
	wait_for 40 page "$t" "restart-$t" || fail "tunnel $t after the restart"
	eval "p=\$PORT_$t id=\$ID_$t"
	rest GET "/$SC_USER/tunnels/$id" >"$TMP/t.json"
	[ "$(json_get 'j["ssh_port"]' <"$TMP/t.json")" = "$p" ] ||
	    fail "tunnel $t: ssh_port after the restart $(json_get 'j["ssh_port"]' <"$TMP/t.json"), was $p"
done
ok "sc-server restarted: each tunnel back on the KGP port it had, its client back, 200"

# --- pool members posted at once: all on one KGP worker ------------------
# (each one posted before the answer to another went to the worker with
# the fewest tunnels, and the gateway balances a pool within a worker)
cloud curl -sS --max-time 10 -Z --parallel-immediate -u "$SC_USER:$KEY" \
    -X POST -d "{\"tunnel_identifier\": \"pool-$$\", \"tunnel_pool\": true}" \
    -o "$TMP/pool.1" "$REST_URL/$SC_USER/tunnels" \
    -o "$TMP/pool.2" "$REST_URL/$SC_USER/tunnels" \
    -o "$TMP/pool.3" "$REST_URL/$SC_USER/tunnels" \
    -o "$TMP/pool.4" "$REST_URL/$SC_USER/tunnels" || fail "POST of pool members"
ports=
for i in 1 2 3 4; do
	p=$(json_get "j['ssh_port']" <"$TMP/pool.$i") ||
	    fail "POST of pool member $i: $(cat "$TMP/pool.$i")"
	ports="$ports $p"
done
# shellcheck disable=SC2086
[ "$(printf '%s\n' $ports | sort -u | wc -l)" = 1 ] ||
    fail "pool members posted at once placed on KGP ports$ports"
ok "four pool members posted at once: all on KGP port $p"
e2e_done
