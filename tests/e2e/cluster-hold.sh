#!/bin/bash
# A cluster node's HELLO for a tunnel it has not heard of yet (issue 21):
# two nodes on one PostgreSQL, a tunnel's client at node b.
#  1. a tunnel whose row was written with psql, without NOTIFY (so b
#     has not read it): its client's HELLO at b waits while b's parent
#     reads that one tunnel, and gets WELCOME, not "try again" (code 5);
#     b's log says the HELLO waited;
#  2. a tunnel the database does not have: refused with code 3 (unknown
#     tunnel) on the read's answer, not at the hold's bound (KGP_HOLD_MS,
#     1 s; that would be code 5 and a log line);
#  3. b's parent stopped: the HELLO waits its bound, then "try again"
#     (code 5), as before the hold (e2e-cluster-failover's quick retry);
#  4. three tunnels made through a while b's parent is stopped: once it
#     runs again it reads the three together (one statement: its log
#     says "3 tunnels read again ... at once"), and b lists them.
#  5. more HELLOs for made-up ids at once than KGP_HOLD_MAX (64), b's
#     parent stopped: 64 wait (one read asked each), those beyond are
#     told to try again (code 5) at once, HELLOs for an id whose read is
#     asked wait without asking again; b's /metrics counts 64 reads and
#     the refusals; once the parent runs again a made-up id is refused
#     (code 3) and a real tunnel's HELLO welcomed.
SC_DB=pg
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/client-lib.sh"
. "$(dirname "$0")/cluster-lib.sh"
e2e_init
start_server --node a
M_B=http://$CLOUD_IP:4419
start_b -m "$CLOUD_IP:4419"

# a tunnel made through a's REST API, its id and KGP secret
ans=$(cloud curl -sS --max-time 10 -u "$SC_USER:$KEY" -X POST \
    -d '{"tunnel_identifier": "held"}' "$REST_URL/$SC_USER/tunnels") ||
    fail "POST through a"
id=$(printf '%s' "$ans" | json_get "j['id']")
secret=$(printf '%s' "$ans" | json_get "j['kgp_secret']")
[ -n "$id" ] && [ -n "$secret" ] || fail "no id and secret in the answer: $ans"

# hello ID SECRET: what node b's KGP endpoint answers a tunnel's HELLO;
# HELLO_MS says how long it took
hello() {
	local t0 t1
	t0=$(date +%s%N)
	ANS=$(cloud "$PYTHON" "$E2E_DIR/nodehello.py" --tunnel "$CLOUD_IP" \
	    4444 "$1" "$2") || fail "nodehello: $ANS"
	t1=$(date +%s%N)
	HELLO_MS=$(((t1 - t0) / 1000000))
}

# copy ID: a new tunnel, tunnel ID's row under a new id, written without
# NOTIFY: no node hears of it
copy() {
	local new
	new=$(openssl rand -hex 16)
	db_query "INSERT INTO tunnels (id, owner, status, line) SELECT '$new', owner, status, replace(line, '$1', '$new') FROM tunnels WHERE id = '$1'" ||
	    fail "cannot copy tunnel $1's row"
	echo "$new"
}

# 1. a row b has not been told of
wait_for 10 grep -q "tunnel $id of $SC_USER: from another node" "$TMP/server-b.log" ||
    fail "b did not hear of tunnel $id"
[ "$(db_query "SELECT status FROM tunnels WHERE id = '$id'")" = running ] ||
    fail "tunnel $id is not running in the database"
new=$(copy "$id")
hello "$new" "$secret"
[ "$ANS" = welcome ] || fail "the HELLO for $new (a row b was not told of) at b: $ANS, not welcome"
grep -q "tunnel $new not known here yet: its HELLO waits" "$TMP/server-b.log" ||
    fail "b's log does not say the HELLO for $new waited"
ok "a tunnel b had not heard of: its HELLO waited and was welcomed after $HELLO_MS ms"

# 2. no such tunnel
none=$(openssl rand -hex 16)
hello "$none" "$secret"
case $ANS in
"error 3 "*) ;;
*) fail "a HELLO for a tunnel the database does not have: $ANS, not error 3" ;;
esac
# refused on the read's answer, not at the bound (which says code 5 and
# logs it): the wall time of the python client under load is no measure
! grep -q "tunnel $none not known here after" "$TMP/server-b.log" ||
    fail "the HELLO for no tunnel waited for the hold's bound"
ok "a tunnel the database does not have: refused on the read's answer ($ANS, $HELLO_MS ms)"

# 3. b's parent stopped: the bound, then try again
new=$(copy "$id")
kill -STOP "$SERVER_B"
hello "$new" "$secret"
kill -CONT "$SERVER_B"
case $ANS in
"error 5 "*) ;;
*) fail "a HELLO at b while its parent is stopped: $ANS, not error 5" ;;
esac
[ "$HELLO_MS" -ge 900 ] || fail "a HELLO at b while its parent is stopped was refused after $HELLO_MS ms, before the hold's bound"
wait_for 5 grep -q "tunnel $new not known here after 1000 ms" "$TMP/server-b.log" ||
    fail "b's log does not say the HELLO for $new ran out of time"
ms=$HELLO_MS
# and once the parent is back, the tunnel is read
hello "$new" "$secret"
[ "$ANS" = welcome ] || fail "the HELLO for $new once b's parent is back: $ANS, not welcome"
ok "b's parent stopped: try again after $ms ms; welcome once it is back"

