#!/bin/bash
# The WAN benchmark of issue 20: the tunnel over an emulated long link.
# Two network namespaces, the server side (wan-s: sc-server, sshd, the
# load generator in the role of the browsers) and the client side (wan-c:
# sc, ssh -R, tinyproxy, and the application, nginx), joined by
# bench/linkemu.c (two TUN devices; this kernel has no sch_netem) with,
# each way, a one-way delay, a rate, a drop-tail bottleneck queue and
# random loss.  Profiles:
#   a  10 ms RTT, 1 Gbit/s, queue 1.25 MB (MTU 9000: at 1500, carrying
#      80,000 packets/s through TUN took the 2 cores, not the link)
#   b  50 ms RTT, 200 Mbit/s, queue 1.25 MB, MTU 1500
#   c  100 ms RTT, 100 Mbit/s, queue 1.25 MB, 0.1 % loss, MTU 1500
# For each profile, in one run, three paths to nginx in wan-c:
#   direct  the load generator talks to nginx across the link;
#   ours    sc-server's entry proxy -> KGP (one connection,
#           --tunnel-connections 1, so that the small request below
#           shares it with the bulk one) -> sc -> nginx;
#   peer    ssh -R (aes256-gcm) to sshd in wan-s, carrying tinyproxy in
#           wan-c (skipped when openssh-server or tinyproxy is missing);
# and for each (bench/helpers.py):
#   - one-stream download and upload of SIZE (256 MiB for a, 128 for b,
#     64 for c; -s), 8 streams of SIZE/8 each, MB/s;
#   - a page: 100 x 20 KiB over 6 connections kept alive, and with a
#     fresh connection for each, ms;
#   - time to first byte of a 1 KiB GET on a fresh connection, median
#     and largest of 20, ms;
#   - the same while one bulk download runs through the same proxy: a
#     small stream behind a bulk one (median, largest; and the bulk's
#     MB/s meanwhile);
#   - the same on one connection kept alive (opened before the bulk):
#     one round trip of the path each, for direct and the peer as for
#     ours (whose entry proxy is next to the load generator), so that
#     direct's figure is the floor the link itself sets; and meanwhile
#     the depth of the link's bottleneck queue the bulk's bytes cross
#     (linkemu's, wan-c to wan-s), in ms: median and largest (the
#     peer's is "-": tinyproxy closes each connection after an answer);
# and for ours the time to ready (sc's start to its readyfile, median of
# 5) against 4 RTT + 50 ms.  One table per profile, with the ratios
# ours/direct and ours/peer; with -r N each figure is the range over N
# runs (min-max).  Not a test: it asserts nothing.
#
#   bench/wan.sh [-p abc] [-r repeat] [-s MiB] [-m list] [-q bytes]
#       [--no-peer] [BUILDDIR]
#
# -q sets every profile's bottleneck queue (linkemu -q, bytes; 1.25 MB
# by default), to see what a link with a shorter buffer gives.
# -m takes the measures to run, comma-separated, of: xfer (the three
# transfers), page, ttfb, hol (behind a bulk stream, both kinds), ready;
# all by default.  The KGP endpoint is the REST API's host at port 4443, where
# sc opens its early connection (sc.8, "Start-up").
#
# Run it as root.  Everything it starts is stopped, and its namespaces
# removed, on exit.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
profiles=abc
repeat=1
size_mib=
only=,xfer,page,ttfb,hol,ready,
nopeer=0
queue=
while [ $# -gt 0 ]; do
	case $1 in
	-p) profiles=$2; shift 2 ;;
	-r) repeat=$2; shift 2 ;;
	-s) size_mib=$2; shift 2 ;;
	-m) only=,$2,; shift 2 ;;
	-q) queue=$2; shift 2 ;;
	--no-peer) nopeer=1; shift ;;
	-h|--help) sed -n '2,53p' "$0"; exit 0 ;;
	*) break ;;
	esac
done
builddir=${1:-build}

for t in curl python3 cc ip; do
	command -v "$t" >/dev/null || { echo "wan: $t is needed"; exit 1; }
done
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
sshd_bin=$(command -v sshd || echo /usr/sbin/sshd)
tinyproxy_bin=$(command -v tinyproxy || echo /usr/bin/tinyproxy)
[ -x "$nginx_bin" ] || { echo "wan: nginx is needed"; exit 1; }
if [ "$nopeer" = 0 ] && { [ ! -x "$sshd_bin" ] || [ ! -x "$tinyproxy_bin" ] ||
    ! command -v ssh >/dev/null; }; then
	echo "wan: no sshd, ssh or tinyproxy: the peer is skipped"
	nopeer=1
