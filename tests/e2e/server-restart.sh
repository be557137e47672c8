#!/bin/bash
# sc-server restarted under a running sc, after SIGTERM and after kill -9:
# the server keeps its tunnels in its state directory (sc-server.db), so
# sc reconnects to the same tunnel, whose entry proxy is back on the same
# port, and a request through it succeeds within 5 s of the server being
# back.  sc stays the same process throughout.  Then: the entry port is
# taken while the server is down (the tunnel gets a new one, with a
# warning), and a garbage tunnels.json to import (a warning, no tunnels,
# the REST API works).
. "$(dirname "$0")/lib.sh"
e2e_up

STATE=$TMP/state/tunnels.json
DB=$TMP/state/sc-server.db

# stop_server SIGNAL: the signal, then wait (10 s at most) for the exit
stop_server() {
	local st
	[ "$1" = KILL ] && disown "$SERVER_PID" 2>/dev/null
	kill "-$1" "$SERVER_PID"
	wait_for 10 not_running "$SERVER_PID" ||
	    fail "sc-server still runs 10 s after SIG$1"
	wait "$SERVER_PID" 2>/dev/null
	st=$?
	if [ "$1" = TERM ] && [ "$st" != 0 ]; then
		fail "sc-server exited $st after SIGTERM, want 0"
	fi
}

# restart_server: the same state directory and addresses; T_BACK is the
# time (ns) at which the REST API answers again
restart_server() {
	run_server
	T_BACK=$(date +%s%N)
}

# wait_request SECONDS: a request through $ENTRY succeeds within SECONDS
# of T_BACK; MS gets the time it took
wait_request() {
	local now
	while ! request_ok; do
		now=$(date +%s%N)
		[ $(( (now - T_BACK) / 1000000 )) -le $(($1 * 1000)) ] ||
		    fail "no successful request through $ENTRY within $1 s" \
		    "of the server being back"
		sleep 0.1
	done
	now=$(date +%s%N)
	MS=$(( (now - T_BACK) / 1000000 ))
}

tunnel_get() {
	rest GET "/$SC_USER/tunnels/$TUNNEL_ID" | json_get "j['$1']"
}

sc_alive() {
	not_running "$SC_PID" && fail "sc exited ($1)"
	[ "$(ctl_field pid-controller)" = "$SC_PID" ] ||
	    fail "sc-ctl names another controller ($1)"
	grep -q 'Error: ' "$TMP/sc.log" &&
	    fail "sc printed an Error: line ($1)"
	return 0
}

# the tunnel as the REST API shows it after a restart
check_tunnel() {
	local ids entry
	ids=$(rest GET "/$SC_USER/tunnels") || fail "REST list failed"
	case $ids in
	*"\"$TUNNEL_ID\""*) ;;
	*) fail "the REST list does not have tunnel $TUNNEL_ID: $ids" ;;
	esac
	[ "$(tunnel_get status)" = running ] ||
	    fail "tunnel status '$(tunnel_get status)', want running"
	[ "$(tunnel_get connected)" = true ] ||
	    fail "the tunnel is not connected after a successful request"
	entry=$(tunnel_get entry_proxy)
	[ "$entry" = "$ENTRY" ] ||
	    fail "entry_proxy '$entry', want '$ENTRY' (the same port)"
}

request_ok || fail "no request through the tunnel before the restarts"
[ -f "$DB" ] || fail "no $DB after the tunnel was created"
mode=$(stat -c %a "$DB")
[ "$mode" = 600 ] || fail "$DB has mode $mode, want 600"
[ "$(db_query "SELECT status FROM tunnels WHERE id = '$TUNNEL_ID'")" = running ] ||
    fail "the tunnel is not in $DB"
ok "tunnel up, request works, registry in $DB (mode $mode)"

# 1. SIGTERM and restart
stop_server TERM
wait_for 5 grep -q 'Tunnel connection [0-9]* lost' "$TMP/sc.log" ||
    fail "sc does not notice the server's shutdown"
