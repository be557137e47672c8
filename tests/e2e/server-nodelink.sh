#!/bin/bash
# Node links (issue 21): two sc-server nodes on one PostgreSQL, C on
# $CLOUD_IP, A on $A_IP (both in the cloud namespace, each with its own
# state directory, --node nodec and nodea; A with -P: its entry ports
# want the owner's credentials).  The client (office) is
# connected to C; a browser (curl, cloud) goes to A, whose KGP worker
# asks where the tunnel's session is and forwards the connection to C
# over a KGP node link (TLS, C's certificate pinned, a HELLO with the
# node flag and the cluster's node secret).
#  1. A's entry port of the tunnel: 407 without credentials (A checks
#     them, -P); with them 64 MiB down and 64 MiB up, byte-exact
#     (digests); the link is logged up on both nodes and C's entry
#     serves the request as from nodea;
#     C's metrics count no entry connection for them (A's counted them);
#  2. A's gateway (-G): a download of 64 MiB, byte-exact;
#  3. a node HELLO with a wrong secret: ERROR code 3, C logs it; with
#     the right one, a stream naming an unknown tunnel is REFUSEd (8);
#  4. C killed -9 during a download through A: that download fails, a
#     download through A of a tunnel whose client is on A goes on and
#     ends byte-exact; A answers 502 or 503 for C's tunnel (503 once
#     C's row says it is down), and 200 again once C is back and the
#     client with it;
#  5. C restarted without the tunnel's client, the tunnel's node
#     written back to C (as when a lookup races a move): C REFUSEs the
#     stream, and A's browser gets a 502 whose body names C's reason,
#     not a closed connection.
#
# C's row in the table nodes (its heartbeat) and the tunnel's node are
# written by the nodes themselves (sc-server(8), CLUSTER).
SC_DB=pg
. "$(dirname "$0")/lib.sh"
e2e_init
prom_init

A_IP=10.216.$N.1
A_REST=http://$A_IP:$REST_PORT/rest/v1
A_GW=$A_IP:4480
cloud ip addr add "$A_IP/32" dev lo
office ip route add "$A_IP/32" via "$CLOUD_IP"

start_server --node nodec -g 3600 -m "$CLOUD_IP:9100"
start_app
start_sc
C_PID=$SERVER_PID

# C's row (its first heartbeat) and the tunnel's session on C, as the
# nodes write them
c_row() {
	[ "$(db_query "SELECT state FROM nodes WHERE name = 'nodec'")" = up ] &&
	    [ "$(db_query "SELECT node FROM tunnels WHERE id = '$TUNNEL_ID'")" = nodec ]
}
wait_for 10 c_row || fail "node C's row or tunnels.node not written: $(db_query "SELECT name, state FROM nodes")"

# node A, after the tunnel: it learns it from the database
ip netns exec "$CLOUD" "$SC_SERVER" -d -v -s "$TMP/stateA" \
    -R "$A_IP:$REST_PORT" -K "$A_IP:$KGP_PORT" -E "$A_IP" -H "$A_IP" \
    -G "$A_GW" -A "$A_IP/32" -P --node nodea -g 3600 >>"$TMP/serverA.log" 2>&1 &
A_PID=$!
PIDS+=("$A_PID")
wait_for 10 cloud curl -sS --max-time 1 -o /dev/null "$A_REST/" ||
    fail "node A's REST API does not answer"
# entry_of REST ID: the tunnel's entry proxy as that node's REST says
entry_of() {
	cloud curl -sS --max-time 5 -u "$SC_USER:$KEY" "$1/$SC_USER/tunnels?full=true" |
	    json_get "[t['entry_proxy'] for t in j if t['id'] == '$2'][0]"
}
a_entry_up() {
	A_ENTRY=$(entry_of "$A_REST" "$TUNNEL_ID" 2>/dev/null)
	case $A_ENTRY in "$A_IP":*) return 0 ;; esac
	return 1
}
wait_for 15 a_entry_up || fail "node A has no entry proxy of tunnel $TUNNEL_ID: '$A_ENTRY'"
log "node A's entry of tunnel $TUNNEL_ID: $A_ENTRY (C's: $ENTRY)"

