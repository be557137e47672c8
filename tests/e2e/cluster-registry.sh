#!/bin/bash
# Two sc-server nodes on one PostgreSQL (issue 21): node a (sc's
# tunnel, the usual ports) and node b (ports of its own, a state
# directory of its own) in cloud, --db the test's PostgreSQL.
#  1. each node writes its own changes of the registry, tunnel by
#     tunnel: tunnels created through a's REST API and through b's are
#     all in the database after each node wrote again (a node that
#     wrote its whole registry deleted the other's tunnels);
#  2. the registry is shared: a tunnel created through one node's REST
#     API is listed by the other's at once (NOTIFY sc_tunnels), and a
#     DELETE through one ends it on both; pool members made at once
#     through one node are placed one on each node;
#  3. two sc racing to start tunnels of one name, one through each
#     node: the collision rules of one node hold (each sc removes the
#     other running tunnels of its name: one running tunnel of the name
#     at most, and an sc still running has its tunnel running);
#  4. PostgreSQL restarted: sc's tunnel (through a) keeps carrying
#     requests, both nodes answer a POST with 503 while it is down, and
#     once it is back a tunnel created through a is listed by b again.
SC_DB=pg
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/client-lib.sh"
. "$(dirname "$0")/cluster-lib.sh"
e2e_init
prom_init
start_server --node a -m "$CLOUD_IP:9100"
start_app
start_sc

start_b

# post URL NAME: a tunnel created through the REST API at URL, its id
post() {
	cloud curl -sS --max-time 10 -u "$SC_USER:$KEY" -X POST \
	    -d "{\"tunnel_identifier\": \"$2\"}" "$1/$SC_USER/tunnels" |
	    json_get "j['id']"
}

# listed URL ID: the REST API at URL lists tunnel ID
listed() {
	cloud curl -sS --max-time 5 -u "$SC_USER:$KEY" "$1/$SC_USER/tunnels" |
	    grep -q "\"$2\""
}

running_in_db() {
	[ "$(db_query "SELECT status FROM tunnels WHERE id = '$1'")" = running ]
}

# 1. per-tunnel writes
t1=$(post "$REST_URL" one) && [ -n "$t1" ] || fail "POST through a"
t2=$(post "$REST_B" two) && [ -n "$t2" ] || fail "POST through b"
t3=$(post "$REST_URL" three) && [ -n "$t3" ] || fail "a second POST through a"
t4=$(post "$REST_B" four) && [ -n "$t4" ] || fail "a second POST through b"
for id in "$TUNNEL_ID" "$t1" "$t2" "$t3" "$t4"; do
	running_in_db "$id" ||
	    fail "tunnel $id is not running in the database after both nodes wrote: $(db_query 'SELECT id, status FROM tunnels' | tr '\n' ' ')"
done
ok "tunnels created through a and through b, a and b again: all 5 in the database"

# 2. shared: created through a, listed by b at once, and the other way
# round; sc's tunnel (through a) is listed by b
t5=$(post "$REST_URL" five) && [ -n "$t5" ] || fail "POST through a"
t0=$(date +%s%N)
wait_for 2 listed "$REST_B" "$t5" || fail "b does not list $t5 (created through a) within 2 s"
ms=$((($(date +%s%N) - t0) / 1000000))
listed "$REST_B" "$TUNNEL_ID" || fail "b does not list sc's tunnel $TUNNEL_ID"
t6=$(post "$REST_B" six) && [ -n "$t6" ] || fail "POST through b"
wait_for 2 listed "$REST_URL" "$t6" || fail "a does not list $t6 (created through b) within 2 s"
ok "a tunnel created through a is listed by b after $ms ms, one through b by a"

# pool members made at once through one node spread over both nodes
# (each answer counts as a session on the node it names)
held_by() { [ "$(db_query "SELECT tunnels FROM nodes WHERE name = '$1'")" = "$2" ]; }
wait_for 10 held_by a 1 || fail "node a's row does not say it holds sc's session"
# a's REST worker places from the node list its parent last read (each
# heartbeat), plus what it placed that the list does not show yet (10 s
# at most, PLACE_PENDING_SEC: the tunnels above have no client): wait
# until that list, not only the row, says a holds sc's session and b
# none, and the tunnels placed above count no more
view() {
	cloud curl -sS --max-time 5 -o "$TMP/metrics" "http://$CLOUD_IP:9100/metrics" &&
	    [ "$(prom_value "$TMP/metrics" sc_server_cluster_node_sessions node=a)" = 1 ] &&
	    [ "$(prom_value "$TMP/metrics" sc_server_cluster_node_sessions node=b)" = 0 ] &&
	    [ "$(prom_value "$TMP/metrics" sc_server_cluster_node_placed node=a)" = 0 ] &&
	    [ "$(prom_value "$TMP/metrics" sc_server_cluster_node_placed node=b)" = 0 ]
}
wait_for 20 view || fail "a's metrics do not say a holds 1 session, b none, and no placement pending: $(grep cluster_node_ "$TMP/metrics")"
for i in 1 2; do
	cloud curl -sS --max-time 10 -u "$SC_USER:$KEY" -X POST \
	    -d "{\"tunnel_identifier\": \"pool-$$\", \"tunnel_pool\": true}" \
	    "$REST_URL/$SC_USER/tunnels" | json_get "j['ssh_port']" >"$TMP/pool.$i" ||
	    fail "POST of pool member $i"
