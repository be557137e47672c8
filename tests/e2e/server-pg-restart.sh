#!/bin/bash
# PostgreSQL restarted under a running sc-server (issue 21): the server
# runs on --db postgresql://sc:PASSWORD@/postgres?host=... (a server of
# the test's own), sc's tunnel carries a slow 8 MiB download.
#  - the password is in neither ps output nor the log; only the parent
#    holds a connection to the database;
#  - the database stopped (pg_ctl stop -m fast): a POST /tunnels gets
#    503 "cannot save the tunnel registry: the database is down" within
#    the bound of a statement (5 s), not a hang; the log says why;
#    requests through the running tunnel go on, and the download ends
#    byte-exact (its digest);
#  - the database hung (SIGSTOP): a POST gets the same 503 after 5 s
#    (a statement's bound), and 200 again after SIGCONT;
#  - the database started again: without a restart of sc-server, POSTs
#    are answered 200 again (within the reconnection backoff, 8 s at
#    most, and the retry of the registry, 10 s), the tunnel made is in
#    the database, and an account the command line adds then signs in
#    (LISTEN again on the new connection); the commands take the
#    password from PGPASSWORD or PGPASSFILE as well.
SC_DB=pg
. "$(dirname "$0")/lib.sh"
e2e_up

# 1. the password: masked in ps, never logged
tr '\0' ' ' <"/proc/$SERVER_PID/cmdline" >"$TMP/cmdline"
grep -qF "$PG_PASS" "$TMP/cmdline" && fail "the password is in ps: $(cat "$TMP/cmdline")"
grep -qF -- "--db postgresql://sc:${PG_PASS//?/*}@" "$TMP/cmdline" ||
    fail "no masked --db in ps: $(cat "$TMP/cmdline")"
ok "ps shows $(grep -o -- '--db [^ ]*' "$TMP/cmdline" | cut -c 1-40)..."

# the database's connections: the parent's only, no worker has one
# (the sockets in sc-server's namespace whose peers PostgreSQL holds)
pg_pids() {
	local pm
	pm=$(head -n 1 "$PG_DIR/data/postmaster.pid")
	echo "$pm" $(pgrep -P "$pm")
}
pg_inodes=" $(for p in $(pg_pids); do ls -l "/proc/$p/fd" 2>/dev/null; done |
    sed -n 's/.*socket:\[\([0-9]*\)\].*/\1/p' | tr '\n' ' ') "
holders=$(cloud ss -xHnp | awk -v ps="$pg_inodes" 'index(ps, " " $8 " ")' |
    grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u | tr '\n' ' ')
holders=${holders% }
[ "$holders" = "$SERVER_PID" ] ||
    fail "the database's connections are held by '$holders', not the parent $SERVER_PID alone"
ok "one connection to PostgreSQL, the parent's ($SERVER_PID); the workers have none"

# post NAME: the status of a POST /tunnels, its answer in $TMP/post.json
post() {
	rest POST "/$SC_USER/tunnels" -d "{\"tunnel_identifier\": \"$1\"}" \
	    -o "$TMP/post.json" -w '%{http_code}' 2>/dev/null
}

# a download of 8 MiB through the tunnel at 1 MiB/s, across the outage
SIZE=$((8 * 1024 * 1024))
want=$(gen_sha256 "$SIZE" 21)
BROWSE_TIMEOUT=60 browse --limit-rate 1M -o "$TMP/dl" \
    "$(app_url "/bytes/$SIZE?seed=21")" 2>"$TMP/dl.err" &
DL=$!
PIDS+=("$DL")
wait_for 10 test -s "$TMP/dl" || fail "the download did not start"

# 2. the database stopped
pg_ctl -m fast -w stop >/dev/null || fail "pg_ctl stop"
pg_up && fail "PostgreSQL still answers"
t0=$(date +%s%N)
code=$(post down1)
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$code" = 503 ] || fail "POST with the database down: $code $(cat "$TMP/post.json")"
why=$(json_get "j['message']" <"$TMP/post.json")
[ "$why" = "cannot save the tunnel registry: the database is down" ] ||
    fail "POST with the database down: '$why'"
