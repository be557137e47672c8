#!/bin/bash
# Slow browsers do not starve the tunnel (issue 14, item 6).  STALL_N
# browsers (150 by default) GET 64 MiB answers through one tunnel: half
# of them an answer of known length (which kgpd reads from the app's
# socket, lent by proxyd) and stop reading after the first bytes, half a
# chunked one (which proxyd copies) and read it at 1 KB/s.  Beside them
# legitimate requests to another application must all succeed, each
# within LEGIT_MAX_S (2 s), and the processes the stalled streams cross
# must hold what their windows allow and no more: the peak RSS of
# sc-server's KGP worker, kgpd and proxyd stays under a fixed base plus
# the windows' budget plus a bound per stalled stream.
. "$(dirname "$0")/lib.sh"

n=${STALL_N:-150}
legit=12
legit_max=${LEGIT_MAX_S:-2}
size=$((64 * 1024 * 1024))
APP2_PORT=8081
# man/kgp.7, "Flow control"; man/sc.8, proxyd's buffer budget (KiB)
conn_budget=$((32 * 1024))
proc_budget=$((64 * 1024))
proxyd_budget=$((16 * 1024))
per_stream=64		# KiB: its window, its state, the allocator's slack
slack=$((16 * 1024))	# KiB: the opening burst, the allocator

# a sanitizer build keeps freed memory in quarantine: RSS says nothing
PROBE=${SANDBOX_PROBE:-$(dirname "$SC")/../tests/tools/sandbox-probe}
SANITIZER=
if [ -x "$PROBE" ] && "$PROBE" -i 2>/dev/null | grep -q sanitizer; then
	SANITIZER=1
fi

e2e_up

# another application: the slow answers come from the first one
ip netns exec "$OFFICE" "$PYTHON" "$E2E_DIR/app.py" serve --addr "$APP_IP" \
    --http-port "$APP2_PORT" --ready "$TMP/app2.ready" >"$TMP/app2.log" 2>&1 &
PIDS+=($!)
wait_for 10 test -f "$TMP/app2.ready" || fail "the second app did not start"

kgpd_pid=$(ctl_field pid-kgpd)
proxyd_pid=$(ctl_field pid-proxyd)
[ -n "$kgpd_pid" ] && [ -n "$proxyd_pid" ] ||
    fail "no pid-kgpd or pid-proxyd in sc-ctl status"
worker_pid=
for p in $(pgrep -P "$SERVER_PID"); do
	tr '\0' ' ' <"/proc/$p/cmdline" | grep -q -- '-W kgp' && worker_pid=$p
done
[ -n "$worker_pid" ] || fail "no KGP worker (sc-server -W kgp) found"
conns=$(ctl_status | grep -c '^connection [0-9]*: up')
[ "$conns" -ge 1 ] || fail "sc-ctl status shows no connection up"

# rss PID [VmHWM]: resident KiB now (or at its peak)
rss() {
	awk -v k="${2:-VmRSS}:" '$1 == k { print $2 }' "/proc/$1/status"
}
# what a namespace's TCP sockets hold queued, received and to send, KiB
# (kernel memory, not RSS)
tcp_kib() {
	"$1" ss -tnm state established 2>/dev/null |
	    sed -n 's/.*skmem:(r\([0-9]*\),.*,w\([0-9]*\),.*/\1 \2/p' |
	    awk '{ s += $1 + $2 } END { print int(s / 1024) }'
}
base_w=$(rss "$worker_pid")
base_k=$(rss "$kgpd_pid")
base_p=$(rss "$proxyd_pid")
log "before: KGP worker $base_w KiB, kgpd $base_k KiB, proxyd $base_p KiB" \
    "($conns KGP connections)"

