#!/usr/bin/env python3
"""Bytes to a server exactly as given, and what comes back.

  rawhttp.py HOST:PORT [TIMEOUT] < request

Connects, sends stdin as it is ("\\n" is not made "\\r\\n": write the CRs),
half-closes only when asked (a last line "#shut"), and prints all it
receives until the server closes or is silent for TIMEOUT seconds
(default 5).  For requests curl would not send: pipelined ones, lists in
framing fields.
"""

import socket
import sys


def main():
    host, port = sys.argv[1].rsplit(":", 1)
    timeout = float(sys.argv[2]) if len(sys.argv) > 2 else 5.0
    data = sys.stdin.buffer.read()
    shut = data.endswith(b"#shut\n")
    if shut:
        data = data[:-len(b"#shut\n")]
    s = socket.create_connection((host.strip("[]"), int(port)), timeout=10)
    s.sendall(data)
    if shut:
        s.shutdown(socket.SHUT_WR)
    s.settimeout(timeout)
    out = sys.stdout.buffer
    try:
        while True:
            piece = s.recv(65536)
            if not piece:
                break
            out.write(piece)
    except socket.timeout:
        pass
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
