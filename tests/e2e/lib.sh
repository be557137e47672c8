# Common part of the end-to-end tests (bash; sourced by each test).
#
# Two network namespaces joined by one veth pair:
#   cloud  ($CLOUD)  10.213.N.1/30  sc-server, curl (the "browser")
#   office ($OFFICE) 10.213.N.2/30  sc (controller, kgpd, proxyd), the app
# The app listens on $APP_IP, an address on office's loopback that no other
# namespace has a route to: cloud reaches it only through the tunnel.
# The "internet" (start_internet) is the same app on $INET_IP, an address
# on cloud's loopback: the server reaches it, office never does (what
# the traffic rules send direct).
#
# Programs come from the environment (meson test sets them):
#   SC, SC_SERVER, SC_CTL   build-tree paths of sc, sc-server, sc-ctl
# Every test bounds its time and removes what it started on exit.

set -u

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${SC:?SC must name the sc binary}"
: "${SC_SERVER:?SC_SERVER must name the sc-server binary}"
: "${SC_CTL:?SC_CTL must name the sc-ctl binary}"
PYTHON=${PYTHON:-python3}

TEST_NAME=$(basename "$0" .sh)
N=$(( $$ % 200 + 20 ))
OFFICE=sc-office-$$
CLOUD=sc-cloud-$$
CLOUD_IP=10.213.$N.1
OFFICE_IP=10.213.$N.2
APP_IP=10.214.$N.1
INET_IP=10.215.$N.1
APP_PORT=8080
APP_TLS_PORT=8443
APP_ECHO_PORT=8007
REST_PORT=4400
KGP_PORT=4443
REST_URL=http://$CLOUD_IP:$REST_PORT/rest/v1
TUNNEL_NAME=e2e-$TEST_NAME-$$
SC_USER=alice

PIDS=()
SC_PID=
SERVER_PID=
TUNNEL_ID=
ENTRY=
KEY=
CHECKS=0

log() {
	printf '%s: %s\n' "$TEST_NAME" "$*"
}

dump_logs() {
	local f
	for f in "$TMP"/*.log; do
		[ -f "$f" ] || continue
		echo "----- $(basename "$f") (last 40 lines) -----"
		tail -n 40 "$f"
	done
}

fail() {
	echo "FAIL: $TEST_NAME: $*"
	dump_logs
	exit 1
}

ok() {
	CHECKS=$((CHECKS + 1))
	echo "ok $CHECKS - $*"
}

skip() {
	echo "SKIP: $TEST_NAME: $*"
	exit 77
}

cleanup() {
	local status=$? p
	trap - EXIT INT TERM
	for p in "${PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null
	done
	# a clean exit lets sanitizers report; give it 3 s
	for p in "${PIDS[@]}"; do
		wait_for 3 not_running "$p"
		kill -KILL "$p" 2>/dev/null
	done
	# anything else still running inside our namespaces
	for ns in "$OFFICE" "$CLOUD"; do
		for p in $(ip netns pids "$ns" 2>/dev/null); do
			kill -KILL "$p" 2>/dev/null
		done
	done
	for p in "${PIDS[@]}"; do
		wait "$p" 2>/dev/null
	done
	[ -z "${PG_DIR:-}" ] || pg_ctl -m immediate stop >/dev/null 2>&1
	ip netns del "$OFFICE" 2>/dev/null
	ip netns del "$CLOUD" 2>/dev/null
	rm -rf "/etc/netns/$OFFICE" "/etc/netns/$CLOUD"
	# a sanitizer report from any of the programs fails the test
	if grep -lE 'ERROR: (Address|Leak)Sanitizer|runtime error:' \
	    "$TMP"/*.log >/dev/null 2>&1; then
		echo "FAIL: $TEST_NAME: sanitizer report in" \
		    $(grep -lE 'ERROR: (Address|Leak)Sanitizer|runtime error:' \
		    "$TMP"/*.log)
		grep -hE -A30 'ERROR: (Address|Leak)Sanitizer|runtime error:' \
		    "$TMP"/*.log | head -n 80
		status=1
	fi
	if [ "$status" -eq 0 ] && [ -z "${E2E_KEEP:-}" ]; then
		rm -rf "$TMP"
	else
		echo "$TEST_NAME: files kept in $TMP"
	fi
	exit "$status"
}

# run a command inside a namespace (a background job started with these
# would be a subshell: start daemons with ip netns exec itself, so that $!
# is the daemon's pid)
office() { ip netns exec "$OFFICE" "$@"; }
cloud() { ip netns exec "$CLOUD" "$@"; }

# gone or a zombie (our own children stay zombies until waited for)
not_running() {
	[ ! -e "/proc/$1/stat" ] ||
	    [ "$(sed 's/.*) \(.\).*/\1/' "/proc/$1/stat" 2>/dev/null)" = Z ]
}

