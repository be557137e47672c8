#!/bin/bash
# The Tunnels web page's HTTP rules (issue 19), without a browser: its
# security headers; the sign-in (a CSRF token checked by a cookie, 401
# and an error for a wrong key, failed sign-ins counted in the REST API's
# rate limit); the session cookie's flags (HttpOnly, SameSite=Strict,
# Path=/, Secure over HTTPS) from the raw answer; every POST without its
# CSRF token or with a wrong one is 403; JSON views need the session;
# sessions per account are bounded; sign-out ends the session; another
# account neither sees an unshared tunnel nor may stop a shared one; a
# name with markup is escaped.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/web-lib.sh"
e2e_init
start_server
ALICE_KEY=$KEY
web_add_user bob
BOB_KEY=$WEB_KEY

# a page without a session leads to the sign-in
wcurl anon -D "$TMP/h0" -o /dev/null "$WEB/" || fail "GET /"
grep -q '^HTTP/1.1 303' "$TMP/h0" && grep -qi '^Location: /signin' "$TMP/h0" ||
    fail "GET / without a session: $(head -n 1 "$TMP/h0")"
ok "GET / without a session: 303 to /signin"

# the headers of every page
wcurl anon -D "$TMP/h1" -o "$TMP/signin.html" "$WEB/signin" || fail "GET /signin"
tr -d '\r' <"$TMP/h1" >"$TMP/h1n"
for h in "Content-Security-Policy: default-src 'none'; script-src 'self'" \
    "frame-ancestors 'none'" "X-Content-Type-Options: nosniff" \
    "Referrer-Policy: no-referrer" "Cache-Control: no-store" \
    "X-Frame-Options: DENY"; do
	grep -qiF "$h" "$TMP/h1n" || fail "no '$h' in the sign-in page's headers"
done
grep -qi "unsafe-inline" "$TMP/h1n" && fail "the CSP allows inline script"
grep -qi '<script>' "$TMP/signin.html" && fail "an inline script in the page"
grep -q '^Set-Cookie: sc_signin=[0-9a-f]\{64\}; Path=/; HttpOnly; SameSite=Strict$' \
    "$TMP/h1n" || fail "the sign-in cookie: $(grep -i set-cookie "$TMP/h1n")"
ok "security headers; sign-in CSRF cookie HttpOnly, SameSite=Strict"

# the sign-in's CSRF token: missing, wrong, from another browser
csrf=$(sed -n 's/.*name="csrf" value="\([0-9a-f]*\)".*/\1/p' "$TMP/signin.html")
for form in "user=alice&key=$ALICE_KEY" \
    "csrf=0000000000000000000000000000000000000000000000000000000000000000&user=alice&key=$ALICE_KEY"; do
	code=$(web_code anon -d "$form" "$WEB/signin")
	[ "$code" = 403 ] || fail "sign-in with a bad CSRF token: $code, want 403"
done
code=$(web_code other -d "csrf=$csrf&user=alice&key=$ALICE_KEY" "$WEB/signin")
[ "$code" = 403 ] || fail "sign-in with another browser's token: $code"
ok "sign-in without its CSRF token, or a wrong one: 403"

# a wrong key: 401, the form again with the error, no session
code=$(wcurl anon -D "$TMP/h2" -o "$TMP/bad.html" -w '%{http_code}' \
    -d "csrf=$csrf&user=alice&key=wrong" "$WEB/signin")
[ "$code" = 401 ] || fail "a wrong key: $code, want 401"
grep -q 'role="alert" id="error">Wrong account name or access key.' \
    "$TMP/bad.html" || fail "no error shown for a wrong key"
grep -qi 'sc_session=' "$TMP/h2" && fail "a session for a wrong key"
ok "a wrong key: 401 and 'Wrong account name or access key.'"

# the right one: the session cookie's flags, from the raw answer
code=$(wcurl anon -D "$TMP/h3" -o /dev/null -w '%{http_code}' \
    -d "csrf=$csrf&user=alice&key=$ALICE_KEY" "$WEB/signin")
[ "$code" = 303 ] || fail "sign-in: $code, want 303"
tr -d '\r' <"$TMP/h3" | grep -q \
    '^Set-Cookie: sc_session=[0-9a-f]\{64\}; Path=/; Max-Age=[0-9]*; HttpOnly; SameSite=Strict$' ||
    fail "the session cookie: $(grep -i 'set-cookie: sc_session' "$TMP/h3")"
