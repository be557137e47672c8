#!/usr/bin/env python3
"""The application behind the firewall, for the end-to-end tests.

Python standard library only.  One HTTP/1.1 server (keep-alive) and the
same handler behind TLS:

  GET  /                   a short text page
  GET  /bytes/N?seed=S     N pseudo-random bytes (same as `app.py gen N S`)
  GET  /chunked/N?seed=S   the same bytes as /bytes/N?seed=S, chunked
  GET  /cut/N?seed=S&after=M  promises the N bytes of /bytes/N?seed=S
                           (Content-Length: N), sends the first M, closes
  GET  /text/I             "response I\\n"
  GET  /stats              {"connections": n, "requests": n} since start
  POST|PUT /echo           the request body back (Content-Length or
                           chunked); X-Body-Length and X-Body-SHA256 tell
                           what the app received
  GET  /ws                 WebSocket echo (RFC 6455, text/binary/ping/close)
  GET  /sse?n=N&gate=PATH  N Server-Sent Events, chunked; event I (I >= 2)
                           is sent once the file PATH.I exists
  GET  /conn               "connection N": which of the app's connections
                           (numbered from 1 since start) carried it
  GET  /clen?f=V[&f=V...]  "hello", with one Content-Length field per f,
                           each with the value V as given ("5, 5", "5, 6")
  GET  /private           with --basic-auth USER:PASS: 401 (and
                           WWW-Authenticate) unless the request has those
                           credentials, then "private ok USER"
  GET  /respfields         "ok", with the fields X-App-Info: app,
                           X-Debug-One: 1 and X-Debug-Two: 2
  POST /fields             like GET /echo (the start line and the fields as
                           they reached the app), then "body: " and the
                           body, read to the first number of Content-Length
  POST|PUT /sink           the request body (Content-Length or chunked) is
                           hashed as it comes, not kept: the answer is
                           {"length": n, "sha256": hex}, with the same
                           X-Body-Length and X-Body-SHA256 headers as /echo

And, with --echo-port, a plain TCP service that speaks first: on connect
it sends "hello\n", then echoes every byte; when the client half-closes
it sends "sha256 HEX\n" of all it received and closes.

  app.py serve --addr A --http-port P [--tls-port P --cert F --key F]
         [--echo-port P] [--ready FILE] [--sni-log FILE]
         [--resume-log FILE] [--basic-auth USER:PASS]
                           (--sni-log: a line for each TLS client's SNI,
                           "-" when it sent none; --resume-log: a line
                           for each TLS handshake, "resumed" when the
                           client resumed a session, else "full")
  app.py gen N SEED        writes what /bytes/N?seed=SEED serves
  app.py sums N FIRST LAST prints "SEED SHA256" for seeds FIRST..LAST
"""

import argparse
import base64
import hashlib
import os
import json
import random
import socket
import socketserver
import ssl
import struct
import sys
import time
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CHUNK = 65536
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

counters = {"connections": 0, "requests": 0}
counters_lock = threading.Lock()
settings = {"basic_auth": None}


def gen(n, seed):
    """The bytes of /bytes/N?seed=S, in pieces."""
    r = random.Random(seed)
    while n > 0:
        k = min(CHUNK, n)
        yield r.randbytes(k)
        n -= k