fi

ulimit -n "$(ulimit -Hn)"

NS_S=scwan-s
NS_C=scwan-c
S_ADDR=10.77.0.1
C_ADDR=10.77.0.2
APP=$C_ADDR:24300
REST=$S_ADDR:24301
KGP=$S_ADDR:4443
SSH_PORT=24322
TINY_PORT=24388
PEER=127.0.0.1:24380
MiB=1048576

tmp=$(mktemp -d /tmp/sc-wan.XXXXXX)
pids=()
stop_all() {
	local p
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null
	done
	for p in "${pids[@]}"; do
		wait "$p" 2>/dev/null
	done
	pids=()
}
cleanup() {
	stop_all
	# WAN_KEEP=DIR: the logs of the run are kept there
	[ -n "${WAN_KEEP:-}" ] && mkdir -p "$WAN_KEEP" &&
	    cp "$tmp"/*.log "$WAN_KEEP"/ 2>/dev/null
	ip netns del "$NS_S" 2>/dev/null
	ip netns del "$NS_C" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

BENCH_NAME=wan
# shellcheck source=bench/lib.sh
. "$top/bench/lib.sh"
bench_build "$builddir" controller/sc server/sc-server kgpd/kgpd proxyd/proxyd
in_s() { ip netns exec "$NS_S" "$@"; }
in_c() { ip netns exec "$NS_C" "$@"; }
# in the background, its pid kept: ip netns exec execs the program, so
# that pid is the program's (a backgrounded function's would be a shell's)
bg_s() { ip netns exec "$NS_S" "$@" & pids+=($!); }
bg_c() { ip netns exec "$NS_C" "$@" & pids+=($!); }

cc -O2 -Wall -o "$tmp/linkemu" "$top/bench/linkemu.c" || die "cannot build linkemu"

# the files: sparse ones are read once so that the page cache has them
mkdir -p "$tmp/www" "$tmp/nginx"
chmod 755 "$tmp" "$tmp/www"
head -c 1024 /dev/urandom >"$tmp/www/1k"
head -c 20480 /dev/urandom >"$tmp/www/20k"
truncate -s 256M "$tmp/www/256m"
truncate -s 4G "$tmp/www/4g"
truncate -s 256M "$tmp/up256m"
cat "$tmp/www/256m" "$tmp/up256m" >/dev/null

# profile NAME: sets RTT_MS, LINK (linkemu's options) and SIZE (MiB)
profile() {
	case $1 in
	a) RTT_MS=10; LINK="-d 5 -r 1000 -q 1250000 -m 9000"; SIZE=256 ;;
	b) RTT_MS=50; LINK="-d 25 -r 200 -q 1250000 -m 1500"; SIZE=128 ;;
	c) RTT_MS=100; LINK="-d 50 -r 100 -q 1250000 -l 0.1 -m 1500"; SIZE=64 ;;
	*) die "unknown profile $1" ;;
	esac
	[ -n "$size_mib" ] && SIZE=$size_mib
	[ -n "$queue" ] && LINK=$(echo "$LINK" | sed "s/-q [0-9]*/-q $queue/")
	QUEUE_MS=$(echo "$LINK" | awk '{ for (i = 1; i < NF; i++) {
		if ($i == "-q") q = $(i + 1); if ($i == "-r") r = $(i + 1) }
		printf "%.1f", q * 8 / (r * 1000) }')
	PROFILE_DESC="$RTT_MS ms RTT, $(echo "$LINK" | awk '{ print $4 }') Mbit/s"
	case $LINK in *-l*) PROFILE_DESC="$PROFILE_DESC, 0.1 % loss" ;; esac
}

