#!/bin/bash
# Failed logins are throttled per (address, account), never locked for
# everyone (issue 14, item 9):
#  - 45 wrong keys for alice from 5 addresses: a pair's 5th failure
#    makes it wait 1 s, the next 2, 4 ... (429 with Retry-After); alice
#    from another address and bob from the same one are served at once;
#  - a logged-in user's 401s for another user's path are no failed login
#    of anyone;
#  - with -P, 25 bad proxy logins from one browser address: the owner's
#    REST (from that very address too) and the other browsers are served.
. "$(dirname "$0")/lib.sh"
e2e_init
add_user
BOB_KEY=$("$SC_SERVER" -s "$TMP/state" user add bob) ||
    fail "sc-server user add bob failed"
run_server -P
start_app
start_sc

# code [curl args] URL: the status of a REST call from cloud (headers in
# $TMP/h)
code() {
	cloud curl -sS --max-time 10 -o "$TMP/body" -D "$TMP/h" \
	    -w '%{http_code}' "$@"
}

retry_after() {
	tr -d '\r' <"$TMP/h" | sed -n 's/^[Rr]etry-[Aa]fter: *//p'
}

# codes_of N COMMAND...: the statuses of COMMAND ... 1 to COMMAND ... N
codes_of() {
	local n=$1 i out=
	shift
	for i in $(seq 1 "$n"); do
		out="$out $("$@" "$i")"
	done
	echo "$out"
}

# wrong_key ADDR I: alice with a wrong key from ADDR
wrong_key() {
	code --interface "$1" -u "$SC_USER:wrong-$2" "$REST_URL/$SC_USER/tunnels"
}

# 1. wrong keys for alice: 5 from each of 5 addresses, then 20 more
#    from the first
codes=
for a in 1 2 3 4 5; do
	codes="$codes $(codes_of 5 wrong_key 127.0.7.$a)"
done
codes=$(echo $codes | sed 's/^/ /')
[ "$codes" = "$(printf ' 401%.0s' $(seq 1 25))" ] ||
    fail "5 wrong keys from each of 5 addresses: $codes, want 401 each"
ok "25 wrong keys for alice, 5 from each of 5 addresses: 401 each"
A=127.0.7.1
codes=$(codes_of 20 wrong_key $A)
log "20 more wrong keys from $A:$codes"
n429=$(echo "$codes" | tr ' ' '\n' | grep -c '^429$')
[ "$n429" -ge 18 ] && ! echo "$codes" | grep -q 200 ||
    fail "more wrong keys from $A: want 429s: $codes"
grep -q 'REST: 5 failed logins from 127.0.7.1 for alice' "$TMP/server.log" ||
    fail "no log line for the throttled pair"
ok "20 more from $A: $n429 of them 429"

c=$(code -u "$SC_USER:$KEY" "$REST_URL/$SC_USER/tunnels")
[ "$c" = 200 ] || fail "alice with her key from $CLOUD_IP: $c, want 200"
c=$(office curl -sS --max-time 10 -o /dev/null -w '%{http_code}' \
    -u "$SC_USER:$KEY" "$REST_URL/$SC_USER/tunnels")
[ "$c" = 200 ] || fail "alice with her key from $OFFICE_IP: $c, want 200"
ok "alice with her key from other addresses: 200"
c=$(code --interface $A -u "bob:$BOB_KEY" "$REST_URL/bob/tunnels")
[ "$c" = 200 ] || fail "bob from $A: $c, want 200"
ok "bob from the same address $A: 200"
# the checks above took time: make sure the pair is in a wait of 2 s or
# more (a counted failure now is its 6th or later)
for i in 1 2 3 4 5; do
	c=$(wrong_key $A again)
	ra=$(retry_after)
	[ "$c" = 401 ] && break
	[ "$c" = 429 ] && [ "$ra" -ge 2 ] && break
	sleep "$ra"	# the wait the server asked for
done
c=$(code --interface $A -u "$SC_USER:$KEY" "$REST_URL/$SC_USER/tunnels")
ra=$(retry_after)
[ "$c" = 429 ] && [ -n "$ra" ] && [ "$ra" -ge 1 ] ||
    fail "alice's own key from the throttled $A: $c (Retry-After '$ra'), want 429"
