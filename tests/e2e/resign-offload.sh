#!/bin/bash
# A kept-alive resigned connection's requests past proxyd (issue 16,
# speed): the entry proxy's warm-up asks proxyd to bind the stream to the
# CONNECT's origin (the requests then come in origin form, as the app
# reads them), and once the warm-up's TLS is ready proxyd hands the app's TLS
# connection to kgpd with its record keys; kgpd seals and opens the
# records itself.  Checked as a user would:
# - 100 requests on one browser connection: every answer is right, one
#   connection to the entry proxy, one TLS connection at the app;
# - proxyd answered at most the first of them (sc_requests_total; none
#   when the warm-up's connection moved before the first request, as it
#   does once its handshake and the app's TLS 1.3 ticket are through),
#   sc_tls_handovers_total counts the connections, and the log says a
#   connection was handed over after 0 requests and taken;
# - the session is resumed on the next connection to the app (the
#   tickets were read before the hand-over: a second curl's TLS at the
#   app is a resumption, as app-tls-resume checks without a move);
# - after the hand-over, on the same connection: 16 MiB down, 4 MiB up
#   and a chunked answer, digests equal (kgpd's records both ways, its
#   flow control across many records);
# - the app closing its connection after the hand-over, in the middle of
#   an answer: the browser gets what the app sent, then its connection
#   ends (curl's exit 18), and the next connection is served;
# - the browser closing its connection ends the stream cleanly (the
#   next connection works), and nothing of the above needs -vv.
. "$(dirname "$0")/lib.sh"
APP_NAME=app.office.test
API_PORT=9500
A=http://$OFFICE_IP:$API_PORT

prom_init

e2e_init
start_server
make_cert app "IP:$APP_IP,DNS:$APP_NAME"
printf '127.0.0.1 localhost\n%s %s\n' "$APP_IP" "$APP_NAME" | office_etc hosts
serve_app "$OFFICE" app "$APP_IP"
cloud curl -sS --max-time 5 -o "$TMP/ca.pem" \
    "http://$CLOUD_IP:$REST_PORT/rest/v1/public/ca.pem" ||
    fail "GET /rest/v1/public/ca.pem"
start_sc -v --metrics-address "$OFFICE_IP:$API_PORT"

metric() {
	office curl -sS --max-time 5 "$A/metrics" >"$TMP/scrape" &&
	    prom_value "$TMP/scrape" "$@"
}

URL=https://$APP_NAME:$APP_TLS_PORT
N=100

# a first connection, so that the app's session is in proxyd's cache
out=$(browse --cacert "$TMP/ca.pem" "$URL/text/first") ||
    fail "first resigned GET: $out"
[ "$out" = "response first" ] || fail "first resigned GET: '$out'"
wait_for 10 grep -q "taken over" "$TMP/sc.log" ||
    fail "no hand-over of the first connection: $(grep -E 'bound|kept|handed' "$TMP/sc.log" | tail -n 5)"
before=$(metric sc_requests_total class=2xx) || fail "no /metrics"

args=()
for i in $(seq 1 $N); do
	args+=("$URL/text/r$i")
done
args+=("$URL/conn" "$URL/conn")
browse --cacert "$TMP/ca.pem" -w '%{http_code} %{num_connects}\n' \
    "${args[@]}" >"$TMP/many.out" || fail "$N requests: $(tail -n 3 "$TMP/many.out")"
for i in $(seq 1 $N); do
	echo "response r$i"
	echo "200 $([ "$i" = 1 ] && echo 1 || echo 0)"
done >"$TMP/many.want"
head -n $((2 * N)) "$TMP/many.out" | cmp -s - "$TMP/many.want" ||
    fail "the $N answers are not as sent: $(head -n $((2 * N)) "$TMP/many.out" | diff - "$TMP/many.want" | head -n 6)"
conns=$(grep '^connection' "$TMP/many.out" | sort -u | wc -l)
[ "$conns" = 1 ] || fail "the /conn requests reached $conns app connections: $(grep '^connection' "$TMP/many.out")"
ok "$N requests and two /conn on one resigned connection: every answer right, one TLS connection at the app"

wait_for 10 at_least 2 sc_tls_handovers_total ||
    fail "sc_tls_handovers_total: $(metric sc_tls_handovers_total), want 2"
after=$(metric sc_requests_total class=2xx)
[ "$(ctl_field tls-handovers)" -ge 2 ] ||
    fail "sc-ctl status: tls-handovers '$(ctl_field tls-handovers)', want 2 or more"
# (2: proxyd serves the first request when it comes before the app's
# ticket, under load; then the move after it may wait for one more)
[ $((after - before)) -le 2 ] ||
    fail "proxyd answered $((after - before)) of the $((N + 2)) requests: not handed to kgpd"
[ "$(grep -c 'TLS connection to the app taken over' "$TMP/sc.log")" -ge 2 ] ||
    fail "kgpd did not say it took the connection over"
ok "proxyd answered $((after - before)) of the $((N + 2)), sc_tls_handovers_total $(metric sc_tls_handovers_total), sc-ctl tls-handovers $(ctl_field tls-handovers)"

grep -E "TLS with $APP_NAME port [0-9]+: TLSv1.3, .*, resumed" "$TMP/sc.log" >/dev/null ||
    fail "the second connection's TLS was not resumed: $(grep "TLS with $APP_NAME" "$TMP/sc.log" | tail -n 2)"
ok "the next connection to the app resumed the session proxyd kept from the first"

