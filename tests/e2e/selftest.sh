#!/bin/bash
# The test bed alone, without sc: the namespaces isolate the app (cloud
# cannot reach it), and the app's pages, echo, TLS and WebSocket work
# inside office.  When this fails, the other e2e tests cannot be trusted.
E2E_NO_SC=1
. "$(dirname "$0")/lib.sh"

e2e_init
start_app
ok "app answers in office, unreachable from cloud"

want=$(gen_sha256 1048576 5)
got=$(office curl -sS --max-time 20 "$(app_url '/bytes/1048576?seed=5')" |
    sha256sum | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "/bytes/1048576 digest $got, want $want"
ok "GET /bytes/1048576 digest matches app.py gen"

head -c 3000000 /dev/urandom >"$TMP/up"
want=$(sha256sum <"$TMP/up" | cut -d' ' -f1)
got=$(office curl -sS --max-time 20 --data-binary @"$TMP/up" \
    "$(app_url /echo)" | sha256sum | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "POST /echo digest $got, want $want"
got=$(office curl -sS --max-time 20 -T - "$(app_url /echo)" <"$TMP/up" |
    sha256sum | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "chunked PUT /echo digest $got, want $want"
ok "POST and chunked PUT /echo echo the body"

got=$(office curl -sS --max-time 20 --cacert "$TMP/app.crt" \
    "$(app_tls_url '/bytes/1048576?seed=5')" | sha256sum | cut -d' ' -f1)
[ "$got" = "$(gen_sha256 1048576 5)" ] || fail "TLS digest $got"
ok "TLS app verifies with its certificate and serves the same bytes"

office "$PYTHON" "$E2E_DIR/wsclient.py" - "$APP_IP:$APP_PORT" /ws ||
    fail "websocket echo against the app directly"
ok "websocket echo directly"

n=$(office curl -sS --max-time 20 -o /dev/null -w '%{num_connects}\n' \
    "$(app_url '/text/[1-10]')" | awk '{s += $1} END {print s}')
[ "$n" = 1 ] || fail "10 requests used $n connections, want 1"
ok "keep-alive: 10 requests on one connection"
e2e_done
