#!/bin/bash
# The Tunnels web page's HTTP rules (issue 19), without a browser: its
# security headers; the sign-in (a CSRF token checked by a cookie, 401
# and an error for a wrong key, failed sign-ins counted in the REST API's
# rate limit); the session cookie's flags (HttpOnly, SameSite=Strict,
# Path=/, Secure over HTTPS) from the raw answer; every POST without its
# CSRF token or with a wrong one is 403; JSON views need the session;
# sessions per account are bounded; sign-out ends the session; another
# account neither sees an unshared tunnel nor may stop a shared one; a
# name with markup is escaped; the admin pages are an organisation
# admin's only (no link and 403 for a member), their forms need the
# session's CSRF token and refuse what the REST API refuses.
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

# the admin pages: only for an admin of an organisation, every form with
# the session's CSRF token, the REST API's checks
cli() { "$SC_SERVER" -s "$TMP/state" "$@"; }
cli org add acme && cli team add acme web || fail "org and team add"
BOSS_KEY=$(cli user add boss --org acme --role admin) &&
    DEV_KEY=$(cli user add dev --org acme --team web) || fail "user add"
wait_for 5 cloud curl -sf -o /dev/null -u "dev:$DEV_KEY" "$REST_URL/dev/tunnels" ||
    fail "dev cannot use the REST API"
web_signin dev dev "$DEV_KEY"
web_signin boss boss "$BOSS_KEY"
wcurl dev -o "$TMP/dev.html" "$WEB/" || fail "dev's GET /"
grep -q 'href="/admin"' "$TMP/dev.html" && fail "a member gets the admin link"
dcsrf=$(web_csrf dev /)
for p in /admin /admin/events; do
	code=$(web_code dev "$WEB$p")
	[ "$code" = 403 ] || fail "a member's GET $p: $code, want 403"
done
for p in /admin/accounts /admin/teams /admin/account/set /admin/account/delete; do
	code=$(web_code dev -d "csrf=$dcsrf&name=dev2&team=web&role=admin" "$WEB$p")
	[ "$code" = 403 ] || fail "a member's POST $p: $code, want 403"
done
code=$(web_code anon "$WEB/admin")
[ "$code" = 403 ] || fail "alice (no organisation) GET /admin: $code, want 403"
cli user list | grep -q '^dev2 ' && fail "a member added an account"
cli user list | grep -Eq '^dev +acme +web +member ' || fail "a member changed itself"
ok "a member: no admin link, 403 on every admin page and form"

wcurl boss -o "$TMP/boss.html" "$WEB/" || fail "boss's GET /"
grep -q 'href="/admin" id="admin"' "$TMP/boss.html" || fail "boss gets no admin link"
code=$(wcurl boss -o "$TMP/admin.html" -w '%{http_code}' "$WEB/admin")
[ "$code" = 200 ] || fail "boss's GET /admin: $code"
grep -q '<td data-label="Name" class="name">dev</td><td data-label="Team" class="team">web</td><td data-label="Role" class="role">member</td>' \
    "$TMP/admin.html" || fail "dev not on the admin page"
bcsrf=$(web_csrf boss /admin)
for p in /admin/accounts /admin/teams /admin/account/set /admin/account/delete; do
	code=$(web_code nobody -d "csrf=$bcsrf&name=x1" "$WEB$p")
	[ "$code" = 403 ] || fail "POST $p without a session: $code, want 403"
	code=$(web_code boss -d "name=x1&team=web" "$WEB$p")
	[ "$code" = 403 ] || fail "POST $p without a CSRF token: $code, want 403"
	code=$(web_code boss -d "csrf=$dcsrf&name=x1&team=web" "$WEB$p")
	[ "$code" = 403 ] || fail "POST $p with dev's CSRF token: $code, want 403"
	code=$(web_code boss "$WEB$p")
	[ "$code" = 405 ] || fail "GET $p: $code, want 405"
done
cli user list | grep -q '^x1 ' && fail "a POST without its token added x1"
cli team list acme | grep -q ' x1 ' && fail "a POST without its token added team x1"
ok "admin forms: no session, no CSRF token or another session's: 403; GET 405"

code=$(web_code boss -D "$TMP/h7" -d "csrf=$bcsrf&name=qa" "$WEB/admin/teams")
[ "$code" = 303 ] || fail "boss adds team qa: $code"
code=$(wcurl boss -o "$TMP/new.html" -w '%{http_code}' \
    --data-urlencode "csrf=$bcsrf" --data-urlencode "name=new+1@x" \
    -d "team=qa&role=member" "$WEB/admin/accounts")
