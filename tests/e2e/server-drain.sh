#!/bin/bash
# sc-server drains on SIGTERM: every KGP connection gets GOAWAY, no new
# stream is opened, and the server waits (10 s at most) for the open
# streams to end before it exits 0.  A download in flight completes byte
# for byte; sc says the server drained its connections and keeps running.
. "$(dirname "$0")/lib.sh"
e2e_up

# about 5 s at 8 MB/s: in flight when the signal comes, done within 10 s
size=41943040
want=$(gen_sha256 "$size" 23)
cloud curl -sS --max-time 30 --limit-rate 8m -x "http://$ENTRY" \
    -o "$TMP/download" "$(app_url "/bytes/$size?seed=23")" 2>"$TMP/curl.err" &
curl_pid=$!
PIDS+=("$curl_pid")
sleep 1
[ -s "$TMP/download" ] || fail "the download has not started after 1 s"

t0=$(date +%s%N)
kill -TERM "$SERVER_PID"
wait_for 5 grep -q 'Tunnel connection [0-9]* lost: the server is draining' \
    "$TMP/sc.log" || fail "sc does not report the server's GOAWAY"
ok "SIGTERM to sc-server with a download in flight: sc got GOAWAY"

wait "$curl_pid" || fail "the download in flight failed: $(cat "$TMP/curl.err")"
got=$(sha256sum "$TMP/download" | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "the download in flight: sha256 $got, want $want"
ok "the download in flight completed: $size bytes, sha256 equal"

wait_for 12 not_running "$SERVER_PID" ||
    fail "sc-server still runs 12 s after SIGTERM"
wait "$SERVER_PID" 2>/dev/null
st=$?
t1=$(date +%s%N)
[ "$st" = 0 ] || fail "sc-server exited $st after SIGTERM, want 0"
grep -q 'streams still open after' "$TMP/server.log" &&
    fail "the server had to cut streams: it did not wait for them"
ok "sc-server exited 0 $(( (t1 - t0) / 1000000 )) ms after SIGTERM," \
    "once the stream was done"

not_running "$SC_PID" && fail "sc exited when the server drained"
ok "sc still runs, reconnecting"
