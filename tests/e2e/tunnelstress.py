#!/usr/bin/env python3
"""Many CONNECT tunnels at once to app.py's echo service, ending at
random moments around proxyd's hand-over of the tunnel to kgpd.

  tunnelstress.py PROXY_HOST:PORT TARGET_HOST:PORT N SEED

Each tunnel sends up to 2 MiB in pieces, pausing now and then so that
its end falls before, during or after the move (200 ms or 1 MiB); most
half-close and check that the echo and the service's closing digest are
exact, one in five instead resets the connection at a random point.
Prints "ok VERIFIED ABORTED" and exits 0 when every checked tunnel was
exact, or lists what went wrong and exits 1.
"""
import asyncio
import hashlib
import random
import socket
import struct
import sys

TIMEOUT = 30


async def one(host, port, target, rnd, results, i):
    stage = results["stage"]
    stage[i] = "connect"
    size = rnd.choice([0, 1, 100, 5000, 70000, 300000, 1100000, 2000000])
    pauses = [rnd.random() * 0.4 for _ in range(rnd.randint(0, 3))]
    abort = rnd.random() < 0.2
    payload = rnd.randbytes(size)
    r, w = await asyncio.open_connection(host, port)
    try:
        w.write(b"CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n"
                % (target.encode(), target.encode()))
        head = await r.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 200"):
            results["bad"].append("CONNECT answered %r" % head[:40])
            return
        if await r.readexactly(6) != b"hello\n":
            results["bad"].append("no hello")
            return

        async def reader():
            got = bytearray()
            while True:
                data = await r.read(262144)
                if not data:
                    return bytes(got)
                got += data

        stage[i] = "sending %d" % size
        rtask = asyncio.ensure_future(reader())
        cut = size // (len(pauses) + 1) if size else 0
        off = 0
        for p in pauses:
            w.write(payload[off:off + cut])
            off += cut
            await w.drain()
            await asyncio.sleep(p)
        if abort:
            w.write(payload[off:off + rnd.randint(0, size - off)])
            await w.drain()
            sock = w.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                            struct.pack("ii", 1, 0))
            w.close()
            rtask.cancel()
            stage[i] = "aborted"
            results["aborted"] += 1
            return
        w.write(payload[off:])
        await w.drain()
        w.write_eof()
        stage[i] = "reading %d" % size
        got = await asyncio.wait_for(rtask, TIMEOUT)
        stage[i] = "done"
        want = payload + b"sha256 %s\n" % \
            hashlib.sha256(payload).hexdigest().encode()
        if got != want:
            results["bad"].append("size %d: %d bytes back, %s" % (
                size, len(got), "prefix ok" if want.startswith(got)
                else "bytes differ"))
        else:
            results["ok"] += 1
    except (OSError, asyncio.IncompleteReadError,
            asyncio.TimeoutError) as e:
        if not abort:
            results["bad"].append("size %d: %s" % (size, e))
    finally:
        if not w.is_closing():
            w.close()


async def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    host, port = sys.argv[1].rsplit(":", 1)
    target, n, seed = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    rnd = random.Random(seed)
    results = {"ok": 0, "aborted": 0, "bad": [], "stage": {}}
    try:
        await asyncio.wait_for(asyncio.gather(*(
            one(host, int(port), target, random.Random(rnd.random()),
                results, i) for i in range(n))), TIMEOUT)
    except asyncio.TimeoutError:
        left = [v for v in results["stage"].values()
                if v not in ("done", "aborted")]
        print("tunnelstress: %d tunnels stuck after %d s: %s"
              % (len(left), TIMEOUT, ", ".join(left[:10])))
        sys.exit(1)
    if results["bad"]:
        print("tunnelstress: %d bad: %s" % (len(results["bad"]),
                                            "; ".join(results["bad"][:5])))
        sys.exit(1)
    print("ok %d %d" % (results["ok"], results["aborted"]))


if __name__ == "__main__":
    asyncio.run(main())
