# shellcheck shell=bash
# Helpers of the resume tests (resume-*.sh), sourced after lib.sh.
#
#   xfer_start / xfer_check   a large download and a large upload through
#                             the tunnel, sha256 checked on both ends
#   ka_start / ka_stop        a loop of small requests (three per proxy
#                             connection, keep-alive) in which every request
#                             must succeed
#   link_cut SECONDS          the veth link down, then up again
#   fw_init / fw_drop / fw_clear
#                             silently drop packets in office (nftables, or
#                             iptables when nft is missing)
#   wait_log SECONDS ERE      a line of sc's log
#   wait_pid SECONDS PID      a background job's exit status in WAIT_STATUS

# sc's log lines of issue 4 (see tests: they are what an operator greps)
RE_LOST_RESUMING='Tunnel connection [0-9]+ lost: .*; resuming'
RE_RESUMED='Tunnel connection [0-9]+ resumed after [0-9]+\.[0-9]{2} s, [0-9]+ bytes retransmitted'
# any break of the link, before and after issue 4
RE_LOST_ANY='Tunnel connection( [0-9]+)? lost'

now_ms() {
	echo $(( $(date +%s%N) / 1000000 ))
}

file_size() {
	stat -c %s "$1" 2>/dev/null || echo 0
}

# wait_log SECONDS ERE: sc's log has a line matching ERE within SECONDS
wait_log() {
	wait_for "$1" grep -qE "$2" "$TMP/sc.log"
}

# wait_pid SECONDS PID: wait for a background job of this shell; its exit
# status goes to WAIT_STATUS ("timeout" if it still runs after SECONDS)
wait_pid() {
	if ! wait_for "$1" not_running "$2"; then
		WAIT_STATUS=timeout
		return 1
	fi
	wait "$2"
	WAIT_STATUS=$?
	return 0
}

# link_cut SECONDS: the veth pair down (taken down in cloud: office's end
# loses its carrier, nothing gets through either way), then up again
link_cut() {
	cloud ip link set veth0 down || fail "cannot take the link down"
	sleep "$1"
	cloud ip link set veth0 up || fail "cannot bring the link up"
	wait_for 5 link_up cloud || fail "the link did not come back"
	wait_for 5 link_up office || fail "office's end of the link did not come back"
}

# xfer_start DOWN_BYTES UP_BYTES DOWN_RATE UP_RATE SECONDS: in cloud,
# through the entry proxy, a download of /bytes/DOWN_BYTES and an upload
# of UP_BYTES to /sink at the same time, limited to DOWN_RATE and UP_RATE
# (curl --limit-rate: the faults must find them in flight) and to SECONDS
xfer_start() {
	XFER_DOWN=$1
	XFER_UP=$2
	local down_rate=$3 up_rate=$4 secs=$5
	XFER_SEED=$((RANDOM + 1))
	XFER_DOWN_SHA=$(gen_sha256 "$XFER_DOWN" "$XFER_SEED")
	"$PYTHON" "$E2E_DIR/app.py" gen "$XFER_UP" $((XFER_SEED + 1)) \
	    >"$TMP/up.data" || fail "cannot make the upload's data"
	XFER_UP_SHA=$(sha256sum <"$TMP/up.data" | cut -d' ' -f1)
	rm -f "$TMP/down.data"
	ip netns exec "$CLOUD" curl -sS --max-time "$secs" \
	    --limit-rate "$down_rate" -x "http://$ENTRY" -o "$TMP/down.data" \
	    -w '%{http_code}' \
	    "$(app_url "/bytes/$XFER_DOWN?seed=$XFER_SEED")" \
	    >"$TMP/down.code" 2>"$TMP/down.err" &
	XFER_DOWN_PID=$!
	PIDS+=("$XFER_DOWN_PID")
	ip netns exec "$CLOUD" curl -sS --max-time "$secs" \
	    --limit-rate "$up_rate" -x "http://$ENTRY" -T "$TMP/up.data" \
	    -D "$TMP/up.hdr" -o "$TMP/up.body" -w '%{http_code}' \
	    "$(app_url /sink)" \
	    >"$TMP/up.code" 2>"$TMP/up.err" &
	XFER_UP_PID=$!
	PIDS+=("$XFER_UP_PID")
	XFER_T0=$(now_ms)
	log "download of $XFER_DOWN bytes (pid $XFER_DOWN_PID) and upload of" \
	    "$XFER_UP bytes (pid $XFER_UP_PID) started, at most $down_rate/s" \
	    "and $up_rate/s"
}

# xfer_progress: bytes received so far by the download
xfer_progress() {
	file_size "$TMP/down.data"
}

# download_past BYTES: the download has more than BYTES (for wait_for)
download_past() {
	[ "$(xfer_progress)" -gt "$1" ]
}

