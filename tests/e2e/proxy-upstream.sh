#!/bin/bash
# issue 17: the application traffic through an upstream ("corporate")
# proxy, -x of sc run.  In office, nftables lets only the proxies' own
# users (tinyproxy, nobody) reach the app's address: sc (as _sc) never
# reaches it directly, so a 200 proves the way through the proxy.
#   - tinyproxy from Debian with basic authentication: plain http:// in
#     absolute form with Proxy-Authorization, https:// requests and the
#     browser's CONNECT tunnels through CONNECT;
#   - a SOCKS version 5 server (socks5.py) with user and password, the
#     name given to it to resolve: http://, https://, CONNECT;
#   - --proxy-localhost: direct (not through the proxy), allow (through
#     it), deny (403);
#   - a proxy that answers 407 (wrong password): 502 with the reason; one
#     that does not answer CONNECT: 504 within --http-dial-timeout;
#   - -x from the flag, SAUCE_PROXY and the config file; http_proxy and
#     NO_PROXY of sc's environment without -x; the password in no ps
#     output, log line or tunnel metadata; bad values exit 1 naming the
#     flag.
. "$(dirname "$0")/lib.sh"
command -v tinyproxy >/dev/null || skip "needs tinyproxy"
command -v nft >/dev/null || skip "needs nft (nftables)"
getent passwd tinyproxy >/dev/null || skip "needs the user tinyproxy"
PROXY_IP=10.217.$N.1
TINY_PORT=3128
SOCKS_PORT=1080
SILENT_PORT=3130
AUTH_PORT=3131
LOCAL_PORT=8099
PX_USER=corp
TINY_PASS=pr0xy-s3cret.t1ny	# tinyproxy takes [-a-z0-9._]
PX_PASS='pr0xy:p@ss'		# socks5.py: escaped in the URL
PX_PASS_URL='pr0xy%3Ap%40ss'

e2e_init
start_server
start_app
office ip addr add "$PROXY_IP/32" dev lo

# tinyproxy, as its own user, with basic authentication
start_tinyproxy "$PROXY_IP" "$TINY_PORT" "$PX_USER" "$TINY_PASS"
# the SOCKS server, as nobody (a copy it may read; the system's python)
touch "$TMP/socks.log" && chown nobody "$TMP/socks.log"
install -m 0644 "$E2E_DIR/socks5.py" "$TMP/socks5.py" || fail "cp socks5.py"
office setpriv --reuid=nobody --regid=nogroup --clear-groups \
    /usr/bin/python3 "$TMP/socks5.py" --addr "$PROXY_IP" --port "$SOCKS_PORT" \
    --auth "$PX_USER:$PX_PASS" --log "$TMP/socks.log" \
    >"$TMP/socks.out" 2>&1 &
PIDS+=($!)
# a proxy that takes connections and never answers
silent_listener "$PROXY_IP" "$SILENT_PORT"
# a proxy that answers 407 as RFC 9110 has it (tinyproxy says 401)
office "$PYTHON" "$E2E_DIR/upproxy.py" --addr "$PROXY_IP" \
    --port "$AUTH_PORT" --auth "$PX_USER:right" --log "$TMP/auth.log" \
    --ready "$TMP/auth.ready" >"$TMP/auth.out" 2>&1 &
PIDS+=($!)
# a service on office's loopback, for --proxy-localhost
office "$PYTHON" -m http.server --bind 127.0.0.1 "$LOCAL_PORT" \
    --directory "$TMP" >"$TMP/local.out" 2>&1 &
PIDS+=($!)
wait_for 10 office bash -c "exec 3<>/dev/tcp/$PROXY_IP/$SOCKS_PORT" ||
    fail "socks5.py did not start: $(cat "$TMP/socks.out")"
wait_for 10 test -f "$TMP/auth.ready" || fail "upproxy.py did not start"
wait_for 10 office bash -c "exec 3<>/dev/tcp/127.0.0.1/$LOCAL_PORT" ||
    fail "the local service did not start"
echo "local service" >"$TMP/local.txt"

# only the proxies reach the app
app_proxies_only tinyproxy nobody

# meta EXPR: a Python expression of the tunnel's REST "metadata" (m)
meta() {
	rest GET "/$SC_USER/tunnels/$TUNNEL_ID" | json_get "(lambda m: $1)(j['metadata'])"
}

# --- tinyproxy, -x from the flag ----------------------------------------
run_sc -x "http://$PX_USER:$TINY_PASS@$PROXY_IP:$TINY_PORT" \
    --proxy-localhost direct -M team=qa,ci=7 --extra-info '{"build": 42}'
three_ways "-x http://"
grep -q "Request (file descriptor [0-9]*): GET http://$APP_IP:$APP_PORT/text/plain" \
    "$TMP/tinyproxy.log" || fail "tinyproxy saw no absolute-form GET"
grep -q "CONNECT $APP_IP:$APP_TLS_PORT" "$TMP/tinyproxy.log" ||
    fail "tinyproxy saw no CONNECT"