# the two namespaces joined by linkemu with this profile's link
link_up() {
	local mtu
	mtu=$(echo "$LINK" | awk '{ for (i = 1; i < NF; i++) if ($i == "-m") print $(i + 1) }')
	ip netns add "$NS_S" || die "ip netns add"
	ip netns add "$NS_C" || die "ip netns add"
	# shellcheck disable=SC2086 # LINK is a list of options
	"$tmp/linkemu" $LINK wanS wanC 2>>"$tmp/linkemu.log" &
	pids+=($!)
	linkemu_pid=$!
	wait_for 5 ip link show wanC || die "linkemu did not start"
	ip link set wanS netns "$NS_S" && ip link set wanC netns "$NS_C" ||
	    die "cannot move the TUN devices"
	in_s ip link set lo up
	in_c ip link set lo up
	in_s ip addr add "$S_ADDR" peer "$C_ADDR" dev wanS
	in_c ip addr add "$C_ADDR" peer "$S_ADDR" dev wanC
	in_s ip link set wanS mtu "$mtu" up
	in_c ip link set wanC mtu "$mtu" up
}

link_down() {
	stop_all
	ip netns del "$NS_S" 2>/dev/null
	ip netns del "$NS_C" 2>/dev/null
}

# nginx, sc-server, sc, and the peer, on the link of this profile
start_all() {
	nginx_conf 4096 "$APP"
	bg_c "$nginx_bin" -c "$tmp/nginx.conf" -p "$tmp" 2>>"$tmp/nginx.log"
	wait_for 10 in_c curl -sf -o /dev/null "http://$APP/1k" || die "nginx does not answer"
	wait_for 10 in_s curl -sf -o /dev/null "http://$APP/1k" || die "no direct path over the link"

	rm -rf "$tmp/state"
	key=$("$B/server/sc-server" -s "$tmp/state" user add bench) ||
	    die "sc-server user add failed"
	bg_s "$B/server/sc-server" -d -s "$tmp/state" -R "$REST" -K "$KGP" \
	    ${SERVER_OPTS:-} >>"$tmp/server.log" 2>&1
	wait_for 10 in_s curl -s -o /dev/null "http://$REST/rest/v1/" ||
	    die "sc-server did not start"
	rm -f "$tmp/ready"
	bg_c "$B/controller/sc" -u bench -k "$key" -i bench -x "http://$REST/rest/v1" \
	    -f "$tmp/ready" -d "$tmp/sc.pid" --ctl-socket "$tmp/ctl.sock" -B all \
	    --tunnel-connections 1 ${CLIENT_OPTS:-} >>"$tmp/sc.log" 2>&1
	wait_for 30 test -e "$tmp/ready" || die "sc did not come up"
	entry=$(in_s curl -sS -u "bench:$key" "http://$REST/rest/v1/bench/tunnels?full=true" |
	    python3 -c 'import json, sys
print([t for t in json.load(sys.stdin) if t["tunnel_identifier"] == "bench"][0]["entry_proxy"])') ||
	    die "no entry proxy"
	wait_for 10 in_s curl -sf -o /dev/null -x "http://$entry" "http://$APP/1k" ||
	    die "no answer through the tunnel"
	proxy[ours]=$entry
	[ "$nopeer" = 1 ] && return

	peer_conf 127.0.0.1 "$TINY_PORT" "$S_ADDR" "$SSH_PORT"
	bg_c "$tinyproxy_bin" -d -c "$tmp/tinyproxy.conf" >>"$tmp/tinyproxy.log" 2>&1
	bg_s "$sshd_bin" -f "$tmp/sshd_config" -D -e >>"$tmp/sshd.log" 2>&1
	wait_for 10 in_s bash -c "exec 3<>/dev/tcp/$S_ADDR/$SSH_PORT" || die "sshd did not start"
	wait_for 10 in_c bash -c "exec 3<>/dev/tcp/127.0.0.1/$TINY_PORT" || die "tinyproxy did not start"
	bg_c ssh "${PEER_SSH_OPTS[@]}" -R "${PEER#*:}:127.0.0.1:$TINY_PORT" \
	    -i "$tmp/user_key" -p "$SSH_PORT" "root@$S_ADDR" >>"$tmp/ssh.log" 2>&1
	wait_for 15 in_s curl -sf -o /dev/null -x "http://$PEER" "http://$APP/1k" ||
	    die "no answer through ssh -R and tinyproxy"
}

wanted() { case $only in *,$1,*) return 0 ;; esac; return 1; }
# MB/s to a tenth: on (c) one stream moves 8-11 of them
export XFER_DECIMALS=1
helper() { in_s python3 "$top/bench/helpers.py" "$@" 2>>"$tmp/helpers.log"; }

# add VALUE to R[KEY]: the list of the runs' figures
add() { R[$1]="${R[$1]:-} $2"; }

