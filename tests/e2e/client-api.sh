#!/bin/bash
# sc --api-address (issue 18): /healthz, /readyz, /version, /info and
# /metrics (read with the parser of python3-prometheus-client) on an
# address of their own, behind --api-basic-auth; the figures follow what
# happens (connections, streams, bytes, answers by class, a name that
# does not resolve, round trips, a helper restarted, each process's CPU
# and memory); /readyz says 503 and why while no tunnel connection is
# up, 200 again after; a flood of silent clients and clients that never
# read are dropped while the API and the tunnel keep answering; a port
# in use or a bad address is an error at start.
. "$(dirname "$0")/lib.sh"
API_PORT=9500
A=http://$OFFICE_IP:$API_PORT
AUTH=ops:s3cret-api

prom_init

e2e_init
start_server
start_app
# office resolves nothing but the app (a name server that is not there)
office ip addr add "10.214.$N.53/32" dev lo
printf 'nameserver 10.214.%s.53\n' "$N" | office_etc resolv.conf

# api PATH [curl args]: the status code, the body in $TMP/body
api() {
	local path=$1
	shift
	office curl -sS --max-time 5 -o "$TMP/body" -w '%{http_code}' \
	    -u "$AUTH" "$@" "$A$path"
}

# metric NAME [LABEL=VALUE]: its value in a scrape; fails when the text
# does not parse
metric() {
	office curl -sS --max-time 5 -u "$AUTH" "$A/metrics" \
	    >"$TMP/scrape" && prom_value "$TMP/scrape" "$@"
}

readyz_is() {
	[ "$(api /readyz)" = "$1" ]
}

# api_conns: connections to the API port that sc holds open
api_conns() {
	office ss -Htn state established "( sport = :$API_PORT )" | wc -l
}
no_api_conns() {
	[ "$(api_conns)" = 0 ]
}

flood_closed() {
	[ "$(flood_field "$1" closed)" -ge "$2" ]
}

# the version 4 spelling, --metrics-address, with the v5 --api-basic-auth
start_sc --metrics-address "$OFFICE_IP:$API_PORT" --api-basic-auth "$AUTH" \
    --tunnel-connections 2
grep -q "API on http://$OFFICE_IP:$API_PORT" "$TMP/sc.log" ||
    fail "no 'API on' line in sc's log"
ps -o args= -p "$SC_PID" | grep -q s3cret-api &&
    fail "the API password shows in ps: $(ps -o args= -p "$SC_PID")"

[ "$(api /healthz)" = 200 ] || fail "/healthz: $(cat "$TMP/body")"
wait_for 10 readyz_is 200 || fail "/readyz is not 200: $(cat "$TMP/body")"
[ "$(api /healthz -u ops:wrong)" = 401 ] || fail "/healthz with a wrong password is not 401"
[ "$(office curl -sS --max-time 5 -o /dev/null -w '%{http_code}' "$A/metrics")" = 401 ] ||
    fail "/metrics without credentials is not 401"
[ "$(api /nothing)" = 404 ] || fail "/nothing is not 404"
[ "$(api /metrics -X POST)" = 405 ] || fail "POST /metrics is not 405"
[ "$(api /version)" = 200 ] || fail "/version"
v=$(json_get "j['version']" <"$TMP/body") && [ -n "$v" ] ||
    fail "/version: $(cat "$TMP/body")"
"$SC" --version | grep -qF "$v" || fail "/version $v is not sc --version's"
ver=$v
[ "$(api /info)" = 200 ] || fail "/info"
[ "$(json_get "j['id']" <"$TMP/body")" = "$TUNNEL_ID" ] ||
    fail "/info id: $(cat "$TMP/body")"
[ "$(json_get "j['name']" <"$TMP/body")" = "$TUNNEL_NAME" ] ||
    fail "/info name: $(cat "$TMP/body")"
[ "$(json_get "j['server']" <"$TMP/body")" = "$CLOUD_IP:$KGP_PORT" ] ||
    fail "/info server: $(cat "$TMP/body")"
[ "$(json_get "j['connections']" <"$TMP/body")" = 2 ] ||
    fail "/info connections: $(cat "$TMP/body")"
[ "$(json_get "j['uptime']" <"$TMP/body")" -ge 0 ] ||
    fail "/info uptime: $(cat "$TMP/body")"
v=$(metric sc_tunnel_state state=up) ||
    fail "/metrics does not parse: $(head -n 5 "$TMP/scrape")"
[ "$v" = 1 ] || fail "sc_tunnel_state{state=up} $v"
ok "/healthz, /readyz 200, /version $ver, /info of tunnel $TUNNEL_ID, /metrics parses (prometheus_client); 401 without the credentials"

# traffic: requests, 1 MB, a name that does not resolve
for i in $(seq 1 10); do
	browse_ok "a$i" || fail "request $i through the tunnel"
done
browse -o /dev/null "$(app_url "/bytes/1000000?seed=1")" || fail "1 MB"
code=$(browse -o /dev/null -w '%{http_code}' "http://nowhere.e2e.test/" 2>/dev/null)
[ "$code" = 502 ] || fail "an unknown name: $code, want 502"
[ "$(metric sc_connections_up)" = 2 ] || fail "connections up: $(metric sc_connections_up)"
[ "$(metric sc_connections)" = 2 ] || fail "connections: $(metric sc_connections)"
wait_for 5 at_least 12 sc_streams_total ||
    fail "streams_total: $(metric sc_streams_total)"
