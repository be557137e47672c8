#!/bin/bash
# Hostile load against sc-server and sc (issue 14, "Tests and figures").
#
#   tests/stress/stress.sh [-d seconds] [-o file] [-s scenario,...] [BUILDDIR]
#
# The programs of BUILDDIR (default: build) run in network namespaces as
# in the end-to-end tests (tests/e2e/lib.sh): sc-server in cloud, its
# entry proxies on cloud's address (-E, -A for that address), the apps
# and sc in office.  Each scenario attacks for -d seconds (default 45)
# with tests/tools/flood in cloud, from many addresses (one for each
# connection: 127.x.y.z, loopback) or from one.  Meanwhile a legitimate
# user starts, every second, a REST call (GET /rest/v1/USER/tunnels) and
# a request through the tunnel's entry proxy to another application than
# the one the stalled readers use (as in issue 14; the Python app behind
# them is slow itself), from its own address (cloud's, where it logged
# in from), and each second the same two from an address never seen
# before; each has a 10 s timeout.  Scenarios:
#
#   baseline          no attack
#   kgp-preauth       10,000 connections to the KGP port that never say
#                     HELLO: 2,500 send nothing, 2,500 the first 11 bytes
#                     of a TLS record, 2,500 a whole ClientHello, 2,500
#                     finish TLS; after the measurement, kgpd is killed
#                     and the time the tunnel takes to come back through
#                     the flood is measured
#   slowloris-rest    10,000 connections to the REST port sending a request
#                     head one byte every 5-10 s
#   slowloris-entry   the same on the tunnel's entry port
#   stalled           1,000 browsers that GET a 256 MiB answer through the
#                     tunnel: 500 never read it, 500 read 1 KB/s
#   all-many          all of these at once, from many addresses, and kgpd
#                     killed as in kgp-preauth
#
# Every scenario but baseline and all-many runs from many addresses
# (NAME-many) and from one (NAME-one); -s picks them by these names.
# Each flood keeps its count open: what the server closes is opened
# again, at 2,000 connections a second in all (500 for stalled); the
# measurement starts once every flood has opened its count.
#
# It prints three tables (also written to -o file): the legitimate
# requests' success and the peak RSS of each process (the sc-server
# parent, -W rest, -W kgp, sc, kgpd, proxyd; tests/stress/procpeak.py)
# against the targets of issue 14 (legitimate success 100 %, KGP worker
# <= 256 MiB, proxyd <= 128 MiB); what became of the attack: the
# connections the floods tried and saw connected, the most they held at
# once and the most descriptors the attacked workers held (above their
# own before the attack), how many the server closed and the longest
# life of one it closed, the success from new addresses, the reconnect
# time; and the load: the CPU of the machine, the floods and each
# process, the longest accept queue of each listener and the
# connections the kernel refused for a full one.
# Not part of the default meson test run: meson test --suite stress.
# Needs root; every namespace, process and file it made is gone at exit
# (E2E_KEEP=1 keeps the logs).  Exits 1 if a target is not met.
set -u

duration=45
outfile=
only=
while getopts d:o:s:h opt; do
	case $opt in
	d) duration=$OPTARG ;;
	o) outfile=$OPTARG ;;
	s) only=,$OPTARG, ;;
	*) sed -n '2,53p' "$0"; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
top=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$top/build}" && pwd) || exit 1
export SC=${SC:-$build/controller/sc}
export SC_SERVER=${SC_SERVER:-$build/server/sc-server}
export SC_CTL=${SC_CTL:-$build/sc-ctl/sc-ctl}
export FLOOD=${FLOOD:-$build/tests/tools/flood}
[ -x "$FLOOD" ] || { echo "stress: $FLOOD is not built"; exit 1; }

. "$top/tests/e2e/lib.sh"

