#!/bin/bash
# sc-ctl: status, stop, verbose; the control socket's mode and default
# path; clear errors for a missing or stale socket and bad commands; a
# request or an answer of another control protocol is refused, saying so.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/client-lib.sh"
e2e_init
start_server
start_app

SOCK=$TMP/ctl.sock
sc_bg ctl -u "$SC_USER" -k "$KEY" -x "$REST_URL" -i "$TUNNEL_NAME" \
    -f "$TMP/ctl.ready" -d "$TMP/ctl.pid" --ctl-socket "$SOCK"
sc_ready ctl
id=$(sc_id ctl)
pid=${SCPID[ctl]}

[ -S "$SOCK" ] || fail "no control socket at $SOCK"
mode=$(stat -c %a "$SOCK")
[ "$mode" = 660 ] || fail "control socket mode $mode, want 660"
ok "control socket $SOCK, mode 0660"

"$SC_CTL" -s "$SOCK" status >"$TMP/status.out" 2>"$TMP/status.err" ||
    fail "sc-ctl status failed: $(cat "$TMP/status.err")"
for f in tunnel-id tunnel-name state server uptime streams-open \
    streams-total bytes-in bytes-out rtt-ms reconnects pid-controller \
    pid-kgpd pid-proxyd tls-handovers; do
	grep -q "^$f: " "$TMP/status.out" || fail "sc-ctl status: no '$f:' line"
done
field() { sed -n "s/^$1: //p" "$TMP/status.out"; }
[ "$(field tunnel-id)" = "$id" ] || fail "tunnel-id '$(field tunnel-id)'"
[ "$(field tunnel-name)" = "$TUNNEL_NAME" ] || fail "tunnel-name '$(field tunnel-name)'"
[ "$(field state)" = up ] || fail "state '$(field state)'"
[ "$(field server)" = "$CLOUD_IP:$KGP_PORT" ] || fail "server '$(field server)'"
[ "$(field pid-controller)" = "$pid" ] || fail "pid-controller '$(field pid-controller)'"
for c in kgpd proxyd; do
	p=$(field "pid-$c")
	[ "$(cat "/proc/$p/comm" 2>/dev/null)" = "$c" ] ||
	    fail "pid-$c $p is not $c"
done
ok "sc-ctl status: every field, right id, name, state, server and pids"

entry=$(entry_of "$id")
fetch_via "$entry" ctl1 || fail "GET through the tunnel"
fetch_via "$entry" ctl2 || fail "GET through the tunnel"
# no waiting: sc-ctl status asks kgpd for fresh figures
"$SC_CTL" -s "$SOCK" status >"$TMP/status.out" || fail "sc-ctl status"
[ "$(field streams-total)" -ge 2 ] ||
    fail "streams-total $(field streams-total) after 2 requests"
[ "$(field bytes-in)" -gt 0 ] && [ "$(field bytes-out)" -gt 0 ] ||
    fail "bytes-in $(field bytes-in), bytes-out $(field bytes-out)"
ok "counters move: streams-total $(field streams-total), bytes $(field bytes-in)/$(field bytes-out)"

"$SC_CTL" -s "$SOCK" verbose 2 >/dev/null 2>&1 || fail "sc-ctl verbose 2"
wait_for 3 grep -q 'Verbosity set to 2' "$TMP/ctl.log" ||
    fail "no 'Verbosity set to 2' line"
"$SC_CTL" -s "$SOCK" verbose 0 >/dev/null 2>&1 || fail "sc-ctl verbose 0"
status=0
"$SC_CTL" -s "$SOCK" verbose 7 >/dev/null 2>"$TMP/v7.err" || status=$?
[ "$status" != 0 ] && grep -q '^Error: ' "$TMP/v7.err" ||
    fail "sc-ctl verbose 7: exit $status, '$(cat "$TMP/v7.err")'"
ok "sc-ctl verbose: 2 and 0 accepted, 7 refused with an Error: line"

