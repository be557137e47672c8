#!/bin/bash
# Wrong credentials: the REST API says 401 "Not authorized", and sc says
# so on an Error: line and exits non-zero, without hanging.
. "$(dirname "$0")/lib.sh"
e2e_init
start_server

code=$(cloud curl -sS --max-time 10 -o "$TMP/401" -w '%{http_code}' \
    -u "$SC_USER:wrong-key" "$REST_URL/$SC_USER/tunnels")
[ "$code" = 401 ] || fail "REST with a wrong key: status $code, want 401"
msg=$(json_get "j['message']" <"$TMP/401") || fail "401 body is not JSON"
[ "$msg" = "Not authorized" ] || fail "401 message '$msg'"
ok "REST with a wrong key: 401 {\"message\": \"Not authorized\"}"

try_sc() {
	local status=0
	office timeout 60 "$SC" -u "$1" -k "$2" -i "$TUNNEL_NAME" \
	    -x "$REST_URL" -f "$TMP/ready" --ctl-socket "$TMP/ctl.sock" \
	    >"$TMP/sc.log" 2>&1 || status=$?
	echo "$status"
}

status=$(try_sc "$SC_USER" wrong-key)
[ "$status" != 124 ] || fail "sc with a wrong key did not exit within 60 s"
[ "$status" != 0 ] || fail "sc with a wrong key exited 0"
grep -q 'Not authorized' "$TMP/sc.log" ||
    fail "sc's output does not say 'Not authorized'"
grep -Eq '^(.* )?(Error|ERROR): .*Not authorized' "$TMP/sc.log" ||
    fail "no 'Error: ... Not authorized' line"
[ ! -e "$TMP/ready" ] || fail "the readyfile exists after a failed start"
ok "sc with a wrong key: 'Not authorized', exit status $status"

status=$(try_sc nobody "$KEY")
[ "$status" != 0 ] && [ "$status" != 124 ] ||
    fail "sc with an unknown user: exit status $status"
grep -q 'Not authorized' "$TMP/sc.log" ||
    fail "unknown user: no 'Not authorized'"
ok "sc with an unknown user: 'Not authorized', exit status $status"

# nothing was created
list=$(rest GET "/$SC_USER/tunnels") || fail "REST list failed"
[ "$list" = "[]" ] || fail "tunnels exist after failed logins: $list"
ok "no tunnel was created"
e2e_done
