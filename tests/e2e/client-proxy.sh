#!/bin/bash
# The upstream proxy: sc inside a firewall that lets out only a corporate
# HTTP proxy.  In office, nftables refuses every connection to the REST
# API and the KGP port of cloud except the proxy's own (upproxy.py marks
# its upstream sockets).  Shown:
#  - without a proxy sc cannot start; with -p alone the REST calls work
#    but the tunnel connection is refused: the firewall is real;
#  - -p -w -T: the tunnel comes up, a page comes through it, the proxy
#    saw the REST requests and one CONNECT per tunnel connection, all
#    with the right Basic credentials;
#  - a reset of the proxied connections (ss -K): sc reconnects through
#    the proxy again and the tunnel resumes;
#  - a wrong password: a clear Error and exit 1, for the REST requests
#    and for the tunnel connection (a proxy that checks CONNECT only);
#  - sc run --proxy-sauce user:pass@host:port does both;
#  - the proxy password is nowhere: not in the log (-v -v), the output,
#    the helpers' command line or environment, sc's own command line,
#    nor the command recorded in the tunnel's metadata.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/client-lib.sh"
e2e_init
start_server
start_app
command -v nft >/dev/null || skip "needs nft (nftables)"

MARK=0x5c
PX_PORT=3128
PX2_PORT=3129
PX=127.0.0.1:$PX_PORT
PX_USER=pxuser
PX_PASS='Pr0xy-s3cret@x'
PX_PASS_URL='Pr0xy-s3cret%40x'	# the same, percent-encoded
PX_BASIC=$(printf '%s:%s' "$PX_USER" "$PX_PASS" | base64 -w 0)
KGP_CONNECT="REQ CONNECT $CLOUD_IP:$KGP_PORT"

# the firewall: office reaches cloud's REST and KGP ports only through
# the proxy's marked sockets
office_firewall "$MARK"
office curl -sS --max-time 5 -o /dev/null "http://$CLOUD_IP:$REST_PORT/rest/v1/" \
    2>/dev/null && fail "office reaches the REST API past the firewall"
office bash -c "exec 3<>/dev/tcp/$CLOUD_IP/$KGP_PORT" 2>/dev/null &&
    fail "office reaches the KGP port past the firewall"
ok "office reaches neither the REST API nor the KGP port directly"

# start_proxy PORT LOG [upproxy.py flags]
start_proxy() {
	local port=$1 logf=$2
	shift 2
	ip netns exec "$OFFICE" "$PYTHON" "$E2E_DIR/upproxy.py" --port "$port" \
	    --mark $((MARK)) --log "$logf" --ready "$logf.ready" "$@" \
	    >"$TMP/upproxy-$port.log" 2>&1 &
	PXPID=$!
	PIDS+=("$!")
	wait_for 10 test -e "$logf.ready" || fail "the proxy on $port does not start"
}

# stop_proxy: the last proxy started
stop_proxy() {
	disown "$PXPID" 2>/dev/null
	kill -TERM "$PXPID"
	wait_for 5 not_running "$PXPID" || fail "the proxy does not stop"
}
start_proxy "$PX_PORT" "$TMP/px.req" --auth "$PX_USER:$PX_PASS"
# REST through the proxy: the firewall lets it by
office curl -sS --max-time 5 -o /dev/null -x "http://$PX" \
    --proxy-user "$PX_USER:$PX_PASS" "http://$CLOUD_IP:$REST_PORT/rest/v1/" ||
    fail "the proxy does not reach the REST API"
ok "the proxy reaches the REST API (curl -x in office)"
: >"$TMP/px.req"

# count_req ERE: requests in the proxy's log
count_req() {
	grep -cE -- "$1" "$TMP/px.req"
}

# 1. no proxy: nothing works
sc_v4 direct -i "$TUNNEL_NAME-direct"
sc_exit direct 30
[ "${SCSTATUS[direct]}" != timeout ] && [ "${SCSTATUS[direct]}" != 0 ] ||
    fail "sc without a proxy: exit status ${SCSTATUS[direct]}, want an error"
grep -q '^.*Error: cannot reach the REST API' "$TMP/direct.log" ||
    fail "sc without a proxy: no 'Error: cannot reach the REST API' line"