status=0
"$SC_CTL" -s "$SOCK" frobnicate >/dev/null 2>"$TMP/bad.err" || status=$?
[ "$status" != 0 ] && grep -q 'usage' "$TMP/bad.err" ||
    fail "sc-ctl frobnicate: exit $status, '$(cat "$TMP/bad.err")'"
ok "sc-ctl with an unknown command: usage, exit $status"

# a second sc on the same socket is refused, and the first keeps it
status=0
office timeout 30 "$SC" -u "$SC_USER" -k "$KEY" -x "$REST_URL" \
    -i "$TUNNEL_NAME-dup" --ctl-socket "$SOCK" >"$TMP/dup.log" 2>&1 ||
    status=$?
[ "$status" != 0 ] && [ "$status" != 124 ] ||
    fail "a second sc on the same control socket: exit $status"
grep -q 'Error: .*in use' "$TMP/dup.log" ||
    fail "a second sc on the same socket: $(cat "$TMP/dup.log")"
"$SC_CTL" -s "$SOCK" status >/dev/null || fail "the first sc lost its socket"
ok "a second sc on the same control socket: '$(grep -m1 'Error: ' "$TMP/dup.log" | sed 's/^.*Error/Error/')'"

# another control protocol: an sc-ctl from before versions (peerid 0)
# asks for the status, with the message numbers every version keeps
# (IMSG_CTL_STATUS 4, IMSG_CTL_FAIL 9); sc refuses it, says why, and goes on
"$PYTHON" - "$SOCK" >"$TMP/oldctl.out" 2>&1 <<'PY' || fail "old sc-ctl: $(cat "$TMP/oldctl.out")"
import socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(10)
s.connect(sys.argv[1])
s.sendall(struct.pack("=IHHII", 4, 16, 0, 0, 0))
data = b""
while len(data) < 16 or len(data) < struct.unpack("=IHHII", data[:16])[1]:
    b = s.recv(65536)
    if not b:
        sys.exit("closed after %d bytes" % len(data))
    data += b
t, n, f, peer, pid = struct.unpack("=IHHII", data[:16])
print(t, peer, data[16:n].rstrip(b"\0").decode(errors="replace"))
PY
read -r t peer msg <"$TMP/oldctl.out"
[ "$t" = 9 ] && [ "$peer" = 5 ] &&
    [ "$msg" = "sc-ctl speaks control protocol 0, this sc speaks 5: use the sc-ctl installed with this sc" ] ||
    fail "a request of control protocol 0: '$(cat "$TMP/oldctl.out")'"
grep -q 'control: refused: sc-ctl speaks control protocol 0' "$TMP/ctl.log" ||
    fail "no 'control: refused' line in sc's log"
"$SC_CTL" -s "$SOCK" status >/dev/null || fail "sc-ctl status after a refusal"
ok "a request of control protocol 0: IMSG_CTL_FAIL '$msg', logged, sc goes on"

# an sc of another control protocol: its answer is refused, its
# refusal shown (fake_sc answers one request, as an sc of that version)
fake_sc() {
	rm -f "$TMP/fake.sock"
	"$PYTHON" - "$TMP/fake.sock" "$@" <<'PY' &
import os, socket, struct, sys
path, typ, peer, text = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
l = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
l.bind(path)
l.listen(1)
l.settimeout(10)
c, _ = l.accept()
c.settimeout(10)
c.recv(65536)
body = text.encode() + b"\0" if text else b""
c.sendall(struct.pack("=IHHII", typ, 16 + len(body), 0, peer, os.getpid()) + body)
c.close()
PY
	PIDS+=("$!")
	wait_for 5 test -S "$TMP/fake.sock" || fail "the fake sc did not start"
}
fake_sc 8 0 ""
status=0
"$SC_CTL" -s "$TMP/fake.sock" stop >"$TMP/fake.out" 2>&1 || status=$?
[ "$status" = 1 ] && [ "$(cat "$TMP/fake.out")" = "Error: sc speaks control protocol 0, this sc-ctl speaks 5: use the sc-ctl installed with that sc" ] ||
    fail "sc-ctl and an sc of control protocol 0: exit $status, '$(cat "$TMP/fake.out")'"
