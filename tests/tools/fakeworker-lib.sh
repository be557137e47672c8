# What server-hello.sh and server-addtwice.sh share, sourced: sc-server
# on loopback with its REST worker replaced by a fake one (execshim.so
# executes it in place of "sc-server -W rest").
#
#	fake_server NAME SC-SERVER EXECSHIM FAKE-WORKER
#
# Skips (exit 77) as root without the user _sc that the workers become.
# Sets dir (removed at exit), log (the server's output) and pid (killed
# at exit); fail MESSAGE prints NAME: MESSAGE and the log, and exits 1.
fake_server() {
	local server=$2 shim=$3 worker=$4 port
	NAME=$1
	if [ "$(id -u)" = 0 ] && ! getent passwd _sc >/dev/null; then
		echo "$NAME: skipped: started as root, no user _sc"
		exit 77
	fi
	dir=$(mktemp -d "/tmp/$NAME.XXXXXX")
	log=$dir/server.log
	port=$((20000 + $$ % 20000))
	# a sanitizer's runtime would rather be preloaded first: let it be;
	# -G none: the default gateway port is not this test's
	LD_PRELOAD=$shim SC_TEST_WORKER=rest:$worker \
	    ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0 \
	    "$server" -d -v -s "$dir/state" -R "127.0.0.1:$port" \
	    -K "127.0.0.1:$((port + 1))" -E 127.0.0.1 -G none >"$log" 2>&1 &
	pid=$!
	trap 'kill -KILL "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
}

fail() {
	echo "$NAME: $*"
	cat "$log"
	exit 1
}
