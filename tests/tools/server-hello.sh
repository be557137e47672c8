#!/bin/bash
# server-hello: a worker of sc-server that says hello twice
# (tests/tools/badworker in place of "sc-server -W rest", put there by
# execshim.so) is killed by the parent, which says why: a second hello
# is a message a worker never sends, not one to take again.  The worker
# never served, so sc-server then exits 1.
#
#	server-hello.sh SC-SERVER EXECSHIM BADWORKER
#
# Exit 0 when that happened, 1 otherwise (bounded to 15 s), 77 (a skip)
# as root without the user _sc that the workers become.
. "$(dirname "$0")/fakeworker-lib.sh"
fake_server server-hello "$@"
for i in $(seq 1 150); do
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.1
done
kill -0 "$pid" 2>/dev/null && fail "sc-server still runs after 15 s"
wait "$pid"
status=$?
grep -q 'badworker: rest worker [0-9]* says hello twice' "$log" ||
    fail "the fake worker did not run"
grep -q 'rest worker [0-9]* sent IMSG_SRV_HELLO again: killing it' "$log" ||
    fail "no 'rest worker N sent IMSG_SRV_HELLO again: killing it'"
[ "$(grep -c 'rest worker [0-9]*: hello' "$log")" = 1 ] ||
    fail "the parent took $(grep -c 'rest worker [0-9]*: hello' "$log") hellos, want 1"
# killed, or gone at the close of its channel just before the signal
grep -q 'rest worker [0-9]* .*during its start: sc-server cannot serve' \
    "$log" || fail "no 'rest worker N ... during its start'"
[ "$status" = 1 ] || fail "sc-server exited $status, want 1"
echo "server-hello: the second hello got the worker killed, sc-server exited 1"
