#!/bin/bash
# sc-server's database (statedir/sc-server.db, issue 19):
#  - the files of older versions are imported: the accounts file and a
#    tunnels.json of version 2, then of version 1 (each from a server
#    that ran sc's tunnel); the files are renamed *.migrated, the log
#    says so, the old access key still signs in, and sc, which ran on
#    through it all, reconnects to its tunnel: a request goes through;
#  - the command line while the server runs: org add/list, team
#    add/list, user add/set/del/list; a changed key and a deleted account
#    reach the REST API within a second or two; bad names (markup, too
#    long, control characters) are refused with a clear message;
#  - events: a failed sign-in, a tunnel created and deleted are in
#    "sc-server events" and in GET /rest/v1/{user}/events, --since and
#    ?since= bound them, a bad since is a 400; a tunnel whose client is
#    killed ends after the grace period, an event of the server.
# With SC_DB=pg (e2e-server-db-pg, issue 21) the same on PostgreSQL
# (--db): its schema version in sc_schema, its password in no log line.
. "$(dirname "$0")/lib.sh"
[ "${SC_DB:-}" = pg ] || command -v sqlite3 >/dev/null || skip "needs sqlite3"
e2e_up

STATE=$TMP/state
DB=$STATE/sc-server.db
HEX='lower(hex(%s))'
if [ -n "${PG_URL:-}" ]; then
	# the database's name in the log: the URL, its password masked
	DB=${PG_URL/:$PG_PASS@/:${PG_PASS//?/*}@}
	HEX="encode(%s, 'hex')"
fi
cli() { "$SC_SERVER" -s "$STATE" "$@"; }

stop_server() {
	kill -TERM "$SERVER_PID"
	wait_for 10 not_running "$SERVER_PID" ||
	    fail "sc-server still runs 10 s after SIGTERM"
	wait "$SERVER_PID" 2>/dev/null
}

# code USER KEY PATH: the status of an authenticated GET
code() {
	cloud curl -sS --max-time 10 -u "$1:$2" -o /dev/null -w '%{http_code}' \
	    "$REST_URL$3"
}

# code_is USER KEY PATH WANT...: the status is one of WANT (refused:
# 401, or 429 once the failed logins are throttled)
code_is() {
	local c w
	c=$(code "$1" "$2" "$3")
	shift 3
	for w; do
		[ "$c" = "$w" ] && return 0
	done
	return 1
}

# downgrade VERSION: the state directory as an older sc-server left it:
# the accounts file and tunnels.json (VERSION 1 or 2), no database
downgrade() {
	stop_server
	# shellcheck disable=SC2059
	db_query "SELECT name || ' ' || $(printf "$HEX" salt) || ' ' || $(printf "$HEX" hash) FROM accounts" \
	    >"$STATE/accounts" || fail "cannot write the accounts file"
	{ echo '{"version":2}'; db_query "SELECT line FROM tunnels ORDER BY rowid"; } \
	    >"$STATE/tunnels.json" || fail "cannot write tunnels.json"
	if [ "$1" = 1 ]; then
		"$PYTHON" -c 'import json, sys
lines = open(sys.argv[1]).read().split("\n")[1:]
t = [json.loads(l) for l in lines if l]
json.dump({"version": 1, "tunnels": t}, open(sys.argv[1], "w"), indent=2)' \
		    "$STATE/tunnels.json" || fail "cannot write a version 1 file"
	fi
	chmod 600 "$STATE/accounts" "$STATE/tunnels.json"
	if [ -n "${PG_URL:-}" ]; then
		db_query "DROP TABLE events, tunnels, accounts, teams, orgs, nodes, cluster, sc_schema" ||
		    fail "cannot drop the tables"
	fi
	rm -f "$STATE/sc-server.db"* "$STATE"/*.migrated
	cat "$TMP/server.log" >>"$TMP/server.log.old"
	: >"$TMP/server.log"
}

# upgraded VERSION: the new server imported it all and runs sc's tunnel
upgraded() {
	local n
	run_server
	grep -qF "1 account imported from $STATE/accounts into $DB, the file kept as $STATE/accounts.migrated" \
	    "$TMP/server.log" || fail "no line saying the accounts file was imported"
	# written once the REST worker's first registry is committed
	wait_for 5 grep -qF "the tunnels of $STATE/tunnels.json are in $DB, the file kept as $STATE/tunnels.json.migrated" \
	    "$TMP/server.log" || fail "no line saying tunnels.json was imported"
	[ -f "$STATE/accounts.migrated" ] && [ ! -e "$STATE/accounts" ] &&
	    [ -f "$STATE/tunnels.json.migrated" ] && [ ! -e "$STATE/tunnels.json" ] ||
	    fail "the old files were not renamed *.migrated"
	[ "$(code "$SC_USER" "$KEY" "/$SC_USER/tunnels")" = 200 ] ||
	    fail "the old access key does not sign in after the import"
	[ "$(db_query "SELECT status FROM tunnels WHERE id = '$TUNNEL_ID'")" = running ] ||
	    fail "tunnel $TUNNEL_ID is not in the database"
	n=0
	until request_ok; do
		n=$((n + 1))
		[ "$n" -lt 100 ] || fail "no request through $ENTRY within 10 s"
		sleep 0.1
	done
	not_running "$SC_PID" && fail "sc exited"
	if [ -n "${PG_URL:-}" ]; then
		[ "$(db_query 'SELECT version FROM sc_schema')" = 2 ] ||
		    fail "schema version $(db_query 'SELECT version FROM sc_schema')"
		grep -qF "$PG_PASS" "$TMP/server.log" &&
		    fail "the database's password is in the log"
		return 0
	fi
	[ "$(db_query 'PRAGMA user_version')" = 2 ] ||
	    fail "schema version $(db_query 'PRAGMA user_version')"
	[ "$(db_query 'PRAGMA journal_mode')" = wal ] || fail "not in WAL mode"
	[ "$(stat -c %a "$DB")" = 600 ] || fail "$DB has mode $(stat -c %a "$DB")"
}

# 1. the files of version 2, then version 1
request_ok || fail "no request through the tunnel at the start"
downgrade 2
upgraded 2
ok "accounts file and tunnels.json version 2 imported, *.migrated kept;" \
    "sc's tunnel $TUNNEL_ID runs on: requests go through $ENTRY"
downgrade 1
upgraded 1
grep -q "restored from $STATE/tunnels.json (version 1), 1 running" "$TMP/server.log" ||
    fail "no line saying the version 1 file was read"
ok "tunnels.json version 1 imported the same way"

# 2. the command line while the server runs
cli org add acme || fail "org add acme"
cli team add acme web || fail "team add acme web"
cli team add ops --org acme || fail "team add ops --org acme"
K1=$(cli user add ann --org acme --team web --role team-admin) || fail "user add ann"
K2=$(cli user add bo --org acme) || fail "user add bo"
cli user list >"$TMP/users" || fail "user list"
grep -Eq '^ann +acme +web +team-admin +20' "$TMP/users" &&
    grep -Eq '^bo +acme +- +member +20' "$TMP/users" &&
    grep -Eq "^$SC_USER +- +- +admin +20" "$TMP/users" ||
    fail "user list: $(cat "$TMP/users")"
cli org list | grep -Eq '^acme +2 +2 ' || fail "org list: $(cli org list)"
[ "$(cli team list acme | awk 'NR > 1 { print $2 }' | tr '\n' ' ')" = "ops web " ] ||
    fail "team list: $(cli team list acme)"
wait_for 3 code_is ann "$K1" /ann/tunnels 200 ||
    fail "a new account does not sign in within 3 s"
K1b=$(cli user set ann --new-key) || fail "user set --new-key"
[ -n "$K1b" ] && [ "$K1b" != "$K1" ] || fail "user set --new-key printed '$K1b'"
wait_for 3 code_is ann "$K1" /ann/tunnels 401 429 ||
    fail "the old key still works 3 s after user set --new-key"
[ "$(code ann "$K1b" /ann/tunnels)" = 200 ] || fail "the new key does not work"
cli user set bo --role admin || fail "user set bo --role admin"
cli user list | grep -Eq '^bo +acme +- +admin ' || fail "bo is not an admin now"
cli user del bo || fail "user del bo"
wait_for 3 code_is bo "$K2" /bo/tunnels 401 429 ||
    fail "a deleted account still signs in 3 s later"
ok "org, team, user add/set/del/list while the server runs; a new key," \
    "a deleted account reach the REST API within 3 s"

# bad names: refused, saying why, nothing written
long=$(printf 'x%.0s' $(seq 65))
for bad in user:'<b>x</b>' user:"$long" org:"a$(printf '\033')[31m" \
    team:'a b' org:'-x'; do
	what=${bad%%:*} name=${bad#*:}
	case $what in
	user) cli user add "$name" >"$TMP/out" 2>"$TMP/err" ;;
	org) cli org add "$name" >"$TMP/out" 2>"$TMP/err" ;;
	team) cli team add acme "$name" >"$TMP/out" 2>"$TMP/err" ;;
	esac
	st=$?
	[ "$st" = 1 ] || fail "$what add with a bad name: exit $st"
	[ ! -s "$TMP/out" ] || fail "$what add with a bad name printed $(cat "$TMP/out")"
	long_what=$what
	[ "$what" = org ] && long_what=organisation
	grep -q "bad $long_what name .*1 to 64 characters" "$TMP/err" ||
	    fail "$what add with a bad name: '$(cat "$TMP/err")'"
	grep -q "$(printf '\033')" "$TMP/err" && fail "an escape reached the terminal"
done
cli user add x --role boss 2>"$TMP/err" && fail "user add --role boss worked"
grep -q 'bad role' "$TMP/err" || fail "bad role: '$(cat "$TMP/err")'"
cli user add x --org nowhere 2>"$TMP/err" && fail "user add --org nowhere worked"
grep -q 'no organisation nowhere' "$TMP/err" || fail "no org: '$(cat "$TMP/err")'"
[ "$(db_query "SELECT count(*) FROM accounts")" = 2 ] ||
    fail "a refused name was written: $(db_query 'SELECT name FROM accounts')"
ok "bad names (markup, 65 characters, an escape, a space, a leading -)," \
    "a bad role, a missing organisation: exit 1, '$(head -c 80 "$TMP/err")'"

# 3. events
[ "$(code "$SC_USER" wrong-key "/$SC_USER/tunnels")" = 401 ] ||
    fail "a wrong key is not a 401"
T=$(rest POST "/$SC_USER/tunnels" -d '{"tunnel_identifier": "ev<i>"}' |
    json_get "j['id']") || fail "POST"
[ "$(rest DELETE "/$SC_USER/tunnels/$T" -o /dev/null -w '%{http_code}')" = 200 ] ||
    fail "DELETE $T"
wait_for 3 sh -c "'$SC_SERVER' -s '$STATE' events | grep -q 'tunnel-deleted .*$T'" ||
    fail "no tunnel-deleted event: $(cli events)"
cli events --since 10m >"$TMP/events" || fail "events --since 10m"
grep -Eq "sign-in-failed +$SC_USER +$SC_USER +$CLOUD_IP[^ ]* +REST: wrong access key" "$TMP/events" ||
    fail "no sign-in-failed event: $(cat "$TMP/events")"
grep -Eq "tunnel-created +$SC_USER +$SC_USER +$T +\"ev<i>\"" "$TMP/events" ||
    fail "no tunnel-created event: $(cat "$TMP/events")"
future=$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)
[ "$(cli events --since "$future" | wc -l)" = 1 ] ||
    fail "events --since $future: $(cli events --since "$future")"
cli events --since yesterday 2>"$TMP/err" && fail "--since yesterday worked"
grep -q 'neither RFC 3339' "$TMP/err" || fail "bad --since: '$(cat "$TMP/err")'"
rest GET "/$SC_USER/events?since=10m" >"$TMP/ev.json" || fail "GET events"
json_get "[e['kind'] for e in j['events'] if e['subject'] == '$T']" \
    <"$TMP/ev.json" | grep -q "tunnel-created.*tunnel-deleted" ||
    fail "GET events: $(cat "$TMP/ev.json")"
json_get "[e for e in j['events'] if e['kind'] == 'sign-in-failed'][0]['detail']" \
    <"$TMP/ev.json" | grep -q 'wrong access key' || fail "GET events: no sign-in-failed"
[ "$(rest GET "/$SC_USER/events?since=$future" | json_get "len(j['events'])")" = 0 ] ||
    fail "GET events?since=$future is not empty"
[ "$(rest GET "/$SC_USER/events?since=%3Cb%3E" -o /dev/null -w '%{http_code}')" = 400 ] ||
    fail "a bad since is not a 400"
# ann's own: the sign-ins with her old key, nothing of another account
cloud curl -sS -u "ann:$K1b" "$REST_URL/ann/events" >"$TMP/ann.json" ||
    fail "GET ann's events"
json_get "len(j['events']) > 0 and all(e['account'] == 'ann' and e['kind'] == 'sign-in-failed' for e in j['events'])" \
    <"$TMP/ann.json" | grep -qx true || fail "ann's events: $(cat "$TMP/ann.json")"
ok "events: sign-in failed, tunnel created and deleted, in the CLI and GET" \
    "/events; --since and ?since= bound them; a bad since: 400; ann sees hers only"

# a tunnel whose client is gone ends after the grace period: an event of
# the server (no actor) with the reason
stop_server
run_server -g 2
kill -KILL "$SC_PID"
terminated() {
	"$SC_SERVER" -s "$STATE" events |
	    grep -Eq "tunnel-terminated +- +$SC_USER +$TUNNEL_ID"
}
wait_for 20 terminated || fail "no tunnel-terminated event: $(cli events | tail -3)"
ok "sc killed: '$(cli events | grep tunnel-terminated | tail -1 | cut -c 22-)'"
e2e_done
