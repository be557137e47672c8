#!/bin/bash
# The benchmark of issue 5, on loopback, in one run. The application is
# nginx (1 KiB, 1 MiB, 128 MiB and 1 GiB files; /upload reads and discards
# a request body and answers 204), reached over three paths:
#   direct  the client talks to nginx;
#   ours    sc-server's entry proxy -> KGP -> sc (kgpd, proxyd) -> nginx;
#   peer    ssh -R (aes256-gcm) to a private sshd, carrying tinyproxy.
# For each path it measures:
#   - throughput (bench/helpers.py xfer): 1 GiB download and 256 MiB upload, one stream;
#     8 parallel streams (8 x 128 MiB down, 8 x 32 MiB up), MB/s in total;
#     absolute-form requests through the proxies, and again inside a
#     CONNECT tunnel (as a browser does for HTTPS; direct: the same figure);
#   - wrk -t2, 1 KiB responses, 50 and 500 connections, keep-alive,
#     absolute-form requests through the proxies: requests/s, p50, p99;
#   - new connections/s: bench/connrate.c (epoll, built here with cc),
#     50 at once, a fresh connection per request (CONNECT + one GET);
#   - for the two tunnels, the CPU seconds each side spends on one 1 GiB
#     download inside CONNECT: client side (ours: sc, kgpd, proxyd; the
#     peer: ssh and tinyproxy) and server side (sc-server; sshd);
# and, for ours only:
#   - TLS resigning (issue 16): nginx also serves HTTPS; a second tunnel
#     resigns (the default) while the first passes CONNECT through (-B
#     all, as every CONNECT measure above does).  bench/tlsrate.c (OpenSSL,
#     a thread a connection) measures HTTPS requests/s (1 KiB, 50
#     connections kept alive inside CONNECT); curl a 1 GiB download in
#     one stream; and new connections with a new SNI each (so a new leaf
#     for each: handshake and first byte p50/p99, requests/s when every
#     request is a new host) against one SNI for all; and new hosts as a
#     browser asks for them (tlsrate -a: the CONNECT names a new address,
#     127.0.1.N, where nginx also listens);
#   - N idle CONNECT streams held open (bench/helpers.py, asyncio): RSS of
#     every process of the client (sc, kgpd, proxyd) and of the server
#     (sc-server), before and after, and per stream;
#   - time to ready: from starting sc to its readyfile, median of 10;
#   - the gateway (issue 19): wrk requests/s (1 KiB, 50 connections kept
#     alive, and again with a new connection for each request: the
#     gateway picks a tunnel for each; Proxy-Authorization on each request)
#     and a 1 GiB curl download, one
#     stream, through the gateway (-G, user bench+bench) and through the
#     same tunnel's own entry port, in the same run, and their ratio.
# It prints one table with the absolute figures, the ratios ours/peer and
# ours/direct, and the targets of issue 5, each marked met or not.
# It is not a test: it asserts nothing and exits 0 unless the set-up fails.
#
#   bench/run.sh [--install] [-d seconds] [-r repeat] [-n streams]
#                [--resign-only] [--gateway-only] [--cpu-only] [BUILDDIR]
#
# --install  apt-get install what it needs (Debian 12, root): nginx-light
#            wrk openssh-server openssh-client tinyproxy curl python3 gcc
# -d         seconds of each wrk and connrate run (default 5)
# -r         runs of each measure: the best throughput and the median
#            wrk figures are kept (default 1)
# -n         idle streams (default 10000)
# --resign-only  only the TLS resigning measures (a minute)
# --gateway-only only the gateway against the entry port (half a minute)
# --cpu-only  only ours' CPU seconds per GiB of each side, -r times (one
#            1 GiB download inside CONNECT each; no resigning tunnel, so
#            that an older build can be measured the same way)
# BUILDDIR   meson build directory (default build; set up if missing)
# SC_BENCH_PORT  the first of its loopback ports (default 24300; it uses
#            up to 88 above it)
# SC_BENCH_TLS_CONNS  kept-alive connections of the resigning table's
#            requests/s rows (default "50 200")
# SC_BENCH_APP_TLS  nginx's ssl_protocols (default "TLSv1.2 TLSv1.3")
# Run it as root (sshd). Everything it starts is stopped on exit.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
duration=5
repeat=1
nstreams=10000
install=0
resign_only=0
gateway_only=0
cpu_only=0
while [ $# -gt 0 ]; do
	case $1 in
	--install) install=1; shift ;;
	-d) duration=$2; shift 2 ;;
	-r) repeat=$2; shift 2 ;;
	-n) nstreams=$2; shift 2 ;;
	--resign-only) resign_only=1; shift ;;
	--gateway-only) gateway_only=1; shift ;;
	--cpu-only) cpu_only=1; shift ;;
	-h|--help) sed -n '2,65p' "$0"; exit 0 ;;
	*) break ;;
	esac
done
builddir=${1:-build}

if [ "$install" = 1 ]; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update && apt-get install -y --no-install-recommends \
	    nginx-light wrk openssh-server openssh-client tinyproxy curl \
	    python3 gcc libc6-dev || exit 1
