#!/bin/bash
# /etc/passwd replaced while sc runs (useradd, userdel and passwd write a
# new file and rename it over the old one): a helper killed afterwards
# comes back, sandboxed and _sc again, and the tunnel carries traffic.
# The spawner and the helpers' start once looked the user up in the new
# file, which their Landlock rules (made for the old file) do not let
# them read; the user database then asked systemd's NSS module, whose
# readlinkat() the sandbox kills: every restart died, forever.
#
# The host's /etc/passwd is never touched: sc runs in a mount namespace
# of its own with private propagation (checked before the bind mount),
# the copy is bind-mounted over /etc/passwd there only, and the namespace
# goes with sc's processes.
. "$(dirname "$0")/lib.sh"
command -v unshare >/dev/null && command -v nsenter >/dev/null ||
    skip "needs unshare and nsenter (util-linux)"
PROBE=${SANDBOX_PROBE:-$(dirname "$SC")/../tests/tools/sandbox-probe}

e2e_init
start_server
start_app

# sc in a private mount namespace (it execs sc: $! stays sc's pid)
cat >"$TMP/sc-ns" <<EOF
#!/bin/sh
exec unshare --mount --propagation private "$SC" "\$@"
EOF
chmod 0755 "$TMP/sc-ns"
REAL_SC=$SC
SC=$TMP/sc-ns
start_sc -l "$TMP/file.log"
SC=$REAL_SC
[ "$(cat "/proc/$SC_PID/comm")" = sc ] || fail "pid $SC_PID is not sc"
mine=$(readlink /proc/self/ns/mnt)
theirs=$(readlink "/proc/$SC_PID/ns/mnt")
[ -n "$theirs" ] && [ "$theirs" != "$mine" ] ||
    fail "sc is not in a mount namespace of its own ($theirs)"
prop=$(nsenter -t "$SC_PID" -m findmnt -n -o PROPAGATION /)
[ "$prop" = private ] || fail "sc's / has propagation '$prop', want private"
ok "sc ($SC_PID) in its own mount namespace, / private"

request_ok() {
	local body
	body=$(BROWSE_TIMEOUT=5 browse "$(app_url /text/pw)" 2>/dev/null) &&
	    [ "$body" = "response pw" ]
}
request_ok || fail "no request through the tunnel"

# what useradd does: a new file, with one more user, in place of the old
cp /etc/passwd "$TMP/passwd.copy" || fail "cannot copy /etc/passwd"
echo "sc-e2e-$$:x:59999:59999::/nonexistent:/usr/sbin/nologin" \
    >>"$TMP/passwd.copy"
chmod 0644 "$TMP/passwd.copy"
chmod o+x "$TMP"
nsenter -t "$SC_PID" -m mount --bind "$TMP/passwd.copy" /etc/passwd ||
    fail "cannot bind-mount the copy over sc's /etc/passwd"
nsenter -t "$SC_PID" -m grep -q "^sc-e2e-$$:" /etc/passwd ||
    fail "sc's /etc/passwd is not the new one"
grep -q "^sc-e2e-$$:" /etc/passwd && fail "the host's /etc/passwd changed"
ok "sc's /etc/passwd replaced by a new file; the host's untouched"

SCUID=$(id -u _sc)
WANT_ROOT=/var/empty
if [ -x "$PROBE" ] && "$PROBE" -i 2>/dev/null | grep -q sanitizer; then
	WANT_ROOT=/
fi
for name in proxyd kgpd proxyd; do
	pid=$(ctl_field "pid-$name")
	[ -n "$pid" ] && [ "$pid" -gt 0 ] 2>/dev/null || fail "no pid-$name"
	kill -KILL "$pid"
	wait_for 20 eval '[ -n "$(ctl_field pid-'$name')" ] &&
	    [ "$(ctl_field pid-'$name')" != 0 ] &&
	    [ "$(ctl_field pid-'$name')" != '$pid' ] && request_ok' || {
		grep -E 'SIGSYS|sandbox|restart' "$TMP/file.log" | tail -n 5
		fail "$name not back with a working tunnel within 20 s of" \
		    "kill -9 after /etc/passwd was replaced"
	}
	newpid=$(ctl_field "pid-$name")
	got=$(awk '/^Uid:/ {print $2}' "/proc/$newpid/status")
	[ "$got" = "$SCUID" ] || fail "the new $name runs as uid $got"
	[ "$(readlink "/proc/$newpid/root")" = "$WANT_ROOT" ] ||
	    fail "the new $name is not chrooted to $WANT_ROOT"
	[ "$(awk '/^Seccomp:/ {print $2}' "/proc/$newpid/status")" = 2 ] ||
	    fail "the new $name has no seccomp filter"
	ok "kill -9 $name ($pid): $newpid is back, uid $SCUID, root" \
	    "$WANT_ROOT, sandboxed; requests work"
done
grep -q 'SIGSYS' "$TMP/file.log" && fail "a process died of SIGSYS: $(grep SIGSYS "$TMP/file.log" | head -n 2)"
[ "$(ctl_field tunnel-id)" = "$TUNNEL_ID" ] || fail "the tunnel changed"
ok "no sandbox violation; the same tunnel $TUNNEL_ID"

stop_sc
[ "$SC_STATUS" = 0 ] || fail "sc exited with $SC_STATUS after SIGTERM"
# the user the replacement added is not on the host (a checksum would be
# broken by another test's useradd running at the same time: ctl-perm)
grep -q "^sc-e2e-$$:" /etc/passwd && fail "the host's /etc/passwd changed"
findmnt -n /etc/passwd >/dev/null && fail "a mount on the host's /etc/passwd"
ok "SIGTERM: exit 0; the host's /etc/passwd is as it was, nothing mounted on it"
e2e_done