STRESS_DIR=$top/tests/stress
CONNS=10000		# attack connections (kgp-preauth, slowloris)
STALLED=1000		# stalled readers
STALL_SIZE=268435456	# what each of them asks for
STALL_READ=1024		# bytes a second, the half that reads
PROBE_TIMEOUT=10	# seconds, each legitimate request
RECOVER_SEC=60		# after a scenario, to serve the user again
READY_SEC=30		# the most a flood may take to open its count
RECONNECT_SEC=60	# the most a reconnect may take
ONE=127.0.9.1		# the one attacking address
APP2_PORT=8081		# the other application, for the legitimate user

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
e2e_init
# without -v: a log line for each of thousands of connections a second
# would measure the logging
SERVER_VERBOSE='' start_server -E "$CLOUD_IP" -A "$CLOUD_IP/32"
start_app
ip netns exec "$OFFICE" "$PYTHON" "$E2E_DIR/app.py" serve --addr "$APP_IP" \
    --http-port "$APP2_PORT" --ready "$TMP/app2.ready" >"$TMP/app2.log" 2>&1 &
PIDS+=($!)
wait_for 10 test -f "$TMP/app2.ready" || fail "the second app did not start"
start_sc
REST_HOSTPORT=$CLOUD_IP:$REST_PORT
KGP_HOSTPORT=$CLOUD_IP:$KGP_PORT
nofile=$(awk '/Max open files/ { print $4 }' "/proc/$SERVER_PID/limits")
rest_w=$(server_worker rest)
kgp_w=$(server_worker kgp)
[ -n "$rest_w" ] && [ -n "$kgp_w" ] || fail "no REST or KGP worker"
failed_targets=0
nscen=0

# probe KIND N: one legitimate request, N-th of its loop; prints "ok MS"
# or "fail WHY MS CONNECT_MS" (the time its TCP connection took, 0 if it
# never got one).  KIND: rest, entry (from cloud's address), rest-new,
# entry-new (from an address never seen before)
probe() {
	local t0 out code ms conn body src=()
	case $1 in
	*-new)
		# 127.(100 + scenario).*.* for REST, 127.(160 + scenario)
		# for entry: new in every scenario
		local o2=$((100 + nscen))
		[ "${1%-new}" = entry ] && o2=$((160 + nscen))
		src=(--interface "127.$o2.$(($2 / 250)).$(($2 % 250 + 1))")
		;;
	esac
	t0=$(date +%s%N)
	case $1 in
	rest*)
		out=$(cloud curl -sS -o /dev/null \
		    -w '%{time_connect} %{http_code}' \
		    --max-time "$PROBE_TIMEOUT" "${src[@]}" \
		    -u "$SC_USER:$KEY" "$REST_URL/$SC_USER/tunnels" \
		    2>/dev/null)
		body=
		;;
	entry*)
		out=$(cloud curl -sS -w '\n%{time_connect} %{http_code}' \
		    --max-time "$PROBE_TIMEOUT" "${src[@]}" \
		    -x "http://$ENTRY" "http://$APP_IP:$APP2_PORT/text/probe" \
		    2>/dev/null)
		body=response
		;;
	esac
	code=${out##* }
	conn=${out% *}
	conn=${conn##*$'\n'}
	[ "$code" = 200 ] && [ -n "$body" ] &&
	    [ "${out%%$'\n'*}" != "response probe" ] && code=body
	ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	if [ "$code" = 200 ]; then
		echo "ok $ms"
	else
		echo "fail ${code:-none} $ms $(echo "${conn:-0}" |
		    awk '{ printf "%d", $1 * 1000 }')"
	fi
}

# probe_loop KIND FILE: a probe started every second, whether the last
# one is done or not (a user who clicks again), until $TMP/stop exists;
# then the ones under way finish
probe_loop() {
	local next i=0
	while [ ! -e "$TMP/stop" ]; do
		next=$(( $(date +%s%N) / 1000000 + 1000 ))
		probe "$1" "$i" >>"$2" &
		i=$((i + 1))
		while [ $(( $(date +%s%N) / 1000000 )) -lt "$next" ] &&
		    [ ! -e "$TMP/stop" ]; do
			sleep 0.05
		done
	done
	wait
}

served() {
	[ "$(probe rest 0 | cut -d' ' -f1)" = ok ] &&
	    [ "$(probe entry 0 | cut -d' ' -f1)" = ok ]
}

# the resident KiB of the server's and sc's processes together
rss_all() {
	local p s=0
	for p in "$SERVER_PID" $(pgrep -P "$SERVER_PID") "$SC_PID" \
	    $(pgrep -P "$SC_PID"); do
		s=$((s + $(rss_kib "$p" 2>/dev/null || echo 0)))
	done
	echo "$s"
}

