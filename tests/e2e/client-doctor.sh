#!/bin/bash
# sc --doctor (issue 18): one line a check, exit 0 only when all pass,
# no tunnel started.  Against a sound server every check is OK (the
# REST API, the clock, the KGP endpoint, its pinned certificate, the
# open files, the user _sc); a wrong key, a KGP port that refuses, a
# --tunnel-cainfo that is not the server's CA, a low open-files limit:
# exit 1 and the failing check says why.  Through an upstream proxy
# behind a firewall (nftables lets office out only through it), version
# 4 -p -T: the proxy's name, the REST API and the CONNECT to the KGP
# endpoint; the proxy gone: FAIL.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/client-lib.sh"
command -v nft >/dev/null || skip "needs nft (nftables)"
e2e_init
start_server

# doctor NAME ARGS...: sc --doctor in office, its output in
# $TMP/NAME.out, its status in $st
doctor() {
	local name=$1
	shift
	st=0
	office timeout 60 "$SC" "$@" >"$TMP/$name.out" 2>&1 || st=$?
}

# has NAME REGEXP: a line of NAME's output matches
has() {
	grep -qE "$2" "$TMP/$1.out" || fail "$1: no line /$2/: $(cat "$TMP/$1.out")"
}

doctor good -u "$SC_USER" -k "$KEY" -x "$REST_URL" --doctor
[ "$st" = 0 ] || fail "--doctor against a sound server: exit $st: $(cat "$TMP/good.out")"
has good "^user _sc: OK \(uid [0-9]+, chroot /var/empty\)"
has good "^open files: OK"
has good "^resolve the REST API: OK \($CLOUD_IP: $CLOUD_IP\)"
has good "^REST API: OK .* tunnels connect to $CLOUD_IP:$KGP_PORT"
has good "^clock: OK \([0-9]+ s "
has good "^resolve the KGP endpoint: OK"
has good "^KGP endpoint: OK \($CLOUD_IP:$KGP_PORT\)"
has good "^certificate: OK \(the pinned SHA256:"
grep -q FAIL "$TMP/good.out" && fail "a FAIL line: $(cat "$TMP/good.out")"
[ "$(rest GET "/$SC_USER/tunnels" | json_get 'len(j)')" = 0 ] ||
    fail "--doctor started a tunnel"
ok "a sound server: every check OK, exit 0, no tunnel: $(tr '\n' '|' <"$TMP/good.out")"

doctor badkey -u "$SC_USER" -k wrong -x "$REST_URL" --doctor
[ "$st" = 1 ] || fail "a wrong key: exit $st"
has badkey "^REST API: FAIL Not authorized"
ok "a wrong key: exit 1, $(grep '^REST API' "$TMP/badkey.out")"

# the KGP port refuses (office's own firewall)
office nft add table inet e2edoc || fail "nft add table"
office nft add chain inet e2edoc out \
    '{ type filter hook output priority 0; }' || fail "nft add chain"
office nft add rule inet e2edoc out ip daddr "$CLOUD_IP" tcp dport \
    "$KGP_PORT" reject with tcp reset || fail "nft add rule"
doctor kgpdown -u "$SC_USER" -k "$KEY" -x "$REST_URL" --doctor
[ "$st" = 1 ] || fail "a KGP port that refuses: exit $st"
has kgpdown "^REST API: OK"
has kgpdown "^KGP endpoint: FAIL $CLOUD_IP port $KGP_PORT: Connection refused"
office nft delete table inet e2edoc
ok "the KGP port refused: exit 1, $(grep '^KGP endpoint' "$TMP/kgpdown.out")"

make_cert other "IP:$CLOUD_IP"
doctor badca -u "$SC_USER" -k "$KEY" -x "$REST_URL" --doctor \
    --tunnel-cainfo "$TMP/other.crt"
[ "$st" = 1 ] || fail "a CA that is not the server's: exit $st"
has badca "^certificate: FAIL TLS handshake with $CLOUD_IP: .*verif"
ok "--tunnel-cainfo of another CA: exit 1, $(grep '^certificate' "$TMP/badca.out")"

stage_programs
st=0
office prlimit --nofile=100:100 setpriv --reuid=nobody --regid=nogroup \
    --clear-groups "$STAGED/controller/sc" -u "$SC_USER" -k "$KEY" \
    -x "$REST_URL" --doctor >"$TMP/nofile.out" 2>&1 || st=$?
[ "$st" = 1 ] || fail "open files 100: exit $st: $(cat "$TMP/nofile.out")"
has nofile "^open files: FAIL at most 100 "
has nofile "^user _sc: OK \(not needed: started as uid "
has nofile "^certificate: OK"
ok "as nobody with 100 open files: exit 1, $(grep '^open files' "$TMP/nofile.out")"

# behind a firewall, through the proxy: -p -T
MARK=0x5c
office_firewall "$MARK"
ip netns exec "$OFFICE" "$PYTHON" "$E2E_DIR/upproxy.py" --port 3128 \
    --mark $((MARK)) --auth px:pxpass --log "$TMP/px.req" \
    --ready "$TMP/px.ready" >"$TMP/upproxy.log" 2>&1 &
PXPID=$!
PIDS+=("$PXPID")
wait_for 10 test -e "$TMP/px.ready" || fail "the proxy does not start"
doctor direct -u "$SC_USER" -k "$KEY" -x "$REST_URL" --doctor
[ "$st" = 1 ] || fail "behind the firewall without the proxy: exit $st"
doctor proxied -u "$SC_USER" -k "$KEY" -x "$REST_URL" --doctor \
    -p 127.0.0.1:3128 -w px:pxpass -T
[ "$st" = 0 ] || fail "through the proxy: exit $st: $(cat "$TMP/proxied.out")"
has proxied "^resolve the proxy: OK \(127.0.0.1: 127.0.0.1\)"
has proxied "^KGP endpoint: OK \($CLOUD_IP:$KGP_PORT through the proxy 127.0.0.1\)"
has proxied "^certificate: OK"
grep -q "REQ CONNECT $CLOUD_IP:$KGP_PORT user=px auth=ok" "$TMP/px.req" ||
    fail "the proxy saw no CONNECT: $(cat "$TMP/px.req")"
kill -TERM "$PXPID"
wait_for 5 not_running "$PXPID" || fail "the proxy does not stop"
doctor pxgone -u "$SC_USER" -k "$KEY" -x "$REST_URL" --doctor \
    -p 127.0.0.1:3128 -w px:pxpass -T
[ "$st" = 1 ] || fail "the proxy gone: exit $st"
has pxgone "^REST API: FAIL .*proxy"
ok "through the proxy (-p -w -T): every check OK; without it or with it gone: exit 1"
e2e_done