done
p1=$(cat "$TMP/pool.1") p2=$(cat "$TMP/pool.2")
[ "$p1" != "$p2" ] && case "$p1$p2" in 44434444|44444443) true ;; *) false ;; esac ||
    fail "pool members placed on KGP ports $p1 and $p2, want one on each node"
ok "two pool members made through a at once: placed on KGP ports $p1 and $p2, one on each node"

status() { tunnel_on "$1" "$2" status; }
code=$(cloud curl -sS --max-time 5 -u "$SC_USER:$KEY" -X DELETE     -o /dev/null -w '%{http_code}' "$REST_B/$SC_USER/tunnels/$t5")
[ "$code" = 200 ] || fail "DELETE of $t5 through b: $code"
is_terminated() { [ "$(status "$1" "$2")" = terminated ]; }
wait_for 2 is_terminated "$REST_URL" "$t5" ||
    fail "$t5 deleted through b is '$(status "$REST_URL" "$t5")' through a"
wait_for 2 is_terminated "$REST_B" "$t5" ||
    fail "$t5 deleted through b is '$(status "$REST_B" "$t5")' through b"
ok "a tunnel created through a and deleted through b is terminated on both"

# 3. the race
name=race-$$
sc_bg ra -u "$SC_USER" -k "$KEY" -x "$REST_URL" -i "$name" -f "$TMP/ra.ready"
sc_bg rb -u "$SC_USER" -k "$KEY" -x "$REST_B" -i "$name" -f "$TMP/rb.ready"
settled() {
	for t in ra rb; do
		[ -e "$TMP/$t.ready" ] || not_running "${SCPID[$t]}" || return 1
	done
}
wait_for 40 settled || fail "the racing sc neither ready nor gone in 40 s"
running_named() {
	cloud curl -sS --max-time 5 -u "$SC_USER:$KEY" "$1/$SC_USER/tunnels?full=true" |
	    json_get "len([t for t in j if t['tunnel_identifier'] == '$name' and t['status'] == 'running'])"
}
# both nodes list the same, one at most
stable() {
	local a b
	a=$(running_named "$REST_URL") && b=$(running_named "$REST_B") &&
	    [ "$a" = "$b" ] && [ "$a" -le 1 ]
}
wait_for 10 stable ||
    fail "running tunnels named $name: a lists $(running_named "$REST_URL"), b $(running_named "$REST_B")"
alive=0
for t in ra rb; do
	not_running "${SCPID[$t]}" && continue
	id=$(sc_id "$t")
	if [ -n "$id" ] && [ "$(tunnel_field "$id" status)" = running ]; then
		alive=$((alive + 1))
	else
		wait_for 10 not_running "${SCPID[$t]}" ||
		    fail "sc $t runs, its tunnel '$id' does not"
	fi
done
[ "$alive" -le 1 ] || fail "$alive racing sc run with a tunnel of one name"
ok "two sc racing for the name $name through a and b: $(running_named "$REST_URL") running tunnel of it on both nodes, $alive sc running"

# 4. PostgreSQL restarted
post_code() {
	cloud curl -sS --max-time 10 -u "$SC_USER:$KEY" -X POST -o /dev/null \
	    -w '%{http_code}' -d '{"tunnel_identifier": "x"}' "$1/$SC_USER/tunnels"
}
pg_ctl -m fast -w stop >/dev/null || fail "pg_ctl stop"
[ "$(post_code "$REST_URL")" = 503 ] || fail "POST through a with the database down: not 503"
[ "$(post_code "$REST_B")" = 503 ] || fail "POST through b with the database down: not 503"
request_ok || fail "no request through sc's tunnel with the database down"
pg_ctl -w -t 30 -o "-k $PG_DIR -c listen_addresses=''" start >/dev/null ||
    fail "PostgreSQL did not start again"
post_ok() { [ "$(post_code "$REST_URL")" = 200 ]; }
wait_for 25 post_ok || fail "no POST through a answered 200 within 25 s of the restart"
t7=$(post "$REST_URL" seven) && [ -n "$t7" ] || fail "POST through a after the restart"
wait_for 15 listed "$REST_B" "$t7" || fail "b does not list $t7 (created through a after the restart)"
request_ok || fail "no request through sc's tunnel after the restart"
ok "PostgreSQL restarted: 503 from both nodes while down, sc's tunnel carried requests, then a tunnel made through a is listed by b"

e2e_done