def count(name):
    with counters_lock:
        counters[name] += 1


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "e2e-app/1"

    def setup(self):
        super().setup()
        with counters_lock:
            counters["connections"] += 1
            self.conn_id = counters["connections"]
        path = getattr(self.server, "resume_log", None)
        if path and isinstance(self.request, ssl.SSLSocket):
            try:
                self.request.do_handshake()
            except (OSError, ssl.SSLError):
                return  # the first read fails as it would have
            with open(path, "a") as f:
                f.write("%s\n" % ("resumed" if self.request.session_reused
                                   else "full"))

    def log_message(self, fmt, *args):
        sys.stderr.write("app: %s %s\n" % (self.address_string(), fmt % args))

    def reply(self, status, body, ctype="text/plain", extra=None):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def route(self):
        u = urllib.parse.urlsplit(self.path)
        return u.path, urllib.parse.parse_qs(u.query)

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        count("requests")
        path, q = self.route()
        if path == "/":
            self.reply(200, b"hello from the office\n")
        elif path.startswith(("/bytes/", "/cut/")):
            cut = path.startswith("/cut/")
            try:
                n = int(path.split("/", 2)[2])
                seed = int(q.get("seed", ["0"])[0])
                after = int(q.get("after", ["0"])[0]) if cut else n
            except ValueError:
                self.reply(400, b"bad number\n")
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(n))
            self.end_headers()
            if self.command == "HEAD":
                return
            for piece in gen(n, seed):
                if after <= 0:
                    break
                self.wfile.write(piece[:after])
                after -= len(piece)
            if cut:
                self.wfile.flush()
                self.close_connection = True
        elif path.startswith("/chunked/"):
            try:
                n = int(path.split("/", 2)[2])
                seed = int(q.get("seed", ["0"])[0])
            except ValueError:
                self.reply(400, b"bad number\n")
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            if self.command == "HEAD":
                return
            for piece in gen(n, seed):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\n\r\n")
        elif path == "/echo":
            # the request as it reached the app: start line, then fields
            lines = [self.requestline] + ["%s: %s" % kv
                                          for kv in self.headers.items()]
            self.reply(200, ("\n".join(lines) + "\n").encode())
        elif path == "/private":
            want = settings["basic_auth"]
            got = self.headers.get("Authorization", "")
            if want is not None and got != "Basic " + \
                    base64.b64encode(want.encode()).decode():
                self.reply(401, b"credentials needed\n",
                           extra={"WWW-Authenticate": 'Basic realm="app"'})
                return
            user = want.split(":", 1)[0] if want else "-"
            self.reply(200, ("private ok %s\n" % user).encode())
        elif path == "/respfields":
            self.reply(200, b"ok\n", extra={"X-App-Info": "app",
                                            "X-Debug-One": "1",
                                            "X-Debug-Two": "2"})
        elif path.startswith("/sleep/"):
            # /sleep/MS: the answer after MS milliseconds
            ms = int(path[len("/sleep/"):] or "0")
            time.sleep(min(ms, 30000) / 1000)
            self.reply(200, ("slept %d\n" % ms).encode())
        elif path.startswith("/text/"):
            self.reply(200, ("response %s\n" % path[len("/text/"):]).encode())
        elif path == "/stats":
            with counters_lock:
                body = json.dumps(counters).encode()
            self.reply(200, body, "application/json")
        elif path == "/ws":
            self.websocket()
        elif path == "/conn":
            self.reply(200, ("connection %d\n" % self.conn_id).encode())
        elif path == "/sse":
            self.sse(int(q.get("n", ["2"])[0]), q.get("gate", [""])[0])
        elif path == "/clen":
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            for v in q.get("f", ["5"]):
                self.send_header("Content-Length", v)
            self.end_headers()
            self.wfile.write(b"hello")
        else:
            self.reply(404, b"not found\n")

    def sse(self, n, gate):
        # Server-Sent Events, chunked: event i (from 2) only once the
        # file GATE.i exists, so that a client shows that event i-1
        # reached it before event i was sent
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for i in range(1, n + 1):
            if i > 1 and gate:
                deadline = time.monotonic() + 30
                while not os.path.exists("%s.%d" % (gate, i)):
                    if time.monotonic() > deadline:
                        return
                    time.sleep(0.01)
            ev = b"id: %d\ndata: event %d\n\n" % (i, i)
            self.wfile.write(b"%x\r\n%s\r\n" % (len(ev), ev))
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")

    def read_body(self):
        te = self.headers.get("Transfer-Encoding", "")
        if te.lower() == "chunked":
            parts = []
            while True:
                line = self.rfile.readline(1024)
                size = int(line.split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                parts.append(self.rfile.read(size))
                self.rfile.readline(16)
            return b"".join(parts)
        n = int(self.headers.get("Content-Length", "0"))
        return self.rfile.read(n)

    def read_body_into(self, h):
        """The request body into the hash h, in pieces; returns its length."""
        te = self.headers.get("Transfer-Encoding", "")
        total = 0
        if te.lower() == "chunked":
            while True:
                line = self.rfile.readline(1024)
                size = int(line.split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    return total
                total += self.read_into(h, size)
                self.rfile.readline(16)
        return self.read_into(h, int(self.headers.get("Content-Length", "0")))

    def read_into(self, h, n):
        got = 0
        while got < n:
            piece = self.rfile.read(min(CHUNK, n - got))
            if not piece:
                break
            h.update(piece)
            got += len(piece)
        return got

    def sink(self):
        h = hashlib.sha256()
        n = self.read_body_into(h)
        body = json.dumps({"length": n, "sha256": h.hexdigest()}).encode()
        self.reply(200, body, "application/json", {
            "X-Body-Length": str(n),
            "X-Body-SHA256": h.hexdigest(),
        })

    def do_POST(self):
        count("requests")
        path, _ = self.route()
        if path == "/sink":
            self.sink()
            return
        if path == "/fields":
            cl = self.headers.get("Content-Length", "0").split(",")[0]
            body = self.rfile.read(int(cl.strip() or "0"))
            lines = [self.requestline] + ["%s: %s" % kv
                                          for kv in self.headers.items()]
            self.reply(200, ("\n".join(lines) + "\nbody: ").encode() + body)
            return
        body = self.read_body()
        if path != "/echo":
            self.reply(404, b"not found\n")
            return
        self.reply(200, body, "application/octet-stream", {
            "X-Body-Length": str(len(body)),
            "X-Body-SHA256": hashlib.sha256(body).hexdigest(),
        })

    do_PUT = do_POST

    # WebSocket echo
    def websocket(self):
        key = self.headers.get("Sec-WebSocket-Key")
        if (self.headers.get("Upgrade", "").lower() != "websocket" or
                key is None):
            self.reply(400, b"not a websocket handshake\n")
            return
        accept = base64.b64encode(hashlib.sha1(
            (key + WS_GUID).encode()).digest()).decode()
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        self.end_headers()
        self.wfile.flush()
        self.close_connection = True
        while True:
            frame = ws_read(self.rfile)
            if frame is None:
                return
            opcode, payload = frame
            if opcode in (1, 2):
                self.wfile.write(ws_frame(opcode, payload))
            elif opcode == 9:
                self.wfile.write(ws_frame(10, payload))
            elif opcode == 8:
                self.wfile.write(ws_frame(8, payload[:2]))
                return


def read_exact(f, n):
    buf = b""
    while len(buf) < n:
        piece = f.read(n - len(buf))
        if not piece:
            return None
        buf += piece
    return buf


def ws_read(f):
    """One frame (fragments are not used by the tests): (opcode, payload)."""
    h = read_exact(f, 2)
    if h is None:
        return None
    opcode = h[0] & 0x0F
    masked = h[1] & 0x80
    n = h[1] & 0x7F
    if n == 126:
        n = struct.unpack(">H", read_exact(f, 2))[0]
    elif n == 127:
        n = struct.unpack(">Q", read_exact(f, 8))[0]
    mask = read_exact(f, 4) if masked else None
    payload = read_exact(f, n) if n else b""
    if payload is None:
        return None
    if mask:
        payload = ws_mask(payload, mask)
    return opcode, payload


def ws_mask(data, mask):
    m = (mask * (len(data) // 4 + 1))[:len(data)]
    return (int.from_bytes(data, "big") ^ int.from_bytes(m, "big")).to_bytes(
        len(data), "big")


def ws_frame(opcode, payload, mask=None):
    n = len(payload)
    head = bytes([0x80 | opcode])
    mbit = 0x80 if mask else 0
    if n < 126:
        head += bytes([mbit | n])
    elif n < 65536:
        head += bytes([mbit | 126]) + struct.pack(">H", n)
    else:
        head += bytes([mbit | 127]) + struct.pack(">Q", n)
    if mask:
        return head + mask + ws_mask(payload, mask)
    return head + payload


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024


class TLSServer(Server):
    ctx = None

    def get_request(self):
        sock, addr = self.socket.accept()
        # the handshake happens in the connection's thread, on first read
        return self.ctx.wrap_socket(sock, server_side=True,
                                    do_handshake_on_connect=False), addr


class EchoHandler(socketserver.BaseRequestHandler):
    def handle(self):
        s = self.request
        h = hashlib.sha256()
        s.sendall(b"hello\n")
        while True:
            data = s.recv(65536)
            if not data:
                break
            h.update(data)
            s.sendall(data)
        s.sendall(b"sha256 %s\n" % h.hexdigest().encode())
        s.shutdown(socket.SHUT_WR)


class EchoServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024


def serve(args):
    servers = [Server((args.addr, args.http_port), Handler)]
    if args.echo_port:
        servers.append(EchoServer((args.addr, args.echo_port), EchoHandler))
    if args.tls_port:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.cert, args.key)
        if args.tls12:
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        if args.sni_log:
            def sni(sock, name, ctx, path=args.sni_log):
                with open(path, "a") as f:
                    f.write("%s\n" % (name or "-"))
            ctx.sni_callback = sni
        tls = TLSServer((args.addr, args.tls_port), Handler)
        tls.ctx = ctx
        tls.resume_log = args.resume_log
        servers.append(tls)
    for s in servers[1:]:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    if args.ready:
        with open(args.ready, "w") as f:
            f.write("ready\n")
    servers[0].serve_forever()


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--addr", default="127.0.0.1")
    s.add_argument("--http-port", type=int, default=8080)
    s.add_argument("--tls-port", type=int, default=0)
    s.add_argument("--echo-port", type=int, default=0)
    s.add_argument("--cert")
    s.add_argument("--key")
    s.add_argument("--ready")
    s.add_argument("--sni-log")
    s.add_argument("--resume-log")
    s.add_argument("--basic-auth")
    s.add_argument("--tls12", action="store_true",
                   help="TLS 1.2 at most on --tls-port")
    g = sub.add_parser("gen")
    g.add_argument("n", type=int)
    g.add_argument("seed", type=int)
    m = sub.add_parser("sums")
    m.add_argument("n", type=int)
    m.add_argument("first", type=int)
    m.add_argument("last", type=int)
    args = p.parse_args()
    if args.cmd == "sums":
        for seed in range(args.first, args.last + 1):
            h = hashlib.sha256()
            for piece in gen(args.n, seed):
                h.update(piece)
            print(seed, h.hexdigest())
        return
    if args.cmd == "gen":
        out = sys.stdout.buffer
        for piece in gen(args.n, args.seed):
            out.write(piece)
        return
    settings["basic_auth"] = args.basic_auth
    serve(args)


if __name__ == "__main__":
    main()
