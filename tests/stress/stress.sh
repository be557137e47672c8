#!/bin/bash
# Hostile load against sc-server and sc (issue 14, "Tests and figures").
#
#   tests/stress/stress.sh [-d seconds] [-o file] [-s scenario,...] [BUILDDIR]
#
# The programs of BUILDDIR (default: build) run in network namespaces as
# in the end-to-end tests (tests/e2e/lib.sh): sc-server in cloud, with its
# entry proxies on cloud's address (-E) and cloud's attacker addresses
# allowed (-A); the app and sc in office.  Each scenario attacks for -d
# seconds (default 45, after the ramp) with tests/tools/flood from cloud,
# from 32 source addresses (x32) or from one (x1), while a legitimate
# user starts, every second, a REST call (GET /rest/v1/USER/tunnels) and
# a request through the tunnel's entry proxy to the app, each with a 10 s
# timeout.  It records the share of those that succeed and the peak RSS
# of each process (tests/stress/procpeak.py):
#
#   baseline          no attack
#   kgp-preauth       10,000 TCP connections to the KGP port that send the
#                     start of a TLS ClientHello and never go on
#   slowloris-rest    10,000 connections to the REST port sending a request
#                     head one byte every 5-10 s
#   slowloris-entry   the same on the tunnel's entry port
#   stalled           1,000 browsers that GET a 256 MiB answer through the
#                     tunnel and never read it
#
# -s picks scenarios by name (x32 and x1 variants: kgp-preauth-x1, ...).
# Prints a table (also written to -o file) with the targets of issue 14:
# legitimate success 100 %, KGP worker <= 256 MiB, proxyd <= 128 MiB.
# Not part of the default meson test run: meson test --suite stress.
# Needs root; every namespace, process and file it made is gone at exit
# (E2E_KEEP=1 keeps the logs).
set -u

duration=45
outfile=
only=
while getopts d:o:s:h opt; do
	case $opt in
	d) duration=$OPTARG ;;
	o) outfile=$OPTARG ;;
	s) only=,$OPTARG, ;;
	*) sed -n '2,32p' "$0"; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
top=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$top/build}" && pwd) || exit 1
export SC=${SC:-$build/controller/sc}
export SC_SERVER=${SC_SERVER:-$build/server/sc-server}
export SC_CTL=${SC_CTL:-$build/sc-ctl/sc-ctl}
FLOOD=$build/tests/tools/flood
[ -x "$FLOOD" ] || { echo "stress: $FLOOD is not built"; exit 1; }

. "$top/tests/e2e/lib.sh"

STRESS_DIR=$top/tests/stress
CONNS=10000		# attack connections (kgp-preauth, slowloris)
STALLED=1000		# stalled readers
STALL_SIZE=268435456	# what each of them asks for
PROBE_TIMEOUT=10	# seconds, each legitimate request
RECOVER_SEC=60		# after a scenario, to serve the user again
NSRC=32

e2e_init
# attacker addresses on cloud's loopback; the legitimate user is
# $CLOUD_IP, which is an address of its own
SRC_ALL=
for i in $(seq 2 $((NSRC + 1))); do
	cloud ip addr add "10.216.$N.$i/32" dev lo ||
	    fail "cannot add attacker address 10.216.$N.$i"
	SRC_ALL=$SRC_ALL${SRC_ALL:+,}10.216.$N.$i
done
SRC_ONE=10.216.$N.2
start_server -E "$CLOUD_IP" -A "10.216.$N.0/24,$CLOUD_IP/32"
start_app
start_sc
REST_HOSTPORT=$CLOUD_IP:$REST_PORT
KGP_HOSTPORT=$CLOUD_IP:$KGP_PORT
nofile=$(awk '/Max open files/ { print $4 }' "/proc/$SERVER_PID/limits")

