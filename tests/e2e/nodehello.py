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

  nodehello.py --many HOST PORT SECRET TUNNEL-ID...

Tunnel HELLOs for each TUNNEL-ID at once, one connection each: a line
per connection, "TUNNEL-ID MS ANSWER" (MS from the HELLO sent to the
answer), in the order of the arguments.
"""
import os
import socket
import ssl
import struct
import sys
import threading
import time

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


def hello(host, port, name, secret, flags):
    """A HELLO naming name with secret: the socket, the answer, and the
    milliseconds from the HELLO sent to the answer."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    raw = socket.create_connection((host, int(port)), timeout=TIMEOUT)
    s = ctx.wrap_socket(raw)
    session = struct.unpack(">Q", os.urandom(8))[0] | 1
    payload = struct.pack(">HHIH", 2, 2, 16384, 0)
    payload += bytes([len(name)]) + name.encode()
    payload += bytes([len(secret)]) + secret.encode()
    payload += struct.pack(">QI", session, 0)
    t0 = time.monotonic()
    s.sendall(frame(KGP_HELLO, payload, flags=flags))
    while True:
        ftype, rflags, stream, rpayload = read_frame(s)
        ms = int((time.monotonic() - t0) * 1000)
        if ftype == KGP_ERROR:
            return s, "error " + code_text(rpayload), ms
        if ftype == KGP_WELCOME:
            if (rflags & KGP_F_NODE) != (flags & KGP_F_NODE):
                return s, ("welcome without the node flag" if flags else
                           "welcome with the node flag"), ms
            return s, "welcome", ms


def many(host, port, secret, ids):
    answers = [None] * len(ids)

    def one(i):
        try:
            s, ans, ms = hello(host, port, ids[i], secret, 0)
            s.close()
            answers[i] = "%s %d %s" % (ids[i], ms, ans)
        except (OSError, SystemExit) as e:
            answers[i] = "%s -1 failed: %s" % (ids[i], e)

    threads = [threading.Thread(target=one, args=(i,))
               for i in range(len(ids))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for a in answers:
        print(a)
    return 0


def main():
    if sys.argv[1] == "--many":
        return many(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:])
    flags = KGP_F_NODE
    if sys.argv[1] == "--tunnel":
        flags = 0
        del sys.argv[1]
    host, port, node, secret = sys.argv[1:5]
    tunnel = sys.argv[5] if len(sys.argv) > 5 else None
    s, ans, ms = hello(host, port, node, secret, flags)
    print(ans, flush=True)
    if ans != "welcome":
        return 0 if ans.startswith("error ") else 1
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