fi
for t in wrk curl python3 cc ssh ssh-keygen; do
	command -v "$t" >/dev/null || { echo "bench: $t is needed (bench/run.sh --install)"; exit 1; }
done
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
sshd_bin=$(command -v sshd || echo /usr/sbin/sshd)
tinyproxy_bin=$(command -v tinyproxy || echo /usr/bin/tinyproxy)
for t in "$nginx_bin" "$sshd_bin" "$tinyproxy_bin"; do
	[ -x "$t" ] || { echo "bench: $t is needed (bench/run.sh --install)"; exit 1; }
done


# every process started here inherits the highest file limit
ulimit -n "$(ulimit -Hn)"

# private loopback ports, from SC_BENCH_PORT (24300) on: another one
# for a second run at the same time
P0=${SC_BENCH_PORT:-24300}
A=127.0.0.1
APP_PORT=$P0
APP_TLS_PORT=$((P0 + 43))
REST=$A:$((P0 + 1))
KGP=$A:$((P0 + 2))
SSH_PORT=$((P0 + 22))
TINY_PORT=$((P0 + 88))
PEER_PORT=$((P0 + 80))
GATEWAY=$A:$((P0 + 81))
APP=$A:$APP_PORT
PEER=$A:$PEER_PORT

tmp=$(mktemp -d /tmp/sc-bench.XXXXXX)
pids=()
trap bench_cleanup EXIT
trap 'exit 1' INT TERM

BENCH_NAME=bench
# shellcheck source=bench/lib.sh
. "$top/bench/lib.sh"
bench_build "$builddir"

cc -O2 -o "$tmp/connrate" "$top/bench/connrate.c" || die "cannot build connrate"
cc -O2 -o "$tmp/tlsrate" "$top/bench/tlsrate.c" -lssl -lcrypto -lpthread \
    $(pkg-config --cflags --libs libbsd-overlay) ||
    die "cannot build tlsrate"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj /CN=bench.test -addext "subjectAltName=IP:$A,DNS:bench.test" \
    -keyout "$tmp/app.key" -out "$tmp/app.crt" >/dev/null 2>&1 ||
    die "cannot make nginx's certificate"

