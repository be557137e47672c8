#!/bin/bash
# A helper that worked and can no longer be started ends sc: after
# SC_START_TRIES (5) failed starts in a row, with the delays 0.5, 1, 2,
# 4 and 8 s, sc says "Error: proxyd cannot be restarted: ..." with the
# reason of the last failure, deletes its tunnel, removes its pidfile,
# readyfile and control socket and exits 1, so that a supervisor starts
# it afresh; it never stays up with a dead tunnel.  Two ways, each in a
# copy of the build tree (sc starts the helpers it finds next to itself):
#   replaced  a new proxyd is installed over the old one while sc runs
#             (what a package upgrade does: a new file renamed over the
#             old); the spawner may execute only the file of sc's start,
#             so the exec fails, and sc says that the file was replaced;
#   later     proxyd is tests/tools/badchild, a quiet helper that exits
#             at once from the moment its tree holds a file "broken".
# Each time it is a kill -9 of the running proxyd that starts it off.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/client-lib.sh"
e2e_init
[ -x "$BADCHILD" ] || fail "$BADCHILD is not built"
start_server

build=$(dirname "$SC")/..
sc_bin=$SC
for mode in replaced later; do
	tree=$TMP/tree-$mode
	mkdir -p "$tree/controller" "$tree/kgpd" "$tree/proxyd"
	cp "$sc_bin" "$tree/controller/sc" &&
	    cp "$build/kgpd/kgpd" "$tree/kgpd/kgpd" ||
	    fail "cannot copy the programs"
	if [ "$mode" = later ]; then
		cp "$BADCHILD" "$tree/proxyd/proxyd"
	else
		cp "$build/proxyd/proxyd" "$tree/proxyd/proxyd"
	fi || fail "cannot copy proxyd"
	SC=$tree/controller/sc
	sc_v4 "$mode" -i "$TUNNEL_NAME-$mode" -d "$TMP/$mode.pid"
done
SC=$sc_bin
sc_ready replaced
sc_ready later
for mode in replaced later; do
	[ -e "$TMP/$mode.pid" ] && [ -S "$TMP/$mode.sock" ] ||
	    fail "$mode: no pidfile or control socket while up"
done
ok "both up, with their pidfile, readyfile and control socket"

# the upgrade, and the broken helper
tree=$TMP/tree-replaced
cp "$tree/proxyd/proxyd" "$tree/proxyd/proxyd.new" &&
    mv -f "$tree/proxyd/proxyd.new" "$tree/proxyd/proxyd" ||
    fail "cannot replace proxyd"
touch "$TMP/tree-later/broken"
declare -A ID=()
for mode in replaced later; do
	ID[$mode]=$(sc_id "$mode")
	pid=$("$SC_CTL" -s "$TMP/$mode.sock" status | sed -n 's/^pid-proxyd: //p')
	[ -n "$pid" ] && [ "$pid" -gt 0 ] 2>/dev/null ||
	    fail "$mode: sc-ctl gives no proxyd pid"
	kill -KILL "$pid"
done
t0=$(date +%s)
sc_exit replaced 45
sc_exit later 45
t1=$(date +%s)
for mode in replaced later; do
	[ "${SCSTATUS[$mode]}" = 1 ] ||
	    fail "$mode: sc's exit status is ${SCSTATUS[$mode]}, want 1 within 45 s: $(tail -n 5 "$TMP/$mode.log")"
done
ok "both ended with status 1, $((t1 - t0)) s after the kill"

want="Error: proxyd cannot be restarted: 5 starts in a row failed, the last:"
grep -F "$want cannot execute $tree/proxyd/proxyd as root: Permission denied (the file was replaced since sc started: restart sc to run the new one)" \
    "$TMP/replaced.log" >/dev/null ||
    fail "replaced: no clear error: $(grep Error "$TMP/replaced.log")"
grep -F "$want exited with status 1" "$TMP/later.log" >/dev/null ||
    fail "later: no clear error: $(grep Error "$TMP/later.log")"
for mode in replaced later; do
	n=$(grep -c 'proxyd: start [1-4] of 5 failed' "$TMP/$mode.log")
	[ "$n" = 4 ] || fail "$mode: $n 'start N of 5 failed' lines, want 4"
	grep -q 'proxyd: start 4 of 5 failed (.*), next in 8.0 s' \
	    "$TMP/$mode.log" || fail "$mode: the fourth delay is not 8 s"
done
ok "the error says why: the file was replaced / exited with status 1;" \
    "four 'start N of 5 failed' lines before it"

for mode in replaced later; do
	for f in "$mode.pid" "$mode.ready" "$mode.sock"; do
		[ ! -e "$TMP/$f" ] || fail "$mode: $f is still there"
	done
	st=$(tunnel_field "${ID[$mode]}" status)
	[ "$st" = terminated ] || fail "$mode: tunnel ${ID[$mode]} is '$st'"
done
ok "pidfile, readyfile and control socket removed; both tunnels terminated"
e2e_done
