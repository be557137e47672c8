#!/bin/bash
# However sc ends, its pidfile, readyfile and control socket go with it:
# a wrapper that sees the readyfile must be able to trust that sc is up.
# Started as root, with its files in a directory only root may write to
# (which _sc cannot clean), each way a wrapper meets:
#   term, int   SIGTERM, SIGINT: exit 0;
#   spawner     kill -9 of the root spawner: "Error: the spawner exited",
#               the tunnel deleted, exit 1 (its cleaner removes the files);
#   deleted     the tunnel deleted through the REST API (a fatal error of
#               the link): exit 1;
#   twice       a second SIGTERM during the shutdown (a stream is open
#               and --wait-tunnel-shutdown waits for it): exit 1 at once;
#   killed      kill -9 of sc itself;
# and started as an ordinary user (no spawner): a second SIGTERM.
# (Helpers that cannot be started again: e2e-client-helper-fail.)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/client-lib.sh"
command -v setpriv >/dev/null || skip "needs setpriv (util-linux)"
e2e_init
start_server
start_app
[ "$(stat -c %a:%u "$TMP")" = 700:0 ] || fail "$TMP is not root's, mode 0700"

files_gone() {
	local d=$1 tag=$2
	[ ! -e "$d/$tag.pid" ] && [ ! -e "$d/$tag.ready" ] &&
	    [ ! -e "$d/$tag.sock" ]
}

files_there() {
	local d=$1 tag=$2
	[ -e "$d/$tag.pid" ] && [ -e "$d/$tag.ready" ] && [ -S "$d/$tag.sock" ] ||
	    fail "$tag: pidfile, readyfile or control socket missing while up"
}

# expect_end TAG STATUS WHAT: sc TAG ends with STATUS within 40 s and
# its files are gone within 5 s of that
expect_end() {
	local tag=$1 want=$2 what=$3
	sc_exit "$tag" 40
	[ "${SCSTATUS[$tag]}" = "$want" ] ||
	    fail "$what: exit status ${SCSTATUS[$tag]}, want $want: $(tail -n 3 "$TMP/$tag.log")"
	wait_for 5 files_gone "$TMP" "$tag" || fail "$what: left behind:" \
	    "$(cd "$TMP" && ls -d "$tag".pid "$tag".ready "$tag".sock 2>/dev/null)"
	ok "$what: exit $want, pidfile, readyfile and control socket removed"
}

# the spawner of sc TAG: its child that is neither a kgpd nor proxyd
spawner_of() {
	local st k p
	st=$("$SC_CTL" -s "$TMP/$1.sock" status)
	k=$(echo "$st" | sed -n 's/^pid-kgpd: //p')
	p=$(echo "$st" | sed -n 's/^pid-proxyd: //p')
	ps -o pid=,comm= --ppid "${SCPID[$1]}" | awk '$2 != "kgpd" {print $1}' |
	    grep -vxE "${k:-x}|${p:-x}"
}

for tag in term int spawner deleted killed; do
	sc_v4 "$tag" -i "$TUNNEL_NAME-$tag" -d "$TMP/$tag.pid"
done
sc_v4 twice -i "$TUNNEL_NAME-twice" -d "$TMP/twice.pid" --wait-tunnel-shutdown
for tag in term int spawner deleted killed twice; do
	sc_ready "$tag"
	files_there "$TMP" "$tag"
done
ok "six sc up, each with its pidfile, readyfile and control socket"

kill -TERM "${SCPID[term]}"
expect_end term 0 "SIGTERM"
kill -INT "${SCPID[int]}"
expect_end int 0 "SIGINT"

sp=$(spawner_of spawner)
[ -n "$sp" ] && [ "$(echo "$sp" | wc -l)" = 1 ] || fail "no spawner: '$sp'"
id=$(sc_id spawner)
kill -KILL "$sp"
expect_end spawner 1 "kill -9 of the spawner ($sp)"
grep -q 'Error: the spawner exited' "$TMP/spawner.log" ||
    fail "no 'the spawner exited' error: $(grep Error "$TMP/spawner.log")"
