#!/bin/bash
# A new REST worker while PostgreSQL is down: its registry cannot be
# read then.  sc-server on --db postgresql (the test's own), sc's tunnel
# up; PostgreSQL stopped, the REST worker killed:
#  - the parent does not exit: it logs that the tunnels cannot be read
#    and tries again every second; the tunnel's requests go on (the KGP
#    worker is untouched);
#  - PostgreSQL started again: a new REST worker starts (the log says
#    so), the REST API answers and lists sc's tunnel, and a new tunnel
#    can be made.
SC_DB=pg
. "$(dirname "$0")/lib.sh"
e2e_up

# rest_pid: the REST worker's pid ("sc-server -W rest", the parent's
# child)
rest_pid() {
	local p
	for p in $(pgrep -P "$SERVER_PID"); do
		tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null |
		    grep -q -- '-W rest' && { echo "$p"; return 0; }
	done
	return 1
}
listed() {
	rest GET "/$SC_USER/tunnels" 2>/dev/null | grep -q "$TUNNEL_ID"
}
listed || fail "tunnel $TUNNEL_ID not listed at the start"
old=$(rest_pid) || fail "no REST worker"

# 1. the database stopped, the REST worker killed
pg_ctl -m fast -w stop >/dev/null || fail "pg_ctl stop"
kill -KILL "$old"
wait_for 10 grep -q "the tunnels: .*: the REST worker starts once they can be read" "$TMP/server.log" ||
    fail "no log line saying the REST worker waits for the tunnels"
# a few tries, each logged (debug)
wait_for 10 grep -q "the tunnels: .* (3)" "$TMP/server.log" ||
    fail "the parent did not try again: $(tail -n 5 "$TMP/server.log")"
not_running "$SERVER_PID" && fail "sc-server exited with the database down"
rest_pid >/dev/null && fail "a REST worker runs without its registry"
browse_ok down 5 || fail "no request through the tunnel while the REST worker waits"
ok "database down, REST worker killed: sc-server waits for the tunnels" \
    "(tried again every second), the tunnel carries requests"

# 2. the database back: a new REST worker, the tunnel listed
pg_ctl -w -t 30 -o "-k $PG_DIR -c listen_addresses=''" start >/dev/null ||
    fail "PostgreSQL did not start again"
wait_for 25 listed || fail "the REST API does not list tunnel $TUNNEL_ID within 25 s of the database's restart"
grep -q "the REST worker starts" "$TMP/server.log" ||
    fail "no log line saying the REST worker starts"
new=$(rest_pid) || fail "no REST worker"
[ "$new" != "$old" ] || fail "the same REST worker"
code=$(rest POST "/$SC_USER/tunnels" -d '{"tunnel_identifier": "after"}' \
    -o "$TMP/post.json" -w '%{http_code}')
[ "$code" = 200 ] || fail "POST after: $code $(cat "$TMP/post.json")"
not_running "$SERVER_PID" && fail "sc-server exited"
request_ok || fail "no request through the tunnel at the end"
ok "database back: a new REST worker ($new) lists tunnel $TUNNEL_ID, POST 200"
