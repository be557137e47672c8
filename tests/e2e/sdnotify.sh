#!/bin/bash
# systemd's notification protocol (issue 18), against a fake
# NOTIFY_SOCKET (tests/e2e/notify.py): sc says READY=1 once the tunnel is
# up (the readyfile is there, traffic flows), sc-server once it serves
# (its REST API answers); both send STATUS= lines, STOPPING=1 at SIGTERM,
# and WATCHDOG=1 at half of WATCHDOG_USEC.  A path and an abstract name.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/client-lib.sh"
e2e_init
add_user
start_app

# notify_listen NS SOCKET TAG: notify.py in namespace NS (an abstract
# socket belongs to a network namespace), its lines in $TMP/TAG.notify
notify_listen() {
	ip netns exec "$1" "$PYTHON" "$E2E_DIR/notify.py" "$2" \
	    "$TMP/$3.notify" "$TMP/$3.nready" >"$TMP/$3-notify.log" 2>&1 &
	PIDS+=($!)
	wait_for 10 test -f "$TMP/$3.nready" || fail "notify.py $3 did not start"
}

# said TAG TEXT: TAG's socket got a notification with the line TEXT
said() {
	grep -qE "(^|\|)$2(\||$)" "$TMP/$1.notify" 2>/dev/null
}

# sc-server on an abstract socket, with a watchdog of 1 s
notify_listen "$CLOUD" "@sc-e2e-notify-$$" srv
NOTIFY_SOCKET=@sc-e2e-notify-$$ WATCHDOG_USEC=1000000 ip netns exec "$CLOUD" \
    "$SC_SERVER" -d -v -s "$TMP/state" -R "$CLOUD_IP:$REST_PORT" \
    -K "$CLOUD_IP:$KGP_PORT" >>"$TMP/server.log" 2>&1 &
SERVER_PID=$!
PIDS+=("$SERVER_PID")
wait_for 10 said srv 'READY=1' || fail "sc-server: no READY=1"
# REST answers at the moment READY=1 is there
cloud curl -sS --max-time 1 -o /dev/null "http://$CLOUD_IP:$REST_PORT/rest/v1/" ||
    fail "sc-server: READY=1 but the REST API does not answer"
said srv 'STATUS=Serving: .*' || fail "sc-server: no STATUS= line with READY=1"
said srv 'STATUS=Starting the workers' || fail "sc-server: no STATUS= at start"
# past TIME (date +%s%N)
past() {
	[ "$(date +%s%N)" -ge "$1" ]
}
n0=$(grep -c '^WATCHDOG=1$' "$TMP/srv.notify")
wait_for 5 past $(( $(date +%s%N) + 3000000000 ))
n1=$(grep -c '^WATCHDOG=1$' "$TMP/srv.notify")
[ $((n1 - n0)) -ge 4 ] && [ $((n1 - n0)) -le 8 ] ||
    fail "sc-server: $((n1 - n0)) WATCHDOG=1 in 3 s with WATCHDOG_USEC=1 s, want about 6"
ok "sc-server (abstract socket): READY=1 once the REST API answers, STATUS=, $((n1 - n0)) WATCHDOG=1 in 3 s"

# sc on a path; its READY=1 comes with the tunnel
notify_listen "$OFFICE" "$TMP/sc-notify.sock" sc
NOTIFY_SOCKET=$TMP/sc-notify.sock sc_v4 sc -i "$TUNNEL_NAME" \
    -d "$TMP/sc.pid"
wait_for 30 said sc 'READY=1' || fail "sc: no READY=1 within 30 s"
[ -e "$TMP/sc.ready" ] || fail "sc: READY=1 before the readyfile"
grep -q 'Sauce Connect is up' "$TMP/sc.log" || fail "sc: READY=1 before 'is up'"
id=$(sc_id sc)
said sc "STATUS=Tunnel $id is up" || fail "sc: no 'STATUS=Tunnel $id is up'"
said sc 'STATUS=Creating the tunnel.*' || fail "sc: no STATUS= at start"
first=$(grep -n 'READY=1' "$TMP/sc.notify" | head -n 1 | cut -d: -f1)
grep -n 'STATUS=Tunnel .* is running, connecting' "$TMP/sc.notify" |
    awk -F: -v r="$first" '$1 < r { found = 1 } END { exit !found }' ||
    fail "sc: READY=1 before 'connecting'"
fetch_via "$(entry_of "$id")" notify || fail "sc: READY=1 but no traffic"
# the helpers do not get the variable
for p in $(pgrep -P "${SCPID[sc]}" -x kgpd) $(pgrep -P "${SCPID[sc]}" -x proxyd); do
	tr '\0' '\n' <"/proc/$p/environ" | grep -q '^NOTIFY_SOCKET=' &&
	    fail "sc: helper $p has NOTIFY_SOCKET"
done
ok "sc (path): READY=1 with the readyfile and 'is up', after 'connecting', traffic flows, helpers without NOTIFY_SOCKET"

# STOPPING=1 at SIGTERM, before the end
sc_term sc
[ "${SCSTATUS[sc]}" = 0 ] || fail "sc: exit ${SCSTATUS[sc]}"
said sc 'STOPPING=1' || fail "sc: no STOPPING=1 at SIGTERM"
kill -TERM "$SERVER_PID"
wait_for 30 not_running "$SERVER_PID" || fail "sc-server: still running 30 s after SIGTERM"
said srv 'STOPPING=1' || fail "sc-server: no STOPPING=1 at SIGTERM"
ok "STOPPING=1 at SIGTERM, sc and sc-server"

# a NOTIFY_SOCKET that names nothing: a warning, the program runs on
NOTIFY_SOCKET=relative/path office timeout 5 "$SC" -u "$SC_USER" -k x \
    -x "http://127.0.0.1:1/rest/v1" --ctl-socket "$TMP/bad.sock" \
    >"$TMP/badnotify.log" 2>&1
grep -q 'NOTIFY_SOCKET relative/path: neither a path' "$TMP/badnotify.log" ||
    fail "a bad NOTIFY_SOCKET: no warning: $(cat "$TMP/badnotify.log")"
ok "a NOTIFY_SOCKET that is no socket: a warning, nothing else"
