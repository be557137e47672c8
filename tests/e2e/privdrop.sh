#!/bin/bash
# The user switch and the chroot.  Started as root: the controller runs as
# _sc, kgpd and proxyd run as _sc chrooted to /var/empty, a spawner that
# stays root starts them; after kill -9 of kgpd and of proxyd the new ones
# are again chrooted and _sc and the tunnel works; sc-ctl works for root;
# SIGTERM exits 0, deletes the tunnel, removes the pidfile, the readyfile
# and the control socket (in a directory only root may write to) and the
# log file gets every line; the spawner's cleaner is root and confined
# too.  Started as an ordinary user: no switch, no
# chroot, no spawner, the sandbox is on all the same (it runs copies of
# the programs that nobody may execute, wherever the build tree is), and a
# helper that nobody may not execute is an error that says why.  The
# controller and the spawner have their seccomp filter too.
. "$(dirname "$0")/lib.sh"
command -v setpriv >/dev/null || skip "needs setpriv (util-linux)"
PROBE=${SANDBOX_PROBE:-$(dirname "$SC")/../tests/tools/sandbox-probe}
CHROOT=/var/empty

e2e_init
start_server
start_app
start_sc -l "$TMP/file.log"
SCUID=$(id -u _sc) || fail "no user _sc after e2e_init"
SCGID=$(id -g _sc)
[ "$(stat -c %a "$TMP")" = 700 ] && [ "$(stat -c %u "$TMP")" = 0 ] ||
    fail "$TMP is not a root-only directory"
# sanitizer builds skip the chroot (their reports read /proc)
WANT_ROOT=$CHROOT
if [ -x "$PROBE" ] && "$PROBE" -i 2>/dev/null | grep -q sanitizer; then
	WANT_ROOT=/
	log "sanitizer build: no chroot expected"
fi

status_field() {
	sed -n "s/^$2:[[:space:]]*//p" "/proc/$1/status"
}

# ids PID: "uid uid uid uid/gid gid gid gid" (real, effective, saved, fs)
ids() {
	echo "$(status_field "$1" Uid | tr -s '\t ' ' ')/$(status_field "$1" Gid |
	    tr -s '\t ' ' ')"
}

# check_as NAME PID UID GID ROOT: the process runs as UID/GID under ROOT
check_as() {
	local name=$1 pid=$2 uid=$3 gid=$4 root=$5 got
	[ -n "$pid" ] && [ -e "/proc/$pid/status" ] ||
	    fail "no running $name (pid '$pid')"
	got=$(ids "$pid")
	[ "$got" = "$uid $uid $uid $uid/$gid $gid $gid $gid" ] ||
	    fail "$name ($pid): Uid/Gid '$got', want $uid/$gid"
	got=$(status_field "$pid" Groups | tr -d ' ')
	[ "$got" = "${GROUPS_WANT-$gid}" ] ||
	    fail "$name ($pid): Groups '$got', want '${GROUPS_WANT-$gid}'"
	got=$(readlink "/proc/$pid/root")
	[ "$got" = "$root" ] || fail "$name ($pid): root '$got', want $root"
	ok "$name ($pid): uid $uid, gid $gid, root $root"
}

check_sandbox() {
	[ "$(status_field "$2" Seccomp)" = 2 ] &&
	    [ "$(status_field "$2" NoNewPrivs)" = 1 ] ||
	    fail "$1 ($2): Seccomp '$(status_field "$2" Seccomp)'," \
	    "NoNewPrivs '$(status_field "$2" NoNewPrivs)'"
	ok "$1 ($2): Seccomp 2, NoNewPrivs 1"
}

request_ok() {
	local body
	body=$(BROWSE_TIMEOUT=5 browse "$(app_url /)" 2>/dev/null) &&
	    [ "$body" = "hello from the office" ]
}

# the controller's children other than kgpd (every one of them) and proxyd
others() {
	local k p
	k=$(ctl_field pid-kgpd)
	p=$(ctl_field pid-proxyd)
	ps -o pid=,comm= --ppid "$1" | awk '$2 != "kgpd" {print $1}' |
	    grep -vxE "${k:-x}|${p:-x}"
}

# --- started as root ---------------------------------------------------
[ "$(ctl_field pid-controller)" = "$SC_PID" ] || fail "pid-controller"
check_as controller "$SC_PID" "$SCUID" "$SCGID" /
check_as kgpd "$(ctl_field pid-kgpd)" "$SCUID" "$SCGID" "$WANT_ROOT"
check_as proxyd "$(ctl_field pid-proxyd)" "$SCUID" "$SCGID" "$WANT_ROOT"
check_sandbox controller "$SC_PID"
check_sandbox kgpd "$(ctl_field pid-kgpd)"
# the other kgpd processes (--kgp-processes) are the same
for k in $(kgpd_pid); do
	[ "$k" = "$(ctl_field pid-kgpd)" ] && continue
	check_as kgpd "$k" "$SCUID" "$SCGID" "$WANT_ROOT"
	check_sandbox kgpd "$k"
