#!/bin/bash
# The Tunnels web page in a real browser (issue 19): headless Chromium,
# driven by Selenium (web.py), in cloud.  It signs in (a wrong key first:
# the error shown), sees the client's tunnel appear once sc starts and its
# byte counters move while this script pulls traffic through the tunnel,
# without a reload; at 360 px nothing is wider than the screen; it opens
# the tunnel's page and stops the tunnel from the keyboard, and sc exits;
# names with markup and of 1,000 characters show as text; another account
# sees none of the first one's tunnels; a member of a team sees its team
# admin's shared tunnel, not another team's, and no admin page; an admin
# of the organisation adds a team and an account from the admin page
# (webadmin.py).  Screenshots in
# meson-logs/e2e-web/.  The HTTP rules are web-http.sh's, which this
# also runs the CSRF and cookie checks of.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/web-lib.sh"

SEL_PY=
for py in "$PYTHON" /usr/bin/python3; do
	if "$py" -c 'import selenium' 2>/dev/null; then
		SEL_PY=$py
		break
	fi
done
[ -n "$SEL_PY" ] || skip "needs python3-selenium"
[ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ] ||
    skip "needs chromium and chromium-driver"

e2e_init
SHOTS=$(cd "$(dirname "$SC")/.." && pwd)/meson-logs/e2e-web
rm -rf "$SHOTS"
mkdir -p "$SHOTS" || fail "mkdir $SHOTS"
start_app
start_server
ALICE_KEY=$KEY
web_add_user bob
BOB_KEY=$WEB_KEY

MARKUP='<img src=x onerror=alert(1)><b>bold</b> & "quoted"'
MID=$(web_tunnel "$MARKUP") || fail "cannot make the tunnel with markup"
LID=$(web_tunnel "$(printf 'W%.0s' $(seq 1 1000))") ||
    fail "cannot make the long-named tunnel"

# the browser, on its own: it says where it is in $TMP/step-*
mkdir -p "$TMP/profile"
HOME=$TMP PYTHONDONTWRITEBYTECODE=1 ip netns exec "$CLOUD" timeout 200 "$SEL_PY" "$E2E_DIR/web.py" \
    --url "$WEB" --user "$SC_USER" --key "$ALICE_KEY" --other bob \
    --other-key "$BOB_KEY" --name "$TUNNEL_NAME" --markup "$MARKUP" \
    --markup-id "$MID" --long-id "$LID" --dir "$TMP" --shots "$SHOTS" \
    --profile "$TMP/profile" >"$TMP/browser.log" 2>&1 &
BROWSER=$!
PIDS+=("$BROWSER")

# browser_at STEP: wait for it (or its end)
browser_at() {
	local i=0
	while [ ! -e "$TMP/step-$1" ]; do
		if not_running "$BROWSER"; then
			cat "$TMP/browser.log"
			fail "the browser ended before '$1'"
		fi
		[ "$i" -lt "$(($2 * 10))" ] || fail "the browser not at '$1' in $2 s"
		sleep 0.1
		i=$((i + 1))
	done
}

browser_at signed-in 60
ok "signed in (a wrong key first), hostile names escaped"
start_sc
# traffic through the tunnel until the browser has seen it counted
(
	i=0
	while [ ! -e "$TMP/step-counted" ] && [ "$i" -lt 600 ]; do
		browse -o /dev/null "$(app_url "/bytes/2000000?seed=$i")" \
		    2>/dev/null
		i=$((i + 1))
	done
) &
TRAFFIC=$!
PIDS+=("$TRAFFIC")
touch "$TMP/go-traffic"
browser_at counted 90
ok "the tunnel appeared, its byte counters moved without a reload"

browser_at stopped 60
wait_for 30 not_running "$SC_PID" || fail "sc still runs after the stop"
grep -q 'was terminated on the server' "$TMP/sc.log" ||
    fail "sc did not say its tunnel was terminated"
[ "$(rest GET "/$SC_USER/tunnels/$TUNNEL_ID" | json_get "j['status']")" = \
    terminated ] || fail "the tunnel is not terminated"
ok "stopped from the page: sc exits, the tunnel is terminated"