ok "sc-ctl and an sc of control protocol 0: exit 1, '$(cat "$TMP/fake.out")'"
fake_sc 9 4 "sc-ctl speaks control protocol 3, this sc speaks 4: use the sc-ctl installed with this sc"
status=0
"$SC_CTL" -s "$TMP/fake.sock" status >"$TMP/fake.out" 2>&1 || status=$?
[ "$status" = 1 ] && grep -q '^Error: sc-ctl speaks control protocol 3, this sc speaks 4' "$TMP/fake.out" ||
    fail "sc-ctl refused by an sc of control protocol 4: exit $status, '$(cat "$TMP/fake.out")'"
ok "sc-ctl refused by an sc of control protocol 4: its reason shown, exit 1"

# stop
"$SC_CTL" -s "$SOCK" stop >"$TMP/stop.out" 2>&1 ||
    fail "sc-ctl stop failed: $(cat "$TMP/stop.out")"
sc_exit ctl 40
[ "${SCSTATUS[ctl]}" = 0 ] || fail "sc after sc-ctl stop: exit ${SCSTATUS[ctl]}"
grep -q 'Goodbye\.' "$TMP/ctl.log" || fail "no 'Goodbye.' after sc-ctl stop"
[ ! -e "$TMP/ctl.pid" ] || fail "pidfile left after sc-ctl stop"
[ ! -e "$SOCK" ] || fail "control socket left after sc-ctl stop"
[ "$(tunnel_field "$id" status)" = terminated ] ||
    fail "tunnel '$(tunnel_field "$id" status)' after sc-ctl stop"
ok "sc-ctl stop: sc exits 0, Goodbye., tunnel terminated, pidfile and socket gone"

# no socket, a stale socket
status=0
"$SC_CTL" -s "$SOCK" status >"$TMP/none.out" 2>"$TMP/none.err" || status=$?
[ "$status" != 0 ] || fail "sc-ctl on a missing socket exited 0"
[ ! -s "$TMP/none.out" ] || fail "sc-ctl on a missing socket printed a status"
grep -q "^Error: .*$SOCK" "$TMP/none.err" ||
    fail "sc-ctl on a missing socket: '$(cat "$TMP/none.err")'"
ok "sc-ctl on a missing socket: exit $status, '$(cat "$TMP/none.err")'"
"$PYTHON" -c 'import socket, sys
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])' "$TMP/stale.sock"
status=0
"$SC_CTL" -s "$TMP/stale.sock" stop >/dev/null 2>"$TMP/stale.err" || status=$?
[ "$status" != 0 ] && grep -q '^Error: ' "$TMP/stale.err" ||
    fail "sc-ctl on a stale socket: exit $status, '$(cat "$TMP/stale.err")'"
ok "sc-ctl on a stale socket: exit $status, '$(cat "$TMP/stale.err")'"

# the default path, derived from the tunnel name on both sides
dname=$TUNNEL_NAME-default
sc_bg def -u "$SC_USER" -k "$KEY" -x "$REST_URL" -i "$dname" \
    -f "$TMP/def.ready"
sc_ready def
"$SC_CTL" -i "$dname" status >"$TMP/status.out" 2>&1 ||
    fail "sc-ctl -i $dname status: $(cat "$TMP/status.out")"
[ "$(field tunnel-name)" = "$dname" ] || fail "sc-ctl -i: wrong tunnel"
"$SC_CTL" -i "$dname" stop >/dev/null || fail "sc-ctl -i $dname stop"
sc_exit def 40
[ "${SCSTATUS[def]}" = 0 ] || fail "sc-ctl -i stop: exit ${SCSTATUS[def]}"
ok "sc-ctl -i NAME finds sc -i NAME's default socket; stop exits 0"
e2e_done
