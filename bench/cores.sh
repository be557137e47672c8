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
#   bench/cores.sh -w "1 2" [-t tunnels] [-r repeat] [BUILDDIR]
#
# -r  runs of each measure (default 3)
# -n  --tunnel-connections of every sc (default 4)
# -k  the values of --kgp-processes to measure (default "1 2")
# -w  the server's side instead: for each value W, sc-server
#     --kgp-workers W and -t tunnels (default 4), each of its own sc
#     (one connection, one kgpd), one 128 MiB download through each at
#     once, inside CONNECT: MB/s in all, and the server's CPU seconds per
#     GiB (all its processes), lowest and highest of the repeats
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
ws=
ntun=4
while [ $# -gt 0 ]; do
	case $1 in
	-r) repeat=$2; shift 2 ;;
	-n) nconn=$2; shift 2 ;;
	-k) ks=$2; shift 2 ;;
	-w) ws=$2; shift 2 ;;
	-t) ntun=$2; shift 2 ;;
	-h|--help) sed -n '2,31p' "$0"; exit 0 ;;
	*) break ;;
	esac
done
builddir=${1:-build-release}
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$nginx_bin" ] || { echo "cores: nginx is needed (bench/run.sh --install)"; exit 1; }

ulimit -n "$(ulimit -Hn)"

P0=${SC_BENCH_PORT:-24500}
A=127.0.0.1
APP=$A:$P0
REST=$A:$((P0 + 1))
KGP=$A:$((P0 + 2))
MiB=1048576

tmp=$(mktemp -d /tmp/sc-cores.XXXXXX)
pids=()
trap bench_cleanup EXIT
trap 'exit 1' INT TERM
BENCH_NAME=cores
# shellcheck source=bench/lib.sh
. "$top/bench/lib.sh"
bench_build "$builddir" controller/sc kgpd/kgpd proxyd/proxyd \
    server/sc-server sc-ctl/sc-ctl

