#!/usr/bin/env python3
"""A farm of slow browsers: N connections through an HTTP proxy that each
GET a long answer and then stop reading it, or read it at a trickle.

  stallers.py PROXY URL N FIRST [RATE]

Each browser opens its own connection to PROXY (host:port), sends
"GET URL", reads the head and FIRST bytes of the body, then reads
nothing more (RATE 0, the default) or RATE bytes a second.  Once every
browser has its first bytes, or after 60 s, it prints
"stalled STALLED FAILED" and holds every connection open until its
standard input ends; then it closes them all and exits 0.
"""
import asyncio
import resource
import sys

START_TIMEOUT = 60


def counted(state):
    """Every browser has its first bytes or has failed: say so."""
    if state["stalled"] + state["failed"] >= state["n"] and \
            not state["started"].done():
        state["started"].set_result(None)


async def browser(host, port, url, first, rate, state, hold):
    authority = url.split("/")[2]
    try:
        r, w = await asyncio.open_connection(host, port)
    except OSError as e:
        state["failed"] += 1
        state["errors"].append("connect: %s" % e)
        counted(state)
        return
    try:
        w.write(("GET %s HTTP/1.1\r\nHost: %s\r\n\r\n"
                 % (url, authority)).encode())
        head = await r.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 200"):
            state["failed"] += 1
            state["errors"].append("answer %r" % head[:40])
            return
        got = 0
        while got < first:
            b = await r.read(first - got)
            if not b:
                raise EOFError("eof after %d bytes" % got)
            got += len(b)
        state["stalled"] += 1
        counted(state)
        while rate > 0 and not hold.done():
            await asyncio.sleep(1)
            b = await r.read(rate)
            if not b:
                break
        await hold
    except (OSError, EOFError, asyncio.IncompleteReadError,
            asyncio.LimitOverrunError) as e:
        state["failed"] += 1
        state["errors"].append(str(e))
    finally:
        counted(state)
        w.transport.abort()


async def main():
    proxy, url, n, first = sys.argv[1], sys.argv[2], int(sys.argv[3]), \
        int(sys.argv[4])
    rate = int(sys.argv[5]) if len(sys.argv) > 5 else 0
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n + 64:
        resource.setrlimit(resource.RLIMIT_NOFILE,
                           (min(hard, n + 64), hard))
    host, port = proxy.rsplit(":", 1)
    loop = asyncio.get_running_loop()
    hold = loop.create_future()
    state = {"n": n, "stalled": 0, "failed": 0, "errors": [],
             "started": loop.create_future()}
    tasks = []
    for _ in range(n):
        tasks.append(asyncio.ensure_future(
            browser(host, int(port), url, first, rate, state, hold)))
        await asyncio.sleep(0)
    try:
        await asyncio.wait_for(asyncio.shield(state["started"]),
                               START_TIMEOUT)
    except asyncio.TimeoutError:
        pass
    for e in state["errors"][:5]:
        print("error: %s" % e, flush=True)
    print("stalled %d %d" % (state["stalled"], state["failed"]), flush=True)
    await loop.run_in_executor(None, sys.stdin.read)
    hold.set_result(None)
    await asyncio.gather(*tasks, return_exceptions=True)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