done
check_sandbox proxyd "$(ctl_field pid-proxyd)"
[ "$(stat -c %u:%a "$CHROOT")" = 0:755 ] || fail "$CHROOT: $(stat -c %u:%a "$CHROOT")"
[ -z "$(ls -A "$CHROOT")" ] || fail "$CHROOT is not empty"
ok "$CHROOT: root's, mode 0755, empty"
# check_confined_root NAME PIDS: one process, root, NoNewPrivs 1,
# Seccomp 2, no key in its command line, stdio, its socket and the log
# and nothing else open
check_confined_root() {
	local name=$1 pid=$2 nfd
	[ -n "$pid" ] && [ "$(echo "$pid" | wc -l)" = 1 ] ||
	    fail "want one $name, have '$pid'"
	[ "$(status_field "$pid" Uid | awk '{print $1}')" = 0 ] &&
	    [ "$(status_field "$pid" NoNewPrivs)" = 1 ] &&
	    [ "$(status_field "$pid" Seccomp)" = 2 ] ||
	    fail "$name ($pid): $(ids "$pid"), NoNewPrivs" \
	    "$(status_field "$pid" NoNewPrivs), Seccomp" \
	    "$(status_field "$pid" Seccomp)"
	if tr '\0' '\n' <"/proc/$pid/cmdline" | grep -qF "$KEY"; then
		fail "the access key is in the $name's command line"
	fi
	nfd=$(ls "/proc/$pid/fd" | wc -l)
	[ "$nfd" -le 5 ] ||
	    fail "$name: $nfd descriptors open: $(ls -l "/proc/$pid/fd")"
	ok "$name ($pid): root, NoNewPrivs 1, Seccomp 2, no key in its" \
	    "command line, $nfd descriptors (stdio, its socket, the log)"
}
spawner=$(others "$SC_PID")
check_confined_root spawner "$spawner"
# the spawner's cleaner
cleaner=$(ps -o pid= --ppid "$spawner" | tr -d ' ')
check_confined_root cleaner "$cleaner"
request_ok || fail "no request through the tunnel"
ok "a request through the tunnel works"

# kill -9 of each child: the new one is chrooted and _sc again
for name in kgpd proxyd; do
	pid=$(ctl_field "pid-$name")
	kill -KILL "$pid"
	# (0 while it restarts; the other kgpd processes may serve meanwhile)
	wait_for 15 eval '[ -n "$(ctl_field pid-'$name')" ] &&
	    [ "$(ctl_field pid-'$name')" != '$pid' ] &&
	    [ "$(ctl_field pid-'$name')" != 0 ] && request_ok' ||
	    fail "$name not back within 15 s of kill -9"
	newpid=$(ctl_field "pid-$name")
	ok "$name restarted after kill -9 ($pid -> $newpid), requests work"
	check_as "$name" "$newpid" "$SCUID" "$SCGID" "$WANT_ROOT"
	check_sandbox "$name" "$newpid"
done
grep -q 'kgpd killed by signal 9, restarting' "$TMP/file.log" &&
    grep -q 'proxyd killed by signal 9, restarting' "$TMP/file.log" ||
    fail "no 'killed by signal 9' lines"
code=$(browse -o "$TMP/big" -w '%{http_code}' \
    "$(app_url '/bytes/1048576?seed=5')") || fail "GET of 1 MiB failed"
[ "$code" = 200 ] && [ "$(stat -c %s "$TMP/big")" = 1048576 ] ||
    fail "GET of 1 MiB after the restarts: status $code"
ok "1 MiB through the restarted children"

# the control socket: root may do everything
"$SC_CTL" -s "$TMP/ctl.sock" verbose 2 >/dev/null || fail "sc-ctl verbose as root"
[ "$(ctl_field state)" = up ] || fail "sc-ctl status as root"
ok "sc-ctl status and verbose work for root"

# SIGTERM: exit 0, the tunnel deleted, the files removed
[ -e "$TMP/sc.pid" ] && [ -S "$TMP/ctl.sock" ] && [ -e "$TMP/ready" ] ||
    fail "pidfile, control socket or readyfile missing while up"
stop_sc
[ "$SC_STATUS" = 0 ] || fail "sc exited with $SC_STATUS after SIGTERM"
for f in sc.pid ctl.sock ready; do
	[ ! -e "$TMP/$f" ] || fail "$TMP/$f still there after SIGTERM"
done
wait_for 5 not_running "$spawner" || fail "the spawner outlived sc"
wait_for 5 not_running "$cleaner" || fail "the cleaner outlived sc"
st=$(rest GET "/$SC_USER/tunnels/$TUNNEL_ID" | json_get "j.get('status')")
[ "$st" = terminated ] || [ -z "$st" ] || fail "tunnel $TUNNEL_ID is '$st'"
grep -q 'Goodbye' "$TMP/file.log" && grep -q 'Deleting tunnel' "$TMP/file.log" ||
    fail "the log file misses the shutdown lines"
