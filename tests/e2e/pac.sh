#!/bin/bash
# issue 17: --pac, the PAC file that chooses the upstream proxy of each
# request, run by pacd, a sandboxed process of its own.  In office,
# nftables lets only tinyproxy reach the app's address ($APP_IP), with
# basic authentication, whose credentials come from -a (a PAC names no
# credentials):
#   - a PAC (fetched from a URL) choosing tinyproxy for the app and DIRECT
#     for another host: both 200, and tinyproxy's log shows only the
#     first; "PROXY dead; PROXY tinyproxy" falls back to the second;
#   - pacd sandboxed: seccomp filter mode (Seccomp: 2), no_new_privs, in
#     the empty chroot, and no socket but its channel to the controller;
#   - a PAC that loops for one host (SAUCE_PAC, a file): pacd is killed
#     after 100 ms and restarted, the request goes DIRECT (200), the
#     controller logs it, the tunnel stays up and the next host is
#     answered by the new pacd;
#   - bad --pac values (missing file, not a PAC, a script that does not
#     load, with -x): exit 1 naming the flag.
. "$(dirname "$0")/lib.sh"
command -v tinyproxy >/dev/null || skip "needs tinyproxy"
command -v nft >/dev/null || skip "needs nft (nftables)"
getent passwd tinyproxy >/dev/null || skip "needs the user tinyproxy"
PROXY_IP=10.217.$N.1
DIRECT_IP=10.218.$N.1
LOOP_IP=10.218.$N.2
TINY_PORT=3128
DEAD_PORT=3129
WEB_PORT=8099
PX_USER=corp
PX_PASS=pac-s3cret.t1ny	# tinyproxy takes [-a-z0-9._]

e2e_init
start_server
start_app
office ip addr add "$PROXY_IP/32" dev lo
office ip addr add "$DIRECT_IP/32" dev lo
office ip addr add "$LOOP_IP/32" dev lo
start_tinyproxy "$PROXY_IP" "$TINY_PORT" "$PX_USER" "$PX_PASS"
app_proxies_only tinyproxy

# a web server in office: the host that is reached DIRECT, and the PAC URL
echo "direct host" >"$TMP/direct.txt"
office "$PYTHON" -m http.server --bind 0.0.0.0 "$WEB_PORT" \
    --directory "$TMP" >"$TMP/web.out" 2>&1 &
PIDS+=($!)
wait_for 10 office bash -c "exec 3<>/dev/tcp/$DIRECT_IP/$WEB_PORT" ||
    fail "the web server did not start"

cat >"$TMP/office.pac" <<EOF
function FindProxyForURL(url, host) {
	if (host == "$APP_IP" && url.substring(0, 6) == "https:")
		return "PROXY $PROXY_IP:$DEAD_PORT; PROXY $PROXY_IP:$TINY_PORT";
	if (host == "$APP_IP")
		return "PROXY $PROXY_IP:$TINY_PORT";
	if (host == "$LOOP_IP")
		while (true) { }
	return "DIRECT";
}
EOF

# run_pac ARGS...: sc run, tinyproxy's credentials from -a
run_pac() {
	run_sc -a "$PX_USER:$PX_PASS@$PROXY_IP:$TINY_PORT" "$@"
}

pacd_pid() {
	pgrep -P "$SC_PID" -x pacd | head -n 1
}

# --- the PAC from a URL: the proxy for the app, DIRECT for another host --
run_pac --pac "http://$DIRECT_IP:$WEB_PORT/office.pac"
out=$(get "$(app_url /text/viapac)")
[ "$out" = "response viapac  200" ] || fail "PAC PROXY: '$out'"
grep -q "GET http://$APP_IP:$APP_PORT/text/viapac" "$TMP/tinyproxy.log" ||
    fail "the app's request did not go through tinyproxy"
out=$(get "http://$DIRECT_IP:$WEB_PORT/direct.txt")
[ "$out" = "direct host  200" ] || fail "PAC DIRECT: '$out'"
grep -q "$DIRECT_IP" "$TMP/tinyproxy.log" &&
    fail "the DIRECT host went through tinyproxy"
ok "--pac URL: the app through the PAC's PROXY (tinyproxy's log, the proxy's credentials from -a), another host DIRECT: 200 both"

out=$(get "$(app_tls_url /text/fallback)" -k -p)
[ "$out" = "response fallback  200" ] || fail "PAC fallback: '$out'"
grep -q "CONNECT $APP_IP:$APP_TLS_PORT" "$TMP/tinyproxy.log" ||
    fail "the fallback did not reach tinyproxy"
grep -q "pac: http://$PROXY_IP:$DEAD_PORT for $APP_IP: .*trying http://$PROXY_IP:$TINY_PORT" \
    "$TMP/sc.log" || fail "no fallback line in sc's log"