ok "signed in: sc_session (256 bits) Path=/, HttpOnly, SameSite=Strict, not Secure over HTTP"

# the JSON view needs the session
code=$(web_code nobody "$WEB/tunnels.json")
[ "$code" = 401 ] || fail "tunnels.json without a session: $code, want 401"
code=$(wcurl anon -D "$TMP/h4" -o "$TMP/t.json" -w '%{http_code}' "$WEB/tunnels.json")
[ "$code" = 200 ] || fail "tunnels.json: $code"
grep -qi '^Cache-Control: no-store' "$TMP/h4" || fail "tunnels.json is cached"
[ "$(json_get "len(j['tunnels'])" <"$TMP/t.json")" = 0 ] ||
    fail "tunnels.json: $(cat "$TMP/t.json")"
ok "tunnels.json: 401 without the session, 200 with it, no-store"

# a name with markup, escaped; a 1,000-character name whole
ID=$(web_tunnel '<b id="x">bold</b><script>alert(1)</script>') ||
    fail "cannot make a tunnel"
LONG=$(printf 'L%.0s' $(seq 1 1000))
web_tunnel "$LONG" >/dev/null || fail "cannot make the long-named tunnel"
wcurl anon -o "$TMP/page.html" "$WEB/" || fail "GET /"
grep -qF '&lt;b id=&quot;x&quot;&gt;bold&lt;/b&gt;&lt;script&gt;alert(1)&lt;/script&gt;' \
    "$TMP/page.html" || fail "the name is not escaped"
grep -qF '<b id="x">' "$TMP/page.html" && fail "markup from a name in the page"
grep -qF '&lt;i&gt;host&lt;/i&gt;' "$TMP/page.html" ||
    fail "the client's host name is not escaped"
grep -qF "$LONG" "$TMP/page.html" || fail "the long name is not whole"
wcurl anon -o "$TMP/one.html" "$WEB/tunnel/$ID" || fail "GET /tunnel/ID"
grep -qF 'sc -k **** -i x' "$TMP/one.html" || fail "the command's key is not masked"
grep -q 0123abcd "$TMP/one.html" && fail "the access key in the page"
ok "names with markup escaped, a 1,000-character name whole, the key masked"

# POSTs: no session, no CSRF token, a wrong one: 403
code=$(web_code nobody -d "csrf=x" "$WEB/tunnel/$ID/stop")
[ "$code" = 403 ] || fail "stop without a session: $code, want 403"
code=$(web_code anon -d "x=1" "$WEB/tunnel/$ID/stop")
[ "$code" = 403 ] || fail "stop without a CSRF token: $code, want 403"
code=$(web_code anon -d "csrf=$csrf" "$WEB/tunnel/$ID/stop")
[ "$code" = 403 ] || fail "stop with a wrong CSRF token: $code, want 403"
code=$(web_code anon -d "x=1" "$WEB/signout")
[ "$code" = 403 ] || fail "sign-out without a CSRF token: $code, want 403"
[ "$(rest GET "/$SC_USER/tunnels/$ID" | json_get "j['status']")" = running ] ||
    fail "the tunnel stopped on a bad POST"
ok "POST without a session, without a CSRF token or a wrong one: 403"

# another account: an unshared tunnel is not found, a shared one is seen
# but only its owner stops it
SHARED=$(web_tunnel "shared one" shared) || fail "cannot make a shared tunnel"
web_signin bob bob "$BOB_KEY"
wcurl bob -o "$TMP/bob.json" "$WEB/tunnels.json" || fail "bob's tunnels.json"
ids=$(json_get "' '.join(t['id'] for t in j['tunnels'])" <"$TMP/bob.json")
[ "$ids" = "$SHARED" ] || fail "bob sees '$ids', want only $SHARED"
code=$(web_code bob "$WEB/tunnel/$ID")
[ "$code" = 404 ] || fail "bob opens alice's unshared tunnel: $code, want 404"
bcsrf=$(web_csrf bob /)
code=$(web_code bob -d "csrf=$bcsrf" "$WEB/tunnel/$ID/stop")
[ "$code" = 404 ] || fail "bob stops alice's unshared tunnel: $code, want 404"
code=$(web_code bob -d "csrf=$bcsrf" "$WEB/tunnel/$SHARED/stop")
[ "$code" = 403 ] || fail "bob stops alice's shared tunnel: $code, want 403"
ok "another account: an unshared tunnel 404, a shared one seen, not stopped (403)"

