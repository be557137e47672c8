#!/usr/bin/env python3
"""A small SOCKS version 5 server for the end-to-end tests (RFC 1928,
CONNECT only; user and password, RFC 1929, when --auth is given).

Every request is one line of the log file:

    SOCKS CONNECT <host>:<port> atyp=<name|ipv4|ipv6> user=<user or -> rep=<n>

(the password is never written).  The server resolves names itself:
that is the point of a proxy that alone can reach the app.
"""
import argparse
import socket
import struct
import sys
import threading


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--addr", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--auth", help="user:password the server demands")
    p.add_argument("--log", required=True)
    p.add_argument("--ready", help="file created once listening")
    return p.parse_args()


ARGS = parse_args()
LOG = open(ARGS.log, "a", buffering=1)
LOCK = threading.Lock()


def log(line):
    with LOCK:
        LOG.write(line + "\n")
        LOG.flush()


def recv_exact(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise EOFError("peer closed")
        b += c
    return b


def pipe(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            b.sendall(d)
    except OSError:
        pass
    try:
        b.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def serve(c):
    user = "-"
    try:
        ver, n = recv_exact(c, 2)
        methods = recv_exact(c, n)
        if ver != 5:
            return
        want = 2 if ARGS.auth else 0
        if want not in methods:
            c.sendall(b"\x05\xff")
            log("SOCKS no acceptable method (offered %s)" % list(methods))
            return
        c.sendall(bytes([5, want]))
        if want == 2:
            _, ul = recv_exact(c, 2)
            u = recv_exact(c, ul).decode()
            (pl,) = recv_exact(c, 1)
            pw = recv_exact(c, pl).decode()
            user = u
            if "%s:%s" % (u, pw) != ARGS.auth:
                c.sendall(b"\x01\x01")
                log("SOCKS auth refused user=%s" % u)
                return
            c.sendall(b"\x01\x00")
        ver, cmd, _, atyp = recv_exact(c, 4)
        if atyp == 1:
            host = socket.inet_ntop(socket.AF_INET, recv_exact(c, 4))
            kind = "ipv4"
        elif atyp == 4:
            host = socket.inet_ntop(socket.AF_INET6, recv_exact(c, 16))
            kind = "ipv6"
        elif atyp == 3:
            (hl,) = recv_exact(c, 1)
            host = recv_exact(c, hl).decode()
            kind = "name"
        else:
            c.sendall(b"\x05\x08\x00\x01\x00\x00\x00\x00\x00\x00")
            return
        (port,) = struct.unpack("!H", recv_exact(c, 2))
        if cmd != 1:
            c.sendall(b"\x05\x07\x00\x01\x00\x00\x00\x00\x00\x00")
            return
        try:
            up = socket.create_connection((host, port), timeout=10)
            up.settimeout(None)
        except OSError as e:
            rep = 5 if isinstance(e, ConnectionRefusedError) else 4
            log("SOCKS CONNECT %s:%d atyp=%s user=%s rep=%d (%s)" %
                (host, port, kind, user, rep, e))
            c.sendall(bytes([5, rep, 0, 1, 0, 0, 0, 0, 0, 0]))
            return
        log("SOCKS CONNECT %s:%d atyp=%s user=%s rep=0" %
            (host, port, kind, user))
        c.sendall(b"\x05\x00\x00\x01\x00\x00\x00\x00\x00\x00")
        t = threading.Thread(target=pipe, args=(up, c), daemon=True)
        t.start()
        pipe(c, up)
        t.join()
        up.close()
    except (EOFError, OSError, UnicodeDecodeError, ValueError):
        pass
    finally:
        c.close()


def main():
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((ARGS.addr, ARGS.port))
    ls.listen(64)
    if ARGS.ready:
        open(ARGS.ready, "w").close()
    while True:
        c, _ = ls.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