[ "$code" = 200 ] || fail "boss adds new+1@x: $code $(cat "$TMP/new.html")"
NEW_KEY=$(sed -n 's/.*<code id="new-key">\([0-9a-f-]\{36\}\)<\/code>.*/\1/p' "$TMP/new.html")
[ -n "$NEW_KEY" ] || fail "no key on the page: $(cat "$TMP/new.html")"
grep -q '<span id="new-account">new+1@x</span>' "$TMP/new.html" || fail "the new name"
[ "$(cloud curl -sS -o /dev/null -w '%{http_code}' -u "new+1@x:$NEW_KEY" \
    "$REST_URL/new%2B1%40x/tunnels")" = 200 ] || fail "the new account's key does not work"
wcurl boss -o "$TMP/admin.html" "$WEB/admin" || fail "GET /admin"
grep -q '<td data-label="Name" class="name">new+1@x</td><td data-label="Team" class="team">qa</td>' \
    "$TMP/admin.html" || fail "new+1@x not in team qa on the admin page"
grep -q "$NEW_KEY" "$TMP/admin.html" && fail "the key shown again"
grep -q '<td data-label="Name" class="name">qa</td><td data-label="Accounts">1</td>' \
    "$TMP/admin.html" || fail "team qa with 1 account not on the admin page"
ok "boss adds team qa, then new+1@x to it: its key shown once, and it works"

# the REST API's checks, on the forms
code=$(wcurl boss -o "$TMP/bad.html" -w '%{http_code}' --data-urlencode "csrf=$bcsrf" \
    --data-urlencode 'name=<script>alert(1)</script>' "$WEB/admin/accounts")
[ "$code" = 400 ] || fail "a name with markup: $code, want 400"
grep -q '<script>alert' "$TMP/bad.html" && fail "markup from a name in the page"
for f in "account/set name=new%2B1%40x&team=&role=team-admin 400" \
    "account/set name=new%2B1%40x&team=nope 400" \
    "account/set name=boss&role=member 409" \
    "account/set name=alice&role=member 404" \
    "account/delete name=boss 409" \
    "accounts name=dev 409" \
    "teams name=qa 409" \
    "teams name=%3Cb%3E 400"; do
	set -- $f
	code=$(wcurl boss -o "$TMP/bad.html" -w '%{http_code}' \
	    -d "csrf=$bcsrf&$2" "$WEB/admin/$1")
	[ "$code" = "$3" ] || fail "$1 $2: $code, want $3: $(cat "$TMP/bad.html")"
done
code=$(web_code boss -d "csrf=$bcsrf&name=new%2B1%40x&team=qa&role=team-admin" \
    "$WEB/admin/account/set")
[ "$code" = 303 ] || fail "boss makes new+1@x team admin: $code"
cli user list | grep -Eq '^new\+1@x +acme +qa +team-admin ' ||
    fail "new+1@x not changed: $(cli user list)"
code=$(web_code boss -d "csrf=$bcsrf&name=new%2B1%40x" "$WEB/admin/account/delete")
[ "$code" = 303 ] || fail "boss deletes new+1@x: $code"
cli user list | grep -q '^new+1@x ' && fail "new+1@x is still in the database"
code=$(cloud curl -sS -o /dev/null -w '%{http_code}' -u "new+1@x:$NEW_KEY" \
    "$REST_URL/new%2B1%40x/tunnels")
# 401, or 429 once failed logins from here pile up
[ "$code" = 401 ] || [ "$code" = 429 ] || fail "new+1@x still signs in: $code"
ok "admin forms: markup in a name 400 (not shown), the REST API's refusals;" \
    "boss changes new+1@x's role, deletes it"

# the organisation's recent events: boss's tunnel's creation
SC_USER=boss KEY=$BOSS_KEY web_tunnel "boss's" >/dev/null || fail "boss's tunnel"
code=$(wcurl boss -o "$TMP/events.html" -w '%{http_code}' "$WEB/admin/events")
[ "$code" = 200 ] || fail "GET /admin/events: $code"
grep -q '<td>tunnel-created</td><td>boss</td><td>boss</td>' "$TMP/events.html" ||
    fail "no tunnel-created event of boss: $(cat "$TMP/events.html")"
ok "the admin's events page shows acme's events"

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
