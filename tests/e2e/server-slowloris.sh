#!/bin/bash
# Slowloris on the REST API and on an entry proxy (issue 14, item 8),
# scaled down: the server gets 512 descriptors.
#  - a request head sent one byte a second is cut off by the deadline
#    of the whole head (REST 20 s, entry 30 s), which bytes do not move;
#  - a flood of such connections kept open, from 100 loopback addresses
#    (more than the server lets wait: it closes and they come back) and,
#    within the bound per address, from the very addresses the
#    legitimate clients use, meets the bounds: every legitimate REST and
#    entry request succeeds while it goes on, from the flooded addresses
#    and from an address the server has never seen.
. "$(dirname "$0")/lib.sh"
e2e_init
SERVER_NOFILE=512 start_server
start_app
start_sc

# rest_ok [NS [curl args]]: an authenticated REST list from cloud or
# office
rest_ok() {
	local ns=cloud
	[ "${1:-cloud}" = office ] && ns=office
	shift
	"$ns" curl -sS --max-time 10 -o "$TMP/l" -w '%{http_code}' "$@" \
	    -u "$SC_USER:$KEY" "$REST_URL/$SC_USER/tunnels" >"$TMP/code" \
	    2>>"$TMP/rest-errors.log" || return 1
	[ "$(cat "$TMP/code")" = 200 ] && grep -q "$TUNNEL_ID" "$TMP/l"
}

# all_closed NAME COUNT: the server has closed the flood's COUNT
all_closed() {
	[ "$(flood_field "$1" closed)" = "$2" ]
}

browse_ok loris || fail "the tunnel does not serve before the test"
rest_ok || fail "REST does not answer before the test"

# 1. the whole head has a deadline: one byte a second does not move it
flood cloud rest1 --target "$CLOUD_IP:$REST_PORT" --mode slow \
    --interval 1 --count 5 --duration 60
flood cloud entry1 --target "$ENTRY" --mode slow --interval 1 --count 5 \
    --duration 60
wait_for 30 all_closed rest1 5 ||
    fail "REST: trickling heads still open after 30 s: $(cat "$TMP/flood-rest1.json")"
t=$(flood_field rest1 longest_closed)
ok "REST: 5 heads trickling a byte a second closed by the server after $t s at most"
wait_for 15 all_closed entry1 5 ||
    fail "entry: trickling heads still open after 45 s: $(cat "$TMP/flood-entry1.json")"
t=$(flood_field entry1 longest_closed)
ok "entry: 5 heads trickling a byte a second closed by the server after $t s at most"
flood_stop

# 2. the flood, kept up, from many addresses and from the clients' own
flood cloud rest --target "$CLOUD_IP:$REST_PORT" --mode slow --interval 1 \
    --count 600 --sources "$(loopback_sources 1 100)" --duration 120 \
    --refill
flood cloud restself --target "$CLOUD_IP:$REST_PORT" --mode slow \
    --interval 1 --count 50 --sources "$CLOUD_IP" --duration 120 --refill
flood cloud entry --target "$ENTRY" --mode slow --interval 1 \
    --count 450 --sources "$(loopback_sources 2 100)" --duration 120 \
    --refill
flood cloud entryself --target "$ENTRY" --mode slow --interval 1 \
    --count 100 --sources 127.0.0.1 --duration 120 --refill
log "flood: rest $(cat "$TMP/flood-rest.json") entry $(cat "$TMP/flood-entry.json")"

good=$(count_ok 10 rest_ok cloud)
[ "$good" = 10 ] ||
    fail "REST from $CLOUD_IP (flooded too) during the flood: $good of 10"
ok "REST from the flooded address $CLOUD_IP: 10 of 10 succeeded"
good=$(count_ok 10 rest_ok office)
[ "$good" = 10 ] || fail "REST from $OFFICE_IP during the flood: $good of 10"
ok "REST from $OFFICE_IP: 10 of 10 succeeded"
good=0
for i in $(seq 1 10); do
	rest_ok cloud --interface 127.0.9.$i && good=$((good + 1))
done
[ "$good" = 10 ] || fail "REST from new addresses during the flood: $good of 10"
ok "REST from 10 addresses never seen before: 10 of 10 succeeded"
good=$(count_ok 10 browse_ok loris)
[ "$good" = 10 ] || fail "entry requests during the flood: $good of 10"
ok "entry proxy (from the flooded address 127.0.0.1): 10 of 10 succeeded"

closed=$(( $(flood_field rest closed) + $(flood_field restself closed) ))
[ "$closed" -gt 0 ] || fail "the REST worker closed none of the flood"
closed_e=$(( $(flood_field entry closed) + $(flood_field entryself closed) ))
[ "$closed_e" -gt 0 ] || fail "the KGP worker closed none of the entry flood"
grep -q 'REST: .*closing the oldest waiting connections' "$TMP/server.log" ||
    fail "no log line about closing waiting REST connections"
grep -q 'entry proxies: .*closing the oldest waiting connections' \
    "$TMP/server.log" ||
    fail "no log line about closing waiting entry connections"
ok "the servers closed $closed REST and $closed_e entry flood connections"
flood_stop
e2e_done
