#!/bin/bash
# A tunnel (CONNECT) moves from proxyd to kgpd: proxyd hands kgpd the
# app's socket once the tunnel is up. The app speaks first and the
# browser sends bytes before the 200; every byte arrives once, in order,
# the half-close gets through, the app's socket belongs to kgpd and not
# to proxyd, and a tunnel that has moved outlives a kill -9 of proxyd.
# The echo service does not speak TLS: passthrough (-B all), or the
# entry proxy would resign the CONNECT.
. "$(dirname "$0")/lib.sh"
e2e_up -B all

TARGET=$APP_IP:$APP_ECHO_PORT

# who holds the TCP connections to the echo service, in office: "kgpd 1"
owners() {
	office ss -Htnp state established dst "$TARGET" |
	    grep -o 'users:(("[^"]*"' | sed 's/users:(("//; s/"$//' |
	    sort | uniq -c | awk '{printf "%s %s ", $2, $1}'
}

out=$(cloud "$PYTHON" "$E2E_DIR/tunnelclient.py" "$ENTRY" "$TARGET" \
    65536 $((16 * 1024 * 1024)) 2>&1) || fail "tunnel transfer: $out"
[ "$out" = "ok $((65536 + 16 * 1024 * 1024))" ] || fail "tunnelclient said '$out'"
ok "CONNECT, app speaks first, 64 KiB sent before the 200, 16 MiB both ways, half-close: $out bytes exact"

# a tunnel held open: its app socket is kgpd's, proxyd holds none
mkfifo "$TMP/hold.in"
cloud "$PYTHON" "$E2E_DIR/tunnelclient.py" --hold "$ENTRY" "$TARGET" 1000 \
    $((8 * 1024 * 1024)) <"$TMP/hold.in" >"$TMP/hold.out" 2>&1 &
hold_pid=$!
PIDS+=("$hold_pid")
exec 7>"$TMP/hold.in"
wait_for 20 grep -q '^up$' "$TMP/hold.out" ||
    fail "the held tunnel did not come up: $(cat "$TMP/hold.out")"
for _ in $(seq 50); do
	who=$(owners)
	[ "$who" = "kgpd 1 " ] && break
	sleep 0.1
done
[ "$who" = "kgpd 1 " ] ||
    fail "the app's socket of an open tunnel is held by '$who', want kgpd alone"
ok "the open tunnel's connection to the app is kgpd's ($who), not proxyd's"

# proxyd dies and comes back: the moved tunnel goes on
pid=$(ctl_field pid-proxyd)
[ -n "$pid" ] && [ "$pid" -gt 0 ] 2>/dev/null || fail "no pid-proxyd"
kill -KILL "$pid"
wait_for 10 bash -c "n=\$(\"$SC_CTL\" -s \"$TMP/ctl.sock\" status |
    sed -n 's/^pid-proxyd:[[:space:]]*//p'); [ -n \"\$n\" ] && [ \"\$n\" != $pid ] && [ \"\$n\" != 0 ]" ||
    fail "proxyd was not restarted"
echo go >&7
exec 7>&-
wait_for 60 not_running "$hold_pid" || fail "the held tunnel did not finish"
wait "$hold_pid"
status=$?
out=$(cat "$TMP/hold.out")
[ "$status" = 0 ] && [ "$(tail -n 1 "$TMP/hold.out")" = "ok $((1000 + 8 * 1024 * 1024))" ] ||
    fail "the tunnel open across proxyd's restart failed: $out"
ok "kill -9 of proxyd (pid $pid): the open tunnel then carried 8 MiB both ways, exact"

# 200 tunnels at once that end at random moments around their move,
# one in five with a reset: the checked ones are exact, neither helper
# dies, and what they hold goes back to where it was
kpid=$(ctl_field pid-kgpd)
ppid=$(ctl_field pid-proxyd)
fds_k=$(ls "/proc/$kpid/fd" | wc -l)
fds_p=$(ls "/proc/$ppid/fd" | wc -l)
out=$(cloud "$PYTHON" "$E2E_DIR/tunnelstress.py" "$ENTRY" "$TARGET" 200 \
    $$ 2>&1) || fail "$out"
case $out in
"ok "*) ;;
*) fail "tunnelstress said '$out'" ;;
esac
[ "$(ctl_field pid-kgpd)" = "$kpid" ] && [ "$(ctl_field pid-proxyd)" = "$ppid" ] ||
    fail "a helper was restarted during the stress"
for _ in $(seq 50); do
	[ -z "$(owners)" ] && [ "$(ls "/proc/$kpid/fd" | wc -l)" -le "$fds_k" ] &&
	    [ "$(ls "/proc/$ppid/fd" | wc -l)" -le "$fds_p" ] && break
	sleep 0.1
done
[ -z "$(owners)" ] || fail "connections to the app left open: $(owners)"
[ "$(ls "/proc/$kpid/fd" | wc -l)" -le "$fds_k" ] ||
    fail "kgpd holds $(ls "/proc/$kpid/fd" | wc -l) descriptors, $fds_k before"
[ "$(ls "/proc/$ppid/fd" | wc -l)" -le "$fds_p" ] ||
    fail "proxyd holds $(ls "/proc/$ppid/fd" | wc -l) descriptors, $fds_p before"
ok "200 tunnels ending around their move ($out: exact, reset): no helper died, no descriptor left"

# and new tunnels work with the new proxyd
out=$(cloud "$PYTHON" "$E2E_DIR/tunnelclient.py" "$ENTRY" "$TARGET" 10 1000 2>&1) ||
    fail "a new tunnel after the restart: $out"
ok "a new tunnel through the new proxyd: $out"
[ -z "$(owners)" ] || fail "connections to the app left open: $(owners)"
ok "no connection to the app is left open"
e2e_done