# bulk both ways on a connection already handed over (a small request first)
size=$((16 * 1024 * 1024))
head -c $((4 * 1024 * 1024)) /dev/urandom >"$TMP/up"
want=$(sha256sum <"$TMP/up" | cut -d' ' -f1)
browse --cacert "$TMP/ca.pem" -w '%{num_connects} ' \
    -o "$TMP/small" "$URL/text/s" -o "$TMP/big" "$URL/bytes/$size?seed=5" \
    -o "$TMP/ck" "$URL/chunked/1000000?seed=3" \
    --next -x "http://$ENTRY" --cacert "$TMP/ca.pem" -w '%{num_connects} ' \
    -o "$TMP/sink" --data-binary @"$TMP/up" "$URL/sink" \
    >"$TMP/bulk.out" || fail "bulk: $(cat "$TMP/bulk.out")"
[ "$(tr -d ' \n' <"$TMP/bulk.out")" = 1000 ] ||
    fail "bulk requests used connections: $(cat "$TMP/bulk.out")"
[ "$(sha256sum <"$TMP/big" | cut -d' ' -f1)" = "$(gen_sha256 $size 5)" ] ||
    fail "16 MiB after the hand-over: digest differs"
[ "$(sha256sum <"$TMP/ck" | cut -d' ' -f1)" = "$(gen_sha256 1000000 3)" ] ||
    fail "chunked after the hand-over: digest differs"
got=$(json_get 'j["sha256"]' <"$TMP/sink")
[ "$got" = "$want" ] || fail "4 MiB up after the hand-over: the app got $got"
rm -f "$TMP/big" "$TMP/up"
ok "on one handed-over connection: 16 MiB down, a chunked answer, 4 MiB up, digests equal"

# the app closes a handed-over connection in the middle of an answer
browse --cacert "$TMP/ca.pem" -o "$TMP/pre" "$URL/text/pre" \
    -o "$TMP/cut" "$URL/cut/100000?seed=2&after=40000" 2>"$TMP/cut.err"
rc=$?
[ "$rc" = 18 ] || fail "an answer the app cut: curl exit $rc, want 18: $(cat "$TMP/cut.err")"
[ "$(cat "$TMP/pre")" = "response pre" ] || fail "before the cut: $(cat "$TMP/pre")"
[ "$(stat -c %s "$TMP/cut")" = 40000 ] ||
    fail "the cut answer: $(stat -c %s "$TMP/cut") bytes, want the 40000 the app sent"
ok "the app closing a handed-over connection mid-answer: the browser gets its 40000 bytes, then the end (curl 18)"

out=$(browse --cacert "$TMP/ca.pem" "$URL/text/after") || fail "after: $out"
[ "$out" = "response after" ] || fail "after: '$out'"
grep -q "TLS from the app" "$TMP/sc.log" &&
    fail "a record from the app did not open: $(grep 'TLS from the app' "$TMP/sc.log")"
ok "closed browser connections end their streams; the next connection works"

# an app that speaks TLS 1.2 only: its connection is handed over at once
# after its handshake (no ticket to wait for), and carries bytes exactly
cp "$TMP/app.crt" "$TMP/app12.crt"
cp "$TMP/app.key" "$TMP/app12.key"
serve_app "$OFFICE" app12 "$APP_IP" --http-port 8081 --tls-port 8444 --tls12
URL12=https://$APP_NAME:8444
h0=$(metric sc_tls_handovers_total)
browse --cacert "$TMP/ca.pem" -w '%{num_connects} ' -o "$TMP/t12a" \
    "$URL12/text/a12" -o "$TMP/t12b" "$URL12/bytes/3000000?seed=7" \
    -o "$TMP/t12c" "$URL12/text/c12" >"$TMP/t12.out" ||
    fail "TLS 1.2 app: $(cat "$TMP/t12.out")"
[ "$(tr -d ' \n' <"$TMP/t12.out")" = 100 ] ||
    fail "TLS 1.2 app: connections $(cat "$TMP/t12.out")"
[ "$(cat "$TMP/t12a")" = "response a12" ] &&
    [ "$(cat "$TMP/t12c")" = "response c12" ] ||
    fail "TLS 1.2 app: answers '$(cat "$TMP/t12a")' '$(cat "$TMP/t12c")'"
[ "$(sha256sum <"$TMP/t12b" | cut -d' ' -f1)" = "$(gen_sha256 3000000 7)" ] ||
    fail "TLS 1.2 app: 3 MB digest differs"
grep -qE "TLS with $APP_NAME port 8444: TLSv1.2" "$TMP/sc.log" ||
    fail "not TLS 1.2 to the app: $(grep "TLS with $APP_NAME port 8444" "$TMP/sc.log")"
grep -qE "TLS connection to $APP_NAME port 8444 handed to kgpd after [01] requests" "$TMP/sc.log" ||
    fail "TLS 1.2 connection not handed over: $(grep -E 'handed|kept' "$TMP/sc.log" | tail -n 3)"
wait_for 10 at_least $((h0 + 1)) sc_tls_handovers_total ||
    fail "sc_tls_handovers_total did not move for TLS 1.2"
ok "a TLS 1.2 app: handed over ($(grep -oE "port 8444 handed to kgpd after [01] requests" "$TMP/sc.log" | head -n 1)), two answers and 3 MB exact"

# a warm-up's connection, ready (TLS 1.2: its handshake; 1.3: the app's
# ticket too) when the browser's first request comes, moves with that
# request: proxyd serves none of it.  Of the connections above (seven),
# at least one must have gone so (each may lose the race under load).
n0=$(grep -c 'TLS connection to app.office.test port [0-9]* handed to kgpd after 0 requests' "$TMP/sc.log")
[ "$n0" -ge 1 ] ||
    fail "no connection handed over with its first request: $(grep -E 'handed to kgpd after|kept' "$TMP/sc.log" | tail -n 4)"
ok "$n0 of $(grep -c 'handed to kgpd after [0-9]* requests' "$TMP/sc.log") connections handed to kgpd with their first request"
