#!/bin/bash
# One stream's window follows a long link, and a small stream is not
# stuck behind a bulk one (issue 20).  The KGP connection crosses a link
# of WAN_RTT_MS (400 ms) round trip and 400 Mbit/s (tests/tools/linkemu,
# two TUN devices: this kernel has no sch_netem); the REST API and the
# browser's side stay on the fast veth.  With a fixed 1 MiB window a
# stream carries at most 1 MiB a round trip; the windows that follow the
# link (man/kgp.7, "Flow control") must grow past it: the receiving end
# says so at trace level ("a window of W in T us, rtt R us: NEW"), the
# server for a download, the client for an upload, and the bytes arrive
# whole.  A small request beside a bulk download on the same KGP
# connection gets its answer while the bulk one goes on.  How fast is for
# bench/wan.sh to say (tests assert behaviour, not speed): the rates and
# the small request's first byte are logged here, not judged.
. "$(dirname "$0")/lib.sh"

rtt_ms=${WAN_RTT_MS:-400}
size=$((64 * 1024 * 1024))

e2e_init
WAN_S=10.216.$N.1
WAN_O=10.216.$N.2
wan_link "lkc$N" "lko$N" "$WAN_S" "$WAN_O" -d $((rtt_ms / 2)) -r 400 -q 2500000

# KGP on the long link, the rest on the veth; both ends log their
# windows
wan_tunnel -v -v
rtt=$(ctl_status | sed -n 's/.*rtt \([0-9.]*\) *ms.*/\1/p' | head -n 1)
log "KGP round trip: ${rtt:-?} ms (the link: $rtt_ms ms)"

# grown LOG: a window grew past 1 MiB, as LOG says
grown() {
	awk '/a window of [0-9]+ in [0-9]+ us, rtt [0-9]+ us: [0-9]+$/ &&
	    $NF > 1048576 { found = 1 } END { exit !found }' "$1"
}

# download: one stream, a digest checked, the server's window grown
cloud curl -sS --max-time 120 -x "http://$ENTRY" -o "$TMP/down" \
    -w '%{speed_download}\n' "$(app_url "/bytes/$size?seed=7")" >"$TMP/down.rate" ||
    fail "the download failed"
"$PYTHON" "$E2E_DIR/app.py" gen "$size" 7 | cmp -s - "$TMP/down" ||
    fail "the download's bytes differ"
grown "$TMP/server.log" ||
    fail "the server's window for the download never grew past 1 MiB"
ok "a download of $size bytes whole, the receiving window grown past 1 MiB ($(cut -d. -f1 <"$TMP/down.rate") B/s)"
rm -f "$TMP/down"

# upload: one stream to /sink, which answers the body's digest; the
# client's window grown
wan_upload "$size" 120
grown "$TMP/sc.log" ||
    fail "the client's window for the upload never grew past 1 MiB"
ok "an upload of $size bytes whole, the receiving window grown past 1 MiB ($(cut -d. -f1 <"$TMP/up.rate") B/s)"

# a small request beside a bulk download on the same KGP connection:
# answered, whole, while the bulk one goes on
small() {
	cloud curl -sS --max-time 10 -x "http://$ENTRY" -o "$TMP/small" \
	    -w '%{time_starttransfer}\n' "$(app_url "/bytes/1024?seed=1")" &&
	    "$PYTHON" "$E2E_DIR/app.py" gen 1024 1 | cmp -s - "$TMP/small"
}
windows() {
	grep -c "a window of" "$TMP/server.log"
}
test_windows_past() {
	[ "$(windows)" -ge $(($1 + 2)) ]
}
cloud curl -sS --max-time 120 -x "http://$ENTRY" -o /dev/null \
    "$(app_url "/bytes/$((2048 * 1024 * 1024))?seed=3")" 2>/dev/null &
bulk=$!
PIDS+=($bulk)
# the bulk stream under way: its window has turned twice more
before=$(windows)
wait_for 30 test_windows_past "$before" ||
    fail "the bulk download does not move"
: >"$TMP/hol"
for i in 1 2 3; do
	small >>"$TMP/hol" || fail "a small request behind the bulk one failed"
done
kill -0 "$bulk" 2>/dev/null || fail "the bulk download ended before the small ones"
kill "$bulk" 2>/dev/null
log "first byte of a small request behind a bulk one: $(tr '\n' ' ' <"$TMP/hol")s (bench/wan.sh measures it)"
ok "three small requests answered whole beside a bulk download on the same KGP connection"
