#!/usr/bin/env python3
"""A WebSocket client that goes through an HTTP proxy (standard library).

  wsclient.py [--connect [--tls CAFILE]] PROXY_HOST:PORT HOST:PORT [PATH]

(PROXY "-" talks to the app directly.)
Without --connect it sends the upgrade as an absolute-form request to the
proxy (the proxy passes the Upgrade through); with --connect it first
opens a CONNECT tunnel and speaks WebSocket inside it; with --tls too,
it speaks TLS inside the tunnel (wss://), verified against CAFILE for
HOST.  It sends a text
message, a 200 KB binary message (64-bit length) and a ping, checks each
echo, closes, and exits 0 only if everything came back intact.
"""

import base64
import hashlib
import os
import socket
import ssl
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from app import WS_GUID, ws_frame, ws_read  # noqa: E402


def fail(msg):
    print("wsclient: FAIL: " + msg)
    sys.exit(1)


def read_head(f):
    lines = []
    while True:
        line = f.readline(8192)
        if not line:
            fail("connection closed while reading a response head")
        if line in (b"\r\n", b"\n"):
            return lines
        lines.append(line.decode("latin-1").rstrip("\r\n"))


def main():
    args = sys.argv[1:]
    use_connect = False
    cafile = None
    if args and args[0] == "--connect":
        use_connect = True
        args = args[1:]
        if len(args) > 1 and args[0] == "--tls":
            cafile = args[1]
            args = args[2:]
    if len(args) < 2:
        print(__doc__)
        sys.exit(2)
    proxy, target = args[0], args[1]
    path = args[2] if len(args) > 2 else "/ws"
    if proxy == "-":
        # no proxy: straight to the app (the tests' own self-check)
        phost, pport = target.rsplit(":", 1)
    else:
        phost, pport = proxy.rsplit(":", 1)

    s = socket.create_connection((phost, int(pport)), timeout=30)
    f = s.makefile("rb")
    if proxy == "-":
        uri = path
    elif use_connect:
        s.sendall(("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" %
                   (target, target)).encode())
        head = read_head(f)
        if " 200" not in head[0]:
            fail("CONNECT answered: " + head[0])
        uri = path
        if cafile is not None:
            ctx = ssl.create_default_context(cafile=cafile)
            s = ctx.wrap_socket(s, server_hostname=target.rsplit(":", 1)[0])
            f = s.makefile("rb")
    else:
        uri = "http://%s%s" % (target, path)

    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
               "Sec-WebSocket-Version: 13\r\n\r\n" %
               (uri, target, key)).encode())
    head = read_head(f)
    if " 101" not in head[0]:
        fail("upgrade answered: " + head[0])
    want = base64.b64encode(hashlib.sha1(
        (key + WS_GUID).encode()).digest()).decode()
    hdrs = {}
    for line in head[1:]:
        k, _, v = line.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    if hdrs.get("sec-websocket-accept") != want:
        fail("bad Sec-WebSocket-Accept: %r" % hdrs.get("sec-websocket-accept"))

    messages = [
        (1, "hello, office \u2603".encode()),
        (2, os.urandom(200000)),
        (9, b"ping-payload"),
        (1, b"x" * 125),
        (1, b"y" * 126),
        (2, os.urandom(65536)),
    ]
    for opcode, payload in messages:
        s.sendall(ws_frame(opcode, payload, mask=os.urandom(4)))
        frame = ws_read(f)
        if frame is None:
            fail("connection closed, waiting for the echo of a %d-byte "
                 "message" % len(payload))
        want_op = 10 if opcode == 9 else opcode
        if frame[0] != want_op or frame[1] != payload:
            fail("echo differs: opcode %d len %d, sent opcode %d len %d" %
                 (frame[0], len(frame[1]), opcode, len(payload)))
    s.sendall(ws_frame(8, b"\x03\xe8", mask=os.urandom(4)))
    frame = ws_read(f)
    if frame is None or frame[0] != 8:
        fail("no close frame back")
    print("websocket echo ok: %d messages through %s%s" %
          (len(messages), proxy, (" (CONNECT, TLS)" if cafile else
           " (CONNECT)") if use_connect else ""))


if __name__ == "__main__":
    main()
