#!/bin/bash
# A link that goes silent (the veth taken down): keepalive declares it
# dead on both sides.  Silent for less than the server's grace period:
# sc reconnects by itself and the same entry proxy serves again.  Silent
# for longer: the server ends the tunnel, a transfer in flight fails, and
# sc exits non-zero with an Error line that says why.
. "$(dirname "$0")/lib.sh"
e2e_init
start_server -g 6 -M 2
start_app
start_sc --max-missed-acks 2
REQUEST_TIMEOUT=3

silence() {
	cloud ip link set veth0 down || fail "cannot take the link down"
	sleep "$1"
	cloud ip link set veth0 up || fail "cannot bring the link up"
	wait_for 5 link_up cloud || fail "the link did not come back"
}

request_ok || fail "the tunnel does not serve before the test"

# 1. shorter than the grace period
silence 4
wait_for 15 request_ok ||
    fail "no answer through the same entry proxy 15 s after a 4 s silence"
not_running "$SC_PID" && fail "sc exited after a 4 s silence"
grep -q 'keepalive' "$TMP/sc.log" ||
    fail "sc's log does not say the keepalive declared the link dead"
[ "$(ctl_field reconnects)" -ge 1 ] ||
    fail "sc-ctl reconnects $(ctl_field reconnects) after a silence"
ok "4 s of silence: keepalive cut the link, sc reconnected, the entry proxy serves again"

# 2. longer than the grace period, with a transfer in flight
cloud curl -sS --max-time 60 --limit-rate 200k -x "http://$ENTRY" \
    -o "$TMP/partial" "$(app_url '/bytes/33554432?seed=7')" \
    2>"$TMP/curl.err" &
curl_pid=$!
PIDS+=("$curl_pid")
sleep 1
silence 12
i=0
while ! not_running "$SC_PID"; do
	[ "$i" -lt 300 ] || fail "sc still runs 30 s after the tunnel ended"
	sleep 0.1
	i=$((i + 1))
done
wait "$SC_PID"
status=$?
[ "$status" != 0 ] || fail "sc exited 0 after its tunnel was terminated"
grep -q 'Error: .*terminated.*grace period' "$TMP/sc.log" ||
    fail "no Error line about the grace period: $(grep Error "$TMP/sc.log")"
ok "12 s of silence: sc exited $status, '$(grep -o 'Error: .*' "$TMP/sc.log" | tail -n 1)'"

wait "$curl_pid"
cstatus=$?
size=$(stat -c %s "$TMP/partial" 2>/dev/null || echo 0)
[ "$cstatus" != 0 ] && [ "$size" -lt 33554432 ] ||
    fail "the transfer in flight: curl exit $cstatus, $size bytes"
ok "the transfer in flight ended with an error (curl exit $cstatus after $size bytes)"

st=$(rest GET "/$SC_USER/tunnels/$TUNNEL_ID" | json_get "j['status']")
[ "$st" = terminated ] || fail "REST status '$st', want terminated"
ok "the REST API says the tunnel is terminated"
e2e_done
