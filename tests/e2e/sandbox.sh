#!/bin/bash
# The sandboxes of kgpd, proxyd and the controller, seen from outside:
# seccomp mode 2 and no_new_privs in /proc, the tunnel still works;
# sandbox-probe enters the same sandbox and each forbidden call is refused
# (SIGSYS, or an errno) while the calls the process needs work; Landlock
# alone forbids the file system (the controller: all but its own files);
# a child killed by SIGSYS is logged as a sandbox violation and restarted.
. "$(dirname "$0")/lib.sh"
PROBE=${SANDBOX_PROBE:-$(dirname "$SC")/../tests/tools/sandbox-probe}

# a resolver of our own in office: every name is the app's address
dns_server() {
	cat >"$TMP/dns.py" <<'PY'
import socket, struct, sys
addr, ready = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((addr, 53))
open(ready, "w").close()
while True:
    q, peer = s.recvfrom(512)
    if len(q) < 12:
        continue
    i = 12
    while i < len(q) and q[i] != 0:
        i += q[i] + 1
    qtype = struct.unpack("!H", q[i + 1:i + 3])[0] if i + 5 <= len(q) else 0
    question = q[12:i + 5]
    an = b""
    if qtype == 1:
        an = struct.pack("!HHHIH", 0xC00C, 1, 1, 60, 4) + socket.inet_aton(addr)
    s.sendto(q[:2] + struct.pack("!HHHHH", 0x8180, 1, 1 if an else 0, 0, 0) +
        question + an, peer)
PY
	ip netns exec "$OFFICE" "$PYTHON" "$TMP/dns.py" "$APP_IP" \
	    "$TMP/dns.ready" >"$TMP/dns.log" 2>&1 &
	PIDS+=($!)
	wait_for 10 test -f "$TMP/dns.ready" || fail "the DNS server did not start"
}

# proxyd reads office's resolv.conf (ip netns exec mounts this one over
# /etc/resolv.conf) once, before its sandbox goes on
e2e_init
mkdir -p "/etc/netns/$OFFICE"
echo "nameserver $APP_IP" >"/etc/netns/$OFFICE/resolv.conf"
start_server
start_app
dns_server
start_sc -v -v
rm -rf "/etc/netns/$OFFICE"
[ -x "$PROBE" ] || fail "$PROBE is not built"
MODE=$("$PROBE" -i) || fail "sandbox-probe -i failed"
log "sandbox build: $MODE"
case $MODE in
*sanitizer*) SANITIZER=1 ;;
*) SANITIZER= ;;
esac

request_ok() {
	local body
	body=$(BROWSE_TIMEOUT=5 browse "$(app_url /)" 2>/dev/null) &&
	    [ "$body" = "hello from the office" ]
}

status_field() {
	sed -n "s/^$2:[[:space:]]*//p" "/proc/$1/status"
}

# check_proc NAME: the running child is in its sandbox
check_proc() {
	local name=$1 pid
	pid=$(ctl_field "pid-$name")
	[ -n "$pid" ] && [ -e "/proc/$pid/status" ] ||
	    fail "no running $name (pid '$pid')"
	[ "$(status_field "$pid" Seccomp)" = 2 ] ||
	    fail "$name ($pid): Seccomp '$(status_field "$pid" Seccomp)', want 2"
	[ "$(status_field "$pid" NoNewPrivs)" = 1 ] ||
	    fail "$name ($pid): NoNewPrivs '$(status_field "$pid" NoNewPrivs)'"
	ok "$name ($pid): Seccomp 2 (filter), NoNewPrivs 1"
}

check_proc kgpd
check_proc proxyd
check_proc controller
[ "$(ctl_field pid-controller)" = "$SC_PID" ] ||
    fail "pid-controller '$(ctl_field pid-controller)', sc is $SC_PID"
grep -q 'sandbox on (controller: ' "$TMP/sc.log" ||
    fail "no 'sandbox on' line of the controller"
