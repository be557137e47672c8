#!/bin/bash
# issue 17: what the cloud may reach through the tunnel, judged by proxyd
# on the address it would connect to, after resolution.  Office has the
# app, a "metadata service" on 169.254.169.254 and a service on its own
# 127.0.0.1, all three reachable from office itself.
#  - version 4, no flags: the metadata address is denied (403 naming the
#    default rule), localhost is reached as Sauce Connect 4 did;
#  - sc run (localhost denied by default, as Sauce Connect 5): 127.0.0.1,
#    localhost, a decimal 2130706433, an IPv4-mapped [::ffff:127.0.0.1]
#    and a name that resolves to 127.0.0.1 are all 403; --deny-networks
#    with a port denies that port of the app only;
#  - --proxy-localhost allow with --allow-networks: what the list does
#    not name is 403 "not in --allow-networks"; a /32 on the list opens
#    the metadata address, which 0.0.0.0/0 alone would not.
. "$(dirname "$0")/lib.sh"
META_IP=169.254.169.254

e2e_init
start_server
start_app
office ip addr add "$META_IP/32" dev lo
make_cert meta "IP:$META_IP"
serve_app "$OFFICE" meta "$META_IP"
make_cert local "IP:127.0.0.1"
serve_app "$OFFICE" local 127.0.0.1
printf '127.0.0.1 localhost rebind.test\n' | office_etc hosts

# get URL: "STATUS BODY" (the first line of the body)
get() {
	local code
	code=$(browse -o "$TMP/get.body" -w '%{http_code}' "$1") || return 1
	echo "$code $(head -n 1 "$TMP/get.body")"
}

# want URL STATUS [TEXT]: the status, and TEXT in the body
want() {
	local out
	out=$(get "$1") || fail "GET $1 failed"
	case $out in
	"$2"*"${3:-}"*) ;;
	*) fail "GET $1: '$out', want $2 ${3:-}" ;;
	esac
}

# v5 FLAGS...: sc run with these flags and the usual ones
v5() {
	launch_sc run -u "$SC_USER" -k "$KEY" -i "$TUNNEL_NAME" \
	    --rest-url "$REST_URL" -f "$TMP/ready" --ctl-socket "$TMP/ctl.sock" \
	    "$@"
}

# --- version 4, no flags ------------------------------------------------
start_sc
want "http://$META_IP:$APP_PORT/" 403 \
    "denied by 169.254.0.0/16 (link-local, denied by default)"
want "http://127.0.0.1:$APP_PORT/" 200 "hello from the office"
want "$(app_url /text/v4)" 200 "response v4"
office curl -sS --max-time 5 -o /dev/null "http://$META_IP:$APP_PORT/" ||
    fail "office itself cannot reach $META_IP"
ok "version 4: the metadata address is 403 naming the default rule; localhost and the app are reached"
stop_sc

# --- sc run: localhost denied, --deny-networks with a port -------------
v5 --deny-networks "$APP_IP/32:$APP_TLS_PORT"
for u in "http://127.0.0.1:$APP_PORT/" "http://localhost:$APP_PORT/" \
    "http://2130706433:$APP_PORT/" "http://0x7f.1:$APP_PORT/" \
    "http://[::ffff:127.0.0.1]:$APP_PORT/" \
    "http://rebind.test:$APP_PORT/"; do
	want "$u" 403 "denied by --proxy-localhost deny"
done
ok "sc run: localhost, decimal, hex, IPv4-mapped and a name resolving to 127.0.0.1 are all 403 (--proxy-localhost deny)"
want "$(app_url /text/v5)" 200 "response v5"
want "http://$APP_IP:$APP_TLS_PORT/" 403 \
    "denied by --deny-networks $APP_IP/32:$APP_TLS_PORT"
want "http://$META_IP:$APP_PORT/" 403 "link-local"
ok "--deny-networks ADDR/32:PORT denies that port only; the metadata address stays denied"
stop_sc

# --- --proxy-localhost allow, --allow-networks ---------------------------
v5 --proxy-localhost allow --allow-networks "10.214.0.0/16, 0.0.0.0/0:1-79"
want "$(app_url /text/allow)" 200 "response allow"
want "http://127.0.0.1:$APP_PORT/" 403 "not in --allow-networks"
want "http://$META_IP:$APP_PORT/" 403 "link-local"
ok "--allow-networks: what it does not name is 403; 0.0.0.0/0 does not open the link-local default"
stop_sc
v5 --proxy-localhost allow --allow-networks "$META_IP/32"
want "http://$META_IP:$APP_PORT/" 200 "hello from the office"
want "http://127.0.0.1:$APP_PORT/" 403 "not in --allow-networks"
ok "--allow-networks $META_IP/32 opens the metadata address, and only it"
stop_sc
[ "$SC_STATUS" = 0 ] || fail "sc exit status $SC_STATUS"
e2e_done
