#!/usr/bin/env python3
"""Helpers of bench/run.sh.

  helpers.py idle PROXY_HOST PROXY_PORT TARGET N
      Open N CONNECT streams to TARGET (host:port) through the HTTP proxy,
      wait for every 2xx answer, print "open OK FAILED" and hold them all
      until stdin closes (or a line arrives); then close them.

  helpers.py xfer down|up PROXY|- APP PATH N SIZE [FILE]
      N parallel streams (threads), each a fresh connection: down GETs
      http://APP/PATH and reads SIZE bytes of body into a 1 MiB buffer;
      up POSTs SIZE bytes of FILE (sendfile) to http://APP/PATH. Through
      PROXY (host:port) with absolute-form requests, through a CONNECT
      tunnel with tunnel:host:port, or directly with "-".
      Prints the total MB/s, or "-" if a stream failed.

  helpers.py page PROXY|- APP PATH N CONNS keep|fresh
      N GETs of http://APP/PATH over CONNS connections at once, each
      kept alive for as many requests as the server allows (keep), or
      a fresh connection for each (fresh), as a browser loads a page.
      Prints the milliseconds until the last body is read, or "-".

  helpers.py ttfb PROXY|- APP PATH N
      N GETs one after the other, each on a fresh connection: prints
      the median and the largest time from the start of the connection
      to the first byte of the answer, in milliseconds.

  helpers.py hol PROXY|- APP BULKPATH PATH N [fresh|keep [PID]]
      The same as ttfb while one bulk download of BULKPATH runs through
      the same proxy (started 2 s before, read as fast as it comes):
      a small request behind a bulk stream.  Prints the median and
      the largest time to first byte, and the bulk's MB/s meanwhile.
      keep: the N requests go one after the other on one connection
      opened before the bulk starts, so that each takes one round trip
      of the path, as a request of ours does (the entry proxy is next
      to the load generator), where a fresh connection's takes two
      (the TCP handshake first).  PID: sent SIGUSR1 when the
      measurement starts and when it ends (bench/linkemu.c's queue
      depth report).

  helpers.py ready N READYFILE -- SC ARGS...
      Start SC ARGS N times; each time measure the time from the start of
      the process to the appearance of READYFILE, then stop it (SIGTERM)
      and wait. Prints the N times in milliseconds, one a line.
"""
import asyncio
import os
import resource
import signal
import subprocess
import sys
import time


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


