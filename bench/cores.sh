#!/bin/bash
# The client's data path across cores (issue 20), on loopback, in one
# run: nginx, sc-server and sc on this host.  For each number of kgpd
# processes K given (sc --kgp-processes K, the same --tunnel-connections
# N for all), and for the direct path:
#   - 8 parallel downloads (8 x 128 MiB, bench/helpers.py xfer), inside
#     CONNECT (the bytes go through kgpd alone) and in absolute form
#     (proxyd reads the answer's head, then lends kgpd the body), MB/s
#     in total, each repeated: the lowest and highest of the repeats;
#   - the CPU seconds of each side per GiB of one 1 GiB download inside
#     CONNECT: the client (sc, its kgpd processes, proxyd) and the server
#     (sc-server, all its processes), lowest and highest of the repeats;
# and the load average before and after, since on a shared machine the
# figures move with what else runs.  It asserts nothing.
#
#   bench/cores.sh [-r repeat] [-n connections] [-k "1 2"] [BUILDDIR]
#
# -r  runs of each measure (default 3)
# -n  --tunnel-connections of every sc (default 4)
# -k  the values of --kgp-processes to measure (default "1 2")
# BUILDDIR  meson build directory (default build-release; set up with
#     -Dbuildtype=release if missing)
# SC_BENCH_PORT  the first of its loopback ports (default 24500; it uses
#     three)
# Run it as root or as a user; everything it starts stops on exit.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
repeat=3
nconn=4
ks="1 2"
while [ $# -gt 0 ]; do
	case $1 in
	-r) repeat=$2; shift 2 ;;
	-n) nconn=$2; shift 2 ;;
	-k) ks=$2; shift 2 ;;
	-h|--help) sed -n '2,25p' "$0"; exit 0 ;;
	*) break ;;
	esac
done
builddir=${1:-build-release}
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$nginx_bin" ] || { echo "cores: nginx is needed (bench/run.sh --install)"; exit 1; }

cd "$top" || exit 1
[ -f "$builddir/build.ninja" ] ||
    meson setup "$builddir" -Dbuildtype=release >/dev/null || exit 1
ninja -C "$builddir" -j2 >/dev/null || exit 1
case $builddir in /*) B=$builddir ;; *) B=$top/$builddir ;; esac
ulimit -n "$(ulimit -Hn)"

P0=${SC_BENCH_PORT:-24500}
A=127.0.0.1
APP=$A:$P0
REST=$A:$((P0 + 1))
KGP=$A:$((P0 + 2))
MiB=1048576

tmp=$(mktemp -d /tmp/sc-cores.XXXXXX)
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null
	done
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
BENCH_NAME=cores
# shellcheck source=bench/lib.sh
. "$top/bench/lib.sh"

mkdir -p "$tmp/www" "$tmp/nginx"
chmod 755 "$tmp" "$tmp/www"
truncate -s 128M "$tmp/www/128m"
truncate -s 1G "$tmp/www/1g"
cat "$tmp"/www/* >/dev/null
nginx_conf 4096 "$APP"
"$nginx_bin" -c "$tmp/nginx.conf" -p "$tmp" 2>>"$tmp/nginx.log" &
pids+=($!)
wait_for 10 curl -sf -o /dev/null "http://$APP/128m" || die "nginx does not answer"

key=$("$B/server/sc-server" -s "$tmp/state" user add bench) ||
    die "sc-server user add failed"
"$B/server/sc-server" -d -s "$tmp/state" -R "$REST" -K "$KGP" \
    >"$tmp/server.log" 2>&1 &
server_pid=$!
pids+=($server_pid)
wait_for 10 curl -s -o /dev/null "http://$REST/rest/v1/" ||
    die "sc-server did not start"

# the pids of processes and all their descendants
pids_tree() {
	local pid c
	for pid in "$@"; do
		echo "$pid"
		for c in $(cat /proc/"$pid"/task/*/children 2>/dev/null); do
			pids_tree "$c"
		done
	done
}
# CPU clock ticks of processes and their descendants (utime + stime)
cpu_tree() {
	local t=0 p
	for p in $(pids_tree "$@"); do
		t=$((t + $(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null |
		    awk '{ print $12 + $13 } END { if (NR == 0) print 0 }')))
	done
	echo "$t"
}
hz=$(getconf CLK_TCK)
# range LIST: "lo-hi" of numbers
range() {
	printf '%s\n' "$@" | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 }
	    END { if (lo == hi) print lo; else print lo "-" hi }'
}
# dl8 VIA: MB/s of 8 x 128 MiB at once through VIA (- : direct)
dl8() {
	python3 "$top/bench/helpers.py" xfer down "$1" "$APP" /128m 8 \
	    $((128 * MiB)) 2>>"$tmp/xfer.log"
}
load() { cut -d' ' -f1-3 /proc/loadavg; }

