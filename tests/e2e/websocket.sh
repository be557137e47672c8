#!/bin/bash
# WebSocket echo through the tunnel: the Upgrade passed through by the
# proxies, and WebSocket inside a CONNECT tunnel (ws://, no TLS), which
# the entry proxy reads as plain HTTP under default resigning, and which
# -B all passes through untouched; wss:// through resigned TLS is in
# resign.sh.
. "$(dirname "$0")/lib.sh"
e2e_up

cloud timeout 60 "$PYTHON" "$E2E_DIR/wsclient.py" "$ENTRY" \
    "$APP_IP:$APP_PORT" /ws || fail "websocket echo (Upgrade through the proxy)"
ok "websocket echo with the Upgrade passed through"

cloud timeout 60 "$PYTHON" "$E2E_DIR/wsclient.py" --connect "$ENTRY" \
    "$APP_IP:$APP_PORT" /ws || fail "websocket echo inside CONNECT"
ok "websocket echo inside a CONNECT tunnel (resigning on: plain HTTP)"
grep -q "plain HTTP inside CONNECT" "$TMP/server.log" ||
    fail "the entry proxy did not say it read plain HTTP inside the CONNECT"
ok "the entry proxy read plain HTTP inside the CONNECT"
e2e_done
