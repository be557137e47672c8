#!/bin/bash
# The files a wrapper watches: -l logfile (every line, the helpers' too,
# appended), the console lines that still go to standard output, -d
# pidfile (sc's pid while it runs, removed at exit) and -f readyfile
# (only once the tunnel is up; a stale one is removed at start).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/client-lib.sh"
e2e_init
start_server
start_app

LOGF=$TMP/file.log
PIDF=$TMP/file.pid
echo "an older line" >"$LOGF"
sc_v4 files -i "$TUNNEL_NAME" -v -l "$LOGF" -d "$PIDF"
sc_ready files
pid=${SCPID[files]}
[ "$(cat "$PIDF" 2>/dev/null)" = "$pid" ] ||
    fail "pidfile holds '$(cat "$PIDF" 2>/dev/null)', want $pid"
ok "pidfile holds sc's pid ($pid) while it runs"

id=$(sc_id files)
[ -n "$id" ] || fail "no 'Tunnel ID:' line on standard output"
fetch_via "$(entry_of "$id")" logfile || fail "the tunnel does not serve"
ok "-l: 'Tunnel ID' and 'Sauce Connect is up' on standard output"

# the helpers' lines arrive through the controller: give them a moment
sleep 1
[ "$(head -n 1 "$LOGF")" = "an older line" ] ||
    fail "the log file was not appended to"
grep -q "Tunnel ID: $id" "$LOGF" || fail "no 'Tunnel ID' line in the log file"
grep -q '^[0-9-]* [0-9:.]* \[kgpd\] KGP connection [0-9]* up' "$LOGF" ||
    fail "no time-stamped '[kgpd] KGP connection N up' line in the log file"
grep -q 'Sauce Connect is up' "$LOGF" || fail "no 'is up' line in the log file"
grep -q '\[kgpd\]' "$LOGF" || fail "no [kgpd] line in the log file at -v"
grep -q '\[proxyd\]' "$LOGF" || fail "no [proxyd] line in the log file at -v"
grep -q 'REST POST' "$LOGF" || fail "no debug line (REST POST) at -v"
ok "-l -v: sc's, [kgpd] and [proxyd] lines in the log file, appended"

grep -q '\[kgpd\]\|\[proxyd\]\|REST POST\|REST GET' "$TMP/files.log" &&
    fail "standard output has log lines that belong in the log file: $(grep -m1 '\[kgpd\]\|\[proxyd\]\|REST' "$TMP/files.log")"
ok "standard output holds only the console lines"

sc_term files
[ "${SCSTATUS[files]}" = 0 ] || fail "exit status ${SCSTATUS[files]} after SIGTERM"
[ ! -e "$PIDF" ] || fail "the pidfile is still there after SIGTERM"
[ ! -e "$TMP/files.ready" ] || fail "the readyfile is still there after exit"
grep -q 'Goodbye\.' "$TMP/files.log" || fail "no 'Goodbye.' on standard output"
grep -q 'Goodbye\.' "$LOGF" || fail "no 'Goodbye.' in the log file"
# nothing else on the console, even the helpers' last words
bad=$(grep -v -e 'Tunnel ID: ' -e 'Sauce Connect is up' -e 'Goodbye\.' \
    "$TMP/files.log")
[ -z "$bad" ] || fail "standard output holds other lines: $bad"
grep -q "Deleting tunnel $id" "$LOGF" || fail "no 'Deleting tunnel' in the log file"
ok "SIGTERM: exit 0, pidfile and readyfile removed, Goodbye. on both"

# --log-file of sc run, and '-' for standard output
sc_bg v5 run -u "$SC_USER" -k "$KEY" --rest-url "$REST_URL" \
    -i "$TUNNEL_NAME-v5" --log-file "$TMP/v5file.log" \
    -f "$TMP/v5.ready" --ctl-socket "$TMP/v5.sock"
sc_ready v5
grep -q 'Sauce Connect is up' "$TMP/v5file.log" ||
    fail "sc run --log-file: no 'is up' line in the file"
sc_term v5
[ "${SCSTATUS[v5]}" = 0 ] || fail "sc run --log-file: exit ${SCSTATUS[v5]}"
ok "sc run --log-file FILE"

sc_v4 dash -i "$TUNNEL_NAME-dash" -l -
sc_ready dash
grep -q 'Starting the tunnel' "$TMP/dash.log" ||
    fail "-l -: the log lines are not on standard output"
[ "$(grep -c 'Sauce Connect is up' "$TMP/dash.log")" = 1 ] ||
    fail "-l -: the 'is up' line is not there exactly once"
sc_term dash
[ "${SCSTATUS[dash]}" = 0 ] || fail "-l -: exit ${SCSTATUS[dash]}"
ok "-l -: the log on standard output, console lines once"

# a stale readyfile goes at start; a tunnel that never comes up (the
# KGP endpoint refuses connections) never touches it
cloud nft add table inet e2e || fail "nft add table"
cloud nft add chain inet e2e in '{ type filter hook input priority 0; }' ||
    fail "nft add chain"
cloud nft add rule inet e2e in tcp dport "$KGP_PORT" reject with tcp reset ||
    fail "nft add rule"
touch "$TMP/stale.ready"
ip netns exec "$OFFICE" "$SC" -u "$SC_USER" -k "$KEY" -x "$REST_URL" \
    -i "$TUNNEL_NAME-stale" -f "$TMP/stale.ready" -d "$TMP/stale.pid" \
    --ctl-socket "$TMP/stale.sock" \
    >"$TMP/stale.log" 2>&1 &
SCPID[stale]=$!
PIDS+=("$!")
wait_for 5 test ! -e "$TMP/stale.ready" ||
    fail "the stale readyfile is not removed at start"
seen=0
i=0
while ! not_running "${SCPID[stale]}" && [ "$i" -lt 600 ]; do
	[ -e "$TMP/stale.ready" ] && seen=1
	sleep 0.1
	i=$((i + 1))
done
sc_exit stale 1
[ "${SCSTATUS[stale]}" != timeout ] || fail "sc with a failing link runs for 60 s"
[ "$seen" = 0 ] || fail "the readyfile appeared though the tunnel never came up"
[ "${SCSTATUS[stale]}" != 0 ] || fail "sc with a failing link exited 0"
[ ! -e "$TMP/stale.pid" ] || fail "the pidfile is left after a failed start"
grep -q 'Tunnel ID' "$TMP/stale.log" || fail "no tunnel was created"
grep -q 'Error: ' "$TMP/stale.log" || fail "no Error: line"
ok "a stale readyfile is removed at start and no readyfile while not up; pidfile removed on failure"
e2e_done
