#!/bin/bash
# sc-ctl status, and the supervisor: kill -9 of proxyd, then of kgpd; each
# time the controller restarts it and a request succeeds again within 5 s.
. "$(dirname "$0")/lib.sh"
e2e_up

ctl_status >"$TMP/status" || fail "sc-ctl status failed"
cat "$TMP/status"
[ "$(ctl_field tunnel-id)" = "$TUNNEL_ID" ] ||
    fail "sc-ctl tunnel-id '$(ctl_field tunnel-id)', want $TUNNEL_ID"
[ "$(ctl_field tunnel-name)" = "$TUNNEL_NAME" ] ||
    fail "sc-ctl tunnel-name '$(ctl_field tunnel-name)'"
[ -n "$(ctl_field state)" ] || fail "sc-ctl status has no state"
for k in server uptime streams-open streams-total bytes-in bytes-out \
    rtt-ms reconnects; do
	grep -q "^$k:" "$TMP/status" || fail "sc-ctl status has no $k: line"
done
[ "$(ctl_field pid-controller)" = "$SC_PID" ] ||
    fail "pid-controller '$(ctl_field pid-controller)', want $SC_PID"
ok "sc-ctl status: tunnel id, name, state '$(ctl_field state)', every field"

ppid_of() {
	awk '{print $4}' "/proc/$1/stat" 2>/dev/null
}

# kill_child NAME: kill -9 the child, expect a new one and a working tunnel
kill_child() {
	local name=$1 pid newpid t0 t1 ms
	pid=$(ctl_field "pid-$name")
	[ -n "$pid" ] && [ "$pid" -gt 0 ] 2>/dev/null ||
	    fail "sc-ctl gives no pid-$name"
	[ "$(ppid_of "$pid")" = "$SC_PID" ] ||
	    fail "$name ($pid) is not a child of sc ($SC_PID)"
	request_ok || fail "the tunnel does not work before killing $name"
	t0=$(date +%s%N)
	kill -KILL "$pid"
	while ! request_ok; do
		t1=$(date +%s%N)
		[ $(( (t1 - t0) / 1000000 )) -le 5000 ] ||
		    fail "no successful request within 5 s of kill -9 $name"
		sleep 0.1
	done
	t1=$(date +%s%N)
	ms=$(( (t1 - t0) / 1000000 ))
	kill -0 "$SC_PID" 2>/dev/null || fail "sc died with its $name"
	# (the other kgpd processes may serve before this one is back: 0)
	restarted() {
		newpid=$(ctl_field "pid-$name")
		[ -n "$newpid" ] && [ "$newpid" != 0 ] && [ "$newpid" != "$pid" ]
	}
	wait_for 10 restarted ||
	    fail "pid-$name is still '$(ctl_field "pid-$name")' after the restart"
	newpid=$(ctl_field "pid-$name")
	[ "$(ppid_of "$newpid")" = "$SC_PID" ] ||
	    fail "the new $name ($newpid) is not a child of sc"
	ok "kill -9 $name ($pid): new $name $newpid, requests work again after ${ms} ms"
}

kill_child proxyd
kill_child kgpd
kill_child proxyd

[ "$(ctl_field tunnel-id)" = "$TUNNEL_ID" ] || fail "tunnel id changed"
ok "still the same tunnel after the restarts"
e2e_done
