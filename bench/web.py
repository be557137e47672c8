#!/usr/bin/env python3
"""The Tunnels web page with 1,000 tunnels registered (issue 19).

Starts sc-server on loopback (a state directory of its own), makes four
accounts and 250 tunnels each over the REST API (the last three
accounts' tunnels shared, so that the first one sees all 1,000 on its
page), signs the first one in, and measures on one kept-alive
connection, each request N times:

  page     GET /               the tunnels page, 1,000 rows
  json     GET /tunnels.json   its JSON view
  rest     GET /rest/v1/u0/tunnels?full=true   the REST list (250: an
           account has at most 256), the registry holding 1,000
  rest-ids GET /rest/v1/u0/tunnels             ids only

Server time is the time from the request's last byte sent to the
answer's first byte read (the server answers in one piece once it has
made the body); loopback adds some microseconds.  It prints the median
and the 90th percentile against the targets of issue 19 (page <= 100 ms,
REST list <= 20 ms).  It asserts nothing: exit 0 unless the set-up
fails.

    bench/web.py [-n requests] [BUILDDIR]
"""
import argparse
import base64
import concurrent.futures
import json
import os
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse

REST = ("127.0.0.1", 15400)
KGP = ("127.0.0.1", 15443)
ACCOUNTS = 4
PER_ACCOUNT = 250
TARGETS = {"page": 100.0, "json": 100.0, "rest": 20.0, "rest-ids": 20.0}

ap = argparse.ArgumentParser()
ap.add_argument("-n", type=int, default=50)
ap.add_argument("builddir", nargs="?", default="build")
args = ap.parse_args()
top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
server = os.path.join(top, args.builddir, "server", "sc-server")
if not os.access(server, os.X_OK):
    sys.exit("bench/web.py: %s is not built" % server)


def request(sock, method, path, headers=None, body=b""):
    """One request on sock; (status, headers, body, seconds to the
    first byte)."""
    h = {"Host": "%s:%d" % REST, "Content-Length": str(len(body))}
    h.update(headers or {})
    req = ("%s %s HTTP/1.1\r\n" % (method, path) +
           "".join("%s: %s\r\n" % kv for kv in h.items()) +
           "\r\n").encode() + body
    sock.sendall(req)
    t0 = time.perf_counter()
    buf = sock.recv(65536)
    ttfb = time.perf_counter() - t0
    while b"\r\n\r\n" not in buf:
        buf += sock.recv(65536)
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    hdrs = {}
    for ln in lines[1:]:
        k, v = ln.split(":", 1)
        hdrs.setdefault(k.strip().lower(), []).append(v.strip())
    n = int(hdrs["content-length"][0])
    while len(rest) < n:
        rest += sock.recv(1 << 20)
    return status, hdrs, rest, ttfb


def connect():
    return socket.create_connection(REST, timeout=30)


def basic(user, key):
    return {"Authorization": "Basic " +
            base64.b64encode(("%s:%s" % (user, key)).encode()).decode()}


def make_tunnels(user, key, shared):
    s = connect()
    body = json.dumps({"tunnel_identifier": "", "shared_tunnel": shared,
                       "metadata": {"hostname": "bench", "git_version":
                                    "1.0", "command": "sc -i bench"}})
    for i in range(PER_ACCOUNT):
        b = body.replace('"tunnel_identifier": ""',
                         '"tunnel_identifier": "%s-%03d"' % (user, i))
        st, _, ans, _ = request(s, "POST", "/rest/v1/%s/tunnels" % user,
                                dict(basic(user, key), **{
                                    "Content-Type": "application/json"}),
                                b.encode())
        if st != 200:
            raise SystemExit("POST tunnel of %s: %d %s" % (user, st, ans))
    s.close()


def main():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    tmp = tempfile.mkdtemp(prefix="sc-bench-web.")
    state = os.path.join(tmp, "state")
    proc = None
    try:
        keys = {}
        for i in range(ACCOUNTS):
            u = "u%d" % i
            keys[u] = subprocess.run([server, "-s", state, "user", "add", u],
                                     check=True, capture_output=True,
                                     text=True).stdout.strip()
        log = open(os.path.join(tmp, "server.log"), "w")
        proc = subprocess.Popen([server, "-d", "-s", state,
                                 "-R", "%s:%d" % REST, "-K", "%s:%d" % KGP],
                                stdout=log, stderr=log)
        for _ in range(100):
            try:
                connect().close()
                break
            except OSError:
                time.sleep(0.1)
        t0 = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(ACCOUNTS) as ex:
            list(ex.map(lambda i: make_tunnels("u%d" % i, keys["u%d" % i],
                                               i > 0), range(ACCOUNTS)))
        print("%d tunnels registered in %.1f s" %
              (ACCOUNTS * PER_ACCOUNT, time.monotonic() - t0))

        s = connect()
        st, h, body, _ = request(s, "GET", "/signin")
        jar = "; ".join(c.split(";", 1)[0] for c in h.get("set-cookie", []))
        csrf = re.search(rb'name="csrf" value="([0-9a-f]+)"', body).group(1)
        form = urllib.parse.urlencode({"csrf": csrf.decode(), "user": "u0",
                                       "key": keys["u0"]}).encode()
        st, h, _, _ = request(s, "POST", "/signin", {
            "Cookie": jar,
            "Content-Type": "application/x-www-form-urlencoded"}, form)
        if st != 303:
            raise SystemExit("sign-in: %d" % st)
        cookie = "; ".join(c.split(";", 1)[0]
                           for c in h.get("set-cookie", [])
                           if c.startswith("sc_session="))
        what = {
            "page": ("/", {"Cookie": cookie}),
            "json": ("/tunnels.json", {"Cookie": cookie}),
            "rest": ("/rest/v1/u0/tunnels?full=true", basic("u0", keys["u0"])),
            "rest-ids": ("/rest/v1/u0/tunnels", basic("u0", keys["u0"])),
        }
        print("%-9s %6s %9s %9s %9s %8s  %s" % ("request", "rows", "bytes",
                                                "p50 ms", "p90 ms",
                                                "target", "met"))
        for name, (path, hdrs) in what.items():
            times = []
            for _ in range(args.n):
                st, _, body, ttfb = request(s, "GET", path, hdrs)
                if st != 200:
                    raise SystemExit("%s: %d" % (path, st))
                times.append(ttfb * 1000)
            if name == "page":
                rows = body.count(b"<tr data-id=")
            elif name == "json":
                rows = len(json.loads(body)["tunnels"])
            else:
                rows = len(json.loads(body))
            times.sort()
            p50 = statistics.median(times)
            p90 = times[int(len(times) * 0.9) - 1]
            print("%-9s %6d %9d %9.2f %9.2f %8.0f  %s" %
                  (name, rows, len(body), p50, p90, TARGETS[name],
                   "yes" if p90 <= TARGETS[name] else "NO"))
        s.close()
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(tmp, ignore_errors=True)


main()
