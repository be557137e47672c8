#!/bin/bash
# kill -9 of kgpd in the middle of a download (issue 4): the streams it
# held end with an error (their state was in that process), the controller
# starts a new kgpd, the tunnel comes back, and a new request succeeds
# within 2 s of the new kgpd being there.  One kgpd process carries
# every connection here (--kgp-processes 1); kgpd-procs.sh kills one of
# several.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/resume-lib.sh"
e2e_up --kgp-processes 1

request_ok() {
	local code
	code=$(BROWSE_TIMEOUT=2 browse -o "$TMP/r" -w '%{http_code}' \
	    "$(app_url /text/again)" 2>/dev/null) || return 1
	[ "$code" = 200 ] && [ "$(cat "$TMP/r")" = "response again" ]
}

request_ok || fail "the tunnel does not serve before the test"
old=$(kgpd_pid)
[ -n "$old" ] || fail "sc ($SC_PID) has no kgpd child"
[ "$(ctl_field pid-kgpd)" = "$old" ] ||
    fail "sc-ctl says kgpd is '$(ctl_field pid-kgpd)', ps says $old"

# 64 MiB at 4 MiB/s: in flight when kgpd dies
dl_start d1 $((64 << 20)) 4M 60
wait_for 10 dl_past d1 $((4 << 20)) || fail "the download does not start"
at=$(dl_size d1)
kill -KILL "$old" || fail "cannot kill kgpd ($old)"
t_kill=$(now_ms)
log "killed kgpd ($old) with the download at $at bytes"

# the controller starts a new kgpd
wait_for 10 kgpd_new "$old" ||
    fail "no new kgpd 10 s after kill -9 of $old"
t_new=$(now_ms)
new=$(kgpd_pid)
ok "sc started a new kgpd ($new) $((t_new - t_kill)) ms after kill -9 of $old"

# a new request succeeds within 2 s of it
while ! request_ok; do
	[ $(( $(now_ms) - t_new )) -le 2000 ] ||
	    fail "no successful request within 2 s of the new kgpd"
	sleep 0.1
done
ok "a new request succeeded $(( $(now_ms) - t_new )) ms after the new" \
    "kgpd was there"

# the download it held ended with an error
wait_pid 15 "$DL_PID_d1" ||
    fail "the download still runs 15 s after kgpd died ($(dl_size d1) bytes)"
got=$(dl_size d1)
[ "$WAIT_STATUS" != 0 ] && [ "$got" -lt $((64 << 20)) ] ||
    fail "the download across kgpd's death: curl exit $WAIT_STATUS, $got bytes"
ok "the download ended with an error: curl exit $WAIT_STATUS after $got" \
    "bytes ($(head -n 1 "$TMP/d1.err"))"

not_running "$SC_PID" && fail "sc exited"
[ "$(ctl_field tunnel-id)" = "$TUNNEL_ID" ] || fail "the tunnel id changed"
[ "$(ctl_field pid-kgpd)" = "$new" ] ||
    fail "sc-ctl says kgpd is '$(ctl_field pid-kgpd)', want $new"
request_ok || fail "the tunnel does not serve at the end"
ok "sc $SC_PID still runs the same tunnel, with kgpd $new"
e2e_done
