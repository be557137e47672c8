#!/bin/bash
# The command lines users have: version 5 `sc run`, version 4 with the
# credentials in SAUCE_USERNAME / SAUCE_ACCESS_KEY, and a clear error, not
# a hang, when the REST API cannot be reached.
. "$(dirname "$0")/lib.sh"
e2e_init
start_server
start_app

fetch_ok() {
	local body
	body=$(browse "$(app_url /text/cli)") || fail "$1: GET through the tunnel failed"
	[ "$body" = "response cli" ] || fail "$1: GET body '$body'"
}

launch_sc run -u "$SC_USER" -k "$KEY" -i "$TUNNEL_NAME-v5" \
    --rest-url "$REST_URL" --readyfile "$TMP/ready" --pidfile "$TMP/sc.pid" \
    --ctl-socket "$TMP/ctl.sock"
fetch_ok "sc run"
name=$(rest GET "/$SC_USER/tunnels/$TUNNEL_ID" | json_get "j['tunnel_identifier']")
[ "$name" = "$TUNNEL_NAME-v5" ] || fail "sc run: tunnel_identifier '$name'"
stop_sc
status=$SC_STATUS
[ "$status" = 0 ] || fail "sc run: exit status $status after SIGTERM"
ok "sc run -u -k -i --rest-url: tunnel '$name' serves, SIGTERM exits 0"

export SAUCE_USERNAME=$SC_USER SAUCE_ACCESS_KEY=$KEY
launch_sc -i "$TUNNEL_NAME-env" -x "$REST_URL" -f "$TMP/ready" \
    --ctl-socket "$TMP/ctl.sock"
unset SAUCE_USERNAME SAUCE_ACCESS_KEY
fetch_ok "SAUCE_* credentials"
stop_sc
status=$SC_STATUS
[ "$status" = 0 ] || fail "SAUCE_*: exit status $status after SIGTERM"
ok "version 4 form with SAUCE_USERNAME and SAUCE_ACCESS_KEY"

# nothing listens on port 1 of the cloud address: connection refused
status=0
office timeout 60 "$SC" -u "$SC_USER" -k "$KEY" -i "$TUNNEL_NAME-norest" \
    -x "http://$CLOUD_IP:1/rest/v1" -f "$TMP/ready" \
    --ctl-socket "$TMP/ctl.sock" >"$TMP/norest.log" 2>&1 || status=$?
[ "$status" != 124 ] || fail "sc hung 60 s on an unreachable REST API"
[ "$status" != 0 ] || fail "sc exited 0 with an unreachable REST API"
grep -Eq '(Error|ERROR): ' "$TMP/norest.log" ||
    fail "no Error: line for an unreachable REST API: $(tail -n 3 "$TMP/norest.log")"
ok "unreachable REST API: '$(grep -Em1 '(Error|ERROR): ' "$TMP/norest.log" | sed 's/^.*\(Error\|ERROR\)/\1/')', exit $status"
e2e_done
