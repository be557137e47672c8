#!/bin/bash
# The registry's saves cost the tunnels that changed, not all of them
# (issue 21's review): with N tunnels in the registry, a change of one
# makes that tunnel's line only, the others are not dumped again
# (state.c: a dirty flag per tunnel), and what the database holds is
# right all the same:
#  - N tunnels created through the REST API, each saved as it comes;
#  - one of them deleted: the save makes 1 line of N, and the database
#    says that tunnel is terminated and the others run;
#  - after a restart every tunnel is back with its status.
. "$(dirname "$0")/lib.sh"
e2e_init
start_server

N=40
IDS=()
for i in $(seq 1 "$N"); do
	id=$(rest POST "/$SC_USER/tunnels" -d "{\"tunnel_identifier\": \"d$i\"}" |
	    json_get "j['id']") || fail "POST of tunnel $i failed"
	IDS+=("$id")
done
[ "$(db_query "SELECT count(*) FROM tunnels WHERE status = 'running'")" = "$N" ] ||
    fail "the database holds $(db_query "SELECT count(*) FROM tunnels") tunnels, want $N running"
ok "$N tunnels created and saved"

# the save after the delete: one line made, of N kept
VICTIM=${IDS[7]}
before=$(grep -c 'saving the registry' "$TMP/server.log")
rest DELETE "/$SC_USER/tunnels/$VICTIM" >/dev/null || fail "DELETE $VICTIM failed"
terminated() {
	[ "$(db_query "SELECT status FROM tunnels WHERE id = '$VICTIM'")" = terminated ]
}
wait_for 10 terminated || fail "tunnel $VICTIM not terminated in the database"
wait_for 5 grep -q "saving the registry: 1 of $N tunnels' lines made" "$TMP/server.log" ||
    fail "no save that made 1 line of $N: $(grep 'saving the registry' "$TMP/server.log" | tail -n 3)"
most=$(grep 'saving the registry' "$TMP/server.log" | tail -n +$((before + 1)) |
    sed -n 's/.*saving the registry: \([0-9]*\) of.*/\1/p' | sort -n | tail -n 1)
[ "$most" = 1 ] || fail "a save after the DELETE made $most lines, want 1 at most"
[ "$(db_query "SELECT count(*) FROM tunnels WHERE status = 'running'")" = $((N - 1)) ] ||
    fail "the database: $(db_query "SELECT status, count(*) FROM tunnels GROUP BY status")"
ok "a DELETE of 1 tunnel of $N: its line alone made; the database right"

# a restart: every tunnel back, the deleted one terminated
kill -TERM "$SERVER_PID"
wait_for 10 not_running "$SERVER_PID" || fail "sc-server still runs after SIGTERM"
wait "$SERVER_PID" || fail "sc-server exited $? after SIGTERM"
run_server
for id in "${IDS[@]}"; do
	st=$(rest GET "/$SC_USER/tunnels/$id" | json_get "j['status']") ||
	    fail "tunnel $id is gone after the restart"
	want=running
	[ "$id" = "$VICTIM" ] && want=terminated
	[ "$st" = "$want" ] || fail "tunnel $id: $st after the restart, want $want"
done
ok "after a restart: $((N - 1)) running, $VICTIM terminated"

e2e_done