# proc_tree PID: PID and every process below it (to kill all at once)
proc_tree() {
	local p
	echo "$1"
	for p in $(pgrep -P "$1"); do
		proc_tree "$p"
	done
}

link_up() {
	"$1" ip link show veth0 | grep -q 'state UP'
}

# wait_for SECONDS COMMAND...: poll every 0.1 s until COMMAND succeeds
wait_for() {
	local limit=$1 i=0
	shift
	while [ "$i" -lt $((limit * 10)) ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

# wan_link C O WAN_S WAN_O LINKEMU_ARGS...: a long link between cloud and
# office (issue 20): tests/tools/linkemu ($LINKEMU) creates the TUN
# devices C and O with LINKEMU_ARGS (-m 9000 for the MTU set here),
# which move to cloud (address WAN_S) and office (WAN_O); its log is
# $TMP/linkemu.log and its pid LINK_PID.  Skips without /dev/net/tun.
wan_link() {
	local c=$1 o=$2 s=$3 w=$4
	shift 4
	LINKEMU=${LINKEMU:-$(dirname "$SC")/../tests/tools/linkemu}
	[ -x "$LINKEMU" ] || fail "$LINKEMU is not built"
	[ -e /dev/net/tun ] || skip "no /dev/net/tun"
	"$LINKEMU" "$@" -m 9000 "$c" "$o" >"$TMP/linkemu.log" 2>&1 &
	LINK_PID=$!
	PIDS+=($LINK_PID)
	wait_for 5 ip link show "$o" || fail "linkemu made no TUN devices"
	ip link set "$c" netns "$CLOUD" && ip link set "$o" netns "$OFFICE" ||
	    fail "cannot move the TUN devices"
	cloud ip addr add "$s" peer "$w" dev "$c"
	office ip addr add "$w" peer "$s" dev "$o"
	cloud ip link set "$c" mtu 9000 up
	office ip link set "$o" mtu 9000 up
}

# wan_tunnel [SC ARGS...]: sc-server with its KGP port on the long link
# of wan_link ($WAN_S; trace level, so that the receiving end logs its
# windows), the app, and sc with one KGP connection and SC ARGS; the
# KGP connection must cross the long link
wan_tunnel() {
	SERVER_VERBOSE=-vv start_server -K "$WAN_S:$KGP_PORT" -H "$WAN_S"
	start_app
	start_sc --tunnel-connections 1 "$@"
	office ss -tn state established "dst $WAN_S:$KGP_PORT" |
	    grep -q "$WAN_S" || fail "the KGP connection is not on the long link"
}

# wan_upload BYTES SECONDS: one upload of BYTES of random data through
# the tunnel to the app's /sink, which answers the body's digest: it
# must be the one sent; its rate (B/s) in $TMP/up.rate, and logged
wan_upload() {
	local want got
	head -c "$1" /dev/urandom >"$TMP/up"
	want=$(sha256sum "$TMP/up" | cut -d' ' -f1)
	cloud curl -sS --max-time "$2" -x "http://$ENTRY" \
	    --data-binary "@$TMP/up" -H 'Content-Type: application/octet-stream' \
	    -o "$TMP/up.json" -w '%{speed_upload}\n' "$(app_url /sink)" \
	    >"$TMP/up.rate" || fail "the upload failed"
	got=$(json_get "j['sha256']" <"$TMP/up.json")
	[ "$got" = "$want" ] || fail "the upload arrived as $got, not $want"
	rm -f "$TMP/up"
	log "upload: $(cut -d. -f1 <"$TMP/up.rate") B/s"
}

# wan_download BYTES SEED SECONDS: one download of the app's BYTES of
# SEED through the tunnel, its bytes checked against what app.py makes;
# its rate (B/s) in $TMP/down.rate, and logged
wan_download() {
	cloud curl -sS --max-time "$3" -x "http://$ENTRY" -o "$TMP/down" \
	    -w '%{speed_download}\n' "$(app_url "/bytes/$1?seed=$2")" \
	    >"$TMP/down.rate" || fail "the download failed"
	"$PYTHON" "$E2E_DIR/app.py" gen "$1" "$2" | cmp -s - "$TMP/down" ||
	    fail "the download's bytes differ"
	rm -f "$TMP/down"
	log "download: $(cut -d. -f1 <"$TMP/down.rate") B/s"
}

# wan_lossy NAME NET LOSS SEED: profile (c)'s link (100 ms, 100 Mbit/s,
# a round trip of buffer), losing LOSS % at random from SEED, between
# cloud (NET.N.1, TUN NAMEc) and office (NET.N.2), and the tunnel on it,
# both ends at trace level
wan_lossy() {
	WAN_S=$2.$N.1
	WAN_O=$2.$N.2
	# 1.25 MB of buffer at 100 Mbit/s is 100 ms
	wan_link "$1c$N" "$1o$N" "$WAN_S" "$WAN_O" -d 50 -r 100 \
	    -q 1250000 -l "$3" -s "$4"
	wan_tunnel -v -v
}

# namespaces left behind by a test run that was killed (its pid is gone)
sweep_stale() {
	local ns pid p
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}' |
	    grep -E '^sc-(office|cloud)-[0-9]+$'); do
		pid=${ns##*-}
		kill -0 "$pid" 2>/dev/null && continue
		for p in $(ip netns pids "$ns" 2>/dev/null); do
			kill -KILL "$p" 2>/dev/null
		done
		ip netns del "$ns" 2>/dev/null
		rm -rf "/etc/netns/$ns"
	done
}

# office_etc FILE: stdin becomes office's /etc/FILE (resolv.conf, hosts)
# for what is started in office from now on: ip netns exec mounts
# /etc/netns/$OFFICE/FILE over it.  Written in place, it changes for the
# programs running there too.
office_etc() {
	mkdir -p "/etc/netns/$OFFICE" || fail "mkdir /etc/netns/$OFFICE"
	cat >"/etc/netns/$OFFICE/$1" || fail "cannot write office's $1"
}

# cloud_etc FILE: stdin becomes cloud's /etc/FILE, as office_etc does
cloud_etc() {
	mkdir -p "/etc/netns/$CLOUD" || fail "mkdir /etc/netns/$CLOUD"
	cat >"/etc/netns/$CLOUD/$1" || fail "cannot write cloud's $1"
}

# start_internet: the app again on $INET_IP (cloud's loopback), HTTP on
# $APP_PORT and TLS on $APP_TLS_PORT (its certificate $TMP/inet.crt, for
# $INET_IP and www.internet.test): reachable from cloud, not office
start_internet() {
	cloud ip addr add "$INET_IP/32" dev lo
	make_cert inet "IP:$INET_IP,DNS:www.internet.test"
	serve_app "$CLOUD" inet "$INET_IP"
	if office curl -sS --max-time 3 -o /dev/null \
	    "http://$INET_IP:$APP_PORT/" 2>/dev/null; then
		fail "the internet is reachable from office"
	fi
}

e2e_init() {
	[ "$(id -u)" -eq 0 ] || skip "needs root for network namespaces"
	command -v ip >/dev/null || skip "needs iproute2"
	sweep_stale
	# started as root, sc runs as _sc (tests/run-tests.sh creates it too)
	if ! getent passwd _sc >/dev/null; then
		useradd -r -d /var/empty -s /usr/sbin/nologin _sc ||
		    { echo "FAIL: $TEST_NAME: cannot create the user _sc"; exit 1; }
	fi
	if [ -z "${E2E_NO_SC:-}" ]; then
		for b in "$SC" "$SC_SERVER" "$SC_CTL"; do
			[ -x "$b" ] ||
			    { echo "FAIL: $TEST_NAME: $b is not built"; exit 1; }
		done
	fi
	TMP=$(mktemp -d "/tmp/sc-e2e-$TEST_NAME.XXXXXX")
	trap cleanup EXIT
	pg_maybe
	trap 'exit 143' TERM
	trap 'exit 130' INT

	ip netns add "$OFFICE" || fail "ip netns add $OFFICE"
	ip netns add "$CLOUD" || fail "ip netns add $CLOUD"
	ip link add name veth0 netns "$OFFICE" type veth \
	    peer name veth0 netns "$CLOUD" || fail "ip link add veth"
	office ip link set lo up
	cloud ip link set lo up
	office ip addr add "$OFFICE_IP/30" dev veth0
	cloud ip addr add "$CLOUD_IP/30" dev veth0
	office ip addr add "$APP_IP/32" dev lo
	office ip link set veth0 up
	cloud ip link set veth0 up
	wait_for 5 link_up office || fail "office's veth0 does not come up"
	wait_for 5 link_up cloud || fail "cloud's veth0 does not come up"
}

# stage_programs: copies of the build tree's programs in $TMP/programs
# ($STAGED), in the build tree's layout (sc starts the kgpd and proxyd it
# finds next to itself), that every user may execute.  For the programs
# a test runs as nobody or _sc: a build tree in a directory closed to
# them (a clone in /root, mode 0700) is not theirs to run.
stage_programs() {
	local build p
	build=$(dirname "$SC")/..
	STAGED=$TMP/programs
	chmod o+x "$TMP" || fail "chmod o+x $TMP"
	for p in controller/sc kgpd/kgpd proxyd/proxyd pacd/pacd \
	    server/sc-server sc-ctl/sc-ctl; do
		mkdir -p -m 0755 "$STAGED" "$STAGED/${p%/*}" &&
		    cp "$build/$p" "$STAGED/$p" && chmod 0755 "$STAGED/$p" ||
		    fail "cannot copy $p to $STAGED"
	done
}

# make_cert NAME SAN: a self-signed certificate $TMP/NAME.crt and its
# key $TMP/NAME.key, for the subjectAltName SAN
make_cert() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
	    -nodes -days 2 -subj "/CN=e2e-$1" -addext "subjectAltName=$2" \
	    -keyout "$TMP/$1.key" -out "$TMP/$1.crt" >/dev/null 2>&1 ||
	    fail "openssl could not make the $1 certificate"
}

