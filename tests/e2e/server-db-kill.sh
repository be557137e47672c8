#!/bin/bash
# sc-server's database survives kill -9 at any moment (issue 19): in
# each of ROUNDS rounds, accounts are added by the command line (itself
# sc-server) and tunnels created and deleted through the REST API, all
# at once, until a few of each were acknowledged; then sc-server and the
# command line then running are killed with SIGKILL.  After each kill:
# PRAGMA integrity_check says ok, every account whose "user add"
# printed its key is there, every tunnel whose POST was answered 200 is
# there, and none whose DELETE was answered 200 still runs; the server
# starts again on the database and lists those tunnels.  With SC_DB=pg
# (e2e-server-db-kill-pg, issue 21) the same on PostgreSQL, which
# outlives the kills: the schema version is read instead of
# integrity_check.
. "$(dirname "$0")/lib.sh"
[ "${SC_DB:-}" = pg ] || command -v sqlite3 >/dev/null || skip "needs sqlite3"
e2e_init
start_server

ROUNDS=${ROUNDS:-6}
STATE=$TMP/state
: >"$TMP/users.acked"
: >"$TMP/tunnels.acked"
: >"$TMP/deleted.acked"

# add_users ROUND: "user add" again and again; each acknowledged name
# (the key printed) is recorded; the running one's pid in $TMP/cli.pid
add_users() {
	local n=0 key
	while [ ! -e "$TMP/stop" ]; do
		n=$((n + 1))
		"$SC_SERVER" -s "$STATE" user add "k$1-$n" >"$TMP/key" 2>/dev/null &
		echo $! >"$TMP/cli.pid"
		wait $! || continue
		key=$(cat "$TMP/key")
		[ -n "$key" ] && echo "k$1-$n" >>"$TMP/users.acked"
	done
}

# tunnels ROUND: POST, and DELETE every other one; what is answered 200
# is recorded
tunnels() {
	local n=0 id code
	while [ ! -e "$TMP/stop" ]; do
		n=$((n + 1))
		id=$(rest POST "/$SC_USER/tunnels" -d "{\"tunnel_identifier\": \"k$1-$n\"}" \
		    2>/dev/null | json_get "j['id']" 2>/dev/null) || continue
		[ -n "$id" ] || continue
		echo "$id" >>"$TMP/tunnels.acked"
		[ $((n % 2)) = 0 ] || continue
		code=$(rest DELETE "/$SC_USER/tunnels/$id" -o /dev/null \
		    -w '%{http_code}' 2>/dev/null)
		[ "$code" = 200 ] && echo "$id" >>"$TMP/deleted.acked"
	done
}

# at_least FILE N: FILE has N lines or more
lines_at_least() {
	[ "$(wc -l <"$1")" -ge "$2" ]
}

check_db() {
	local ic missing n
	if [ -n "${PG_URL:-}" ]; then
		ic=$(db_query "SELECT 'ok' FROM sc_schema WHERE version = 2")
	else
		ic=$(db_query 'PRAGMA integrity_check')
	fi ||
	    fail "round $1: sqlite3 cannot read the database"
	[ "$ic" = ok ] || fail "round $1: integrity_check: $ic"
	db_query "SELECT name FROM accounts" | sort >"$TMP/users.db"
	missing=$(sort "$TMP/users.acked" | comm -23 - "$TMP/users.db")
	[ -z "$missing" ] || fail "round $1: acknowledged accounts lost: $missing"
	db_query "SELECT id FROM tunnels" | sort >"$TMP/tunnels.db"
	missing=$(sort "$TMP/tunnels.acked" | comm -23 - "$TMP/tunnels.db")
	[ -z "$missing" ] || fail "round $1: acknowledged tunnels lost: $missing"
	db_query "SELECT id FROM tunnels WHERE status = 'running'" | sort \
	    >"$TMP/running.db"
	n=$(sort "$TMP/deleted.acked" | comm -12 - "$TMP/running.db")
	[ -z "$n" ] || fail "round $1: acknowledged DELETEs lost: $n"
}

for r in $(seq "$ROUNDS"); do
	rm -f "$TMP/stop"
	u0=$(wc -l <"$TMP/users.acked")
	t0=$(wc -l <"$TMP/tunnels.acked")
	add_users "$r" &
	WU=$!
	tunnels "$r" &
	WT=$!
	PIDS+=("$WU" "$WT")
	# a different moment each round: more acknowledged writes each time
	wait_for 30 lines_at_least "$TMP/users.acked" $((u0 + r)) ||
	    fail "round $r: no account added"
	wait_for 30 lines_at_least "$TMP/tunnels.acked" $((t0 + r)) ||
	    fail "round $r: no tunnel created"
	disown "$SERVER_PID" 2>/dev/null
	kill -KILL "$SERVER_PID" "$(cat "$TMP/cli.pid")" 2>/dev/null
	touch "$TMP/stop"
	wait_for 10 not_running "$SERVER_PID" || fail "sc-server survives SIGKILL"
	wait "$WU" "$WT" 2>/dev/null
	# the workers follow the parent
	wait_for 10 sh -c "! ip netns pids '$CLOUD' | grep -q ." ||
	    fail "round $r: sc-server's workers outlive it"
	check_db "$r"
	run_server
	listed=$(rest GET "/$SC_USER/all_tunnels" | json_get "' '.join(t['id'] for t in j['tunnels'])")
	for id in $(sort "$TMP/tunnels.acked" | comm -23 - <(sort "$TMP/deleted.acked")); do
		case " $listed " in
		*" $id "*) ;;
		*) [ "$(db_query "SELECT status FROM tunnels WHERE id = '$id'")" = terminated ] ||
		    fail "round $r: tunnel $id is not listed after the restart" ;;
		esac
	done
	log "round $r: $(wc -l <"$TMP/users.acked") accounts, $(wc -l <"$TMP/tunnels.acked") tunnels, $(wc -l <"$TMP/deleted.acked") deletes acknowledged"
done
ok "$ROUNDS rounds of kill -9 during writes: integrity_check ok each time;" \
    "$(wc -l <"$TMP/users.acked") accounts, $(wc -l <"$TMP/tunnels.acked") tunnels," \
    "$(wc -l <"$TMP/deleted.acked") deletes acknowledged, none lost"
e2e_done
