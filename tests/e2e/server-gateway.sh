#!/bin/bash
# The gateway (issue 19): one entry port (-G, 127.0.0.1:4480 by default)
# for every tunnel, picked by the proxy credentials: user ACCOUNT (the
# tunnel with no name), ACCOUNT+NAME, ACCOUNT+OWNER/NAME (shared with
# ACCOUNT), password ACCOUNT's access key.  alice runs three tunnels: no
# name, "team/ci+1" (a '/' and a '+' in the name) and "shared"
# (--shared-tunnel, -B all: CONNECTs pass through).  Plain GETs, a
# resigned https GET (verified with the server's CA) and a passthrough
# CONNECT (the app's own certificate) through the gateway; bob reaches
# alice's shared tunnel and not her others: a 403 that reads the same
# whether the tunnel exists or not; 403 for a tunnel alice does not
# have; 407 with Proxy-Authenticate for missing or wrong credentials;
# 503 with the reason once a tunnel's client is gone; a flood of 3000
# wrong credentials, each pair new, 200 at once: only 407, 429 and 503,
# both workers' RSS bounded, and alice still gets in; a new KGP worker
# serves the gateway again; -G none: no gateway.
. "$(dirname "$0")/lib.sh"
GW=127.0.0.1:4480

e2e_init
# bob first: an account added later is read within a second, not at once
BOB_KEY=$("$SC_SERVER" -s "$TMP/state" user add bob 2>/dev/null) ||
    fail "user add bob"
start_server
start_app
grep -q "gateway listening on $GW" "$TMP/server.log" ||
    fail "no 'gateway listening on $GW' line"
cloud curl -sS --max-time 5 -o "$TMP/ca.pem" \
    "http://$CLOUD_IP:$REST_PORT/rest/v1/public/ca.pem" ||
    fail "GET /rest/v1/public/ca.pem"

# a client's sc and its children go at once, kill -KILL $(proc_tree
# PID): one left behind would delete the tunnel on its way out
# (sc_up: lib.sh)
sc_up plain
sc_up ci -i 'team/ci+1'
sc_up shared -i shared --shared-tunnel -B all

# gw USER:KEY [curl args] URL: status of a request through the gateway,
# the body in $TMP/gw.out, the head in $TMP/gw.h
gw() {
	local cred=$1
	shift
	cloud curl -sS --max-time 20 -o "$TMP/gw.out" -D "$TMP/gw.h" \
	    -w '%{http_code}' -x "http://$GW" ${cred:+--proxy-user "$cred"} "$@"
}
body() { cat "$TMP/gw.out"; }

# --- each tunnel by its name ---------------------------------------------
code=$(gw "alice:$KEY" "$(app_url /text/plain)")
[ "$code" = 200 ] && [ "$(body)" = "response plain" ] ||
    fail "alice (no name): $code $(body)"
ok "user alice: her tunnel with no name, 200 through it"
code=$(gw "alice+alice/team/ci+1:$KEY" "$(app_url /text/ci)")
[ "$code" = 200 ] && [ "$(body)" = "response ci" ] ||
    fail "alice+alice/team/ci+1: $code $(body)"
ok "user alice+alice/team/ci+1: the tunnel named 'team/ci+1', 200"
code=$(gw "alice+shared:$KEY" "$(app_url /text/shared)")
[ "$code" = 200 ] && [ "$(body)" = "response shared" ] ||
    fail "alice+shared: $code $(body)"
ok "user alice+shared: 200"
# which tunnel served: the server's log names it
for t in plain ci shared; do
	id=$(sed -n 's/.*Tunnel ID: \([0-9a-f]*\).*/\1/p' "$TMP/sc.$t.log" | head -n 1)
	eval "ID_$t=$id"
done
wait_for 5 grep -q "gateway: GET $(app_url /text/ci) from .*: tunnel $ID_ci" \
    "$TMP/server.log" || fail "no log line: /text/ci went to tunnel $ID_ci"
grep -q "gateway: GET $(app_url /text/plain) from .*: tunnel $ID_plain" \
    "$TMP/server.log" || fail "no log line: /text/plain went to $ID_plain"
ok "each request went to the tunnel its user names (log lines)"

# --- CONNECT: resigned by default, passed through with -B all ------------
code=$(gw "alice:$KEY" --cacert "$TMP/ca.pem" "$(app_tls_url /text/resigned)")
[ "$code" = 200 ] && [ "$(body)" = "response resigned" ] ||
    fail "resigned https through the gateway: $code $(body)"