# via_a [curl args]: curl in cloud through node A's entry of the
# tunnel, with the owner's credentials (-P)
via_a() {
	cloud curl -sS --max-time 120 -x "http://$A_ENTRY" \
	    --proxy-user "$SC_USER:$KEY" "$@"
}
code=$(cloud curl -sS --max-time 10 -x "http://$A_ENTRY" -o /dev/null \
    -w '%{http_code}' "$(app_url /text/noauth)")
[ "$code" = 407 ] || fail "node A without proxy credentials: $code, want 407"

# 1. 64 MiB each way through A's entry
SIZE=$((64 * 1024 * 1024))
want=$(gen_sha256 "$SIZE" 21)
t0=$(date +%s%N)
via_a -o "$TMP/down" "$(app_url "/bytes/$SIZE?seed=21")" 2>"$TMP/down.err" ||
    fail "the download through node A failed: $(cat "$TMP/down.err")"
ms=$((($(date +%s%N) - t0) / 1000000))
got=$(sha256sum "$TMP/down" | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "the download through A: digest $got, want $want ($(stat -c %s "$TMP/down") bytes)"
grep -q "node nodec: link to $CLOUD_IP port $KGP_PORT up" "$TMP/serverA.log" ||
    fail "node A logged no link to nodec"
grep -q "node nodea: link from [0-9.]*:[0-9]* up" "$TMP/server.log" ||
    fail "node C logged no link from nodea"
grep -q "tunnel $TUNNEL_ID: GET $(app_url "/bytes/$SIZE?seed=21") from .* via nodea" \
    "$TMP/server.log" || fail "node C's entry did not log the request from nodea"
ok "node A's entry (-P): 407 without credentials; with them 64 MiB down" \
    "to the client on node C in $ms ms, byte-exact ($got)"
"$PYTHON" "$E2E_DIR/app.py" gen "$SIZE" 22 >"$TMP/up.bin"
want=$(sha256sum "$TMP/up.bin" | cut -d' ' -f1)
via_a -o "$TMP/up.json" --data-binary "@$TMP/up.bin" \
    -H 'Content-Type: application/octet-stream' "$(app_url /sink)" \
    2>"$TMP/up.err" || fail "the upload through node A failed: $(cat "$TMP/up.err")"
rm -f "$TMP/up.bin"
got=$(json_get "j['sha256']" <"$TMP/up.json")
len=$(json_get "j['length']" <"$TMP/up.json")
[ "$got" = "$want" ] && [ "$len" = "$SIZE" ] ||
    fail "the upload through A: $len bytes, digest $got, want $SIZE and $want"
ok "64 MiB up through node A, byte-exact at the app ($got)"

# 2. A's gateway: the tunnel by its name
want=$(gen_sha256 "$SIZE" 23)
code=$(cloud curl -sS --max-time 120 -x "http://$A_GW" \
    --proxy-user "$SC_USER+$TUNNEL_NAME:$KEY" -o "$TMP/gw" -w '%{http_code}' \
    "$(app_url "/bytes/$SIZE?seed=23")" 2>"$TMP/gw.err") ||
    fail "the download through A's gateway failed: $(cat "$TMP/gw.err")"
got=$(sha256sum "$TMP/gw" | cut -d' ' -f1)
[ "$code" = 200 ] && [ "$got" = "$want" ] ||
    fail "through A's gateway: $code, digest $got, want $want"
rm -f "$TMP/gw" "$TMP/down"
ok "64 MiB through node A's gateway (-G) to the client on node C, byte-exact"

# the browsers' connections went to A only: C serves their streams
# (counted in the same figures) but accepted none of them
c_metric() {
	cloud curl -sS --max-time 5 -o "$TMP/metricsC" "http://$CLOUD_IP:9100/metrics" &&
	    [ "$(prom_value "$TMP/metricsC" "$1")" -ge "$2" ] 2>/dev/null
}
wait_for 10 c_metric sc_server_streams_total 3 ||
    fail "node C's metrics: $(grep streams_total "$TMP/metricsC")"
n=$(prom_value "$TMP/metricsC" sc_server_entry_connections_total)
[ "$n" = 0 ] || fail "node C counts $n entry connections for browsers that connected to A, want 0"
ok "a browser's connection forwarded from A to C is not counted by C"

# 3. a node HELLO: a wrong secret, then an unknown tunnel
ans=$(cloud "$PYTHON" "$E2E_DIR/nodehello.py" "$CLOUD_IP" "$KGP_PORT" \
    intruder "$(openssl rand -hex 32)") || fail "nodehello: $ans"
case $ans in "error 3 "*) ;; *) fail "a wrong node secret: '$ans', want ERROR 3" ;; esac
ans1=$ans
wait_for 5 grep -q "node intruder: wrong node secret, refused" "$TMP/server.log" ||
    fail "node C did not log the wrong node secret"
