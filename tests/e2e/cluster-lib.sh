# What the cluster tests share (issue 21), sourced after lib.sh and
# client-lib.sh: node a is the usual server (start_server --node a),
# node b a second sc-server in cloud on ports of its own.

REST_B=http://$CLOUD_IP:4401/rest/v1

# start_b [shared] [ARGS...]: node b on its own state directory, with
# a's KGP key pair when shared is given (one a cluster's clients pin),
# ARGS added to its command line; waits for its REST API
start_b() {
	mkdir -p -m 0700 "$TMP/state-b"
	if [ "${1:-}" = shared ]; then
		cp "$TMP/state/server.key" "$TMP/state/server.crt" "$TMP/state-b/" ||
		    fail "cannot copy node a's key pair"
		shift
	fi
	ip netns exec "$CLOUD" "$SC_SERVER" -d -v -s "$TMP/state-b" --node b \
	    -R "$CLOUD_IP:4401" -K "$CLOUD_IP:4444" -G "$CLOUD_IP:4481" "$@" \
	    >>"$TMP/server-b.log" 2>&1 &
	SERVER_B=$!
	PIDS+=("$SERVER_B")
	wait_for 10 cloud curl -sS --max-time 1 -o /dev/null "$REST_B/" ||
	    fail "node b's REST API does not answer"
}

# node_of ID: the node that holds tunnel ID's session ('-': none)
node_of() {
	db_query "SELECT coalesce(node, '-') FROM tunnels WHERE id = '$1'"
}

node_is() {
	[ "$(node_of "$1")" = "$2" ]
}

# held NODE N: NODE's row says it holds N sessions
held() {
	[ "$(db_query "SELECT tunnels FROM nodes WHERE name = '$1'")" = "$2" ]
}

# tunnel_on URL ID FIELD: a field of tunnel ID through the REST API at URL
tunnel_on() {
	cloud curl -sS --max-time 5 -u "$SC_USER:$KEY" "$1/$SC_USER/tunnels/$2" |
	    json_get "j['$3']"
}