# the TLS app's certificate: self-signed, for the app's address
make_app_cert() {
	make_cert app "IP:$APP_IP"
}

# serve_app NS NAME ADDR [app.py args]: app.py in namespace NS on ADDR,
# HTTP on $APP_PORT and TLS on $APP_TLS_PORT with $TMP/NAME.crt, its log
# $TMP/NAME.log; waits until it answers inside NS
serve_app() {
	local ns=$1 name=$2 addr=$3
	shift 3
	ip netns exec "$ns" "$PYTHON" "$E2E_DIR/app.py" serve --addr "$addr" \
	    --http-port "$APP_PORT" --tls-port "$APP_TLS_PORT" "$@" \
	    --cert "$TMP/$name.crt" --key "$TMP/$name.key" \
	    --ready "$TMP/$name.ready" >"$TMP/$name.log" 2>&1 &
	PIDS+=($!)
	wait_for 10 test -f "$TMP/$name.ready" || fail "$name did not start"
	ip netns exec "$ns" curl -sS --max-time 5 -o /dev/null \
	    "http://$addr:$APP_PORT/" || fail "$name does not answer inside $ns"
}

start_app() {
	make_app_cert
	# reachable inside office ...
	serve_app "$OFFICE" app "$APP_IP" --echo-port "$APP_ECHO_PORT"
	# ... and not from cloud, nor from the host: only the tunnel gets there
	if cloud curl -sS --max-time 3 -o /dev/null \
	    "http://$APP_IP:$APP_PORT/" 2>/dev/null; then
		fail "the app is reachable from cloud without the tunnel"
	fi
	if cloud curl -sS --max-time 3 -o /dev/null \
	    "http://$OFFICE_IP:$APP_PORT/" 2>/dev/null; then
		fail "the app is reachable from cloud on office's address"
	fi
}