ok "$(grep -o 'sandbox on (controller: [^)]*)' "$TMP/sc.log" | head -n 1)"
grep -q 'sandbox on (kgpd: ' "$TMP/sc.log" || fail "no 'sandbox on' line of kgpd"
grep -q 'sandbox on (proxyd: ' "$TMP/sc.log" ||
    fail "no 'sandbox on' line of proxyd"
ok "$(grep -o 'sandbox on (kgpd: [^)]*)' "$TMP/sc.log" | head -n 1)"

request_ok || fail "no request through the sandboxed tunnel"
code=$(browse -o "$TMP/big" -w '%{http_code}' \
    "$(app_url '/bytes/1048576?seed=3')") || fail "GET of 1 MiB failed"
[ "$code" = 200 ] && [ "$(stat -c %s "$TMP/big")" = 1048576 ] ||
    fail "GET of 1 MiB: status $code, $(stat -c %s "$TMP/big") bytes"
code=$(browse -k -o /dev/null -w '%{http_code}' "$(app_tls_url /)") ||
    fail "CONNECT to the TLS app failed"
[ "$code" = 200 ] || fail "CONNECT to the TLS app: status $code"
ok "requests work through the sandboxed children (GET, 1 MiB, CONNECT+TLS)"
# name resolution in proxyd: a name of the hosts file (read before the
# sandbox), then a DNS query to our resolver (a UDP socket) that gives the
# app's address
hostsname=$(awk '$1 == "127.0.0.1" && $2 != "localhost" { print $2; exit }' \
    /etc/hosts)
if [ -n "$hostsname" ]; then
	code=$(browse -o /dev/null -w '%{http_code}' "http://$hostsname:1/")
	[ "$code" = 502 ] || fail "GET http://$hostsname:1/: status '$code'"
fi
body=$(browse "http://app.example.test:$APP_PORT/") ||
    fail "GET by name through the tunnel failed"
[ "$body" = "hello from the office" ] || fail "GET by name: body '$body'"
ok "proxyd resolves names in its sandbox: hosts file${hostsname:+ ($hostsname)}, DNS"
if grep -E 'killed by|exited with status' "$TMP/sc.log"; then
	fail "a child died during the requests"
fi
ok "no child died"

# probe [-l] PROC OP [ARG]: sets RC and OUT
probe() {
	OUT=$("$PROBE" "$@" 2>&1)
	RC=$?
}

# refused PROC OP [ARG]: the sandbox kills the probe or the call fails
refused() {
	local how
	probe "$@"
	case $RC in
	159) how="killed by SIGSYS" ;;
	1) how=$(printf '%s\n' "$OUT" | sed -n 's/.*: refused: //p' | head -n 1)
	   how="refused: $how" ;;
	*) fail "probe $*: exit status $RC, want 159 (SIGSYS) or 1: $OUT" ;;
	esac
	ok "refused: $* ($how)"
}

allowed() {
	probe "$@"
	[ "$RC" = 0 ] || fail "probe $*: exit status $RC, want 0: $OUT"
	ok "allowed: $*"
}

# the operations themselves work outside any sandbox
allowed none open
allowed none fork
allowed none execve
allowed none socket-raw

refused kgpd create "$TMP/kgpd-file"
for op in socket socket-udp socket-unix socketpair-inet connect execve \
    fork kill-parent mprotect-exec; do
	refused kgpd "$op"
done
refused proxyd create "$TMP/proxyd-file"
for op in socket-unix socket-raw socketpair execve fork kill-parent \
    mprotect-exec; do
	refused proxyd "$op"
done
if [ -z "$SANITIZER" ]; then
	refused kgpd open
	refused kgpd stat
	refused proxyd open
	refused proxyd stat
