#!/bin/bash
# Resume after a reset (issue 4): during a 256 MiB download and a 64 MiB
# upload, and a loop of small requests, the tunnel's TCP connections are
# killed in office with `ss -K` (the kernel aborts them and sends a RST).
# sc reconnects at once and resumes them: both transfers complete with the
# right sha256 on both ends and no request of the loop fails.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/resume-lib.sh"
e2e_up

# about 11 s each without faults
xfer_start $((256 << 20)) $((64 << 20)) 24M 6M 100
ka_start 60
wait_for 10 download_past $((16 << 20)) ||
    fail "the download does not start ($(xfer_progress) bytes after 10 s)"
wait_for 5 ka_past 0 || fail "the request loop gets no answer"

old=$(kgp_sports)
[ -n "$old" ] || fail "no established KGP connection in office"
at=$(xfer_progress)
office ss -K -tn dst "$CLOUD_IP" dport = ":$KGP_PORT" >"$TMP/ss-K.out" 2>&1 ||
    fail "ss -K failed: $(cat "$TMP/ss-K.out")"
sleep 0.5
for p in $old; do
	if kgp_sports | grep -qx "$p"; then
		skip "ss -K did not kill the connection from port $p (a" \
		    "kernel without CONFIG_INET_DIAG_DESTROY?)"
	fi
done
log "killed the KGP connections from ports" $old "at $at bytes"
wait_log 10 "$RE_LOST_ANY" || fail "sc does not notice the reset"
ok "ss -K killed $(echo $old | wc -w) KGP connection(s) with the" \
    "download at $at bytes"

xfer_check 90
ka_stop 60 3
resumed_all
e2e_done
