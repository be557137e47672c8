#!/bin/bash
# sc-server's privilege separation, seen from outside.  Started as root:
# the parent stays root, unsandboxed, and holds only its listeners (REST,
# KGP, the gateway's);
# its three children, the REST worker ("sc-server -W rest"), the KGP
# worker ("sc-server -W kgp") and the CA process ("sc-server -W ca"),
# run as _sc chrooted to /var/empty with
# Seccomp 2 and NoNewPrivs 1, no access key or secret in their command
# line or environment, and no file open past stdio.  The KGP connection
# and the entry proxy's connections and listener are the KGP worker's
# alone, the REST listener the REST worker's alone (ss -p, and the socket
# inodes in each one's fd list).  The KGP worker dies (a real sandbox
# violation in a -Dsandbox_trap=true build, kill -9 otherwise): the
# parent logs it and starts a new one, sandboxed again, with the same
# tunnel on the same entry port, and sc's requests get through again.
# The REST worker dies: a new one, the tunnel is still running and
# connected over REST, and the KGP connection was never touched.
# SIGTERM: exit 0, no worker left.  Started as an ordinary user: no
# chroot, no user switch, the sandbox all the same.
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

# the parent's worker of role rest or kgp
worker_of() {
	local c
	for c in $(ps -o pid= --ppid "$1"); do
		[ "$(tr '\0' ' ' <"/proc/$c/cmdline" 2>/dev/null)" = \
		    "sc-server -W $2 " ] && echo "$c"
	done
}

request_ok() {
	local body
	body=$(BROWSE_TIMEOUT=5 browse "$(app_url /)" 2>/dev/null) &&
	    [ "$body" = "hello from the office" ]
}

# check_worker PID ROLE UID ROOT: the worker's sandbox and what it holds
check_worker() {
	local w=$1 role=$2 uid=$3 root=$4 got f
	[ -n "$w" ] && [ -e "/proc/$w/status" ] || fail "no $role worker (pid '$w')"
	got=$(tr '\0' ' ' <"/proc/$w/cmdline")
	[ "$got" = "sc-server -W $role " ] || fail "worker $w: command line '$got'"
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
	ok "$role worker $w: sc-server -W $role, uid $uid, root $root," \
	    "Seccomp 2, NoNewPrivs 1, no secret in cmdline or environ," \
	    "no file open"
}