else
	log "sanitizer build: reading files and stat are let through (see sandbox.c)"
	# and what they are let through for works: a leak is reported
	probe kgpd leak
	printf '%s\n' "$OUT" | grep -q 'detected memory leaks' ||
	    fail "no leak report from inside the kgpd sandbox: $OUT"
	ok "LeakSanitizer still reports from inside the kgpd sandbox"
	probe proxyd overflow
	printf '%s\n' "$OUT" | grep -q 'AddressSanitizer: heap-buffer-overflow' ||
	    fail "no overflow report from inside the proxyd sandbox: $OUT"
	ok "AddressSanitizer still reports from inside the proxyd sandbox"
fi
[ ! -e "$TMP/kgpd-file" ] && [ ! -e "$TMP/proxyd-file" ] ||
    fail "a sandboxed probe created a file"

# sc-server's two workers: accept on what the parent passed; the KGP
# worker also connects out (direct connections), over TCP and UDP only;
# neither makes a unix socket pair (a resigned connection's stream and a
# node link's are inside the KGP worker); the REST worker none
for w in server-rest server-kgp; do
	refused "$w" socketpair
	refused "$w" create "$TMP/$w-file"
	for op in socket-unix socket-raw execve fork kill-parent \
	    mprotect-exec; do
		refused "$w" "$op"
	done
	if [ -z "$SANITIZER" ]; then
		refused "$w" open
		refused "$w" stat
	fi
	allowed "$w" getrandom
	allowed "$w" pipe-write
	refused "$w" splice
done
for op in socket socket-udp connect; do
	refused server-rest "$op"
done
allowed server-kgp socket
allowed server-kgp socket-udp
allowed server-kgp connect 127.0.0.1:9
[ ! -e "$TMP/server-rest-file" ] && [ ! -e "$TMP/server-kgp-file" ] ||
    fail "a sandboxed server worker probe created a file"

allowed kgpd socketpair
allowed kgpd getrandom
allowed kgpd pipe-write
refused kgpd splice
allowed proxyd socket
allowed proxyd socket-udp
allowed proxyd connect 127.0.0.1:9
allowed proxyd getrandom
allowed proxyd pipe-write
allowed proxyd splice

# the controller started as root: the spawner starts kgpd and proxyd, so
# no fork, no exec; its files only (here, those of $PD)
PD=$TMP/probe
mkdir "$PD" && : >"$PD/log" || fail "mkdir $PD"
export SANDBOX_PROBE_DIR=$PD
for op in ptrace execve fork socket-raw; do
	refused controller "$op"
done
refused controller mount "$PD"
refused controller create "$TMP/ctl-file"
refused controller append "$TMP/other.log"
refused controller mkdir "$TMP/ctl-dir"
[ ! -e "$TMP/ctl-file" ] && [ ! -e "$TMP/other.log" ] &&
    [ ! -e "$TMP/ctl-dir" ] || fail "the controller probe wrote outside its files"
allowed controller append "$PD/log"
for op in socket socket6 socket-udp socket-unix socket-netlink socketpair \
    connect thread resolve resolv getrandom pipe-write; do
	allowed controller "$op"
done
# started as an ordinary user it forks and executes its children, and only
# them (/bin/true stands in for kgpd and proxyd)
allowed controller-exec fork
allowed controller-exec execve
refused controller-exec execve /bin/sh
refused controller-exec mount "$PD"
allowed controller-exec create "$PD/ready"
allowed controller-exec remove "$PD/ready"
refused controller-exec create "$TMP/ctl-file"
# the spawner: root, but only its own calls and files
for op in ptrace fork socket-raw; do
	refused spawner "$op"
done
refused spawner mount "$PD"
refused spawner create "$TMP/sp-file"
allowed spawner execve
refused spawner execve /bin/sh
if [ -z "$SANITIZER" ]; then
	# root may read /etc/shadow, Landlock says no
	refused controller shadow
	refused controller-exec shadow
	refused spawner shadow
	allowed none shadow
fi
[ ! -e "$TMP/ctl-file" ] && [ ! -e "$TMP/sp-file" ] ||
    fail "a controller or spawner probe created a file"
unset SANDBOX_PROBE_DIR