sc_alive "at the server's SIGTERM"
restart_server
wait_request 5
check_tunnel
sc_alive "after the restart"
n=$(ctl_field reconnects)
[ "$n" -ge 1 ] 2>/dev/null || fail "sc-ctl reconnects '$n', want >= 1"
wait_for 5 grep -q "tunnel $TUNNEL_ID .* restored" "$TMP/server.log" ||
    fail "no 'restored' line in the server's log"
ok "SIGTERM + restart: request through the same $ENTRY after ${MS} ms," \
    "tunnel $TUNNEL_ID running, sc $SC_PID still up, reconnects $n"

# 2. kill -9 (no clean shutdown) and restart
prev=$n
lost=$(grep -c 'Tunnel connection [0-9]* lost' "$TMP/sc.log")
stop_server KILL
i=0
while [ "$(grep -c 'Tunnel connection [0-9]* lost' "$TMP/sc.log")" -le "$lost" ]; do
	[ "$i" -lt 100 ] || fail "sc does not notice that the server died"
	sleep 0.1
	i=$((i + 1))
done
sc_alive "at the server's kill -9"
restart_server
wait_request 5
check_tunnel
sc_alive "after the restart"
n=$(ctl_field reconnects)
[ "$n" -gt "$prev" ] 2>/dev/null ||
    fail "sc-ctl reconnects '$n' after the second restart, want > $prev"
ok "kill -9 + restart: request through the same $ENTRY after ${MS} ms," \
    "sc still up, reconnects $n"

# 3. the entry port is taken while the server is down: a new one
port=${ENTRY##*:}
host=${ENTRY%:*}
stop_server TERM
ip netns exec "$CLOUD" "$PYTHON" -c '
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(1)
open(sys.argv[3], "w").close()
time.sleep(120)' "$host" "$port" "$TMP/squat.ready" >"$TMP/squat.log" 2>&1 &
SQUAT=$!
PIDS+=("$SQUAT")
wait_for 5 test -f "$TMP/squat.ready" || fail "cannot take port $port"
restart_server
wait_for 5 grep -q "entry proxy port $port is taken" "$TMP/server.log" ||
    fail "no warning that entry port $port is taken"
old=$ENTRY
ENTRY=$(tunnel_get entry_proxy)
[ -n "$ENTRY" ] && [ "$ENTRY" != "$old" ] ||
    fail "entry_proxy '$ENTRY' with port $port taken"
wait_request 5
sc_alive "after the restart with the port taken"
ok "entry port $port taken: a warning, new entry proxy $ENTRY works" \
    "after ${MS} ms"
kill "$SQUAT"

# 4. a garbage registry: a warning, no tunnels, the REST API works
stop_server TERM
printf '{"version": 1, "tunnels": [{"id": \001garbage' >"$STATE"
restart_server
wait_for 5 grep -q "tunnels.json is corrupt" "$TMP/server.log" ||
    fail "no warning about the corrupt tunnels.json"
[ -f "$STATE.bad" ] || fail "the corrupt file was not kept as $STATE.bad"
ids=$(rest GET "/$SC_USER/tunnels") || fail "REST list failed"
[ "$ids" = "[]" ] || fail "tunnels after a corrupt registry: $ids"
[ "$(db_query "SELECT count(*) FROM tunnels WHERE status = 'running'")" = 0 ] ||
    fail "the database kept running tunnels the registry imported did not have"
not_running "$SERVER_PID" && fail "sc-server died"
ok "garbage tunnels.json: a warning, kept as tunnels.json.bad, REST answers $ids"
# sc's tunnel is gone now: it says so and exits 1
wait_for 30 not_running "$SC_PID" ||
    fail "sc still runs 30 s after the server lost its tunnel"
wait "$SC_PID"
st=$?
[ "$st" = 1 ] || fail "sc exited $st after the server lost its tunnel"
grep -q 'Error: .*no longer knows tunnel' "$TMP/sc.log" ||
    fail "no Error: line saying the server lost the tunnel"
ok "sc without its tunnel: exit 1, '$(grep -m1 'Error: ' "$TMP/sc.log" |
    sed 's/^.*Error/Error/')'"
e2e_done