add_user() {
	KEY=$("$SC_SERVER" -s "$TMP/state" user add "$SC_USER" 2>"$TMP/useradd.err") ||
	    { cat "$TMP/useradd.err"; fail "sc-server user add $SC_USER failed"; }
	[ -n "$KEY" ] || fail "sc-server user add printed no key"
	case $KEY in
	*[[:space:]]*) fail "user add printed more than the key: '$KEY'" ;;
	esac
}

start_server() {
	add_user
	run_server "$@"
}

# run_server [options]: sc-server in cloud on $TMP/state and the usual
# addresses (also to start it again), its log appended to server.log;
# waits (10 s at most) for its REST API.  With SERVER_NOFILE set, the
# server runs with that many descriptors (soft and hard limit); with
# SERVER_VERBOSE set (to '', say), that instead of -v; with
# SERVER_KGP_WORKERS set, --kgp-workers that many (run by hand).
run_server() {
	# shellcheck disable=SC2086
	ip netns exec "$CLOUD" ${SERVER_NOFILE:+prlimit --nofile="$SERVER_NOFILE" --} \
	    "$SC_SERVER" -d ${SERVER_VERBOSE--v} -s "$TMP/state" -R "$CLOUD_IP:$REST_PORT" \
	    -K "$CLOUD_IP:$KGP_PORT" \
	    ${SERVER_KGP_WORKERS:+--kgp-workers "$SERVER_KGP_WORKERS"} \
	    "$@" >>"$TMP/server.log" 2>&1 &
	SERVER_PID=$!
	PIDS+=("$SERVER_PID")
	wait_for 10 cloud curl -sS --max-time 1 -o /dev/null \
	    "http://$CLOUD_IP:$REST_PORT/rest/v1/" ||
	    fail "sc-server's REST API does not answer"
}

# rest METHOD PATH [curl args]: an authenticated REST call from cloud
rest() {
	local method=$1 path=$2
	shift 2
	cloud curl -sS --max-time 10 -u "$SC_USER:$KEY" -X "$method" "$@" \
	    "$REST_URL$path"
}

# request_ok: a request through the tunnel gets the app's answer, within
# REQUEST_TIMEOUT seconds (2)
request_ok() {
	local code
	code=$(BROWSE_TIMEOUT=${REQUEST_TIMEOUT:-2} browse -o "$TMP/r" \
	    -w '%{http_code}' "$(app_url /text/again)" 2>/dev/null) || return 1
	[ "$code" = 200 ] && [ "$(cat "$TMP/r")" = "response again" ]
}

