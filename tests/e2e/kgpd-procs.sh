#!/bin/bash
# Several kgpd processes (issue 20): with --tunnel-connections 4
# --kgp-processes 2, connections 0 and 2 live in one kgpd, 1 and 3 in
# another.  sc-ctl status names each connection's kgpd; ps shows two kgpd
# children of sc, each sandboxed.  Four downloads, one per connection,
# run at once; kill -9 of the kgpd of connection 0: the two downloads on
# its connections end with an error (their state was in that process),
# the two on the other kgpd complete byte-exact, its connections never
# break, proxyd stays, and sc starts the killed kgpd again, whose two
# connections come back up in the new process.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/resume-lib.sh"
e2e_up --tunnel-connections 4 --kgp-processes 2

# conn_field I FIELD: a field of connection I's line in sc-ctl status
# (kgpd pid, breaks)
conn_field() {
	ctl_conns | sed -n "s/^connection $1: .*[:,] $2 \([0-9]*\).*/\1/p"
}
four_up() {
	[ "$(ctl_conns | grep -c '^connection [0-9]*: up,')" = 4 ]
}
wait_for 10 four_up || fail "not 4 connections up: $(ctl_conns)"
ctl_conns >"$TMP/conns"
[ "$(grep -cE "$RE_CONN" "$TMP/conns")" = 4 ] ||
    fail "sc-ctl status' connection lines: $(cat "$TMP/conns")"
for i in 0 1 2 3; do
	printf -v "p$i" %s "$(conn_field $i 'kgpd pid')"
done
# shellcheck disable=SC2154
[ -n "$p0" ] && [ "$p0" != 0 ] && [ -n "$p1" ] && [ "$p1" != 0 ] &&
    [ "$p0" = "$p2" ] && [ "$p1" = "$p3" ] && [ "$p0" != "$p1" ] ||
    fail "connections' kgpd pids: $p0 $p1 $p2 $p3, want A B A B"
kids=$(kgpd_pid | sort -n | tr '\n' ' ')
[ "$kids" = "$(printf '%s\n' "$p0" "$p1" | sort -n | tr '\n' ' ')" ] ||
    fail "sc's kgpd children are '$kids', sc-ctl says $p0 and $p1"
[ "$(ctl_field pid-kgpd)" = "$p0" ] ||
    fail "pid-kgpd is $(ctl_field pid-kgpd), connection 0's kgpd $p0"
proxyd=$(ctl_field pid-proxyd)
for p in $p0 $p1; do
	[ "$(awk '/^Seccomp:/ {print $2}' "/proc/$p/status")" = 2 ] &&
	    [ "$(awk '/^NoNewPrivs:/ {print $2}' "/proc/$p/status")" = 1 ] ||
	    fail "kgpd $p is not sandboxed: $(grep -E 'Seccomp|NoNewPrivs' \
	    "/proc/$p/status" | tr '\n' ' ')"
	# the user and the root proxyd has (_sc, chrooted to the empty
	# directory; sanitizer builds skip the chroot for both)
	[ "$(readlink "/proc/$p/root")" = "$(readlink "/proc/$proxyd/root")" ] &&
	    [ "$(awk '/^Uid:/ {print $2}' "/proc/$p/status")" = \
	    "$(awk '/^Uid:/ {print $2}' "/proc/$proxyd/status")" ] ||
	    fail "kgpd $p: root $(readlink "/proc/$p/root"), $(grep ^Uid: \
	    "/proc/$p/status"); proxyd $proxyd: root" \
	    "$(readlink "/proc/$proxyd/root"), $(grep ^Uid: "/proc/$proxyd/status")"
done
ok "4 connections in 2 kgpd processes: 0 and 2 in $p0, 1 and 3 in $p1," \
    "both children of sc, seccomp and no_new_privs on, proxyd's user and" \
    "root ($(readlink "/proc/$p1/root"))"

# four downloads, one on each connection
size=$((32 << 20))
dl_spread "$size" 2M 90 d1 d2 d3 d4
# which connection carries which download
"$SC_CTL" -s "$TMP/ctl.sock" show streams >"$TMP/streams" ||
    fail "sc-ctl show streams"
victims=() survivors=()
for d in d1 d2 d3 d4; do
	url=DL_URL_$d
	c=$(grep -F ": ${!url}, " "$TMP/streams" |
	    sed -n 's/.*, connection \([0-9]*\),.*/\1/p')
	case $c in
	0|2) victims+=("$d") ;;
	1|3) survivors+=("$d") ;;
	*) fail "download $d on connection '$c': $(cat "$TMP/streams")" ;;
	esac
done
[ "${#victims[@]}" = 2 ] && [ "${#survivors[@]}" = 2 ] ||
    fail "downloads on kgpd $p0: ${victims[*]}, on $p1: ${survivors[*]}"
ok "four downloads, one per connection: ${victims[*]} in kgpd $p0," \
    "${survivors[*]} in kgpd $p1"

kill -KILL "$p0" || fail "cannot kill kgpd $p0"
t_kill=$(now_ms)
log "killed kgpd $p0 (connections 0 and 2)"

for d in "${survivors[@]}"; do
	dl_check "$d" 60
done
ok "the downloads of kgpd $p1 completed byte-exact across the death of $p0"
for d in "${victims[@]}"; do
	pid=DL_PID_$d
	wait_pid 20 "${!pid}" ||
	    fail "download $d still runs 20 s after its kgpd died"
	[ "$WAIT_STATUS" != 0 ] && [ "$(dl_size "$d")" -lt "$size" ] ||
	    fail "download $d across its kgpd's death: curl exit" \
	    "$WAIT_STATUS, $(dl_size "$d") bytes"
done
ok "the downloads of kgpd $p0 ended with an error (${victims[*]})"

# the killed kgpd is started again and its connections come back in it
back() {
	local n
	n=$(conn_field 0 'kgpd pid')
	[ -n "$n" ] && [ "$n" != 0 ] && [ "$n" != "$p0" ] && four_up &&
	    [ "$(conn_field 2 'kgpd pid')" = "$n" ]
}
wait_for 15 back || fail "connections 0 and 2 not back in a new kgpd: $(ctl_conns)"
new=$(conn_field 0 'kgpd pid')
ok "kgpd restarted ($p0 -> $new) $(( $(now_ms) - t_kill )) ms after" \
    "kill -9; connections 0 and 2 up in it"
for i in 1 3; do
	[ "$(conn_field $i 'kgpd pid')" = "$p1" ] &&
	    [ "$(conn_field $i breaks)" = 0 ] ||
	    fail "connection $i: $(ctl_conns | grep "^connection $i:")"
done
[ "$(ctl_field pid-proxyd)" = "$proxyd" ] ||
    fail "proxyd changed: $proxyd -> $(ctl_field pid-proxyd)"
grep -q 'kgpd killed by signal 9, restarting' "$TMP/sc.log" &&
    grep -q 'kgpd is back, reconnecting the tunnel' "$TMP/sc.log" ||
    fail "no 'kgpd killed by signal 9' and 'kgpd is back' lines in sc's log"
ok "connections 1 and 3 never broke, still in kgpd $p1; proxyd $proxyd stays"

# every connection carries again: four downloads, one each, byte-exact
dl_spread $((16 << 20)) 2M 60 e1 e2 e3 e4
for d in e1 e2 e3 e4; do
	dl_check "$d" 60
done
not_running "$SC_PID" && fail "sc exited"
e2e_done
