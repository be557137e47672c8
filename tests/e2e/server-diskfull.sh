#!/bin/bash
# A full state directory (issue 14, item 3): a write that is not durable
# is not acknowledged.  The state directory is a small tmpfs, filled with
# a file:
#  - sc's POST /tunnels gets 503 "cannot save the tunnel registry: No
#    space left on device", and sc exits 1 with that message, never
#    saying it is up; the tunnel is rolled back (the KGP worker drops it,
#    its entry port closes, the REST list does not have it);
#  - every POST, 20 in a row and 10 at once, gets its 503 within 10 s;
#  - the failures are logged at most once per 10 s, with their number;
#  - a DELETE is answered (200) and applied though it cannot be saved;
#  - when space comes back, saves resume (the retry needs no request) and
#    it is logged; sc then comes up, and its tunnel is in the registry.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/client-lib.sh"
command -v mount >/dev/null || skip "needs mount"
e2e_init
mkdir -m 0700 "$TMP/state" || fail "mkdir $TMP/state"
mount -t tmpfs -o size=1m,mode=0700 e2e-state "$TMP/state" ||
    skip "cannot mount a tmpfs"
# unmounted before lib.sh's cleanup removes $TMP
trap 'st=$?; umount -l "$TMP/state" 2>/dev/null; (exit $st); cleanup' EXIT
start_server
start_app
STATE=$TMP/state/sc-server.db
# tstatus ID: the status of tunnel ID in the database, "" if not there
tstatus() {
	db_query "SELECT status FROM tunnels WHERE id = '$1'"
}

# a tunnel made while there is room, to delete while there is none
T0=$(rest POST "/$SC_USER/tunnels" -d '{"tunnel_identifier": "t0"}' |
    json_get "j['id']") || fail "POST with room on the disk"
[ "$(tstatus "$T0")" = running ] || fail "tunnel $T0 is not in the registry"

# fill the state directory
dd if=/dev/zero of="$TMP/state/filler" bs=64k 2>/dev/null
avail=$(df --output=avail -B1 "$TMP/state" | tail -n 1)
[ "$avail" -lt 4096 ] || fail "$avail bytes still free on the tmpfs"
ok "state directory on a 1 MiB tmpfs, full ($avail bytes free)"

# 1. DELETE while full: answered and applied
code=$(rest DELETE "/$SC_USER/tunnels/$T0" -o "$TMP/ans" -w '%{http_code}')
[ "$code" = 200 ] || fail "DELETE while full: status $code"
st=$(tunnel_field "$T0" status)
[ "$st" = terminated ] || fail "tunnel $T0 after DELETE while full: $st"
[ "$(tstatus "$T0")" = running ] ||
    fail "the registry changed while the disk was full"
ok "DELETE while full: 200, $T0 $st (on disk once there is room)"

# 2. sc: 503 with the reason, exit 1, never "up"
sc_v4 full -i "$TUNNEL_NAME"
sc_exit full 30
st=${SCSTATUS[full]}
[ "$st" = 1 ] || fail "sc with the state directory full: exit '$st', want 1"
grep -q 'Sauce Connect is up' "$TMP/full.log" &&
    fail "sc said it is up though the tunnel was not saved"
[ ! -e "$TMP/full.ready" ] || fail "sc wrote its readyfile"
err=$(grep -m1 'Error: ' "$TMP/full.log")
case $err in
*503*"cannot save the tunnel registry: No space left on device"*) ;;
*) fail "sc's error: '$err'" ;;
esac
grep -q "cannot save the tunnel registry to $STATE: No space left on device" \
    "$TMP/server.log" || fail "the server did not log the failed save"
ok "sc: exit 1, '${err#*Error: }'"

# the tunnel is gone from both workers
id=$(sed -n 's/.*\[kgp[0-9]*\] tunnel \([0-9a-f]*\) terminated: not created: the registry could not be saved.*/\1/p' \
    "$TMP/server.log" | head -n 1)
[ -n "$id" ] || fail "the KGP worker did not drop the unsaved tunnel"
entry=$(sed -n "s/.*\\[kgp[0-9]*\\] tunnel $id of $SC_USER: entry proxy \\([0-9.:]*\\).*/\\1/p" \
    "$TMP/server.log" | head -n 1)
[ -n "$entry" ] || fail "no entry proxy line for tunnel $id"
if cloud curl -sS --max-time 3 -x "http://$entry" -o /dev/null \
    "$(app_url /text/x)" 2>/dev/null; then
	fail "the entry proxy $entry of the unsaved tunnel still answers"
fi
list=$(rest GET "/$SC_USER/tunnels")
[ "$list" = "[]" ] || fail "the REST list after the failed create: $list"
ok "tunnel $id rolled back: the KGP worker dropped it, $entry closed," \
    "the REST list has $list"

# 3. every POST is answered: 20 in a row, 10 at once
t0=$(date +%s)
for i in $(seq 20); do
	code=$(rest POST "/$SC_USER/tunnels" -d '{}' -o "$TMP/ans" \
	    -w '%{http_code}') || fail "POST $i while full: no answer in 10 s"
	[ "$code" = 503 ] || fail "POST $i while full: status $code"
done
grep -q 'No space left on device' "$TMP/ans" ||
    fail "the 503 does not say why: $(cat "$TMP/ans")"
par=()
for i in $(seq 10); do
	rest POST "/$SC_USER/tunnels" -d '{}' -o /dev/null \
	    -w '%{http_code}\n' >"$TMP/par.$i" 2>&1 &
	par+=($!)
done
all_503() {
	[ "$(cat "$TMP"/par.* | grep -c '^503$')" = 10 ]
}
wait_for 15 all_503 ||
    fail "10 POSTs at once: $(cat "$TMP"/par.* | tr '\n' ' ')"
wait "${par[@]}"
list=$(rest GET "/$SC_USER/tunnels")
[ "$list" = "[]" ] || fail "the REST list after 30 failed creates: $list"
t=$(( $(date +%s) - t0 ))
ok "30 POSTs while full: each answered 503, in $t s, no tunnel left"

# 4. the log: at most one line per 10 s, then one with the count
n=$(grep -c 'cannot save the tunnel registry to' "$TMP/server.log")
[ "$n" -le $(( t / 10 + 2 )) ] ||
    fail "$n lines for the failed saves in $t s"
wait_for 25 grep -q 'failed saves since the last message)' "$TMP/server.log" ||
    fail "no line with the number of failed saves"
ok "failures logged $n times in $t s, then:" \
    "$(grep -m1 -o 'No space left on device (.*message)' "$TMP/server.log")"

# 5. room again: the saves resume by themselves, and say so
rm -f "$TMP/state/filler"
wait_for 15 grep -q "tunnel registry is saved to $STATE again, after [0-9]* failed saves" \
    "$TMP/server.log" || fail "no line saying the registry is saved again"
[ "$(tstatus "$T0")" = terminated ] ||
    fail "the DELETE did not reach the registry once there was room"
ok "room again: '$(grep -o 'the tunnel registry is saved .*' "$TMP/server.log" |
    head -n 1)'"

sc_v4 room -i "$TUNNEL_NAME"
sc_ready room
id=$(sc_id room)
[ "$(tstatus "$id")" = running ] || fail "sc's tunnel $id is not in the registry"
entry=$(tunnel_field "$id" entry_proxy)
fetch_via "$entry" room || fail "no request through tunnel $id"
ok "sc up on tunnel $id, in the registry, a request through $entry works"
sc_term room
e2e_done