# db_query SQL: the answer of sc-server's database ($TMP/state, or the
# test's PostgreSQL with SC_DB=pg), as the sqlite3 tool prints it (a row
# a line, columns separated by |)
db_query() {
	if [ -n "${PG_URL:-}" ]; then
		PGPASSWORD=$PG_PASS psql -X -q -v ON_ERROR_STOP=1 -At -F '|' \
		    "$PG_URL_NOPASS" -c "$1"
		return
	fi
	command -v sqlite3 >/dev/null || fail "no sqlite3 (apt-get install sqlite3)"
	sqlite3 -bail "${DB_FILE:-$TMP/state/sc-server.db}" "$@"
}

# PostgreSQL (issue 21): a server of the test's own, run by the user
# postgres from $TMP/pg (initdb, pg_ctl), on a unix socket in $PG_DIR
# only, with password authentication (scram-sha-256) for the user sc
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
PG_DIR=

# pg_ctl ARGS: pg_ctl on the test's server, as the user postgres
pg_ctl() {
	runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_DIR/data" \
	    -l "$PG_DIR/postgres.log" "$@"
}

pg_up() {
	PGPASSWORD=$PG_PASS "$PG_BIN/pg_isready" -q -d "$PG_URL_NOPASS"
}

# pg_start: the server made and started; PG_URL (with the password),
# PG_URL_NOPASS and PG_PASS say how to reach it.  Skips without
# PostgreSQL.
pg_start() {
	[ -x "$PG_BIN/initdb" ] && [ -x "$PG_BIN/pg_ctl" ] ||
	    skip "needs PostgreSQL in $PG_BIN (apt-get install postgresql)"
	command -v psql >/dev/null || skip "needs psql (postgresql-client)"
	getent passwd postgres >/dev/null ||
	    skip "needs the user postgres (apt-get install postgresql)"
	chmod o+x "$TMP" || fail "chmod o+x $TMP"
	PG_DIR=$TMP/pg
	mkdir -m 0700 "$PG_DIR" && chown postgres: "$PG_DIR" ||
	    fail "cannot make $PG_DIR"
	PG_PASS=$(openssl rand -hex 12)
	printf '%s\n' "$PG_PASS" >"$PG_DIR/pw" && chown postgres: "$PG_DIR/pw"
	runuser -u postgres -- "$PG_BIN/initdb" -D "$PG_DIR/data" -U sc \
	    --pwfile="$PG_DIR/pw" -A scram-sha-256 -E UTF8 \
	    >"$TMP/initdb.out" 2>&1 || { cat "$TMP/initdb.out"; fail "initdb failed"; }
	rm -f "$PG_DIR/pw"
	# its log is the user postgres's, read with the others on failure
	ln -s pg/postgres.log "$TMP/postgres.log"
	PG_URL_NOPASS="postgresql://sc@/postgres?host=$PG_DIR"
	PG_URL="postgresql://sc:$PG_PASS@/postgres?host=$PG_DIR"
	pg_ctl -w -t 30 -o "-k $PG_DIR -c listen_addresses=''" start \
	    >/dev/null || fail "PostgreSQL did not start (postgres.log)"
	wait_for 10 pg_up || fail "PostgreSQL does not answer"
}

# with SC_DB=pg (the tests' -pg variants): PostgreSQL started, and
# $SC_SERVER is sc-server with --db and its URL.  Skips with
# SERVER_KGP_WORKERS above 1, which sc-server refuses on PostgreSQL.
pg_maybe() {
	[ "${SC_DB:-}" = pg ] || return 0
	[ "${SERVER_KGP_WORKERS:-1}" -le 1 ] ||
	    skip "SERVER_KGP_WORKERS=$SERVER_KGP_WORKERS: sc-server" \
	    "refuses --kgp-workers above 1 with --db postgresql (a" \
	    "cluster's node has one KGP port)"
	pg_start
	printf '#!/bin/sh\nexec "%s" --db "%s" "$@"\n' "$SC_SERVER" "$PG_URL" \
	    >"$TMP/sc-server-pg" && chmod 0755 "$TMP/sc-server-pg" ||
	    fail "cannot write $TMP/sc-server-pg"
	SC_SERVER_BIN=$SC_SERVER
	SC_SERVER=$TMP/sc-server-pg
}

# json_get EXPR: evaluate a python expression on the JSON on stdin (as j)
json_get() {
	"$PYTHON" -c 'import json, sys
j = json.load(sys.stdin)
v = eval(sys.argv[1])
print("" if v is None else (json.dumps(v) if isinstance(v, (dict, list, bool)) else v))' "$1"
}

