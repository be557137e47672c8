#!/bin/bash
# Content-Length lists (RFC 9110 8.6) through the tunnel.  An answer
# with "Content-Length: 5, 5", or the field twice, reaches the browser
# with one "Content-Length: 5"; differing values are a 502 that says so,
# and the app's connection is not used again.  A request with such a
# list reaches the app with one field; with differing values it gets a
# 400 that says so: from the entry proxy for the first request of a
# connection (which it parses), from proxyd for the next ones.
. "$(dirname "$0")/lib.sh"
e2e_up

# raw REQUESTS (printf format, $APP is the app's authority): through the
# entry proxy on one connection, what comes back
raw() {
	local APP=$APP_IP:$APP_PORT
	# shellcheck disable=SC2059
	printf "$1" | sed "s/APP/$APP/g" |
	    cloud "$PYTHON" "$E2E_DIR/rawhttp.py" "$ENTRY" "${2:-5}"
}

# has OUT PATTERN WHAT: the output of raw holds a line matching PATTERN
has() {
	printf '%s\n' "$1" | grep -q "$2" || fail "$3: $1"
}

# app_conns OUT: the app connections that served the /conn requests
app_conns() {
	printf '%s\n' "$1" | sed -n 's/^connection \([0-9]*\).*/\1/p' |
	    tr '\n' ' '
}

# answers: one Content-Length at the browser, the body intact
for q in 'f=5,5' 'f=5&f=5' 'f=5,%205,%20005' 'f=5&f=05,5'; do
	browse -D "$TMP/h" -o "$TMP/b" "$(app_url "/clen?$q")" ||
	    fail "/clen?$q: no answer"
	n=$(grep -ci '^content-length:' "$TMP/h")
	[ "$n" = 1 ] || fail "/clen?$q: $n Content-Length fields at the" \
	    "browser: $(grep -i '^content-length:' "$TMP/h" | tr -d '\r' |
	    tr '\n' '|')"
	grep -qi $'^content-length: 5\r$' "$TMP/h" ||
	    fail "/clen?$q: $(grep -i '^content-length:' "$TMP/h")"
	[ "$(cat "$TMP/b")" = hello ] || fail "/clen?$q: body '$(cat "$TMP/b")'"
done
ok "answers with a Content-Length list of one number: one field, '5'"

# the app's connection goes on after a normalised answer ...
out=$(raw 'GET http://APP/conn HTTP/1.1\r\nHost: APP\r\n\r\nGET http://APP/clen?f=5,5 HTTP/1.1\r\nHost: APP\r\n\r\nGET http://APP/conn HTTP/1.1\r\nHost: APP\r\n\r\n')
ids=$(app_conns "$out")
set -- $ids
[ $# = 2 ] && [ "$1" = "$2" ] ||
    fail "normalised answer: app connections '$ids', want the same twice"
ok "the app's connection carries on after it"

# ... and is dropped after differing values, which are a 502 with a reason
out=$(raw 'GET http://APP/conn HTTP/1.1\r\nHost: APP\r\n\r\nGET http://APP/clen?f=5,6 HTTP/1.1\r\nHost: APP\r\n\r\nGET http://APP/conn HTTP/1.1\r\nHost: APP\r\n\r\n')
has "$out" '^HTTP/1.1 502 ' "differing values: no 502"
has "$out" 'differing Content-Length values' "the 502 does not say why"
ids=$(app_conns "$out")
set -- $ids
[ $# = 2 ] && [ "$1" != "$2" ] ||
    fail "differing values: app connections '$ids', want two different"
browse -o /dev/null -w '%{http_code}' "$(app_url '/clen?f=5&f=6')" \
    >"$TMP/code" 2>/dev/null
[ "$(cat "$TMP/code")" = 502 ] ||
    fail "two differing fields: status $(cat "$TMP/code"), want 502"
ok "differing values: 502 saying so, the app's connection closed"

# requests: one field at the app
out=$(raw 'POST http://APP/fields HTTP/1.1\r\nHost: APP\r\nContent-Length: 5, 5\r\nContent-Length: 5\r\n\r\nhello')
has "$out" '^HTTP/1.1 200 ' "request with a list"
n=$(printf '%s\n' "$out" | grep -ci '^content-length: ')
# one in the answer's head, one in the request echoed
[ "$n" = 2 ] || fail "request with a list: the app saw: $out"
has "$out" '^body: hello' "request body"
ok "requests with a Content-Length list of one number: one field at the app"

# differing values: 400 from the entry proxy (first request) ...
out=$(raw 'POST http://APP/fields HTTP/1.1\r\nHost: APP\r\nContent-Length: 5, 6\r\n\r\nhello')
has "$out" '^HTTP/1.1 400 ' "first request with differing values"
# ... and from proxyd (a later one), saying why
out=$(raw 'GET http://APP/ HTTP/1.1\r\nHost: APP\r\n\r\nPOST http://APP/fields HTTP/1.1\r\nHost: APP\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello')
has "$out" '^HTTP/1.1 400 ' "later request with differing values"
has "$out" 'differing Content-Length values' "the 400 does not say why"
ok "requests with differing values: 400"

body=$(browse "$(app_url /)") || fail "the tunnel broke"
[ "$body" = "hello from the office" ] || fail "GET / afterwards: '$body'"
ok "the tunnel still serves"
e2e_done