# probe KIND: one legitimate request; prints "ok MS" or "fail WHY MS"
probe() {
	local t0 out code ms
	t0=$(date +%s%N)
	case $1 in
	rest)
		code=$(cloud curl -sS -o /dev/null -w '%{http_code}' \
		    --max-time "$PROBE_TIMEOUT" -u "$SC_USER:$KEY" \
		    "$REST_URL/$SC_USER/tunnels" 2>/dev/null)
		;;
	entry)
		out=$(cloud curl -sS -w ' %{http_code}' \
		    --max-time "$PROBE_TIMEOUT" -x "http://$ENTRY" \
		    "$(app_url /text/probe)" 2>/dev/null)
		code=${out##* }
		[ "$code" = 200 ] &&
		    [ "${out% *}" != $'response probe\n' ] && code=body
		;;
	esac
	ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	if [ "$code" = 200 ]; then
		echo "ok $ms"
	else
		echo "fail ${code:-none} $ms"
	fi
}

# probe_loop KIND FILE: a probe started every second, whether the last
# one is done or not (a user who clicks again), until $TMP/stop exists;
# then the ones under way finish
probe_loop() {
	local next
	while [ ! -e "$TMP/stop" ]; do
		next=$(( $(date +%s%N) / 1000000 + 1000 ))
		probe "$1" >>"$2" &
		while [ $(( $(date +%s%N) / 1000000 )) -lt "$next" ] &&
		    [ ! -e "$TMP/stop" ]; do
			sleep 0.05
		done
	done
	wait
}

# wait (RECOVER_SEC at most) until the user is served again
recovered() {
	[ "$(probe rest | cut -d' ' -f1)" = ok ] &&
	    [ "$(probe entry | cut -d' ' -f1)" = ok ]
}

# the kernel's and the daemons' memory settles between scenarios (the
# daemons give heap back every 10 s)
settle() {
	wait_for "$RECOVER_SEC" recovered || return 1
	sleep 11
}

kib_mib() {
	echo $(( ($1 + 512) / 1024 ))
}

printf '%-20s %6s %8s %8s %6s %6s %6s %6s %6s %6s %s\n' scenario conns \
    "REST ok" "entry ok" server rest kgp sc kgpd proxyd \
    "targets (legit 100 %, kgp <= 256 MiB, proxyd <= 128 MiB)" \
    >"$TMP/table"

