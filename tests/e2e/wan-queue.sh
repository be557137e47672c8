#!/bin/bash
# A window that lets out more than a long link holds queues the excess
# at the link's bottleneck, in front of every other stream of the KGP
# connection (issue 20).  Over a link of 50 ms and 200 Mbit/s (its
# bandwidth-delay product 1.25 MB, a 2.5 MB drop-tail queue;
# tests/tools/linkemu) a bulk download's window grows past 1 MiB; the
# receiving end (the server) measures the link's queueing delay with its
# probes and trims the window to the link plus its target (man/kgp.7,
# "Flow control"): it says so at trace level ("queue of D us, rtt R us:
# window W to G").  The bytes arrive whole, and small requests beside
# the bulk one are answered; how fast is logged, bench/wan.sh judges it.
. "$(dirname "$0")/lib.sh"

size=$((128 * 1024 * 1024))
LINKEMU=${LINKEMU:-$(dirname "$SC")/../tests/tools/linkemu}
[ -x "$LINKEMU" ] || fail "$LINKEMU is not built"
[ -e /dev/net/tun ] || skip "no /dev/net/tun"

e2e_init
long_link 217 -d 25 -r 200 -q 2500000

SERVER_VERBOSE=-vv start_server -K "$WAN_S:$KGP_PORT" -H "$WAN_S"
start_app
start_sc --tunnel-connections 1
office ss -tn state established "dst $WAN_S:$KGP_PORT" | grep -q "$WAN_S" ||
    fail "the KGP connection is not on the long link"

# trimmed LOG: a window past 1 MiB was trimmed to the link's queue
trimmed() {
	grep -Eq 'queue of [0-9]+ us, rtt [0-9]+ us: window [0-9]+ to [0-9]+$' "$1"
}
small() {
	cloud curl -sS --max-time 10 -x "http://$ENTRY" -o "$TMP/small" \
	    -w '%{time_starttransfer}\n' "$(app_url "/bytes/1024?seed=1")" &&
	    "$PYTHON" "$E2E_DIR/app.py" gen 1024 1 | cmp -s - "$TMP/small"
}

cloud curl -sS --max-time 120 -x "http://$ENTRY" -o "$TMP/down" \
    -w '%{speed_download}\n' "$(app_url "/bytes/$size?seed=9")" >"$TMP/down.rate" &
bulk=$!
PIDS+=($bulk)
wait_for 60 trimmed "$TMP/server.log" ||
    fail "the server never trimmed the bulk download's window: $(grep 'a window of' "$TMP/server.log" | tail -n 3)"
: >"$TMP/hol"
for i in 1 2 3; do
	small >>"$TMP/hol" || fail "a small request beside the bulk one failed"
done
wait "$bulk" || fail "the bulk download failed"
"$PYTHON" "$E2E_DIR/app.py" gen "$size" 9 | cmp -s - "$TMP/down" ||
    fail "the download's bytes differ"
log "$(grep -E 'queue of' "$TMP/server.log" | tail -n 1 | sed 's/.*\] //')"
log "first byte of a small request beside the bulk one: $(tr '\n' ' ' <"$TMP/hol")s; the bulk: $(cut -d. -f1 <"$TMP/down.rate") B/s"
ok "a bulk download's window trimmed to the link's queue, its $size bytes whole, small requests beside it answered"
e2e_done
