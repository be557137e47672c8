#!/usr/bin/env python3
"""A fake systemd NOTIFY_SOCKET: a datagram socket that writes each
notification it gets to a file, one line each, its lines joined by '|'.

	notify.py SOCKET OUT READYFILE

SOCKET: a path, or '@name' for an abstract socket.  READYFILE is made
once the socket is bound."""
import os
import socket
import sys

addr, out, ready = sys.argv[1:4]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("\0" + addr[1:] if addr.startswith("@") else addr)
if not addr.startswith("@"):
    os.chmod(addr, 0o666)
open(ready, "w").close()
with open(out, "a") as f:
    while True:
        msg = s.recv(4096).decode("ascii", "replace")
        f.write(msg.replace("\n", "|") + "\n")
        f.flush()