case $MODE in
*trap*)
	SANDBOX_PROBE_DIR=$PD probe controller mount "$PD"
	printf '%s\n' "$OUT" | grep -q 'sandbox violation: system call mount' ||
	    fail "trap build: no 'sandbox violation: system call mount': $OUT"
	ok "trap build: the controller's violation names the system call"
	probe kgpd socket
	printf '%s\n' "$OUT" | grep -q 'sandbox violation: system call socket' ||
	    fail "trap build: no 'sandbox violation: system call socket': $OUT"
	ok "trap build: the violation names the system call"
	;;
esac

# Landlock alone (no seccomp): no file system
probe -l kgpd create "$TMP/ll-file"
if [ "$RC" = 2 ]; then
	if grep -qw landlock /sys/kernel/security/lsm 2>/dev/null; then
		fail "the lsm list has landlock but the probe found none"
	fi
	log "no Landlock in this kernel: not checked"
else
	[ "$RC" = 1 ] && [ ! -e "$TMP/ll-file" ] ||
	    fail "Landlock: kgpd could create a file (status $RC: $OUT)"
	ok "Landlock alone: kgpd may not create a file"
	refused -l proxyd create "$TMP/ll-file"
	[ ! -e "$TMP/ll-file" ] || fail "Landlock: proxyd created a file"
	if [ -z "$SANITIZER" ]; then
		refused -l kgpd open
		refused -l proxyd open
	fi
	allowed -l proxyd socket
	abi=$(printf '%s\n' "$OUT" | sed -n 's/^Landlock ABI //p')
	if [ "${abi:-0}" -ge 4 ]; then
		# TCP: kgpd may neither connect nor bind, proxyd may connect
		refused -l kgpd connect 127.0.0.1:9
		allowed -l proxyd connect 127.0.0.1:9
		# the controller connects anywhere and binds nowhere
		allowed -l controller connect 127.0.0.1:9
		refused -l controller bind
	fi
	# the controller: the resolver's and its own files, nothing else
	refused -l controller create "$TMP/ll-ctl-file"
	[ ! -e "$TMP/ll-ctl-file" ] || fail "Landlock: the controller created a file"
	allowed -l controller resolv
	if [ -z "$SANITIZER" ]; then
		refused -l controller shadow
	fi
	allowed none create "$TMP/ll-file"
fi

# a child killed by SIGSYS: logged as such, restarted, the tunnel works
pid=$(ctl_field pid-kgpd)
kill -SYS "$pid"
wait_for 10 grep -q 'kgpd killed by SIGSYS (sandbox violation)' "$TMP/sc.log" ||
    fail "no 'kgpd killed by SIGSYS (sandbox violation)' line"
ok "the controller logs: $(grep -o 'kgpd killed by SIGSYS[^,]*' "$TMP/sc.log" |
    head -n 1)"
case $MODE in
*trap*)
	# the trap handler names no system call for a signal someone sent
	grep -q '\[kgpd\] SIGSYS sent by pid [0-9]' "$TMP/sc.log" ||
	    fail "trap build: no '[kgpd] SIGSYS sent by pid N' line"
	! grep -q '\[kgpd\] sandbox violation: system call' "$TMP/sc.log" ||
	    fail "trap build: a kill(1) reported as a system call:" \
	    "$(grep 'sandbox violation: system call' "$TMP/sc.log")"
	ok "trap build: a SIGSYS from kill(1) is reported as sent, by whom"
	;;
esac
wait_for 10 request_ok || fail "no request within 10 s of kgpd's death"
# (the other kgpd processes may carry it before this one is back)
kgpd_back() {
	newpid=$(ctl_field pid-kgpd)
	[ -n "$newpid" ] && [ "$newpid" != 0 ] && [ "$newpid" != "$pid" ]
}
wait_for 10 kgpd_back || fail "kgpd was not restarted"
ok "kgpd restarted ($pid -> $newpid), requests work again"
check_proc kgpd

e2e_done