ok "no proxy: sc exits ${SCSTATUS[direct]}, cannot reach the REST API"

# 2. -p -w without -T: REST through the proxy, the tunnel connection is
# direct and refused by the firewall
sc_v4 restonly -i "$TUNNEL_NAME-restonly" -p "$PX" -w "$PX_USER:$PX_PASS"
sc_exit restonly 30
[ "${SCSTATUS[restonly]}" != timeout ] && [ "${SCSTATUS[restonly]}" != 0 ] ||
    fail "sc -p without -T: exit status ${SCSTATUS[restonly]}, want an error"
grep -q "Error: cannot connect to the tunnel server at $CLOUD_IP:$KGP_PORT" \
    "$TMP/restonly.log" ||
    fail "sc -p without -T: no 'cannot connect to the tunnel server' Error"
[ "$(count_req "^REQ POST http://$CLOUD_IP:$REST_PORT/rest/v1/$SC_USER/tunnels user=$PX_USER auth=ok")" -ge 1 ] ||
    fail "sc -p: the proxy saw no authenticated POST /tunnels"
[ "$(count_req "$KGP_CONNECT")" = 0 ] ||
    fail "sc -p without -T sent a CONNECT to the proxy"
ok "-p -w without -T: REST through the proxy, the direct tunnel connection refused (exit ${SCSTATUS[restonly]})"
: >"$TMP/px.req"

# 3. -p -w -T: everything through the proxy
LOGF=$TMP/px-file.log
sc_v4 px -i "$TUNNEL_NAME" -p "$PX" -w "$PX_USER:$PX_PASS" -T \
    --tunnel-connections 2 -v -v -l "$LOGF"
sc_ready px
id=$(sc_id px)
[ -n "$id" ] || fail "no tunnel id"
entry=$(entry_of "$id")
fetch_via "$entry" px1 || fail "GET through the tunnel (through the proxy)"
ok "-p -w -T: the tunnel is up and a page comes through it"
grep -q "Tunnel connections go through the proxy $PX (-p/--proxy), with Basic authentication" \
    "$LOGF" || fail "no 'Tunnel connections go through the proxy' line"
grep -q "REST API requests go through the proxy $PX" "$LOGF" ||
    fail "no 'REST API requests go through the proxy' line"
n=$(count_req "^$KGP_CONNECT user=$PX_USER auth=ok status=200")
[ "$n" = 2 ] || fail "the proxy saw $n authenticated KGP CONNECTs, want 2"
n=$(count_req "^REQ (GET|POST) http://$CLOUD_IP:$REST_PORT/rest/v1/$SC_USER/tunnels.* user=$PX_USER auth=ok")
[ "$n" -ge 2 ] || fail "the proxy saw $n authenticated REST requests"
bad=$(grep -v "user=$PX_USER auth=ok" "$TMP/px.req" | head -n 1)
[ -z "$bad" ] || fail "a request without the right credentials: $bad"
ok "the proxy saw $n REST requests and 2 KGP CONNECTs, all as $PX_USER with the right password"

# 4. the proxied connections reset: sc reconnects through the proxy
before=$(count_req "^$KGP_CONNECT .*status=200")
office ss -K -tn dst 127.0.0.1 dport = ":$PX_PORT" >"$TMP/ss-K.out" 2>&1 ||
    fail "ss -K failed: $(cat "$TMP/ss-K.out")"
wait_for 10 grep -q 'Tunnel connection [0-9]* lost' "$LOGF" ||
    skip "ss -K did not kill the connections (no CONFIG_INET_DIAG_DESTROY?)"
wait_for 15 grep -q 'Tunnel connection [0-9]* resumed after' "$LOGF" ||
    fail "no 'Tunnel connection N resumed' after the reset"
after=$(count_req "^$KGP_CONNECT user=$PX_USER auth=ok status=200")
[ "$after" -gt "$before" ] ||
    fail "no new CONNECT through the proxy after the reset ($before, $after)"
wait_for 10 fetch_via "$entry" px2 || fail "GET through the tunnel after the reset"
ok "ss -K of the proxied connections: resumed through the proxy ($before then $after CONNECTs), pages still come through"

# ... and when the proxy refuses the reconnection (a new password there),
# sc says so, keeps trying with its backoff, and resumes once it may
nres=$(grep -c 'Tunnel connection [0-9]* resumed after' "$LOGF")
stop_proxy
rm -f "$TMP/px.req.ready"
start_proxy "$PX_PORT" "$TMP/px.req" --auth "$PX_USER:changed-pass"
office ss -K -tn dst 127.0.0.1 dport = ":$PX_PORT" >/dev/null 2>&1
wait_for 15 grep -q 'connection [0-9]*: the proxy refused the tunnel connection: 407 Proxy Authentication Required' "$LOGF" ||
    fail "no log line for a CONNECT refused after the tunnel was up"
wait_for 10 grep -q 'Reconnecting in' "$LOGF" || fail "no backoff after the 407"
not_running "${SCPID[px]}" && fail "sc exited on a 407 after the tunnel was up"
stop_proxy
rm -f "$TMP/px.req.ready"
start_proxy "$PX_PORT" "$TMP/px.req" --auth "$PX_USER:$PX_PASS"
resumed_ge() {
	[ "$(grep -c 'Tunnel connection [0-9]* resumed after' "$LOGF")" -ge "$1" ]
}
wait_for 40 resumed_ge $((nres + 2))
n=$(grep -c 'Tunnel connection [0-9]* resumed after' "$LOGF")
[ "$n" -ge $((nres + 2)) ] || fail "the tunnel did not resume once the proxy took the password again ($nres, $n)"
wait_for 10 fetch_via "$entry" px2b || fail "GET through the tunnel after the 407s"
ok "407 after the tunnel was up: logged, retried with the backoff, resumed once the proxy took the password again"

# 5. the password is nowhere
kpid=$("$SC_CTL" -s "$TMP/px.sock" status | sed -n 's/^pid-kgpd: //p')
ppid=$("$SC_CTL" -s "$TMP/px.sock" status | sed -n 's/^pid-proxyd: //p')
[ -n "$kpid" ] && [ "$kpid" != 0 ] && [ -n "$ppid" ] && [ "$ppid" != 0 ] ||
    fail "sc-ctl status gives no helper pids"
"$SC_CTL" -s "$TMP/px.sock" verbose 3 >/dev/null || fail "sc-ctl verbose 3"
fetch_via "$entry" px3 || fail "GET at verbose 3"
# no_pass_in WHAT FILE
no_pass_in() {
	grep -aqF -- "$PX_PASS" "$2" && fail "the proxy password is in $1"
	grep -aqF -- "$PX_PASS_URL" "$2" &&
	    fail "the proxy password (percent-encoded) is in $1"
	grep -aqF -- "$PX_BASIC" "$2" &&
	    fail "the proxy credentials (base64) are in $1"
	return 0
}
for p in "$kpid" "$ppid"; do
	tr '\0' '\n' <"/proc/$p/cmdline" >"$TMP/cmdline.$p"
	tr '\0' '\n' <"/proc/$p/environ" >"$TMP/environ.$p"
	no_pass_in "/proc/$p/cmdline" "$TMP/cmdline.$p"
	no_pass_in "/proc/$p/environ" "$TMP/environ.$p"
done
tr '\0' ' ' <"/proc/${SCPID[px]}/cmdline" >"$TMP/cmdline.sc"
no_pass_in "sc's /proc cmdline" "$TMP/cmdline.sc"
grep -qF -- "-w $PX_USER:" "$TMP/cmdline.sc" ||
    fail "sc's command line lost more than the password: $(cat "$TMP/cmdline.sc")"
rest GET "/$SC_USER/tunnels/$id" >"$TMP/tunnel.json" || fail "GET the tunnel"
grep -q '"command"' "$TMP/tunnel.json" || fail "no metadata command in the tunnel"
no_pass_in "the tunnel's metadata" "$TMP/tunnel.json"
ok "kgpd, proxyd, sc's command line, the tunnel's metadata: no proxy password"

sc_term px
[ "${SCSTATUS[px]}" = 0 ] || fail "exit status ${SCSTATUS[px]} after SIGTERM"
[ "$(count_req "^REQ DELETE http://$CLOUD_IP:$REST_PORT/rest/v1/$SC_USER/tunnels/$id.* auth=ok status=200")" = 1 ] ||
    fail "the DELETE of the tunnel did not go through the proxy"
grep -q 'REST POST body' "$LOGF" || fail "no -v -v lines in the log file"
no_pass_in "the log file (-v -v, verbose 3)" "$LOGF"
no_pass_in "sc's standard output" "$TMP/px.log"
ok "SIGTERM: exit 0, the DELETE went through the proxy; no password in the log or the output"

# 6. a wrong password: the REST request is refused (407)
sc_v4 badrest -i "$TUNNEL_NAME-bad" -p "$PX" -w "$PX_USER:wrong-pass" -T
sc_exit badrest 30
[ "${SCSTATUS[badrest]}" != timeout ] && [ "${SCSTATUS[badrest]}" != 0 ] ||
    fail "wrong password: exit status ${SCSTATUS[badrest]}, want an error"
grep -q "Error: the proxy $PX refused the REST API request: 407 Proxy Authentication Required" \
    "$TMP/badrest.log" || fail "wrong password: no clear Error line for REST"
grep -aqF 'wrong-pass' "$TMP/badrest.log" && fail "the wrong password is in the output"
ok "wrong password: '$(grep -m1 'Error:' "$TMP/badrest.log" | sed 's/^.*Error/Error/')', exit ${SCSTATUS[badrest]}"

# ... and a proxy that checks CONNECT only refuses the tunnel connection
start_proxy "$PX2_PORT" "$TMP/px2.req" --auth "$PX_USER:$PX_PASS" --auth-connect-only
sc_v4 badkgp -i "$TUNNEL_NAME-bad2" -p "127.0.0.1:$PX2_PORT" -w "$PX_USER:wrong-pass" -T
sc_exit badkgp 30
[ "${SCSTATUS[badkgp]}" != timeout ] && [ "${SCSTATUS[badkgp]}" != 0 ] ||
    fail "CONNECT refused: exit status ${SCSTATUS[badkgp]}, want an error"
grep -q 'Error: the proxy refused the tunnel connection: 407 Proxy Authentication Required' \
    "$TMP/badkgp.log" || fail "CONNECT refused: no clear Error line"
grep -q "REQ CONNECT $CLOUD_IP:$KGP_PORT user=$PX_USER auth=bad status=407" "$TMP/px2.req" ||
    fail "the second proxy saw no refused CONNECT"
ok "CONNECT refused (407): '$(grep -m1 'Error:' "$TMP/badkgp.log" | sed 's/^.*Error/Error/')', exit ${SCSTATUS[badkgp]}"

# 7. proxies that answer CONNECT oddly: a 100 and then the 200, a byte at
# a time, is fine; bytes past the 200, no HTTP, a head over 8 KiB, no
# answer within the connect timeout (10 s) are not
port=3129
for mode in trickle extra garbage big silent; do
	port=$((port + 1))
	start_proxy "$port" "$TMP/px-$mode.req" --connect-answer "$mode"
	sc_v4 "$mode" -i "$TUNNEL_NAME-$mode" -p "127.0.0.1:$port" -T \
	    --tunnel-connections 1
	case $mode in
	trickle)
		sc_ready "$mode"
		fetch_via "$(entry_of "$(sc_id "$mode")")" trickle ||
		    fail "GET through a tunnel opened byte by byte"
		sc_term "$mode"
		[ "${SCSTATUS[$mode]}" = 0 ] || fail "$mode: exit ${SCSTATUS[$mode]}"
		continue ;;
	extra)	want='Error: the proxy sent 8 bytes past its 200 answer' ;;
	garbage) want="Error: the proxy's answer is not HTTP" ;;
	big)	want="Error: the proxy's answer is longer than 8192 bytes" ;;
	silent)	want='Error: the proxy gave no answer within 10 seconds' ;;
	esac
	sc_exit "$mode" 30
	[ "${SCSTATUS[$mode]}" = 1 ] ||
	    fail "$mode: exit status ${SCSTATUS[$mode]}, want 1"
	grep -qF "$want" "$TMP/$mode.log" ||
	    fail "$mode: no '$want' line: $(grep -m1 Error "$TMP/$mode.log")"