# the owner stops it with the token: 303, terminated
acsrf=$(web_csrf anon "/tunnel/$ID")
code=$(web_code anon -d "csrf=$acsrf" "$WEB/tunnel/$ID/stop")
[ "$code" = 303 ] || fail "stop: $code, want 303"
[ "$(rest GET "/$SC_USER/tunnels/$ID" | json_get "j['status']")" = terminated ] ||
    fail "the tunnel did not stop"
ok "the owner stops a tunnel: 303, terminated"

# sessions per account are bounded: the oldest goes
for i in $(seq 1 16); do
	web_signin "many$i" alice "$ALICE_KEY"
done
code=$(web_code anon "$WEB/tunnels.json")
[ "$code" = 401 ] || fail "the 17th session left the first: $code, want 401"
code=$(web_code many16 "$WEB/tunnels.json")
[ "$code" = 200 ] || fail "the newest session: $code"
ok "at most 16 sessions per account: the oldest is signed out"

# sign-out ends the session
scsrf=$(web_csrf many16 /)
code=$(web_code many16 -D "$TMP/h5" -d "csrf=$scsrf" "$WEB/signout")
[ "$code" = 303 ] || fail "sign-out: $code"
cp "$TMP/many16" "$TMP/stale"
code=$(web_code many15 "$WEB/tunnels.json")
[ "$code" = 200 ] || fail "another session ended too: $code"
grep -q 'sc_session' "$TMP/many16" && fail "the cookie stays after sign-out"
ok "sign-out: the session ends, the cookie is cleared"

# failed sign-ins count in the REST API's rate limit (5 free, then waits)
csrf=$(web_csrf flood /signin)
for i in 1 2 3 4 5 6; do
	web_code flood -d "csrf=$csrf&user=alice&key=wrong$i" "$WEB/signin" >/dev/null
done
code=$(cloud curl -sS -o /dev/null -w '%{http_code}' -u "alice:wrong" \
    "$REST_URL/alice/tunnels")
[ "$code" = 429 ] || fail "REST after 6 failed web sign-ins: $code, want 429"
code=$(wcurl flood -o "$TMP/limited.html" -w '%{http_code}' \
    -d "csrf=$csrf&user=alice&key=$ALICE_KEY" "$WEB/signin")
[ "$code" = 429 ] || fail "web sign-in while limited: $code, want 429"
grep -q 'Too many failed sign-ins' "$TMP/limited.html" ||
    fail "no 'Too many failed sign-ins' shown"
ok "failed web sign-ins count in the REST rate limit: 429 for both"

# over HTTPS the session cookie is Secure
kill -TERM "$SERVER_PID"
wait_for 10 not_running "$SERVER_PID" || fail "sc-server does not stop"
make_cert rest "IP:$CLOUD_IP"
ip netns exec "$CLOUD" "$SC_SERVER" -d -v -s "$TMP/state" \
    -R "$CLOUD_IP:$REST_PORT" -K "$CLOUD_IP:$KGP_PORT" \
    -C "$TMP/rest.crt" -k "$TMP/rest.key" >>"$TMP/server.log" 2>&1 &
SERVER_PID=$!
PIDS+=("$SERVER_PID")
WEB=https://$CLOUD_IP:$REST_PORT
WEB_CURL=(--cacert "$TMP/rest.crt")
wait_for 10 cloud curl -sS --max-time 1 --cacert "$TMP/rest.crt" -o /dev/null \
    "$WEB/signin" || fail "no HTTPS web page"
csrf=$(web_csrf tls /signin)
wcurl tls -D "$TMP/h6" -o /dev/null -d "csrf=$csrf&user=bob&key=$BOB_KEY" \
    "$WEB/signin" || fail "HTTPS sign-in"
tr -d '\r' <"$TMP/h6" | grep -q \
    '^Set-Cookie: sc_session=[0-9a-f]\{64\}; Path=/; Max-Age=[0-9]*; HttpOnly; SameSite=Strict; Secure$' ||
    fail "the HTTPS session cookie: $(grep -i 'set-cookie: sc_session' "$TMP/h6")"
ok "over HTTPS: the session cookie is Secure"
