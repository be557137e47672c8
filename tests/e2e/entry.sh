#!/bin/bash
# The server's entry proxy reads the first request head before it opens a
# stream: garbage and oversized heads are answered there (400, 431) and
# never reach the tunnel; a well-formed request still does.
. "$(dirname "$0")/lib.sh"
e2e_up

# raw BYTES-EXPR: send python bytes to the entry proxy, print the status line
raw() {
	cloud "$PYTHON" -c 'import socket, sys
host, port = sys.argv[1].rsplit(":", 1)
s = socket.create_connection((host, int(port)), timeout=10)
s.sendall(eval(sys.argv[2]))
print(s.makefile("rb").readline().decode(errors="replace").strip())' "$ENTRY" "$1"
}

before=$(ctl_field streams-total)
line=$(raw 'b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"x" * 64')
case $line in "HTTP/1.1 400 "*) ;; *) fail "TLS bytes on the proxy port: '$line', want 400" ;; esac
ok "garbage on the entry port: 400 from the server"

line=$(raw 'b"GET http://x/ HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 40000 + b"\r\n\r\n"')
case $line in "HTTP/1.1 431 "*) ;; *) fail "a 40 KB head: '$line', want 431" ;; esac
ok "an oversized head: 431 from the server"

line=$(raw 'b"GET http://x/ HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"')
case $line in "HTTP/1.1 400 "*) ;; *) fail "CL and TE together: '$line', want 400" ;; esac
ok "Content-Length with Transfer-Encoding: 400"

after=$(ctl_field streams-total)
[ "$before" = "$after" ] ||
    fail "bad requests reached the tunnel: streams-total $before -> $after"
ok "none of them cost the tunnel a stream ($after streams)"

# a request written by hand still goes through
line=$(raw 'b"GET '"$(app_url /)"' HTTP/1.1\r\nHost: '"$APP_IP:$APP_PORT"'\r\nConnection: close\r\n\r\n"')
case $line in "HTTP/1.1 200 "*) ;; *) fail "a good request by hand: '$line'" ;; esac
body=$(browse "$(app_url /)") || fail "GET / failed after the bad requests"
[ "$body" = "hello from the office" ] || fail "GET /: '$body'"
ok "well-formed requests still go through"
e2e_done
