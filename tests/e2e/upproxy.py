#!/usr/bin/env python3
"""A small upstream ("corporate") HTTP proxy for the end-to-end tests.

It forwards absolute-form requests (GET http://host/...) and opens
tunnels for CONNECT, optionally demanding Basic proxy authentication.
Every request is one line of the log file:

    REQ <method> <target> user=<user or -> auth=<ok|bad|none|free> status=<n>

(the password is never written).  --mark sets SO_MARK on the proxy's
own upstream sockets, so that a firewall can let only them through.
With --cert and --key it is an https:// proxy: the same, inside TLS.
"""
import argparse
import base64
import http.client
import http.server
import socket
import ssl
import sys
import threading
import time
import urllib.parse

SO_MARK = 36


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--addr", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--auth", help="user:password the proxy demands")
    p.add_argument("--auth-connect-only", action="store_true",
                   help="demand the credentials for CONNECT only")
    p.add_argument("--mark", type=int, default=0)
    p.add_argument("--log", required=True)
    p.add_argument("--ready", help="file created once listening")
    p.add_argument("--cert", help="TLS to the proxy: its certificate")
    p.add_argument("--key", help="... and its key")
    p.add_argument("--connect-answer", default="normal",
                   choices=("normal", "trickle", "extra", "garbage", "big",
                            "silent"),
                   help="how CONNECT is answered: trickle = a 100 then "
                   "the 200, a byte at a time; extra = bytes past the "
                   "200; garbage = no HTTP; big = a 200 head of 9 KiB; silent = "
                   "no answer")
    return p.parse_args()


ARGS = parse_args()
LOG = open(ARGS.log, "a", buffering=1)
LOCK = threading.Lock()


def log(line):
    with LOCK:
        LOG.write(line + "\n")
        LOG.flush()


def upstream(host, port, timeout=10):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if ARGS.mark:
        s.setsockopt(socket.SOL_SOCKET, SO_MARK, ARGS.mark)
    s.settimeout(timeout)
    s.connect((host, port))
    s.settimeout(None)
    return s


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def check_auth(self):
        """(user, verdict): ok, bad, none, or free (nothing asked)."""
        got = self.headers.get("Proxy-Authorization")
        user = "-"
        verdict = "none"
        if got:
            verdict = "bad"
            parts = got.split(None, 1)
            if len(parts) == 2 and parts[0].lower() == "basic":
                try:
                    dec = base64.b64decode(parts[1], validate=True)
                    dec = dec.decode("utf-8")
                    user = dec.split(":", 1)[0] or "-"
                    if ARGS.auth is not None and dec == ARGS.auth:
                        verdict = "ok"
                except (ValueError, UnicodeDecodeError):
                    pass
        if ARGS.auth is None or (ARGS.auth_connect_only and
                                 self.command != "CONNECT"):
            if verdict != "ok":
                verdict = "free"
        return user, verdict

    def refuse(self, user, verdict):
        log("REQ %s %s user=%s auth=%s status=407" %
            (self.command, self.path, user, verdict))
        body = b"proxy authentication required\n"
        self.send_response(407, "Proxy Authentication Required")
        self.send_header("Proxy-Authenticate", 'Basic realm="e2e"')
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_CONNECT(self):
        user, verdict = self.check_auth()
        if verdict not in ("ok", "free"):
            self.refuse(user, verdict)
            return
        host, _, port = self.path.rpartition(":")
        try:
            up = upstream(host.strip("[]"), int(port))
        except (OSError, ValueError) as e:
            log("REQ CONNECT %s user=%s auth=%s status=502 (%s)" %
                (self.path, user, verdict, e))
            self.send_response(502)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        log("REQ CONNECT %s user=%s auth=%s status=200" %
            (self.path, user, verdict))
        self.close_connection = True
        cli = self.connection
        mode = ARGS.connect_answer
        if mode == "trickle":
            for b in (b"HTTP/1.1 100 Continue\r\n\r\n"
                      b"HTTP/1.1 200 Connection established\r\n"
                      b"Via: 1.1 e2e\r\n\r\n"):
                cli.sendall(bytes([b]))
                time.sleep(0.005)
        elif mode == "extra":
            cli.sendall(b"HTTP/1.1 200 OK\r\n\r\nSURPRISE")
        elif mode == "garbage":
            cli.sendall(b"SSH-2.0-OpenSSH_9.2\r\n\r\n")
        elif mode == "silent":
            pass
        elif mode == "big":
            cli.sendall(b"HTTP/1.1 200 OK\r\n" +
                        b"X-Pad: " + b"x" * 9000 + b"\r\n\r\n")
        else:
            self.send_response_only(200, "Connection established")
            self.end_headers()
            self.wfile.flush()
        if mode == "silent":
            time.sleep(15)
            up.close()
            return
        if mode in ("extra", "garbage", "big"):
            time.sleep(2)
            up.close()
            return

        def to_up():
            how = socket.SHUT_WR
            try:
                while True:
                    data = self.rfile.read1(65536)
                    if not data:
                        break
                    up.sendall(data)
            except OSError:
                how = socket.SHUT_RDWR   # reset: end the other way too
            try:
                up.shutdown(how)
            except OSError:
                pass

        t = threading.Thread(target=to_up, daemon=True)
        t.start()
        try:
            while True:
                data = up.recv(65536)
                if not data:
                    break
                cli.sendall(data)
        except OSError:
            pass
        try:
            cli.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        t.join(timeout=30)
        # one side broke (RST): break the other too
        for s in (cli, up):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        up.close()

    def forward(self):
        user, verdict = self.check_auth()
        if verdict not in ("ok", "free"):
            self.refuse(user, verdict)
            return
        u = urllib.parse.urlsplit(self.path)
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else None
        hdrs = {k: v for k, v in self.headers.items()
                if k.lower() not in ("proxy-connection", "connection",
                                     "proxy-authorization", "keep-alive")}
        try:
            c = http.client.HTTPConnection(u.hostname, u.port or 80,
                                           timeout=20)
            c.sock = upstream(u.hostname, u.port or 80)
            path = u.path + ("?" + u.query if u.query else "")
            c.request(self.command, path, body, hdrs)
            r = c.getresponse()
            data = r.read()
            c.close()
        except OSError as e:
            log("REQ %s %s user=%s auth=%s status=502 (%s)" %
                (self.command, self.path, user, verdict, e))
            self.send_response(502)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        log("REQ %s %s user=%s auth=%s status=%d" %
            (self.command, self.path, user, verdict, r.status))
        self.send_response(r.status)
        for k, v in r.getheaders():
            if k.lower() not in ("content-length", "connection",
                                 "transfer-encoding", "keep-alive"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_DELETE = do_PUT = do_HEAD = forward


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        # a client connection reset (ss -K) is part of the tests
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def main():
    srv = Server((ARGS.addr, ARGS.port), Handler)
    if ARGS.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(ARGS.cert, ARGS.key)
        # the handshake in the connection's thread, on its first read
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True,
                                     do_handshake_on_connect=False)
    if ARGS.ready:
        open(ARGS.ready, "w").close()
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