wait_for 5 at_least 1000000 sc_stream_bytes_total direction=out ||
    fail "bytes out: $(metric sc_stream_bytes_total direction=out)"
at_least 500 sc_stream_bytes_total direction=in ||
    fail "bytes in: $(metric sc_stream_bytes_total direction=in)"
wait_for 5 at_least 11 sc_requests_total class=2xx ||
    fail "2xx answers: $(metric sc_requests_total class=2xx)"
wait_for 5 at_least 1 sc_requests_total class=5xx ||
    fail "5xx answers: $(metric sc_requests_total class=5xx)"
wait_for 5 at_least 1 sc_dns_failures_total ||
    fail "DNS failures: $(metric sc_dns_failures_total)"
wait_for 5 at_least 1 sc_rtt_seconds_count || fail "no round trip measured"
at_least 1 sc_rtt_seconds_bucket le=+Inf || fail "no +Inf bucket"
for p in sc kgpd proxyd; do
	at_least 1000000 sc_process_max_resident_bytes process=$p ||
	    fail "$p's memory: $(metric sc_process_max_resident_bytes process=$p)"
done
ok "figures: 2 connections up, $(metric sc_streams_total) streams, $(metric sc_stream_bytes_total direction=out) bytes out, $(metric sc_requests_total class=2xx) 2xx, a 5xx and a DNS failure, $(metric sc_rtt_seconds_count) round trips, memory of sc, kgpd, proxyd"

# a helper dies: counted
pp=$(ps -o pid=,comm= --ppid "$SC_PID" | awk '$2 == "proxyd" {print $1}')
[ -n "$pp" ] || fail "no proxyd"
kill -KILL "$pp"
wait_for 15 at_least 1 sc_child_restarts_total process=proxyd ||
    fail "proxyd's restart not counted"
[ "$(metric sc_child_restarts_total process=kgpd)" = 0 ] || fail "kgpd restarts"
wait_for 15 readyz_is 200 || fail "/readyz after proxyd's restart: $(cat "$TMP/body")"
ok "proxyd killed: sc_child_restarts_total{process=proxyd} 1"

# the server gone: 503 and why; back: 200
kill -KILL "$SERVER_PID"
wait_for 30 readyz_is 503 || fail "/readyz still 200 with the server gone"
grep -qE 'reconnecting|connection' "$TMP/body" ||
    fail "/readyz 503 without the reason: $(cat "$TMP/body")"
why=$(cat "$TMP/body")
[ "$(metric sc_tunnel_ready)" = 0 ] || fail "sc_tunnel_ready not 0"
[ "$(api /healthz)" = 200 ] || fail "/healthz while reconnecting"
run_server
wait_for 40 readyz_is 200 || fail "/readyz not 200 after the server came back: $(cat "$TMP/body")"
wait_for 5 at_least 1 sc_connection_breaks_total || fail "no break counted"
ok "server killed: /readyz 503 ($why), 200 once it is back"

# hostile clients: 300 that send nothing, 5 that ask and never read
flood office silent --target "$OFFICE_IP:$API_PORT" --mode silent \
    --count 300 --duration 60
flood office stall --target "$OFFICE_IP:$API_PORT" --mode stall \
    --count 5 --rcvbuf 1024 --duration 60 \
    --text "$(printf 'GET /metrics HTTP/1.1\\r\\nHost: m\\r\\nAuthorization: Basic b3BzOnMzY3JldC1hcGk=\\r\\n\\r\\n%.0s' $(seq 1 80))"
good=0
for i in $(seq 1 10); do
	t0=$(date +%s%N)
	metric sc_tunnel_ready >/dev/null && good=$((good + 1))
	t1=$(date +%s%N)
	[ $(( (t1 - t0) / 1000000 )) -lt 2000 ] ||
	    fail "a scrape took $(( (t1 - t0) / 1000000 )) ms under the flood"
done
[ "$good" = 10 ] || fail "$good of 10 scrapes during the flood"
browse_ok during || fail "the tunnel during the flood"
wait_for 20 flood_closed silent 200 ||
    fail "the silent clients are not dropped: $(cat "$TMP/flood-silent.json")"
wait_for 30 no_api_conns ||
    fail "sc still holds $(api_conns) API connections: $(cat "$TMP/flood-stall.json")"
ok "300 silent clients and 5 that never read: dropped; 10 of 10 scrapes, the tunnel served"
flood_stop

# bad input at start: a port in use, a bad address
st=0
office "$SC" -u "$SC_USER" -k "$KEY" -x "$REST_URL" -i other \
    --ctl-socket "$TMP/ctl2.sock" --api-address "$APP_IP:$APP_PORT" \
    >"$TMP/inuse.log" 2>&1 || st=$?
[ "$st" = 1 ] || fail "--api-address on a port in use: exit $st"
grep -q "cannot serve the API on $APP_IP:$APP_PORT: .*in use" "$TMP/inuse.log" ||
    fail "--api-address on a port in use: $(cat "$TMP/inuse.log")"
st=0
"$SC" run -u "$SC_USER" -k "$KEY" --rest-url "$REST_URL" \
    --api-address nonsense >"$TMP/badaddr.log" 2>&1 || st=$?
[ "$st" = 1 ] || fail "--api-address nonsense: exit $st"
grep -q "api-address: 'nonsense' is not host:port" "$TMP/badaddr.log" ||
    fail "--api-address nonsense: $(cat "$TMP/badaddr.log")"
ok "--api-address on a port in use, --api-address nonsense: exit 1 with the reason"
e2e_done
