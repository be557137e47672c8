#!/bin/bash
# The tunnel server goes away under a running sc.  sc keeps running and
# reconnects with a backoff, as sc(8) says; SIGTERM still ends it in
# bounded time though the REST API is gone (refused, or not answering at
# all).  A server that comes back without the tunnel refuses the link:
# sc then says so and exits 1.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/client-lib.sh"
e2e_init
start_server
start_app

kill_server() {
	disown "$SERVER_PID" 2>/dev/null	# no "Killed" notice from bash
	kill "-$1" "$SERVER_PID"
	wait_for 10 not_running "$SERVER_PID" || fail "sc-server does not die"
	wait "$SERVER_PID" 2>/dev/null
}

# 1. the server crashes: sc keeps running, reconnecting; SIGTERM ends it
sc_v4 crash -i "$TUNNEL_NAME" -d "$TMP/crash.pid"
sc_ready crash
kill_server KILL
wait_for 5 grep -q 'Tunnel connection [0-9]* lost' "$TMP/crash.log" ||
    fail "sc does not notice that the link is gone"
sleep 4
not_running "${SCPID[crash]}" && fail "sc exited when the server died"
n=$(grep -c 'Reconnecting in' "$TMP/crash.log")
[ "$n" -ge 2 ] || fail "$n 'Reconnecting in' lines in 4 s"
# quick at first, then growing: 0.25, 0.5, 1 ... seconds (with jitter)
sed -n 's/.*Reconnecting in \([0-9.]*\) seconds (connection 0).*/\1/p' "$TMP/crash.log" |
    head -n 3 | awk '(NR == 1 && $1 > 0.5) || (NR > 1 && $1 <= last) {
	bad = 1 } { last = $1; n++ } END { exit bad || n < 3 }' ||
    fail "no growing backoff 0.25, 0.5, 1 ... in the log"
st=$("$SC_CTL" -s "$TMP/crash.sock" status | sed -n 's/^state: //p')
[ "$st" = reconnecting ] || fail "sc-ctl state '$st' while the server is down"
ok "server killed: sc keeps running, reconnecting with a backoff (state $st)"

t0=$(date +%s)
sc_term crash 40
t=$(( $(date +%s) - t0 ))
st=${SCSTATUS[crash]}
[ "$st" != timeout ] || fail "sc still runs 40 s after SIGTERM with the server down"
[ "$t" -le 5 ] || fail "SIGTERM with the REST API refusing took $t s"
[ ! -e "$TMP/crash.pid" ] || fail "pidfile left"
grep -Eq 'Error: cannot delete the tunnel' "$TMP/crash.log" ||
    fail "no Error: line saying the tunnel could not be deleted"
[ "$st" = 0 ] || fail "exit status $st after SIGTERM, want 0 (sc(8))"
ok "SIGTERM with the server down: exit $st in $t s, 'cannot delete' reported"

# 2. the REST API and KGP endpoint do not answer at all (packets dropped)
run_server
sc_v4 drop -i "$TUNNEL_NAME-drop" -d "$TMP/drop.pid"
sc_ready drop
id=$(sc_id drop)
cloud nft add table inet e2e || fail "nft add table"
cloud nft add chain inet e2e in '{ type filter hook input priority 0; }' ||
    fail "nft add chain"
cloud nft add rule inet e2e in ip saddr "$OFFICE_IP" drop || fail "nft add rule"
sleep 2
not_running "${SCPID[drop]}" && fail "sc exited when packets were dropped"
t0=$(date +%s)
sc_term drop 60
t=$(( $(date +%s) - t0 ))
st=${SCSTATUS[drop]}
[ "$st" != timeout ] || fail "sc still runs 60 s after SIGTERM (REST API silent)"
[ "$t" -le 15 ] || fail "SIGTERM with a silent REST API took $t s"
[ ! -e "$TMP/drop.pid" ] || fail "pidfile left"
ok "SIGTERM with a silent server: exit $st in $t s"
cloud nft delete table inet e2e
rest DELETE "/$SC_USER/tunnels/$id" >/dev/null

# 3. the server restarts and no longer knows the tunnel (its state is lost)
sc_v4 gone -i "$TUNNEL_NAME-gone"
sc_ready gone
kill_server TERM
wait_for 5 grep -q 'Tunnel connection [0-9]* lost' "$TMP/gone.log" ||
    fail "sc does not notice the server's shutdown"
sleep 1
not_running "${SCPID[gone]}" && fail "sc exited at the server's shutdown"
db_query "DELETE FROM tunnels" || fail "cannot empty the registry"
run_server
sc_exit gone 45
st=${SCSTATUS[gone]}
[ "$st" != timeout ] || fail "sc still runs 45 s after the server lost the tunnel"
[ "$st" = 1 ] || fail "exit status $st after the server lost the tunnel, want 1"
grep -q 'Error: .*no longer knows tunnel' "$TMP/gone.log" ||
    fail "no Error: line saying the server lost the tunnel"
ok "the server restarted without the tunnel: exit $st, '$(grep -m1 'Error: ' "$TMP/gone.log" | sed 's/^.*Error/Error/')'"

# 4. before the link was ever up, an unreachable KGP endpoint ends sc at once
cloud nft add table inet e2e || fail "nft add table"
cloud nft add chain inet e2e in '{ type filter hook input priority 0; }' ||
    fail "nft add chain"
cloud nft add rule inet e2e in tcp dport "$KGP_PORT" reject with tcp reset ||
    fail "nft add rule"
t0=$(date +%s)
sc_v4 nokgp -i "$TUNNEL_NAME-nokgp" -d "$TMP/nokgp.pid"
sc_exit nokgp 30
t=$(( $(date +%s) - t0 ))
st=${SCSTATUS[nokgp]}
[ "$st" = 1 ] || fail "KGP endpoint refused: exit status $st, want 1"
[ "$t" -le 5 ] || fail "KGP endpoint refused: sc took $t s to give up"
grep -q 'Error: cannot connect to the tunnel server' "$TMP/nokgp.log" ||
    fail "KGP endpoint refused: no 'cannot connect' Error: line"
[ ! -e "$TMP/nokgp.pid" ] || fail "pidfile left"
[ ! -e "$TMP/nokgp.ready" ] || fail "readyfile with no link"
nid=$(sc_id nokgp)
[ "$(tunnel_field "$nid" status)" = terminated ] ||
    fail "the tunnel of the failed start is not terminated"
ok "KGP endpoint refused before the first link: exit 1 in $t s, tunnel deleted"
cloud nft delete table inet e2e
e2e_done
