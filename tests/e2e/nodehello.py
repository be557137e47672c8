#!/usr/bin/env python3
"""A node's side of a KGP node link (kgp.7, "Node links"), for the tests.

  nodehello.py HOST PORT NODE SECRET [TUNNEL-ID]
  nodehello.py --tunnel HOST PORT TUNNEL-ID SECRET

Connects with TLS (the certificate is not checked: the test is the
node here, and only the server's answer matters), sends a HELLO with
the node flag naming NODE with SECRET, and prints what the server
answers: "welcome", or "error CODE TEXT".  After a WELCOME, with
TUNNEL-ID, it opens stream 1 naming that tunnel and prints the answer
to it: "accept", or "refuse CODE TEXT".  Exits 0 when it got an answer,
1 otherwise.

With --tunnel it is a tunnel's client instead: a HELLO without the
node flag naming TUNNEL-ID with its SECRET, and the answer printed the
same way.
"""
import os
import socket
import ssl
import struct
import sys

KGP_HELLO, KGP_WELCOME, KGP_ERROR, KGP_OPEN = 1, 2, 3, 4
KGP_ACCEPT, KGP_REFUSE = 5, 6
KGP_F_NODE = 0x01
TIMEOUT = 10


def frame(ftype, payload=b"", stream=0, seq=0, flags=0):
    return struct.pack(">BBHII", ftype, flags, len(payload), stream,
                       seq) + payload


def read_frame(s):
    hdr = read_exact(s, 12)
    ftype, flags, n, stream, seq = struct.unpack(">BBHII", hdr)
    return ftype, flags, stream, read_exact(s, n)


def read_exact(s, n):
    buf = b""
    while len(buf) < n:
        data = s.recv(n - len(buf))
        if not data:
            print("eof")
            sys.exit(1)
        buf += data
    return buf


def code_text(payload):
    code = struct.unpack(">H", payload[:2])[0]
    return "%d %s" % (code, payload[2:].decode("utf-8", "replace"))


def main():
    flags = KGP_F_NODE
    if sys.argv[1] == "--tunnel":
        flags = 0
        del sys.argv[1]
    host, port, node, secret = sys.argv[1:5]
    tunnel = sys.argv[5] if len(sys.argv) > 5 else None
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    raw = socket.create_connection((host, int(port)), timeout=TIMEOUT)
    s = ctx.wrap_socket(raw)
    session = struct.unpack(">Q", os.urandom(8))[0] | 1
    hello = struct.pack(">HHIH", 2, 2, 16384, 0)
    hello += bytes([len(node)]) + node.encode()
    hello += bytes([len(secret)]) + secret.encode()
    hello += struct.pack(">QI", session, 0)
    s.sendall(frame(KGP_HELLO, hello, flags=flags))
    hello_flags = flags
    while True:
        ftype, flags, stream, payload = read_frame(s)
        if ftype == KGP_ERROR:
            print("error " + code_text(payload))
            return 0
        if ftype == KGP_WELCOME:
            if (flags & KGP_F_NODE) != (hello_flags & KGP_F_NODE):
                print("welcome without the node flag" if hello_flags else
                      "welcome with the node flag")
                return 1
            print("welcome", flush=True)
            break
    if tunnel is None:
        return 0
    s.sendall(frame(KGP_OPEN, (tunnel + " 192.0.2.1:1 via test").encode(),
                    stream=1, seq=1))
    while True:
        ftype, flags, stream, payload = read_frame(s)
        if ftype == KGP_ACCEPT and stream == 1:
            print("accept")
            return 0
        if ftype == KGP_REFUSE and stream == 1:
            print("refuse " + code_text(payload))
            return 0
        if ftype == KGP_ERROR:
            print("error " + code_text(payload))
            return 1


if __name__ == "__main__":
    sys.exit(main())
