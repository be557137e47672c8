#!/bin/bash
# Node links (issue 21), on loopback, in one run: two sc-server nodes on
# one PostgreSQL database (a server of its own, initdb + pg_ctl, as the
# user postgres), node C on 127.0.0.1 and node A on 127.0.0.2; one sc
# client connected to C; nginx as the application (1 KiB and 1 GiB
# files).  The same tunnel is measured through C's entry port (the
# owning node: entry -> KGP -> sc) and through A's (the forwarding node:
# entry -> node link -> C, whose KGP worker splices it onto the client's
# stream -> sc), in turn:
#   - wrk -t2, 1 KiB, 50 connections kept alive: requests/s;
#   - wrk -t2, 1 KiB, 50 connections, a new one a request: requests/s
#     (each is a new stream on the node link);
#   - curl, a 1 GiB download, one stream: MB/s;
# the best of -r runs each, and the ratio forwarding/owning against the
# target of issue 21 (>= 0.7).  It asserts nothing and exits 0 unless the
# set-up fails.
#
#   bench/nodelink.sh [-d seconds] [-r repeat] [-p] [BUILDDIR]
#
# -d         seconds of each wrk run (default 5)
# -r         runs of each measure (default 1)
# -p         node A on the last CPU alone and all else on the others
#            (taskset), as when the forwarding node is a host of its own
# BUILDDIR   meson build directory (default build; set up if missing)
# SC_BENCH_PORT  the first of its ports (default 24500; it uses 3 above)
# PG_BIN     PostgreSQL's programs (default /usr/lib/postgresql/15/bin)
# Run it as root.  Everything it starts is stopped on exit.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
duration=5
repeat=1
pin=0
while [ $# -gt 0 ]; do
	case $1 in
	-d) duration=$2; shift 2 ;;
	-r) repeat=$2; shift 2 ;;
	-p) pin=1; shift ;;
	-h|--help) sed -n '2,31p' "$0"; exit 0 ;;
	*) break ;;
	esac
done
builddir=${1:-build}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
for t in wrk curl python3 psql "$PG_BIN/initdb" "$PG_BIN/pg_ctl"; do
	command -v "$t" >/dev/null ||
	    { echo "nodelink bench: $t is needed (wrk curl postgresql)"; exit 1; }
done
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$nginx_bin" ] || { echo "nodelink bench: nginx is needed"; exit 1; }

ulimit -n "$(ulimit -Hn)"

P0=${SC_BENCH_PORT:-24500}
C=127.0.0.1
A=127.0.0.2
APP=$C:$P0
REST_C=$C:$((P0 + 1))
KGP_C=$C:$((P0 + 2))
REST_A=$A:$((P0 + 1))
KGP_A=$A:$((P0 + 2))

tmp=$(mktemp -d /tmp/sc-bench-nodelink.XXXXXX)
pids=()
PG_DIR=
BENCH_NAME="nodelink bench"
# shellcheck source=bench/lib.sh
. "$top/bench/lib.sh"
bench_build "$builddir"
# -p: node A on a CPU of its own, everything else on the others, as when
# the forwarding node is a host of its own (as in a cluster)
ncpu=$(nproc)
a_cpu=()
if [ "$pin" = 1 ]; then
	last=$((ncpu - 1))
	[ "$last" -ge 1 ] || die "-p needs 2 CPUs or more"
	taskset -p -c "0-$((last - 1))" $$ >/dev/null || die "taskset failed"
	a_cpu=(taskset -c "$last")
fi
trap bench_cleanup EXIT
trap 'exit 1' INT TERM

bench_pg
# the application
mkdir -p "$tmp/www" "$tmp/nginx"
chmod 755 "$tmp/www"
head -c 1024 /dev/urandom >"$tmp/www/1k"
truncate -s 1G "$tmp/www/1g"
cat "$tmp/www/1g" >/dev/null
nginx_conf 30000 "$APP"
"$nginx_bin" -c "$tmp/nginx.conf" -p "$tmp" 2>>"$tmp/nginx.log" &
pids+=($!)
wait_for 10 curl -sf -o /dev/null "http://$APP/1k" || die "nginx does not answer"

