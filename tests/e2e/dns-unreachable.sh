#!/bin/bash
# A name server that does not answer: proxyd answers a request for a name
# it cannot resolve with a 502 that says so, within its resolver bound
# (5 s), not with a connect timeout after 10 s.  First the name server's
# port is closed (ICMP port unreachable), then it swallows the queries;
# a name in /etc/hosts still works, and so does the tunnel.  Office gets
# its own resolv.conf and hosts (ip netns exec mounts them).
. "$(dirname "$0")/lib.sh"
e2e_init
start_server
start_app
DNS_CLOSED=10.214.$N.53
DNS_SILENT=10.214.$N.54
office ip addr add "$DNS_CLOSED/32" dev lo
office ip addr add "$DNS_SILENT/32" dev lo
printf 'nameserver %s\n' "$DNS_CLOSED" | office_etc resolv.conf
printf '127.0.0.1 localhost\n%s app.e2e.test\n' "$APP_IP" | office_etc hosts
# CONNECT answered by proxyd, not resigned by the server
start_sc -B all
LIMIT_MS=7500		# proxyd's bound is 5000 ms; the rest is slack

now_ms() {
	echo $(( $(date +%s%N) / 1000000 ))
}

# cannot_resolve NAME HOW: a GET and a CONNECT to NAME get a 502 that
# says the name could not be resolved, soon
cannot_resolve() {
	local name=$1 how=$2 t0 ms code
	t0=$(now_ms)
	code=$(browse -o "$TMP/body" -w '%{http_code}' \
	    "http://$name:$APP_PORT/" 2>/dev/null)
	ms=$(( $(now_ms) - t0 ))
	[ "$code" = 502 ] ||
	    fail "$how: GET $name: status $code ($(cat "$TMP/body")), want 502"
	grep -q "cannot resolve $name" "$TMP/body" ||
	    fail "$how: the 502 does not say the name: $(cat "$TMP/body")"
	grep -q 'took longer' "$TMP/body" &&
	    fail "$how: reported as a connect timeout: $(cat "$TMP/body")"
	[ "$ms" -le "$LIMIT_MS" ] ||
	    fail "$how: GET $name took $ms ms, want at most $LIMIT_MS"
	ok "$how: GET $name: 502 '$(head -c 100 "$TMP/body")' in $ms ms"
	t0=$(now_ms)
	code=$(browse -p -o /dev/null -w '%{http_connect}' \
	    "http://$name:$APP_PORT/" 2>/dev/null)
	ms=$(( $(now_ms) - t0 ))
	[ "$code" = 502 ] || fail "$how: CONNECT $name: $code, want 502"
	[ "$ms" -le "$LIMIT_MS" ] ||
	    fail "$how: CONNECT $name took $ms ms, want at most $LIMIT_MS"
	ok "$how: CONNECT $name: 502 in $ms ms"
}

works() {
	local body
	body=$(BROWSE_TIMEOUT=5 browse "$1" 2>/dev/null) &&
	    [ "$body" = "hello from the office" ]
}

cannot_resolve nosuch.example "closed DNS port"
works "http://app.e2e.test:$APP_PORT/" ||
    fail "a name in office's /etc/hosts does not resolve"
works "$(app_url /)" || fail "the tunnel broke"
ok "a name from /etc/hosts and the app's address still work"

# a name server that swallows the queries (and counts them)
office "$PYTHON" -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 53))
open(sys.argv[2], "w").close()
while True:
    data, peer = s.recvfrom(4096)
    with open(sys.argv[2], "a") as f:
        f.write("query %d bytes from %s\n" % (len(data), peer[0]))
' "$DNS_SILENT" "$TMP/dns.ready" >"$TMP/dns.log" 2>&1 &
PIDS+=($!)
wait_for 5 test -f "$TMP/dns.ready" || fail "the silent name server did not start"
# written in place: proxyd reads it when it starts again
printf 'nameserver %s\n' "$DNS_SILENT" >"/etc/netns/$OFFICE/resolv.conf"
pid=$(ctl_field pid-proxyd)
[ -n "$pid" ] && [ "$pid" -gt 0 ] 2>/dev/null || fail "no pid-proxyd"
kill -KILL "$pid"
wait_for 10 works "$(app_url /)" || fail "no tunnel after proxyd's restart"
[ "$(ctl_field pid-proxyd)" != "$pid" ] || fail "proxyd was not restarted"

cannot_resolve silent.example "silent DNS"
n=$(grep -c '^query' "$TMP/dns.ready")
[ "$n" -ge 1 ] || fail "the silent name server got no query"
ok "the silent name server was asked $n times"
works "http://app.e2e.test:$APP_PORT/" ||
    fail "a name in /etc/hosts does not resolve with a silent name server"
ok "a name from /etc/hosts still works"
e2e_done
