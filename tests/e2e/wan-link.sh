#!/bin/bash
# One stream fills a long link, and a small one is not stuck behind it
# (issue 20).  The KGP connection crosses a link of WAN_RTT_MS (400 ms)
# round trip and 400 Mbit/s (tests/tools/linkemu, two TUN devices: this
# kernel has no sch_netem); the REST API and the browser's side stay on
# the fast veth.  With a fixed 1 MiB window a stream carries at most
# 1 MiB a round trip (2.6 MB/s here); the windows that follow the link
# (man/kgp.7, "Flow control") must carry more than WAN_MIN_RATIO (1.5)
# times that in one stream each way, and meanwhile a small request
# beside a bulk download on the same KGP connection must get its first
# byte within one round trip and WAN_HOL_MS (300 ms): the KGP socket's
# unsent bytes are bounded (TCP_NOTSENT_LOWAT) and the streams take
# turns in a short user-space queue.
. "$(dirname "$0")/lib.sh"

rtt_ms=${WAN_RTT_MS:-400}
min_ratio=${WAN_MIN_RATIO:-1.5}
hol_ms=${WAN_HOL_MS:-300}
size=$((64 * 1024 * 1024))
LINKEMU=${LINKEMU:-$(dirname "$SC")/../tests/tools/linkemu}
[ -x "$LINKEMU" ] || fail "$LINKEMU is not built"
[ -e /dev/net/tun ] || skip "no /dev/net/tun"

e2e_init
WAN_S=10.216.$N.1
WAN_O=10.216.$N.2
# the link: TUN devices the emulator creates, then moved to each side
"$LINKEMU" -d $((rtt_ms / 2)) -r 400 -q 2500000 -m 9000 "lkc$N" "lko$N" \
    >"$TMP/linkemu.log" 2>&1 &
PIDS+=($!)
wait_for 5 ip link show "lko$N" || fail "linkemu made no TUN devices"
ip link set "lkc$N" netns "$CLOUD" && ip link set "lko$N" netns "$OFFICE" ||
    fail "cannot move the TUN devices"
cloud ip addr add "$WAN_S" peer "$WAN_O" dev "lkc$N"
office ip addr add "$WAN_O" peer "$WAN_S" dev "lko$N"
cloud ip link set "lkc$N" mtu 9000 up
office ip link set "lko$N" mtu 9000 up

# KGP on the long link, the rest on the veth
start_server -K "$WAN_S:$KGP_PORT" -H "$WAN_S"
start_app
start_sc --tunnel-connections 1
office ss -tn state established "dst $WAN_S:$KGP_PORT" | grep -q "$WAN_S" ||
    fail "the KGP connection is not on the long link"
rtt=$(ctl_status | sed -n 's/.*rtt \([0-9.]*\) *ms.*/\1/p' | head -n 1)
log "KGP round trip: ${rtt:-?} ms (the link: $rtt_ms ms)"

# the most a stream gets a second with a fixed 1 MiB window, and the floor
fixed=$(awk -v r="$rtt_ms" 'BEGIN { printf "%.0f", 1048576 / (r / 1000) }')
floor=$(awk -v f="$fixed" -v k="$min_ratio" 'BEGIN { printf "%.0f", f * k }')

# rate_ok WAY FILE: the B/s curl wrote in FILE, at least the floor
rate_ok() {
	local rate
	rate=$(cut -d. -f1 <"$2")
	log "$1: $rate B/s in one stream (a fixed window: $fixed at most)"
	[ "$rate" -ge "$floor" ] ||
	    fail "one stream ${1}s $rate B/s, less than $min_ratio x $fixed"
	ok "one stream ${1}s $rate B/s over a $rtt_ms ms link (>= $floor)"
}

# download: one stream, a digest checked
cloud curl -sS --max-time 60 -x "http://$ENTRY" -o "$TMP/down" \
    -w '%{speed_download}\n' "$(app_url "/bytes/$size?seed=7")" >"$TMP/down.rate" ||
    fail "the download failed"
"$PYTHON" "$E2E_DIR/app.py" gen "$size" 7 | cmp -s - "$TMP/down" ||
    fail "the download's bytes differ"
rate_ok download "$TMP/down.rate"
rm -f "$TMP/down"

# upload: one stream to /sink, which answers the body's digest
head -c "$size" /dev/urandom >"$TMP/up"
want=$(sha256sum "$TMP/up" | cut -d' ' -f1)
cloud curl -sS --max-time 60 -x "http://$ENTRY" --data-binary "@$TMP/up" \
    -H 'Content-Type: application/octet-stream' -o "$TMP/up.json" \
    -w '%{speed_upload}\n' "$(app_url /sink)" >"$TMP/up.rate" ||
    fail "the upload failed"
got=$(json_get "j['sha256']" <"$TMP/up.json")
[ "$got" = "$want" ] || fail "the upload arrived as $got, not $want"
rate_ok upload "$TMP/up.rate"
rm -f "$TMP/up"

# a small request beside a bulk download on the same KGP connection
small() {
	cloud curl -sS --max-time 10 -x "http://$ENTRY" -o /dev/null \
	    -w '%{time_starttransfer}\n' "$(app_url "/bytes/1024?seed=1")" |
	    awk '{ printf "%.0f\n", $1 * 1000 }'
}
idle=$(for i in 1 2 3; do small; done | sort -n | sed -n 2p)
cloud curl -sS --max-time 60 -x "http://$ENTRY" -o /dev/null \
    "$(app_url "/bytes/$((2048 * 1024 * 1024))?seed=3")" 2>/dev/null &
bulk=$!
PIDS+=($bulk)
# once the bulk stream's window has grown (a few round trips)
sleep 3
kill -0 "$bulk" 2>/dev/null || fail "the bulk download ended early"
: >"$TMP/hol"
for i in 1 2 3 4 5 6 7; do
	small >>"$TMP/hol"
	sleep 0.2
done
kill "$bulk" 2>/dev/null
med=$(sort -n "$TMP/hol" | sed -n 4p)
log "first byte of a small request: $idle ms alone, $med ms behind a bulk one ($(tr '\n' ' ' <"$TMP/hol"))"
[ "$med" -le $((rtt_ms + hol_ms)) ] ||
    fail "a small request behind a bulk stream waits $med ms for its first byte (> $rtt_ms + $hol_ms)"
ok "a small request behind a bulk stream: first byte in $med ms (<= $rtt_ms + $hol_ms)"
