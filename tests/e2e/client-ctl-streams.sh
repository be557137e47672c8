#!/bin/bash
# sc-ctl show streams: a slow download held open is listed with its
# target (the URL proxyd took), the tunnel connection that carries it,
# its age and bytes to the server that grow while it runs; so is a
# CONNECT tunnel, which proxyd has handed to kgpd, with its host:port;
# -j prints the same as JSON; with no stream open the list says so, and
# with more than 48 open the list says how many it left out.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/client-lib.sh"
e2e_init
start_server
start_app

SOCK=$TMP/cs.sock
sc_v4 cs -i "$TUNNEL_NAME" --tunnel-connections 2 -B all
sc_ready cs
id=$(sc_id cs)
ctl() { "$SC_CTL" -s "$SOCK" "$@"; }
entry=$(entry_of "$id")

ctl show streams >"$TMP/none.out" 2>"$TMP/none.err" ||
    fail "sc-ctl show streams: $(cat "$TMP/none.err")"
[ "$(cat "$TMP/none.out")" = "no open streams" ] ||
    fail "sc-ctl show streams, nothing open: $(cat "$TMP/none.out")"
ok "sc-ctl show streams with nothing open: 'no open streams'"

# listed TARGET MINAGE: a stream to TARGET, at least MINAGE s old, is
# shown; its line in $TMP/line
listed() {
	ctl show streams >"$TMP/s.out" 2>"$TMP/s.err" &&
	    grep -F ": $1, " "$TMP/s.out" >"$TMP/line" &&
	    [ "$(sed -n 's/.*, age \([0-9]*\)\..*/\1/p' "$TMP/line")" -ge "$2" ]
}
out_of() { sed -n 's/.* in \([0-9]*\) out$/\1/p' "$TMP/line"; }
# held TARGET MINAGE WHAT: listed, with its connection, age and bytes out
# growing while it runs; sets out1
held() {
	wait_for 10 listed "$1" "$2" ||
	    fail "$3 is not listed: $(cat "$TMP/s.out" "$TMP/s.err")"
	grep -Eq "^stream [0-9]+: $1, connection [01], age [0-9.]+ s, bytes [0-9]+ in [0-9]+ out\$" "$TMP/line" ||
	    fail "$3: $(cat "$TMP/line")"
	out1=$(out_of)
	grows() { listed "$1" "$2" && [ "$(out_of)" -gt "$out1" ]; }
	wait_for 10 grows "$1" "$2" ||
	    fail "$3: bytes out did not grow past $out1: $(cat "$TMP/line")"
}

# 20 MB read at 200 kB/s: held open for the test's length
url=$(app_url /bytes/20000000)
cloud curl -sS --max-time 60 --limit-rate 200k -x "http://$entry" \
    -o /dev/null "$url" 2>"$TMP/curl.err" &
PIDS+=($!)
held "$url" 0 "the download"
ok "sc-ctl show streams: $(cat "$TMP/line") (was $out1 bytes out)"

jfield() { "$PYTHON" -c "import json, sys; j = json.load(sys.stdin); print($1)"; }
ctl -j show streams >"$TMP/s.json" || fail "sc-ctl -j show streams"
s="[s for s in j['streams'] if s['target'] == '$url'][0]"
[ "$(jfield "j['total'] >= 1, j['left-out'], $s['connection'] in (0, 1), $s['bytes-out'] > $out1, $s['age-ms'] > 0" <"$TMP/s.json")" = "True 0 True True True" ] ||
    fail "sc-ctl -j show streams: $(cat "$TMP/s.json")"
ok "sc-ctl -j show streams: $(cat "$TMP/s.json")"

# the show connections line of the connection agrees: a stream open there
conn=$(sed -n 's/.*, connection \([01]\), .*/\1/p' "$TMP/line")
ctl show connections | grep -Eq "^connection $conn: up, .*, streams [1-9]" ||
    fail "connection $conn carries no stream: $(ctl show connections)"
ok "connection $conn is the one 'show connections' says has a stream"

# a CONNECT tunnel older than a second (passed through, -B all, not
# resigned by the entry proxy): kgpd carries it, proxyd forgot it
turl=$(app_tls_url /bytes/20000000)
target=$APP_IP:$APP_TLS_PORT
cloud curl -sS -k --max-time 60 --limit-rate 200k -x "http://$entry" \
    -o /dev/null "$turl" 2>"$TMP/curl2.err" &
PIDS+=($!)
held "$target" 1 "the CONNECT tunnel"
ok "a CONNECT tunnel: $(cat "$TMP/line")"

# 50 more streams, each a request answered after 20 s: 48 are listed
for i in $(seq 50); do
	cloud curl -sS --max-time 40 -x "http://$entry" -o /dev/null \
	    "$(app_url /sleep/20000)" 2>/dev/null &
	PIDS+=($!)
done
many() {
	ctl -j show streams >"$TMP/m.json" 2>/dev/null &&
	    [ "$(jfield "j['total'] >= 52" <"$TMP/m.json")" = True ]
}
wait_for 15 many || fail "52 streams are not open: $(cat "$TMP/m.json")"
[ "$(jfield "len(j['streams']), j['left-out'] == j['total'] - 48" <"$TMP/m.json")" = "48 True" ] ||
    fail "sc-ctl -j show streams with 52 open: $(cat "$TMP/m.json")"
ctl show streams >"$TMP/m.out" || fail "sc-ctl show streams with 52 open"
[ "$(grep -c '^stream ' "$TMP/m.out")" = 48 ] &&
    grep -Eq '^[0-9]+ more streams not listed \(at most 48 are\)$' "$TMP/m.out" ||
    fail "sc-ctl show streams with 52 open: $(tail -n 2 "$TMP/m.out")"
ok "52 streams open: 48 listed, '$(tail -n 1 "$TMP/m.out")'"
e2e_done
