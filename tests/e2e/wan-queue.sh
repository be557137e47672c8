#!/bin/bash
# A bulk stream does not keep the link's queue full (issue 20): one
# download through the tunnel over a link of 50 ms round trip and
# 200 Mbit/s whose bottleneck buffer holds 100 ms (tests/tools/linkemu),
# on one KGP connection.  Its window settles near the link's
# bandwidth-delay product (man/kgp.7, "Flow control"), so the bytes it
# lets out beyond what the link carries in a round trip, which wait in
# the link's queue in front of every other stream's, stay few: the
# queue the link emulator reports (SIGUSR1: the depth each arriving
# packet found) stays under a tenth of the round trip (5 ms) at the
# median and under a fifth (10 ms) for 90 % of the packets: windows that
# only doubled (1.5 to 3 times the product) kept 16-19 ms there at the
# median; the window that lost an eighth once a window's epoch when the
# queue was long, its credit going back a quarter window at a time (a
# burst the sender's TCP paces out faster than the link), 8.75-9.0 at
# the median and 15.75-16.5 for 90 %.  A small request beside the bulk
# one is answered whole meanwhile, and the bulk arrives whole.  Its
# first byte is logged, not judged (bench/wan.sh).
. "$(dirname "$0")/lib.sh"

rtt_ms=50
queue_max_ms=$(awk -v r=$rtt_ms 'BEGIN { print r / 10 }')
queue_p90_ms=$(awk -v r=$rtt_ms 'BEGIN { print r / 5 }')
size=$((384 * 1024 * 1024))

e2e_init
WAN_S=10.217.$N.1
WAN_O=10.217.$N.2
# 2.5 MB of buffer at 200 Mbit/s is 100 ms
wan_link "lqc$N" "lqo$N" "$WAN_S" "$WAN_O" -d $((rtt_ms / 2)) -r 200 -q 2500000

# KGP on the long link, the rest on the veth
wan_tunnel

windows() {
	grep -c "a window of" "$TMP/server.log"
}
test_windows_past() {
	[ "$(windows)" -ge $(($1 + 8)) ]
}
reports() {
	grep -c "queue lqo$N -> lqc$N" "$TMP/linkemu.log"
}
test_reports() {
	[ "$(reports)" -ge "$1" ]
}

cloud curl -sS --max-time 100 -x "http://$ENTRY" -o "$TMP/down" \
    "$(app_url "/bytes/$size?seed=5")" &
bulk=$!
PIDS+=($bulk)
# the bulk's window has turned eight times: it has settled
before=$(windows)
wait_for 60 test_windows_past "$before" ||
    fail "the bulk download does not move"
# the queue from here: five small requests long
n0=$(reports)
kill -USR1 "$LINK_PID"
wait_for 5 test_reports $((n0 + 1)) || fail "linkemu does not report"
: >"$TMP/hol"
for i in 1 2 3 4 5; do
	cloud curl -sS --max-time 10 -x "http://$ENTRY" -o "$TMP/small" \
	    -w '%{time_starttransfer}\n' "$(app_url "/bytes/1024?seed=1")" \
	    >>"$TMP/hol" || fail "a small request behind the bulk one failed"
	"$PYTHON" "$E2E_DIR/app.py" gen 1024 1 | cmp -s - "$TMP/small" ||
	    fail "a small answer behind the bulk one differs"
done
kill -USR1 "$LINK_PID"
wait_for 5 test_reports $((n0 + 2)) || fail "linkemu does not report"
kill -0 "$bulk" 2>/dev/null ||
    fail "the bulk download ended before the small ones"
line=$(grep "queue lqo$N -> lqc$N" "$TMP/linkemu.log" | tail -n 1)
median=$(awk '{ print $9 }' <<<"$line")
p90=$(awk '{ print $13 }' <<<"$line")
log "the link's queue behind the bulk: ${line#*: }"
log "first byte of a small request behind it: $(tr '\n' ' ' <"$TMP/hol")s (round trip $rtt_ms ms)"
awk -v m="$median" -v lim="$queue_max_ms" 'BEGIN { exit !(m <= lim) }' ||
    fail "the bulk keeps $median ms in the link's queue (median), more than $queue_max_ms"
awk -v m="$p90" -v lim="$queue_p90_ms" 'BEGIN { exit !(m <= lim) }' ||
    fail "the bulk keeps $p90 ms in the link's queue for 90 % of its packets, more than $queue_p90_ms"
ok "the link's queue behind a bulk stream: $median ms at the median (at most $queue_max_ms), $p90 ms for 90 % (at most $queue_p90_ms)"
wait "$bulk" || fail "the bulk download failed"
"$PYTHON" "$E2E_DIR/app.py" gen "$size" 5 | cmp -s - "$TMP/down" ||
    fail "the bulk download's bytes differ"
ok "the bulk download of $size bytes whole, five small answers whole beside it"