# xfer_check SECONDS: both transfers end within SECONDS, with status 200
# and the right digests (the download's as curl stored it, the upload's as
# the app hashed it)
xfer_check() {
	local got seen len ms
	wait_pid "$1" "$XFER_DOWN_PID" ||
	    fail "the download still runs $1 s later ($(xfer_progress) of" \
	    "$XFER_DOWN bytes)"
	[ "$WAIT_STATUS" = 0 ] ||
	    fail "the download: curl exit $WAIT_STATUS after $(xfer_progress)" \
	    "of $XFER_DOWN bytes: $(cat "$TMP/down.err")"
	[ "$(cat "$TMP/down.code")" = 200 ] ||
	    fail "the download: HTTP status $(cat "$TMP/down.code")"
	got=$(sha256sum <"$TMP/down.data" | cut -d' ' -f1)
	[ "$got" = "$XFER_DOWN_SHA" ] ||
	    fail "the download: $(xfer_progress) bytes, sha256 $got, want" \
	    "$XFER_DOWN bytes, $XFER_DOWN_SHA"
	ms=$(( $(now_ms) - XFER_T0 ))
	ok "download of $XFER_DOWN bytes complete, sha256 matches" \
	    "($XFER_DOWN_SHA)"

	wait_pid "$1" "$XFER_UP_PID" ||
	    fail "the upload still runs $1 s later"
	[ "$WAIT_STATUS" = 0 ] ||
	    fail "the upload: curl exit $WAIT_STATUS: $(cat "$TMP/up.err")"
	[ "$(cat "$TMP/up.code")" = 200 ] ||
	    fail "the upload: HTTP status $(cat "$TMP/up.code")"
	seen=$(sed -n 's/^X-Body-SHA256: *\([0-9a-f]*\).*/\1/ip' "$TMP/up.hdr")
	len=$(sed -n 's/^X-Body-Length: *\([0-9]*\).*/\1/ip' "$TMP/up.hdr")
	[ "$len" = "$XFER_UP" ] && [ "$seen" = "$XFER_UP_SHA" ] ||
	    fail "the upload: the app received $len bytes, sha256 '$seen';" \
	    "sent $XFER_UP bytes, $XFER_UP_SHA"
	ok "upload of $XFER_UP bytes complete, the app's sha256 matches" \
	    "($XFER_UP_SHA)"
	log "transfers done $ms ms after they started"
	rm -f "$TMP/down.data" "$TMP/up.data"
}

# ka_start SECONDS: the loop of small requests, in the background: every
# round is one curl (one proxy connection, so a new KGP stream) with three
# requests on it (keep-alive), each bounded to SECONDS; each request's
# outcome is a line of ka.log, each failure also one of ka.fail
ka_start() {
	local secs=$1
	rm -f "$TMP/ka.stop" "$TMP/ka.fail"
	mkdir -p "$TMP/ka"
	(
		i=0
		while [ ! -e "$TMP/ka.stop" ]; do
			i=$((i + 1))
			rm -f "$TMP/ka/"*
			t0=$(now_ms)
			ip netns exec "$CLOUD" curl -sS --max-time "$secs" \
			    -x "http://$ENTRY" -o "$TMP/ka/#1" \
			    -w '%{http_code}\n' \
			    "$(app_url "/text/ka$i-[1-3]")" \
			    >"$TMP/ka.codes" 2>"$TMP/ka.err"
			rc=$?
			t1=$(now_ms)
			for j in 1 2 3; do
				code=$(sed -n "${j}p" "$TMP/ka.codes")
				body=$(cat "$TMP/ka/$j" 2>/dev/null)
				line="round $i request $j: curl exit $rc, status"
				line="$line ${code:-none}, $((t1 - t0)) ms"
				if [ "$rc" != 0 ] || [ "$code" != 200 ] ||
				    [ "$body" != "response ka$i-$j" ]; then
					line="$line FAILED ($(head -c 200 \
					    "$TMP/ka.err"))"
					echo "$line" >>"$TMP/ka.fail"
				fi
				echo "$line" >>"$TMP/ka.log"
			done
			sleep 0.2
		done
	) &
	KA_PID=$!
	PIDS+=("$KA_PID")
}

# ka_requests: how many requests the loop has made so far
ka_requests() {
	local n
	n=$(grep -c '^round' "$TMP/ka.log" 2>/dev/null)
	echo "${n:-0}"
}

# ka_past N: the loop has made more than N requests (for wait_for)
ka_past() {
	[ "$(ka_requests)" -gt "$1" ]
}

