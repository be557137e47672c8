#!/bin/bash
# Traffic rules at the entry proxy (issue 16), both syntaxes.  The app is
# in office (app.office.test, reachable only through the tunnel), the
# "internet" in cloud (*.internet.test, reachable only from the server:
# what goes direct).  deny: 403 from the server naming the rule, no
# stream (sc's streams-total does not move); direct: the internet host
# answers, no stream, and a direct host is never reached through the
# tunnel; tunnel: as always.  The precedence of sc(8): deny first; with
# tunnel domains the others go direct (and -D is not used); a version 5
# '-' rule excepts.
. "$(dirname "$0")/lib.sh"
e2e_init
cloud_etc resolv.conf <<EOF
nameserver 127.0.0.1
EOF
cloud_etc hosts <<EOF
127.0.0.1 localhost
$INET_IP www.internet.test ads.internet.test cdn.internet.test
EOF
office_etc hosts <<EOF
127.0.0.1 localhost
$APP_IP app.office.test
EOF
# the internet host is on a private address: -D lets direct reach it
start_server -D "$INET_IP/32"
start_app
start_internet

APP=http://app.office.test:$APP_PORT
INET=http://www.internet.test:$APP_PORT

# code URL [curl args]: the status of a GET through the entry proxy
code() {
	local url=$1
	shift
	BROWSE_TIMEOUT=20 browse -o "$TMP/body" -w '%{http_code}' "$@" \
	    "$url" 2>/dev/null
}

streams() {
	ctl_field streams-total
}

# no_stream BEFORE: one tunnelled request adds exactly one stream to
# BEFORE, so whatever came before it opened none
no_stream() {
	local before=$1 c
	c=$(code "$APP/text/probe")
	[ "$c" = 200 ] || fail "tunnel probe: status $c"
	wait_for 10 test "$(streams)" -ge $((before + 1)) ||
	    fail "streams-total $(streams), want $((before + 1))"
	[ "$(streams)" = $((before + 1)) ] ||
	    fail "streams-total $(streams), want $((before + 1)): a stream was opened"
}

# --- version 4: -D, -F, -B all ---
start_sc -D "*.internet.test,$INET_IP" -F 'ads\.internet' -B all
before=$(streams)
c=$(code "$INET/text/direct4")
[ "$c" = 200 ] && [ "$(cat "$TMP/body")" = "response direct4" ] ||
    fail "-D *.internet.test: status $c"
grep -q 'GET /text/direct4' "$TMP/inet.log" ||
    fail "the internet host did not see /text/direct4"
c=$(code "http://$INET_IP:$APP_PORT/text/direct4ip")
[ "$c" = 200 ] || fail "-D $INET_IP (an address): status $c"
ok "v4 -D: *.internet.test and an address go direct (200 from the internet)"
c=$(code "http://ads.internet.test:$APP_PORT/banner")
[ "$c" = 403 ] || fail "-F ads: status $c, want 403"
grep -q "ads\\\\.internet" "$TMP/body" && grep -q -- "-F/--fast-fail-regexps" \
    "$TMP/body" || fail "the 403 does not name the rule: $(cat "$TMP/body")"
ok "v4 -F: 403 '$(cat "$TMP/body")'"
grep -q 'GET /banner' "$TMP/inet.log" && fail "a denied request reached the host"
# CONNECT direct: the internet's TLS port, bytes untouched (its cert)
c=$(BROWSE_TIMEOUT=20 browse --cacert "$TMP/inet.crt" -o "$TMP/body" \
    -w '%{http_connect} %{http_code}' \
    "https://www.internet.test:$APP_TLS_PORT/text/tls4" 2>&1)
[ "$c" = "200 200" ] && [ "$(cat "$TMP/body")" = "response tls4" ] ||
    fail "CONNECT direct to www.internet.test:$APP_TLS_PORT: '$c'"
ok "v4 -D: CONNECT www.internet.test:$APP_TLS_PORT direct, the origin's certificate"
no_stream "$before"
ok "deny and direct opened no stream (streams-total $before -> $(streams))"
# the office app still through the tunnel, TLS passed through (-B all)
c=$(BROWSE_TIMEOUT=20 browse --cacert "$TMP/app.crt" -o "$TMP/body" \
    -w '%{http_connect} %{http_code}' "$(app_tls_url /text/pass)" 2>&1)
[ "$c" = "200 200" ] || fail "CONNECT through the tunnel with -B all: '$c'"
ok "v4 -B all: CONNECT to the office app through the tunnel, its certificate"
# keep-alive: the second request of a connection is decided again
c=$(BROWSE_TIMEOUT=20 browse -o /dev/null -o /dev/null -w '%{http_code} ' \
    "$APP/text/ka1" "http://ads.internet.test:$APP_PORT/ka2" 2>/dev/null)
[ "$c" = "200 403 " ] || fail "tunnel then deny on one curl: '$c'"
ok "a tunnelled request ends its connection: the next one is decided (200 403)"
stop_sc

# --- version 4: -t (tunnel domains): the others go direct, -D unused ---
start_sc -t "app.office.test" -D "app.office.test"
before=$(streams)
c=$(code "$INET/text/notlisted")
[ "$c" = 200 ] && grep -q 'GET /text/notlisted' "$TMP/inet.log" ||
    fail "-t: a host not listed did not go direct: status $c"
ok "v4 -t: a host not listed goes direct"
no_stream "$before"
ok "v4 -t: the listed host goes down the tunnel (and -D is not used)"
stop_sc