ok "https through the gateway, resigned: verified with the server's CA, 200"
code=$(gw "alice+shared:$KEY" --cacert "$TMP/app.crt" \
    "$(app_tls_url /text/through)")
[ "$code" = 200 ] && [ "$(body)" = "response through" ] ||
    fail "CONNECT passed through the gateway: $code $(body)"
ok "CONNECT through the gateway (-B all): the app's own certificate, 200"
code=$(gw "alice:$KEY" --cacert "$TMP/app.crt" "$(app_tls_url /text/x)")
[ "$code" = 000 ] || fail "resigned CONNECT verified with the app's cert: $code"
ok "... and a resigned one is not the app's certificate"

# --- shared with bob, or not ---------------------------------------------
code=$(gw "bob+alice/shared:$BOB_KEY" "$(app_url /text/bob)")
[ "$code" = 200 ] && [ "$(body)" = "response bob" ] ||
    fail "bob+alice/shared: $code $(body)"
ok "user bob+alice/shared (shared with him): 200"
code=$(gw "bob+alice/team/ci+1:$BOB_KEY" "$(app_url /text/x)")
b1=$(body)
[ "$code" = 403 ] && [ "$b1" = "No running tunnel named \"team/ci+1\" of alice is shared with you." ] ||
    fail "bob+alice/team/ci+1 (not shared): $code '$b1'"
code=$(gw "bob+alice/nosuch:$BOB_KEY" "$(app_url /text/x)")
b2=$(body)
[ "$code" = 403 ] && [ "$b2" = "No running tunnel named \"nosuch\" of alice is shared with you." ] ||
    fail "bob+alice/nosuch: $code '$b2'"
code=$(gw "bob+carol/ci:$BOB_KEY" "$(app_url /text/x)")
[ "$code" = 403 ] && [ "$(body)" = "No running tunnel named \"ci\" of carol is shared with you." ] ||
    fail "bob+carol/ci (no such account): $code '$(body)'"
ok "not shared, no such tunnel, no such owner: the same 403 ('$b1')"
code=$(gw "bob:$BOB_KEY" "$(app_url /text/x)")
[ "$code" = 403 ] && [ "$(body)" = "You have no running tunnel without a name." ] ||
    fail "bob (no tunnel): $code '$(body)'"
code=$(gw "alice+nosuch:$KEY" "$(app_url /text/x)")
[ "$code" = 403 ] && [ "$(body)" = "You have no running tunnel named \"nosuch\"." ] ||
    fail "alice+nosuch: $code '$(body)'"
code=$(gw "alice+team/ci+1:$KEY" "$(app_url /text/x)")
[ "$code" = 403 ] && [ "$(body)" = "No running tunnel named \"ci+1\" of team is shared with you." ] ||
    fail "alice+team/ci+1 (OWNER team): $code '$(body)'"
ok "own tunnel missing: 403 '$(body)' and the like"

# --- credentials -----------------------------------------------------------
code=$(gw "" "$(app_url /text/x)")
[ "$code" = 407 ] && grep -qi '^Proxy-Authenticate: Basic' "$TMP/gw.h" ||
    fail "no credentials: $code"
ok "no credentials: 407 with Proxy-Authenticate ('$(body)')"
code=$(gw "alice:wrong" "$(app_url /text/x)")
[ "$code" = 407 ] || fail "wrong key: $code"
code=$(gw "alice+shared:$BOB_KEY" "$(app_url /text/x)")
[ "$code" = 407 ] || fail "bob's key for alice: $code"
code=$(gw "carol:$KEY" "$(app_url /text/x)")
[ "$code" = 407 ] || fail "no such account: $code"
ok "wrong key, another's key, no such account: 407"
grep -q 'gateway: entry connection from .*: proxy authentication failed, 407' \
    "$TMP/server.log" || fail "no log line for the 407"

