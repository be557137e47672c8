#!/bin/bash
# sc-server -C cert -k key: the REST API over HTTPS.  sc --cainfo
# verifies it and the tunnel serves; without the CA sc gives up with an
# Error: line.  Then the failed-login rate limit: 5 wrong keys from one
# address, the 6th attempt is 429 with a JSON message, a good key from
# another address still works, and the limit is logged once.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/client-lib.sh"
e2e_init
add_user

REST_URL=https://$CLOUD_IP:$REST_PORT/rest/v1
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -days 2 -subj "/CN=e2e-rest" -addext "subjectAltName=IP:$CLOUD_IP" \
    -keyout "$TMP/rest.key" -out "$TMP/rest.crt" >/dev/null 2>&1 ||
    fail "openssl could not make the REST certificate"

# every REST call of lib.sh verifies the server against rest.crt
rest() {
	local method=$1 path=$2
	shift 2
	cloud curl -sS --max-time 10 --cacert "$TMP/rest.crt" \
	    -u "$SC_USER:$KEY" -X "$method" "$@" "$REST_URL$path"
}

ip netns exec "$CLOUD" "$SC_SERVER" -d -v -s "$TMP/state" \
    -R "$CLOUD_IP:$REST_PORT" -K "$CLOUD_IP:$KGP_PORT" \
    -C "$TMP/rest.crt" -k "$TMP/rest.key" >"$TMP/server.log" 2>&1 &
SERVER_PID=$!
PIDS+=("$SERVER_PID")
wait_for 10 cloud curl -sS --max-time 1 --cacert "$TMP/rest.crt" \
    -o /dev/null "$REST_URL/" || fail "the HTTPS REST API does not answer"
grep -q "REST API listening on https://$CLOUD_IP:$REST_PORT/rest/v1" \
    "$TMP/server.log" || fail "no 'REST API listening on https://' line"
grep -q 'without TLS' "$TMP/server.log" &&
    fail "a warning about TLS although the REST API has it"
ok "REST API listening on https://$CLOUD_IP:$REST_PORT/rest/v1"

list=$(rest GET "/$SC_USER/tunnels") || fail "HTTPS GET failed"
[ "$list" = "[]" ] || fail "HTTPS GET: '$list'"
ok "HTTPS GET with the CA: []"
if cloud curl -sS --max-time 5 -u "$SC_USER:$KEY" -o /dev/null \
    "http://$CLOUD_IP:$REST_PORT/rest/v1/$SC_USER/tunnels" 2>/dev/null; then
	fail "plain HTTP works on the HTTPS port"
fi
ok "plain HTTP on the HTTPS port: no answer"

# the client: --cainfo
start_app
sc_v4 good -i "$TUNNEL_NAME-good" --cainfo "$TMP/rest.crt"
sc_ready good
id=$(sc_id good)
fetch_via "$(entry_of "$id")" tls || fail "the tunnel does not serve"
ok "sc --cainfo rest.crt against https: up and serving"
sc_term good
[ "${SCSTATUS[good]}" = 0 ] || fail "good: exit ${SCSTATUS[good]} after SIGTERM"
s=$(tunnel_field "$id" status)
[ "$s" = terminated ] || fail "tunnel is '$s' after SIGTERM"
ok "sc --cainfo: SIGTERM, exit 0, tunnel terminated over HTTPS"

# without the CA: the certificate is not trusted
sc_v4 noca -i "$TUNNEL_NAME-noca"
sc_exit noca 60
[ "${SCSTATUS[noca]}" != timeout ] || fail "sc without the CA still runs"
[ "${SCSTATUS[noca]}" != 0 ] || fail "sc without the CA exited 0"
grep -Eq '^(.* )?Error: ' "$TMP/noca.log" || fail "no Error: line without the CA"
ok "sc without --cainfo: exit ${SCSTATUS[noca]}, '$(grep -m1 'Error: ' "$TMP/noca.log" | sed 's/^.*Error/Error/')'"

status=0
office timeout 30 "$SC" -u "$SC_USER" -k "$KEY" -x "$REST_URL" \
    -i "$TUNNEL_NAME-missing" --cainfo "$TMP/missing.pem" \
    --ctl-socket "$TMP/missing.sock" >"$TMP/missing.log" 2>&1 || status=$?
[ "$status" != 0 ] && [ "$status" != 124 ] ||
    fail "--cainfo missing.pem: exit status $status"
grep -q "Error: .*missing.pem" "$TMP/missing.log" ||
    fail "--cainfo missing.pem: no Error: line naming the file"
ok "--cainfo missing file: exit $status"

# the failed-login rate limit: 5 wrong keys from cloud
for i in 1 2 3 4 5; do
	code=$(cloud curl -sS --max-time 10 --cacert "$TMP/rest.crt" \
	    -o /dev/null -w '%{http_code}' -u "$SC_USER:wrong-$i" \
	    "$REST_URL/$SC_USER/tunnels")
	[ "$code" = 401 ] || fail "wrong key $i: status $code, want 401"
done
ok "5 wrong keys: 401 each"
code=$(cloud curl -sS --max-time 10 --cacert "$TMP/rest.crt" \
    -o "$TMP/429" -D "$TMP/429.h" -w '%{http_code}' -u "$SC_USER:wrong-6" \
    "$REST_URL/$SC_USER/tunnels")
[ "$code" = 429 ] || fail "6th wrong key: status $code, want 429"
msg=$(json_get "j['message']" <"$TMP/429") || fail "429 body is not JSON"
grep -qi '^Retry-After: [0-9]' "$TMP/429.h" || fail "429 without Retry-After"
ok "6th attempt: 429 {\"message\": \"$msg\"}"
# that wait is 1 s, shorter than a loaded machine may take for the next
# curl: each wrong key after a wait doubles it (1, 2, 4 s), so keep
# trying wrong keys until the pair is closed for 4 s before the good key
wait=0 end=$((SECONDS + 30))
while [ "$wait" -lt 4 ]; do
	[ "$SECONDS" -lt "$end" ] || fail "the wait never reached 4 s (last $wait)"
	cloud curl -sS --max-time 10 --cacert "$TMP/rest.crt" -o /dev/null \
	    -D "$TMP/429.h" -u "$SC_USER:wrong-more" \
	    "$REST_URL/$SC_USER/tunnels" >/dev/null
	wait=$(sed -n 's/^Retry-After: \([0-9]*\).*/\1/Ip' "$TMP/429.h")
	wait=${wait:-0}
done
code=$(cloud curl -sS --max-time 10 --cacert "$TMP/rest.crt" \
    -o /dev/null -w '%{http_code}' -u "$SC_USER:$KEY" \
    "$REST_URL/$SC_USER/tunnels")
[ "$code" = 429 ] || fail "good key from the limited address: $code, want 429"
ok "the limited address gets 429 even with a good key"
code=$(office curl -sS --max-time 10 --cacert "$TMP/rest.crt" \
    -o "$TMP/good" -w '%{http_code}' -u "$SC_USER:$KEY" \
    "$REST_URL/$SC_USER/tunnels")
[ "$code" = 200 ] || fail "good key from office: status $code, want 200"
ok "a good key from another address: 200"
n=$(grep -c 'failed logins from' "$TMP/server.log")
[ "$n" = 1 ] || fail "the limit logged $n times, want once"
ok "logged once: '$(grep -m1 'failed logins from' "$TMP/server.log" | cut -c25-)'"
e2e_done