# memory_settled: the processes' RSS has not gone down by more than
# 1 MiB for 12 s (the daemons give heap back every 10 s); 60 s at most
memory_settled() {
	local t=0 quiet=0 low now
	low=$(rss_all)
	while [ "$quiet" -lt 12 ] && [ "$t" -lt 60 ]; do
		sleep 1
		t=$((t + 1))
		now=$(rss_all)
		if [ "$now" -lt $((low - 1024)) ]; then
			quiet=0
			low=$now
		else
			quiet=$((quiet + 1))
		fi
	done
}

kib_mib() {
	echo $(( ($1 + 512) / 1024 ))
}

# cpu_ticks PID: the user and system time a process has used, in ticks
cpu_ticks() {
	sed 's/.*) //' "/proc/$1/stat" 2>/dev/null |
	    awk '{ print $12 + $13; ok = 1 } END { if (!ok) print 0 }'
}

# above PEAK BEFORE: what PEAK is above BEFORE, or 0
above() {
	echo $(( $1 > $2 ? $1 - $2 : 0 ))
}

# pct OK ALL
pct() {
	echo $((100 * $1 / ($2 > 0 ? $2 : 1)))
}

# reconnect: kill kgpd, then seconds (to 0.1) from its successor's
# start until the tunnel serves again, or "none"
reconnect() {
	local old t0 t
	old=$(kgpd_pid)
	[ -n "$old" ] || { echo none; return; }
	kill -KILL "$old"
	wait_for 10 kgpd_new "$old" || { echo none; return; }
	t0=$(date +%s%N)
	# wall-clock bound: each try may take its 2 s
	until browse_ok reconnect 2; do
		[ $(( ($(date +%s%N) - t0) / 1000000000 )) -lt \
		    "$RECONNECT_SEC" ] || { echo none; return; }
		sleep 0.1
	done
	t=$(( ($(date +%s%N) - t0) / 100000000 ))
	echo "$((t / 10)).$((t % 10))"
}

# floods_ready NAME N: each of the scenario's N floods has tried its
# count
floods_ready() {
	local i
	for i in $(seq 1 "$2"); do
		[ -f "$TMP/flood-$1.$i.ready" ] || return 1
	done
}

printf '%-20s %6s %8s %8s %6s %6s %6s %6s %6s %6s %s\n' scenario conns \
    "REST ok" "entry ok" server rest kgp sc kgpd proxyd \
    "targets (legit 100 %, kgp <= 256 MiB, proxyd <= 128 MiB)" \
    >"$TMP/table"
printf '%-20s %7s %8s %6s %6s %6s %6s %7s %8s %9s %9s %5s\n' scenario \
    tried connected held fds-rs fds-kg closed longest "REST new" \
    "entry new" reconnect load >"$TMP/table2"
printf '%-20s %6s %6s %6s %6s %6s %6s %6s %6s %6s %6s %6s %9s\n' scenario \
    machin floods server rest kgp sc kgpd proxyd "q rest" "q kgp" \
    "q entr" overflows \
    >"$TMP/table3"