# one run of every measure of path p
measure() {
	local p=$1 via=${proxy[$1]} out
	if wanted xfer; then
		add "dl1.$p" "$(helper xfer down "$via" "$APP" /4g 1 $((SIZE * MiB)))"
		add "ul1.$p" "$(helper xfer up "$via" "$APP" /upload 1 $((SIZE * MiB)) "$tmp/up256m")"
		add "dl8.$p" "$(helper xfer down "$via" "$APP" /4g 8 $((SIZE * MiB / 8)))"
	fi
	if wanted page; then
		add "pgk.$p" "$(helper page "$via" "$APP" /20k 100 6 keep)"
		add "pgf.$p" "$(helper page "$via" "$APP" /20k 100 6 fresh)"
	fi
	if wanted ttfb; then
		out=$(helper ttfb "$via" "$APP" /1k 20)
		add "tf50.$p" "${out% *}"
		add "tfmx.$p" "${out#* }"
	fi
	wanted hol || return 0
	# ours: what the client's KGP socket holds while the bulk one runs
	[ "$p" = ours ] && { sleep 4; in_c ss -tmi state established \
	    "dst $KGP" | tr -s ' \t' ' ' | grep -oE '(rtt|minrtt|cwnd|unacked|notsent|delivery_rate|bbr):[^ ]*' |
	    tr '\n' ' ' >>"$tmp/kgpss.out"; echo >>"$tmp/kgpss.out"; } &
	out=$(helper hol "$via" "$APP" /4g /1k 20)
	read -r a b c <<<"$out"
	add "hol50.$p" "$a"
	add "holmx.$p" "$b"
	add "holbw.$p" "$c"
	# on a kept connection, and the link's queue meanwhile: linkemu
	# reports it at the helper's two signals (the second: these figures)
	local n0
	n0=$(grep -c "queue wanC -> wanS" "$tmp/linkemu.log")
	out=$(helper hol "$via" "$APP" /4g /1k 20 keep "$linkemu_pid")
	read -r a b c <<<"$out"
	add "hok50.$p" "$a"
	add "hokmx.$p" "$b"
	if wait_for 5 test "$(grep -c "queue wanC -> wanS" "$tmp/linkemu.log")" -ge $((n0 + 2)); then
		out=$(grep "queue wanC -> wanS" "$tmp/linkemu.log" | tail -n 1 |
		    awk '{ print $9, $16 }')
		add "q50.$p" "${out% *}"
		add "qmx.$p" "${out#* }"
	else
		add "q50.$p" -
		add "qmx.$p" -
	fi
}

# timeline LOG: the steps of the last start of sc in LOG (-v), in ms
# from its first line, and in round trips of this profile
timeline() {
	awk -v rtt="$RTT_MS" '
	/ starting \(/ { n = 0 }
	/ starting \(|early connection to|REST (POST|GET|DELETE)|connected to|KGP connection [0-9]+ up|Sauce Connect is up/ {
		split($2, t, ":"); ms = (t[1] * 3600 + t[2] * 60 + t[3]) * 1000
		if (n == 0) t0 = ms
		line[++n] = sprintf("  %7.1f ms %5.1f RTT  %s", ms - t0,
		    (ms - t0) / rtt, substr($0, index($0, $3)))
	}
	END { print "ours, the last start of sc:"; for (i = 1; i <= n; i++) print line[i] }' "$1"
}

# "min-max" (or the one figure) of a list; "-" if any run failed
range() {
	echo "$*" | awk '{
		for (i = 1; i <= NF; i++) {
			if ($i !~ /^[0-9.]+$/) { print "-"; exit }
			if (i == 1 || $i < lo) lo = $i
			if (i == 1 || $i > hi) hi = $i
		}
		if (NF == 0) print "-"; else if (lo == hi) print lo;
		else printf "%s-%s\n", lo, hi }'
}
# ratio of two lists: the ratios of the runs' medians
median_of() { echo "$*" | tr ' ' '\n' | sort -n | awk 'NF { v[++n] = $1 } END {
	if (n == 0) print "-"; else print v[int((n + 1) / 2)] }'; }
ratio() {
	awk -v a="$(median_of "$1")" -v b="$(median_of "$2")" 'BEGIN {
		if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b > 0) printf "%.2f", a / b;
		else print "-" }'
}
row() {
	local label=$1 k=$2
	printf '%-40s %11s %11s %11s | %9s %9s\n' "$label" \
	    "$(range ${R[$k.direct]:-})" "$(range ${R[$k.ours]:-})" \
	    "$(range ${R[$k.peer]:-})" \
	    "$(ratio "${R[$k.ours]:-}" "${R[$k.direct]:-}")" \
	    "$(ratio "${R[$k.ours]:-}" "${R[$k.peer]:-}")"
}