# the socket inodes that pid holds, one a line
inodes_of() {
	local f
	for f in /proc/"$1"/fd/*; do
		readlink "$f"
	done | sed -n 's/^socket:\[\([0-9]*\)\]$/\1/p' | sort -u
}

# the inodes of the TCP sockets whose local address is $1
inodes_on() {
	cloud ss -Htanpe | awk -v a="$1" '$4 == a' |
	    sed -n 's/.* ino:\([0-9]*\).*/\1/p' | sort -u
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
# the REST worker, the CA process and the KGP workers (SERVER_KGP_WORKERS)
nw=$((2 + ${SERVER_KGP_WORKERS:-1}))
[ "$(ps -o pid= --ppid "$P" | wc -l)" = "$nw" ] ||
    fail "want $nw workers under the parent $P, have $(ps -o pid=,args= --ppid "$P")"
# the KGP port of sc's tunnel (with SERVER_KGP_WORKERS, its worker's)
rest GET "/$SC_USER/tunnels/$TUNNEL_ID" >"$TMP/t.json" || fail "GET the tunnel"
TPORT=$(json_get 'j["ssh_port"]' <"$TMP/t.json")
# kgp_of: the KGP worker that holds sc's tunnel (its KGP listener)
kgp_of() {
	local c
	for c in $(worker_of "$P" kgp); do
		sockets_of "$c" | grep -q "^LISTEN $CLOUD_IP:$TPORT " && echo "$c"
	done
}
R=$(worker_of "$P" rest)
K=$(kgp_of)
C=$(worker_of "$P" ca)
check_worker "$R" rest "$SCUID" "$WANT_ROOT"
for k in $(worker_of "$P" kgp); do
	check_worker "$k" kgp "$SCUID" "$WANT_ROOT"
done
check_worker "$C" ca "$SCUID" "$WANT_ROOT"
got=$(sockets_of "$C")
[ -z "$got" ] || fail "the CA process holds TCP sockets: $got"
ok "the CA process holds no TCP socket"
[ "$(stat -c %u:%a "$CHROOT")" = 0:755 ] && [ -z "$(ls -A "$CHROOT")" ] ||
    fail "$CHROOT: $(stat -c %u:%a "$CHROOT"), or not empty"

request_ok || fail "no request through the tunnel"
# an entry connection that stays open (it sends no request for now)
cloud bash -c "exec 5<>/dev/tcp/${ENTRY%:*}/${ENTRY##*:}; sleep 20" &
HOLD=$!
PIDS+=("$HOLD")
wait_for 5 eval 'sockets_of "$K" | grep -q "^ESTAB $ENTRY "' ||
    fail "the KGP worker does not hold the entry connection: $(sockets_of "$K")"
sockets_of "$K" | grep -q "^ESTAB $CLOUD_IP:$TPORT $OFFICE_IP:" ||
    fail "the KGP worker does not hold sc's KGP connection: $(sockets_of "$K")"
sockets_of "$K" | grep -q "^LISTEN $ENTRY " ||
    fail "the KGP worker does not hold the entry listener"
sockets_of "$K" | grep -q "^LISTEN 127.0.0.1:4480 " ||
    fail "the KGP worker does not hold the gateway's listener"
# (the tunnel of the POST above has its entry listener too)
got=$(sockets_of "$K" | awk '{print $2}' | grep -xF "$CLOUD_IP:$REST_PORT" ||
    true)
[ -z "$got" ] || fail "the KGP worker holds a REST socket: $got"
ok "the KGP worker holds the KGP connection, the entry listener and" \
    "connection, and nothing of REST"
sockets_of "$R" | grep -q "^LISTEN $CLOUD_IP:$REST_PORT " ||
    fail "the REST worker does not hold the REST listener"
# its listener and REST connections (sc's), nothing else
got=$(sockets_of "$R" | awk '{print $2}' | sort -u)
[ "$got" = "$CLOUD_IP:$REST_PORT" ] ||
    fail "the REST worker holds sockets on '$got', want the REST port only"
# the same from the fd list: no KGP or entry socket among the REST
# worker's descriptors, no REST listener among the KGP worker's
theirs=$( (inodes_on "$CLOUD_IP:$TPORT"; inodes_on "$ENTRY") | sort -u)
[ -n "$theirs" ] || fail "no inode for the KGP and entry sockets"
got=$(comm -12 <(inodes_of "$R") <(echo "$theirs"))
[ -z "$got" ] || fail "the REST worker has KGP or entry sockets: $got"
got=$(comm -12 <(inodes_of "$K") <(inodes_on "$CLOUD_IP:$REST_PORT"))
[ -z "$got" ] || fail "the KGP worker has the REST listener: $got"
ok "the REST worker holds the REST listener and REST connections only" \
    "(ss, fds)"
got=$(sockets_of "$P" | grep -v '^LISTEN' || true)
[ -z "$got" ] || fail "the parent holds connections: $got"
got=$(sockets_of "$P" | awk '{print $2}' | sort | tr '\n' ' ')
want=$( (printf '%s\n' "$CLOUD_IP:$REST_PORT" 127.0.0.1:4480
    for i in $(seq 0 $((${SERVER_KGP_WORKERS:-1} - 1))); do
	echo "$CLOUD_IP:$((KGP_PORT + i))"
    done) | sort | tr '\n' ' ')
[ "$got" = "$want" ] ||
    fail "the parent listens on '$got', want the REST, KGP and gateway ports only"
ok "the parent holds the REST, KGP and gateway (-G) listeners and nothing else"
kill "$HOLD" 2>/dev/null

# --- the KGP worker dies: a new one, the same tunnel -------------------
if [ -n "$TRAP" ]; then
	kill -USR2 "$K"
	wait_for 5 grep -q "\[kgp[0-9]*\] sandbox violation: system call execve" \
	    "$TMP/server.log" || fail "no report of the KGP worker's violation"
	wait_for 5 grep -q "kgp[0-9]* worker $K was killed by signal 31" \
	    "$TMP/server.log" || fail "the parent did not log the SIGSYS"
	ok "the KGP worker broke its sandbox (execve): reported, died of SIGSYS"
else
	kill -KILL "$K"
	wait_for 5 grep -q "kgp[0-9]* worker $K was killed by signal 9" \
	    "$TMP/server.log" || fail "the parent did not log the death"
	ok "kill -9 of the KGP worker: the parent logged it"
fi
wait_for 10 eval '[ -n "$(kgp_of)" ]' || fail "no new KGP worker in 10 s"
K2=$(kgp_of)
[ "$K2" != "$K" ] || fail "the same KGP worker $K"
wait_for 30 request_ok || fail "no request through $ENTRY 30 s after the restart"
ok "a new KGP worker ($K -> $K2): the tunnel serves again on $ENTRY"
check_worker "$K2" kgp "$SCUID" "$WANT_ROOT"
# the worker's log line reaches the parent's log through the parent
wait_for 5 grep -q "tunnel $TUNNEL_ID .* restored" "$TMP/server.log" ||
    fail "no 'restored' line for the tunnel"
[ "$(worker_of "$P" rest)" = "$R" ] || fail "the REST worker changed too"

# --- the REST worker dies: the KGP side goes on -------------------------
wait_for 10 eval 'sockets_of "$K2" | grep -q "^ESTAB $CLOUD_IP:$TPORT "' ||
    fail "no KGP connection in the new KGP worker"
link=$(sockets_of "$K2" | grep "^ESTAB $CLOUD_IP:$TPORT " | sort)
kill -KILL "$R"
wait_for 5 grep -q "rest worker $R was killed by signal 9" \
    "$TMP/server.log" || fail "the parent did not log the REST worker's death"
wait_for 10 eval '[ -n "$(worker_of "$P" rest)" ]' || fail "no new REST worker in 10 s"
R2=$(worker_of "$P" rest)
check_worker "$R2" rest "$SCUID" "$WANT_ROOT"
wait_for 10 eval 'rest GET "/$SC_USER/tunnels/$TUNNEL_ID" >"$TMP/t.json"' ||
    fail "no REST answer from the new REST worker"
got=$(json_get "' '.join([j['status'], str(j['connected']).lower(), j['entry_proxy']])" <"$TMP/t.json")
[ "$got" = "running true $ENTRY" ] ||
    fail "the new REST worker says '$got' of the tunnel"
[ "$(sockets_of "$K2" | grep "^ESTAB $CLOUD_IP:$TPORT " | sort)" = "$link" ] ||
    fail "the KGP connection changed with the REST worker"
request_ok || fail "no request through $ENTRY after the REST worker's restart"
[ "$(kgp_of)" = "$K2" ] || fail "the KGP worker changed too"
ok "a new REST worker ($R -> $R2): the tunnel runs on, connected, same link"

# --- SIGTERM ----------------------------------------------------------
kill -TERM "$P"
wait_for 20 not_running "$P" || fail "sc-server runs 20 s after SIGTERM"
wait "$P"
st=$?
[ "$st" = 0 ] || fail "sc-server exited $st after SIGTERM"
not_running "$K2" && not_running "$R2" && not_running "$C" ||
    fail "a worker outlived the parent"
ok "SIGTERM: exit 0, the workers gone too"

# --- started as an ordinary user ---------------------------------------
# (_sc may not enter every build tree: copies it may run)
stage_programs
install -d -o _sc -g _sc -m 700 "$TMP/user"
setpriv --reuid=_sc --regid=_sc --clear-groups env HOME=/nonexistent \
    "$STAGED/server/sc-server" -s "$TMP/user/state" user add bob \
    >/dev/null || fail "user add as _sc"
ip netns exec "$CLOUD" setpriv --reuid=_sc --regid=_sc --clear-groups \
    "$STAGED/server/sc-server" -d -v -s "$TMP/user/state" -R "$CLOUD_IP:5400" \
    -K "$CLOUD_IP:5443" >"$TMP/server-user.log" 2>&1 &
UP=$!
PIDS+=("$UP")
wait_for 10 cloud curl -sS --max-time 1 -o /dev/null \
    "http://$CLOUD_IP:5400/rest/v1/" || fail "sc-server as _sc does not answer"
SECRET=none
check_worker "$(worker_of "$UP" rest)" rest "$SCUID" /
check_worker "$(worker_of "$UP" kgp)" kgp "$SCUID" /
check_worker "$(worker_of "$UP" ca)" ca "$SCUID" /
ok "as an ordinary user: no chroot, no switch, the sandbox on"
kill -TERM "$UP"
wait_for 20 not_running "$UP" || fail "sc-server as _sc runs after SIGTERM"
e2e_done
