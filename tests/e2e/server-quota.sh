#!/bin/bash
# One user cannot block tunnel creation for all (issue 14, item 2):
#  - the issue's attack: 16 POSTs of 64 KiB bodies of deep arrays; each
#    is answered within 10 s (400: too deep), and then another user's
#    POST is answered 200 within 10 s, never left hanging;
#  - the same user with large but well-formed settings (57 KiB domain
#    lists) reaches the per-account quota of 1 MiB: 413 naming the
#    limit, while the other user still creates tunnels; a DELETE gives
#    the room back.
. "$(dirname "$0")/lib.sh"
e2e_init
add_user
BOB_KEY=$("$SC_SERVER" -s "$TMP/state" user add bob) ||
    fail "sc-server user add bob"
run_server

# post USER KEY FILE: CODE gets the status (000: no answer in 10 s)
post() {
	CODE=$(cloud curl -sS --max-time 10 -u "$1:$2" \
	    -H 'Content-Type: application/json' --data-binary @"$3" \
	    -o "$TMP/ans" -w '%{http_code}' "$REST_URL/$1/tunnels" 2>/dev/null)
	[ -n "$CODE" ] || CODE=000
}

# 1. the attack: metadata of 15 arrays 2,000 deep, 60 KiB a body
"$PYTHON" -c 'import sys
arr = "[" * 2000 + "]" * 2000
body = "{\"metadata\": {" + ",".join("\"a%d\": %s" % (i, arr)
    for i in range(15)) + "}}"
assert len(body) < 64 * 1024
open(sys.argv[1], "w").write(body)' "$TMP/deep.json"
t0=$(date +%s)
for i in $(seq 16); do
	post "$SC_USER" "$KEY" "$TMP/deep.json"
	case $CODE in
	000) fail "attack POST $i: no answer within 10 s" ;;
	400) ;;
	*) fail "attack POST $i: status $CODE, want 400" ;;
	esac
done
echo '{"tunnel_identifier": "bob"}' >"$TMP/bob.json"
post bob "$BOB_KEY" "$TMP/bob.json"
[ "$CODE" = 200 ] || fail "bob's POST after the attack: status $CODE"
ok "16 attack POSTs ($(wc -c <"$TMP/deep.json") bytes each): 400 in" \
    "$(( $(date +%s) - t0 )) s; bob's POST then: $CODE"

# 2. large, well-formed settings: the account's quota, 413
"$PYTHON" -c 'import json, sys
d = ["host-%06d.intranet.example" % i for i in range(1800)]
open(sys.argv[1], "w").write(json.dumps({"domain_names": d},
    separators=(",", ":")))' "$TMP/large.json"
n=0
first=
while :; do
	post "$SC_USER" "$KEY" "$TMP/large.json"
	case $CODE in
	200)	n=$((n + 1))
		[ -n "$first" ] || first=$(json_get "j['id']" <"$TMP/ans") ;;
	413)	break ;;
	000)	fail "large POST $((n + 1)): no answer within 10 s" ;;
	*)	fail "large POST $((n + 1)): status $CODE" ;;
	esac
	[ "$n" -le 20 ] || fail "more than 20 tunnels of 60 KiB for one account"
done
msg=$(json_get "j['message']" <"$TMP/ans") || fail "the 413 is not JSON"
case $msg in
*1048576*) ;;
*) fail "the 413 does not name the limit: '$msg'" ;;
esac
[ "$n" -ge 15 ] || fail "only $n tunnels of 60 KiB before the quota"
post bob "$BOB_KEY" "$TMP/bob.json"
[ "$CODE" = 200 ] || fail "bob's POST with alice at her quota: status $CODE"
post bob "$BOB_KEY" "$TMP/large.json"
[ "$CODE" = 200 ] || fail "bob's large POST with alice at her quota: $CODE"
ok "$n large tunnels, then 413 '$msg'; bob still creates tunnels"

# 3. a DELETE gives the room back
rest DELETE "/$SC_USER/tunnels/$first" >/dev/null || fail "DELETE $first"
post "$SC_USER" "$KEY" "$TMP/large.json"
[ "$CODE" = 200 ] || fail "a POST after a DELETE at the quota: status $CODE"
ok "after a DELETE, alice creates a large tunnel again"
e2e_done
