# Helpers of the Tunnels web page's tests (web.sh, web-http.sh), after
# lib.sh.  The page is on the REST port: $WEB ($WEB_CURL its curl args,
# for HTTPS).

WEB=http://$CLOUD_IP:$REST_PORT
WEB_CURL=()

# wcurl JAR [curl args]: curl in cloud with the cookie jar $TMP/JAR
wcurl() {
	local jar=$TMP/$1
	shift
	cloud curl -sS --max-time 10 "${WEB_CURL[@]}" -b "$jar" -c "$jar" "$@"
}

# web_csrf JAR PATH: the CSRF token of the first form of the page at PATH
web_csrf() {
	wcurl "$1" "$WEB$2" | sed -n 's/.*name="csrf" value="\([0-9a-f]*\)".*/\1/p' |
	    head -n 1
}

# web_signin JAR USER KEY: signed in with a fresh jar, or fail
web_signin() {
	local csrf code
	rm -f "$TMP/$1"
	csrf=$(web_csrf "$1" /signin)
	[ -n "$csrf" ] || fail "no CSRF token in the sign-in form"
	code=$(wcurl "$1" -o /dev/null -w '%{http_code}' \
	    --data-urlencode "csrf=$csrf" --data-urlencode "user=$2" \
	    --data-urlencode "key=$3" "$WEB/signin") || fail "sign-in: curl"
	[ "$code" = 303 ] || fail "sign-in of $2: $code, want 303"
}

# web_code JAR [curl args]: the status code only
web_code() {
	local jar=$1
	shift
	wcurl "$jar" -o /dev/null -w '%{http_code}' "$@"
}

# web_tunnel NAME [shared]: a tunnel of $SC_USER made over REST with no
# client (running, no connection), its id on stdout
web_tunnel() {
	"$PYTHON" -c 'import json, sys
print(json.dumps({"tunnel_identifier": sys.argv[1],
    "shared_tunnel": len(sys.argv) > 2,
    "metadata": {"hostname": "<i>host</i>", "git_version": "1.0",
    "command": "sc -k 0123abcd-0000-1111-2222-333344445555 -i x"}}))' \
	    "$@" >"$TMP/web-tunnel.json"
	rest POST "/$SC_USER/tunnels" -H 'Content-Type: application/json' \
	    --data-binary "@$TMP/web-tunnel.json" | json_get "j['id']"
}

# web_add_user NAME: another account, its key in $WEB_KEY, once the
# server has read it (on the next request)
web_add_user() {
	WEB_KEY=$("$SC_SERVER" -s "$TMP/state" user add "$1") ||
	    fail "user add $1"
	wait_for 5 cloud curl -sf -o /dev/null -u "$1:$WEB_KEY" \
	    "$REST_URL/$1/tunnels" || fail "$1 cannot use the REST API"
}
