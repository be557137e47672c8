#!/usr/bin/env python3
"""Peak RSS, CPU and descriptors of sc-server's and sc's processes, and
the server's listen queues, while a scenario runs.

  procpeak.py OUT SERVER_PID SC_PID [NAME=PORT ...]

Every 0.2 s it finds the processes by the tree under the two pids:
server (the sc-server parent), rest and kgp (its workers, by their -W
argument), sc, kgpd and proxyd (sc's children, by name).  A process
first seen has its peak reset (/proc/PID/clear_refs 5), so that VmHWM
counts from then; the peak of each is the largest VmHWM or VmRSS seen,
over every pid it had (a helper restarted counts with its successor).
Once a second: the most descriptors each process held, and the longest
accept queue of the server's listening sockets on each PORT (ss in the
server's network namespace).  CPU is the time the processes of each
name used over the run, in per cent of one core; cpu_machine, the
share of all the machine's cores busy (anyone's); listen_overflow and
listen_drop are the server namespace's TcpExt ListenOverflows and
ListenDrops over the run (connections the kernel refused because an
accept queue was full).  On SIGTERM it writes one line to OUT:

  server=KiB ... fd_server=N ... cpu_server=PCT ... cpu_machine=PCT
  q_NAME=N ...
  listen_overflow=N listen_drop=N

(0 for a process never seen) and exits.
"""

import os
import signal
import subprocess
import sys
import time

LABELS = ("server", "rest", "kgp", "sc", "kgpd", "proxyd")
TICK = os.sysconf("SC_CLK_TCK")


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


def cpu_ticks(pid):
    """utime + stime of a process, in clock ticks (None once gone)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()
    return int(fields[11]) + int(fields[12])


def machine_ticks():
    """(busy, all) clock ticks of every CPU since boot."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + (v[4] if len(v) > 4 else 0)
    return sum(v) - idle, sum(v)


def tcp_ext(pid):
    """The TcpExt counters of pid's network namespace."""
    try:
        with open("/proc/%d/net/netstat" % pid) as f:
            lines = f.read().splitlines()
    except OSError:
        return {}
    for names, values in zip(lines[::2], lines[1::2]):
        if names.startswith("TcpExt:"):
            return dict(zip(names.split()[1:],
                            (int(v) for v in values.split()[1:])))
    return {}


def accept_queues(pid, ports):
    """port -> the accept queue of the socket listening on it now."""
    try:
        out = subprocess.run(
            ["nsenter", "--net=/proc/%d/ns/net" % pid, "ss", "-ltnH"],
            capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    q = {}
    for line in out.splitlines():
        f = line.split()
        if len(f) < 4:
            continue
        port = f[3].rsplit(":", 1)[-1]
        if port in ports:
            q[port] = max(q.get(port, 0), int(f[1]))
    return q


def main():
    out, server, sc = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    watch = dict(a.split("=", 1) for a in sys.argv[4:])
    ports = {p: n for n, p in watch.items()}
    peak = dict.fromkeys(LABELS, 0)
    fds = dict.fromkeys(LABELS, 0)
    cpu = dict.fromkeys(LABELS, 0)
    queue = dict.fromkeys(watch, 0)
    ticks = {}
    seen = {}
    stop = []
    signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
    ext0 = tcp_ext(server)
    m0 = machine_ticks()
    start = last_fd = time.monotonic()
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
        each_second = now - last_fd >= 1.0
        if each_second:
            last_fd = now
            for port, n in accept_queues(server, ports).items():
                queue[ports[port]] = max(queue[ports[port]], n)
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
            t = cpu_ticks(p)
            if t is not None:
                # counted from the first sight of the process
                cpu[name] += t - ticks.get(p, t)
                ticks[p] = t
            if each_second:
                try:
                    fds[name] = max(fds[name],
                                    len(os.listdir("/proc/%d/fd" % p)))
                except OSError:
                    pass
        time.sleep(0.2)
    elapsed = max(time.monotonic() - start, 0.001)
    ext1 = tcp_ext(server)
    m1 = machine_ticks()
    fields = ["%s=%d" % (k, peak[k]) for k in LABELS]
    fields += ["fd_%s=%d" % (k, fds[k]) for k in LABELS]
    fields += ["cpu_%s=%d" % (k, round(100 * cpu[k] / TICK / elapsed))
               for k in LABELS]
    fields.append("cpu_machine=%d" % round(
        100 * (m1[0] - m0[0]) / max(m1[1] - m0[1], 1)))
    fields += ["q_%s=%d" % (k, queue[k]) for k in watch]
    for key, name in (("ListenOverflows", "listen_overflow"),
                      ("ListenDrops", "listen_drop")):
        fields.append("%s=%d" % (name, ext1.get(key, 0) - ext0.get(key, 0)))
    with open(out, "w") as f:
        f.write(" ".join(fields) + "\n")


if __name__ == "__main__":
    main()