# scenario NAME FLOOD-ARGS...: attack with flood in cloud (none for the
# baseline), measure, add a row to the table
scenario() {
	local name=$1 fpid= ppid spid r1 r2 p rest entry held miss restok
	local entryok rt et peaks
	shift
	case $only in
	'') ;;
	*",$name,"*) ;;
	*) return 0 ;;
	esac
	log "$name: waiting for a served user and settled memory"
	if ! settle; then
		printf '%-20s %s\n' "$name" "not run: the user was not served \
within $RECOVER_SEC s of the last scenario" >>"$TMP/table"
		return 0
	fi
	rm -f "$TMP/stop" "$TMP/rest-$name" "$TMP/entry-$name"
	"$PYTHON" "$STRESS_DIR/procpeak.py" "$TMP/peak-$name" "$SERVER_PID" \
	    "$SC_PID" &
	ppid=$!
	if [ $# -gt 0 ]; then
		cloud "$FLOOD" -d "$((duration + 5))" "$@" \
		    >"$TMP/flood-$name.out" 2>"$TMP/flood-$name.log" &
		fpid=$!
		PIDS+=("$fpid")
	fi
	probe_loop rest "$TMP/rest-$name" &
	r1=$!
	probe_loop entry "$TMP/entry-$name" &
	r2=$!
	log "$name: attacking for $((duration + 5)) s"
	if [ -n "$fpid" ]; then
		wait_for $((duration + 40)) not_running "$fpid" ||
		    kill -TERM "$fpid"
		wait "$fpid" 2>/dev/null
	else
		sleep "$((duration + 5))"
	fi
	touch "$TMP/stop"
	wait "$r1" "$r2"
	kill -TERM "$ppid"
	wait "$ppid"
	peaks=$(cat "$TMP/peak-$name" 2>/dev/null)
	held=$(sed -n 's/.*open-max \([0-9]*\).*/\1/p' \
	    "$TMP/flood-$name.out" 2>/dev/null)
	rest=$(wc -l <"$TMP/rest-$name")
	restok=$(grep -c '^ok' "$TMP/rest-$name")
	entry=$(wc -l <"$TMP/entry-$name")
	entryok=$(grep -c '^ok' "$TMP/entry-$name")
	# shellcheck disable=SC2086
	set -- $peaks
	for p in "$@"; do
		local "pk_${p%%=*}=${p#*=}"
	done
	miss=
	[ "$restok" = "$rest" ] ||
	    miss="$miss REST $((100 * restok / (rest > 0 ? rest : 1)))%,"
	[ "$entryok" = "$entry" ] ||
	    miss="$miss entry $((100 * entryok / (entry > 0 ? entry : 1)))%,"
	[ "${pk_kgp:-0}" -le $((256 * 1024)) ] ||
	    miss="$miss kgp $(kib_mib "$pk_kgp") MiB,"
	[ "${pk_proxyd:-0}" -le $((128 * 1024)) ] ||
	    miss="$miss proxyd $(kib_mib "$pk_proxyd") MiB,"
	printf '%-20s %6s %8s %8s %6s %6s %6s %6s %6s %6s %s\n' "$name" \
	    "${held:-0}" "$restok/$rest" "$entryok/$entry" \
	    "$(kib_mib "${pk_server:-0}")" "$(kib_mib "${pk_rest:-0}")" \
	    "$(kib_mib "${pk_kgp:-0}")" "$(kib_mib "${pk_sc:-0}")" \
	    "$(kib_mib "${pk_kgpd:-0}")" "$(kib_mib "${pk_proxyd:-0}")" \
	    "$([ -n "$miss" ] && echo "NOT met:${miss%,}" || echo met)" \
	    >>"$TMP/table"
	rt=$(grep -v '^ok' "$TMP/rest-$name" | sort | uniq -c |
	    sort -rn | head -n 3 | tr -s ' ' | tr '\n' ';')
	et=$(grep -v '^ok' "$TMP/entry-$name" | cut -d' ' -f1-2 | sort |
	    uniq -c | sort -rn | head -n 3 | tr -s ' ' | tr '\n' ';')
	echo "  $name: flood: $(cat "$TMP/flood-$name.out" 2>/dev/null)" \
	    "${rt:+rest failures:$rt}${et:+ entry failures:$et}" \
	    "fds: ${pk_fd_rest:-0} rest, ${pk_fd_kgp:-0} kgp, " \
	    "${pk_fd_proxyd:-0} proxyd, ${pk_fd_kgpd:-0} kgpd" \
	    >>"$TMP/notes"
	log "$name: $(tail -n 1 "$TMP/table")"
	kill -0 "$SC_PID" 2>/dev/null || fail "sc died in $name"
	kill -0 "$SERVER_PID" 2>/dev/null || fail "sc-server died in $name"
}

# the start of a TLS ClientHello: a record of 512 bytes that never comes
HELLO='\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03'
STALL_REQ="GET http://$APP_IP:$APP_PORT/bytes/$STALL_SIZE HTTP/1.1\\r\\nHost: $APP_IP:$APP_PORT\\r\\n\\r\\n"

scenario baseline
for v in x32 x1; do
	[ "$v" = x32 ] && src=$SRC_ALL || src=$SRC_ONE
	scenario "kgp-preauth-$v" -m hold -t "$KGP_HOSTPORT" -n "$CONNS" \
	    -s "$src" -p "$HELLO"
	scenario "slowloris-rest-$v" -m slow -t "$REST_HOSTPORT" -n "$CONNS" \
	    -s "$src" -i 5-10
	scenario "slowloris-entry-$v" -m slow -t "$ENTRY" -n "$CONNS" \
	    -s "$src" -i 5-10
	scenario "stalled-$v" -m stall -t "$ENTRY" -n "$STALLED" -r 500 \
	    -s "$src" -p "$STALL_REQ" -b 4096
done

{
	echo "== sc stress, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores," \
	    "Linux $(uname -r), $(git -C "$top" describe --always --dirty \
	    2>/dev/null || echo '?')"
	echo "   ${duration}s of attack a scenario (+5 s ramp); legitimate" \
	    "requests once a second each, ${PROBE_TIMEOUT}s timeout;" \
	    "peak RSS in MiB; sc-server's RLIMIT_NOFILE $nofile"
	cat "$TMP/table"
	cat "$TMP/notes" 2>/dev/null
} >"$TMP/report"
cat "$TMP/report"
[ -n "$outfile" ] && cp "$TMP/report" "$outfile"
e2e_done
