#!/bin/bash
# sc-server --kgp-workers 2 (issue 20): each KGP worker has its own
# channel to the CA process, so that a leaf for a resigned https:// host
# does not pass the parent.  A tunnel on each worker; an https:// page
# through each, verified with the server's CA (curl --cacert); the CA
# process's -vv lines say which channel each leaf was asked on: KGP
# worker 0's and worker 1's, none through the parent.  The CA process
# killed: its successor gets a new channel to each worker, and a new
# host's leaf is again asked on the worker's own channel.
. "$(dirname "$0")/lib.sh"

e2e_init
add_user
SERVER_VERBOSE=-vv run_server --kgp-workers 2
# the app by four names: a first leaf for each on each worker, before
# and after the CA process is replaced
NAMES="a0.app.test a1.app.test b0.app.test b1.app.test"
make_cert app "IP:$APP_IP$(for n in $NAMES; do printf ',DNS:%s' "$n"; done)"
printf '127.0.0.1 localhost\n%s %s\n' "$APP_IP" "$NAMES" | office_etc hosts
serve_app "$OFFICE" app "$APP_IP"
cloud curl -sS --max-time 5 -o "$TMP/ca.pem" \
    "http://$CLOUD_IP:$REST_PORT/rest/v1/public/ca.pem" ||
    fail "GET /rest/v1/public/ca.pem"
wait_for 10 eval 'grep -q "\[ca\] a channel to KGP worker 0$" "$TMP/server.log" &&
    grep -q "\[ca\] a channel to KGP worker 1$" "$TMP/server.log"' ||
    fail "the CA process has no channel to each KGP worker: $(grep '\[ca\]' "$TMP/server.log")"
ok "the CA process has a channel to KGP worker 0 and one to worker 1"

# two tunnels: the least loaded worker gets each, one on each
for t in t0 t1; do
	sc_up "$t" -i "$t"
	id=$(sed -n 's/.*Tunnel ID: \([0-9a-f]*\).*/\1/p' "$TMP/sc.$t.log" |
	    head -n 1)
	[ -n "$id" ] || fail "sc $t: no tunnel id"
	rest GET "/$SC_USER/tunnels/$id" >"$TMP/t.json" || fail "GET tunnel $t"
	p=$(json_get 'j["ssh_port"]' <"$TMP/t.json")
	e=$(json_get 'j["entry_proxy"]' <"$TMP/t.json")
	w=$((p - KGP_PORT))
	eval "ENTRY_w$w=$e"
done
[ -n "${ENTRY_w0:-}" ] && [ -n "${ENTRY_w1:-}" ] ||
    fail "not a tunnel on each KGP worker"

# tls W HOST: an https:// page of HOST through the tunnel on worker W,
# verified with the server's CA; its answer in $TMP/tls.out
tls() {
	local e
	eval "e=\$ENTRY_w$1"
	cloud curl -sS --max-time 10 -x "http://$e" --cacert "$TMP/ca.pem" \
	    -w ' %{http_code}' "https://$2:$APP_TLS_PORT/text/$1" \
	    >"$TMP/tls.out" 2>&1 &&
	    [ "$(cat "$TMP/tls.out")" = "response $1
 200" ]
}
for w in 0 1; do
	tls "$w" "a$w.app.test" ||
	    fail "https://a$w.app.test via worker $w: $(cat "$TMP/tls.out")"
	wait_for 5 grep -q "\[ca\] signed a leaf for a$w.app.test, asked by KGP worker $w on its channel" \
	    "$TMP/server.log" || fail "no leaf for a$w.app.test asked on worker $w's channel"
done
grep -q "\[ca\] signed a leaf for .*, asked through the parent" "$TMP/server.log" &&
    fail "a leaf asked through the parent: $(grep 'asked through the parent' "$TMP/server.log")"
ok "https:// through a tunnel on each worker verified with the CA; each leaf asked on that worker's own channel, none through the parent"

# the CA process replaced: a new channel to each worker
C=$(server_worker ca)
[ -n "$C" ] || fail "no CA process"
kill -KILL "$C"
wait_for 15 eval '[ "$(grep -c "\[ca\] a channel to KGP worker 0$" "$TMP/server.log")" = 2 ] &&
    [ "$(grep -c "\[ca\] a channel to KGP worker 1$" "$TMP/server.log")" = 2 ]' ||
    fail "the new CA process has no channel to each KGP worker"
for w in 0 1; do
	wait_for 10 tls "$w" "b$w.app.test" ||
	    fail "https://b$w.app.test via worker $w: $(cat "$TMP/tls.out")"
	grep -q "\[ca\] signed a leaf for b$w.app.test, asked by KGP worker $w on its channel" \
	    "$TMP/server.log" || fail "no leaf for b$w.app.test on worker $w's channel"
done
ok "CA process $C killed: the new one has a channel to each worker, and answers on it"
e2e_done
