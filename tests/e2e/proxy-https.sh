#!/bin/bash
# issue 17: an https:// upstream proxy, an HTTP proxy spoken to inside
# TLS (-x https://, https_proxy, a PAC's "HTTPS host:port").  In office,
# nftables lets only the proxy's user (nobody) reach the app: a 200
# proves the way through the proxy, and the proxy speaks only TLS.
#   - upproxy.py with --cert/--key and basic authentication: http:// in
#     absolute form, https:// through CONNECT (TLS to the app inside TLS
#     to the proxy) and the browser's CONNECT tunnels: 200, 1 MiB with its
#     digest; --http-response-header-timeout holds through it;
#   - the proxy's certificate, as the apps': not verified by default,
#     verified with --cacert-file (its CA: 200; another CA: 502 that says
#     so);
#   - a wrong password: the proxy's 407, inside TLS, is a 502 with the
#     reason; a port that never answers the ClientHello: 504 after
#     --http-tls-handshake-timeout;
#   - https_proxy of sc's environment, and a PAC's "HTTPS host:port".
. "$(dirname "$0")/lib.sh"
PROXY_IP=10.217.$N.1
TLS_PORT=3443
SILENT_PORT=3444
PX_USER=corp
PX_PASS='s3cret:p@ss'
PX_PASS_URL='s3cret%3Ap%40ss'

e2e_init
start_server
start_app
office ip addr add "$PROXY_IP/32" dev lo

# the proxy, as nobody, with its certificate for its address
make_cert proxy "IP:$PROXY_IP"
chmod 644 "$TMP/proxy.key"
chmod o+x "$TMP"
install -m 0644 "$E2E_DIR/upproxy.py" "$TMP/upproxy.py" || fail "cp upproxy.py"
touch "$TMP/up.log" && chown nobody "$TMP/up.log"
office setpriv --reuid=nobody --regid=nogroup --clear-groups \
    /usr/bin/python3 "$TMP/upproxy.py" --addr "$PROXY_IP" --port "$TLS_PORT" \
    --auth "$PX_USER:$PX_PASS" --cert "$TMP/proxy.crt" --key "$TMP/proxy.key" \
    --log "$TMP/up.log" >"$TMP/up.out" 2>&1 &
PIDS+=($!)
wait_for 10 office bash -c "exec 3<>/dev/tcp/$PROXY_IP/$TLS_PORT" || fail "upproxy.py did not start: $(cat "$TMP/up.out")"
# a "proxy" that takes connections and never answers the ClientHello
silent_listener "$PROXY_IP" "$SILENT_PORT"
# it speaks TLS, and only TLS
office curl -sS --max-time 5 -o /dev/null -w '%{http_code}' \
    -x "http://$PROXY_IP:$TLS_PORT" "http://$APP_IP:$APP_PORT/" \
    >"$TMP/plain.out" 2>&1 && fail "the proxy answered plain HTTP: $(cat "$TMP/plain.out")"

app_proxies_only nobody

# --- -x https://user:pass@ ----------------------------------------------
PROXY_URL="https://$PX_USER:$PX_PASS_URL@$PROXY_IP:$TLS_PORT"
run_sc -x "$PROXY_URL" --http-response-header-timeout 1s
three_ways "-x https://"
grep -q "REQ GET http://$APP_IP:$APP_PORT/text/plain user=$PX_USER auth=ok status=200" \
    "$TMP/up.log" || fail "no absolute-form GET at the proxy: $(cat "$TMP/up.log")"
[ "$(grep -c "REQ CONNECT $APP_IP:$APP_TLS_PORT user=$PX_USER auth=ok status=200" \
    "$TMP/up.log")" -ge 2 ] || fail "no CONNECT at the proxy: $(cat "$TMP/up.log")"
grep -q "application traffic through https://$PX_USER:\*\*\*\*@$PROXY_IP:$TLS_PORT" \
    "$TMP/sc.log" || fail "no masked proxy line in sc's log"
grep -F -e "$PX_PASS" -e "$PX_PASS_URL" "$TMP/sc.log" &&
    fail "the proxy password is in sc's log"
ok "-x https://user:pass@: http:// in absolute form, https:// and CONNECT through CONNECT, all inside TLS to the proxy: 200"

size=$((1024 * 1024))
want=$(gen_sha256 $size 9)
code=$(browse -o "$TMP/big1" -w '%{http_code}' "$(app_url "/bytes/$size?seed=9")")
[ "$code" = 200 ] && [ "$(sha256sum <"$TMP/big1" | cut -d' ' -f1)" = "$want" ] ||
    fail "1 MiB in absolute form through the https:// proxy: $code"