# --- a flood of wrong credentials, each pair new: bounded; alice gets in ---
kgp=$(server_worker kgp)
restw=$(server_worker rest)
kgp0=$(rss_kib "$kgp")
rest0=$(rss_kib "$restw")
cloud "$PYTHON" - "$GW" 3000 200 >"$TMP/flood.out" 2>&1 <<'EOF' ||
import asyncio, base64, collections, os, sys
host, port = sys.argv[1].rsplit(":", 1)
n, conc = int(sys.argv[2]), int(sys.argv[3])
codes = collections.Counter()
async def one(i, sem):
    async with sem:
        cred = base64.b64encode(b"u%d+%s:%s" % (i, os.urandom(8).hex().encode(),
            os.urandom(8).hex().encode())).decode()
        try:
            r, w = await asyncio.wait_for(asyncio.open_connection(host, int(port)), 10)
            w.write(("GET http://192.0.2.1/ HTTP/1.1\r\nHost: 192.0.2.1\r\n"
                "Proxy-Authorization: Basic %s\r\n\r\n" % cred).encode())
            f = (await asyncio.wait_for(r.readline(), 20)).split()
            codes[f[1].decode() if len(f) > 1 else "none"] += 1
            w.close()
        except Exception:
            codes["error"] += 1
async def main():
    sem = asyncio.Semaphore(conc)
    await asyncio.gather(*(one(i, sem) for i in range(n)))
asyncio.run(main())
print(" ".join("%s:%d" % kv for kv in sorted(codes.items())))
EOF
    fail "the flood: $(tail -n 3 "$TMP/flood.out")"
out=$(tail -n 1 "$TMP/flood.out")
total=0
for kv in $out; do
	case ${kv%%:*} in
	407|429|503) total=$((total + ${kv#*:})) ;;
	*) fail "flood of wrong credentials: answers $out" ;;
	esac
done
[ "$total" = 3000 ] || fail "flood: $total answers of 3000 ($out)"
kgp1=$(rss_kib "$kgp")
rest1=$(rss_kib "$restw")
if ldd "$SC_SERVER" | grep -q libasan; then
	# freed memory stays in the sanitizer's quarantine: RSS says nothing
	log "sanitizer build: RSS not checked"
else
	[ $((kgp1 - kgp0)) -lt 10240 ] && [ $((rest1 - rest0)) -lt 10240 ] ||
	    fail "flood: RSS KGP worker $kgp0 -> $kgp1 KiB, REST worker $rest0 -> $rest1 KiB"
fi
code=$(gw "alice+shared:$KEY" "$(app_url /text/afterflood)")
[ "$code" = 200 ] || fail "alice after the flood: $code $(body)"
ok "3000 new wrong credentials, 200 at once: $out; RSS KGP worker +$((kgp1 - kgp0)) KiB, REST worker +$((rest1 - rest0)) KiB; alice still 200"

# --- a tunnel whose client is gone: 503 ---------------------------------
kill -KILL $(proc_tree "$SC_plain")
wait_for 10 not_running "$SC_plain" || fail "sc plain still running"
wait_for 10 eval '[ "$(gw "alice:$KEY" "$(app_url /text/x)")" = 503 ]' ||
    fail "alice's tunnel without its client: not 503: $(body)"
[ "$(body)" = "The tunnel without a name has no client connected." ] ||
    fail "503 body: '$(body)'"
ok "client killed: 503 '$(body)'"
code=$(gw "alice+shared:$KEY" "$(app_url /text/still)")
[ "$code" = 200 ] || fail "the other tunnels after the kill: $code"
ok "the others still serve"

# --- a new KGP worker gets the gateway's listener again --------------------
kgp=$(server_worker kgp)
kill -KILL "$kgp"
wait_for 10 eval '[ -n "$(server_worker kgp)" ] && [ "$(server_worker kgp)" != "$kgp" ]' ||
    fail "no new KGP worker"
wait_for 40 eval '[ "$(gw "alice+shared:$KEY" "$(app_url /text/again)")" = 200 ]' ||
    fail "the gateway after a new KGP worker: $(body)"
ok "KGP worker killed: the new one serves the gateway, 200"

# --- -G none ---------------------------------------------------------------
kill -TERM "$SC_ci" "$SC_shared"
wait_for 40 not_running "$SC_ci" && wait_for 40 not_running "$SC_shared" ||
    fail "sc did not stop"
kill -TERM "$SERVER_PID"
wait_for 20 not_running "$SERVER_PID" || fail "sc-server did not exit"
run_server -G none
cloud curl -sS --max-time 5 -o /dev/null -x "http://$GW" \
    "$(app_url /text/x)" 2>/dev/null && fail "-G none: something on $GW"
ok "-G none: no gateway"
e2e_done
