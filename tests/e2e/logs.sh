#!/bin/bash
# Logs as an operator keeps them (issue 18): --log-level honoured exactly
# (the helpers start with it and send nothing below it), SIGHUP reopens
# the log file of sc and of sc-server after logrotate moved it, nothing
# lost, --max-logsize rotates and keeps three old files, --log-format
# json writes one JSON object a line, for sc and sc-server.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/client-lib.sh"
e2e_init
add_user
run_server -l "$TMP/srv-file.log" --log-format json
start_app

# sc_run TAG [flags]: sc run with the usual files
sc_run() {
	local tag=$1
	shift
	sc_bg "$tag" run -u "$SC_USER" -k "$KEY" --rest-url "$REST_URL" \
	    -i "$TUNNEL_NAME-$tag" -f "$TMP/$tag.ready" \
	    --ctl-socket "$TMP/$tag.sock" "$@"
}

# sc runs as _sc: the directory of its log files is _sc's (as
# /var/log/sc would be), so that it may make new ones there
LOGDIR=$TMP/logs
chmod o+x "$TMP" && mkdir -m 0750 "$LOGDIR" && chown _sc "$LOGDIR" ||
    fail "cannot make $LOGDIR for _sc"

# json_lines FILE: every line one JSON object with time, level, process
# and message; prints the number of lines
json_lines() {
	"$PYTHON" - "$1" <<'PY'
import json, sys
n = 0
for line in open(sys.argv[1], encoding="ascii"):
    o = json.loads(line)
    assert set(o) == {"time", "level", "process", "message"}, o
    assert o["level"] in ("error", "warn", "info", "debug"), o
    assert o["time"].endswith("Z"), o
    n += 1
print(n)
PY
}

# 1. --log-level warn: no info line of sc or of a helper in the file;
# the console lines are still there (wrappers watch them); the helpers
# were started with the level (-q), so they never send an info line
sc_run warn --log-level warn --log-file "$TMP/warn-file.log"
sc_ready warn
id=$(sc_id warn)
fetch_via "$(entry_of "$id")" warn || fail "--log-level warn: no tunnel"
# kgpd and proxyd are sc's children (the spawner starts them so)
kids=$(pgrep -a -P "${SCPID[warn]}")
echo "$kids" | grep -q -- 'kgpd -q' ||
    fail "--log-level warn: kgpd was not started with -q: $kids"
echo "$kids" | grep -q -- 'proxyd -q' ||
    fail "--log-level warn: proxyd was not started with -q: $kids"
sc_term warn
[ "${SCSTATUS[warn]}" = 0 ] || fail "--log-level warn: exit ${SCSTATUS[warn]}"
grep -q 'Sauce Connect is up' "$TMP/warn-file.log" ||
    fail "--log-level warn: the console line 'is up' is not in the log"
grep -q 'Goodbye\.' "$TMP/warn.log" ||
    fail "--log-level warn: no 'Goodbye.' on standard output"
bad=$(grep -e 'Starting the tunnel' -e 'starting (version' -e 'Deleting tunnel' \
    -e '\[kgpd\]' -e '\[proxyd\]' "$TMP/warn-file.log")
[ -z "$bad" ] || fail "--log-level warn: info lines in the log: $bad"
ok "--log-level warn: console lines only, kgpd and proxyd started with -q"

# --log-level error and SAUCE_LOG_LEVEL: the same, from the environment
SAUCE_LOG_LEVEL=error sc_run err --log-file "$TMP/err-file.log"
sc_ready err
kids=$(pgrep -a -P "${SCPID[err]}")
echo "$kids" | grep -q -- 'kgpd -q -q' ||
    fail "SAUCE_LOG_LEVEL=error: kgpd not started with -q -q: $kids"
sc_term err
grep -q 'starting (version' "$TMP/err-file.log" &&
    fail "SAUCE_LOG_LEVEL=error: an info line in the log"
grep -q 'Sauce Connect is up' "$TMP/err-file.log" ||
    fail "SAUCE_LOG_LEVEL=error: no console line in the log"
# and info is what it was
sc_run info --log-level info --log-file "$TMP/info-file.log"
sc_ready info
sc_term info
grep -q 'Starting the tunnel' "$TMP/info-file.log" ||
    fail "--log-level info: no 'Starting the tunnel' line"
grep -q 'debug\|REST POST' "$TMP/info-file.log" &&
    fail "--log-level info: a debug line"
ok "SAUCE_LOG_LEVEL=error: no info line; --log-level info as before"

# 2. SIGHUP after logrotate's move: the next lines go to a new file, the
# moved one keeps what it had, whole lines
LOGF=$LOGDIR/hup-file.log
sc_run hup -v --log-file "$LOGF"
sc_ready hup
id=$(sc_id hup)
entry=$(entry_of "$id")
fetch_via "$entry" before || fail "SIGHUP: no tunnel"
wait_for 5 grep -q 'text/before' "$LOGF" ||
    fail "SIGHUP: the request before is not in the log"
mv "$LOGF" "$LOGF.1"
kill -HUP "${SCPID[hup]}"
wait_for 10 grep -q 'SIGHUP: log file reopened' "$LOGF" ||
    fail "SIGHUP: no new log file with the reopen line"
