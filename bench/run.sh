#!/bin/bash
# A first benchmark, on loopback, in one run: the same application measured
# directly and through the tunnel (sc-server's entry proxy -> KGP -> kgpd
# -> proxyd -> app):
#   - a 1 GiB download with curl (MB/s, best of --repeat runs);
#   - wrk, 1 KiB responses, 50 connections, keep-alive (requests/s).
# It prints a table with both figures and the tunnel/direct ratio.
# Not part of meson test; numbers depend on the machine.
#
#   bench/run.sh [--install] [-d seconds] [-r repeat] [BUILDDIR]
#
# --install  apt-get install wrk and nginx (Debian 12, root)
# The application is nginx when it is installed (static files, sendfile),
# otherwise tests/e2e/app.py (Python: the direct figures then measure
# Python more than anything else).
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
duration=10
repeat=2
install=0
while [ $# -gt 0 ]; do
	case $1 in
	--install) install=1; shift ;;
	-d) duration=$2; shift 2 ;;
	-r) repeat=$2; shift 2 ;;
	-h|--help) sed -n '2,17p' "$0"; exit 0 ;;
	*) break ;;
	esac
done
builddir=${1:-build}

if [ "$install" = 1 ]; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update && apt-get install -y --no-install-recommends \
	    wrk nginx-light curl python3 || exit 1
fi
command -v wrk >/dev/null || { echo "bench: wrk is needed (apt-get install wrk)"; exit 1; }