SECRET=$(db_query "SELECT value FROM cluster WHERE name = 'node-secret'")
[ ${#SECRET} = 64 ] || fail "the cluster's node-secret: '$SECRET'"
ans=$(cloud "$PYTHON" "$E2E_DIR/nodehello.py" "$CLOUD_IP" "$KGP_PORT" \
    nodeb "$SECRET" 0123456789abcdef0123456789abcdef) || fail "nodehello: $ans"
[ "$(echo "$ans" | tail -n 1 | cut -d' ' -f1,2)" = "refuse 8" ] ||
    fail "a stream for an unknown tunnel: '$ans', want REFUSE 8"
grep -q "node nodeb: a stream for unknown tunnel 0123456789abcdef0123456789abcdef, refused" \
    "$TMP/server.log" || fail "node C did not log the unknown tunnel"
kill -0 "$C_PID" || fail "node C died"
ok "a node HELLO with a wrong secret: '$ans1' ERROR 3, logged;" \
    "a stream for an unknown tunnel: REFUSE 8, logged"

# 4. C killed -9 during a download through A
sc_a_up() {
	rm -f "$TMP/ready.a"
	ip netns exec "$OFFICE" "$SC" -u "$SC_USER" -k "$KEY" -x "$A_REST" \
	    -i "nodea-$$" -f "$TMP/ready.a" --ctl-socket "$TMP/ctl.a.sock" \
	    >"$TMP/sc.a.log" 2>&1 &
	PIDS+=($!)
	wait_for 30 test -e "$TMP/ready.a" || fail "sc on node A not ready"
}
sc_a_up
ID_A=$(sed -n 's/.*Tunnel ID: \([0-9a-f]*\).*/\1/p' "$TMP/sc.a.log" | head -n 1)
A2_ENTRY=$(entry_of "$A_REST" "$ID_A")
case $A2_ENTRY in "$A_IP":*) ;; *) fail "the tunnel on A: entry '$A2_ENTRY'" ;; esac
# C's: 64 MiB, more than the windows and socket buffers on the way hold
# (at 2 MiB/s the first 16 MiB or so reach A's side within a second)
SIZE=$((16 * 1024 * 1024))
want_a=$(gen_sha256 "$SIZE" 31)
cloud curl -sS --max-time 60 --limit-rate 2M -x "http://$A2_ENTRY" \
    --proxy-user "$SC_USER:$KEY" \
    -o "$TMP/dl.a" "$(app_url "/bytes/$SIZE?seed=31")" 2>"$TMP/dl.a.err" &