# start_sc [extra flags]: sc with the version 4 command line
start_sc() {
	launch_sc -u "$SC_USER" -k "$KEY" -i "$TUNNEL_NAME" -x "$REST_URL" \
	    -f "$TMP/ready" -d "$TMP/sc.pid" --ctl-socket "$TMP/ctl.sock" "$@"
}

# launch_sc ARGS...: sc in office with exactly these arguments, then wait
# until it is ready (the readyfile must be $TMP/ready) and find the
# tunnel's entry proxy
launch_sc() {
	rm -f "$TMP/ready"
	ip netns exec "$OFFICE" "$SC" "$@" >"$TMP/sc.log" 2>&1 &
	SC_PID=$!
	PIDS+=("$SC_PID")
	local i=0
	while [ ! -e "$TMP/ready" ]; do
		not_running "$SC_PID" && fail "sc exited before it was ready"
		[ "$i" -lt 300 ] || fail "sc not ready within 30 s"
		sleep 0.1
		i=$((i + 1))
	done
	grep -q 'Sauce Connect is up, you may start your tests.' "$TMP/sc.log" ||
	    fail "readyfile there but no 'Sauce Connect is up' line"
	TUNNEL_ID=$(sed -n 's/.*Tunnel ID: \([0-9a-f]*\).*/\1/p' "$TMP/sc.log" |
	    head -n 1)
	[ -n "$TUNNEL_ID" ] || fail "no 'Tunnel ID:' line in sc's output"
	ENTRY=$(rest GET "/$SC_USER/tunnels?full=true" |
	    json_get "[t['entry_proxy'] for t in j if t['id'] == '$TUNNEL_ID'][0]") ||
	    fail "tunnel $TUNNEL_ID has no entry_proxy in the REST list"
	[ -n "$ENTRY" ] || fail "empty entry_proxy"
	log "tunnel $TUNNEL_ID up, entry proxy $ENTRY"
}

# stop_sc: SIGTERM, wait (40 s at most); sets SC_STATUS to sc's exit
# status, or "timeout".  (Not in $(...): only this shell can wait for sc.)
stop_sc() {
	local i=0
	kill -TERM "$SC_PID"
	while ! not_running "$SC_PID"; do
		if [ "$i" -ge 400 ]; then
			SC_STATUS=timeout
			return
		fi
		sleep 0.1
		i=$((i + 1))
	done
	wait "$SC_PID"
	SC_STATUS=$?
}

# everything: namespaces, sc-server, the app, sc
e2e_up() {
	e2e_init
	start_server
	start_app
	start_sc "$@"
}

# sc_up TAG [sc flags]: one of alice's clients, its files named by TAG
# ($TMP/sc.TAG.log, ...), its pid SC_TAG
sc_up() {
	local tag=$1
	shift
	rm -f "$TMP/ready.$tag"
	ip netns exec "$OFFICE" "$SC" -u "$SC_USER" -k "$KEY" -x "$REST_URL" \
	    -f "$TMP/ready.$tag" -d "$TMP/sc.$tag.pid" \
	    --ctl-socket "$TMP/ctl.$tag.sock" "$@" >"$TMP/sc.$tag.log" 2>&1 &
	PIDS+=($!)
	eval "SC_$tag=$!"
	wait_for 30 test -e "$TMP/ready.$tag" || fail "sc $tag not ready"
}

# server_worker ROLE: the pid of sc-server's worker (rest or kgp)
server_worker() {
	pgrep -P "$SERVER_PID" -f -- "-W $1\$" | head -n 1
}

# rss_kib PID: resident memory of a process
rss_kib() {
	awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"
}

# fd_count PID: descriptors a process holds
fd_count() {
	ls "/proc/$1/fd" | wc -l
}

# flood NS NAME ARGS...: tests/tools/flood (its options in flood.c) in
# namespace NS (cloud or office) in the background, its JSON report in
# $TMP/flood-NAME.json; waits (FLOOD_READY_SEC, 30 s, at most) until it
# has tried its first --count connections.  FLOOD_PIDS has it.
FLOOD=${FLOOD:-$(dirname "$SC")/../tests/tools/flood}
FLOOD_PIDS=()
flood() {
	local ns=$CLOUD name=$2
	[ "$1" = office ] && ns=$OFFICE
	shift 2
	[ -x "$FLOOD" ] || fail "$FLOOD is not built"
	rm -f "$TMP/flood-$name.ready"
	ip netns exec "$ns" "$FLOOD" --ready "$TMP/flood-$name.ready" \
	    --report "$TMP/flood-$name.json" "$@" >"$TMP/flood-$name.log" 2>&1 &
	FLOOD_PIDS+=($!)
	PIDS+=($!)
	wait_for "${FLOOD_READY_SEC:-30}" test -f "$TMP/flood-$name.ready" ||
	    fail "flood $name did not get its connections out in ${FLOOD_READY_SEC:-30} s: $(tail -n 3 "$TMP/flood-$name.log")"
}

