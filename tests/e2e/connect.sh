#!/bin/bash
# CONNECT through the tunnel to the TLS app: the browser verifies the app's
# own certificate (so the bytes are the app's, end to end): passthrough,
# -B all (resigning, the default, is tests/e2e/resign.sh).
. "$(dirname "$0")/lib.sh"
e2e_up -B all

size=$((8 * 1024 * 1024))
out=$(browse --cacert "$TMP/app.crt" -o "$TMP/tls" \
    -w '%{http_connect} %{http_code}' "$(app_tls_url "/bytes/$size?seed=9")") ||
    fail "HTTPS GET through CONNECT failed: $out"
[ "$out" = "200 200" ] || fail "CONNECT/GET statuses '$out', want '200 200'"
[ "$(sha256sum <"$TMP/tls" | cut -d' ' -f1)" = "$(gen_sha256 $size 9)" ] ||
    fail "HTTPS GET: digest differs"
ok "CONNECT 200, HTTPS GET of 8 MiB with the app's certificate, digest equal"

head -c $((4 * 1024 * 1024)) /dev/urandom >"$TMP/up"
want=$(sha256sum <"$TMP/up" | cut -d' ' -f1)
got=$(browse --cacert "$TMP/app.crt" --data-binary @"$TMP/up" \
    "$(app_tls_url /echo)" | sha256sum | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "HTTPS POST echo digest $got, want $want"
ok "HTTPS POST of 4 MiB echoed through CONNECT"

# several requests over one CONNECT tunnel
n=$(browse --cacert "$TMP/app.crt" -o /dev/null -w '%{num_connects}\n' \
    "$(app_tls_url '/text/[1-20]')" | awk '{s += $1} END {print s}')
[ "$n" = 1 ] || fail "20 HTTPS requests used $n proxy connections"
ok "20 HTTPS requests inside one CONNECT tunnel"
e2e_done