# stallers NAME COUNT PATH RATE: a farm of slow browsers, held open
# until their standard input (a fifo on descriptor FD) closes
stallers() {
	mkfifo "$TMP/$1.in"
	cloud "$PYTHON" "$E2E_DIR/stallers.py" "$ENTRY" "$(app_url "$3")" \
	    "$2" 16384 "$4" <"$TMP/$1.in" >"$TMP/$1.out" 2>&1 &
	PIDS+=($!)
}
stallers stopped $((n / 2)) "/bytes/$size?seed=3" 0
stop_pid=$!
exec 7>"$TMP/stopped.in"
stallers trickle $((n - n / 2)) "/chunked/$size?seed=4" 1024
trickle_pid=$!
exec 8>"$TMP/trickle.in"
stalled=0
for f in stopped trickle; do
	wait_for 90 grep -q '^stalled ' "$TMP/$f.out" ||
	    fail "the slow browsers ($f) did not start: $(tail -n 5 "$TMP/$f.out")"
	read -r _ got failed < <(grep '^stalled ' "$TMP/$f.out")
	log "$f: $got slow browsers have their first bytes ($failed failed)"
	stalled=$((stalled + got))
done
[ "$stalled" = "$n" ] ||
    fail "only $stalled of $n slow browsers got their first bytes: $(head -n 3 "$TMP"/*.out)"

# wait until the answers stop flowing, but for the trickle (10 s at most)
last_out=-1
last_ms=0
settled() {
	local now ms
	ms=$(($(date +%s%N) / 1000000))
	[ $((ms - last_ms)) -ge 1000 ] || return 1
	now=$(ctl_field bytes-out)
	if [ $((now - last_out)) -lt $((n * 4096)) ]; then
		return 0
	fi
	last_out=$now
	last_ms=$ms
	return 1
}
wait_for 10 settled || log "the answers still flow (at $(ctl_field bytes-out) bytes)"
log "TCP buffers with $n slow streams: cloud $(tcp_kib cloud) KiB," \
    "office $(tcp_kib office) KiB (kernel memory; browsers' and apps' included)"

# legitimate requests to the other application, one after the other
good=0
worst=0
: >"$TMP/legit.out"
for i in $(seq 1 "$legit"); do
	out=$(cloud curl -sS --max-time 10 -x "http://$ENTRY" \
	    -w ' %{http_code} %{time_total}' \
	    "http://$APP_IP:$APP2_PORT/text/$i" 2>&1)
	echo "$out" >>"$TMP/legit.out"
	set -- $out
	if [ "$#" -ge 4 ] && [ "$1 $2" = "response $i" ] && [ "$3" = 200 ] &&
	    awk -v t="$4" -v m="$legit_max" 'BEGIN { exit !(t <= m) }'; then
		good=$((good + 1))
	fi
	t=${4:-10}
	case $t in *[!0-9.]*) t=10 ;; esac
	worst=$(awk -v a="$worst" -v b="$t" 'BEGIN { print (b > a ? b : a) }')
done
log "legitimate requests: $good of $legit within $legit_max s (slowest $worst s)"

# each process at its peak, against base + budget + n streams
budget=$((conns * conn_budget))
[ "$budget" -le "$proc_budget" ] || budget=$proc_budget
check_rss() {
	local name=$1 pid=$2 base=$3 budget=$4 peak now bound
	peak=$(rss "$pid" VmHWM)
	now=$(rss "$pid")
	bound=$((base + budget + n * per_stream + slack))
	log "$name: peak $peak KiB, now $now KiB with $n slow streams" \
	    "($(( (peak - base) / n )) KiB a stream at the peak); bound $bound KiB"
	[ "$peak" -le "$bound" ] || over="$over $name ($peak > $bound KiB)"
}
over=
check_rss "KGP worker" "$worker_pid" "$base_w" "$budget"
check_rss kgpd "$kgpd_pid" "$base_k" "$budget"
check_rss proxyd "$proxyd_pid" "$base_p" "$proxyd_budget"

exec 7>&- 8>&-
wait_for 20 not_running "$stop_pid"
wait_for 20 not_running "$trickle_pid"

[ "$good" = "$legit" ] ||
    fail "only $good of $legit legitimate requests succeeded within $legit_max s: $(tr '\n' ';' <"$TMP/legit.out")"
ok "$legit legitimate requests beside $n slow ones: all 200, slowest $worst s"
if [ -n "$SANITIZER" ]; then
	log "sanitizer build: freed memory stays in quarantine, RSS not checked"
else
	[ -z "$over" ] || fail "memory above the windows' bound:$over"
	ok "peak RSS of the KGP worker, kgpd and proxyd within their bounds"
fi
e2e_done