# scenario NAME [reconnect] -- [FLOOD-ARGS... --]...: attack with the
# floods (none for the baseline), each in cloud with its arguments,
# measure, add a row to each table
scenario() {
	local name=$1 recon=0 fpids=() ppid lpids=() f k n peaks miss fdesc=()
	local -A ok all
	local att=0 acc=0 held=0 closed=0 longest=0 rc=- fd_r fd_k t0 load
	local fcpu
	shift
	[ "${1:-}" = reconnect ] && { recon=1; shift; }
	case $only in
	'') ;;
	*",$name,"*) ;;
	*) return 0 ;;
	esac
	nscen=$((nscen + 1))
	log "$name: waiting for a served user and settled memory"
	if ! wait_for "$RECOVER_SEC" served; then
		printf '%-20s %s\n' "$name" "not run: the user was not served \
within $RECOVER_SEC s of the last scenario" >>"$TMP/table"
		failed_targets=1
		return 0
	fi
	memory_settled
	fd_r=$(fd_count "$rest_w")
	fd_k=$(fd_count "$kgp_w")
	rm -f "$TMP/stop" "$TMP/probe-$name".* "$TMP/flood-$name".*
	"$PYTHON" "$STRESS_DIR/procpeak.py" "$TMP/peak-$name" "$SERVER_PID" \
	    "$SC_PID" "rest=$REST_PORT" "kgp=$KGP_PORT" "entry=${ENTRY##*:}" &
	ppid=$!
	n=0
	while [ "${1:-}" = -- ] && [ $# -gt 1 ]; do
		shift
		f=()
		while [ $# -gt 0 ] && [ "$1" != -- ]; do
			f+=("$1")
			shift
		done
		n=$((n + 1))
		fdesc[n]="${f[*]:0:4}"
		# ip netns exec runs flood itself: $! is flood's pid
		ip netns exec "$CLOUD" "$FLOOD" -K \
		    -d $((READY_SEC + duration + RECONNECT_SEC + 120)) \
		    -j "$TMP/flood-$name.$n.json" \
		    -w "$TMP/flood-$name.$n.ready" "${f[@]}" \
		    >"$TMP/flood-$name.$n.out" 2>"$TMP/flood-$name.$n.err" &
		fpids+=($!)
		PIDS+=($!)
	done
	[ "${1:-}" = -- ] && shift
	t0=$(date +%s)
	if ! wait_for "$READY_SEC" floods_ready "$name" "$n"; then
		for k in $(seq 1 "$n"); do
			[ -f "$TMP/flood-$name.$k.ready" ] ||
			    echo "  $name: flood $k (${fdesc[k]}) had not" \
			    "tried its count in $READY_SEC s" >>"$TMP/notes"
		done
	fi
	log "$name: $n floods up in $(( $(date +%s) - t0 )) s;" \
	    "measuring for $duration s"
	for k in rest entry rest-new entry-new; do
		probe_loop "$k" "$TMP/probe-$name.$k" &
		lpids+=($!)
	done
	# the measurement is a time window, not a wait for a condition
	sleep "$duration"
	touch "$TMP/stop"
	wait "${lpids[@]}"
	load=$(cut -d' ' -f1 /proc/loadavg)
	[ "$recon" = 1 ] && rc=$(reconnect)
	fcpu=0
	for f in "${fpids[@]}"; do
		fcpu=$((fcpu + $(cpu_ticks "$f")))
	done
	fcpu=$((100 * fcpu / $(getconf CLK_TCK) / ($(date +%s) - t0 + 1)))
	for f in "${fpids[@]}"; do
		kill -TERM "$f" 2>/dev/null
	done
	for f in "${fpids[@]}"; do
		wait "$f" 2>/dev/null
	done
	kill -TERM "$ppid"
	wait "$ppid"
	peaks=$(cat "$TMP/peak-$name" 2>/dev/null)
	# shellcheck disable=SC2086
	set -- $peaks
	for k in "$@"; do
		local "pk_${k%%=*}=${k#*=}"
	done
	for f in "$TMP/flood-$name".*.err; do
		[ -f "$f" ] || continue
		grep -v '^flood: ' "$f" | sed "s/^/  $name: flood: /" |
		    head -n 3 >>"$TMP/notes"
	done
	for f in "$TMP/flood-$name".*.out; do
		[ -f "$f" ] || continue
		# attempts N opened N failed N open-max N open-end N closed N
		# longest-closed S
		read -r _ a _ o _ _ _ m _ _ _ c _ l <"$f"
		att=$((att + ${a:-0}))
		acc=$((acc + ${o:-0}))
		held=$((held + ${m:-0}))
		closed=$((closed + ${c:-0}))
		longest=$(echo "${l:-0} $longest" |
		    awk '{ print ($1 > $2 ? $1 : $2) }')
	done
	for k in rest entry rest-new entry-new; do
		all[$k]=$(wc -l <"$TMP/probe-$name.$k")
		ok[$k]=$(grep -c '^ok' "$TMP/probe-$name.$k")
	done
	miss=
	for k in rest entry rest-new entry-new; do
		[ "${ok[$k]}" = "${all[$k]}" ] ||
		    miss="$miss $k $(pct "${ok[$k]}" "${all[$k]}")%,"
	done
	[ "${pk_kgp:-0}" -le $((256 * 1024)) ] ||
	    miss="$miss kgp $(kib_mib "$pk_kgp") MiB,"
	[ "${pk_proxyd:-0}" -le $((128 * 1024)) ] ||
	    miss="$miss proxyd $(kib_mib "$pk_proxyd") MiB,"
	[ "$rc" = none ] && miss="$miss no reconnect,"
	[ -n "$miss" ] && failed_targets=1
	printf '%-20s %6s %8s %8s %6s %6s %6s %6s %6s %6s %s\n' "$name" \
	    "${FLOOD_CONNS:-0}" "${ok[rest]}/${all[rest]}" \
	    "${ok[entry]}/${all[entry]}" \
	    "$(kib_mib "${pk_server:-0}")" "$(kib_mib "${pk_rest:-0}")" \
	    "$(kib_mib "${pk_kgp:-0}")" "$(kib_mib "${pk_sc:-0}")" \
	    "$(kib_mib "${pk_kgpd:-0}")" "$(kib_mib "${pk_proxyd:-0}")" \
	    "$([ -n "$miss" ] && echo "NOT met:${miss%,}" || echo met)" \
	    >>"$TMP/table"
	printf '%-20s %7s %8s %6s %6s %6s %6s %7s %8s %9s %9s %5s\n' "$name" \
	    "$att" "$acc" "$held" "$(above "${pk_fd_rest:-0}" "$fd_r")" \
	    "$(above "${pk_fd_kgp:-0}" "$fd_k")" "$closed" "$longest" \
	    "${ok[rest-new]}/${all[rest-new]}" \
	    "${ok[entry-new]}/${all[entry-new]}" "$rc" "$load" \
	    >>"$TMP/table2"
	printf '%-20s %6s %6s %6s %6s %6s %6s %6s %6s %6s %6s %6s %9s\n' \
	    "$name" "${pk_cpu_machine:-0}" "$fcpu" \
	    "${pk_cpu_server:-0}" "${pk_cpu_rest:-0}" "${pk_cpu_kgp:-0}" \
	    "${pk_cpu_sc:-0}" "${pk_cpu_kgpd:-0}" "${pk_cpu_proxyd:-0}" \
	    "${pk_q_rest:-0}" "${pk_q_kgp:-0}" "${pk_q_entry:-0}" \
	    "${pk_listen_overflow:-0}" >>"$TMP/table3"
	for k in rest entry rest-new entry-new; do
		f=$(grep -v '^ok' "$TMP/probe-$name.$k" | cut -d' ' -f1-2 |
		    sort | uniq -c | sort -rn | head -n 3 | tr -s ' ' |
		    tr '\n' ';')
		[ -n "$f" ] || continue
		echo "  $name: $k failures:$f connected after (ms):" \
		    "$(grep -v '^ok' "$TMP/probe-$name.$k" | cut -d' ' -f4 |
		    tr '\n' ' ')" >>"$TMP/notes"
	done
	log "$name: $(tail -n 1 "$TMP/table")"
	log "$name: $(tail -n 1 "$TMP/table2")"
	kill -0 "$SC_PID" 2>/dev/null || fail "sc died in $name"
	kill -0 "$SERVER_PID" 2>/dev/null || fail "sc-server died in $name"
	rest_w=$(server_worker rest)
	kgp_w=$(server_worker kgp)
}

