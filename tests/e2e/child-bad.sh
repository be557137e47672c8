#!/bin/bash
# A child that sends the controller what it never should (an IMSG_STATS
# of the wrong size, a type sc does not know): sc logs it, kills and
# restarts the child, and goes on with its tunnel; it never exits over
# it.  One that sends a message before its hello has never started: sc
# says so and exits 1.  The child is tests/tools/badchild standing in for
# proxyd, in a copy of the build tree (sc starts the helpers it finds
# next to itself); the name of the copy tells it what to send.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/client-lib.sh"
e2e_init
[ -x "$BADCHILD" ] || fail "$BADCHILD is not built"
start_server

kgpd_bin=$(dirname "$SC")/../kgpd/kgpd
sc_bin=$SC
for mode in stats type early; do
	tree=$TMP/tree-$mode
	mkdir -p "$tree/controller" "$tree/kgpd" "$tree/proxyd"
	cp "$sc_bin" "$tree/controller/sc" &&
	    cp "$kgpd_bin" "$tree/kgpd/kgpd" &&
	    cp "$BADCHILD" "$tree/proxyd/proxyd" ||
	    fail "cannot copy the programs"
	SC=$tree/controller/sc
	sc_v4 "$mode" -i "$TUNNEL_NAME-$mode" -d "$TMP/$mode.pid"
done
sc_ready stats
sc_ready type

# a bad message a second after each start, restarts after 0.5, 1, 2 s
restarts() {
	grep -c 'proxyd sent what it never should: restarting it' "$TMP/$1.log"
}
restarted_twice() {
	[ "$(restarts stats)" -ge 2 ] && [ "$(restarts type)" -ge 2 ]
}
wait_for 20 restarted_twice ||
    fail "restarts: stats $(restarts stats), type $(restarts type), want 2 each"
grep -q 'proxyd: bad IMSG_STATS' "$TMP/stats.log" ||
    fail "no 'proxyd: bad IMSG_STATS' in sc's log"
grep -q 'proxyd: unexpected message 9999' "$TMP/type.log" ||
    fail "no 'proxyd: unexpected message 9999' in sc's log"
for mode in stats type; do
	! not_running "${SCPID[$mode]}" ||
	    fail "sc ($mode) exited: $(tail -n 5 "$TMP/$mode.log")"
	"$SC_CTL" -s "$TMP/$mode.sock" status | grep -q '^state: up' ||
	    fail "sc ($mode): sc-ctl status: $("$SC_CTL" -s "$TMP/$mode.sock" status | head -n 3)"
done
ok "a bad IMSG_STATS, an unknown type from proxyd: logged, proxyd restarted, sc up with its tunnel"

sc_exit early 20
[ "${SCSTATUS[early]}" = 1 ] ||
    fail "sc with a child that spoke before its hello: exit ${SCSTATUS[early]}, want 1"
grep -q 'proxyd: message [0-9]* before hello' "$TMP/early.log" &&
    grep -q 'proxyd did not start' "$TMP/early.log" ||
    fail "sc's log: $(tail -n 5 "$TMP/early.log")"
ok "a message before the hello: logged, 'proxyd did not start', exit 1"
e2e_done
