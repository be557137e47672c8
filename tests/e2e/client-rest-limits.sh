#!/bin/bash
# sc and a REST API that says "too many requests" (429) or "not
# authorized" (401).  Each sc talks to its own tests/e2e/restfault.py,
# which passes every request on to sc-server's REST API except those its
# rules answer itself, and records when each came.
#   create429  the first POST /tunnels gets 429, Retry-After: 2: sc says
#              so, waits 2 s, sends it again and comes up;
#   create-far the POST gets 429, Retry-After: 3600: sc does not wait an
#              hour; it says why and exits 1 at once, having asked once;
#   delete429  at shutdown the DELETE gets 429, Retry-After: 2: sent again
#              after 2 s, then sc exits 0;
#   poll429    at shutdown the tunnel's GET gets 429, Retry-After: 2,
#              twice: asked again each 2 s, not every 0.5 s; exit 0;
#   poll401    at shutdown the GET gets 401: one GET, an error, exit at
#              once (it once asked every 0.5 s for 30 s);
#   delete401  the DELETE gets 401: the error, no GET after it, exit at
#              once.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/client-lib.sh"
e2e_init
start_server
start_app

TUNNEL_RE='/tunnels/[0-9a-f]+$'
port=4410
declare -A FPORT=()
# fault TAG RULE...: a restfault.py for sc TAG with these rules
fault() {
	local tag=$1 args=() r
	shift
	for r in "$@"; do
		args+=(--rule "$r")
	done
	port=$((port + 1))
	FPORT[$tag]=$port
	ip netns exec "$CLOUD" "$PYTHON" "$E2E_DIR/restfault.py" \
	    --listen "$CLOUD_IP:$port" --upstream "$CLOUD_IP:$REST_PORT" \
	    --log "$TMP/$tag.rest" "${args[@]}" >"$TMP/$tag.fault.log" 2>&1 &
	PIDS+=("$!")
	wait_for 10 grep -q listening "$TMP/$tag.fault.log" ||
	    fail "restfault for $tag does not start: $(cat "$TMP/$tag.fault.log")"
}

# sc_via TAG: sc with its REST API behind its restfault.py
sc_via() {
	local tag=$1
	shift
	sc_bg "$tag" -u "$SC_USER" -k "$KEY" -i "$TUNNEL_NAME-$tag" \
	    -x "http://$CLOUD_IP:${FPORT[$tag]}/rest/v1" -f "$TMP/$tag.ready" \
	    --ctl-socket "$TMP/$tag.sock" -d "$TMP/$tag.pid" "$@"
}

# requests TAG METHOD REGEXP: the recorded "SECONDS STATUS" of them
requests() {
	awk -v m="$2" -v re="$3" '$2 == m && $3 ~ re {print $1, $4}' \
	    "$TMP/$1.rest"
}

# gaps_at_least TAG METHOD REGEXP SECONDS: consecutive requests at
# least SECONDS apart
gaps_at_least() {
	requests "$1" "$2" "$3" | awk -v min="$4" '
	    NR > 1 && $1 - prev < min { bad = 1 } { prev = $1 }
	    END { exit bad }'
}

fault create429 '{"method": "POST", "path": "/tunnels$", "status": 429, "retry_after": 2, "count": 1}'
fault create-far '{"method": "POST", "path": "/tunnels$", "status": 429, "retry_after": 3600}'
fault delete429 '{"method": "DELETE", "path": "'$TUNNEL_RE'", "status": 429, "retry_after": 2, "count": 1}'
fault poll429 '{"method": "GET", "path": "'$TUNNEL_RE'", "status": 429, "retry_after": 2, "count": 2, "after": "DELETE"}'
fault poll401 '{"method": "GET", "path": "'$TUNNEL_RE'", "status": 401, "after": "DELETE"}'
fault delete401 '{"method": "DELETE", "path": "'$TUNNEL_RE'", "status": 401}'
for tag in create429 create-far delete429 poll429 poll401 delete401; do
	sc_via "$tag"
done

# --- start-up -----------------------------------------------------------
sc_ready create429 30
grep -q 'REST API: POST /tunnels: 429 Too Many Requests, retrying in 2 s (Retry-After)' \
    "$TMP/create429.log" || fail "create429: no line about the 429: $(grep -i 429 "$TMP/create429.log")"
[ "$(requests create429 POST '/tunnels$' | awk '{print $2}' | tr '\n' ' ')" = "429 200 " ] ||
    fail "create429: the POSTs were answered $(requests create429 POST '/tunnels$' | awk '{print $2}' | tr '\n' ' ')"
gaps_at_least create429 POST '/tunnels$' 1.9 ||
    fail "create429: the POST came again sooner than Retry-After: $(requests create429 POST '/tunnels$')"