ok "-x http://user:pass@tinyproxy: http:// in absolute form, https:// and CONNECT through CONNECT, with basic authentication: 200"

out=$(get "http://127.0.0.1:$LOCAL_PORT/local.txt")
[ "$out" = "local service  200" ] || fail "localhost direct: '$out'"
grep -q "127.0.0.1:$LOCAL_PORT" "$TMP/tinyproxy.log" &&
    fail "--proxy-localhost direct went through the proxy"
ok "--proxy-localhost direct: localhost reached directly, not through the proxy"

ps -o args= -p "$SC_PID" >"$TMP/ps.out"
ps -o args= --ppid "$SC_PID" >>"$TMP/ps.out"
grep -F -- "$TINY_PASS" "$TMP/ps.out" && fail "the proxy password is in ps"
grep -q -- "-x http://$PX_USER:\*\**@$PROXY_IP" "$TMP/ps.out" ||
    fail "sc's command line: $(cat "$TMP/ps.out")"
grep -F -e "$TINY_PASS" "$TMP/sc.log" &&
    fail "the proxy password is in sc's log"
grep -q "application traffic through http://$PX_USER:\*\*\*\*@$PROXY_IP:$TINY_PORT" \
    "$TMP/sc.log" || fail "no masked proxy line in sc's log"
meta=$(meta "m['command']")
case $meta in
*"$TINY_PASS"*) fail "the proxy password is in the tunnel's metadata" ;;
esac
ok "the proxy's password is in no ps output, log line or metadata"
meta=$(meta "(m['team'], m['ci'], m['extra_info']['build'])")
[ "$meta" = "('qa', '7', 42)" ] || fail "-M and --extra-info in REST: $meta"
ok "-M key=value,... and --extra-info JSON are stored with the tunnel, shown by GET /tunnels/ID"
stop_sc

# --- --proxy-localhost allow and deny -----------------------------------
run_sc -x "http://$PX_USER:$TINY_PASS@$PROXY_IP:$TINY_PORT" \
    --proxy-localhost allow
out=$(get "http://127.0.0.1:$LOCAL_PORT/local.txt")
[ "$out" = "local service  200" ] || fail "localhost allow: '$out'"
grep -q "127.0.0.1:$LOCAL_PORT" "$TMP/tinyproxy.log" ||
    fail "--proxy-localhost allow did not go through the proxy"
stop_sc
run_sc -x "http://$PX_USER:$TINY_PASS@$PROXY_IP:$TINY_PORT"
out=$(get "http://localhost:$LOCAL_PORT/local.txt")
case $out in
*"--proxy-localhost deny"*403*) ;;
*) fail "localhost deny (the default): '$out'" ;;
esac
stop_sc
ok "--proxy-localhost allow: through the proxy; deny (sc run's default): 403"

# --- SOCKS5, -x from the config file ------------------------------------
printf 'proxy: "socks5://%s:%s@%s:%s"\nmetadata: [from=file]\nhttp-response-header-timeout: 1s\n' \
    "$PX_USER" "$PX_PASS_URL" "$PROXY_IP" "$SOCKS_PORT" >"$TMP/sc.yaml"
chmod 600 "$TMP/sc.yaml"
run_sc -c "$TMP/sc.yaml"
three_ways "socks5:// (config file)"
[ "$(grep -c "SOCKS CONNECT $APP_IP:.* user=$PX_USER rep=0" "$TMP/socks.log")" -ge 3 ] ||
    fail "socks5.py log: $(cat "$TMP/socks.log")"
out=$(get "http://app.unknown.test:$APP_PORT/")
case $out in
*"upstream proxy socks5://$PX_USER:****@$PROXY_IP:$SOCKS_PORT cannot reach app.unknown.test port $APP_PORT: host unreachable"*502) ;;
*) fail "SOCKS, a name the proxy cannot resolve: '$out'" ;;
esac
grep -q "SOCKS CONNECT app.unknown.test:$APP_PORT atyp=name" "$TMP/socks.log" ||
    fail "the name was not given to the SOCKS server"
meta=$(meta "m['from']")
[ "$meta" = file ] || fail "metadata from the config file: $meta"
out=$(get "$(app_url /sleep/200)")
[ "$out" = "slept 200  200" ] || fail "an answer within the bound: '$out'"
out=$(get "$(app_url /sleep/3000)")
case $out in
*"no answer from $APP_IP port $APP_PORT in 1000 ms (--http-response-header-timeout)"*504) ;;
*) fail "--http-response-header-timeout 1s: '$out'" ;;
esac
stop_sc
ok "-x socks5://user:pass@ (config file): http://, https://, CONNECT: 200; names resolved by the proxy (502 with its reason)"

# --- a proxy that refuses, one that hangs; SAUCE_PROXY ------------------
SAUCE_PROXY="http://$PX_USER:wrong@$PROXY_IP:$AUTH_PORT" \
    SAUCE_METADATA=from=env run_sc
