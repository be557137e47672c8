#!/usr/bin/env python3
"""A browser-side client of a CONNECT tunnel to app.py's echo service.

  tunnelclient.py PROXY_HOST:PORT TARGET_HOST:PORT EARLY SIZE [--hold]

It sends the CONNECT head and, in the same write, EARLY bytes that must
wait for the tunnel (a client that does not wait for the 200).  It checks
the 200, the service's "hello" (it speaks first) and the echo of the
early bytes.  With --hold it then prints "up" and waits for a line on
standard input.  Then it sends SIZE more bytes while reading their echo,
half-closes, and checks that everything came back once and in order, and
that the service's closing "sha256 HEX" line is the digest of all it was
sent.  Prints "ok BYTES" and exits 0, or says what went wrong and exits 1.
"""
import hashlib
import random
import selectors
import socket
import sys
import time

TIMEOUT = 60


def fail(msg):
    print("tunnelclient: " + msg, flush=True)
    sys.exit(1)


def read_until(s, buf, marker, what):
    end = time.monotonic() + TIMEOUT
    while marker not in buf:
        if time.monotonic() > end:
            fail("no %s within %d s" % (what, TIMEOUT))
        data = s.recv(65536)
        if not data:
            fail("EOF before the %s (got %r)" % (what, bytes(buf[:200])))
        buf += data
    return buf


def main():
    args = [a for a in sys.argv[1:] if a != "--hold"]
    hold = "--hold" in sys.argv
    if len(args) != 4:
        sys.exit(__doc__)
    proxy, target, early, size = args[0], args[1], int(args[2]), int(args[3])
    host, port = proxy.rsplit(":", 1)
    rnd = random.Random(7)
    payload = rnd.randbytes(early + size)

    s = socket.create_connection((host, int(port)), TIMEOUT)
    s.settimeout(TIMEOUT)
    s.sendall(b"CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n%s"
              % (target.encode(), target.encode(), payload[:early]))
    buf = read_until(s, bytearray(), b"\r\n\r\n", "answer to CONNECT")
    head, _, rest = bytes(buf).partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        fail("CONNECT answered %r" % head[:80])
    buf = read_until(s, bytearray(rest), b"hello\n", "hello of the service")
    if not buf.startswith(b"hello\n"):
        fail("the service's first bytes are %r" % bytes(buf[:40]))
    echo = bytearray(buf[6:])
    while len(echo) < early:
        data = s.recv(65536)
        if not data:
            fail("EOF after %d of %d early bytes" % (len(echo), early))
        echo += data
    if hold:
        print("up", flush=True)
        sys.stdin.readline()

    # the rest both ways at once, then the half-close
    s.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE)
    sent, shut, eof = early, False, False
    end = time.monotonic() + TIMEOUT
    while not eof:
        if time.monotonic() > end:
            fail("stalled: %d of %d sent, %d back" % (sent, early + size,
                                                      len(echo)))
        for _, ev in sel.select(1):
            if ev & selectors.EVENT_WRITE and not shut:
                try:
                    sent += s.send(payload[sent:sent + 262144])
                except BlockingIOError:
                    pass
                if sent == len(payload):
                    s.shutdown(socket.SHUT_WR)
                    shut = True
                    sel.modify(s, selectors.EVENT_READ)
            if ev & selectors.EVENT_READ:
                try:
                    data = s.recv(262144)
                except BlockingIOError:
                    continue
                if not data:
                    eof = True
                echo += data
    trailer = b"sha256 %s\n" % hashlib.sha256(payload).hexdigest().encode()
    if bytes(echo[:len(payload)]) != payload:
        n = min(len(echo), len(payload))
        bad = next((i for i in range(n) if echo[i] != payload[i]), n)
        fail("echo differs at byte %d of %d (%d came back)"
             % (bad, len(payload), len(echo)))
    if bytes(echo[len(payload):]) != trailer:
        fail("closing line %r, want %r" % (bytes(echo[len(payload):]),
                                            trailer))
    print("ok %d" % len(payload), flush=True)


if __name__ == "__main__":
    main()
