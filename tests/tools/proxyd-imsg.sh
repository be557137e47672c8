#!/bin/bash
# proxyd-imsg: a message of a type proxyd does not know, on its kgpd
# channel (tests/tools/proxyd-harness, SIGHUP), is logged and dropped:
# proxyd still answers a statistics request and is not restarted.
#
#	proxyd-imsg.sh HARNESS PROXYD
#
# Exit 0 when that happened, 1 otherwise (bounded to 10 s), 77 (a skip)
# as root without the user _sc that proxyd becomes.
harness=$1 proxyd=$2
if [ "$(id -u)" = 0 ] && ! getent passwd _sc >/dev/null; then
	echo "proxyd-imsg: skipped: started as root, no user _sc"
	exit 77
fi
log=$(mktemp /tmp/proxyd-imsg.XXXXXX)
"$harness" -l "127.0.0.1:$((20000 + $$ % 20000))" -p "$proxyd" 2>"$log" &
pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -f "$log"' EXIT
wait_log() {
	local i
	for i in $(seq 1 100); do
		grep -q "$1" "$log" && return 0
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	echo "proxyd-imsg: no '$1' in the log:"
	cat "$log"
	exit 1
}
wait_log 'proxyd hello'
kill -HUP "$pid"
wait_log 'unexpected message 9999'
kill -USR1 "$pid"
wait_log 'harness: streams-open'
if grep -q 'harness: proxyd \(exited\|killed\)' "$log"; then
	echo "proxyd-imsg: proxyd died:"
	cat "$log"
	exit 1
fi
echo "proxyd-imsg: proxyd logged the message, dropped it and answers"