out=$(get "$(app_url /text/x)")
case $out in
*"407 Proxy Authentication Required"*502) ;;
*) fail "407 on a plain request: '$out'" ;;
esac
# the browser's CONNECT is resigned (the default): the 502 comes inside
# the TLS, with proxyd's reason; passed through, it would answer the CONNECT
out=$(get "$(app_tls_url /text/x)" -k -p)
case $out in
*"refused CONNECT $APP_IP:$APP_TLS_PORT: 407 Proxy Authentication Required"*502) ;;
*) fail "407 on CONNECT: '$out'" ;;
esac
out=$(get "http://$APP_IP:$APP_TLS_PORT/" --request-target \
    "https://$APP_IP:$APP_TLS_PORT/")
case $out in
*"refused CONNECT $APP_IP:$APP_TLS_PORT: 407 Proxy Authentication Required (the credentials given are wrong)"*502) ;;
*) fail "407 on CONNECT for https://: '$out'" ;;
esac
grep -q "application traffic through http://$PX_USER:\*\*\*\*@" "$TMP/sc.log" ||
    fail "SAUCE_PROXY was not used"
meta=$(meta "m['from']")
[ "$meta" = env ] || fail "SAUCE_METADATA: $meta"
stop_sc
ok "SAUCE_PROXY with a wrong password: the proxy's 407 is the browser's 502, with the reason"

run_sc -x "http://$PROXY_IP:$SILENT_PORT" --http-dial-timeout 1s
start=$(date +%s%N)
out=$(get "http://$APP_IP:$APP_TLS_PORT/" --request-target \
    "https://$APP_IP:$APP_TLS_PORT/")
took=$(( ($(date +%s%N) - start) / 1000000 ))
case $out in
*"did not answer CONNECT for $APP_IP port $APP_TLS_PORT in 1000 ms"*504) ;;
*) fail "a silent proxy: '$out'" ;;
esac
[ "$took" -lt 5000 ] || fail "the 504 took $took ms"
stop_sc
ok "a proxy that does not answer CONNECT: 504 after --http-dial-timeout 1s ($took ms)"

# --- the environment: http_proxy, NO_PROXY ------------------------------
# sc_env VAR=VALUE...: $TMP/sc-env runs sc with these in its environment
# (and nothing else of the test's: curl would take http_proxy too)
sc_env() {
	{
		echo '#!/bin/sh'
		printf 'exec env'
		printf " '%s'" "$@"
		printf " '%s' \"\$@\"\n" "$SC"
	} >"$TMP/sc-env"
	chmod 755 "$TMP/sc-env"
}
sc_env "http_proxy=http://$PX_USER:$TINY_PASS@$PROXY_IP:$TINY_PORT" \
    "NO_PROXY=nothing.test,.example.test"
SC=$TMP/sc-env run_sc --proxy-localhost direct
out=$(get "$(app_url /text/env)")
[ "$out" = "response env  200" ] || fail "http_proxy: '$out'"
grep -q "GET http://$APP_IP:$APP_PORT/text/env" "$TMP/tinyproxy.log" ||
    fail "http_proxy: not through tinyproxy"
stop_sc
sc_env "http_proxy=http://$PX_USER:$TINY_PASS@$PROXY_IP:$TINY_PORT" \
    "NO_PROXY=$APP_IP"
SC=$TMP/sc-env run_sc
out=$(get "$(app_url /text/noproxy)")
case $out in
*"cannot connect to $APP_IP port $APP_PORT"*502) ;;
*) fail "NO_PROXY: '$out'" ;;
esac
stop_sc
ok "http_proxy of sc's environment without -x; NO_PROXY names what goes direct"

# --- bad values: exit 1 naming the flag, no tunnel ----------------------
before=$(rest GET "/$SC_USER/tunnels" | json_get 'len(j)')
bad_run "-x: unknown proxy scheme 'ftp'" -x ftp://h:21
bad_run "--proxy: bad proxy host[:port]" --proxy "http://u:p@h:99999"
bad_run "--http-dial-timeout: '0s' is not a duration" --http-dial-timeout 0s
bad_run "--http-response-header-timeout: '1d' is not a duration" \
    --http-response-header-timeout 1d
bad_run "-M: 'hostname' is a key sc sets itself" -M hostname=x
bad_run "--extra-info: not JSON" --extra-info '{nope'
SAUCE_HTTP_IDLE_CONN_TIMEOUT=soon bad_run "SAUCE_HTTP_IDLE_CONN_TIMEOUT: 'soon'"
SAUCE_PROXY="http://h:1/x" bad_run "SAUCE_PROXY: a proxy has no path"
printf 'proxy: "socks4://h:1"\n' >"$TMP/bad.yaml"
chmod 600 "$TMP/bad.yaml"
bad_run "config file $TMP/bad.yaml, line 1: proxy: unknown proxy scheme" \
    -c "$TMP/bad.yaml"
after=$(rest GET "/$SC_USER/tunnels" | json_get 'len(j)')
[ "$before" = "$after" ] || fail "a bad value created a tunnel"
ok "bad -x values (flag, SAUCE_PROXY, config file) and timeouts: exit 1 naming the flag, no tunnel"

e2e_done