ok "\"PROXY dead; PROXY tinyproxy\": the second proxy when the first cannot be reached"

# pacd: sandboxed, no socket but its channel
pid=$(pacd_pid)
[ -n "$pid" ] || fail "no pacd under sc"
grep -q '^Seccomp:[[:space:]]*2' "/proc/$pid/status" ||
    fail "pacd: $(grep Seccomp "/proc/$pid/status")"
grep -q '^NoNewPrivs:[[:space:]]*1' "/proc/$pid/status" ||
    fail "pacd has no no_new_privs"
# sanitizer builds skip the chroot (their reports read /proc: sc.8)
if ldd "$SC" | grep -q libasan; then
	log "sanitizer build: no chroot"
else
	[ "$(readlink "/proc/$pid/root")" = /var/empty ] ||
	    fail "pacd's root: $(readlink "/proc/$pid/root")"
fi
[ "$(awk '/^Uid:/ { print $2 }' "/proc/$pid/status")" = "$(id -u _sc)" ] ||
    fail "pacd does not run as _sc"
socks=$(find "/proc/$pid/fd" -lname 'socket:*' | wc -l)
[ "$socks" = 1 ] || fail "pacd has $socks sockets: $(ls -l "/proc/$pid/fd")"
# past stdin, stdout and stderr (the log, as kgpd's and proxyd's are)
find "/proc/$pid/fd" -lname '/*' ! -name 0 ! -name 1 ! -name 2 | grep -q . &&
    fail "pacd holds a file: $(ls -l "/proc/$pid/fd")"
[ -e "/proc/$pid/fd/4" ] && fail "pacd kept the script's memfd"
ok "pacd: seccomp filter (Seccomp: 2), no_new_privs, chroot /var/empty, _sc, one socket (its channel), no file, the script's memfd closed"
stop_sc

# --- a PAC that loops (SAUCE_PAC, a file) -------------------------------
SAUCE_PAC=$TMP/office.pac run_pac
pid=$(pacd_pid)
[ -n "$pid" ] || fail "no pacd under sc"
start=$(date +%s%N)
out=$(get "http://$LOOP_IP:$WEB_PORT/direct.txt")
took=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$out" = "direct host  200" ] || fail "a looping PAC: '$out'"
wait_for 5 grep -q "pacd ended: the PAC script ran longer than 100 ms" \
    "$TMP/sc.log" || fail "no log line for the looping PAC"
grep -q "pac: .*$LOOP_IP.*DIRECT" "$TMP/sc.log" ||
    fail "no DIRECT line for $LOOP_IP"
wait_for 10 bash -c "p=\$(pgrep -P $SC_PID -x pacd); [ -n \"\$p\" ] && [ \"\$p\" != $pid ]" ||
    fail "pacd was not restarted"
wait_for 10 grep -q "pacd: hello" "$TMP/sc.log" || true
out=$(get "$(app_url /text/after)")
[ "$out" = "response after  200" ] || fail "after the loop: '$out'"
grep -q "GET http://$APP_IP:$APP_PORT/text/after" "$TMP/tinyproxy.log" ||
    fail "after the loop, the app did not go through tinyproxy"
kill -0 "$SC_PID" || fail "sc died"
stop_sc
ok "a PAC that loops: pacd killed after 100 ms and restarted, the request DIRECT ($took ms), logged; the tunnel stays up and the next host goes through the proxy"

# --- bad values: exit 1 naming the flag ---------------------------------
printf 'var x = 1;\n' >"$TMP/nopac.js"
printf 'function FindProxyForURL(url, host) { return "DIRECT" \n' >"$TMP/broken.pac"
bad_run "--pac /nonexistent.pac: No such file or directory" --pac /nonexistent.pac
bad_run "--pac $TMP/nopac.js: no FindProxyForURL in it" --pac "$TMP/nopac.js"
bad_run "--pac http://$DIRECT_IP:$WEB_PORT/none.pac: HTTP status 404" \
    --pac "http://$DIRECT_IP:$WEB_PORT/none.pac"
bad_run "pacd did not start" --pac "$TMP/broken.pac"
bad_run "-x/--proxy and --pac: one or the other" --pac "$TMP/office.pac" \
    -x "http://$PROXY_IP:$TINY_PORT"
printf 'pac: "%s"\n' "$TMP/none.pac" >"$TMP/bad.yaml"
chmod 600 "$TMP/bad.yaml"
bad_run "--pac $TMP/none.pac: No such file" -c "$TMP/bad.yaml"
ok "bad --pac values (a missing file, not a PAC, a 404, a script that does not load, with -x, from the config file): exit 1 naming the flag"

e2e_done