# ka_stop SECONDS MIN: stop the loop (its request in flight may take up to
# SECONDS to end); at least MIN requests made, and none failed
ka_stop() {
	local n slowest
	touch "$TMP/ka.stop"
	wait_pid "$1" "$KA_PID" || fail "the request loop does not stop"
	n=$(ka_requests)
	if [ -s "$TMP/ka.fail" ]; then
		fail "$(wc -l <"$TMP/ka.fail") of $n requests of the loop" \
		    "failed, first: $(head -n 1 "$TMP/ka.fail")"
	fi
	[ "$n" -ge "$2" ] || fail "the request loop made only $n requests"
	slowest=$(sed -n 's/.*, \([0-9]*\) ms$/\1/p' "$TMP/ka.log" |
	    sort -n | tail -n 1)
	ok "the request loop: $n requests, every one answered right" \
	    "(slowest round ${slowest:-?} ms)"
}

# The packet filter in office: nft (table inet sc_e2e) or iptables
# (chains SC_E2E_IN/SC_E2E_OUT); skip the test when neither works.
fw_init() {
	if command -v nft >/dev/null &&
	    office nft add table inet sc_e2e 2>/dev/null; then
		FW=nft
		office nft add chain inet sc_e2e in \
		    '{ type filter hook input priority -10 ; }' &&
		office nft add chain inet sc_e2e out \
		    '{ type filter hook output priority -10 ; }' ||
		    fail "cannot make the nft chains"
	elif command -v iptables >/dev/null &&
	    office iptables -N SC_E2E_IN 2>/dev/null; then
		FW=iptables
		office iptables -N SC_E2E_OUT &&
		office iptables -I INPUT -j SC_E2E_IN &&
		office iptables -I OUTPUT -j SC_E2E_OUT ||
		    fail "cannot make the iptables chains"
	else
		skip "needs nftables or iptables in a network namespace"
	fi
	log "packet filter: $FW"
}

# fw_drop dport|sport PORT: drop, silently and in both directions, the TCP
# traffic of office whose remote (dport) or local (sport) port is PORT
fw_drop() {
	local out_match=$1 in_match
	case $1 in
	dport) in_match=sport ;;
	sport) in_match=dport ;;
	*) fail "fw_drop $1" ;;
	esac
	if [ "$FW" = nft ]; then
		office nft add rule inet sc_e2e out tcp "$out_match" "$2" \
		    counter drop &&
		office nft add rule inet sc_e2e in tcp "$in_match" "$2" \
		    counter drop
	else
		office iptables -A SC_E2E_OUT -p tcp --"$out_match" "$2" -j DROP &&
		office iptables -A SC_E2E_IN -p tcp --"$in_match" "$2" -j DROP
	fi || fail "cannot add the drop rules ($1 $2)"
}

# fw_dropped: how many packets the rules have dropped
fw_dropped() {
	if [ "$FW" = nft ]; then
		office nft list table inet sc_e2e |
		    sed -n 's/.*counter packets \([0-9]*\).*/\1/p'
	else
		office iptables -nvxL SC_E2E_OUT | awk 'NR > 2 {print $1}'
		office iptables -nvxL SC_E2E_IN | awk 'NR > 2 {print $1}'
	fi | awk '{s += $1} END {print s + 0}'
}

# fw_clear: remove every drop rule
fw_clear() {
	if [ "$FW" = nft ]; then
		office nft flush table inet sc_e2e
	else
		office iptables -F SC_E2E_OUT && office iptables -F SC_E2E_IN
	fi || fail "cannot remove the drop rules"
}

# kgp_sports: office's local ports of the established KGP connections
kgp_sports() {
	office ss -Htn state established dst "$CLOUD_IP" dport = ":$KGP_PORT" |
	    awk '{n = split($3, a, ":"); print a[n]}' | sort -n
}

# resumed_all: every connection that broke resumed (as many "resumed
# after" lines as "lost: ...; resuming" lines, at least one), none was
# started afresh (its streams would be lost), sc runs without an Error
# line and the REST API says the tunnel runs
resumed_all() {
	local lost resumed st
	lost=$(grep -cE "$RE_LOST_RESUMING" "$TMP/sc.log")
	resumed=$(grep -cE "$RE_RESUMED" "$TMP/sc.log")
	[ "$lost" -ge 1 ] ||
	    fail "no 'Tunnel connection <i> lost: ...; resuming' line:" \
	    "$(grep -E "$RE_LOST_ANY" "$TMP/sc.log" | tail -n 2)"
	[ "$lost" = "$resumed" ] ||
	    fail "$lost 'lost: ...; resuming' lines but $resumed 'resumed" \
	    "after' lines"
	grep -qE 'Tunnel connection [0-9]+ re-established' "$TMP/sc.log" &&
	    fail "a connection was re-established (a fresh session), not" \
	    "resumed"
	grep -q 'Error: ' "$TMP/sc.log" && fail "sc printed an Error: line"
	not_running "$SC_PID" && fail "sc exited"
	st=$(rest GET "/$SC_USER/tunnels/$TUNNEL_ID" | json_get "j['status']")
	[ "$st" = running ] || fail "REST status '$st', want running"
	ok "$lost connection breaks, $resumed resumes" \
	    "('$(grep -Eo "$RE_RESUMED" "$TMP/sc.log" | head -n 1)'), sc up," \
	    "the tunnel running"
}