# flood_field NAME KEY: a number of the flood's report
flood_field() {
	json_get "j['$2']" <"$TMP/flood-$1.json"
}

# flood_stop: end the floods
flood_stop() {
	local p
	for p in "${FLOOD_PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	FLOOD_PIDS=()
}

# loopback_sources FIRST COUNT: 127.0.FIRST.1 and the COUNT - 1 after it
# (COUNT <= 254) as a flood's --sources (each an address of its own to
# the server)
loopback_sources() {
	echo "127.0.$1.1+$2"
}

# kgpd_pid: the pid of sc's child kgpd (of each, one a line, with
# --kgp-processes above 1)
kgpd_pid() {
	ps -o pid=,comm= --ppid "$SC_PID" | awk '$2 == "kgpd" {print $1}'
}

# kgpd_new OLD: sc has kgpd children, none of them one of the pids OLD
# (for wait_for)
kgpd_new() {
	local p
	p=$(kgpd_pid)
	[ -n "$p" ] || return 1
	# shellcheck disable=SC2086 # lists of pids
	! printf '%s\n' $p | grep -qxF -- "$(printf '%s\n' $1)"
}

# browse_ok NAME [SECONDS]: the app's /text/NAME through the tunnel is
# 200 and "response NAME"
browse_ok() {
	local code
	code=$(BROWSE_TIMEOUT=${2:-10} browse -o "$TMP/browse_ok" \
	    -w '%{http_code}' "$(app_url "/text/$1")" 2>/dev/null) || return 1
	[ "$code" = 200 ] && [ "$(cat "$TMP/browse_ok")" = "response $1" ]
}

# count_ok N COMMAND...: how many of N runs of COMMAND succeed
count_ok() {
	local n=$1 i good=0
	shift
	for i in $(seq 1 "$n"); do
		"$@" && good=$((good + 1))
	done
	echo "$good"
}

# browse [curl args]: curl in cloud through the tunnel's entry proxy
browse() {
	cloud curl -sS --max-time "${BROWSE_TIMEOUT:-60}" -x "http://$ENTRY" "$@"
}

app_url() {
	echo "http://$APP_IP:$APP_PORT$1"
}

app_tls_url() {
	echo "https://$APP_IP:$APP_TLS_PORT$1"
}

# https_get HOSTPORT PATH [curl args]: GET https://HOSTPORT/PATH in
# absolute form through the entry proxy; prints the body, then the status
https_get() {
	local hp=$1 path=$2
	shift 2
	browse -w '%{http_code}' --request-target "https://$hp$path" "$@" \
	    "http://$hp$path"
}

# https_502 HOSTPORT PATH TEXT WHAT: https_get that must answer a 502
# whose text holds TEXT, else the test fails about WHAT; out the answer
https_502() {
	out=$(https_get "$1" "$2") && true
	case $out in
	*"$3"*502) ;;
	*) fail "$4: '$out', want a 502 that says '$3'" ;;
	esac
}

# expected digest of /bytes/N?seed=S
gen_sha256() {
	"$PYTHON" "$E2E_DIR/app.py" gen "$1" "$2" | sha256sum | cut -d' ' -f1
}

ctl_status() {
	"$SC_CTL" -s "$TMP/ctl.sock" status
}

# ctl_field NAME: one value of `sc-ctl status`
ctl_field() {
	ctl_status | sed -n "s/^$1:[[:space:]]*//p" | head -n 1
}

# run_sc ARGS...: sc run (version 5) with the test's server and ARGS
run_sc() {
	launch_sc run -u "$SC_USER" -k "$KEY" -i "$TUNNEL_NAME" \
	    --rest-url "$REST_URL" -f "$TMP/ready" --ctl-socket "$TMP/ctl.sock" \
	    "$@"
}

# get URL [curl args]: "body code" of a GET through the tunnel
get() {
	local url=$1
	shift
	browse -w ' %{http_code}' "$@" "$url" 2>&1 | tr '\n' ' '
}

# bad_run WANT ARGS...: sc run with ARGS (and the test's account and
# server) exits 1 at start and says "Error: WANT"
bad_run() {
	local want=$1 out st
	shift
	out=$(office "$SC" run -u "$SC_USER" -k "$KEY" --rest-url "$REST_URL" \
	    "$@" 2>&1)
	st=$?
	[ "$st" = 1 ] || fail "sc run $*: exit $st, want 1"
	case $out in
	*"Error: $want"*) ;;
	*) fail "sc run $*: '$out', want 'Error: $want'" ;;
	esac
}