DL_A=$!
PIDS+=("$DL_A")
cloud curl -sS --max-time 60 --limit-rate 2M -x "http://$A_ENTRY" \
    --proxy-user "$SC_USER:$KEY" \
    -o "$TMP/dl.c" "$(app_url "/bytes/$((4 * SIZE))?seed=32")" 2>"$TMP/dl.c.err" &
DL_C=$!
PIDS+=("$DL_C")
wait_for 10 test -s "$TMP/dl.a" || fail "the download on A did not start"
wait_for 10 test -s "$TMP/dl.c" || fail "the download via C did not start"
# the parent and every worker of node C at once
kill -KILL $(proc_tree "$C_PID")
t0=$(date +%s)
wait_for 15 not_running "$DL_C" || fail "the download via C still runs after C died"
wait "$DL_C" && fail "the download via the dead node C ended well"
secs=$(($(date +%s) - t0))
wait "$DL_A" || fail "the download of the tunnel on A failed: $(cat "$TMP/dl.a.err")"
got=$(sha256sum "$TMP/dl.a" | cut -d' ' -f1)
[ "$got" = "$want_a" ] || fail "the download on A: digest $got, want $want_a"
grep -q "node nodec: link closed" "$TMP/serverA.log" ||
    fail "node A did not log the link's end"
ok "node C killed -9: its stream through A ended within $secs s; A's own" \
    "tunnel's 16 MiB download went on, byte-exact"
status_a() {
	via_a -o /dev/null -w '%{http_code}' --max-time 10 "$(app_url /text/x)" 2>/dev/null
}
code=$(status_a)
case $code in 502|503) ;; *) fail "A for C's tunnel with C dead: $code" ;; esac
ok "A for C's tunnel, C dead: $code"
# C's heartbeat stops: NODE_DEAD_SEC (10 s) after it, a node marks C
# down and clears the tunnel's node
is_503() { [ "$(status_a)" = 503 ]; }
wait_for 25 is_503 || fail "A for C's tunnel, C down: $(status_a)"
c_down() { [ "$(db_query "SELECT state FROM nodes WHERE name = 'nodec'")" = down ]; }
wait_for 5 c_down || fail "C's row does not say down"
ok "A for C's tunnel, C's row down: 503"

# C back (the same state directory and name): the client comes back to it
start_c() {
	run_server --node nodec -g 3600
	C_PID=$SERVER_PID
}
start_c
is_200() { [ "$(status_a)" = 200 ]; }
wait_for 40 is_200 || fail "A for C's tunnel after C came back: $(status_a)"
ok "C and its client back: 200 through A again"

# 5. C's REFUSE reaches A's browser as a 502 that names the reason, not
#    a closed connection: the client killed -9 (it does not come back),
#    then C restarted at once, before its heartbeat is missed: the
#    tunnel's node is still C, which holds no session of it
kill -KILL $(proc_tree "$SC_PID")
kill -KILL $(proc_tree "$C_PID")
start_c
# C, back without the session, keeps the tunnel's node for the grace
# period (-g: its client could resume there); it is written again all
# the same, as in a race with a move (A's lookup saw C hold it)
db_query "UPDATE tunnels SET node = 'nodec' WHERE id = '$TUNNEL_ID'" >/dev/null
refused_a() {
	[ "$(via_a -o "$TMP/refused" -w '%{http_code}' --max-time 10 \
	    "$(app_url /text/x)" 2>/dev/null)" = 502 ] &&
	    grep -q "refused the connection: no client session here" "$TMP/refused"
}
wait_for 20 refused_a || fail "A for C's tunnel, C without its session:" \
    "$(cat "$TMP/refused" 2>/dev/null)"
grep -q "node nodec: stream [0-9]* refused: no client session here" \
    "$TMP/serverA.log" || fail "node A did not log C's refusal"
ok "A for C's tunnel, C without its session: C's REFUSE is a 502 at A:" \
    "$(cat "$TMP/refused")"
e2e_done