# 4. three NOTIFYs waiting for b's parent: one read
kill -STOP "$SERVER_B"
ids=
for n in 1 2 3; do
	ans=$(cloud curl -sS --max-time 10 -u "$SC_USER:$KEY" -X POST \
	    -d "{\"tunnel_identifier\": \"burst$n\"}" "$REST_URL/$SC_USER/tunnels") ||
	    { kill -CONT "$SERVER_B"; fail "POST $n through a"; }
	ids="$ids $(printf '%s' "$ans" | json_get "j['id']")"
done
kill -CONT "$SERVER_B"
wait_for 10 grep -q "3 tunnels read again from .* at once" "$TMP/server-b.log" ||
    fail "b's parent did not read the three tunnels at once: $(grep 'read again' "$TMP/server-b.log")"
for t in $ids; do
	wait_for 5 grep -q "tunnel $t of $SC_USER: from another node (running)" "$TMP/server-b.log" ||
	    fail "b's REST worker did not take tunnel $t"
done
ok "three tunnels made while b's parent was stopped: read with one statement"

# 5. a flood of made-up ids, b's parent stopped
# metric NAME: b's figure NAME
metric() {
	cloud curl -sS --max-time 5 "$M_B/metrics" |
	    awk -v n="$1" '$1 == n { print $2 }'
}
# many FILE ID...: HELLOs for each ID at once at b, "ID MS ANSWER" lines
many() {
	local f=$1
	shift
	cloud timeout 30 "$PYTHON" "$E2E_DIR/nodehello.py" --many "$CLOUD_IP" \
	    4444 "$secret" "$@" >"$f" || fail "nodehello --many: $(cat "$f")"
	[ "$(wc -l <"$f")" = $# ] || fail "not one answer per HELLO: $(cat "$f")"
}
has_reads() { [ -n "$(metric sc_server_kgp_hold_reads_total)" ]; }
wait_for 10 has_reads ||
    fail "no sc_server_kgp_hold_reads_total in b's /metrics"
reads0=$(metric sc_server_kgp_hold_reads_total)
refused0=$(metric sc_server_kgp_hold_refused_total)
held=()
for n in $(seq 64); do held+=("$(openssl rand -hex 16)"); done
over=()
for n in $(seq 16); do over+=("$(openssl rand -hex 16)"); done
reads_logged() { grep -c "read again from" "$TMP/server-b.log"; }
logged0=$(reads_logged)
kill -STOP "$SERVER_B"
many "$TMP/held" "${held[@]}"
many "$TMP/over" "${over[@]}"
many "$TMP/again" "${held[0]}" "${held[0]}" "${held[0]}"
kill -CONT "$SERVER_B"
# the first 64: each waited its bound, then try again
bad=$(awk '$3 != "error" || $4 != 5 || $2 < 900' "$TMP/held")
[ -z "$bad" ] || fail "HELLOs within the bound, not each 'error 5' after the hold: $bad"
# those beyond: try again at once
bad=$(awk '$3 != "error" || $4 != 5 || $2 >= 700' "$TMP/over")
[ -z "$bad" ] || fail "HELLOs beyond KGP_HOLD_MAX not told to try again at once: $bad"
# the same id again: its read is asked (the parent is stopped), so they
# wait for it without a read of their own
bad=$(awk '$3 != "error" || $4 != 5 || $2 < 900' "$TMP/again")
[ -z "$bad" ] || fail "HELLOs for an id whose read is asked did not wait: $bad"
refused_is() { [ "$(metric sc_server_kgp_hold_refused_total)" = "$1" ]; }
wait_for 10 refused_is $((refused0 + 16)) ||
    fail "b's /metrics: $(metric sc_server_kgp_hold_refused_total) HELLOs refused, not $refused0 + 16"
reads=$(metric sc_server_kgp_hold_reads_total)
[ "$reads" = $((reads0 + 64)) ] ||
    fail "b asked its parent for $((reads - reads0)) reads, not 64 (KGP_HOLD_MAX)"
grep -q "KGP: 1 HELLO for tunnels not known here told to try again: .* 64 reads are asked (at most 64)" "$TMP/server-b.log" ||
    fail "b's log does not say HELLOs were told to try again"
ok "$((${#held[@]} + ${#over[@]})) made-up ids at once, b's parent stopped: 64 waited $(sort -n -k2 "$TMP/held" | awk 'NR == 1 { print $2 }')+ ms, 16 told to try again in $(sort -n -k2 "$TMP/over" | awk 'END { print $2 }') ms at most, 64 reads asked"
# the parent answered them all: a made-up id is refused again, a real
# tunnel welcomed
reads_done() { [ "$(reads_logged)" -ge "$1" ]; }
wait_for 10 reads_done $((logged0 + 64)) ||
    fail "b's parent read $(($(reads_logged) - logged0)) of the 64 tunnels"
hello "$(openssl rand -hex 16)" "$secret"
case $ANS in
"error 3 "*) ;;
*) fail "a made-up id once b's parent is back: $ANS, not error 3" ;;
esac
new=$(copy "$id")
hello "$new" "$secret"
[ "$ANS" = welcome ] || fail "a real tunnel's HELLO after the flood: $ANS, not welcome"
ok "b's parent back: a made-up id refused (code 3), a real tunnel welcomed"
