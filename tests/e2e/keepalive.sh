#!/bin/bash
# Keep-alive: 100 requests on one proxy connection, all answered in order,
# carried by one KGP stream.
. "$(dirname "$0")/lib.sh"
e2e_up

streams_total() {
	ctl_field streams-total
}
# for wait_for, which runs its command again and again
streams_total_moved() {
	[ "$(streams_total)" != "$1" ]
}
before=$(streams_total)
[ -n "$before" ] || fail "sc-ctl status has no streams-total line"

mkdir "$TMP/ka"
browse -o "$TMP/ka/#1" -w '%{num_connects} %{http_code}\n' \
    "$(app_url '/text/[1-100]')" >"$TMP/ka.out" ||
    fail "100 requests on one connection failed"
n=$(wc -l <"$TMP/ka.out")
[ "$n" = 100 ] || fail "$n transfers, want 100"
connects=$(awk '{s += $1} END {print s}' "$TMP/ka.out")
[ "$connects" = 1 ] || fail "100 requests opened $connects connections, want 1"
bad=$(awk '$2 != 200' "$TMP/ka.out" | wc -l)
[ "$bad" = 0 ] || fail "$bad of 100 answers were not 200"
for i in $(seq 1 100); do
	[ "$(cat "$TMP/ka/$i")" = "response $i" ] ||
	    fail "answer $i: '$(cat "$TMP/ka/$i")'"
done
ok "100 requests, 1 proxy connection, every answer right and in order"

# the statistics may lag a little: wait until they move, then settle
wait_for 5 streams_total_moved "$before" ||
    fail "streams-total did not move from $before"
sleep 1
after=$(streams_total)
[ $((after - before)) = 1 ] ||
    fail "streams-total went from $before to $after, want one stream"
ok "the 100 requests were one KGP stream (streams-total $before -> $after)"
e2e_done