# the application
# nginx gives its temporary directories to its worker's user: a
# directory of their own, not $tmp, above sc-server's state directory
mkdir -p "$tmp/www" "$tmp/nginx"
chmod 755 "$tmp" "$tmp/www"
head -c 1024 /dev/urandom >"$tmp/www/1k"
head -c 1048576 /dev/urandom >"$tmp/www/1m"
truncate -s 128M "$tmp/www/128m"
truncate -s 1G "$tmp/www/1g"
truncate -s 256M "$tmp/up256m"
truncate -s 32M "$tmp/up32m"
# read every file once: the first read of a sparse file fills the page
# cache (about 330 MB/s here), and the path measured first (direct) would
# pay for it alone
cat "$tmp"/www/* "$tmp"/up* >/dev/null
# connections timed for each p50/p99 of the TLS resigning table: a p99
# of 200 was their third worst and moved by milliseconds from run to
# run; the new hosts paced below MINT_RATE (256 a second)
TLS_SAMPLES=1000
# kept-alive HTTPS connections of the requests/s rows: 50, as wrk's, and
# past where passthrough's requests/s stops growing (saturation)
TLS_CONNS=${SC_BENCH_TLS_CONNS:-50 200}
TLS_PACE=200
nginx_conf 30000 "$APP" "	server {
		listen $A:$APP_TLS_PORT ssl backlog=4096;
		# tlsrate -a: a new host each time, as 127.0.1.N, 127.0.2.N ...
$(for i in $(seq 0 $((TLS_SAMPLES - 1))); do printf '\t\tlisten 127.0.%d.%d:%d ssl;\n' $((1 + i / 250)) $((1 + i % 250)) "$APP_TLS_PORT"; done)
		# nginx 1.22 speaks TLS 1.2 only by default; the resigned
		# browser leg is TLS 1.3: the same on both paths
		ssl_protocols ${SC_BENCH_APP_TLS:-TLSv1.2 TLSv1.3};
		ssl_certificate $tmp/app.crt;
		ssl_certificate_key $tmp/app.key;
		root $tmp/www;
	}"
"$nginx_bin" -c "$tmp/nginx.conf" -p "$tmp" 2>>"$tmp/nginx.log" &
pids+=($!)
wait_for 10 curl -sf -o /dev/null "http://$APP/1k" || die "nginx does not answer"

# ours: the tunnel
key=$("$B/server/sc-server" -s "$tmp/state" user add bench) ||
    die "sc-server user add failed"
gwopt=(-G "$GATEWAY")
[ "$cpu_only" = 0 ] || gwopt=()	# an older build may not have -G
"$B/server/sc-server" -d -s "$tmp/state" -R "$REST" -K "$KGP" "${gwopt[@]}" \
    >"$tmp/server.log" 2>&1 &
server_pid=$!
pids+=($server_pid)
wait_for 10 curl -s -o /dev/null "http://$REST/rest/v1/" ||
    die "sc-server did not start"
# the CONNECT measures pass TLS through (-B all); the resigning ones use
# a second tunnel, which resigns as by default
bopt=(-B all)
# an older build (--cpu-only) that passes everything through has no -B
"$B/controller/sc" -h 2>&1 | grep -q -- -B || bopt=()
"$B/controller/sc" -u bench -k "$key" -i bench -x "http://$REST/rest/v1" \
    -f "$tmp/ready" -d "$tmp/sc.pid" --ctl-socket "$tmp/ctl.sock" "${bopt[@]}" \
    >"$tmp/sc.log" 2>&1 &
sc_pid=$!
pids+=($sc_pid)
if [ "$cpu_only" = 0 ]; then
	"$B/controller/sc" -u bench -k "$key" -i bench-resign -x "http://$REST/rest/v1" \
	    -f "$tmp/ready-resign" -d "$tmp/sc-resign.pid" \
	    --ctl-socket "$tmp/ctl-resign.sock" >"$tmp/sc-resign.log" 2>&1 &
	pids+=($!)
fi
wait_for 30 test -e "$tmp/ready" || die "sc did not come up"
[ "$cpu_only" = 1 ] || wait_for 30 test -e "$tmp/ready-resign" ||
    die "the second sc did not come up"
# entry_of NAME: the entry proxy of the tunnel NAME
entry_of() {
	curl -sS -u "bench:$key" "http://$REST/rest/v1/bench/tunnels?full=true" |
	    python3 -c 'import json, sys
print([t for t in json.load(sys.stdin) if t["tunnel_identifier"] == sys.argv[1]][0]["entry_proxy"])' "$1"
}
entry=$(entry_of bench) || die "no entry proxy"
curl -sf -o /dev/null -x "http://$entry" "http://$APP/1k" ||
    die "no answer through the tunnel"
if [ "$cpu_only" = 0 ]; then
	entry_rs=$(entry_of bench-resign) ||
	    die "no entry proxy for the resigning tunnel"
	curl -sf -o /dev/null -k -x "http://$entry_rs" "https://$A:$APP_TLS_PORT/1k" ||
	    die "no answer through resigned TLS"
fi

# TLS resigning (issue 16): passthrough (the first tunnel, -B all) and
# resigned (the second) in the same run.  Sets RS[...].
declare -A RS
TLS_TARGET=$A:$APP_TLS_PORT
bench_resign() {
	local e out v c
	for e in pass resign; do
		case $e in pass) v=$entry ;; resign) v=$entry_rs ;; esac
		echo "bench: TLS $e: requests/s, download ..."
		for c in $TLS_CONNS; do
			out=$("$tmp/tlsrate" "${v%:*}" "${v#*:}" "$TLS_TARGET" /1k "$c" \
			    "$duration" 2>>"$tmp/tlsrate.log")
			RS[rps.$c.$e]=${out% *}
			RS[rpserr.$c.$e]=${out#* }
		done
		# curl: one stream, a connection of its own (bytes/s)
		out=$(curl -sS -k -x "http://$v" -o /dev/null -w '%{speed_download}' \
		    "https://$TLS_TARGET/1g" 2>>"$tmp/tlsrate.log")
		RS[dl.$e]=$(awk -v b="$out" 'BEGIN { if (b > 0) printf "%.0f", b / 1e6; else print "-" }')
		# one SNI for all: the leaf is minted once
		out=$("$tmp/tlsrate" -k "${v%:*}" "${v#*:}" "$TLS_TARGET" /1k 1 "$TLS_SAMPLES" \
		    2>>"$tmp/tlsrate.log")
		read -r _ _ RS[khs50.$e] RS[khs99.$e] RS[kfb50.$e] RS[kfb99.$e] \
		    RS[kco50.$e] RS[kco99.$e] RS[ktls50.$e] RS[ktls99.$e] <<<"$out"
	done
	echo "bench: TLS resign: new hosts ..."
	# a new SNI for each, one at a time (paced below MINT_RATE): the
	# leaf's cost alone
	out=$(TLSRATE_PACE=$TLS_PACE "$tmp/tlsrate" -n "${entry_rs%:*}" "${entry_rs#*:}" "$TLS_TARGET" /1k 1 "$TLS_SAMPLES" \
	    2>>"$tmp/tlsrate.log")
	read -r _ _ RS[nhs50] RS[nhs99] RS[nfb50] RS[nfb99] _ <<<"$out"
	# as a browser asks for a new host: the CONNECT names it (an address
	# never used, 127.0.1.N), no SNI, the Host field the same, so that
	# the leaf is asked for at the CONNECT and the stream's warm-up is
	# for the app the request goes to
	sleep 1	# the mint bucket fills again (MINT_BURST)
	out=$(TLSRATE_PACE=$TLS_PACE "$tmp/tlsrate" -a "${entry_rs%:*}" "${entry_rs#*:}" "$TLS_TARGET" /1k 1 "$TLS_SAMPLES" \
	    2>>"$tmp/tlsrate.log")
	read -r _ _ RS[ahs50] RS[ahs99] RS[afb50] RS[afb99] RS[aco50] RS[aco99] \
	    RS[atls50] RS[atls99] <<<"$out"
	# every request a new host, 8 at once, past the burst: the rate limit
	sleep 2	# the mint bucket fills again (MINT_BURST)
	out=$("$tmp/tlsrate" -n "${entry_rs%:*}" "${entry_rs#*:}" "$TLS_TARGET" /1k 8 2000 \
	    2>>"$tmp/tlsrate.log")
	read -r RS[nrps] RS[nerr] _ _ _ _ <<<"$out"
	out=$("$tmp/tlsrate" -k "${entry_rs%:*}" "${entry_rs#*:}" "$TLS_TARGET" /1k 8 2000 \
	    2>>"$tmp/tlsrate.log")
	read -r RS[krps] RS[kerr] _ _ _ _ <<<"$out"
}
print_resign() {
	local rr rd c
	rd=$(awk -v a="${RS[dl.resign]}" -v b="${RS[dl.pass]}" 'BEGIN {
	    if (a ~ /^[0-9.]+$/ && b > 0) printf "%.2f", a / b; else print "-" }')
	echo
	echo "TLS resigning (issue 16): HTTPS to nginx inside CONNECT, passed through (-B all) or resigned, same run"
	printf '%-44s %11s %11s | %s\n' "measure" "passthrough" "resigned" "resigned/passthrough (target)"
	for c in $TLS_CONNS; do
		rr=$(awk -v a="${RS[rps.$c.resign]}" -v b="${RS[rps.$c.pass]}" 'BEGIN {
		    if (a ~ /^[0-9.]+$/ && b > 0) printf "%.2f", a / b; else print "-" }')
		printf '%-44s %11s %11s | %s\n' "HTTPS 1 KiB, $c conns kept alive, req/s" \
		    "${RS[rps.$c.pass]}" "${RS[rps.$c.resign]}" \
		    "$rr (>=0.7: $(awk -v v="$rr" 'BEGIN { if (v !~ /^[0-9.]+$/) print "n/a"; else print (v >= 0.7 ? "met" : "NOT met") }'))"
	done
	printf '%-44s %11s %11s | %s\n' "HTTPS download 1 GiB, 1 stream, MB/s" \
	    "${RS[dl.pass]}" "${RS[dl.resign]}" \
	    "$rd (>=0.7: $(awk -v v="$rd" 'BEGIN { if (v !~ /^[0-9.]+$/) print "n/a"; else print (v >= 0.7 ? "met" : "NOT met") }'))"
	printf '%-44s %11s %11s\n' "one host: CONNECT to handshake p50/p99 ms" \
	    "${RS[khs50.pass]}/${RS[khs99.pass]}" "${RS[khs50.resign]}/${RS[khs99.resign]}"
	printf '%-44s %11s %11s\n' "one host: CONNECT to first byte p50/p99 ms" \
	    "${RS[kfb50.pass]}/${RS[kfb99.pass]}" "${RS[kfb50.resign]}/${RS[kfb99.resign]}"
	printf '%-44s %11s %11s\n' "new host (a leaf minted): handshake p50/p99" "-" \
	    "${RS[nhs50]}/${RS[nhs99]}"
	printf '%-44s %11s %11s | p99 <= 5 ms: %s\n' "new host: CONNECT to first byte p50/p99 ms" "-" \
	    "${RS[nfb50]}/${RS[nfb99]}" \
	    "$(awk -v v="${RS[nfb99]:-}" 'BEGIN { if (v !~ /^[0-9.]+$/) print "n/a"; else print (v <= 5 ? "met" : "NOT met") }')"
	printf '%-44s %11s %11s | p99 <= 5 ms: %s\n' "new host, CONNECT names it: first byte" "-" \
	    "${RS[afb50]}/${RS[afb99]}" \
	    "$(awk -v v="${RS[afb99]:-}" 'BEGIN { if (v !~ /^[0-9.]+$/) print "n/a"; else print (v <= 5 ? "met" : "NOT met") }')"
	printf '%-44s %11s %11s\n' "  its CONNECT answered p50/p99 ms" "-" \
	    "${RS[aco50]}/${RS[aco99]}"
	printf '%-44s %11s %11s\n' "  its handshake (from the answer) p50/p99" "-" \
	    "${RS[atls50]}/${RS[atls99]}"
	printf '%-44s %11s %11s\n' "one host: CONNECT answered p50/p99 ms" \
	    "${RS[kco50.pass]}/${RS[kco99.pass]}" "${RS[kco50.resign]}/${RS[kco99.resign]}"
	printf '%-44s %11s %11s   (%s refused: MINT_RATE, MINT_BURST)\n' \
	    "every request a new host, 8 at once, req/s" "-" "${RS[nrps]}" "${RS[nerr]}"
	printf '%-44s %11s %11s   (%s failed)\n' \
	    "every request a new connection, one host" "-" "${RS[krps]}" "${RS[kerr]}"
	printf '(minting: new-host handshake minus one-host handshake, p50 %s ms)\n' \
	    "$(awk -v n="${RS[nhs50]:-}" -v k="${RS[khs50.resign]:-}" 'BEGIN {
	    if (n ~ /^[0-9.]+$/ && k ~ /^[0-9.]+$/) printf "%.2f", n - k; else print "-" }')"
	for c in $TLS_CONNS; do
		[ "${RS[rpserr.$c.pass]:-0}${RS[rpserr.$c.resign]:-0}" = 00 ] ||
		    echo "note: tlsrate $c conns errors: passthrough ${RS[rpserr.$c.pass]}, resigned ${RS[rpserr.$c.resign]}"
	done
}
# The gateway (issue 19) against the tunnel's own entry port, same run:
# wrk (absolute-form, 1 KiB, 50 connections kept alive) and a 1 GiB
# download with curl, the best of -r runs each.  Sets GW[...].
declare -A GW
bench_gateway() {
	local e v i
	printf 'wrk.path = "http://%s/1k"\nwrk.headers["Host"] = "%s"\nwrk.headers["Proxy-Authorization"] = "Basic %s"\n' \
	    "$APP" "$APP" "$(printf 'bench+bench:%s' "$key" | base64 -w0)" \
	    >"$tmp/gw.lua"
	# a new connection for each request: the gateway picks the tunnel
	# each time (its answer kept, GATEWAY_CACHE_SEC)
	{ cat "$tmp/gw.lua"; echo 'wrk.headers["Connection"] = "close"'; } \
	    >"$tmp/gw-close.lua"
	curl -sf -o /dev/null -x "http://$GATEWAY" -U "bench+bench:$key" \
	    "http://$APP/1k" || die "no answer through the gateway"
	# the two in turn, so that what else the machine does weighs on both
	GW[rps.entry]=0 GW[rps.gateway]=0 GW[dl.entry]=0 GW[dl.gateway]=0
	GW[new.entry]=0 GW[new.gateway]=0
	for i in $(seq 1 "$repeat"); do
		for e in entry gateway; do
			case $e in entry) v=$entry ;; gateway) v=$GATEWAY ;; esac
			echo "bench: $e: wrk and a 1 GiB download (run $i) ..."
			bench_three GW "$e" "$v" "$tmp/gw.lua" \
			    "$tmp/gw-close.lua" "$tmp/wrk-gw.out" \
			    -U "bench+bench:$key"
		done
	done
}
print_gateway() {
	echo
	echo "The gateway (issue 19): the same tunnel through its own entry port and through -G, same run"
	three_table "entry port" gateway gateway/entry 0.95 GW entry gateway
}
if [ "$gateway_only" = 1 ]; then
	bench_gateway
	echo
	echo "== sc benchmark (--gateway-only), $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(uname -sr)"
	print_gateway
	exit 0
fi

# CPU seconds per GiB of each side of a tunnel for one 1 GiB download
# inside CONNECT: cpu_per_gib PATH "CLIENT PIDS" "SERVER PIDS"; sets
# R[cpuc.PATH] and R[cpus.PATH].  On two hosts, each side's cost per
# byte is what bounds its throughput.
cpu_per_gib() {
	local path=$1 cli=$2 srv=$3 c0 s0 c1 s1
	# shellcheck disable=SC2086 # the lists are pids
	c0=$(cpu_tree $cli) s0=$(cpu_tree $srv)
	python3 "$top/bench/helpers.py" xfer down "${tunnel[$path]}" "$APP" \
	    /1g 1 $((1024 * MiB)) >/dev/null 2>>"$tmp/xfer.log"
	# shellcheck disable=SC2086
	c1=$(cpu_tree $cli) s1=$(cpu_tree $srv)
	R[cpuc.$path]=$(awk -v t=$((c1 - c0)) -v hz="$hz" 'BEGIN { printf "%.2f", t / hz }')
	R[cpus.$path]=$(awk -v t=$((s1 - s0)) -v hz="$hz" 'BEGIN { printf "%.2f", t / hz }')
}

if [ "$cpu_only" = 1 ]; then
	declare -A tunnel=([ours]=tunnel:$entry) R
	MiB=1048576 cc=() cs=()
	for i in $(seq 1 "$repeat"); do
		echo "bench: CPU per GiB, run $i ..."
		cpu_per_gib ours "$sc_pid" "$server_pid"
		cc+=("${R[cpuc.ours]}") cs+=("${R[cpus.ours]}")
	done
	echo
	echo "== sc benchmark (--cpu-only), $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(uname -sr), load $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "CPU s per GiB down inside CONNECT, client side (sc, kgpd, proxyd): ${cc[*]}"
	echo "CPU s per GiB down inside CONNECT, server side (sc-server):        ${cs[*]}"
	exit 0
fi

if [ "$resign_only" = 1 ]; then
	bench_resign
	echo
	echo "== sc benchmark (--resign-only), $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(uname -sr)"
	print_resign
	exit 0
fi

# the peer: tinyproxy behind ssh -R to a private sshd
peer_conf "$A" "$TINY_PORT" "$A" "$SSH_PORT"
"$tinyproxy_bin" -d -c "$tmp/tinyproxy.conf" >>"$tmp/tinyproxy.log" 2>&1 &
tiny_pid=$!
pids+=($tiny_pid)
"$sshd_bin" -f "$tmp/sshd_config" -D -e >"$tmp/sshd.log" 2>&1 &
sshd_pid=$!
pids+=($sshd_pid)
wait_for 10 bash -c "exec 3<>/dev/tcp/$A/$SSH_PORT" || die "sshd did not start"
wait_for 10 bash -c "exec 3<>/dev/tcp/$A/$TINY_PORT" || die "tinyproxy did not start"
ssh "${PEER_SSH_OPTS[@]}" -R "$PEER_PORT:$A:$TINY_PORT" -i "$tmp/user_key" -p "$SSH_PORT" root@$A >"$tmp/ssh.log" 2>&1 &
ssh_pid=$!
pids+=($ssh_pid)
wait_for 15 curl -sf -o /dev/null -x "http://$PEER" "http://$APP/1k" ||
    die "no answer through ssh -R and tinyproxy"

echo "bench: nginx on $APP; ours: entry $entry; peer: ssh -R $PEER -> tinyproxy $A:$TINY_PORT"

paths=(direct ours peer)
declare -A proxy=([direct]="" [ours]=$entry [peer]=$PEER)
declare -A tunnel=([direct]="" [ours]=tunnel:$entry [peer]=tunnel:$PEER)
declare -A R	# R[measure.path] = figure

# MB/s of N parallel streams (N=1: one stream), best of $repeat, with
# bench/helpers.py (1 MiB reads, sendfile for uploads; a fresh connection
# each): throughput PATH N down|up FILE SIZE [VIA], VIA a proxy spec
# (default: absolute-form requests to the path's proxy)
throughput() {
	local path=$1 n=$2 dir=$3 file=$4 size=$5 via=${6:-${proxy[$1]}}
	local best=0 i out
	for i in $(seq 1 "$repeat"); do
		if [ "$dir" = down ]; then
			out=$(python3 "$top/bench/helpers.py" xfer down \
			    "${via:--}" "$APP" "/$file" "$n" "$size" 2>>"$tmp/xfer.log")
		else
			out=$(python3 "$top/bench/helpers.py" xfer up \
			    "${via:--}" "$APP" /upload "$n" "$size" \
			    "$tmp/$file" 2>>"$tmp/xfer.log")
		fi
		[ "$out" = - ] || [ -z "$out" ] && { echo "-"; return; }
		best=$(( out > best ? out : best ))
	done
	echo "$best"
}

cat >"$tmp/proxy.lua" <<EOF
-- absolute-form requests: wrk talks to a proxy
wrk.path = "http://$APP/1k"
wrk.headers["Host"] = "$APP"
EOF

# to milliseconds: 850.00us, 1.20ms, 2.00s
to_ms() {
	awk -v v="$1" 'BEGIN {
		if (v ~ /us$/) printf "%.3f", v / 1000;
		else if (v ~ /ms$/) printf "%.3f", v + 0;
		else if (v ~ /s$/) printf "%.3f", v * 1000;
		else print "-" }'
}

# median of the numbers on stdin ("-" if none)
median() {
	sort -n | awk 'NF { v[++n] = $1 } END { if (n == 0) print "-";
	else if (n % 2) print v[(n + 1) / 2];
	else printf "%.3f", (v[n / 2] + v[n / 2 + 1]) / 2 }'
}

# wrk PATH CONNS: sets R[rps.C.PATH], R[p50.C.PATH], R[p99.C.PATH], each
# the median of $repeat runs (a p99 of one run swings by milliseconds on
# a loaded 2-core machine)
bench_wrk() {
	local path=$1 c=$2 out i rps="" p50="" p99="" v
	R[err.$c.$path]=
	for i in $(seq 1 "$repeat"); do
		if [ "$path" = direct ]; then
			out=$(wrk -t2 -c"$c" -d"${duration}s" --latency "http://$APP/1k" 2>&1)
		else
			out=$(wrk -t2 -c"$c" -d"${duration}s" --latency -s "$tmp/proxy.lua" \
			    "http://${proxy[$path]}/" 2>&1)
		fi
		{ echo "== wrk $path c$c run $i"; echo "$out"; } >>"$tmp/wrk.out"
		v=$(echo "$out" | awk '/^Requests\/sec:/ { printf "%.0f", $2 }')
		[ -n "$v" ] && rps="$rps $v"
		v=$(to_ms "$(echo "$out" | awk '$1 == "50%" { print $2 }')")
		[ "$v" != - ] && p50="$p50 $v"
		v=$(to_ms "$(echo "$out" | awk '$1 == "99%" { print $2 }')")
		[ "$v" != - ] && p99="$p99 $v"
		R[err.$c.$path]+=$(echo "$out" | awk '/Non-2xx|Socket errors/ { printf "%s; ", $0 }')
	done
	R[rps.$c.$path]=$(printf '%s\n' $rps | median)
	R[p50.$c.$path]=$(printf '%s\n' $p50 | median)
	R[p99.$c.$path]=$(printf '%s\n' $p99 | median)
	case ${R[rps.$c.$path]} in
	*.*) R[rps.$c.$path]=$(printf '%.0f' "${R[rps.$c.$path]}") ;;
	esac
}

bench_connrate() {
	local path=$1 out
	if [ "$path" = direct ]; then
		out=$("$tmp/connrate" "$A" "$APP_PORT" - /1k 50 "$duration")
	else
		out=$("$tmp/connrate" "${proxy[$path]%:*}" "${proxy[$path]#*:}" \
		    "$APP" /1k 50 "$duration")
	fi
	R[conn.$path]=${out% *}
	R[connerr.$path]=${out#* }
	[ -n "${R[conn.$path]}" ] || R[conn.$path]=-
	sleep 1	# let TIME_WAIT ports settle a little
}


MiB=1048576
for p in "${paths[@]}"; do
	echo "bench: $p: throughput ..."
	R[dl1.$p]=$(throughput "$p" 1 down 1g $((1024 * MiB)))
	R[dl8.$p]=$(throughput "$p" 8 down 128m $((128 * MiB)))
	R[ul1.$p]=$(throughput "$p" 1 up up256m $((256 * MiB)))
	R[ul8.$p]=$(throughput "$p" 8 up up32m $((32 * MiB)))
	if [ "$p" = direct ]; then
		R[cdl1.$p]=${R[dl1.$p]}
		R[cdl8.$p]=${R[dl8.$p]}
		R[cul1.$p]=${R[ul1.$p]}
	else
		R[cdl1.$p]=$(throughput "$p" 1 down 1g $((1024 * MiB)) "${tunnel[$p]}")
		R[cdl8.$p]=$(throughput "$p" 8 down 128m $((128 * MiB)) "${tunnel[$p]}")
		R[cul1.$p]=$(throughput "$p" 1 up up256m $((256 * MiB)) "${tunnel[$p]}")
	fi
	case $p in
	ours) cpu_per_gib ours "$sc_pid" "$server_pid" ;;
	peer) cpu_per_gib peer "$ssh_pid $tiny_pid" "$sshd_pid" ;;
	esac
	echo "bench: $p: wrk, ${duration}s each ..."
	bench_wrk "$p" 50
	bench_wrk "$p" 500
	echo "bench: $p: new connections/s ..."
	bench_connrate "$p"
done

# RSS in KiB of a process and all its descendants
rss_tree() {
	local total=0 p
	for p in $(pids_tree "$1"); do
		total=$((total + $(awk '/^VmRSS:/ { v = $2 } END { print v + 0 }' \
		    "/proc/$p/status" 2>/dev/null || echo 0)))
	done
	echo "$total"
}
procs_tree() {
	local p
	for p in $(pids_tree "$1"); do
		printf '%s ' "$(cat /proc/"$p"/comm 2>/dev/null)"
	done
}

bench_resign
bench_gateway

echo "bench: ours: $nstreams idle CONNECT streams ..."
client_procs=$(procs_tree "$sc_pid")
server_procs=$(procs_tree "$server_pid")
# the daemons give freed heap back every 10 s (proc_trim_start): let the
# throughput runs' buffers go before "before"
sleep 11
cli0=$(rss_tree "$sc_pid")
srv0=$(rss_tree "$server_pid")
mkfifo "$tmp/idle.in"
python3 "$top/bench/helpers.py" idle "${entry%:*}" "${entry#*:}" "$APP" \
    "$nstreams" <"$tmp/idle.in" >"$tmp/idle.out" 2>"$tmp/idle.log" &
idle_pid=$!
pids+=($idle_pid)
exec 7>"$tmp/idle.in"
wait_for 240 grep -q '^open' "$tmp/idle.out"
sleep 2
# right after the opening burst, and once the streams are only held
cli_peak=$(rss_tree "$sc_pid")
srv_peak=$(rss_tree "$server_pid")
sleep 10
cli1=$(rss_tree "$sc_pid")
srv1=$(rss_tree "$server_pid")
read -r _ idle_ok idle_failed <"$tmp/idle.out" || { idle_ok=0; idle_failed=$nstreams; }
echo >&7
exec 7>&-
wait "$idle_pid" 2>/dev/null

echo "bench: ours: time to ready, 10 starts of sc ..."
python3 "$top/bench/helpers.py" ready 10 "$tmp/ready2" -- \
    "$B/controller/sc" -u bench -k "$key" -i bench-ready \
    -x "http://$REST/rest/v1" -f "$tmp/ready2" -d "$tmp/sc2.pid" \
    --ctl-socket "$tmp/ctl2.sock" >"$tmp/ready.out" 2>"$tmp/ready.log"
ready_ms=$(grep -v fail "$tmp/ready.out" | median)
ready_fail=$(grep -c fail "$tmp/ready.out")

# the table
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN {
		if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b > 0) printf "%.2f", a / b;
		else print "-" }'
}
# verdict VALUE OP LIMIT
verdict() {
	awk -v v="$1" -v op="$2" -v l="$3" 'BEGIN {
		if (v !~ /^-?[0-9.]+$/) { print "n/a"; exit }
		ok = (op == ">=") ? (v + 0 >= l + 0) : (v + 0 <= l + 0);
		print ok ? "met" : "NOT met" }'
}
line() {
	printf '%-34s %9s %9s %9s | %-22s | %-22s\n' "$@"
}
# row LABEL KEY [PEER_TARGET DIRECT_TARGET]
row() {
	local label=$1 k=$2 tp=${3:-} td=${4:-} d o p rp rd cp cd
	d=${R[$k.direct]:--}
	o=${R[$k.ours]:--}
	p=${R[$k.peer]:--}
	rp=$(ratio "$o" "$p")
	rd=$(ratio "$o" "$d")
	cp=$rp
	cd=$rd
	[ -n "$tp" ] && cp="$rp (>=$tp: $(verdict "$rp" '>=' "$tp"))"
	[ -n "$td" ] && cd="$rd (>=$td: $(verdict "$rd" '>=' "$td"))"
	line "$label" "$d" "$o" "$p" "$cp" "$cd"
}

R[p99d.direct]=0
R[p99d.ours]=$(awk -v o="${R[p99.50.ours]}" -v d="${R[p99.50.direct]}" \
    'BEGIN { if (o ~ /^[0-9.]+$/ && d ~ /^[0-9.]+$/) printf "%.3f", o - d; else print "-" }')
R[p99d.peer]=$(awk -v o="${R[p99.50.peer]}" -v d="${R[p99.50.direct]}" \
    'BEGIN { if (o ~ /^[0-9.]+$/ && d ~ /^[0-9.]+$/) printf "%.3f", o - d; else print "-" }')
kib2mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
per_stream() {
	awk -v a="$1" -v b="$2" -v n="$3" 'BEGIN {
		if (n > 0) printf "%.2f", (b - a) / n; else print "-" }'
}

echo
echo "== sc benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(uname -sr)"
line "measure" "direct" "ours" "peer" "ours/peer (target)" "ours/direct (target)"
line "----------------------------------" "---------" "---------" "---------" \
    "----------------------" "----------------------"
row "download 1 GiB, 1 stream, MB/s" dl1 4 0.35
row "download 8x128 MiB, 8 streams, MB/s" dl8 4 0.35
row "upload 256 MiB, 1 stream, MB/s" ul1 4 0.35
row "upload 8x32 MiB, 8 streams, MB/s" ul8 4 0.35
row "CONNECT: download 1 GiB, MB/s" cdl1 4 0.35
row "CONNECT: download 8x128 MiB, MB/s" cdl8 4 0.35
row "CONNECT: upload 256 MiB, MB/s" cul1 4 0.35
row "wrk 1 KiB, 50 conns, req/s" rps.50 5 0.4
row "wrk 1 KiB, 500 conns, req/s" rps.500 5 0.4
row "wrk 50 conns, p50 ms" p50.50
row "wrk 50 conns, p99 ms" p99.50
row "wrk 500 conns, p50 ms" p50.500
row "wrk 500 conns, p99 ms" p99.500
row "new connections/s (CONNECT+GET)" conn
row "CPU s per GiB down, client side" cpuc
row "CPU s per GiB down, server side" cpus
printf '%-34s %9s %9s %9s | %s\n' "added p99 at 50 conns, ms" "-" \
    "${R[p99d.ours]}" "${R[p99d.peer]}" \
    "ours <= 1 ms: $(verdict "${R[p99d.ours]}" '<=' 1)"
echo
echo "ours, $idle_ok idle CONNECT streams held ($idle_failed failed):"
echo "  (RSS before the streams, 12 s after they are all open, and just after the opening burst)"
printf '  client (%s): %s MiB before, %s MiB held (%s MiB at open), %s KiB/stream  (<= 64 MiB: %s)\n' \
    "$(echo $client_procs)" "$(kib2mib "$cli0")" "$(kib2mib "$cli1")" "$(kib2mib "$cli_peak")" \
    "$(per_stream "$cli0" "$cli1" "$idle_ok")" \
    "$(verdict "$(kib2mib "$cli1")" '<=' 64)"
printf '  server (%s): %s MiB before, %s MiB held (%s MiB at open), %s KiB/stream  (<= 128 MiB: %s)\n' \
    "$(echo $server_procs)" "$(kib2mib "$srv0")" "$(kib2mib "$srv1")" "$(kib2mib "$srv_peak")" \
    "$(per_stream "$srv0" "$srv1" "$idle_ok")" \
    "$(verdict "$(kib2mib "$srv1")" '<=' 128)"
[ "$idle_ok" = "$nstreams" ] || echo "  (fewer than $nstreams streams: the RSS target is not met)"
printf 'ours, time to ready (sc start -> readyfile), median of 10: %s ms (%s failed)  (<= 200 ms: %s)\n' \
    "$ready_ms" "$ready_fail" "$(verdict "$ready_ms" '<=' 200)"
print_resign
print_gateway
echo
for k in 50 500; do
	for p in "${paths[@]}"; do
		[ -n "${R[err.$k.$p]:-}" ] && echo "note: wrk $p $k conns: ${R[err.$k.$p]}"
	done
done
for p in ours peer; do
	[ "${R[connerr.$p]:-0}" != 0 ] && echo "note: new connections $p: ${R[connerr.$p]} failed"
done
[ "${R[connerr.direct]:-0}" != 0 ] && echo "note: new connections direct: ${R[connerr.direct]} failed"
echo "load generators: bench/helpers.py xfer (throughput), wrk -t2 (req/s), bench/connrate.c (new connections),"
echo "bench/tlsrate.c and curl (resigned TLS),"
echo "bench/helpers.py (idle streams, ready). The peer: OpenSSH $(ssh -V 2>&1 | awk '{ print $1 }' | tr -d ,), tinyproxy."
exit 0
