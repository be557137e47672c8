#!/usr/bin/env python3
"""A REST API in front of sc-server's that answers some requests itself.

    restfault.py --listen ADDR:PORT --upstream ADDR:PORT --log FILE
        [--rule JSON ...]

Every request goes to the upstream REST API unchanged, unless a rule
takes it: a rule is a JSON object
    {"method": "GET", "path": REGEXP, "status": 429,
     "retry_after": 2, "count": 2, "after": "DELETE", "if_file": PATH,
     "delay": 1.5}
and takes the first `count` requests (all of them without one) whose
method and path (re.search) match, once a request with the method
`after` has been seen (at once without one), while the file `if_file`
exists (always without one).  It answers `status` with a JSON body
and, when retry_after is given, a Retry-After field; a rule with
`delay` and no `status` holds the request that many seconds and then
passes it on (a slow REST API).  Each
request is logged as "SECONDS METHOD PATH STATUS", SECONDS from a
monotonic clock.
"""
import argparse
import http.client
import os
import http.server
import json
import re
import sys
import threading
import time

REASONS = {401: "Unauthorized", 429: "Too Many Requests",
           503: "Service Unavailable"}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", required=True)
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--rule", action="append", default=[])
    a = ap.parse_args()
    rules = [json.loads(r) for r in a.rule]
    for r in rules:
        r["re"] = re.compile(r["path"])
        r["taken"] = 0
    seen = set()
    lock = threading.Lock()
    log = open(a.log, "a", buffering=1)
    uhost, uport = a.upstream.rsplit(":", 1)

    def pick(method, path):
        with lock:
            seen.add(method)
            for r in rules:
                if r["method"] != method or not r["re"].search(path):
                    continue
                if r.get("after") and r["after"] not in seen:
                    continue
                if r.get("if_file") and not os.path.exists(r["if_file"]):
                    continue
                if r.get("count") is not None and r["taken"] >= r["count"]:
                    continue
                r["taken"] += 1
                return r
        return None

    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def handle_one(self):
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n) if n else None
            r = pick(self.command, self.path)
            if r is not None and r.get("delay") is not None:
                time.sleep(r["delay"])
                if r.get("status") is None:
                    r = None
            if r is not None:
                status = r["status"]
                data = json.dumps({"message": "restfault: %d %s" % (
                    status, REASONS.get(status, ""))}).encode()
                self.send_response(status, REASONS.get(status))
                if r.get("retry_after") is not None:
                    self.send_header("Retry-After", str(r["retry_after"]))
                self.send_header("Content-Type", "application/json")
            else:
                hdrs = {k: v for k, v in self.headers.items()
                        if k.lower() not in ("connection", "host")}
                c = http.client.HTTPConnection(uhost, int(uport), timeout=20)
                c.request(self.command, self.path, body, hdrs)
                u = c.getresponse()
                data = u.read()
                status = u.status
                self.send_response(status, u.reason)
                ct = u.getheader("Content-Type")
                if ct:
                    self.send_header("Content-Type", ct)
                c.close()
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            log.write("%.3f %s %s %d\n" % (time.monotonic(), self.command,
                                            self.path, status))

        do_GET = do_POST = do_DELETE = do_PUT = handle_one

        def log_message(self, *args):
            pass

    host, port = a.listen.rsplit(":", 1)
    srv = http.server.ThreadingHTTPServer((host, int(port)), H)
    print("restfault listening on %s" % a.listen, flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
