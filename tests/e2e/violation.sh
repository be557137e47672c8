#!/bin/bash
# A real sandbox violation inside a real child.  In a build with
# -Dsandbox_trap=true (a test-only option), SIGUSR2 makes kgpd or proxyd
# call execve(2), which its seccomp filter forbids: the child reports the
# system call, dies of SIGSYS, the controller logs which process and why,
# restarts it, and the tunnel serves again.  Other builds skip.
. "$(dirname "$0")/lib.sh"
PROBE=${SANDBOX_PROBE:-$(dirname "$SC")/../tests/tools/sandbox-probe}
[ -x "$PROBE" ] || skip "sandbox-probe is not built"
case $("$PROBE" -i) in
*seccomp-trap*) ;;
*) skip "not a -Dsandbox_trap=true build" ;;
esac
e2e_up

request_ok() {
	local body
	body=$(BROWSE_TIMEOUT=3 browse "$(app_url /)" 2>/dev/null) &&
	    [ "$body" = "hello from the office" ]
}

for child in kgpd proxyd; do
	pid=$(ctl_field "pid-$child")
	[ -n "$pid" ] && [ "$pid" -gt 0 ] || fail "no pid for $child"
	kill -USR2 "$pid" || fail "cannot signal $child"
	wait_for 5 grep -q "\[$child\] sandbox violation: system call execve" \
	    "$TMP/sc.log" ||
	    fail "$child's report of the violation is not in sc's log"
	wait_for 5 grep -q "$child killed by SIGSYS (sandbox violation)" \
	    "$TMP/sc.log" ||
	    fail "the controller did not log $child's death by SIGSYS"
	ok "$child broke its sandbox: the call and the death are in the log"
	wait_for 10 request_ok || fail "no request served 10 s after $child died"
	# (the other kgpd processes may serve before this one is back: 0)
	back() {
		newpid=$(ctl_field "pid-$child")
		[ -n "$newpid" ] && [ "$newpid" != 0 ] && [ "$newpid" != "$pid" ]
	}
	wait_for 10 back ||
	    fail "$child not restarted: pid '$(ctl_field "pid-$child")'"
	grep -q '^Seccomp:[[:space:]]*2' "/proc/$newpid/status" ||
	    fail "the new $child ($newpid) is not sandboxed"
	ok "$child restarted sandboxed (pid $pid -> $newpid); the tunnel serves"
done
e2e_done