declare -A R
load0=$(load)
echo "cores: direct ..."
v=()
for i in $(seq 1 "$repeat"); do v+=("$(dl8 -)"); done
R[direct]=$(range "${v[@]}")
R[direct_hi]=$(printf '%s\n' "${v[@]}" | sort -g | tail -n 1)

for k in $ks; do
	echo "cores: --tunnel-connections $nconn --kgp-processes $k ..."
	rm -f "$tmp/ready"
	"$B/controller/sc" -u bench -k "$key" -i "bench-k$k" \
	    -x "http://$REST/rest/v1" -f "$tmp/ready" -B all \
	    --ctl-socket "$tmp/ctl.sock" --tunnel-connections "$nconn" \
	    --kgp-processes "$k" >"$tmp/sc-k$k.log" 2>&1 &
	sc_pid=$!
	wait_for 30 test -e "$tmp/ready" || die "sc (K=$k) did not come up"
	entry=$(curl -sS -u "bench:$key" \
	    "http://$REST/rest/v1/bench/tunnels?full=true" | python3 -c '
import json, sys
print([t for t in json.load(sys.stdin)
    if t["tunnel_identifier"] == sys.argv[1]
    and t["status"] == "running"][0]["entry_proxy"])' "bench-k$k") ||
	    die "no entry proxy"
	up() { [ "$("$B/sc-ctl/sc-ctl" -s "$tmp/ctl.sock" status |
	    grep -c '^connection [0-9]*: up')" = "$nconn" ]; }
	wait_for 10 up || die "not $nconn connections up (K=$k)"
	R[kgpd.$k]=$(ps -o comm= --ppid "$sc_pid" | grep -cx kgpd)
	c=() a=() cc=() cs=()
	for i in $(seq 1 "$repeat"); do
		c+=("$(dl8 "tunnel:$entry")")
		a+=("$(dl8 "$entry")")
		c0=$(cpu_tree "$sc_pid") s0=$(cpu_tree "$server_pid")
		python3 "$top/bench/helpers.py" xfer down "tunnel:$entry" \
		    "$APP" /1g 1 $((1024 * MiB)) >/dev/null 2>>"$tmp/xfer.log"
		c1=$(cpu_tree "$sc_pid") s1=$(cpu_tree "$server_pid")
		cc+=("$(awk -v t=$((c1 - c0)) -v hz="$hz" 'BEGIN { printf "%.2f", t / hz }')")
		cs+=("$(awk -v t=$((s1 - s0)) -v hz="$hz" 'BEGIN { printf "%.2f", t / hz }')")
	done
	R[connect.$k]=$(range "${c[@]}")
	R[abs.$k]=$(range "${a[@]}")
	R[ratio.$k]=$(printf '%s\n' "${c[@]}" | sort -g | tail -n 1 |
	    awk -v d="${R[direct_hi]}" '{ printf "%.2f", $1 / d }')
	R[cpuc.$k]=$(range "${cc[@]}")
	R[cpus.$k]=$(range "${cs[@]}")
	kill "$sc_pid"
	wait "$sc_pid" 2>/dev/null
done
load1=$(load)

echo
echo "== sc cores benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores," \
    "$(uname -sr), $repeat runs each, --tunnel-connections $nconn"
echo "load average before: $load0, after: $load1"
printf '%-44s %s\n' "direct, 8 x 128 MiB down, MB/s" "${R[direct]}"
for k in $ks; do
	printf -- '--kgp-processes %s (%s kgpd running)\n' "$k" "${R[kgpd.$k]}"
	printf '  %-42s %s (best/direct best %s)\n' \
	    "8 x 128 MiB down inside CONNECT, MB/s" "${R[connect.$k]}" \
	    "${R[ratio.$k]}"
	printf '  %-42s %s\n' "8 x 128 MiB down, absolute form, MB/s" \
	    "${R[abs.$k]}"
	printf '  %-42s %s\n' "CPU s per GiB down, client side" "${R[cpuc.$k]}"
	printf '  %-42s %s\n' "CPU s per GiB down, server side" "${R[cpus.$k]}"
done
