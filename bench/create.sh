#!/bin/bash
# REST create-to-running in a cluster (issue 21, target <= 50 ms p99),
# on loopback: three sc-server nodes (127.0.0.1, .2, .3, one KGP key
# pair) on one PostgreSQL database (a server of its own, initdb +
# pg_ctl, as the user postgres).  N tunnels, one after the other, each
# an sc whose REST API is node 1, 2, 3 in turn (a load balancer's
# round robin); for each, from sc's log (ms):
#   - create: "Starting the tunnel" (the POST goes) to "Tunnel ID" (its
#     answer, which names the least-loaded node);
#   - running: "Starting the tunnel" to "Sauce Connect is up" (its first
#     KGP connection's WELCOME, on the node the answer named);
# and whether the first connection was told to try again (a node that
# had not read the tunnel yet).  p50, p90, p99 and max of each; the load
# average.  It asserts nothing and exits 0 unless the set-up fails.
#
#   bench/create.sh [-n tunnels] [BUILDDIR]
#
# -n         tunnels created (default 50)
# BUILDDIR   meson build directory (default build; set up if missing)
# SC_BENCH_PORT  the first of its ports (default 24600; it uses 2 above)
# PG_BIN     PostgreSQL's programs (default /usr/lib/postgresql/15/bin)
# Run it as root.  Everything it starts is stopped on exit.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
count=50
while [ $# -gt 0 ]; do
	case $1 in
	-n) count=$2; shift 2 ;;
	-h|--help) sed -n '2,22p' "$0"; exit 0 ;;
	*) break ;;
	esac
done
builddir=${1:-build}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
for t in curl python3 psql "$PG_BIN/initdb" "$PG_BIN/pg_ctl"; do
	command -v "$t" >/dev/null ||
	    { echo "create bench: $t is needed (curl postgresql)"; exit 1; }
done


P0=${SC_BENCH_PORT:-24600}
tmp=$(mktemp -d /tmp/sc-bench-create.XXXXXX)
pids=()
PG_DIR=
BENCH_NAME="create bench"
# shellcheck source=bench/lib.sh
. "$top/bench/lib.sh"
bench_build "$builddir"
trap bench_cleanup EXIT
trap 'exit 1' INT TERM
bench_pg

key=$("$B/server/sc-server" --db "$DB" -s "$tmp/state1" user add bench) ||
    die "sc-server user add failed"
# node N on 127.0.0.N; nodes 2 and 3 with node 1's key pair
node() {
	local n=$1
	if [ "$n" != 1 ]; then
		mkdir -p -m 0700 "$tmp/state$n"
		cp "$tmp/state1/server.key" "$tmp/state1/server.crt" \
		    "$tmp/state$n/" || die "cannot copy node 1's key pair"
	fi
	"$B/server/sc-server" -d --db "$DB" --node "node$n" -s "$tmp/state$n" \
	    -R "127.0.0.$n:$((P0 + 1))" -K "127.0.0.$n:$((P0 + 2))" \
	    -E "127.0.0.$n" -H "127.0.0.$n" -G none >"$tmp/node$n.log" 2>&1 &
	pids+=($!)
	wait_for 10 curl -s -o /dev/null "http://127.0.0.$n:$((P0 + 1))/rest/v1/" ||
	    die "node $n did not start"
	wait_for 10 test -s "$tmp/state$n/server.crt" ||
	    die "node $n has no key pair"
}
node 1
node 2
node 3
three_up() {
	[ "$(sql "SELECT count(*) FROM nodes WHERE state = 'up'")" = 3 ]
}
wait_for 10 three_up || die "the three nodes are not up"

# ms LOG PATTERN: the time of LOG's first line matching PATTERN, in ms
ms() {
	grep -m 1 "$2" "$1" | awk '{ split($2, t, ":");
	    printf "%.0f\n", ((t[1] * 60 + t[2]) * 60 + t[3]) * 1000 }'
}

: >"$tmp/times"
for i in $(seq 1 "$count"); do
	n=$(( (i - 1) % 3 + 1 ))
	rm -f "$tmp/ready"
	"$B/controller/sc" -u bench -k "$key" -i "create$i" \
	    -x "http://127.0.0.$n:$((P0 + 1))/rest/v1" -f "$tmp/ready" \
	    --ctl-socket "$tmp/ctl.sock" >"$tmp/sc.log" 2>&1 &
	sc=$!
	wait_for 30 test -e "$tmp/ready" || die "sc $i did not come up"
	t0=$(ms "$tmp/sc.log" 'Starting the tunnel')
	t1=$(ms "$tmp/sc.log" 'Tunnel ID:')
	t2=$(ms "$tmp/sc.log" 'Sauce Connect is up')
	to=$(sed -n 's/.*is running, connecting to \([0-9.]*\):.*/\1/p' \
	    "$tmp/sc.log" | head -n 1)
	again=$(grep -c 'lost: peer: peer shutting down' "$tmp/sc.log")
	echo "$((t1 - t0)) $((t2 - t0)) $n ${to##*.} $again" >>"$tmp/times"
	kill -TERM "$sc"
	wait "$sc"
done
load=$(cut -d' ' -f1-3 /proc/loadavg)

echo
echo "== sc create-to-running (issue 21), $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(uname -sr), load average $load"
echo "$count tunnels, one after the other, three nodes on one PostgreSQL (loopback), the REST API of each in turn"
python3 - "$tmp/times" <<'EOF'
import sys
rows = [list(map(int, l.split())) for l in open(sys.argv[1])]
def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100 * len(v) + 0.5)) - 1)]
print("%-34s %6s %6s %6s %6s" % ("ms", "p50", "p90", "p99", "max"))
for name, col in (("POST to its answer", 0),
                  ("POST to running (WELCOME)", 1)):
    v = [r[col] for r in rows]
    print("%-34s %6d %6d %6d %6d" % (name, pct(v, 50), pct(v, 90),
        pct(v, 99), max(v)))
other = [r for r in rows if r[2] != r[3]]
again = [r for r in rows if r[4] > 0]
print("placed on another node than the REST API's: %d of %d" %
    (len(other), len(rows)))
print("first connection told to try again: %d of %d" % (len(again),
    len(rows)))
if again:
    v = [r[1] for r in again]
    print("  their POST to running: p50 %d, max %d ms" % (pct(v, 50),
        max(v)))
print("target: p99 of POST to running <= 50 ms")
EOF