# the start of a TLS record of a ClientHello: 512 bytes that never come
HELLO='\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03'
STALL_REQ="GET $(app_url "/bytes/$STALL_SIZE") HTTP/1.1\\r\\nHost: $APP_IP:$APP_PORT\\r\\n\\r\\n"
Q=$((CONNS / 4))
H=$((STALLED / 2))

# the floods of a scenario, added to FARGS, from SRC (many or one):
# src SRC SECOND-OCTET COUNT gives the many addresses 127.OCTET.0.1 and
# up, one for each connection, or the one
FARGS=()
add_flood() {
	FARGS+=(-- "$@")
}
src() {
	if [ "$1" = many ]; then
		echo "127.$2.0.1+$3"
	else
		echo "$ONE"
	fi
}
kgp_floods() {
	add_flood -m silent -t "$KGP_HOSTPORT" -n "$Q" -r 500 \
	    -s "$(src "$1" 11 "$Q")"
	add_flood -m silent -t "$KGP_HOSTPORT" -n "$Q" -r 500 -p "$HELLO" \
	    -s "$(src "$1" 12 "$Q")"
	add_flood -m tls-hello -t "$KGP_HOSTPORT" -n "$Q" -r 500 \
	    -s "$(src "$1" 13 "$Q")"
	add_flood -m tls-done -t "$KGP_HOSTPORT" -n "$Q" -r 500 \
	    -s "$(src "$1" 14 "$Q")"
}
rest_floods() {
	add_flood -m slow -i 5-10 -t "$REST_HOSTPORT" -n "$CONNS" \
	    -s "$(src "$1" 21 "$CONNS")"
}
entry_floods() {
	add_flood -m slow -i 5-10 -t "$ENTRY" -n "$CONNS" \
	    -s "$(src "$1" 31 "$CONNS")"
}
stall_floods() {
	add_flood -m stall -t "$ENTRY" -n "$H" -r 250 -b 4096 \
	    -p "$STALL_REQ" -s "$(src "$1" 41 "$H")"
	add_flood -m stall -t "$ENTRY" -n "$H" -r 250 -b 4096 \
	    -k "$STALL_READ" -p "$STALL_REQ" -s "$(src "$1" 42 "$H")"
}