code=$(browse -o "$TMP/big2" -w '%{http_code}' --request-target \
    "https://$APP_IP:$APP_TLS_PORT/bytes/$size?seed=9" \
    "http://$APP_IP:$APP_TLS_PORT/bytes/$size?seed=9")
[ "$code" = 200 ] && [ "$(sha256sum <"$TMP/big2" | cut -d' ' -f1)" = "$want" ] ||
    fail "1 MiB over TLS inside TLS: $code"
out=$(get "$(app_url /sleep/3000)")
case $out in
*"no answer from $APP_IP port $APP_PORT in 1000 ms (--http-response-header-timeout)"*504) ;;
*) fail "--http-response-header-timeout through the https:// proxy: '$out'" ;;
esac
stop_sc
ok "1 MiB through the https:// proxy, in absolute form and TLS to the app inside it: digests equal; --http-response-header-timeout holds through it"

# --- verification: --cacert-file ---------------------------------------
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -days 2 -subj "/CN=another CA" -keyout "$TMP/other.key" \
    -out "$TMP/other.crt" >/dev/null 2>&1 || fail "openssl: another CA"
run_sc -x "$PROXY_URL" --cacert-file "$TMP/other.crt"
out=$(get "$(app_url /text/v)")
case $out in
*"TLS with upstream proxy https://$PX_USER:****@$PROXY_IP:$TLS_PORT: "*verif*502) ;;
*) fail "--cacert-file another CA: '$out', want a 502 that says it does not verify" ;;
esac
stop_sc
run_sc -x "$PROXY_URL" --cacert-file "$TMP/proxy.crt"
out=$(get "$(app_url /text/v)")
[ "$out" = "response v  200" ] || fail "--cacert-file the proxy's CA: '$out'"
stop_sc
ok "--cacert-file: the proxy's certificate verified (another CA: 502 saying so; its own: 200)"

# --- a wrong password; a proxy silent after TCP ------------------------
run_sc -x "https://$PX_USER:wrong@$PROXY_IP:$TLS_PORT"
out=$(get "$(app_tls_url /text/x)" -k -p)
case $out in
*"refused CONNECT $APP_IP:$APP_TLS_PORT: 407 Proxy Authentication Required (the credentials given are wrong)"*502) ;;
*) fail "407 on CONNECT through TLS: '$out'" ;;
esac
stop_sc
run_sc -x "https://$PROXY_IP:$SILENT_PORT" --http-tls-handshake-timeout 1s
start=$(date +%s%N)
out=$(get "$(app_url /text/x)")
took=$(( ($(date +%s%N) - start) / 1000000 ))
case $out in
*"the TLS handshake with upstream proxy https://$PROXY_IP:$SILENT_PORT took longer than 1000 ms"*504) ;;
*) fail "a proxy silent after TCP: '$out'" ;;
esac
[ "$took" -lt 5000 ] || fail "the 504 took $took ms"
stop_sc
ok "a wrong password: 502 with the proxy's 407; a proxy silent after TCP: 504 after --http-tls-handshake-timeout 1s ($took ms)"

# --- https_proxy of sc's environment; a PAC's HTTPS ---------------------
{
	echo '#!/bin/sh'
	printf "exec env 'https_proxy=%s' '%s' \"\$@\"\n" "$PROXY_URL" "$SC"
} >"$TMP/sc-env"
chmod 755 "$TMP/sc-env"
: >"$TMP/up.log"
SC=$TMP/sc-env run_sc
out=$(get "$(app_tls_url /text/env)" -k -p)
[ "$out" = "response env  200" ] || fail "https_proxy=https://: '$out'"
grep -q "REQ CONNECT $APP_IP:$APP_TLS_PORT user=$PX_USER auth=ok status=200" \
    "$TMP/up.log" || fail "https_proxy: not through the proxy"
stop_sc
printf 'function FindProxyForURL(url, host) {\n\treturn "HTTPS %s:%s; DIRECT";\n}\n' \
    "$PROXY_IP" "$TLS_PORT" >"$TMP/office.pac"
: >"$TMP/up.log"
run_sc --pac "$TMP/office.pac" -a "$PX_USER:$PX_PASS@$PROXY_IP:$TLS_PORT"
out=$(get "$(app_url /text/pac)")
[ "$out" = "response pac  200" ] || fail "PAC HTTPS: '$out'"
grep -q "REQ GET http://$APP_IP:$APP_PORT/text/pac user=$PX_USER auth=ok status=200" \
    "$TMP/up.log" || fail "PAC HTTPS: not through the proxy: $(cat "$TMP/up.log")"
stop_sc
ok "https_proxy=https://... of sc's environment, and a PAC's \"HTTPS host:port\": through TLS to the proxy, 200"

e2e_done
