#!/bin/bash
# GET through the tunnel: a page, 1 byte, 64 MiB; the bytes the browser
# gets are the bytes the app sent (sha256), the status is the app's.
. "$(dirname "$0")/lib.sh"
e2e_up

body=$(browse "$(app_url /)") || fail "GET / through the tunnel failed"
[ "$body" = "hello from the office" ] || fail "GET / body: '$body'"
ok "GET / returns the office page"

code=$(browse -o "$TMP/one" -w '%{http_code}' "$(app_url '/bytes/1?seed=1')") ||
    fail "GET /bytes/1 failed"
[ "$code" = 200 ] || fail "GET /bytes/1 status $code"
[ "$(stat -c %s "$TMP/one")" = 1 ] || fail "GET /bytes/1 size $(stat -c %s "$TMP/one")"
[ "$(sha256sum <"$TMP/one" | cut -d' ' -f1)" = "$(gen_sha256 1 1)" ] ||
    fail "GET /bytes/1 digest differs"
ok "GET of 1 byte: status 200, digest equal"

size=$((64 * 1024 * 1024))
want=$(gen_sha256 $size 64)
code=$(BROWSE_TIMEOUT=120 browse -o "$TMP/big" -w '%{http_code}' \
    "$(app_url "/bytes/$size?seed=64")") || fail "GET of 64 MiB failed"
[ "$code" = 200 ] || fail "GET of 64 MiB status $code"
got_size=$(stat -c %s "$TMP/big")
[ "$got_size" = $size ] || fail "GET of 64 MiB: $got_size bytes"
got=$(sha256sum <"$TMP/big" | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "GET of 64 MiB: digest $got, want $want"
rm -f "$TMP/big"
ok "GET of 64 MiB: status 200, $size bytes, digest equal"

code=$(browse -I -o /dev/null -w '%{http_code}' "$(app_url /bytes/1000)") ||
    fail "HEAD failed"
[ "$code" = 200 ] || fail "HEAD status $code"
code=$(browse -o /dev/null -w '%{http_code}' "$(app_url /nothing-here)")
[ "$code" = 404 ] || fail "GET of a missing page: status $code, want 404"
ok "HEAD and a 404 from the app pass through"
# what proxyd writes to the app and back: the start lines it builds
echo=$(browse -0 "$(app_url '/echo?x=1')") || fail "GET /echo failed"
line=$(echo "$echo" | head -n 1)
[ "$line" = "GET /echo?x=1 HTTP/1.0" ] ||
    fail "request line at the app: '$line', want 'GET /echo?x=1 HTTP/1.0'"
host=$(echo "$echo" | sed -n 's/^Host: //p')
[ "$host" = "$APP_IP:$APP_PORT" ] || fail "Host at the app: '$host'"
echo=$(browse "$(app_url /echo)") || fail "GET /echo failed"
[ "$(echo "$echo" | head -n 1)" = "GET /echo HTTP/1.1" ] ||
    fail "request line at the app: '$(echo "$echo" | head -n 1)'"
status=$(browse -o /dev/null -D - "$(app_url /nothing-here)" | head -n 1 |
    tr -d '\r')
[ "$status" = "HTTP/1.1 404 Not Found" ] ||
    fail "status line of a 404: '$status'"
ok "start lines: HTTP/1.0 and 1.1 requests reach the app as sent, a 404 comes back whole"
e2e_done
