#!/bin/bash
# WebSocket echo through the tunnel: the Upgrade passed through by the
# proxies, and WebSocket inside a CONNECT tunnel (ws://, no TLS: -B all
# passes it through; wss:// through resigned TLS is in resign.sh).
. "$(dirname "$0")/lib.sh"
e2e_up -B all

cloud timeout 60 "$PYTHON" "$E2E_DIR/wsclient.py" "$ENTRY" \
    "$APP_IP:$APP_PORT" /ws || fail "websocket echo (Upgrade through the proxy)"
ok "websocket echo with the Upgrade passed through"

cloud timeout 60 "$PYTHON" "$E2E_DIR/wsclient.py" --connect "$ENTRY" \
    "$APP_IP:$APP_PORT" /ws || fail "websocket echo inside CONNECT"
ok "websocket echo inside a CONNECT tunnel"
e2e_done