# dl_start NAME BYTES RATE SECONDS: a download of /bytes/BYTES in cloud
# through the entry proxy, limited to RATE and SECONDS, into NAME.data;
# its pid is DL_PID_NAME, its URL DL_URL_NAME; its expected digest is
# computed meanwhile into NAME.sha (dl_check reads it)
dl_start() {
	local name=$1 size=$2 rate=$3 secs=$4 seed=$((RANDOM + 1)) pid
	rm -f "$TMP/$name.data"
	printf -v "DL_SIZE_$name" %s "$size"
	printf -v "DL_URL_$name" %s "$(app_url "/bytes/$size?seed=$seed")"
	ip netns exec "$CLOUD" curl -sS --max-time "$secs" --limit-rate "$rate" \
	    -x "http://$ENTRY" -o "$TMP/$name.data" -w '%{http_code}' \
	    "$(app_url "/bytes/$size?seed=$seed")" \
	    >"$TMP/$name.code" 2>"$TMP/$name.err" &
	pid=$!
	PIDS+=("$pid")
	printf -v "DL_PID_$name" %s "$pid"
	# while it runs (seconds under load for tens of MiB)
	rm -f "$TMP/$name.sha"
	gen_sha256 "$size" "$seed" >"$TMP/$name.sha.tmp" &&
	    mv "$TMP/$name.sha.tmp" "$TMP/$name.sha" &
	PIDS+=($!)
}

# dl_spread BYTES RATE SECONDS NAME...: a download each (dl_start), each
# started once the one before flows, so that the server puts each on a
# connection of its own (the least loaded one); then wait until every
# connection carries one stream
dl_spread() {
	local size=$1 rate=$2 secs=$3 d n
	shift 3
	n=$#
	for d in "$@"; do
		dl_start "$d" "$size" "$rate" "$secs"
		wait_for 10 dl_past "$d" $((256 << 10)) ||
		    fail "download $d does not start"
	done
	one_each() {
		[ "$(ctl_conns |
		    grep -c '^connection [0-9]*: up, .*, streams 1,')" = "$n" ]
	}
	wait_for 10 one_each ||
	    fail "the $n downloads are not one per connection: $(ctl_conns)"
}

# dl_size NAME: bytes received so far
dl_size() {
	file_size "$TMP/$1.data"
}

# dl_past NAME BYTES: more than BYTES received (for wait_for)
dl_past() {
	[ "$(dl_size "$1")" -gt "$2" ]
}

# dl_check NAME SECONDS: the download ends within SECONDS, status 200, the
# right size and sha256
dl_check() {
	local name=$1 pid sha size got
	pid=DL_PID_$name size=DL_SIZE_$name
	wait_pid "$2" "${!pid}" ||
	    fail "download $name still runs $2 s later ($(dl_size "$name")" \
	    "of ${!size} bytes)"
	[ "$WAIT_STATUS" = 0 ] ||
	    fail "download $name: curl exit $WAIT_STATUS after" \
	    "$(dl_size "$name") of ${!size} bytes: $(cat "$TMP/$name.err")"
	[ "$(cat "$TMP/$name.code")" = 200 ] ||
	    fail "download $name: HTTP status $(cat "$TMP/$name.code")"
	wait_for 60 test -s "$TMP/$name.sha" ||
	    fail "download $name: no expected digest after 60 s"
	sha=$(cat "$TMP/$name.sha")
	got=$(sha256sum <"$TMP/$name.data" | cut -d' ' -f1)
	[ "$got" = "$sha" ] ||
	    fail "download $name: $(dl_size "$name") bytes, sha256 $got," \
	    "want ${!size} bytes, $sha"
	rm -f "$TMP/$name.data"
	ok "download $name: ${!size} bytes, sha256 matches"
}

# RE_CONN: one connection line of `sc-ctl status`
RE_CONN='^connection [0-9]+: (up|broken|connecting|none), server [^ ]+, rtt [0-9]+\.[0-9] ms, streams [0-9]+, bytes [0-9]+ in [0-9]+ out, breaks [0-9]+, resumes [0-9]+, retransmitted [0-9]+ bytes, last break [^ ]+, kgpd pid [0-9]+$'

# ctl_conns: the connection lines of `sc-ctl status`
ctl_conns() {
	ctl_status | grep '^connection '
}