async def idle(host, port, target, n):
    raise_nofile()
    streams = []
    failed = 0
    sem = asyncio.Semaphore(200)  # how many handshakes at once

    async def one():
        nonlocal failed
        async with sem:
            try:
                r, w = await asyncio.wait_for(
                    asyncio.open_connection(host, port), 30)
                w.write(b"CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n"
                        % (target.encode(), target.encode()))
                head = await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), 30)
                if head[8:10] != b" 2":
                    failed += 1
                    w.close()
                    return
                streams.append((r, w))
            except (OSError, asyncio.TimeoutError,
                    asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                failed += 1

    await asyncio.gather(*(one() for _ in range(n)))
    print("open %d %d" % (len(streams), failed), flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.readline)
    for _, w in streams:
        w.close()


def ready(n, readyfile, argv):
    for _ in range(n):
        try:
            os.unlink(readyfile)
        except FileNotFoundError:
            pass
        t0 = time.monotonic()
        p = subprocess.Popen(argv, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        ok = False
        while time.monotonic() - t0 < 30:
            if os.path.exists(readyfile):
                ok = True
                break
            if p.poll() is not None:
                break
            time.sleep(0.001)
        t = time.monotonic() - t0
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        print("%.1f" % (t * 1000) if ok else "fail", flush=True)
        time.sleep(0.2)


def xfer_one(direction, proxy, app, path, size, file, errors):
    import socket
    tunnel = proxy.startswith("tunnel:")
    if tunnel:
        proxy = proxy[len("tunnel:"):]
    host, port = (proxy if proxy != "-" else app).rsplit(":", 1)
    target = "http://%s%s" % (app, path) if proxy != "-" and not tunnel \
        else path
    try:
        s = socket.create_connection((host, int(port)), 30)
        s.settimeout(300)
        if tunnel:
            s.sendall(b"CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n"
                      % (app.encode(), app.encode()))
            head = b""
            while b"\r\n\r\n" not in head:
                n = s.recv(1)
                if not n:
                    raise OSError("eof in the answer to CONNECT")
                head += n
            if head[8:12] != b" 200":
                raise OSError("CONNECT: %r" % head[:40])
        if direction == "down":
            s.sendall(b"GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close"
                      b"\r\n\r\n" % (target.encode(), app.encode()))
        else:
            s.sendall(b"POST %s HTTP/1.1\r\nHost: %s\r\nConnection: close"
                      b"\r\nContent-Length: %d\r\n\r\n"
                      % (target.encode(), app.encode(), size))
            with open(file, "rb") as f:
                if s.sendfile(f, 0, size) != size:
                    raise OSError("short upload")
        buf = bytearray(1 << 20)
        mv = memoryview(buf)
        head = b""
        while b"\r\n\r\n" not in head:
            n = s.recv_into(mv)
            if n == 0:
                raise OSError("eof in header")
            head += bytes(mv[:n])
        head, body = head.split(b"\r\n\r\n", 1)
        status = head.split(b" ", 2)[1]
        if direction == "up":
            if status != b"204":
                raise OSError("status %s" % status)
        else:
            if status != b"200":
                raise OSError("status %s" % status)
            got = len(body)
            while got < size:
                n = s.recv_into(mv)
                if n == 0:
                    raise OSError("eof after %d" % got)
                got += n
        s.close()
    except OSError as e:
        errors.append(str(e))


def xfer(direction, proxy, app, path, n, size, file):
    import threading
    errors = []
    t = run_threads([threading.Thread(
        target=xfer_one, args=(direction, proxy, app, path, size, file,
                               errors)) for _ in range(n)], errors, "xfer")
    if t is not None:
        # XFER_DECIMALS: digits after the point (bench/wan.sh: 1)
        print("%.*f" % (int(os.environ.get("XFER_DECIMALS", "0")),
                        n * size / t / 1e6))


def run_threads(threads, errors, name):
    """Start the threads, wait for them all: the seconds they took, or
    None (and "-" printed) if any failed."""
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        print("-")
        print("%s: %s" % (name, errors[0]), file=sys.stderr)
        return None
    return time.monotonic() - t0


def http_open(proxy, app):
    """A connected socket to the proxy (or the app), and the target of
    the request line."""
    import socket
    host, port = (proxy if proxy != "-" else app).rsplit(":", 1)
    s = socket.create_connection((host, int(port)), 30)
    s.settimeout(60)
    return s


def http_get(s, proxy, app, path, first=None):
    """One GET on s; returns (body bytes, keep-alive).  first(): called
    when the first byte of the answer arrives."""
    target = "http://%s%s" % (app, path) if proxy != "-" else path
    s.sendall(b"GET %s HTTP/1.1\r\nHost: %s\r\n\r\n"
              % (target.encode(), app.encode()))
    head = b""
    while b"\r\n\r\n" not in head:
        n = s.recv(65536)
        if not n:
            raise OSError("eof in header")
        if not head and first is not None:
            first()
        head += n
    head, body = head.split(b"\r\n\r\n", 1)
    lines = head.split(b"\r\n")
    if lines[0].split(b" ")[1] != b"200":
        raise OSError("status %r" % lines[0])
    length = None
    keep = not lines[0].startswith(b"HTTP/1.0")
    for ln in lines[1:]:
        k, _, v = ln.partition(b":")
        k = k.strip().lower()
        v = v.strip().lower()
        if k == b"content-length":
            length = int(v)
        elif k in (b"connection", b"proxy-connection"):
            keep = v == b"keep-alive" or (keep and v != b"close")
    got = len(body)
    while length is None or got < length:
        n = s.recv(1 << 20)
        if not n:
            if length is None:
                return got, False
            raise OSError("eof after %d" % got)
        got += len(n)
    return got, keep


def page(proxy, app, path, n, conns, mode):
    import threading
    errors = []
    lock = threading.Lock()
    todo = [n]

    def take():
        with lock:
            if todo[0] == 0:
                return False
            todo[0] -= 1
            return True

    def worker():
        s = None
        try:
            while take():
                if s is not None:
                    try:
                        _, keep = http_get(s, proxy, app, path)
                    except OSError:
                        # a kept connection the server closed: as a
                        # browser does, ask again on a new one
                        s.close()
                        s = None
                if s is None:
                    s = http_open(proxy, app)
                    _, keep = http_get(s, proxy, app, path)
                if mode == "fresh" or not keep:
                    s.close()
                    s = None
        except OSError as e:
            errors.append(str(e))
        if s is not None:
            s.close()

    t = run_threads([threading.Thread(target=worker)
                     for _ in range(conns)], errors, "page")
    if t is not None:
        print("%.1f" % (t * 1000))


def ttfb_list(proxy, app, path, n):
    times = []
    for _ in range(n):
        t0 = time.monotonic()
        mark = []
        s = http_open(proxy, app)
        http_get(s, proxy, app, path,
                 lambda: mark.append(time.monotonic()))
        s.close()
        times.append((mark[0] - t0) * 1000)
        time.sleep(0.05)
    times.sort()
    return times


def ttfb(proxy, app, path, n):
    try:
        t = ttfb_list(proxy, app, path, n)
    except OSError as e:
        print("- -")
        print("ttfb: %s" % e, file=sys.stderr)
        return
    print("%.1f %.1f" % (t[len(t) // 2], t[-1]))


def ttfb_kept(s, proxy, app, path, n):
    times = []
    for _ in range(n):
        t0 = time.monotonic()
        mark = []
        _, keep = http_get(s, proxy, app, path,
                           lambda: mark.append(time.monotonic()))
        if not keep:
            raise OSError("the kept connection was closed")
        times.append((mark[0] - t0) * 1000)
        time.sleep(0.05)
    times.sort()
    return times


def hol(proxy, app, bulk, path, n, mode="fresh", pid=0):
    import threading
    stop = threading.Event()
    got = [0]
    err = []
    kept = None
    if mode == "keep":
        try:
            kept = http_open(proxy, app)
            http_get(kept, proxy, app, path)
        except OSError as e:
            print("- - -")
            print("hol: %s" % e, file=sys.stderr)
            return

    def reader():
        try:
            s = http_open(proxy, app)
            target = "http://%s%s" % (app, bulk) if proxy != "-" else bulk
            s.sendall(b"GET %s HTTP/1.1\r\nHost: %s\r\n"
                      b"Connection: close\r\n\r\n"
                      % (target.encode(), app.encode()))
            buf = bytearray(1 << 20)
            while not stop.is_set():
                k = s.recv_into(buf)
                if k == 0:
                    err.append("the bulk download ended first")
                    break
                got[0] += k
            s.close()
        except OSError as e:
            err.append(str(e))

    th = threading.Thread(target=reader)
    th.start()
    time.sleep(2)
    g0, t0 = got[0], time.monotonic()
    if pid:
        os.kill(pid, signal.SIGUSR1)
    try:
        if kept is not None:
            t = ttfb_kept(kept, proxy, app, path, n)
        else:
            t = ttfb_list(proxy, app, path, n)
    except OSError as e:
        err.append(str(e))
    if pid:
        os.kill(pid, signal.SIGUSR1)
    rate = (got[0] - g0) / (time.monotonic() - t0) / 1e6
    stop.set()
    th.join()
    if kept is not None:
        kept.close()
    if err:
        print("- - -")
        print("hol: %s" % err[0], file=sys.stderr)
    else:
        print("%.1f %.1f %.1f" % (t[len(t) // 2], t[-1], rate))


def main():
    if len(sys.argv) == 6 and sys.argv[1] == "idle":
        asyncio.run(idle(sys.argv[2], int(sys.argv[3]), sys.argv[4],
                         int(sys.argv[5])))
    elif len(sys.argv) in (8, 9) and sys.argv[1] == "xfer":
        xfer(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5],
             int(sys.argv[6]), int(sys.argv[7]),
             sys.argv[8] if len(sys.argv) == 9 else None)
    elif len(sys.argv) == 8 and sys.argv[1] == "page":
        page(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]),
             int(sys.argv[6]), sys.argv[7])
    elif len(sys.argv) == 6 and sys.argv[1] == "ttfb":
        ttfb(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
    elif len(sys.argv) in (7, 8, 9) and sys.argv[1] == "hol":
        hol(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5],
            int(sys.argv[6]), sys.argv[7] if len(sys.argv) > 7 else "fresh",
            int(sys.argv[8]) if len(sys.argv) > 8 else 0)
    elif len(sys.argv) > 5 and sys.argv[1] == "ready" and sys.argv[4] == "--":
        ready(int(sys.argv[2]), sys.argv[3], sys.argv[5:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