json_get "j['message']" <"$TMP/body" >/dev/null ||
    fail "the 429 is not JSON: $(cat "$TMP/body")"
ok "the throttled pair itself, even with the key: 429, Retry-After: $ra"

# backoff: each failure after the wait waits twice as long
B=127.0.6.2
codes_of 5 wrong_key $B >/dev/null
c=$(code --interface $B -u "$SC_USER:wrong" "$REST_URL/$SC_USER/tunnels")
r1=$(retry_after)
[ "$c" = 429 ] && [ "$r1" = 1 ] || fail "after 5 failures: $c, Retry-After '$r1', want 429 and 1"
sleep "$r1.2"	# the wait the server asked for
c=$(code --interface $B -u "$SC_USER:wrong" "$REST_URL/$SC_USER/tunnels")
[ "$c" = 401 ] || fail "a failure after the wait: $c, want 401"
c=$(code --interface $B -u "$SC_USER:wrong" "$REST_URL/$SC_USER/tunnels")
r2=$(retry_after)
[ "$c" = 429 ] && [ "$r2" = 2 ] ||
    fail "after the 6th failure: $c, Retry-After '$r2', want 429 and 2"
ok "backoff for the pair: Retry-After $r1 s, then $r2 s"

# 2. bob, logged in, asks for alice's path: 401, but nobody's failure
C=127.0.6.3
bob_on_alice() {
	code --interface $C -u "bob:$BOB_KEY" "$REST_URL/$SC_USER/tunnels"
}
codes=$(codes_of 12 bob_on_alice)
[ "$codes" = "$(printf ' 401%.0s' $(seq 1 12))" ] ||
    fail "bob on alice's path: $codes, want 401 each time"
c=$(code --interface $C -u "bob:$BOB_KEY" "$REST_URL/bob/tunnels")
[ "$c" = 200 ] || fail "bob's own path from $C after that: $c"
c=$(code --interface $C -u "$SC_USER:$KEY" "$REST_URL/$SC_USER/tunnels")
[ "$c" = 200 ] || fail "alice from $C after bob's 401s: $c"
ok "12 401s for bob on alice's path: no failed login; bob and alice from $C: 200"

# 3. -P: bad proxy logins from one browser address
P=127.0.8.1
pcode() {
	cloud curl -sS --max-time 20 -o "$TMP/via" -w '%{http_code}' \
	    -x "http://$ENTRY" "$@"
}
bad_proxy() {
	pcode --interface $P --proxy-user "$SC_USER:bad-$1" "$(app_url /text/x)"
}
codes=$(codes_of 25 bad_proxy)
log "25 bad proxy logins from $P:$codes"
case $codes in
*429*) ;;
*) fail "bad proxy logins from $P are not throttled: $codes" ;;
esac
case $codes in
" 407 407 407 407 407"*) ;;
*) fail "bad proxy logins from $P: want 407s first: $codes" ;;
esac
ok "25 bad proxy logins from $P: 407, then 429"
c=$(pcode --interface 127.0.8.2 --proxy-user "$SC_USER:$KEY" \
    "$(app_url /text/other)")
[ "$c" = 200 ] && [ "$(cat "$TMP/via")" = "response other" ] ||
    fail "another browser with the owner's key: $c"
ok "another browser (127.0.8.2) with the owner's key: 200 through the tunnel"
c=$(code --interface $P -u "$SC_USER:$KEY" "$REST_URL/$SC_USER/tunnels")
[ "$c" = 200 ] || fail "the owner's REST from $P: $c, want 200"
c=$(code -u "$SC_USER:$KEY" "$REST_URL/$SC_USER/tunnels")
[ "$c" = 200 ] || fail "the owner's REST from $CLOUD_IP: $c, want 200"
ok "the owner's REST, from $P and from $CLOUD_IP: 200"

stop_sc
[ "$SC_STATUS" = 0 ] || fail "sc exited $SC_STATUS after the test"
ok "sc ran through it all and exited 0"
e2e_done
