"""TLS through an HTTP proxy, as a browser does it, for the e2e scripts.

  from proxytls import connect_tls
  t = connect_tls("127.0.0.1:PORT", "host:443", "sni.example" or None)

CONNECT to the target through the proxy, the answer's head read (it must
be a 200), then TLS with the SNI given (none: None), the certificate not
checked.  Returns the TLS socket.  The scripts that use it run with
PYTHONPATH set to this directory.
"""

import socket
import ssl


def connect_tls(proxy, target, sni, timeout=30):
    host, port = proxy.rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=timeout)
    s.sendall(b"CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" %
              (target.encode(), target.encode()))
    f = s.makefile("rb")
    status = f.readline()
    while f.readline() not in (b"\r\n", b""):
        pass
    if b" 200 " not in status:
        raise SystemExit("CONNECT answered %r" % status)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx.wrap_socket(s, server_hostname=sni)