declare -A proxy=([direct]=-)
paths=(direct ours)
[ "$nopeer" = 1 ] || { paths+=(peer); proxy[peer]=$PEER; }
report=$tmp/report
: >"$report"
for pr in $(echo "$profiles" | grep -o .); do
	profile "$pr"
	declare -A R=()
	echo "wan: profile $pr ($PROFILE_DESC): setting up ..."
	link_up
	start_all
	for i in $(seq 1 "$repeat"); do
		for p in "${paths[@]}"; do
			echo "wan: profile $pr, run $i, $p ..."
			measure "$p"
		done
	done
	ready_ms=-
	rm -f "$tmp/ready-sc.log"
	if wanted ready; then
		echo "wan: profile $pr: time to ready, 5 starts of sc ..."
		# -v -l: the last start's timeline, below
		in_c python3 "$top/bench/helpers.py" ready 5 "$tmp/ready2" -- \
		    "$B/controller/sc" -u bench -k "$key" -i bench-ready \
		    -x "http://$REST/rest/v1" -f "$tmp/ready2" -d "$tmp/sc2.pid" \
		    --ctl-socket "$tmp/ctl2.sock" -v -l "$tmp/ready-sc.log" \
		    ${CLIENT_OPTS:-} >"$tmp/ready.out" 2>>"$tmp/ready.log"
		ready_ms=$(grep -v fail "$tmp/ready.out" | sort -n | awk '{ v[NR] = $1 } END { print NR ? v[int((NR + 1) / 2)] : "-" }')
	fi
	{
		echo
		echo "== profile $pr: $PROFILE_DESC (linkemu $LINK: a full queue is $QUEUE_MS ms), $SIZE MiB, $repeat run(s), load average $(cut -d' ' -f1-3 /proc/loadavg)"
		printf '%-40s %11s %11s %11s | %9s %9s\n' measure direct ours peer ours/dir ours/peer
		row "download, 1 stream, MB/s" dl1
		row "upload, 1 stream, MB/s" ul1
		row "download, 8 streams, MB/s" dl8
		row "page 100 x 20 KiB, 6 kept alive, ms" pgk
		row "page 100 x 20 KiB, fresh conns, ms" pgf
		row "first byte, fresh conn, median ms" tf50
		row "first byte, fresh conn, max ms" tfmx
		row "behind a bulk stream: first byte, med" hol50
		row "behind a bulk stream: first byte, max" holmx
		row "the bulk stream meanwhile, MB/s" holbw
		row "behind a bulk, kept conn: 1st byte, med" hok50
		row "behind a bulk, kept conn: 1st byte, max" hokmx
		row "the link's queue meanwhile, median ms" q50
		row "the link's queue meanwhile, max ms" qmx
		printf 'target behind a bulk stream: 1 RTT + 10 ms = %d ms\n' $((RTT_MS + 10))
		printf 'ours, time to ready, median of 5: %s ms (4 RTT + 50 ms = %d ms)\n' \
		    "$ready_ms" $((4 * RTT_MS + 50))
		[ -s "$tmp/ready-sc.log" ] && timeline "$tmp/ready-sc.log"
		[ -s "$tmp/kgpss.out" ] && sed 's/^/ours, the KGP socket behind the bulk: /' "$tmp/kgpss.out"
		# each run's figure of the transfers, in the order of the runs
		if [ "$repeat" -gt 1 ] && wanted xfer; then
			for k in dl1 ul1 dl8; do
				for p in "${paths[@]}"; do
					echo "runs, $k $p:${R[$k.$p]:-}"
				done
			done
		fi
		rm -f "$tmp/kgpss.out"
	} | tee -a "$report"
	link_down
done
echo
echo "== sc WAN benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(uname -sr)"
cat "$report"
grep -h "carried" "$tmp/linkemu.log" | sed 's/^/  /'
[ -s "$tmp/helpers.log" ] && { echo "notes (bench/helpers.py):"; sort "$tmp/helpers.log" | uniq -c | head -20; }
exit 0
