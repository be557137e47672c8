#!/bin/bash
# server-addtwice: a REST worker gone wrong (tests/tools/badworker-add in
# place of "sc-server -W rest", put there by execshim.so) adds the same
# new tunnel twice; the parent relays both to the KGP worker, which logs
# the second and carries on, rather than end (fatalx) and with it every
# tunnel of the node.
#
#	server-addtwice.sh SC-SERVER EXECSHIM BADWORKER-ADD
#
# Exit 0 when that happened, 1 otherwise (bounded to 15 s), 77 (a skip)
# as root without the user _sc that the workers become.
. "$(dirname "$0")/fakeworker-lib.sh"
fake_server server-addtwice "$@"
# the second add: a warning, or the KGP worker gone
for i in $(seq 1 150); do
	grep -q 'added twice\|kgp worker [0-9]* exited' "$log" && break
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.1
done
grep -q 'badworker: rest worker [0-9]* adds tunnel a* twice' "$log" ||
    fail "the fake REST worker did not run"
grep -q '\[kgp\] tunnel_add: tunnel a* added twice: it keeps what it had' "$log" ||
    fail "no warning of the KGP worker about the second add"
# a worker's exit is logged once it is reaped: give it the time
for i in $(seq 1 10); do
	grep -q 'kgp worker [0-9]* exited' "$log" && break
	sleep 0.1
done
grep -q 'kgp worker [0-9]* exited' "$log" &&
    fail "the KGP worker exited at the second add"
kill -0 "$pid" 2>/dev/null || fail "sc-server exited"
echo "server-addtwice: the second add of a tunnel was logged, the KGP worker serves on"