[ "$(tunnel_field "$id" status)" = terminated ] ||
    fail "the tunnel $id of the sc whose spawner was killed is not terminated"
ok "kill -9 of the spawner: the error said, the tunnel deleted"

id=$(sc_id deleted)
rest DELETE "/$SC_USER/tunnels/$id" >/dev/null || fail "REST DELETE $id"
expect_end deleted 1 "the tunnel deleted through REST"

kill -KILL "${SCPID[killed]}"
sc_exit killed 5
wait_for 5 files_gone "$TMP" killed ||
    fail "kill -9 of sc: files left: $(cd "$TMP" && ls killed.* 2>/dev/null)"
ok "kill -9 of sc: its spawner and cleaner removed the files"

# twice: a download in flight holds the drain, the second signal ends it
entry=$(entry_of "$(sc_id twice)")
cloud curl -sS --max-time 60 --limit-rate 200k -x "http://$entry" \
    -o /dev/null "$(app_url "/bytes/50000000?seed=3")" 2>/dev/null &
PIDS+=("$!")
wait_for 10 eval '"$SC_CTL" -s "$TMP/twice.sock" status |
    grep -q "^streams-open: [1-9]"' || fail "the download does not start"
kill -TERM "${SCPID[twice]}"
wait_for 10 grep -q 'Waiting for 1 open streams' "$TMP/twice.log" ||
    fail "sc (twice) does not wait for its stream"
# (a copy within 250 ms is the same signal: send until it counts)
second_term() {
	kill -TERM "$1" 2>/dev/null
	not_running "$1"
}
wait_for 10 second_term "${SCPID[twice]}" ||
    fail "sc (twice) runs on after a second SIGTERM"
expect_end twice 1 "a second SIGTERM during the shutdown"

# an ordinary user: no spawner, its own files in its own directory
U=$TMP/user
mkdir "$U" && chown nobody "$U" && chmod 0700 "$U" || fail "mkdir $U"
stage_programs
ip netns exec "$OFFICE" setpriv --reuid=nobody --regid=nogroup \
    --clear-groups "$STAGED/controller/sc" -u "$SC_USER" -k "$KEY" \
    -i "$TUNNEL_NAME-user" -x "$REST_URL" -f "$U/user.ready" \
    -d "$U/user.pid" --ctl-socket "$U/user.sock" --wait-tunnel-shutdown \
    >"$TMP/user.log" 2>&1 &
SCPID[user]=$!
PIDS+=("$!")
wait_for 30 test -e "$U/user.ready" || fail "sc as nobody not ready: $(tail -n 3 "$TMP/user.log")"
files_there "$U" user
entry=$(entry_of "$(sc_id user)")
cloud curl -sS --max-time 60 --limit-rate 200k -x "http://$entry" \
    -o /dev/null "$(app_url "/bytes/50000000?seed=4")" 2>/dev/null &
PIDS+=("$!")
wait_for 10 eval '"$SC_CTL" -s "$U/user.sock" status |
    grep -q "^streams-open: [1-9]"' ||
    fail "sc as nobody: the download does not start"
kill -TERM "${SCPID[user]}"
wait_for 10 grep -q 'Waiting for 1 open streams' "$TMP/user.log" ||
    fail "sc as nobody does not wait for its stream"
wait_for 10 second_term "${SCPID[user]}" ||
    fail "sc as nobody runs on after a second SIGTERM"
sc_exit user 10
[ "${SCSTATUS[user]}" = 1 ] || fail "sc as nobody, two SIGTERMs: exit ${SCSTATUS[user]}"
files_gone "$U" user ||
    fail "sc as nobody, two SIGTERMs: left $(ls "$U")"
ok "as nobody, a second SIGTERM: exit 1, its files removed"
e2e_done
