#!/bin/bash
# issue 17: --scproxy-port.  The seed's "several instances on one
# machine" example, twice over: two sc with their own pidfile, log file,
# --scproxy-port and --se-port run side by side; each serves its tunnel,
# and on its 127.0.0.1 port a plain HTTP proxy (what Sauce Connect 4
# opened) that reaches the app, with the same rules as the tunnel's
# requests (the metadata address is 403 there too).  The port listens on
# loopback only.  A third sc asking for a port in use exits 1 at once
# naming the flag and the port, before it creates a tunnel.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/client-lib.sh"
P1=29999
P2=29998

e2e_init
start_server
start_app

for i in 1 2; do
	p=P$i
	sc_v4 "sc$i" --pidfile "$TMP/sc$i.pid" --logfile "$TMP/sc$i-file.log" \
	    --scproxy-port "${!p}" --se-port "$((4445 + i))" -i "my-tun$i"
done
sc_ready sc1
sc_ready sc2
for i in 1 2; do
	p=P$i
	body=$(office curl -sS --max-time 10 -x "http://127.0.0.1:${!p}" \
	    "$(app_url "/text/local$i")") || fail "scproxy port ${!p}: $body"
	[ "$body" = "response local$i" ] || fail "scproxy port ${!p}: '$body'"
	fetch_via "$(entry_of "$(sc_id "sc$i")")" "tunnel$i" ||
	    fail "tunnel of sc$i does not serve"
done
ok "two instances (--pidfile, --logfile, --scproxy-port, --se-port, -i): each tunnel and each local proxy port serves the app"

code=$(office curl -sS --max-time 10 -o "$TMP/meta.body" -w '%{http_code}' \
    -x "http://127.0.0.1:$P1" "http://169.254.169.254/") || true
[ "$code" = 403 ] && grep -q "link-local" "$TMP/meta.body" ||
    fail "the metadata address through the local port: $code"
if office curl -sS --max-time 3 -o /dev/null -x "http://$OFFICE_IP:$P1" \
    "$(app_url /)" 2>/dev/null; then
	fail "the local proxy port answers on $OFFICE_IP"
fi
ok "the local port applies the network rules (403) and listens on 127.0.0.1 only"

sc_v4 sc3 --scproxy-port "$P1" -i my-tun3
sc_exit sc3 20
[ "${SCSTATUS[sc3]}" = 1 ] || fail "port in use: exit ${SCSTATUS[sc3]}, want 1"
grep -q "Error: --scproxy-port $P1: cannot listen on 127.0.0.1 port $P1: Address already in use" \
    "$TMP/sc3.log" || fail "port in use: $(cat "$TMP/sc3.log")"
n=$(rest GET "/$SC_USER/tunnels" | json_get 'len(j)')
[ "$n" = 2 ] || fail "$n tunnels, want 2 (sc3 created one)"
ok "a port in use: exit 1 naming --scproxy-port and the port, no tunnel created"

for i in 1 2; do
	sc_term "sc$i"
	[ "${SCSTATUS[sc$i]}" = 0 ] || fail "sc$i exit ${SCSTATUS[sc$i]}"
done
e2e_done