mkdir -p "$tmp/www" "$tmp/nginx"
chmod 755 "$tmp" "$tmp/www"
truncate -s 128M "$tmp/www/128m"
truncate -s 1G "$tmp/www/1g"
cat "$tmp"/www/* >/dev/null
nginx_conf 4096 "$APP"
"$nginx_bin" -c "$tmp/nginx.conf" -p "$tmp" 2>>"$tmp/nginx.log" &
nginx_pid=$!
pids+=($nginx_pid)
wait_for 10 curl -sf -o /dev/null "http://$APP/128m" || die "nginx does not answer"

key=$("$B/server/sc-server" -s "$tmp/state" user add bench) ||
    die "sc-server user add failed"
# server_start [options]: sc-server on $REST and $KGP, its pid server_pid
server_start() {
	"$B/server/sc-server" -d -s "$tmp/state" -R "$REST" -K "$KGP" "$@" \
	    >>"$tmp/server.log" 2>&1 &
	server_pid=$!
	pids+=($server_pid)
	wait_for 10 curl -s -o /dev/null "http://$REST/rest/v1/" ||
	    die "sc-server did not start"
}
server_start

# range LIST: "lo-hi" of numbers
range() {
	printf '%s\n' "$@" | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 }
	    END { if (lo == hi) print lo; else print lo "-" hi }'
}
# dl8 VIA: MB/s of 8 x 128 MiB at once through VIA (- : direct); the
# CPU seconds per GiB of each part in $tmp/parts: kgpd (all of them),
# proxyd, sc, the server, nginx and the load generator (helpers.py)
dl8() {
	local k p c s n g0 g1 out t0 t1
	k=$(ps -o pid=,comm= --ppid "${sc_pid:-0}" 2>/dev/null |
	    awk '$2 == "kgpd" { print $1 }')
	p=$(ps -o pid=,comm= --ppid "${sc_pid:-0}" 2>/dev/null |
	    awk '$2 == "proxyd" { print $1 }')
	# shellcheck disable=SC2086 # lists of pids
	t0="$(cpu_tree $k) $(cpu_tree $p) $(cpu1 "${sc_pid:-}") $(cpu_tree "$server_pid") $(cpu_tree "$nginx_pid")"
	out=$(python3 -c '
import resource, subprocess, sys
r = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE, text=True)
u = resource.getrusage(resource.RUSAGE_CHILDREN)
print(r.stdout.strip(), u.ru_utime + u.ru_stime)' \
	    python3 "$top/bench/helpers.py" xfer down "$1" "$APP" /128m 8 \
	    $((128 * MiB)) 2>>"$tmp/xfer.log")
	# shellcheck disable=SC2086
	t1="$(cpu_tree $k) $(cpu_tree $p) $(cpu1 "${sc_pid:-}") $(cpu_tree "$server_pid") $(cpu_tree "$nginx_pid")"
	echo "$t0 $t1 ${out#* }" | awk -v hz="$hz" '{
		for (i = 1; i <= 5; i++)
			printf "%.3f ", ($(i + 5) - $i) / hz
		printf "%.3f\n", $11 }' >>"$tmp/parts.$2"
	echo "${out%% *}"
}
# CPU clock ticks of one process alone (sc: not its children)
cpu1() {
	[ -n "$1" ] || { echo 0; return; }
	sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null |
	    awk '{ print $12 + $13 } END { if (NR == 0) print 0 }'
}
# parts NAME: the median CPU s per GiB of each part over the runs of NAME
parts() {
	local f=$tmp/parts.$1 i m out=
	m=$(( ($(wc -l <"$f") + 1) / 2 ))
	for i in 1 2 3 4 5 6; do
		out="$out $(cut -d' ' -f"$i" "$f" | sort -g | sed -n "${m}p")"
	done
	echo "${out# }"
}
load() { cut -d' ' -f1-3 /proc/loadavg; }

declare -A R
load0=$(load)

# -w: the server's KGP workers, -t tunnels of their own sc each
if [ -n "$ws" ]; then
	for w in $ws; do
		echo "cores: sc-server --kgp-workers $w, $ntun tunnels ..."
		kill "$server_pid"
		wait "$server_pid" 2>/dev/null
		server_start --kgp-workers "$w"
		scs=() entries=()
		for t in $(seq 1 "$ntun"); do
			rm -f "$tmp/ready.$t"
			"$B/controller/sc" -u bench -k "$key" -i "bench-w$w-$t" \
			    -x "http://$REST/rest/v1" -f "$tmp/ready.$t" -B all \
			    --ctl-socket "$tmp/ctl.$t.sock" \
			    --tunnel-connections 1 >"$tmp/sc-w$w-$t.log" 2>&1 &
			scs+=($!)
			pids+=($!)
		done
		for t in $(seq 1 "$ntun"); do
			wait_for 30 test -e "$tmp/ready.$t" ||
			    die "sc $t (W=$w) did not come up"
			entries+=("$(curl -sS -u "bench:$key" \
			    "http://$REST/rest/v1/bench/tunnels?full=true" |
			    python3 -c '
import json, sys
print([t for t in json.load(sys.stdin)
    if t["tunnel_identifier"] == sys.argv[1]
    and t["status"] == "running"][0]["entry_proxy"])' "bench-w$w-$t")") ||
			    die "no entry proxy"
		done
		v=() cs=()
		for i in $(seq 1 "$repeat"); do
			s0=$(cpu_tree "$server_pid")
			t0=$(date +%s.%N)
			xp=()
			for e in "${entries[@]}"; do
				python3 "$top/bench/helpers.py" xfer down \
				    "tunnel:$e" "$APP" /128m 1 $((128 * MiB)) \
				    >/dev/null 2>>"$tmp/xfer.log" &
				xp+=($!)
			done
			wait "${xp[@]}"
			t1=$(date +%s.%N)
			s1=$(cpu_tree "$server_pid")
			v+=("$(awk -v n="$ntun" -v a="$t0" -v b="$t1" \
			    'BEGIN { printf "%.0f", n * 128 * 1048576 / (b - a) / 1e6 }')")
			cs+=("$(awk -v t=$((s1 - s0)) -v hz="$hz" -v n="$ntun" \
			    'BEGIN { printf "%.2f", t / hz / (n / 8) }')")
		done
		R[w.$w]=$(range "${v[@]}")
		R[ws.$w]=$(range "${cs[@]}")
		R[wp.$w]=$(pgrep -P "$server_pid" -f -- '-W kgp$' | wc -l)
		kill "${scs[@]}"
		wait "${scs[@]}" 2>/dev/null
	done
	load1=$(load)
	echo
	echo "== sc-server KGP workers, $(date -u '+%Y-%m-%d %H:%M UTC')," \
	    "$(nproc) cores, $(uname -sr), $repeat runs each, $ntun tunnels"
	echo "load average before: $load0, after: $load1"
	for w in $ws; do
		printf -- '--kgp-workers %s (%s KGP workers running)\n' "$w" \
		    "${R[wp.$w]}"
		printf '  %-42s %s\n' "$ntun x 128 MiB down, one a tunnel, MB/s" \
		    "${R[w.$w]}"
		printf '  %-42s %s\n' "CPU s per GiB down, server side" \
		    "${R[ws.$w]}"
	done
	exit 0
fi
echo "cores: direct ..."
v=()
for i in $(seq 1 "$repeat"); do v+=("$(dl8 - direct)"); done
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
		c+=("$(dl8 "tunnel:$entry" "connect$k")")
		a+=("$(dl8 "$entry" "abs$k")")
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
	sc_pid=
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
echo
echo "CPU s per GiB of each part, 8 x 128 MiB down (median of the runs):"
echo "  kgpd proxyd sc server nginx load-generator"
printf '  %-12s %s\n' direct "$(parts direct)"
for k in $ks; do
	printf '  %-12s %s\n' "connect K=$k" "$(parts "connect$k")"
	printf '  %-12s %s\n' "abs K=$k" "$(parts "abs$k")"
done
