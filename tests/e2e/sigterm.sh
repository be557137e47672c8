#!/bin/bash
# SIGTERM: sc deletes its tunnel, waits for it to end, removes its pidfile,
# says Goodbye. and exits 0; the tunnel is gone from the REST list and the
# entry proxy is closed.
. "$(dirname "$0")/lib.sh"
e2e_up

[ "$(cat "$TMP/sc.pid" 2>/dev/null)" = "$SC_PID" ] ||
    fail "pidfile holds '$(cat "$TMP/sc.pid" 2>/dev/null)', want $SC_PID"
ok "pidfile holds sc's pid"
list=$(rest GET "/$SC_USER/tunnels") || fail "REST list failed"
case $list in *"$TUNNEL_ID"*) ;; *) fail "tunnel not listed: $list" ;; esac
body=$(browse "$(app_url /)") || fail "GET / before SIGTERM failed"
[ "$body" = "hello from the office" ] || fail "GET / before SIGTERM: '$body'"
ok "tunnel listed and serving before SIGTERM"

stop_sc
status=$SC_STATUS
[ "$status" != timeout ] || fail "sc still running 40 s after SIGTERM"
[ "$status" = 0 ] || fail "sc exited with status $status after SIGTERM"
grep -q 'Goodbye\.' "$TMP/sc.log" || fail "no 'Goodbye.' line"
[ ! -e "$TMP/sc.pid" ] || fail "the pidfile is still there"
ok "SIGTERM: exit status 0, 'Goodbye.', pidfile removed"

list=$(rest GET "/$SC_USER/tunnels") || fail "REST list failed"
case $list in *"$TUNNEL_ID"*) fail "tunnel still listed: $list" ;; esac
st=$(rest GET "/$SC_USER/tunnels/$TUNNEL_ID" | json_get "j['status']")
[ "$st" = terminated ] || fail "tunnel status '$st', want terminated"
ok "the tunnel is gone from GET /tunnels and reads 'terminated'"

if browse -o /dev/null "$(app_url /)" 2>/dev/null; then
	fail "the entry proxy still answers after the tunnel ended"
fi
ok "the entry proxy port is closed"
e2e_done