# node C and its client
key=$("$B/server/sc-server" --db "$DB" -s "$tmp/stateC" user add bench) ||
    die "sc-server user add failed"
"$B/server/sc-server" -d --db "$DB" --node nodec -s "$tmp/stateC" \
    -R "$REST_C" -K "$KGP_C" -E "$C" -G none -g 3600 >"$tmp/nodec.log" 2>&1 &
pids+=($!)
wait_for 10 curl -s -o /dev/null "http://$REST_C/rest/v1/" ||
    die "node C did not start"
"$B/controller/sc" -u bench -k "$key" -i bench -x "http://$REST_C/rest/v1" \
    -f "$tmp/ready" --ctl-socket "$tmp/ctl.sock" >"$tmp/sc.log" 2>&1 &
pids+=($!)
wait_for 30 test -e "$tmp/ready" || die "sc did not come up"
# tunnel REST: the bench tunnel's id, entry proxy and certificate digest
tunnel() {
	curl -sS -u "bench:$key" "http://$1/rest/v1/bench/tunnels?full=true" |
	    python3 -c 'import json, sys
t = [t for t in json.load(sys.stdin) if t["tunnel_identifier"] == "bench"][0]
print(t["id"], t["entry_proxy"], t["server_cert_sha256"])'
}
read -r id entry_c cert <<<"$(tunnel "$REST_C")" || die "no tunnel on C"

# C's row (its heartbeat) and the tunnel's session on C, as C writes them
c_row() {
	[ "$(sql "SELECT node FROM tunnels WHERE id = '$id'")" = nodec ] &&
	    [ "$(sql "SELECT state FROM nodes WHERE name = 'nodec'")" = up ]
}
wait_for 10 c_row || die "node C's row or the tunnel's node not written"

# node A: it learns the tunnel from the database (and NOTIFY)
"${a_cpu[@]}" "$B/server/sc-server" -d --db "$DB" --node nodea -s "$tmp/stateA" \
    -R "$REST_A" -K "$KGP_A" -E "$A" -G none -g 3600 >"$tmp/nodea.log" 2>&1 &
pids+=($!)
wait_for 10 curl -s -o /dev/null "http://$REST_A/rest/v1/" ||
    die "node A did not start"
a_entry() {
	read -r _ entry_a _ <<<"$(tunnel "$REST_A")"
	[ "${entry_a%:*}" = "$A" ]
}
wait_for 15 a_entry || die "node A has no entry proxy of the tunnel"
curl -sf -o /dev/null -x "http://$entry_a" "http://$APP/1k" ||
    die "no answer through node A"

cat >"$tmp/keep.lua" <<EOF
wrk.path = "http://$APP/1k"
wrk.headers["Host"] = "$APP"
EOF
{ cat "$tmp/keep.lua"; echo 'wrk.headers["Connection"] = "close"'; } \
    >"$tmp/close.lua"

declare -A R
R[rps.own]=0 R[rps.fwd]=0 R[new.own]=0 R[new.fwd]=0 R[dl.own]=0 R[dl.fwd]=0
for i in $(seq 1 "$repeat"); do
	for e in own fwd; do
		case $e in own) v=$entry_c ;; fwd) v=$entry_a ;; esac
		echo "nodelink bench: $e: wrk and a 1 GiB download (run $i) ..."
		bench_three R "$e" "$v" "$tmp/keep.lua" "$tmp/close.lua" \
		    "$tmp/wrk.out"
	done
done

echo
echo "== sc node links (issue 21), $(date -u '+%Y-%m-%d %H:%M UTC'), $ncpu cores, $(uname -sr)"
echo "The same tunnel, its client on node C: through C's entry (owning) and A's (forwarding), same run"
[ "$pin" = 1 ] && echo "(-p: node A on CPU $last alone, all else on CPUs 0-$((last - 1)))"
three_table owning forwarding forwarding/owning 0.7 R own fwd
