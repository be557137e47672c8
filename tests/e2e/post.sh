#!/bin/bash
# Request bodies through the tunnel: a 32 MiB POST echoed back, and
# chunked uploads (POST with Transfer-Encoding: chunked, PUT from a pipe).
. "$(dirname "$0")/lib.sh"
e2e_up

head -c $((32 * 1024 * 1024)) /dev/urandom >"$TMP/up"
want=$(sha256sum <"$TMP/up" | cut -d' ' -f1)

code=$(BROWSE_TIMEOUT=120 browse -o "$TMP/down" -D "$TMP/hdr" \
    -w '%{http_code}' -H 'Content-Type: application/octet-stream' \
    --data-binary @"$TMP/up" "$(app_url /echo)") || fail "POST of 32 MiB failed"
[ "$code" = 200 ] || fail "POST of 32 MiB: status $code"
seen=$(sed -n 's/^X-Body-SHA256: *\([0-9a-f]*\).*/\1/ip' "$TMP/hdr")
[ "$seen" = "$want" ] || fail "the app received digest '$seen', want $want"
got=$(sha256sum <"$TMP/down" | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "echo of 32 MiB: digest $got, want $want"
ok "POST of 32 MiB: the app got it whole, the echo came back whole"

head -c $((5 * 1024 * 1024 + 17)) /dev/urandom >"$TMP/up2"
want=$(sha256sum <"$TMP/up2" | cut -d' ' -f1)
code=$(browse -o "$TMP/down2" -D "$TMP/hdr2" -w '%{http_code}' \
    -H 'Transfer-Encoding: chunked' --data-binary @"$TMP/up2" \
    "$(app_url /echo)") || fail "chunked POST failed"
[ "$code" = 200 ] || fail "chunked POST: status $code"
seen=$(sed -n 's/^X-Body-SHA256: *\([0-9a-f]*\).*/\1/ip' "$TMP/hdr2")
[ "$seen" = "$want" ] || fail "chunked POST: the app received digest '$seen'"
[ "$(sha256sum <"$TMP/down2" | cut -d' ' -f1)" = "$want" ] ||
    fail "chunked POST: echo digest differs"
ok "chunked POST of 5 MiB: the app got it whole, echo equal"

code=$(browse -o "$TMP/down3" -w '%{http_code}' -T - "$(app_url /echo)" \
    < <(cat "$TMP/up2")) || fail "chunked PUT from a pipe failed"
[ "$code" = 200 ] || fail "chunked PUT: status $code"
[ "$(sha256sum <"$TMP/down3" | cut -d' ' -f1)" = "$want" ] ||
    fail "chunked PUT: echo digest differs"
ok "chunked PUT from a pipe: echo equal"

code=$(browse -o "$TMP/down4" -w '%{http_code}' -X POST \
    -H 'Content-Length: 0' "$(app_url /echo)") || fail "empty POST failed"
[ "$code" = 200 ] && [ ! -s "$TMP/down4" ] || fail "empty POST: status $code"
ok "empty POST"
e2e_done
