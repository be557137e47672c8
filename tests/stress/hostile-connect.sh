#!/bin/bash
# Stress run (not in the default suite; a few minutes): legitimate REST
# and entry requests, and a KGP reconnect, while floods hold connections
# that prove nothing (issue 14, items 7 and 8), at the issue's sizes:
#   KGP:   COUNT connections before HELLO (half silent, half stuck after
#          their ClientHello)
#   REST:  COUNT slowloris connections (a byte a second)
#   entry: COUNT slowloris connections
# each from 200 loopback addresses and kept up (what the server closes
# comes back).  Prints the legitimate success rates and the peak RSS of
# each sc-server process.
#
#   sudo SC=build/controller/sc SC_SERVER=build/server/sc-server \
#       SC_CTL=build/sc-ctl/sc-ctl [COUNT=10000] tests/stress/hostile-connect.sh
. "$(dirname "$0")/../e2e/lib.sh"
COUNT=${COUNT:-10000}
FLOOD_READY_SEC=300
TRIES=${TRIES:-50}
e2e_init
start_server
start_app
start_sc

# sources FIRST: 200 loopback addresses, 127.0.FIRST.1 .. 127.0.FIRST+1.100
sources() {
	echo "$(loopback_sources "$1" 100),$(loopback_sources $(($1 + 1)) 100)"
}

rest_ok() {
	[ "$(cloud curl -sS --max-time 10 -o /dev/null -w '%{http_code}' \
	    -u "$SC_USER:$KEY" "$REST_URL/$SC_USER/tunnels" 2>/dev/null)" = 200 ]
}

hwm() {
	awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"
}

browse_ok stress && rest_ok || fail "the tunnel does not serve before the run"
kgp=$(server_worker kgp)
rest=$(server_worker rest)
log "before: KGP worker $(rss_kib "$kgp") KiB, REST worker $(rss_kib "$rest") KiB"

half=$((COUNT / 2))
flood cloud silent --target "$CLOUD_IP:$KGP_PORT" --mode silent \
    --count "$half" --sources "$(sources 10)" --hold 600 --refill
flood cloud hello --target "$CLOUD_IP:$KGP_PORT" --mode tls-hello \
    --count "$half" --sources "$(sources 20)" --hold 600 --refill
flood cloud rest --target "$CLOUD_IP:$REST_PORT" --mode trickle \
    --count "$COUNT" --sources "$(sources 30)" --hold 600 --refill
flood cloud entry --target "$ENTRY" --mode trickle \
    --count "$COUNT" --sources "$(sources 40)" --hold 600 --refill
log "floods up: kgp $(cat "$TMP/flood-silent.json") $(cat "$TMP/flood-hello.json")"
log "rest $(cat "$TMP/flood-rest.json") entry $(cat "$TMP/flood-entry.json")"

t0=$(date +%s)
r=$(count_ok "$TRIES" rest_ok)
e=$(count_ok "$TRIES" browse_ok stress)
t1=$(date +%s)

old=$(kgpd_pid)
kill -KILL "$old"
wait_for 10 kgpd_new "$old" || fail "sc started no new kgpd"
t2=$(date +%s)
wait_for 60 browse_ok stress || fail "the tunnel did not come back within 60 s"
t3=$(date +%s)

echo "figures ($COUNT per flood, $TRIES tries each, $((t1 - t0)) s):"
echo "  REST success       $r/$TRIES"
echo "  entry success      $e/$TRIES"
echo "  KGP reconnect      $((t3 - t2)) s after a new kgpd"
echo "  KGP worker         peak $(hwm "$kgp") KiB, now $(rss_kib "$kgp") KiB, $(fd_count "$kgp") fds"
echo "  REST worker        peak $(hwm "$rest") KiB, now $(rss_kib "$rest") KiB, $(fd_count "$rest") fds"
echo "  parent             peak $(hwm "$SERVER_PID") KiB"
for f in silent hello rest entry; do
	echo "  flood $f: $(cat "$TMP/flood-$f.json")"
done
flood_stop
[ "$r" = "$TRIES" ] && [ "$e" = "$TRIES" ] ||
    fail "legitimate requests failed under the floods"
e2e_done
