#!/bin/bash
# --wait-tunnel-shutdown: on SIGTERM sc takes no new streams, lets the
# open ones finish (a download in flight completes, byte for byte), and
# only then deletes the tunnel and exits 0.
. "$(dirname "$0")/lib.sh"
e2e_up --wait-tunnel-shutdown

# large enough that socket buffers on the way cannot hold it all
size=50331648
want=$(gen_sha256 "$size" 11)
cloud curl -sS --max-time 60 --limit-rate 6m -x "http://$ENTRY" \
    -o "$TMP/download" "$(app_url "/bytes/$size?seed=11")" 2>"$TMP/curl.err" &
curl_pid=$!
PIDS+=("$curl_pid")
sleep 1
kill -TERM "$SC_PID"
wait_for 5 grep -q 'Waiting for 1 open streams' "$TMP/sc.log" ||
    fail "sc does not say it waits for the open stream"
ok "SIGTERM with a download in flight: sc waits for it"

code=$(BROWSE_TIMEOUT=5 browse -o /dev/null -w '%{http_code}' \
    "$(app_url /text/late)" 2>/dev/null)
[ "$code" != 200 ] || fail "a new request was still served while draining"
ok "a new request while draining is not served (status '${code:-none}')"

wait "$curl_pid" || fail "the download in flight failed: $(cat "$TMP/curl.err")"
got=$(sha256sum "$TMP/download" | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "the download in flight: sha256 $got, want $want"
ok "the download in flight completed: $size bytes, sha256 equal"

i=0
while ! not_running "$SC_PID"; do
	[ "$i" -lt 300 ] || fail "sc still runs 30 s after the download ended"
	sleep 0.1
	i=$((i + 1))
done
wait "$SC_PID"
status=$?
[ "$status" = 0 ] || fail "sc exited $status after draining"
grep -q 'All streams finished' "$TMP/sc.log" || fail "no 'All streams finished' line"
grep -q 'Goodbye.' "$TMP/sc.log" || fail "no 'Goodbye.' line"
st=$(rest GET "/$SC_USER/tunnels/$TUNNEL_ID" | json_get "j['status']")
[ "$st" = terminated ] || fail "REST status '$st' after sc exited"
ok "then the tunnel was deleted and sc exited 0"
e2e_done
