#!/bin/bash
# sc-server -m (issue 18): /metrics in the Prometheus text format (read
# with the parser of python3-prometheus-client), /healthz, /readyz on an
# address of their own; the figures follow what happens (certificates
# the CA signed, tunnels,
# sessions, streams, bytes, REST answers, failed logins, entry proxy
# refusals); /readyz says 503 while the KGP worker does not serve; a
# flood of scrapers and a scraper that never reads are dropped, while
# /metrics and the REST API keep answering; a port in use or a bad
# address is an error at start.
. "$(dirname "$0")/lib.sh"
METRICS_PORT=9400
M=http://$CLOUD_IP:$METRICS_PORT

prom_init

e2e_init
start_server -m "$CLOUD_IP:$METRICS_PORT"
start_app

# metric NAME [LABEL=VALUE]: its value in a scrape; fails when the text
# does not parse
metric() {
	cloud curl -sS --max-time 5 "$M/metrics" >"$TMP/scrape" &&
	    prom_value "$TMP/scrape" "$@"
}

code() {
	cloud curl -sS --max-time 5 -o "$TMP/body" -w '%{http_code}' "$@"
}

# readyz_is CODE: /readyz answers CODE (its text in $TMP/body)
readyz_is() {
	[ "$(code "$M/readyz")" = "$1" ]
}

# scrapers: connections to the metrics port the server holds open
scrapers() {
	cloud ss -Htn state established "( sport = :$METRICS_PORT )" | wc -l
}
no_scrapers() {
	[ "$(scrapers)" = 0 ]
}

# flood_closed NAME MIN: the server closed at least MIN of the flood's
flood_closed() {
	[ "$(flood_field "$1" closed)" -ge "$2" ]
}

[ "$(code "$M/healthz")" = 200 ] || fail "/healthz is not 200"
wait_for 10 readyz_is 200 ||
    fail "/readyz is not 200: $(cat "$TMP/body")"
[ "$(code "$M/nothing")" = 404 ] || fail "/nothing is not 404"
[ "$(code -X POST "$M/metrics")" = 405 ] || fail "POST /metrics is not 405"
v=$(metric sc_server_tunnels state=running) ||
    fail "/metrics does not parse: $(head -n 5 "$TMP/scrape")"
[ "$v" = 0 ] || fail "running tunnels before any: $v"
ok "/healthz 200, /readyz 200, /metrics parses (prometheus_client)"

# the CA process signs a trial leaf when it comes up: one minted
wait_for 10 at_least 1 sc_server_certificates_minted_total ||
    fail "no certificate minted: $(metric sc_server_certificates_minted_total)"
[ "$(metric sc_server_certificate_failures_total)" = 0 ] ||
    fail "certificate failures: $(metric sc_server_certificate_failures_total)"
[ "$(metric sc_server_certificate_cache_hits_total)" = 0 ] ||
    fail "certificate cache hits: $(metric sc_server_certificate_cache_hits_total)"
ok "the CA's trial leaf: sc_server_certificates_minted_total 1, no failure, no cache hit yet"

# traffic: a tunnel, requests through it, a wrong key, a bad request head
launch_sc -u "$SC_USER" -k "$KEY" -i "$TUNNEL_NAME" -x "$REST_URL" \
    -f "$TMP/ready" --ctl-socket "$TMP/ctl.sock" --tunnel-connections 2
for i in $(seq 1 10); do
	browse_ok "m$i" || fail "request $i through the tunnel"
done
cloud curl -sS --max-time 5 -o "$TMP/digest" \
    -x "http://$ENTRY" "$(app_url "/bytes/1000000?seed=1")" ||
    fail "1 MB through the tunnel"
cloud curl -sS --max-time 5 -o /dev/null -u "$SC_USER:wrong" \
    "$REST_URL/$SC_USER/tunnels"
cloud "$PYTHON" - "${ENTRY%:*}" "${ENTRY##*:}" <<'PY' || fail "no 400 from the entry proxy"
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
s.sendall(b"NOT HTTP AT ALL\r\n\r\n")
assert s.recv(100).startswith(b"HTTP/1.1 400"), "not a 400"
PY
wait_for 10 at_least 1 sc_server_tunnels_connected ||
    fail "no connected tunnel in /metrics"
[ "$(metric sc_server_tunnels state=running)" = 1 ] ||
    fail "running tunnels: $(metric sc_server_tunnels state=running)"
wait_for 10 at_least 11 sc_server_streams_total ||
    fail "streams_total below 11: $(metric sc_server_streams_total)"
wait_for 10 at_least 1000000 sc_server_stream_bytes_total direction=in ||
    fail "bytes in below 1 MB: $(metric sc_server_stream_bytes_total direction=in)"