done
ok "CONNECT answered with a 100 then the 200, byte by byte: the tunnel works; bytes past the 200, no HTTP, a 9 KiB head, silence: Error, exit 1"

# 8. version 5: --proxy-sauce user:pass@host:port, REST and tunnel
: >"$TMP/px.req"
sc_bg v5 run -u "$SC_USER" -k "$KEY" --rest-url "$REST_URL" \
    -i "$TUNNEL_NAME-v5" -f "$TMP/v5.ready" --ctl-socket "$TMP/v5.sock" \
    --tunnel-connections 1 --proxy-sauce "http://$PX_USER:$PX_PASS_URL@$PX"
sc_ready v5
fetch_via "$(entry_of "$(sc_id v5)")" v5 || fail "GET through the v5 tunnel"
[ "$(count_req "^$KGP_CONNECT user=$PX_USER auth=ok status=200")" = 1 ] ||
    fail "sc run --proxy-sauce: no authenticated CONNECT"
[ "$(count_req "^REQ POST .* user=$PX_USER auth=ok status=")" -ge 1 ] ||
    fail "sc run --proxy-sauce: no authenticated POST"
tr '\0' ' ' <"/proc/${SCPID[v5]}/cmdline" >"$TMP/cmdline.v5"
no_pass_in "sc run's /proc cmdline" "$TMP/cmdline.v5"
sc_term v5
[ "${SCSTATUS[v5]}" = 0 ] || fail "sc run: exit status ${SCSTATUS[v5]} after SIGTERM"
no_pass_in "sc run's output" "$TMP/v5.log"
ok "sc run --proxy-sauce (percent-encoded password): REST and tunnel through the proxy, password hidden"

