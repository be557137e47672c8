#!/bin/bash
# --region and the SAUCE_* variables (issue 18).  A region the config
# file's regions table names goes to that table's REST URL (a hosted
# region's name too); an unknown one is an error that lists the known.
# SAUCE_TUNNEL_POOL, SAUCE_SHARED and SAUCE_TUNNEL_CONNECTIONS are
# honoured (the tunnel the server records, the connections sc opens),
# with the version 5 and the version 4 command line; a SAUCE_ variable
# of no option, of one not supported, or one a flag overrides is a
# warning, never silence.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/client-lib.sh"
e2e_init
start_server
start_app

# a region named like a hosted one, and one of the operator's own
cat >"$TMP/sc.yaml" <<EOF
regions:
  - lab=$REST_URL
  - us-west=http://10.214.$N.99:9/rest/v1
tunnel-name: $TUNNEL_NAME-lab
EOF
chmod 600 "$TMP/sc.yaml"
sc_bg lab run -u "$SC_USER" -k "$KEY" -c "$TMP/sc.yaml" -r lab \
    -f "$TMP/lab.ready" --ctl-socket "$TMP/lab.sock"
sc_ready lab
grep -q "REST API $REST_URL" "$TMP/lab.log" ||
    fail "region lab: not the table's REST URL: $(head -n 3 "$TMP/lab.log")"
id=$(sc_id lab)
fetch_via "$(entry_of "$id")" lab || fail "region lab: the tunnel does not serve"
sc_term lab
[ "${SCSTATUS[lab]}" = 0 ] || fail "region lab: exit ${SCSTATUS[lab]}"
ok "-r lab: the config file's regions table gives $REST_URL, the tunnel serves"

st=0
office timeout 30 "$SC" run -u "$SC_USER" -k "$KEY" -c "$TMP/sc.yaml" \
    -r us-west >"$TMP/usw.log" 2>&1 || st=$?
[ "$st" = 1 ] || fail "-r us-west (the table's dead URL): exit $st"
grep -q "10.214.$N.99:9" "$TMP/usw.log" ||
    fail "-r us-west did not go to the table's URL: $(cat "$TMP/usw.log")"
st=0
office timeout 30 "$SC" run -u "$SC_USER" -k "$KEY" -c "$TMP/sc.yaml" \
    -r mars >"$TMP/mars.log" 2>&1 || st=$?
[ "$st" = 1 ] || fail "-r mars: exit $st"
grep -q "unknown region 'mars' (known: lab, us-west, us-west," "$TMP/mars.log" ||
    fail "-r mars: $(cat "$TMP/mars.log")"
ok "-r us-west goes to the table's URL, not the default; -r mars: exit 1, the known listed"

# the variables, with sc run
SAUCE_TUNNEL_POOL=true SAUCE_SHARED=all SAUCE_TUNNEL_CONNECTIONS=3 \
    SAUCE_TUNNEL_NAME=ignored SAUCE_BOGUS_THING=1 SAUCE_LOG_HTTP=x \
    sc_bg v5 run -u "$SC_USER" -k "$KEY" --rest-url "$REST_URL" \
    -i "$TUNNEL_NAME-v5" -f "$TMP/v5.ready" --ctl-socket "$TMP/v5.sock"
sc_ready v5
id=$(sc_id v5)
[ "$(tunnel_field "$id" tunnel_pool)" = true ] || fail "SAUCE_TUNNEL_POOL: tunnel_pool $(tunnel_field "$id" tunnel_pool)"
[ "$(tunnel_field "$id" shared_tunnel)" = true ] || fail "SAUCE_SHARED: shared_tunnel $(tunnel_field "$id" shared_tunnel)"
[ "$(tunnel_field "$id" tunnel_identifier)" = "$TUNNEL_NAME-v5" ] ||
    fail "-i does not override SAUCE_TUNNEL_NAME"
grep -q "(3 connections)" "$TMP/v5.log" ||
    fail "SAUCE_TUNNEL_CONNECTIONS=3: $(grep -m1 'connecting to' "$TMP/v5.log")"
grep -q "Warning: SAUCE_BOGUS_THING is no variable of sc: ignored" "$TMP/v5.log" ||
    fail "no warning for SAUCE_BOGUS_THING: $(head -n 8 "$TMP/v5.log")"
grep -q "Warning: SAUCE_LOG_HTTP: --log-http is not supported yet, ignored" "$TMP/v5.log" ||
    fail "no warning for SAUCE_LOG_HTTP"
grep -q "Warning: SAUCE_TUNNEL_NAME is set, but a flag .* overrides it" "$TMP/v5.log" ||
    fail "no warning for the overridden SAUCE_TUNNEL_NAME"
fetch_via "$(entry_of "$id")" v5 || fail "sc run with the variables: the tunnel does not serve"
sc_term v5
ok "sc run: SAUCE_TUNNEL_POOL, SAUCE_SHARED, SAUCE_TUNNEL_CONNECTIONS honoured; SAUCE_BOGUS_THING, SAUCE_LOG_HTTP, an overridden SAUCE_TUNNEL_NAME: warnings"

# the version 4 command line takes the same variables
SAUCE_TUNNEL_CONNECTIONS=2 SAUCE_TUNNEL_POOL=yes \
    sc_v4 v4 -i "$TUNNEL_NAME-v4"
sc_ready v4
id=$(sc_id v4)
[ "$(tunnel_field "$id" tunnel_pool)" = true ] || fail "v4 SAUCE_TUNNEL_POOL"
grep -q "(2 connections)" "$TMP/v4.log" || fail "v4 SAUCE_TUNNEL_CONNECTIONS=2"
sc_term v4
st=0
SAUCE_TUNNEL_CONNECTIONS=99 office timeout 30 "$SC" -u "$SC_USER" \
    -k "$KEY" -x "$REST_URL" >"$TMP/bad.log" 2>&1 || st=$?
[ "$st" = 1 ] || fail "SAUCE_TUNNEL_CONNECTIONS=99: exit $st"
grep -q "SAUCE_TUNNEL_CONNECTIONS must be between 1 and 16" "$TMP/bad.log" ||
    fail "SAUCE_TUNNEL_CONNECTIONS=99: $(cat "$TMP/bad.log")"
ok "sc (version 4): SAUCE_TUNNEL_CONNECTIONS, SAUCE_TUNNEL_POOL honoured; a bad value: exit 1 naming the variable"
e2e_done
