#!/bin/bash
# --tunnel-cainfo: verifying the KGP server against a CA file instead of
# pinning the hash.  The server's own certificate (named for the cloud
# address with -H) works; an unrelated CA makes sc give up with an Error:
# line in bounded time, without the tunnel ever being up.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/client-lib.sh"
e2e_init
start_server -H "$CLOUD_IP"
start_app

[ -s "$TMP/state/server.crt" ] || fail "no server.crt in the state directory"
openssl x509 -in "$TMP/state/server.crt" -noout -ext subjectAltName \
    2>/dev/null | grep -q "IP Address:$CLOUD_IP" ||
    fail "server.crt is not for $CLOUD_IP"

# the server's certificate as the CA
sc_v4 good -i "$TUNNEL_NAME-good" --tunnel-cainfo "$TMP/state/server.crt"
sc_ready good
id=$(sc_id good)
fetch_via "$(entry_of "$id")" cainfo || fail "the tunnel does not serve"
ok "--tunnel-cainfo server.crt: up and serving"
sc_term good
[ "${SCSTATUS[good]}" = 0 ] || fail "good: exit ${SCSTATUS[good]} after SIGTERM"
ok "--tunnel-cainfo server.crt: SIGTERM, exit 0"

# an unrelated CA
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -days 2 -subj "/CN=unrelated-ca" -keyout "$TMP/other.key" \
    -out "$TMP/other.crt" >/dev/null 2>&1 || fail "openssl req failed"
sc_v4 bad -i "$TUNNEL_NAME-bad" --tunnel-cainfo "$TMP/other.crt"
sc_exit bad 60
st=${SCSTATUS[bad]}
[ "$st" != timeout ] || fail "sc with an unrelated CA still runs after 60 s"
[ "$st" != 0 ] || fail "sc with an unrelated CA exited 0"
[ ! -e "$TMP/bad.ready" ] || fail "readyfile with an unrelated CA"
grep -q 'Sauce Connect is up' "$TMP/bad.log" &&
    fail "'Sauce Connect is up' with an unrelated CA"
grep -Eq '^(.* )?Error: ' "$TMP/bad.log" || fail "no Error: line"
grep -Eiq 'Error: .*(certificate|verif|TLS)' "$TMP/bad.log" ||
    fail "the Error: line does not name the certificate: $(grep 'Error: ' "$TMP/bad.log")"
ok "unrelated CA: exit $st, '$(grep -m1 'Error: ' "$TMP/bad.log" | sed 's/^.*Error/Error/')'"
bid=$(sc_id bad)
if [ -n "$bid" ]; then
	s=$(tunnel_field "$bid" status)
	[ "$s" = terminated ] || fail "the failed tunnel is '$s'"
	ok "the failed tunnel was deleted"
fi

# a file that is not a certificate, and one that does not exist
echo "not a certificate" >"$TMP/junk.pem"
for f in "$TMP/junk.pem" "$TMP/missing.pem"; do
	status=0
	office timeout 30 "$SC" -u "$SC_USER" -k "$KEY" -x "$REST_URL" \
	    -i "$TUNNEL_NAME-junk" --tunnel-cainfo "$f" \
	    --ctl-socket "$TMP/junk.sock" >"$TMP/junk.log" 2>&1 || status=$?
	[ "$status" != 124 ] && [ "$status" != 0 ] ||
	    fail "--tunnel-cainfo $f: exit status $status"
	grep -q "Error: .*$f" "$TMP/junk.log" ||
	    fail "--tunnel-cainfo $f: no Error: line naming the file"
	ok "--tunnel-cainfo $(basename "$f"): exit $status, '$(grep -m1 'Error: ' "$TMP/junk.log" | sed 's/^.*Error/Error/')'"
done
list=$(rest GET "/$SC_USER/tunnels")
[ "$list" = "[]" ] || fail "tunnels left running: $list"
ok "no tunnel left running"
e2e_done