fetch_via "$entry" after || fail "SIGHUP: the tunnel does not serve after"
wait_for 5 grep -q 'text/after' "$LOGF" ||
    fail "SIGHUP: the request after is not in the new file"
not_running "${SCPID[hup]}" && fail "SIGHUP: sc died"
grep -q 'text/after' "$LOGF.1" &&
    fail "SIGHUP: the request after went to the moved file"
grep -q "Tunnel ID: $id" "$LOGF.1" ||
    fail "SIGHUP: the moved file lost its lines"
grep -vqE '^[0-9]{4}-[0-9]{2}-[0-9]{2} ' "$LOGF.1" &&
    fail "SIGHUP: a broken line in the moved file"
sc_term hup
[ "${SCSTATUS[hup]}" = 0 ] || fail "SIGHUP: exit ${SCSTATUS[hup]}"
grep -q "Deleting tunnel $id" "$LOGF" ||
    fail "SIGHUP: the last lines are not in the new file"
ok "sc: SIGHUP reopens the log file after a move, nothing lost"

# sc-server, the same (its log is JSON here)
mv "$TMP/srv-file.log" "$TMP/srv-file.log.1"
kill -HUP "$SERVER_PID"
wait_for 10 grep -q 'SIGHUP: log file reopened' "$TMP/srv-file.log" ||
    fail "sc-server: no new log file after SIGHUP"
rest GET "/$SC_USER/tunnels" >/dev/null || fail "sc-server: no REST after SIGHUP"
grep -q 'REST API listening' "$TMP/srv-file.log.1" ||
    fail "sc-server: the moved file lost its lines"
ok "sc-server: SIGHUP reopens the log file after a move"

# 3. --max-logsize: FILE.1 .. FILE.3, no FILE.4, whole lines
ROT=$LOGDIR/rot-file.log
sc_run rot -v --log-file "$ROT" --max-logsize 4096
sc_ready rot
entry=$(entry_of "$(sc_id rot)")
i=0
while [ ! -e "$ROT.3" ] || [ "$(stat -c %s "$ROT.3")" -lt 4096 ] ||
    [ "$(stat -c %s "$ROT")" -lt 1000 ]; do
	[ "$i" -lt 200 ] || fail "--max-logsize: no rotation to $ROT.3 after 200 requests"
	fetch_via "$entry" "rot$i" || fail "--max-logsize: request $i failed"
	i=$((i + 1))
done
# one more round, so that the oldest one has gone
for j in $(seq 1 40); do
	fetch_via "$entry" "more$j" || fail "--max-logsize: request more$j failed"
done
sc_term rot
[ ! -e "$ROT.4" ] || fail "--max-logsize: $ROT.4 is there, 3 are kept"
for f in "$ROT.1" "$ROT.2" "$ROT.3"; do
	s=$(stat -c %s "$f")
	[ "$s" -ge 4096 ] || fail "--max-logsize: $f is only $s bytes"
	grep -vqE '^[0-9]{4}-[0-9]{2}-[0-9]{2} ' "$f" &&
	    fail "--max-logsize: a broken line in $f"
done
grep -q 'Goodbye\.' "$ROT" || fail "--max-logsize: the last lines are lost"
grep -q 'text/more40' "$ROT" "$ROT.1" ||
    fail "--max-logsize: the last request is in none of the newest files"
ok "--max-logsize 4096: $i requests, three old files kept, whole lines"

# 4. --log-format json: sc (the helpers' lines too) and sc-server
sc_run json -v --log-format json --log-file "$TMP/json-file.log"
sc_ready json
fetch_via "$(entry_of "$(sc_id json)")" json || fail "json: no tunnel"
sc_term json
n=$(json_lines "$TMP/json-file.log") ||
    fail "--log-format json: a line of sc's log is not a JSON object: $(head -n 3 "$TMP/json-file.log")"
"$PYTHON" -c 'import json, sys
ps = {json.loads(l)["process"] for l in open(sys.argv[1])}
assert {"sc", "kgpd", "proxyd"} <= ps, ps' "$TMP/json-file.log" ||
    fail "--log-format json: no line of sc, kgpd and proxyd each"
n2=$(json_lines "$TMP/srv-file.log.1") ||
    fail "sc-server --log-format json: a line is not a JSON object"
grep -q '"process":"kgp"' "$TMP/srv-file.log.1" ||
    fail "sc-server --log-format json: no line of the KGP worker"
ok "--log-format json: $n lines of sc, $n2 of sc-server, each a JSON object"

# bad values: a clear error, exit 1
for bad in "--log-format xml" "--log-level loud" "--max-logsize 10" \
    "--max-logsize x"; do
	# shellcheck disable=SC2086
	office timeout 10 "$SC" run -u "$SC_USER" -k "$KEY" \
	    --rest-url "$REST_URL" $bad >"$TMP/bad.log" 2>&1
	st=$?
	[ "$st" = 1 ] || fail "$bad: exit $st, want 1"
	grep -q '^Error: ' "$TMP/bad.log" || fail "$bad: no 'Error:' line"
done
st=0
"$SC_SERVER" -d -s "$TMP/state" --log-format xml >"$TMP/bad.log" 2>&1 || st=$?
[ "$st" = 1 ] || fail "sc-server --log-format xml: exit $st"
ok "bad --log-format, --log-level, --max-logsize: exit 1 with a reason"