# --- version 5: -F, -D with an exception, -T ---
launch_sc run -u "$SC_USER" -k "$KEY" -i "$TUNNEL_NAME" --rest-url "$REST_URL" \
    -f "$TMP/ready" -d "$TMP/sc.pid" --ctl-socket "$TMP/ctl.sock" \
    -F 'ads\.internet\.test' -D '.*\.internet\.test,-cdn\.internet\.test' \
    -B '.*'
before=$(streams)
c=$(code "$INET/text/direct5")
[ "$c" = 200 ] && grep -q 'GET /text/direct5' "$TMP/inet.log" ||
    fail "v5 -D: status $c"
ok "v5 -D '.*\\.internet\\.test': direct"
c=$(code "http://ADS.internet.test:$APP_PORT/x")
[ "$c" = 403 ] && grep -q -- "-F/--deny-domains" "$TMP/body" ||
    fail "v5 -F: status $c: $(cat "$TMP/body")"
ok "v5 -F (any case of the host): 403 '$(cat "$TMP/body")'"
no_stream "$before"
ok "v5 deny and direct opened no stream"
# the exception goes down the tunnel, where office cannot reach it
c=$(code "http://cdn.internet.test:$APP_PORT/text/except")
[ "$c" = 502 ] || fail "v5 -D exception: status $c, want 502 from proxyd"
grep -q 'GET /text/except' "$TMP/inet.log" &&
    fail "the excepted host was reached directly"
ok "v5 '-cdn\\.internet\\.test': excepted, through the tunnel (office: 502)"
stop_sc

launch_sc run -u "$SC_USER" -k "$KEY" -i "$TUNNEL_NAME" --rest-url "$REST_URL" \
    -f "$TMP/ready" -d "$TMP/sc.pid" --ctl-socket "$TMP/ctl.sock" \
    -T 'app\.office\.test' -F '.*\.internet\.test,-www\.internet\.test'
c=$(code "$INET/text/t5")
[ "$c" = 200 ] && grep -q 'GET /text/t5' "$TMP/inet.log" ||
    fail "v5 -T: a host not listed did not go direct: $c"
c=$(code "http://cdn.internet.test:$APP_PORT/x")
[ "$c" = 403 ] || fail "v5 -F with an exception: status $c"
c=$(code "$APP/text/t5app")
[ "$c" = 200 ] || fail "v5 -T: the listed host: status $c"
ok "v5 -T: listed down the tunnel, the others direct; -F before both"
stop_sc

# --- the same from SAUCE_* variables and the config file ---
cat >"$TMP/sc.yaml" <<EOF
direct-domains:
  - .*\.internet\.test
EOF
SAUCE_DENY_DOMAINS='ads\.internet\.test' launch_sc run -u "$SC_USER" \
    -k "$KEY" -i "$TUNNEL_NAME" --rest-url "$REST_URL" -f "$TMP/ready" \
    -d "$TMP/sc.pid" --ctl-socket "$TMP/ctl.sock" -c "$TMP/sc.yaml"
c=$(code "$INET/text/file5")
[ "$c" = 200 ] && grep -q 'GET /text/file5' "$TMP/inet.log" ||
    fail "config file direct-domains: status $c"
c=$(code "http://ads.internet.test:$APP_PORT/x")
[ "$c" = 403 ] || fail "SAUCE_DENY_DOMAINS: status $c"
ok "config file direct-domains and SAUCE_DENY_DOMAINS"
# the server kept them, under their REST names
rest GET "/$SC_USER/tunnels/$TUNNEL_ID" >"$TMP/t.json"
[ "$(json_get "j['direct_domains_v5']" <"$TMP/t.json")" = '[".*\\.internet\\.test"]' ] &&
    [ "$(json_get "j['deny_domains_v5']" <"$TMP/t.json")" = '["ads\\.internet\\.test"]' ] ||
    fail "the REST tunnel lacks its rules: $(cat "$TMP/t.json")"
ok "the REST API shows the rules under their fields"
# ... and they survive a restart of the server
kill -TERM "$SERVER_PID"
wait_for 15 not_running "$SERVER_PID" || fail "sc-server did not stop"
run_server -D "$INET_IP/32"
wait_for 30 eval '[ "$(code "http://ads.internet.test:$APP_PORT/x")" = 403 ]' ||
    fail "after a server restart the deny rule is gone"
c=$(code "$INET/text/after")
[ "$c" = 200 ] && grep -q 'GET /text/after' "$TMP/inet.log" ||
    fail "after a server restart: direct status $c"
ok "the rules survive a restart of sc-server"
stop_sc

# --- direct to the server's own network is refused without -D ---
kill -TERM "$SERVER_PID"
wait_for 15 not_running "$SERVER_PID" || fail "sc-server did not stop"
run_server
start_sc -D "*.internet.test,127.0.0.1"
c=$(code "$INET/text/private")
[ "$c" = 403 ] && grep -q 'may not reach' "$TMP/body" ||
    fail "direct to a private address without -D: $c $(cat "$TMP/body")"
c=$(code "http://127.0.0.1:$REST_PORT/rest/v1/")
[ "$c" = 403 ] || fail "direct to the server's loopback: status $c"
grep -q 'GET /text/private' "$TMP/inet.log" &&
    fail "a private address was reached without -D"
ok "direct to private and loopback addresses: 403 without -D"
c=$(code "http://nowhere.internet.test:$APP_PORT/")
[ "$c" = 502 ] && grep -qE 'cannot resolve|No answer' "$TMP/body" ||
    fail "direct to a name nobody has: $c $(cat "$TMP/body")"
ok "direct to an unknown name: 502 '$(cat "$TMP/body")'"
stop_sc
e2e_done