# start_tinyproxy IP PORT [USER PASS]: a corporate proxy in office
# (tinyproxy from Debian, as its own user, basic authentication when
# USER is given), logging to $TMP/tinyproxy.log; waits until it listens
start_tinyproxy() {
	local ip=$1 port=$2
	{
		echo "User tinyproxy"
		echo "Group nogroup"
		echo "Port $port"
		echo "Listen $ip"
		echo "Timeout 30"
		echo "LogFile \"$TMP/tinyproxy.log\""
		echo "LogLevel Connect"
		echo "PidFile \"$TMP/tinyproxy.pid\""
		echo "MaxClients 50"
		echo "DisableViaHeader Yes"
		[ $# -ge 4 ] && echo "BasicAuth $3 $4"
	} >"$TMP/tinyproxy.conf"
	chmod o+x "$TMP"
	touch "$TMP/tinyproxy.log" && chown tinyproxy "$TMP/tinyproxy.log"
	office tinyproxy -d -c "$TMP/tinyproxy.conf" >"$TMP/tinyproxy.out" 2>&1 &
	PIDS+=($!)
	wait_for 10 office bash -c "exec 3<>/dev/tcp/$ip/$port" ||
	    fail "tinyproxy did not start: $(cat "$TMP/tinyproxy.out")"
}

# silent_listener ADDR PORT: in office, a port that takes connections
# and never says a word (an app or a proxy that hangs); waits for it
silent_listener() {
	office "$PYTHON" -c '
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(16)
open(sys.argv[3], "w").close()
held = []
while True:
    held.append(s.accept()[0])
' "$1" "$2" "$TMP/silent-$2.ready" >"$TMP/silent-$2.out" 2>&1 &
	PIDS+=($!)
	wait_for 10 test -f "$TMP/silent-$2.ready" ||
	    fail "the silent listener on $1 port $2: $(cat "$TMP/silent-$2.out")"
}

# three_ways HOW: the three kinds of request through the tunnel reach
# the app (plain, absolute-form https://, the browser's CONNECT): 200
three_ways() {
	local how=$1 out
	out=$(get "$(app_url /text/plain)")
	[ "$out" = "response plain  200" ] || fail "$how: http://: '$out'"
	out=$(get "http://$APP_IP:$APP_TLS_PORT/text/abs" --request-target \
	    "https://$APP_IP:$APP_TLS_PORT/text/abs")
	[ "$out" = "response abs  200" ] || fail "$how: https:// absolute: '$out'"
	out=$(get "$(app_tls_url /text/tunnel)" -k -p)
	[ "$out" = "response tunnel  200" ] || fail "$how: CONNECT: '$out'"
}

# app_proxies_only USER...: in office, only these users (the proxies')
# open connections to the app's address: sc (as _sc) never reaches it
# directly, so a 200 proves the way through a proxy
app_proxies_only() {
	local uids u
	uids=$(for u in "$@"; do id -u "$u"; done | paste -sd, -)
	office nft add table inet e2eup || fail "nft add table"
	office nft add chain inet e2eup out \
	    '{ type filter hook output priority 0; }' || fail "nft add chain"
	office nft add rule inet e2eup out ip daddr "$APP_IP" ct state new \
	    meta skuid != "{ $uids }" reject with tcp reset ||
	    fail "nft add rule"
	office setpriv --reuid=_sc --regid=_sc --clear-groups curl -sS \
	    --max-time 3 -o /dev/null "http://$APP_IP:$APP_PORT/" 2>/dev/null &&
	    fail "the app is reachable from office without the proxy"
	ok "the app is reachable in office only through the proxies"
}

e2e_done() {
	echo "$TEST_NAME: all $CHECKS checks passed"
}

# prom_init: PROM_PY, the Python that has prometheus_client (Debian:
# python3-prometheus-client), or the test fails
prom_init() {
	local p
	PROM_PY=
	for p in "$PYTHON" /usr/bin/python3; do
		if "$p" -c 'import prometheus_client.parser' 2>/dev/null; then
			PROM_PY=$p
			return 0
		fi
	done
	echo "FAIL: $TEST_NAME: no python3-prometheus-client (tests/packages.txt)"
	exit 1
}

# prom_value FILE NAME [LABEL=VALUE]...: the value of a sample of the
# Prometheus text in FILE, read with prometheus_client's parser; fails
# when the text does not parse or has no such sample
prom_value() {
	"$PROM_PY" - "$@" <<'PY'
import sys
from prometheus_client.parser import text_string_to_metric_families
name = sys.argv[2]
want = dict(a.split("=", 1) for a in sys.argv[3:])
for fam in text_string_to_metric_families(open(sys.argv[1]).read()):
    for s in fam.samples:
        if s.name == name and all(s.labels.get(k) == v
                                  for k, v in want.items()):
            print(int(s.value))
            sys.exit(0)
sys.exit(1)
PY
}

# at_least MIN NAME [LABEL=VALUE]: the test's metric() is MIN or more
# (for wait_for)
at_least() {
	local min=$1 v
	shift
	v=$(metric "$@") && [ "$v" -ge "$min" ]
}