# run NAME [reconnect] CONNS SRC FLOODS...: a scenario with the floods
# of these functions, from SRC
run() {
	local name=$1 recon="" conns src fn
	shift
	[ "$1" = reconnect ] && { recon=reconnect; shift; }
	conns=$1
	src=$2
	shift 2
	FARGS=()
	for fn in "$@"; do
		"$fn" "$src"
	done
	FLOOD_CONNS=$conns scenario "$name" $recon "${FARGS[@]}"
}

FLOOD_CONNS=0 scenario baseline
for v in many one; do
	run "kgp-preauth-$v" reconnect "$CONNS" "$v" kgp_floods
	run "slowloris-rest-$v" "$CONNS" "$v" rest_floods
	run "slowloris-entry-$v" "$CONNS" "$v" entry_floods
	run "stalled-$v" "$STALLED" "$v" stall_floods
done
run all-many reconnect $((3 * CONNS + STALLED)) many kgp_floods \
    rest_floods entry_floods stall_floods

{
	echo "== sc stress, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores," \
	    "$(awk '/MemTotal/ { print int($2 / 1048576) }' /proc/meminfo)" \
	    "GiB, Linux $(uname -r), $(git -C "$top" describe --always \
	    --dirty 2>/dev/null || echo '?')"
	echo "   load average before: $LOAD0; after: $(cut -d' ' -f1-3 \
	    /proc/loadavg)"
	echo "   ${duration} s measured a scenario, once its floods were up;" \
	    "legitimate requests once a second each, ${PROBE_TIMEOUT} s" \
	    "timeout; peak RSS in MiB; sc-server's RLIMIT_NOFILE $nofile"
	cat "$TMP/table"
	echo
	echo "   the attack: connections tried and connected (the TCP" \
	    "handshake seen done by the flood,"
	echo "   which a full accept queue may leave half-open on the" \
	    "server), the most the floods held at once,"
	echo "   the most descriptors the REST and KGP workers held above" \
	    "their own, connections the"
	echo "   server closed and the longest life of one (s); requests" \
	    "from new addresses;"
	echo "   the tunnel back after kill -9 of kgpd (s); the load average" \
	    "(1 min) at the end"
	cat "$TMP/table2"
	echo
	echo "   the load: the machine's CPU busy (% of all its cores, anyone's)," \
	    "the CPU of the floods"
	echo "   and of each process over the scenario (% of one" \
	    "core), the longest accept"
	echo "   queue of the REST, KGP and entry listeners, connections the" \
	    "kernel refused for a full"
	echo "   accept queue (ListenOverflows)"
	cat "$TMP/table3"
	cat "$TMP/notes" 2>/dev/null
} >"$TMP/report"
cat "$TMP/report"
[ -n "$outfile" ] && cp "$TMP/report" "$outfile"
[ "$failed_targets" = 0 ] || fail "targets not met (see the tables)"
e2e_done
