#!/usr/bin/env python3
"""A browser that stops reading in the middle of an answer.

  slowget.py PROXY URL FIRST

GETs URL through the HTTP proxy PROXY (host:port), reads the head and
FIRST bytes of the body, prints "paused", and waits for a line on stdin;
then reads the rest of the body (Content-Length) and prints
"ok LENGTH SHA256".  Exits 1 on any error.
"""

import hashlib
import socket
import sys


def main():
    proxy, url, first = sys.argv[1], sys.argv[2], int(sys.argv[3])
    host, port = proxy.rsplit(":", 1)
    authority = url.split("/")[2]
    s = socket.create_connection((host, int(port)), timeout=60)
    s.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (url, authority)).encode())
    f = s.makefile("rb")
    status = f.readline()
    if b" 200 " not in status:
        print("status %r" % status)
        return 1
    length = None
    while True:
        line = f.readline()
        if line in (b"\r\n", b""):
            break
        k, _, v = line.decode().partition(":")
        if k.strip().lower() == "content-length":
            length = int(v)
    if length is None:
        print("no Content-Length")
        return 1
    h = hashlib.sha256()
    got = 0
    paused = False
    while got < length:
        if not paused and got >= first:
            print("paused", flush=True)
            sys.stdin.readline()
            paused = True
        want = min(65536, length - got)
        if not paused:
            want = min(want, first - got)
        b = f.read1(want)
        if not b:
            print("eof after %d" % got)
            return 1
        h.update(b)
        got += len(b)
    print("ok %d %s" % (got, h.hexdigest()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