wait_for 60 not_running "$BROWSER" || fail "the browser does not finish"
wait "$BROWSER"
st=$?
cat "$TMP/browser.log"
[ "$st" = 0 ] || fail "the browser's checks failed (exit $st)"
ok "another account sees none of alice's tunnels; screenshots in $SHOTS"

# teams and the admin pages (webadmin.py): organisation acme, teams a and
# b, each with a team admin that shares a tunnel; a member of a; an admin
cli() { "$SC_SERVER" -s "$TMP/state" "$@"; }
cli org add acme && cli team add acme a && cli team add acme b ||
    fail "org and team add"
BOSS_KEY=$(cli user add boss --org acme --role admin) &&
    LEADA_KEY=$(cli user add leada --org acme --team a --role team-admin) &&
    LEADB_KEY=$(cli user add leadb --org acme --team b --role team-admin) &&
    MEMA_KEY=$(cli user add mema --org acme --team a) || fail "user add"
wait_for 5 cloud curl -sf -o /dev/null -u "mema:$MEMA_KEY" \
    "$REST_URL/mema/tunnels" || fail "mema cannot use the REST API"
TA=$(SC_USER=leada KEY=$LEADA_KEY web_tunnel "team a's" shared) &&
    TB=$(SC_USER=leadb KEY=$LEADB_KEY web_tunnel "team b's" shared) ||
    fail "the team admins' shared tunnels"
[ -n "$TA" ] && [ -n "$TB" ] || fail "no ids of the team admins' tunnels"
SC_USER=boss KEY=$BOSS_KEY web_tunnel "boss's" >/dev/null || fail "boss's tunnel"
mkdir -p "$TMP/profile2"
HOME=$TMP PYTHONDONTWRITEBYTECODE=1 ip netns exec "$CLOUD" timeout 120 "$SEL_PY" "$E2E_DIR/webadmin.py" \
    --url "$WEB" --admin boss --admin-key "$BOSS_KEY" --member mema \
    --member-key "$MEMA_KEY" --team-a-tunnel "$TA" --team-b-tunnel "$TB" \
    --shots "$SHOTS" --profile "$TMP/profile2" >"$TMP/browser2.log" 2>&1
st=$?
cat "$TMP/browser2.log"
[ "$st" = 0 ] || fail "the admin pages' checks failed (exit $st)"
cli user list | grep -Eq '^newbie +acme +qa +member ' ||
    fail "newbie not in the database: $(cli user list)"
ok "a member of team a sees team a's shared tunnel, not team b's, no admin" \
    "page; the admin adds team qa and newbie in it from the page"

# the HTTP rules that no browser shows: CSRF 403s, the cookie's flags
web_signin raw "$SC_USER" "$ALICE_KEY"
tr -d '\r' <"$TMP/raw" | grep -q 'sc_session' || fail "no session cookie"
cloud curl -sS -D "$TMP/hraw" -o /dev/null -b "$TMP/raw" \
    "$WEB/tunnels.json" || fail "tunnels.json"
csrf=$(web_csrf raw /signin)
rm -f "$TMP/fresh"
csrf=$(web_csrf fresh /signin)
code=$(cloud curl -sS -o /dev/null -w '%{http_code}' -D "$TMP/hc" \
    -b "$TMP/fresh" -c "$TMP/fresh" --data-urlencode "csrf=$csrf" \
    --data-urlencode "user=$SC_USER" --data-urlencode "key=$ALICE_KEY" \
    "$WEB/signin")
[ "$code" = 303 ] || fail "sign-in: $code"
tr -d '\r' <"$TMP/hc" | grep -q \
    '^Set-Cookie: sc_session=[0-9a-f]\{64\}; Path=/; Max-Age=[0-9]*; HttpOnly; SameSite=Strict$' ||
    fail "the session cookie: $(grep -i 'set-cookie: sc_session' "$TMP/hc")"
code=$(web_code fresh -d "x=1" "$WEB/tunnel/$MID/stop")
[ "$code" = 403 ] || fail "stop without a CSRF token: $code, want 403"
code=$(web_code fresh -d "csrf=$csrf" "$WEB/tunnel/$MID/stop")
[ "$code" = 403 ] || fail "stop with a wrong CSRF token: $code, want 403"
ok "CSRF missing or wrong: 403; the session cookie HttpOnly, SameSite=Strict, Path=/"