# 9. from the environment: http_proxy for version 4 (with -T),
# SAUCE_PROXY_SAUCE for sc run
: >"$TMP/px.req"
export http_proxy="http://$PX_USER:$PX_PASS_URL@$PX/"
sc_v4 envv4 -i "$TUNNEL_NAME-envv4" -T --tunnel-connections 1
unset http_proxy
sc_ready envv4
grep -q "Tunnel connections go through the proxy $PX (http_proxy), with Basic authentication" \
    "$TMP/envv4.log" || fail "http_proxy: no 'Tunnel connections go through the proxy' line"
fetch_via "$(entry_of "$(sc_id envv4)")" envv4 || fail "GET through the http_proxy tunnel"
sc_term envv4
[ "${SCSTATUS[envv4]}" = 0 ] || fail "http_proxy: exit ${SCSTATUS[envv4]}"
export SAUCE_PROXY_SAUCE="$PX_USER:$PX_PASS_URL@$PX"
sc_bg envv5 run -u "$SC_USER" -k "$KEY" --rest-url "$REST_URL" \
    -i "$TUNNEL_NAME-envv5" -f "$TMP/envv5.ready" --ctl-socket "$TMP/envv5.sock" \
    --tunnel-connections 1
unset SAUCE_PROXY_SAUCE
sc_ready envv5
kpid=$("$SC_CTL" -s "$TMP/envv5.sock" status | sed -n 's/^pid-kgpd: //p')
tr '\0' '\n' <"/proc/$kpid/environ" >"$TMP/environ.envv5"
no_pass_in "kgpd's environment (SAUCE_PROXY_SAUCE)" "$TMP/environ.envv5"
sc_term envv5
[ "${SCSTATUS[envv5]}" = 0 ] || fail "SAUCE_PROXY_SAUCE: exit ${SCSTATUS[envv5]}"
[ "$(count_req "^$KGP_CONNECT user=$PX_USER auth=ok status=200")" = 2 ] ||
    fail "http_proxy, SAUCE_PROXY_SAUCE: not 2 authenticated CONNECTs"
no_pass_in "the output with http_proxy" "$TMP/envv4.log"
no_pass_in "the output with SAUCE_PROXY_SAUCE" "$TMP/envv5.log"
ok "http_proxy (v4, -T) and SAUCE_PROXY_SAUCE (sc run): REST and tunnel through the proxy with its credentials"
e2e_done
