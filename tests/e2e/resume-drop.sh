#!/bin/bash
# Resume after a silent link (issue 4): during a 256 MiB download and a
# 64 MiB upload, and a loop of small requests, office drops every packet
# of the KGP connections (nftables, or iptables) until sc's keepalive
# (--max-missed-acks 3) declares them dead; then the rule goes.  sc
# reconnects and resumes: both transfers complete with the right sha256
# on both ends and no request of the loop fails.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/resume-lib.sh"
e2e_init
fw_init
start_server
start_app
start_sc --max-missed-acks 3

# about 11 s each without faults
xfer_start $((256 << 20)) $((64 << 20)) 24M 6M 100
ka_start 60
wait_for 10 download_past $((16 << 20)) ||
    fail "the download does not start ($(xfer_progress) bytes after 10 s)"
wait_for 5 ka_past 0 || fail "the request loop gets no answer"

at=$(xfer_progress)
fw_drop dport "$KGP_PORT"
t0=$(now_ms)
wait_log 15 "$RE_LOST_ANY" ||
    fail "keepalive does not declare the link dead within 15 s of the drop"
ms=$(( $(now_ms) - t0 ))
dropped=$(fw_dropped)
fw_clear
[ "$dropped" -gt 0 ] || fail "the $FW rules dropped no packet"
ok "KGP traffic dropped ($FW, $dropped packets) from $at bytes into the" \
    "download; sc declared the link dead after $ms ms"

xfer_check 90
ka_stop 60 3
resumed_all
e2e_done