fetch_via "$(entry_of "$(sc_id create429)")" c429 || fail "create429: the tunnel does not serve"
ok "POST /tunnels answered 429, Retry-After 2: said, sent again after 2 s, up and serving"

sc_exit create-far 20
[ "${SCSTATUS[create-far]}" = 1 ] ||
    fail "create-far: exit ${SCSTATUS[create-far]}, want 1 within 20 s"
grep -q 'Error: REST API: POST /tunnels: 429 Too Many Requests, retry after 3600 s: longer than sc may wait (60 s)' \
    "$TMP/create-far.log" || fail "create-far: $(grep Error "$TMP/create-far.log")"
[ "$(requests create-far POST '/tunnels$' | wc -l)" = 1 ] ||
    fail "create-far: $(requests create-far POST '/tunnels$' | wc -l) POSTs, want 1"
ok "Retry-After 3600: one POST, 'longer than sc may wait', exit 1"

for tag in delete429 poll429 poll401 delete401; do
	sc_ready "$tag" 30
done

# --- shutdown -----------------------------------------------------------
# stop TAG: SIGTERM; the seconds sc took to exit in STOPPED[TAG]
declare -A STOPPED=()
stop() {
	local t0 t1
	t0=$(date +%s%N)
	sc_term "$1" 40
	t1=$(date +%s%N)
	STOPPED[$1]=$(( (t1 - t0) / 1000000 ))
}

stop delete429
[ "${SCSTATUS[delete429]}" = 0 ] || fail "delete429: exit ${SCSTATUS[delete429]}"
[ "$(requests delete429 DELETE "$TUNNEL_RE" | awk '{print $2}' | tr '\n' ' ')" = "429 200 " ] ||
    fail "delete429: DELETEs answered $(requests delete429 DELETE "$TUNNEL_RE" | awk '{print $2}' | tr '\n' ' ')"
gaps_at_least delete429 DELETE "$TUNNEL_RE" 1.9 ||
    fail "delete429: the DELETE came again sooner than Retry-After"
grep -q 'REST API: DELETE /tunnels/[0-9a-f]*: 429 Too Many Requests, retrying in 2 s (Retry-After)' \
    "$TMP/delete429.log" || fail "delete429: no line about the 429"
ok "DELETE answered 429, Retry-After 2: sent again 2 s later, exit 0 (${STOPPED[delete429]} ms)"

stop poll429
[ "${SCSTATUS[poll429]}" = 0 ] || fail "poll429: exit ${SCSTATUS[poll429]}"
got=$(requests poll429 GET "$TUNNEL_RE" | awk '{print $2}' | tail -n 3 | tr '\n' ' ')
[ "$got" = "429 429 200 " ] || fail "poll429: the last GETs were answered $got"
requests poll429 GET "$TUNNEL_RE" | tail -n 3 >"$TMP/poll429.last"
awk 'NR > 1 && $1 - prev < 1.9 { bad = 1 } { prev = $1 } END { exit bad }' \
    "$TMP/poll429.last" ||
    fail "poll429: asked again sooner than Retry-After: $(cat "$TMP/poll429.last")"
ok "the shutdown's GET answered 429 twice: asked again every 2 s, exit 0 (${STOPPED[poll429]} ms)"

# stop_401 TAG GETS ERROR: SIGTERM; exit 0 within 5 s, GETS GETs after
# the DELETE, one DELETE, the Error: line
stop_401() {
	local tag=$1 gets=$2 error=$3 n
	stop "$tag"
	[ "${SCSTATUS[$tag]}" = 0 ] || fail "$tag: exit ${SCSTATUS[$tag]}"
	[ "${STOPPED[$tag]}" -lt 5000 ] ||
	    fail "$tag: took ${STOPPED[$tag]} ms to exit"
	n=$(awk '$2 == "DELETE" { d = 1 } d && $2 == "GET"' "$TMP/$tag.rest" |
	    wc -l)
	[ "$n" = "$gets" ] || fail "$tag: $n GETs after the DELETE, want $gets"
	n=$(requests "$tag" DELETE "$TUNNEL_RE" | wc -l)
	[ "$n" = 1 ] || fail "$tag: $n DELETEs, want 1"
	grep -q "Error: $error" "$TMP/$tag.log" ||
	    fail "$tag: $(grep Error "$TMP/$tag.log")"
}
stop_401 poll401 1 'cannot see whether the tunnel [0-9a-f]* is terminated: Not authorized'
ok "the shutdown's GET answered 401: one GET, the error, exit in ${STOPPED[poll401]} ms"
stop_401 delete401 0 'cannot delete the tunnel [0-9a-f]*: Not authorized'
ok "DELETE answered 401: the error, no poll, exit in ${STOPPED[delete401]} ms"
e2e_done
