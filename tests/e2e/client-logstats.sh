#!/bin/bash
# -z/--log-stats N: one "Stats:" line every N seconds with the state,
# the connections up, the streams, the bytes and the requests by class;
# its figures move after requests through the tunnel; a bad N is refused.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/client-lib.sh"
e2e_init
start_server
start_app

status=0
office timeout 20 "$SC" -u "$SC_USER" -k "$KEY" -x "$REST_URL" -z 0 \
    >"$TMP/bad.log" 2>&1 || status=$?
[ "$status" != 0 ] && [ "$status" != 124 ] &&
    grep -q 'Error: -z: .0. is not a number from 1 to 86400' "$TMP/bad.log" ||
    fail "-z 0: exit $status, '$(cat "$TMP/bad.log")'"
ok "-z 0 refused: '$(grep -m1 'Error: ' "$TMP/bad.log")'"

sc_v4 ls -i "$TUNNEL_NAME" -z 1
sc_ready ls
id=$(sc_id ls)

nstats() { grep -c 'Stats: state ' "$TMP/ls.log"; }
more_stats() { [ "$(nstats)" -ge "$1" ]; }
wait_for 10 more_stats 1 || fail "no 'Stats:' line within 10 s"
n0=$(nstats)
wait_for 5 more_stats $((n0 + 2)) || fail "no 2 more 'Stats:' lines in 5 s"
line=$(grep 'Stats: state ' "$TMP/ls.log" | tail -n 1)
echo "$line" | grep -Eq 'Stats: state up, connections [1-9][0-9]*/[1-9][0-9]* up, streams [0-9]+ open [0-9]+ total, bytes [0-9]+ in [0-9]+ out, requests 1xx [0-9]+ 2xx [0-9]+ 3xx [0-9]+ 4xx [0-9]+ 5xx [0-9]+, TLS handovers [0-9]+, rtt [0-9.]+ ms' ||
    fail "the Stats line: '$line'"
ok "a 'Stats:' line every second: '${line#*Stats: }'"

entry=$(entry_of "$id")
fetch_via "$entry" ls1 || fail "GET through the tunnel"
fetch_via "$entry" ls2 || fail "GET through the tunnel"
moved() {
	local l
	l=$(grep 'Stats: state ' "$TMP/ls.log" | tail -n 1)
	echo "$l" | grep -Eq 'streams [0-9]+ open ([2-9]|[1-9][0-9]+) total' &&
	    echo "$l" | grep -Eq '2xx ([2-9]|[1-9][0-9]+) ' &&
	    ! echo "$l" | grep -q 'bytes 0 in'
}
wait_for 10 moved ||
    fail "the figures did not move: '$(grep 'Stats: ' "$TMP/ls.log" | tail -n 1)'"
line=$(grep 'Stats: state ' "$TMP/ls.log" | tail -n 1)
ok "after 2 requests: '${line#*Stats: }'"

sc_term ls
[ "${SCSTATUS[ls]}" = 0 ] || fail "sc exit ${SCSTATUS[ls]}"
e2e_done
