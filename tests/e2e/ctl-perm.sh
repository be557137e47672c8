#!/bin/bash
# The control socket checks who is on the other end: another local user
# cannot stop sc.  (1) A user outside the socket's group cannot even
# connect (mode 0660).  (2) Once the socket's group is the user's, status
# works for the user but stop and verbose are refused, and sc keeps
# running.  (3) Root still stops sc.
. "$(dirname "$0")/lib.sh"
command -v setpriv >/dev/null || skip "needs setpriv (util-linux)"
command -v useradd >/dev/null || skip "needs useradd"
e2e_up

SOCK=$TMP/ctl.sock
PUSER=sc-e2e-$$
PUSER_MADE=

# the throwaway user goes away whatever happens, then lib.sh's cleanup
perm_cleanup() {
	local status=$?
	if [ -n "$PUSER_MADE" ]; then
		userdel "$PUSER" 2>/dev/null
		getent group "$PUSER" >/dev/null && groupdel "$PUSER" 2>/dev/null
	fi
	(exit "$status")
	cleanup
}
trap perm_cleanup EXIT

getent passwd "$PUSER" >/dev/null && fail "user $PUSER exists already"
PUSER_MADE=1
useradd -r -M -U -s /usr/sbin/nologin "$PUSER" ||
    fail "useradd $PUSER failed"
PUID=$(id -u "$PUSER")
PGID=$(id -g "$PUSER")
[ "$PUID" != 0 ] && [ "$PGID" != 0 ] || fail "user $PUSER is uid/gid 0"

# the user must reach the socket (search permission on the directories)
# and run sc-ctl (a copy, whatever the build tree's permissions)
stage_programs

# as_user CMD...: sc-ctl as the throwaway user, no supplementary groups
as_user() {
	setpriv --reuid="$PUID" --regid="$PGID" --clear-groups \
	    "$STAGED/sc-ctl/sc-ctl" -s "$SOCK" "$@"
}

# still_up: sc's pid unchanged and a request through the tunnel works
still_up() {
	local what=$1 code
	not_running "$SC_PID" && fail "sc is gone after $what"
	[ "$(cat "$TMP/sc.pid")" = "$SC_PID" ] ||
	    fail "the pidfile says $(cat "$TMP/sc.pid"), want $SC_PID after $what"
	[ "$(ctl_field pid-controller)" = "$SC_PID" ] ||
	    fail "pid-controller changed after $what"
	code=$(browse -o /dev/null -w '%{http_code}' "$(app_url /)") ||
	    fail "no request through the tunnel after $what"
	[ "$code" = 200 ] || fail "HTTP $code through the tunnel after $what"
}

[ "$(stat -c %a "$SOCK")" = 660 ] ||
    fail "control socket mode $(stat -c %a "$SOCK"), want 660"
[ "$(stat -c %g "$SOCK")" != "$PGID" ] && [ "$(stat -c %u "$SOCK")" != "$PUID" ] ||
    fail "the control socket belongs to $PUSER already"

# (1) not the owner, not in the group: the kernel refuses the connection
for cmd in status stop; do
	status=0
	as_user "$cmd" >"$TMP/u1.out" 2>"$TMP/u1.err" || status=$?
	[ "$status" = 1 ] || fail "$PUSER: sc-ctl $cmd exit $status, want 1"
	grep -q "^Error: $SOCK: permission denied" "$TMP/u1.err" ||
	    fail "$PUSER: sc-ctl $cmd said '$(cat "$TMP/u1.err")'"
	[ ! -s "$TMP/u1.out" ] || fail "$PUSER: sc-ctl $cmd printed '$(cat "$TMP/u1.out")'"
done
still_up "a connection from outside the group"
ok "outside the socket's group: exit 1, '$(cat "$TMP/u1.err")'"

# (2) the socket's group is the user's: status and show streams yes,
# stop and verbose no
chgrp "$PGID" "$SOCK" || fail "chgrp $PGID $SOCK"
[ "$(stat -c %a "$SOCK")" = 660 ] || fail "socket mode changed by chgrp"
as_user status >"$TMP/u2.out" 2>"$TMP/u2.err" ||
    fail "$PUSER in the socket's group: sc-ctl status: $(cat "$TMP/u2.err")"
