#!/bin/bash
# The early connection (issue 20, time to ready): sc opens its first KGP
# connection to the REST API's host at port 4443 before it creates the
# tunnel, so that TCP and TLS go while the REST API answers, and sends
# HELLO once the answer names that endpoint and its pin matches.  When
# the answer names another endpoint, the early connection is closed and
# the tunnel comes up on the one named.
. "$(dirname "$0")/lib.sh"

# 1. the answer names CLOUD_IP:4443: the early connection is the link
e2e_up -v --tunnel-connections 1
browse_ok early || fail "no answer through the tunnel"
grep -q "early connection to $CLOUD_IP:$KGP_PORT" "$TMP/sc.log" ||
    fail "sc opened no early connection: $(grep -i early "$TMP/sc.log")"
grep -q "connection 0: the early connection to $CLOUD_IP:$KGP_PORT" "$TMP/sc.log" ||
    fail "sc did not go on with the early connection"
grep -q "connection 0: connecting to" "$TMP/sc.log" &&
    fail "sc connected anew although the early connection went where the tunnel is"
# the only KGP connection sc-server saw is the one the tunnel uses
n=$(cloud ss -tnH state established "( sport = :$KGP_PORT )" | wc -l)
[ "$n" = 1 ] || fail "$n KGP connections on the server, want 1"
ok "the early connection to $CLOUD_IP:$KGP_PORT carries the tunnel"
stop_sc

# 1b. four connections in two kgpd processes: the early connection is
# connection 0's, in the kgpd that carries connection 0; the other
# three connect as usual
start_sc -v --tunnel-connections 4 --kgp-processes 2
browse_ok early4 || fail "no answer through the tunnel with 4 connections"
grep -q "connection 0: the early connection to $CLOUD_IP:$KGP_PORT" "$TMP/sc.log" ||
    fail "connection 0 did not take the early connection: $(grep -i early "$TMP/sc.log")"
kgp_conns() {
	[ "$(cloud ss -tnH state established "( sport = :$KGP_PORT )" | wc -l)" = 4 ]
}
wait_for 20 kgp_conns ||
    fail "$(cloud ss -tnH state established "( sport = :$KGP_PORT )" | wc -l) KGP connections on the server, want 4"
ok "with two kgpd processes the early connection is connection 0, four connections up"
stop_sc
kill "$SERVER_PID"
wait "$SERVER_PID"

# 2. the tunnel is elsewhere (KGP on another port): something listens on
# 4443 and takes the early connection, which sc closes; the tunnel
# comes up on the port the answer names
KGP_PORT=4444
run_server
cloud "$PYTHON" -c '
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 4443))
s.listen(4)
print("listening", flush=True)
c, _ = s.accept()
print("accepted", flush=True)
c.settimeout(30)
try:
    while c.recv(65536):
        pass
    print("closed", flush=True)
except OSError as e:
    print("error %s" % e, flush=True)
' "$CLOUD_IP" >"$TMP/decoy.log" 2>&1 &
PIDS+=($!)
wait_for 5 grep -q listening "$TMP/decoy.log" || fail "the decoy does not listen"
start_sc -v --tunnel-connections 1
browse_ok elsewhere || fail "no answer through the tunnel on port 4444"
wait_for 10 grep -q closed "$TMP/decoy.log" ||
    fail "the early connection to port 4443 was not closed: $(cat "$TMP/decoy.log")"
grep -q "the early connection is dropped" "$TMP/sc.log" ||
    fail "sc does not say that it dropped the early connection"
grep -q "connection 0: connecting to $CLOUD_IP:4444" "$TMP/sc.log" ||
    fail "sc did not connect to the port the answer names"
ok "the tunnel is on port 4444: the early connection to 4443 is closed, the tunnel serves"
e2e_done
