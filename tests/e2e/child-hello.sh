#!/bin/bash
# A helper that says hello twice (issue 15): the second hello is a
# message it never should send, not a new helper.  sc logs it, kills and
# restarts the helper, and nothing reconnects on the strength of it:
# before, sc took it for a new kgpd, sent the configuration again and
# connected every tunnel connection again.  The helper is
# tests/tools/badchild standing in for kgpd (it says every connection is
# up, then hello again, and reports on its standard error, which is sc's
# log, what sc sends it after that), in a copy of the build tree.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/client-lib.sh"
e2e_init
[ -x "$BADCHILD" ] || fail "$BADCHILD is not built"
start_server

tree=$TMP/tree-hello2
mkdir -p "$tree/controller" "$tree/kgpd" "$tree/proxyd"
cp "$SC" "$tree/controller/sc" &&
    cp "$BADCHILD" "$tree/kgpd/kgpd" &&
    cp "$(dirname "$SC")/../proxyd/proxyd" "$tree/proxyd/proxyd" ||
    fail "cannot copy the programs"
SC=$tree/controller/sc
# the stand-in says both connections are up: one kgpd holds them
sc_v4 hello2 -i "$TUNNEL_NAME" --tunnel-connections 2 --kgp-processes 1
sc_ready hello2

restarted() {
	grep -q 'kgpd sent what it never should: restarting it' \
	    "$TMP/hello2.log"
}
wait_for 20 restarted ||
    fail "no restart after a second hello: $(grep -E 'badchild|kgpd' "$TMP/hello2.log" | tail -n 5)"
grep -q 'badchild: 2 connections up, saying hello again' "$TMP/hello2.log" ||
    fail "the helper never said hello twice"
grep -q 'kgpd: IMSG_HELLO again' "$TMP/hello2.log" ||
    fail "no 'kgpd: IMSG_HELLO again' in sc's log"
! grep 'after the second hello' "$TMP/hello2.log" ||
    fail "sc sent the helper its configuration or connections again"
ok "a second hello: 'kgpd: IMSG_HELLO again', kgpd restarted, no configuration or connection sent after it"

# the restarted helper is a new kgpd: that one is connected again, and
# sc lives on
wait_for 20 grep -q 'kgpd is back, reconnecting the tunnel' \
    "$TMP/hello2.log" || fail "the restarted kgpd was not connected"
! not_running "${SCPID[hello2]}" ||
    fail "sc exited: $(tail -n 5 "$TMP/hello2.log")"
! grep 'after the second hello' "$TMP/hello2.log" ||
    fail "sc sent a helper its configuration or connections again"
ok "the restarted kgpd is connected as a new one; sc runs on"
e2e_done
