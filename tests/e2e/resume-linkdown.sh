#!/bin/bash
# Resume across a link that goes down (issue 4).  A 256 MiB download and a
# 64 MiB upload through the tunnel, and beside them a loop of small
# requests.  The veth link goes down for 2 s (TCP alone may ride that
# out), then for 20 s: sc (--max-missed-acks 5) declares its connections
# dead, reconnects when the link is back and resumes them within the
# server's grace period (-g 60).  Both transfers complete with the right
# sha256 on both ends, no request of the loop fails, and sc's log has one
# "lost: ...; resuming" and one "resumed after" line per broken connection.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/resume-lib.sh"
e2e_init
start_server -g 60
start_app
start_sc --max-missed-acks 5

# 256 MiB at 16 MiB/s and 64 MiB at 4 MiB/s: about 16 s each without
# faults, so both are in flight through the two cuts
xfer_start $((256 << 20)) $((64 << 20)) 16M 4M 120
ka_start 70
wait_for 10 download_past $((1 << 20)) ||
    fail "the download does not start ($(xfer_progress) bytes after 10 s)"
wait_for 5 ka_past 0 || fail "the request loop gets no answer"

# 1. two seconds
before=$(xfer_progress)
link_cut 2
after=$(xfer_progress)
wait_for 15 download_past $((after + (1 << 20))) ||
    fail "the download does not go on after a 2 s cut" \
    "($(xfer_progress) bytes, $after when the link came back)"
n=$(ka_requests)
wait_for 30 ka_past "$n" ||
    fail "the request loop gets no answer after a 2 s cut"
not_running "$SC_PID" && fail "sc exited after a 2 s cut"
ok "2 s cut (download at $before bytes): the download goes on" \
    "($(xfer_progress) bytes), the request loop too"

# 2. twenty seconds: keepalive declares the link dead, sc resumes
before=$(xfer_progress)
[ "$before" -lt $((256 << 20)) ] ||
    fail "the download finished before the 20 s cut: make it slower"
cloud ip link set veth0 down || fail "cannot take the link down"
t_down=$(now_ms)
wait_log 15 "$RE_LOST_RESUMING"
lost_ok=$?
while [ $(( $(now_ms) - t_down )) -lt 20000 ]; do
	sleep 0.2
done
cloud ip link set veth0 up || fail "cannot bring the link up"
wait_for 5 link_up cloud || fail "the link did not come back"
log "link down for $(( $(now_ms) - t_down )) ms with the download at" \
    "$before bytes"
[ "$lost_ok" = 0 ] ||
    fail "no 'Tunnel connection <i> lost: ...; resuming' line within 15 s" \
    "of the link going down: $(grep -E "$RE_LOST_ANY" "$TMP/sc.log" |
    tail -n 2)"
ok "20 s cut: sc says '$(grep -Eo "$RE_LOST_RESUMING" "$TMP/sc.log" |
    head -n 1)'"
t_up=$(now_ms)
wait_log 45 "$RE_RESUMED" ||
    fail "no 'Tunnel connection <i> resumed after' line within 45 s of" \
    "the link coming back"
ok "sc resumed $(( $(now_ms) - t_up )) ms after the link came back:" \
    "'$(grep -Eo "$RE_RESUMED" "$TMP/sc.log" | head -n 1)'"

xfer_check 60
ka_stop 70 6

resumed_all
e2e_done