at_least 500 sc_server_stream_bytes_total direction=out ||
    fail "bytes out: $(metric sc_server_stream_bytes_total direction=out)"
[ "$(metric sc_server_sessions)" = 2 ] ||
    fail "sessions: $(metric sc_server_sessions), want 2"
[ "$(metric sc_server_sessions_up)" = 2 ] || fail "sessions up"
at_least 1 sc_server_failed_logins_total realm=rest || fail "failed logins"
at_least 1 sc_server_rest_requests_total code=401 || fail "REST 401"
at_least 2 sc_server_rest_requests_total code=200 || fail "REST 200"
wait_for 5 at_least 1 sc_server_entry_rejections_total code=400 ||
    fail "entry refusals 400: $(metric sc_server_entry_rejections_total code=400)"
at_least 12 sc_server_entry_connections_total || fail "entry connections"
ok "figures: 1 tunnel connected, 2 sessions, $(metric sc_server_streams_total) streams, $(metric sc_server_stream_bytes_total direction=in) bytes in, a failed login, a 400 at the entry proxy"

# the KGP worker stopped: /readyz 503 with the reason, then 200 again
kgp=$(server_worker kgp)
[ -n "$kgp" ] || fail "no KGP worker"
kill -STOP "$kgp"
wait_for 15 readyz_is 503 ||
    { kill -CONT "$kgp"; fail "/readyz still 200 with the KGP worker stopped"; }
grep -q 'KGP worker' "$TMP/body" || { kill -CONT "$kgp"; fail "/readyz 503 without the reason: $(cat "$TMP/body")"; }
[ "$(metric sc_server_kgp_worker_up)" = 0 ] || { kill -CONT "$kgp"; fail "kgp_worker_up not 0"; }
kill -CONT "$kgp"
wait_for 10 readyz_is 200 ||
    fail "/readyz not 200 again after the KGP worker went on"
ok "/readyz: 503 while the KGP worker stops, 200 after"

# hostile scrapers: 300 connections that send nothing, a client that asks
# for /metrics over and over and never reads
flood cloud silent --target "$CLOUD_IP:$METRICS_PORT" --mode silent \
    --count 300 --duration 60
flood cloud stall --target "$CLOUD_IP:$METRICS_PORT" --mode stall \
    --count 5 --rcvbuf 1024 --duration 60 \
    --text "$(printf 'GET /metrics HTTP/1.1\\r\\nHost: m\\r\\n\\r\\n%.0s' $(seq 1 200))"
good=0
for i in $(seq 1 10); do
	t0=$(date +%s%N)
	metric sc_server_tunnels state=running >/dev/null && good=$((good + 1))
	t1=$(date +%s%N)
	[ $(( (t1 - t0) / 1000000 )) -lt 2000 ] ||
	    fail "a scrape took $(( (t1 - t0) / 1000000 )) ms under the flood"
done
[ "$good" = 10 ] || fail "$good of 10 scrapes during the flood"
rest GET "/$SC_USER/tunnels" >/dev/null || fail "REST during the flood"
browse_ok during || fail "the tunnel during the flood"
wait_for 20 flood_closed silent 200 ||
    fail "the silent scrapers are not dropped: $(cat "$TMP/flood-silent.json")"
# the scrapers that never read cannot see the server's end (it waits
# behind the answers they do not read): the server's side of every
# connection has left ESTABLISHED
wait_for 30 no_scrapers ||
    fail "the server still holds $(scrapers) scraper connections: $(cat "$TMP/flood-stall.json")"
ok "300 silent scrapers and 5 that never read: all dropped by the server; 10 of 10 scrapes, REST and the tunnel served"
flood_stop

# bad input at start: a port in use, a bad address (its KGP port past
# those of the first server's KGP workers, --kgp-workers 16 at most)
st=0
cloud "$SC_SERVER" -d -s "$TMP/state2" -R "$CLOUD_IP:4401" -K "$CLOUD_IP:$((KGP_PORT + 20))" \
    -m "$CLOUD_IP:$REST_PORT" >"$TMP/inuse.log" 2>&1 || st=$?
[ "$st" = 1 ] || fail "-m on a port in use: exit $st"
grep -q "cannot serve /metrics on $CLOUD_IP:$REST_PORT" "$TMP/inuse.log" ||
    fail "-m on a port in use: no clear error: $(cat "$TMP/inuse.log")"
st=0
"$SC_SERVER" -d -s "$TMP/state2" -m "nonsense" >"$TMP/badaddr.log" 2>&1 || st=$?
[ "$st" = 1 ] || fail "-m nonsense: exit $st"
grep -q 'bad metrics address' "$TMP/badaddr.log" ||
    fail "-m nonsense: $(cat "$TMP/badaddr.log")"
ok "-m on a port in use, -m nonsense: exit 1 with the reason"