cd "$top" || exit 1
[ -f "$builddir/build.ninja" ] || meson setup "$builddir" -Dbuildtype=release || exit 1
ninja -C "$builddir" >/dev/null || exit 1
case $builddir in /*) B=$builddir ;; *) B=$top/$builddir ;; esac

REST=127.0.0.1:14400
KGP=127.0.0.1:14443
APP=127.0.0.1:18000
tmp=$(mktemp -d /tmp/sc-bench.XXXXXX)
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

die() {
	echo "bench: $*" >&2
	for f in "$tmp"/*.log; do
		[ -f "$f" ] && { echo "--- $f"; tail -n 20 "$f"; }
	done
	exit 1
}

wait_for() {
	local i=0 limit=$(( $1 * 10 ))
	shift
	until "$@" >/dev/null 2>&1; do
		i=$((i + 1))
		[ "$i" -le "$limit" ] || return 1
		sleep 0.1
	done
}

# the application
mkdir -p "$tmp/www"
chmod 755 "$tmp" "$tmp/www"
head -c 1024 /dev/urandom >"$tmp/www/1k"
truncate -s 1G "$tmp/www/1g"
nginx_bin=$(command -v nginx || ls /usr/sbin/nginx 2>/dev/null || true)
if [ -n "$nginx_bin" ]; then
	app_kind=nginx
	cat >"$tmp/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $tmp/nginx.pid;
error_log $tmp/nginx.log;
events { worker_connections 1024; }
http {
	access_log off;
	sendfile on;
	keepalive_requests 1000000;
	default_type application/octet-stream;
	client_body_temp_path $tmp;
	proxy_temp_path $tmp;
	fastcgi_temp_path $tmp;
	uwsgi_temp_path $tmp;
	scgi_temp_path $tmp;
	server {
		listen $APP;
		root $tmp/www;
	}
}
EOF
	"$nginx_bin" -c "$tmp/nginx.conf" -p "$tmp" 2>>"$tmp/nginx.log" &
	pids+=($!)
	path_1k=/1k
	path_1g=/1g
else
	app_kind="python (tests/e2e/app.py)"
	python3 "$top/tests/e2e/app.py" serve --addr "${APP%:*}" \
	    --http-port "${APP#*:}" >"$tmp/app.log" 2>&1 &
	pids+=($!)
	path_1k=/bytes/1024
	path_1g=/bytes/1073741824
fi
wait_for 10 curl -sf -o /dev/null "http://$APP$path_1k" ||
    die "the application ($app_kind) does not answer"

# the tunnel
key=$("$B/server/sc-server" -s "$tmp/state" user add bench) ||
    die "sc-server user add failed"
"$B/server/sc-server" -d -s "$tmp/state" -R "$REST" -K "$KGP" \
    >"$tmp/server.log" 2>&1 &
pids+=($!)
wait_for 10 curl -s -o /dev/null "http://$REST/rest/v1/" ||
    die "sc-server did not start"
"$B/controller/sc" -u bench -k "$key" -i bench -x "http://$REST/rest/v1" \
    -f "$tmp/ready" -d "$tmp/sc.pid" --ctl-socket "$tmp/ctl.sock" \
    >"$tmp/sc.log" 2>&1 &
pids+=($!)
wait_for 30 test -e "$tmp/ready" || die "sc did not come up"
entry=$(curl -sS -u "bench:$key" "http://$REST/rest/v1/bench/tunnels?full=true" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["entry_proxy"])') ||
    die "no entry proxy"
curl -sf -o /dev/null -x "http://$entry" "http://$APP$path_1k" ||
    die "no answer through the tunnel"

# download MB/s, best of $repeat
download() {
	local best=0 i out size speed
	for i in $(seq 1 "$repeat"); do
		out=$(curl -sS --max-time 300 -o /dev/null \
		    -w '%{size_download} %{speed_download}' "$@" \
		    "http://$APP$path_1g") || return 1
		size=${out% *}
		speed=${out#* }
		[ "$size" = 1073741824 ] || return 1
		best=$(awk -v a="$best" -v b="$speed" \
		    'BEGIN { print (b > a) ? b : a }')
	done
	awk -v s="$best" 'BEGIN { printf "%.1f", s / 1e6 }'
}

cat >"$tmp/proxy.lua" <<EOF
-- send absolute-form requests: wrk talks to the entry proxy
wrk.path = "http://$APP$path_1k"
wrk.headers["Host"] = "$APP"
EOF

# requests/s of wrk, 50 connections, keep-alive
rps() {
	local out
	out=$(wrk -t2 -c50 -d"${duration}s" "$@" 2>&1) || return 1
	echo "$out" >>"$tmp/wrk.out"
	if echo "$out" | grep -q 'Non-2xx'; then
		echo "bench: wrk saw errors:" >&2
		echo "$out" >&2
		return 1
	fi
	echo "$out" | awk '/^Requests\/sec:/ { printf "%.0f", $2 }'
}

echo "bench: application $app_kind on $APP, tunnel entry $entry"
echo "bench: 1 GiB download, best of $repeat ..."
dl_direct=$(download) || die "direct download failed"
dl_tunnel=$(download -x "http://$entry") || die "download through the tunnel failed"
echo "bench: wrk -t2 -c50 -d${duration}s, 1 KiB responses ..."
rq_direct=$(rps "http://$APP$path_1k") || die "wrk direct failed"
rq_tunnel=$(rps -s "$tmp/proxy.lua" "http://$entry/") ||
    die "wrk through the tunnel failed"

ratio() {
	awk -v t="$1" -v d="$2" 'BEGIN { if (d > 0) printf "%.2f", t / d; else print "-" }'
}

echo
printf '%-36s %12s %12s %14s\n' "measure" "direct" "tunnel" "tunnel/direct"
printf '%-36s %12s %12s %14s\n' "1 GiB download, MB/s" \
    "$dl_direct" "$dl_tunnel" "$(ratio "$dl_tunnel" "$dl_direct")"
printf '%-36s %12s %12s %14s\n' "1 KiB GET, 50 conns keep-alive, req/s" \
    "$rq_direct" "$rq_tunnel" "$(ratio "$rq_tunnel" "$rq_direct")"
echo
echo "application: $app_kind; machine: $(nproc) cores, $(uname -sr)"