ok "SIGTERM: exit 0, tunnel $TUNNEL_ID deleted, pidfile, readyfile, socket" \
    "removed, the log file complete"

# --- started as an ordinary user --------------------------------------
NUID=$(id -u nobody) || skip "no user nobody"
NGID=$(id -g nobody)
U=$TMP/user
mkdir "$U" && chown nobody "$U" && chmod 0700 "$U" || fail "mkdir $U"
# (nobody may not enter every build tree: copies it may run)
stage_programs

# a helper that nobody may not execute: sc says which and why
B=$TMP/closed
mkdir -p "$B/controller" "$B/proxyd" && mkdir -m 0700 "$B/kgpd" &&
    cp "$STAGED/controller/sc" "$B/controller/sc" &&
    cp "$STAGED/kgpd/kgpd" "$B/kgpd/kgpd" &&
    cp "$STAGED/proxyd/proxyd" "$B/proxyd/proxyd" &&
    chmod 0755 "$B" "$B/controller" "$B/proxyd" ||
    fail "cannot make $B"
status=0
ip netns exec "$OFFICE" setpriv --reuid="$NUID" --regid="$NGID" \
    --clear-groups timeout 20 "$B/controller/sc" -u "$SC_USER" -k "$KEY" \
    -i "$TUNNEL_NAME-closed" -x "$REST_URL" -d "$U/closed.pid" \
    --ctl-socket "$U/closed.sock" >"$TMP/sc-closed.log" 2>&1 || status=$?
[ "$status" = 1 ] || fail "sc as nobody with a closed kgpd: exit $status"
want="Error: cannot execute $B/kgpd/kgpd as nobody (uid $NUID): the directory $B/kgpd (mode 0700, uid 0) is closed to that user"
grep -qxF -- "$want" <(sed 's/^[0-9-]* [0-9:.]* //' "$TMP/sc-closed.log") ||
    fail "sc as nobody with a closed kgpd said: $(cat "$TMP/sc-closed.log")"
[ ! -e "$U/closed.pid" ] && [ ! -e "$U/closed.sock" ] ||
    fail "sc as nobody with a closed kgpd left its files"
ok "a kgpd nobody may not execute: '$want', exit 1"

ip netns exec "$OFFICE" setpriv --reuid="$NUID" --regid="$NGID" \
    --clear-groups "$STAGED/controller/sc" -u "$SC_USER" -k "$KEY" \
    -i "$TUNNEL_NAME" \
    -x "$REST_URL" -f "$U/ready" -d "$U/sc.pid" --ctl-socket "$U/ctl.sock" \
    >"$TMP/sc-user.log" 2>&1 &
SC_PID=$!
PIDS+=("$SC_PID")
wait_for 30 test -e "$U/ready" || {
	cat "$TMP/sc-user.log"
	fail "sc as nobody not ready within 30 s"
}
ENTRY=$(rest GET "/$SC_USER/tunnels?full=true" |
    json_get "[t['entry_proxy'] for t in j if t['status'] == 'running'][0]")
ctl_status() {
	"$SC_CTL" -s "$U/ctl.sock" status
}
GROUPS_WANT=		# setpriv --clear-groups
check_as controller "$SC_PID" "$NUID" "$NGID" /
check_as kgpd "$(ctl_field pid-kgpd)" "$NUID" "$NGID" /
check_as proxyd "$(ctl_field pid-proxyd)" "$NUID" "$NGID" /
check_sandbox controller "$SC_PID"
check_sandbox kgpd "$(ctl_field pid-kgpd)"
check_sandbox proxyd "$(ctl_field pid-proxyd)"
[ -z "$(others "$SC_PID")" ] || fail "a spawner as nobody: $(others "$SC_PID")"
ok "as nobody: no spawner"
request_ok || fail "no request through the tunnel of sc as nobody"
pid=$(ctl_field pid-proxyd)
kill -KILL "$pid"
wait_for 15 eval '[ -n "$(ctl_field pid-proxyd)" ] &&
    [ "$(ctl_field pid-proxyd)" != '$pid' ] && request_ok' ||
    fail "proxyd of sc as nobody not back within 15 s of kill -9"
check_as proxyd "$(ctl_field pid-proxyd)" "$NUID" "$NGID" /
check_sandbox proxyd "$(ctl_field pid-proxyd)"
stop_sc
[ "$SC_STATUS" = 0 ] || fail "sc as nobody exited with $SC_STATUS"
for f in sc.pid ctl.sock ready; do
	[ ! -e "$U/$f" ] || fail "$U/$f still there after SIGTERM"
done
ok "as nobody: SIGTERM exits 0, the files are removed"

e2e_done
