#!/bin/bash
# sc-server's privilege separation, seen from outside.  Started as root:
# the parent stays root, unsandboxed, and holds only its two listeners;
# its one child, the worker ("sc-server -W"), runs as _sc chrooted to
# /var/empty with Seccomp 2 and NoNewPrivs 1, no access key or secret in
# its command line or environment, and no file open past stdio; the KGP
# connection and the entry proxy's connections and listener are the
# worker's alone (ss -p).  The worker dies (a real sandbox violation in a
# -Dsandbox_trap=true build, kill -9 otherwise): the parent logs it and
# starts a new one, sandboxed again, with the same tunnel on the same
# entry port, and sc's requests get through again.  SIGTERM: exit 0, no
# worker left.  Started as an ordinary user: no chroot, no user switch,
# the sandbox all the same.
. "$(dirname "$0")/lib.sh"
command -v ss >/dev/null || skip "needs ss (iproute2)"
command -v setpriv >/dev/null || skip "needs setpriv (util-linux)"
PROBE=${SANDBOX_PROBE:-$(dirname "$SC")/../tests/tools/sandbox-probe}
CHROOT=/var/empty

e2e_init
start_server
start_app
start_sc
SCUID=$(id -u _sc) || fail "no user _sc after e2e_init"
SCGID=$(id -g _sc)
WANT_ROOT=$CHROOT
TRAP=
if [ -x "$PROBE" ]; then
	case $("$PROBE" -i 2>/dev/null) in
	*sanitizer*) WANT_ROOT=/; log "sanitizer build: no chroot expected" ;;
	esac
	case $("$PROBE" -i 2>/dev/null) in
	*seccomp-trap*) TRAP=1 ;;
	esac
fi

status_field() {
	sed -n "s/^$2:[[:space:]]*//p" "/proc/$1/status"
}

# the parent's children: the worker, and only it
worker_of() {
	ps -o pid= --ppid "$1" | tr -d ' '
}

request_ok() {
	local body
	body=$(BROWSE_TIMEOUT=5 browse "$(app_url /)" 2>/dev/null) &&
	    [ "$body" = "hello from the office" ]
}

# check_worker PID UID ROOT: the worker's sandbox and what it holds
check_worker() {
	local w=$1 uid=$2 root=$3 got f
	[ -n "$w" ] && [ -e "/proc/$w/status" ] || fail "no worker (pid '$w')"
	got=$(tr '\0' ' ' <"/proc/$w/cmdline")
	[ "$got" = "sc-server -W " ] || fail "worker $w: command line '$got'"
	got=$(status_field "$w" Uid | tr -s '\t ' ' ')
	[ "$got" = "$uid $uid $uid $uid" ] || fail "worker $w: Uid '$got', want $uid"
	got=$(readlink "/proc/$w/root")
	[ "$got" = "$root" ] || fail "worker $w: root '$got', want $root"
	[ "$(status_field "$w" Seccomp)" = 2 ] &&
	    [ "$(status_field "$w" NoNewPrivs)" = 1 ] ||
	    fail "worker $w: Seccomp '$(status_field "$w" Seccomp)'," \
	    "NoNewPrivs '$(status_field "$w" NoNewPrivs)'"
	for f in cmdline environ; do
		if tr '\0' '\n' <"/proc/$w/$f" | grep -qF -e "$KEY" \
		    -e "$SECRET"; then
			fail "worker $w: a secret in its $f"
		fi
	done
	# past stdio: sockets, the event loop, its signal pipe; no file
	for f in /proc/"$w"/fd/*; do
		case ${f##*/} in 0|1|2) continue ;; esac
		case $(readlink "$f") in
		socket:*|anon_inode:*|pipe:*) ;;
		*) fail "worker $w: fd ${f##*/} is $(readlink "$f")" ;;
		esac
	done
	ok "worker $w: sc-server -W, uid $uid, root $root, Seccomp 2," \
	    "NoNewPrivs 1, no secret in cmdline or environ, no file open"
}

# the sockets of pid (ss -p in cloud): "state local peer" lines
sockets_of() {
	cloud ss -Htanp | grep -E ",pid=$1," | awk '{print $1, $4, $5}'
}

SECRET=$(rest POST "/$SC_USER/tunnels" -d '{}' | json_get "j['kgp_secret']")
[ -n "$SECRET" ] || fail "no kgp_secret from a REST POST"

# --- started as root ---------------------------------------------------
P=$SERVER_PID
[ "$(status_field "$P" Uid | awk '{print $1}')" = 0 ] ||
    fail "the parent does not run as root"
W=$(worker_of "$P")
[ -n "$W" ] && [ "$(echo "$W" | wc -l)" = 1 ] ||
    fail "want one worker under the parent $P, have '$W'"
