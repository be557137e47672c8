#!/bin/bash
# A node drained with "sc-server node drain" (issue 21): two nodes on
# one PostgreSQL, a and b (b with a's KGP key pair), sc "two" placed on
# b carries a slow 6 MiB download through b's entry proxy.
#  - sc-server node drain b: the node list says draining, b sends GOAWAY
#    to its client and stops taking connections; the download running
#    on b completes byte-exact (its digest); sc moves to a (the REST API
#    no longer names a draining node) and fetches a page through a;
#  - b exits 0 once no session is left, within its drain bound; its row
#    says down.
SC_DB=pg
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/client-lib.sh"
. "$(dirname "$0")/cluster-lib.sh"
e2e_init
start_server --node a
start_app

start_b shared

sc_v4 one -i one-$$
sc_ready one
wait_for 10 held a 1 || fail "node a's row does not say it holds 1 tunnel"
sc_v4 two -i two-$$
sc_ready two
id2=$(sc_id two)
wait_for 5 node_is "$id2" b || fail "sc two's tunnel is held by '$(node_of "$id2")', not b"
entry_b=$(tunnel_on "$REST_B" "$id2" entry_proxy)
entry_a=$(tunnel_on "$REST_URL" "$id2" entry_proxy)
[ -n "$entry_b" ] && [ -n "$entry_a" ] || fail "entry proxies of $id2: b '$entry_b', a '$entry_a'"

# the download through b, 6 MiB at 1 MiB/s, across the drain
SIZE=$((6 * 1024 * 1024))
want=$(gen_sha256 "$SIZE" 33)
cloud curl -sS --max-time 60 --limit-rate 1M -x "http://$entry_b" -o "$TMP/dl" \
    "$(app_url "/bytes/$SIZE?seed=33")" 2>"$TMP/dl.err" &
DL=$!
PIDS+=("$DL")
wait_for 10 test -s "$TMP/dl" || fail "the download did not start"

"$SC_SERVER" -s "$TMP/state" node drain b >"$TMP/drain.out" ||
    fail "sc-server node drain b: $(cat "$TMP/drain.out")"
t0=$(date +%s%N)
draining() { "$SC_SERVER" -s "$TMP/state" node list | grep -Eq '^b .* draining '; }
draining || fail "node list does not say b is draining"
wait_for 10 grep -q "node b: draining" "$TMP/server-b.log" ||
    fail "b does not say it drains"
fetched() { fetch_via "$entry_a" drained; }
wait_for 30 fetched || fail "no page through a's entry proxy within 30 s of the drain"
ms=$((($(date +%s%N) - t0) / 1000000))
grep -q "Moving to the tunnel server at $CLOUD_IP:4443" "$TMP/two.log" ||
    fail "sc two does not say it moves to a"
wait "$DL" || fail "the download through b failed: $(cat "$TMP/dl.err")"
[ "$(sha256sum <"$TMP/dl" | cut -d' ' -f1)" = "$want" ] ||
    fail "the download through b is not byte-exact ($(stat -c %s "$TMP/dl") bytes)"
ok "drain: sc two moved to a after $ms ms; the 6 MiB download running on b completed byte-exact"

wait_for 30 not_running "$SERVER_B" || fail "b still runs 30 s after the drain"
wait "$SERVER_B"
st=$?
[ "$st" = 0 ] || fail "b exited $st after the drain"
[ "$(db_query "SELECT state FROM nodes WHERE name = 'b'")" = down ] ||
    fail "b's row says '$(db_query "SELECT state FROM nodes WHERE name = 'b'")'"
! not_running "${SCPID[two]}" || fail "sc two exited"
ok "b exited 0 after the drain, its row says down; sc two runs on"
e2e_done
