#!/bin/bash
# The link down for longer than the server's grace period (issue 4):
# sc-server -g 5 (and -M 2, so that it declares the silent link dead
# quickly), the link down for 12 s during a download.  The server ends the
# tunnel: the download ends with an error, the app's side of it too, sc
# exits non-zero with an Error line that mentions the grace period, and
# the REST API says the tunnel is terminated.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/resume-lib.sh"
e2e_init
start_server -g 5 -M 2
start_app
start_sc --max-missed-acks 3

# 64 MiB at 2 MiB/s: still running when the link comes back
size=$((64 << 20))
seed=$((RANDOM + 1))
ip netns exec "$CLOUD" curl -sS --max-time 60 --limit-rate 2M \
    -x "http://$ENTRY" -o "$TMP/down.data" -w '%{http_code}' \
    "$(app_url "/bytes/$size?seed=$seed")" \
    >"$TMP/down.code" 2>"$TMP/down.err" &
curl_pid=$!
PIDS+=("$curl_pid")
wait_for 10 download_past $((1 << 20)) ||
    fail "the download does not start ($(xfer_progress) bytes after 10 s)"

# within the grace period the stream is kept (the server declares the
# link dead after about 2 s, and keeps its session 5 s more): the download
# still runs 4.5 s into the cut
at=$(xfer_progress)
cloud ip link set veth0 down || fail "cannot take the link down"
sleep 4.5
alive=yes
not_running "$curl_pid" && alive=no
sleep 7.5
cloud ip link set veth0 up || fail "cannot bring the link up"
wait_for 5 link_up cloud || fail "the link did not come back"
log "link down for 12 s from $at bytes into the download"
[ "$alive" = yes ] ||
    fail "the download ended within 4.5 s of the cut, inside the grace"     "period: $(cat "$TMP/down.err")"
ok "the download was kept open 4.5 s into the cut"

# the download ends with an error
wait_pid 30 "$curl_pid" ||
    fail "the download still runs 30 s after the link came back" \
    "($(xfer_progress) bytes)"
got=$(xfer_progress)
[ "$WAIT_STATUS" != 0 ] && [ "$got" -lt "$size" ] ||
    fail "the download: curl exit $WAIT_STATUS, $got of $size bytes"
ok "the download ended with an error: curl exit $WAIT_STATUS after $got" \
    "of $size bytes ($(head -n 1 "$TMP/down.err"))"

# the app's side of it too: the app's write fails (Python prints the
# exception of the request's thread)
wait_for 10 grep -qE 'BrokenPipeError|ConnectionResetError' "$TMP/app.log" ||
    fail "the app's side of the download did not end with an error"
ok "the app's side of the download ended with" \
    "$(grep -oE 'BrokenPipeError|ConnectionResetError' "$TMP/app.log" |
    head -n 1)"

# sc exits non-zero and says why
wait_pid 30 "$SC_PID" || fail "sc still runs 30 s after the tunnel ended"
[ "$WAIT_STATUS" != 0 ] || fail "sc exited 0 after its tunnel was terminated"
grep -qE 'Error: .*grace period' "$TMP/sc.log" ||
    fail "no Error line about the grace period: $(grep 'Error' "$TMP/sc.log")"
ok "sc exited $WAIT_STATUS: '$(grep -oE 'Error: .*' "$TMP/sc.log" |
    tail -n 1)'"

st=$(rest GET "/$SC_USER/tunnels/$TUNNEL_ID" | json_get "j['status']")
[ "$st" = terminated ] || fail "REST status '$st', want terminated"
ok "the REST API says the tunnel is terminated"
e2e_done
