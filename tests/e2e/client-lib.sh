# Helpers of the client-*.sh tests (sourced after lib.sh): several sc
# instances at once, each known by a tag.  Instance TAG writes its
# output to $TMP/TAG.log, its readyfile is $TMP/TAG.ready, its control
# socket $TMP/TAG.sock; its pid is SCPID[TAG].

declare -A SCPID=() SCSTATUS=()

# sc_bg TAG ARGS...: start sc in office with exactly these arguments
sc_bg() {
	local tag=$1
	shift
	rm -f "$TMP/$tag.ready"
	ip netns exec "$OFFICE" "$SC" "$@" >"$TMP/$tag.log" 2>&1 &
	SCPID[$tag]=$!
	PIDS+=("$!")
}

# sc_v4 TAG [flags]: the version 4 command line with the usual files
sc_v4() {
	local tag=$1
	shift
	sc_bg "$tag" -u "$SC_USER" -k "$KEY" -x "$REST_URL" \
	    -f "$TMP/$tag.ready" --ctl-socket "$TMP/$tag.sock" "$@"
}

# sc_ready TAG [SECONDS]: wait until TAG's readyfile is there; fails the
# test if sc exits first or takes longer
sc_ready() {
	local tag=$1 limit=${2:-30} i=0
	while [ ! -e "$TMP/$tag.ready" ]; do
		not_running "${SCPID[$tag]}" &&
		    fail "sc '$tag' exited before it was ready"
		[ "$i" -lt $((limit * 10)) ] ||
		    fail "sc '$tag' not ready within $limit s"
		sleep 0.1
		i=$((i + 1))
	done
	grep -q 'Sauce Connect is up, you may start your tests.' \
	    "$TMP/$tag.log" ||
	    fail "sc '$tag': readyfile there but no 'Sauce Connect is up' line"
}

# sc_id TAG: the tunnel id from TAG's 'Tunnel ID:' line
sc_id() {
	sed -n 's/.*Tunnel ID: \([0-9a-f]*\).*/\1/p' "$TMP/$1.log" | head -n 1
}

# sc_exit TAG SECONDS: wait for TAG to exit; SCSTATUS[TAG] = its exit
# status or "timeout" (only this shell can wait for it: not in $(...))
sc_exit() {
	local tag=$1 limit=$2 i=0 pid=${SCPID[$1]}
	while ! not_running "$pid"; do
		if [ "$i" -ge $((limit * 10)) ]; then
			SCSTATUS[$tag]=timeout
			return
		fi
		sleep 0.1
		i=$((i + 1))
	done
	wait "$pid"
	SCSTATUS[$tag]=$?
}

# sc_term TAG [SECONDS]: SIGTERM, then sc_exit
sc_term() {
	kill -TERM "${SCPID[$1]}" 2>/dev/null
	sc_exit "$1" "${2:-40}"
}

# tunnel_field ID EXPR: a field of tunnel ID from the REST API
tunnel_field() {
	rest GET "/$SC_USER/tunnels/$1" | json_get "j['$2']"
}

# fetch_via ENTRY WHAT: GET the app's /text/WHAT through entry proxy ENTRY
fetch_via() {
	local body
	body=$(cloud curl -sS --max-time 20 -x "http://$1" \
	    "$(app_url "/text/$2")") || return 1
	[ "$body" = "response $2" ]
}

# entry_of ID: the entry proxy of tunnel ID
entry_of() {
	tunnel_field "$1" entry_proxy
}

# office_firewall MARK: office reaches cloud's REST API and KGP port only
# from sockets marked MARK (an upstream proxy's, upproxy.py --mark)
office_firewall() {
	office nft add table inet e2epx || fail "nft add table"
	office nft add chain inet e2epx out \
	    '{ type filter hook output priority 0; }' || fail "nft add chain"
	office nft add rule inet e2epx out ip daddr "$CLOUD_IP" tcp dport \
	    "{ $REST_PORT, $KGP_PORT }" meta mark != "$1" reject with tcp reset ||
	    fail "nft add rule"
}
