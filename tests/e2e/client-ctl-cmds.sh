#!/bin/bash
# sc-ctl stats, show connections, log level, reconnect and -j: the
# counters move after requests; each connection is shown with its state,
# server, RTT, breaks and resumes; log level reaches sc and its helpers;
# reconnect drops every tunnel connection and each one resumes, the
# tunnel carries traffic after it; -j prints one JSON object.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/client-lib.sh"
e2e_init
start_server
start_app

SOCK=$TMP/cc.sock
sc_v4 cc -i "$TUNNEL_NAME" --tunnel-connections 2
sc_ready cc
id=$(sc_id cc)
ctl() { "$SC_CTL" -s "$SOCK" "$@"; }
entry=$(entry_of "$id")
fetch_via "$entry" cc1 || fail "GET through the tunnel"
fetch_via "$entry" cc2 || fail "GET through the tunnel"

# stats: the counters, nothing else
ctl stats >"$TMP/stats.out" 2>"$TMP/stats.err" ||
    fail "sc-ctl stats: $(cat "$TMP/stats.err")"
field() { sed -n "s/^$1: //p" "$TMP/stats.out"; }
for f in state uptime streams-open streams-total bytes-in bytes-out \
    rtt-ms reconnects; do
	grep -q "^$f: " "$TMP/stats.out" || fail "sc-ctl stats: no '$f:' line"
done
! grep -Eq '^(tunnel-id|pid-kgpd|connection )' "$TMP/stats.out" ||
    fail "sc-ctl stats shows more than the counters: $(cat "$TMP/stats.out")"
[ "$(field state)" = up ] && [ "$(field streams-total)" -ge 2 ] &&
    [ "$(field bytes-in)" -gt 0 ] && [ "$(field bytes-out)" -gt 0 ] ||
    fail "sc-ctl stats after 2 requests: $(tr '\n' ' ' <"$TMP/stats.out")"
ok "sc-ctl stats: $(tr '\n' ' ' <"$TMP/stats.out")"

# show connections: one line each, up, to the server, no break yet
ctl show connections >"$TMP/conns.out" 2>"$TMP/conns.err" ||
    fail "sc-ctl show connections: $(cat "$TMP/conns.err")"
[ "$(grep -c '^connection ' "$TMP/conns.out")" = 2 ] ||
    fail "sc-ctl show connections: $(cat "$TMP/conns.out")"
for i in 0 1; do
	grep -Eq "^connection $i: up, server $CLOUD_IP:$KGP_PORT, rtt [0-9.]+ ms, streams [0-9]+, bytes [0-9]+ in [0-9]+ out, breaks 0, resumes 0, " "$TMP/conns.out" ||
	    fail "connection $i: $(cat "$TMP/conns.out")"
done
ok "sc-ctl show connections: $(head -n 1 "$TMP/conns.out")"

# -j: one JSON object for each view
jfield() { "$PYTHON" -c "import json, sys; j = json.load(sys.stdin); print($1)"; }
ctl -j status >"$TMP/status.json" || fail "sc-ctl -j status"
[ "$(jfield "j['tunnel-id'], j['state'], len(j['connections']), j['connections'][1]['state'], j['streams-total'] >= 2" <"$TMP/status.json")" = "$id up 2 up True" ] ||
    fail "sc-ctl -j status: $(cat "$TMP/status.json")"
ctl -j stats >"$TMP/stats.json" || fail "sc-ctl -j stats"
[ "$(jfield "'connections' in j, 'tunnel-id' in j, j['bytes-in'] > 0" <"$TMP/stats.json")" = "False False True" ] ||
    fail "sc-ctl -j stats: $(cat "$TMP/stats.json")"
ctl -j show connections >"$TMP/conns.json" || fail "sc-ctl -j show connections"
[ "$(jfield "j['server'], [c['state'] for c in j['connections']], [c['breaks'] for c in j['connections']]" <"$TMP/conns.json")" = "$CLOUD_IP:$KGP_PORT ['up', 'up'] [0, 0]" ] ||
    fail "sc-ctl -j show connections: $(cat "$TMP/conns.json")"
status=0
ctl -j log level loud >"$TMP/bad.json" 2>/dev/null || status=$?
[ "$status" = 1 ] || fail "sc-ctl log level loud: exit $status"
ok "sc-ctl -j status, stats, show connections: JSON with the same fields"

# log level: sc and its helpers (kgpd's debug lines appear)
ctl log level debug >/dev/null 2>"$TMP/ll.err" ||
    fail "sc-ctl log level debug: $(cat "$TMP/ll.err")"
wait_for 3 grep -q 'Verbosity set to 1 (log level debug)' "$TMP/cc.log" ||
    fail "no 'Verbosity set to 1 (log level debug)' line"
status=0
ctl log level loud >/dev/null 2>"$TMP/loud.err" || status=$?
[ "$status" = 1 ] && grep -q '^Error: log level loud: not one of error, warn, info, debug, trace' "$TMP/loud.err" ||
    fail "sc-ctl log level loud: exit $status, '$(cat "$TMP/loud.err")'"
ok "sc-ctl log level debug: set; 'loud' refused: '$(cat "$TMP/loud.err")'"

# reconnect: every connection breaks and resumes, traffic goes on
ctl -j reconnect >"$TMP/rc.json" 2>"$TMP/rc.err" ||
    fail "sc-ctl reconnect: $(cat "$TMP/rc.err")"
[ "$(cat "$TMP/rc.json")" = '{"ok":true}' ] ||
    fail "sc-ctl -j reconnect: '$(cat "$TMP/rc.json")'"
grep -q 'Reconnect requested on the control socket' "$TMP/cc.log" ||
    fail "no 'Reconnect requested' line"
resumed() {
	ctl show connections >"$TMP/conns.out" 2>/dev/null &&
	    [ "$(grep -c ': up, .*breaks 1, resumes 1,' "$TMP/conns.out")" = 2 ]
}
wait_for 20 resumed || fail "not both resumed after reconnect: $(cat "$TMP/conns.out")"
for i in 0 1; do
	grep -q "Tunnel connection $i resumed" "$TMP/cc.log" ||
	    fail "no 'Tunnel connection $i resumed' line"
done
grep -q 'KGP connection [01] up' "$TMP/cc.log" ||
    fail "no debug line of kgpd after log level debug"
fetch_via "$entry" cc3 || fail "GET through the tunnel after reconnect"
ok "sc-ctl reconnect: both connections broke once and resumed, traffic goes on"

ctl log level info >/dev/null || fail "sc-ctl log level info"
ctl -j stop >"$TMP/stop.json" || fail "sc-ctl -j stop"
[ "$(cat "$TMP/stop.json")" = '{"ok":true}' ] ||
    fail "sc-ctl -j stop: '$(cat "$TMP/stop.json")'"
sc_exit cc 40
[ "${SCSTATUS[cc]}" = 0 ] || fail "sc after sc-ctl stop: exit ${SCSTATUS[cc]}"
ok "sc-ctl -j stop: {\"ok\":true}, sc exits 0"
e2e_done