check_worker "$W" "$SCUID" "$WANT_ROOT"
[ "$(stat -c %u:%a "$CHROOT")" = 0:755 ] && [ -z "$(ls -A "$CHROOT")" ] ||
    fail "$CHROOT: $(stat -c %u:%a "$CHROOT"), or not empty"

request_ok || fail "no request through the tunnel"
# an entry connection that stays open (it sends no request for now)
cloud bash -c "exec 5<>/dev/tcp/${ENTRY%:*}/${ENTRY##*:}; sleep 20" &
HOLD=$!
PIDS+=("$HOLD")
wait_for 5 eval 'sockets_of "$W" | grep -q "^ESTAB $ENTRY "' ||
    fail "the worker does not hold the entry connection: $(sockets_of "$W")"
sockets_of "$W" | grep -q "^ESTAB $CLOUD_IP:$KGP_PORT $OFFICE_IP:" ||
    fail "the worker does not hold sc's KGP connection: $(sockets_of "$W")"
sockets_of "$W" | grep -q "^LISTEN $ENTRY " ||
    fail "the worker does not hold the entry listener"
ok "the worker holds the KGP connection, the entry listener and connection"
got=$(sockets_of "$P" | grep -v '^LISTEN' || true)
[ -z "$got" ] || fail "the parent holds connections: $got"
got=$(sockets_of "$P" | awk '{print $2}' | sort | tr '\n' ' ')
want=$(printf '%s\n' "$CLOUD_IP:$KGP_PORT" "$CLOUD_IP:$REST_PORT" | sort |
    tr '\n' ' ')
[ "$got" = "$want" ] ||
    fail "the parent listens on '$got', want the REST and KGP ports only"
ok "the parent holds the REST and KGP listeners and nothing else"
kill "$HOLD" 2>/dev/null

# --- the worker dies: a new one, the same tunnel -----------------------
if [ -n "$TRAP" ]; then
	kill -USR2 "$W"
	wait_for 5 grep -q "\[worker\] sandbox violation: system call execve" \
	    "$TMP/server.log" || fail "no report of the worker's violation"
	wait_for 5 grep -q "worker $W was killed by signal 31" \
	    "$TMP/server.log" || fail "the parent did not log the SIGSYS"
	ok "the worker broke its sandbox (execve): reported, died of SIGSYS"
else
	kill -KILL "$W"
	wait_for 5 grep -q "worker $W was killed by signal 9" \
	    "$TMP/server.log" || fail "the parent did not log the death"
	ok "kill -9 of the worker: the parent logged it"
fi
wait_for 10 eval '[ -n "$(worker_of "$P")" ]' || fail "no new worker in 10 s"
W2=$(worker_of "$P")
[ "$W2" != "$W" ] || fail "the same worker $W"
wait_for 30 request_ok || fail "no request through $ENTRY 30 s after the restart"
ok "a new worker ($W -> $W2): the tunnel serves again on $ENTRY"
check_worker "$W2" "$SCUID" "$WANT_ROOT"
grep -q "tunnel $TUNNEL_ID .* restored" "$TMP/server.log" ||
    fail "no 'restored' line for the tunnel"

# --- SIGTERM ----------------------------------------------------------
kill -TERM "$P"
wait_for 20 not_running "$P" || fail "sc-server runs 20 s after SIGTERM"
wait "$P"
st=$?
[ "$st" = 0 ] || fail "sc-server exited $st after SIGTERM"
not_running "$W2" || fail "the worker $W2 outlived the parent"
ok "SIGTERM: exit 0, the worker gone too"

# --- started as an ordinary user ---------------------------------------
chmod 711 "$TMP"
install -d -o _sc -g _sc -m 700 "$TMP/user"
setpriv --reuid=_sc --regid=_sc --clear-groups env HOME=/nonexistent \
    "$SC_SERVER" -s "$TMP/user/state" user add bob >/dev/null ||
    fail "user add as _sc"
ip netns exec "$CLOUD" setpriv --reuid=_sc --regid=_sc --clear-groups \
    "$SC_SERVER" -d -v -s "$TMP/user/state" -R "$CLOUD_IP:5400" \
    -K "$CLOUD_IP:5443" >"$TMP/server-user.log" 2>&1 &
UP=$!
PIDS+=("$UP")
wait_for 10 cloud curl -sS --max-time 1 -o /dev/null \
    "http://$CLOUD_IP:5400/rest/v1/" || fail "sc-server as _sc does not answer"
W=$(worker_of "$UP")
SECRET=none
check_worker "$W" "$SCUID" /
ok "as an ordinary user: no chroot, no switch, the sandbox on"
kill -TERM "$UP"
wait_for 20 not_running "$UP" || fail "sc-server as _sc runs after SIGTERM"
e2e_done
