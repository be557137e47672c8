#!/bin/bash
# Long answers of known length do not cross proxyd: it lends kgpd the
# app's socket for the body (IMSG_STREAM_LEND), and kgpd reads it into
# the stream itself.  Every byte arrives once and in order, keep-alive
# goes on after each body, an answer the app cuts short is cut short for
# the browser too, and a browser that leaves in the middle leaves no lent
# socket behind.  proxyd's splice (its fallback without kgpd) is unused.
. "$(dirname "$0")/lib.sh"
e2e_up

proxyd_pid=$(ctl_field pid-proxyd)
[ -n "$proxyd_pid" ] && [ "$proxyd_pid" -gt 0 ] 2>/dev/null ||
    fail "no pid-proxyd in sc-ctl status"
kgpd_pid=$(ctl_field pid-kgpd)
[ -n "$kgpd_pid" ] && [ "$kgpd_pid" -gt 0 ] 2>/dev/null ||
    fail "no pid-kgpd in sc-ctl status"
# every kgpd (--kgp-processes): a lend goes to its stream's one
kgpd_pid=$(kgpd_pid | tr '\n' ' ')
# the descriptors of a kind (pipe, socket) that the processes PIDS hold
fds() {
	local p n=0
	for p in $1; do
		n=$((n + $(ls -l "/proc/$p/fd" 2>/dev/null | grep -c "$2:")))
	done
	echo "$n"
}
# for wait_for, which runs its command again and again
fds_at_least() {
	[ "$(fds "$1" "$2")" -ge "$3" ]
}
fds_are() {
	[ "$(fds "$1" "$2")" = "$3" ]
}
pipes() {
	fds "$proxyd_pid" pipe
}
# kgpd's sockets: its channels and link, a stream's, a lent app socket
kgpd_sockets() {
	fds "$kgpd_pid" socket
}
base_pipes=$(pipes)
base_socks=$(kgpd_sockets)

# four 3 MiB answers and a short one on one connection
size=$((3 * 1024 * 1024))
mkdir "$TMP/ka"
args=()
for i in 1 2 3 4; do
	args+=(-o "$TMP/ka/$i" "$(app_url "/bytes/$size?seed=$i")")
done
args+=(-o "$TMP/ka/text" "$(app_url /text/after)")
browse -w '%{num_connects} %{http_code}\n' "${args[@]}" >"$TMP/ka.out" ||
    fail "five requests on one connection failed"
[ "$(awk '$2 == 200' "$TMP/ka.out" | wc -l)" = 5 ] ||
    fail "answers: $(tr '\n' ' ' <"$TMP/ka.out")"
[ "$(awk '{s += $1} END {print s}' "$TMP/ka.out")" = 1 ] ||
    fail "five requests took $(awk '{s += $1} END {print s}' "$TMP/ka.out") connections"
for i in 1 2 3 4; do
	[ "$(sha256sum <"$TMP/ka/$i" | cut -d' ' -f1)" = "$(gen_sha256 $size $i)" ] ||
	    fail "answer $i: $(stat -c %s "$TMP/ka/$i") bytes, digest differs"
done
[ "$(cat "$TMP/ka/text")" = "response after" ] ||
    fail "the answer after the long ones: '$(cat "$TMP/ka/text")'"
ok "4 x 3 MiB and a short answer on one connection: every digest right, keep-alive intact"

# a browser that stops reading: the body waits in the app's socket (and
# in the KGP window), read by kgpd, not in proxyd; then it all arrives
size=$((64 * 1024 * 1024))
mkfifo "$TMP/slow.in"
cloud "$PYTHON" "$E2E_DIR/slowget.py" "$ENTRY" \
    "$(app_url "/bytes/$size?seed=7")" 1048576 <"$TMP/slow.in" \
    >"$TMP/slow.out" 2>&1 &
slow_pid=$!
PIDS+=("$slow_pid")
exec 7>"$TMP/slow.in"
wait_for 20 grep -q '^paused$' "$TMP/slow.out" ||
    fail "the slow browser did not start: $(cat "$TMP/slow.out")"
# the stream's socket and the lent one
wait_for 10 fds_at_least "$kgpd_pid" socket $((base_socks + 2)) ||
    fail "kgpd holds $(kgpd_sockets) sockets during a long answer, had $base_socks"
in_use=$(kgpd_sockets)
fds_are "$proxyd_pid" pipe "$base_pipes" ||
    fail "proxyd holds $(pipes) pipes during a lent answer, had $base_pipes"
rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$proxyd_pid/status")
echo go >&7
exec 7>&-
wait_for 60 not_running "$slow_pid" || fail "the slow browser did not finish"
wait "$slow_pid" || fail "the slow browser: $(cat "$TMP/slow.out")"
[ "$(tail -n 1 "$TMP/slow.out")" = "ok $size $(gen_sha256 $size 7)" ] ||
    fail "the slow browser got '$(tail -n 1 "$TMP/slow.out")'"
wait_for 5 fds_are "$kgpd_pid" socket "$base_socks" ||
    fail "kgpd holds $(kgpd_sockets) sockets after the answer, had $base_socks"
ok "a browser pausing in a 64 MiB answer: kgpd read it from the app ($base_socks -> $in_use sockets, no pipe, proxyd RSS $rss KiB), then it arrived exact"

# the app promises 4 MiB and closes after 2
browse -o "$TMP/cut" "$(app_url "/cut/4194304?seed=5&after=2097152")" \
    >"$TMP/cut.out" 2>&1
status=$?
[ "$status" = 18 ] || fail "curl exit $status for a cut answer, want 18 (partial): $(cat "$TMP/cut.out")"
[ "$(stat -c %s "$TMP/cut")" = 2097152 ] ||
    fail "the cut answer: $(stat -c %s "$TMP/cut") bytes, want 2097152"
[ "$(sha256sum <"$TMP/cut" | cut -d' ' -f1)" = "$(gen_sha256 2097152 5)" ] ||
    fail "the cut answer's 2 MiB differ from what the app sent"
ok "an answer the app cuts after 2 of 4 MiB: the browser gets the 2 MiB exact and a cut (curl 18)"

# browsers that leave in the middle of long answers
for i in 1 2 3 4; do
	BROWSE_TIMEOUT=3 browse --limit-rate 1M -o /dev/null \
	    "$(app_url "/bytes/67108864?seed=$i")" >/dev/null 2>&1 &
	PIDS+=($!)
done
wait_for 10 fds_at_least "$kgpd_pid" socket $((base_socks + 8)) ||
    fail "4 long answers at once: kgpd holds $(kgpd_sockets) sockets, had $base_socks"
wait_for 15 fds_are "$kgpd_pid" socket "$base_socks" ||
    fail "the browsers left: kgpd still holds $(kgpd_sockets) sockets, had $base_socks"
fds_are "$proxyd_pid" pipe "$base_pipes" ||
    fail "proxyd holds $(pipes) pipes, had $base_pipes"
[ "$(ctl_field pid-proxyd)" = "$proxyd_pid" ] ||
    fail "proxyd was restarted (pid $proxyd_pid -> $(ctl_field pid-proxyd))"
body=$(browse "$(app_url /)") || fail "GET / after the aborted downloads failed"
[ "$body" = "hello from the office" ] || fail "GET / after the aborted downloads: '$body'"
ok "4 browsers leaving in the middle: no lent socket left, proxyd ($proxyd_pid) still serving"
e2e_done