[ "$ms" -lt 6000 ] || fail "the 503 took $ms ms"
[ "$(post down2)" = 503 ] || fail "a second POST: not a 503"
[ "$(rest GET "/$SC_USER/events" -o /dev/null -w '%{http_code}')" = 503 ] ||
    fail "GET events with the database down: not a 503"
wait_for 5 grep -q "the database is down: " "$TMP/server.log" ||
    fail "no log line saying the database is down"
grep -qF "$PG_PASS" "$TMP/server.log" && fail "the password is in the log"
browse_ok down 5 || fail "no request through the tunnel with the database down"
not_running "$DL" && fail "the download ended while the database was down"
ok "database down: POST 503 '$why' in $ms ms, GET events 503;" \
    "requests through the tunnel go on; log: '$(grep -m1 -o 'the database is down: .*' "$TMP/server.log" | cut -c 1-70)'"

# 3. back, without a restart of sc-server
pg_ctl -w -t 30 -o "-k $PG_DIR -c listen_addresses=''" start >/dev/null ||
    fail "PostgreSQL did not start again"
t0=$(date +%s)
n=0
post_ok() {
	n=$((n + 1))
	[ "$(post "up$n")" = 200 ]
}
wait_for 25 post_ok ||
    fail "no POST answered 200 within 25 s of the restart: $(cat "$TMP/post.json")"
secs=$(($(date +%s) - t0))
id=$(json_get "j['id']" <"$TMP/post.json")
[ "$(db_query "SELECT status FROM tunnels WHERE id = '$id'")" = running ] ||
    fail "tunnel $id is not in the database"
grep -q "the database is back" "$TMP/server.log" ||
    fail "no log line saying the database is back"
# the password from PGPASSWORD, then from a PGPASSFILE, not the URL
K2=$(PGPASSWORD=$PG_PASS "$SC_SERVER_BIN" --db "$PG_URL_NOPASS" \
    -s "$TMP/state" user add bob) || fail "user add bob with PGPASSWORD"
printf '*:*:*:sc:%s\n' "$PG_PASS" >"$TMP/pgpass" && chmod 0600 "$TMP/pgpass"
PGPASSFILE=$TMP/pgpass "$SC_SERVER_BIN" --db "$PG_URL_NOPASS" \
    -s "$TMP/state" user list | grep -q '^bob ' ||
    fail "user list with PGPASSFILE does not show bob"
bob_in() {
	[ "$(cloud curl -sS -u "bob:$K2" -o /dev/null -w '%{http_code}' \
	    "$REST_URL/bob/tunnels")" = 200 ]
}
wait_for 5 bob_in || fail "an account added after the restart does not sign in"
[ "$(rest GET "/$SC_USER/events" -o /dev/null -w '%{http_code}')" = 200 ] ||
    fail "GET events after the restart: not a 200"
ok "database back: POST 200 after $secs s, tunnel $id in the database," \
    "a new account signs in, no restart of sc-server"

# 4. the database hangs (SIGSTOP): a statement is waited for 5 s at
# most, then 503; SIGCONT, and it works again
kill -STOP $(pg_pids) || fail "cannot stop PostgreSQL's processes"
t0=$(date +%s%N)
code=$(post hung)
ms=$((($(date +%s%N) - t0) / 1000000))
kill -CONT $(pg_pids)
why=$(json_get "j['message']" <"$TMP/post.json")
[ "$code" = 503 ] && [ "$why" = "cannot save the tunnel registry: the database is down" ] ||
    fail "POST with the database hung: $code '$why'"
[ "$ms" -lt 10000 ] || fail "the 503 with the database hung took $ms ms"
grep -q "no answer within 5000 ms" "$TMP/server.log" ||
    fail "no log line saying the database did not answer"
wait_for 25 post_ok || fail "no POST answered 200 after SIGCONT"
ok "database hung: POST 503 in $ms ms (a statement waits 5 s at most)," \
    "then 200 again"

# 5. the download carried on through it all
wait "$DL" || fail "the download failed: $(cat "$TMP/dl.err")"
got=$(sha256sum "$TMP/dl" | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "the download's digest: $got, want $want"
request_ok || fail "no request through the tunnel at the end"
not_running "$SC_PID" && fail "sc exited"
ok "the 8 MiB download across the outage is byte-exact ($got)"
e2e_done
