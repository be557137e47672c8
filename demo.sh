#!/bin/bash
# The whole system on loopback, in one go: build, start sc-server, an
# application and sc, fetch a page through the tunnel with curl -x, show
# `sc-ctl status`, then stop everything.
#
#   ./demo.sh [--install] [BUILDDIR]
#
# --install   apt-get the packages of tests/packages.txt first (Debian 12, root)
# BUILDDIR    default: build
# Uses 127.0.0.1 ports 4400 (REST), 4443 (KGP) and 8000 (the application).
set -uo pipefail

top=$(cd "$(dirname "$0")" && pwd)
if [ "${1:-}" = --install ]; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update || exit 1
	# shellcheck disable=SC2046
	apt-get install -y --no-install-recommends \
	    $(sed 's/#.*//' "$top/tests/packages.txt") || exit 1
	shift
fi
builddir=${1:-build}
cd "$top" || exit 1
[ -f "$builddir/build.ninja" ] || meson setup "$builddir" || exit 1
ninja -C "$builddir" || exit 1
case $builddir in /*) B=$builddir ;; *) B=$top/$builddir ;; esac
# started as root, sc switches to the unprivileged user _sc (see sc(8))
if [ "$(id -u)" = 0 ] && ! getent passwd _sc >/dev/null; then
	useradd -r -d /var/empty -s /usr/sbin/nologin _sc || exit 1
fi

tmp=$(mktemp -d /tmp/sc-demo.XXXXXX)
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

step() {
	printf '\n\033[1m==> %s\033[0m\n' "$*"
}

die() {
	echo "demo: $*" >&2
	for f in "$tmp"/*.log; do
		[ -f "$f" ] && { echo "--- $f"; tail -n 20 "$f"; }
	done
	exit 1
}

# wait_for SECONDS COMMAND...
wait_for() {
	local i=0
	local limit=$(( $1 * 10 ))
	shift
	until "$@" >/dev/null 2>&1; do
		i=$((i + 1))
		[ "$i" -le "$limit" ] || return 1
		sleep 0.1
	done
}

step "an account: sc-server -s $tmp/state user add demo"
key=$("$B/server/sc-server" -s "$tmp/state" user add demo) ||
    die "user add failed"
echo "access key: $key"

step "the tunnel server: sc-server -d -s $tmp/state"
"$B/server/sc-server" -d -s "$tmp/state" >"$tmp/server.log" 2>&1 &
pids+=($!)
wait_for 10 curl -s -o /dev/null http://127.0.0.1:4400/rest/v1/ ||
    die "sc-server did not start"
cat "$tmp/server.log"

step "the application (behind the firewall): http://127.0.0.1:8000/"
python3 "$top/tests/e2e/app.py" serve --addr 127.0.0.1 --http-port 8000 \
    --ready "$tmp/app.ready" >"$tmp/app.log" 2>&1 &
pids+=($!)
wait_for 10 test -f "$tmp/app.ready" || die "the application did not start"

step "the client: sc -u demo -k KEY -i demo -x http://127.0.0.1:4400/rest/v1"
"$B/controller/sc" -u demo -k "$key" -i demo \
    -x http://127.0.0.1:4400/rest/v1 -f "$tmp/ready" -d "$tmp/sc.pid" \
    --ctl-socket "$tmp/ctl.sock" >"$tmp/sc.log" 2>&1 &
scpid=$!
pids+=("$scpid")
wait_for 30 test -e "$tmp/ready" || die "sc did not come up"
cat "$tmp/sc.log"

step "the tunnel's entry proxy, from the REST API"
tunnels=$(curl -sS -u "demo:$key" \
    'http://127.0.0.1:4400/rest/v1/demo/tunnels?full=true') ||
    die "REST list failed"
entry=$(printf '%s' "$tunnels" | python3 -c \
    'import json, sys; print(json.load(sys.stdin)[0]["entry_proxy"])') ||
    die "no entry_proxy in $tunnels"
echo "entry_proxy: $entry"

step "a page through the tunnel: curl -x http://$entry http://127.0.0.1:8000/"
page=$(curl -sS --max-time 10 -x "http://$entry" http://127.0.0.1:8000/) ||
    die "the request through the tunnel failed"
echo "$page"
[ "$page" = "hello from the office" ] || die "unexpected page: $page"

step "sc-ctl -s $tmp/ctl.sock status"
"$B/sc-ctl/sc-ctl" -s "$tmp/ctl.sock" status || die "sc-ctl status failed"

step "stop: SIGTERM to sc"
kill -TERM "$scpid"
wait "$scpid"
status=$?
tail -n 3 "$tmp/sc.log"
[ "$status" = 0 ] || die "sc exited with status $status"

step "the demo worked: the page came through the tunnel"