grep -q "^tunnel-id: $TUNNEL_ID\$" "$TMP/u2.out" ||
    fail "$PUSER: sc-ctl status printed '$(cat "$TMP/u2.out")'"
grep -q "^pid-controller: $SC_PID\$" "$TMP/u2.out" ||
    fail "$PUSER: sc-ctl status, wrong pid-controller"
ok "group member (primary group): sc-ctl status works"
as_user show streams >"$TMP/u2s.out" 2>"$TMP/u2s.err" ||
    fail "$PUSER: sc-ctl show streams: $(cat "$TMP/u2s.err")"
grep -Eq '^(no open streams|stream [0-9]+: )' "$TMP/u2s.out" ||
    fail "$PUSER: sc-ctl show streams printed '$(cat "$TMP/u2s.out")'"
ok "group member: sc-ctl show streams works, as status does"

# a member through a supplementary group only
setpriv --reuid="$PUID" --regid=65534 --groups="$PGID" \
    "$STAGED/sc-ctl/sc-ctl" -s "$SOCK" status >"$TMP/u3.out" 2>"$TMP/u3.err" ||
    fail "$PUSER with the socket's group as a supplementary group: $(cat "$TMP/u3.err")"
grep -q "^tunnel-id: $TUNNEL_ID\$" "$TMP/u3.out" ||
    fail "$PUSER (supplementary group): status printed '$(cat "$TMP/u3.out")'"
ok "group member (supplementary group): sc-ctl status works"

status=0
as_user stop >"$TMP/stop.out" 2>"$TMP/stop.err" || status=$?
[ "$status" = 1 ] || fail "$PUSER: sc-ctl stop exit $status, want 1"
grep -q '^Error: permission denied: stop needs root or uid [0-9][0-9]*$' \
    "$TMP/stop.err" || fail "$PUSER: sc-ctl stop said '$(cat "$TMP/stop.err")'"
wait_for 3 grep -q "control: stop from uid $PUID (pid [0-9]*) refused" \
    "$TMP/sc.log" || fail "no refusal line for stop in sc's log"
sleep 1		# a stop that got through would show now
grep -q 'Stop requested' "$TMP/sc.log" && fail "sc took the stop"
still_up "a refused stop"
ok "group member: sc-ctl stop refused, '$(cat "$TMP/stop.err")', sc still up"

status=0
as_user verbose 2 >"$TMP/verbose.out" 2>"$TMP/verbose.err" || status=$?
[ "$status" = 1 ] || fail "$PUSER: sc-ctl verbose 2 exit $status, want 1"
grep -q '^Error: permission denied: verbose needs root or uid [0-9][0-9]*$' \
    "$TMP/verbose.err" ||
    fail "$PUSER: sc-ctl verbose 2 said '$(cat "$TMP/verbose.err")'"
wait_for 3 grep -q "control: verbose from uid $PUID (pid [0-9]*) refused" \
    "$TMP/sc.log" || fail "no refusal line for verbose in sc's log"
grep -q 'Verbosity set to' "$TMP/sc.log" && fail "sc took the verbose 2"
still_up "a refused verbose"
ok "group member: sc-ctl verbose 2 refused, logged, verbosity unchanged"

# (3) root still may
"$SC_CTL" -s "$SOCK" stop >"$TMP/rstop.out" 2>&1 ||
    fail "root: sc-ctl stop failed: $(cat "$TMP/rstop.out")"
stop_wait=0
while ! not_running "$SC_PID"; do
	[ "$stop_wait" -lt 400 ] || fail "sc still runs 40 s after root's stop"
	sleep 0.1
	stop_wait=$((stop_wait + 1))
done
wait "$SC_PID"
SC_STATUS=$?
[ "$SC_STATUS" = 0 ] || fail "sc after root's sc-ctl stop: exit $SC_STATUS"
grep -q 'Goodbye\.' "$TMP/sc.log" || fail "no 'Goodbye.' after root's stop"
ok "root: sc-ctl stop exits 0 and sc exits 0"
e2e_done
