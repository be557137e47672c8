#!/usr/bin/env python3
"""Peak RSS of sc-server's and sc's processes while a scenario runs.

  procpeak.py OUT SERVER_PID SC_PID

Every 0.2 s it finds the processes by the tree under the two pids:
server (the sc-server parent), rest and kgp (its workers, by their -W
argument), sc, kgpd and proxyd (sc's children, by name).  A process
first seen has its peak reset (/proc/PID/clear_refs 5), so that VmHWM
counts from then; the peak of each is the largest VmHWM or VmRSS seen,
over every pid it had (a helper restarted counts with its successor).
Also the most descriptors each process held (once a second).  On SIGTERM
it writes one line to OUT:

  server=KiB rest=KiB kgp=KiB sc=KiB kgpd=KiB proxyd=KiB fd_rest=N ...

(0 for a process never seen) and exits.
"""

import os
import signal
import sys
import time

LABELS = ("server", "rest", "kgp", "sc", "kgpd", "proxyd")


def children():
    """pid -> parent pid, for every process."""
    tree = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                stat = f.read()
        except OSError:
            continue
        # the name may hold spaces and parentheses: cut after the last ")"
        tree[int(d)] = int(stat[stat.rindex(")") + 2:].split()[1])
    return tree


def label(pid, server, sc):
    if pid == server:
        return "server"
    if pid == sc:
        return "sc"
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            argv = f.read().split(b"\0")
        with open("/proc/%d/comm" % pid) as f:
            comm = f.read().strip()
    except OSError:
        return None
    if b"-W" in argv:
        w = argv[argv.index(b"-W") + 1:argv.index(b"-W") + 2]
        if w in ([b"rest"], [b"kgp"]):
            return w[0].decode()
    if comm in ("kgpd", "proxyd"):
        return comm
    return None


def status_kib(pid):
    rss = hwm = 0
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
                elif line.startswith("VmHWM:"):
                    hwm = int(line.split()[1])
    except OSError:
        pass
    return rss, hwm


def main():
    out, server, sc = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    peak = dict.fromkeys(LABELS, 0)
    fds = dict.fromkeys(LABELS, 0)
    seen = {}
    stop = []
    signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
    last_fd = 0.0
    while not stop:
        tree = children()
        todo = [server, sc]
        found = []
        while todo:
            p = todo.pop()
            if p not in tree:
                continue
            found.append(p)
            todo.extend(c for c, pp in tree.items() if pp == p)
        now = time.monotonic()
        count_fds = now - last_fd >= 1.0
        if count_fds:
            last_fd = now
        for p in found:
            if p not in seen:
                seen[p] = label(p, server, sc)
                if seen[p] is not None:
                    try:
                        with open("/proc/%d/clear_refs" % p, "w") as f:
                            f.write("5")
                    except OSError:
                        pass
            name = seen[p]
            if name is None:
                continue
            rss, hwm = status_kib(p)
            peak[name] = max(peak[name], rss, hwm)
            if count_fds:
                try:
                    fds[name] = max(fds[name],
                                    len(os.listdir("/proc/%d/fd" % p)))
                except OSError:
                    pass
        time.sleep(0.2)
    with open(out, "w") as f:
        f.write(" ".join("%s=%d" % (k, peak[k]) for k in LABELS) + " " +
                " ".join("fd_%s=%d" % (k, fds[k]) for k in LABELS) + "\n")


if __name__ == "__main__":
    main()
