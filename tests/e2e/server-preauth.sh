#!/bin/bash
# Connections that never finish their KGP handshake (issue 14, item 7),
# scaled down: the server gets 512 descriptors, so that the KGP endpoint
# may hold at most 128 connections before their HELLO (a quarter).
#  - one that sends nothing costs the KGP worker next to nothing (no TLS
#    context, no buffers: under 16 KiB each, where it was about 60);
#  - a flood that keeps 650 of them open, silent or stuck after the
#    ClientHello, from 100 loopback addresses and from the office's own
#    address, meets the bounds (per address, in all), not EMFILE: the
#    entry proxy serves every request, the REST API answers, and the
#    client's KGP connection, killed, comes back through the flood.
. "$(dirname "$0")/lib.sh"
e2e_init
SERVER_NOFILE=512 start_server
start_app
start_sc

# fds_above PID N: the process holds more than N descriptors
fds_above() {
	[ "$(fd_count "$1")" -gt "$2" ]
}

browse_ok through || fail "the tunnel does not serve before the test"
kgp=$(server_worker kgp)
[ -n "$kgp" ] || fail "no KGP worker"

# 1. memory: 100 connections that send nothing, 10 per address
fd0=$(fd_count "$kgp")
rss0=$(rss_kib "$kgp")
flood cloud silent1 --target "$CLOUD_IP:$KGP_PORT" --mode silent \
    --count 100 --sources "$(loopback_sources 1 10)" --duration 60
wait_for 10 fds_above "$kgp" $((fd0 + 99)) ||
    fail "the KGP worker holds $(fd_count "$kgp") descriptors, not $fd0 + 100"
rss1=$(rss_kib "$kgp")
per=$(( (rss1 - rss0) * 1024 / 100 ))
[ "$per" -lt 16384 ] ||
    fail "a KGP connection that sent nothing costs $per bytes ($rss0 -> $rss1 KiB for 100)"
ok "100 silent KGP connections: $rss0 -> $rss1 KiB, $per bytes each"
flood_stop

# 2. the flood, kept up: whatever the server closes is opened again
flood cloud silent --target "$CLOUD_IP:$KGP_PORT" --mode silent \
    --count 400 --sources "$(loopback_sources 1 100)" --duration 120 --refill
flood cloud hello --target "$CLOUD_IP:$KGP_PORT" --mode tls-hello \
    --count 150 --sources "$(loopback_sources 2 100)" --duration 120 --refill
flood office office --target "$CLOUD_IP:$KGP_PORT" --mode silent \
    --count 100 --duration 120 --refill
log "flood: $(cat "$TMP/flood-silent.json") $(cat "$TMP/flood-hello.json") $(cat "$TMP/flood-office.json")"

good=$(count_ok 10 browse_ok through)
[ "$good" = 10 ] || fail "entry requests during the flood: $good of 10 succeeded"
ok "entry proxy during the flood: 10 of 10 requests succeeded"

list=$(rest GET "/$SC_USER/tunnels") || fail "REST during the flood failed"
echo "$list" | grep -q "$TUNNEL_ID" || fail "REST during the flood: $list"
ok "REST API during the flood: the tunnel is listed"

# the client's KGP connections go and must come back through the flood
old=$(kgpd_pid)
[ -n "$old" ] || fail "sc has no kgpd"
# shellcheck disable=SC2086 # every kgpd
kill -KILL $old
wait_for 10 kgpd_new "$old" || fail "sc started no new kgpd"
t0=$(date +%s)
wait_for 20 browse_ok through 2 ||
    fail "the tunnel did not come back within 20 s of a new kgpd"
ok "the client reconnected through the flood in $(( $(date +%s) - t0 )) s"

good=$(count_ok 10 browse_ok through)
[ "$good" = 10 ] || fail "entry requests after the reconnect: $good of 10"
ok "entry proxy after the reconnect: 10 of 10"

fds=$(fd_count "$kgp")
rss=$(rss_kib "$kgp")
closed=$(( $(flood_field silent closed) + $(flood_field hello closed) +
    $(flood_field office closed) ))
[ "$closed" -gt 0 ] || fail "the server closed none of the flood"
grep -q 'KGP: .*closing the oldest waiting connections' "$TMP/server.log" ||
    fail "no log line about closing waiting KGP connections"
ok "KGP worker under the flood: $fds descriptors, $rss KiB; $closed flood connections closed by the server"
flood_stop
e2e_done
