#!/bin/bash
# Bad traffic rules (issue 16).  sc refuses a bad pattern before any REST
# call: exit 1, the message names the flag and the pattern.  sc-server
# refuses a hostile POST /tunnels: a bad expression, lists that exclude
# each other, a list longer than RULES_MAX (TUNNEL_ARRAY_MAX), a rule
# longer than RULES_PATTERN_MAX, an expression that compiles too large:
# 400 naming it; a body over REST_MAX_BODY: 413.  An expression
# that backtracks catastrophically elsewhere ((a+)+b) costs linear time
# here: the entry proxy answers a 255-byte host at once.
. "$(dirname "$0")/lib.sh"
e2e_init
start_server
start_app

# sc_bad MESSAGE ARGS...: sc exits 1 saying MESSAGE, and calls no REST
sc_bad() {
	local want=$1 st
	shift
	ip netns exec "$OFFICE" timeout 20 "$SC" "$@" >"$TMP/bad.out" 2>&1
	st=$?
	[ "$st" = 1 ] || fail "sc $*: exit $st, want 1: $(cat "$TMP/bad.out")"
	grep -qF -- "$want" "$TMP/bad.out" ||
	    fail "sc $*: '$(cat "$TMP/bad.out")' does not say '$want'"
}
posts() {
	grep -c 'POST /rest/v1/alice/tunnels' "$TMP/server.log"
}
before=$(posts)
sc_bad "-D: 'bad(': a domain may not contain '('" -u "$SC_USER" -k "$KEY" -x "$REST_URL" \
    -D 'good.example,bad('
sc_bad "-F: 'a(?=b)'" -u "$SC_USER" -k "$KEY" -x "$REST_URL" -F 'a(?=b)'
sc_bad "--tunnel-domains: '(x'" run -u "$SC_USER" -k "$KEY" \
    --rest-url "$REST_URL" --tunnel-domains '(x'
sc_bad "exclude each other" run -u "$SC_USER" -k "$KEY" \
    --rest-url "$REST_URL" -D 'a' -T 'b'
SAUCE_TLS_RESIGN_DOMAINS='x{1001}' sc_bad "SAUCE_TLS_RESIGN_DOMAINS: " run \
    -u "$SC_USER" -k "$KEY" --rest-url "$REST_URL"
[ "$(posts)" = "$before" ] || fail "sc called the REST API with bad rules"
ok "sc: bad patterns exit 1 naming flag and pattern, before any REST call"

# post BODY: the status of POST /tunnels; the answer in $TMP/ans
post() {
	rest POST "/$SC_USER/tunnels" -H 'Content-Type: application/json' \
	    -o "$TMP/ans" -w '%{http_code}' --data-binary "$1"
}
bad400() {
	local c
	c=$(post "$1")
	[ "$c" = 400 ] && grep -qF -- "$2" "$TMP/ans" ||
	    fail "POST $(printf %.200s "$1"): $c $(cat "$TMP/ans"), want 400 saying $2"
}
bad400 '{"deny_domains_v5": ["ok", "(a"]}' "'(a': missing ')'"
bad400 '{"direct_domains": ["a..example"]}' "direct_domains\\\": 'a..example'"
bad400 '{"fast_fail_regexps": ["(a)\\1"]}' "backreferences"
bad400 '{"tunnel_domains_v5": ["a"], "direct_domains_v5": ["b"]}' \
    "exclude each other"
bad400 '{"tls_passthrough_domains_v5": ["-a"]}' "only exceptions"
bad400 '{"deny_domains_v5": ["((((((((((x{1000}){1000}){1000})))))))))"]}' \
    "deny_domains_v5"
bad400 '{"no_ssl_bump_domains": "all"}' "must be an array"
ok "POST /tunnels with bad rules: 400 naming the field and the pattern"
# a list one longer than the limit, a rule one byte too long
long=$("$PYTHON" -c 'import json; print(json.dumps({"domain_names": ["a%d" % i for i in range(4097)]}))')
bad400 "$long" "at most 4096 strings"
long=$("$PYTHON" -c 'import json; print(json.dumps({"deny_domains_v5": ["a" * 1025]}))')
bad400 "$long" "at most 1024"
long=$("$PYTHON" -c 'import json; print(json.dumps({"direct_domains_v5": ["%04d%s" % (i, "x" * 1000) for i in range(80)]}))')
c=$(post "$long")
[ "$c" = 413 ] && grep -q 'too large' "$TMP/ans" ||
    fail "80 KiB of rules: $c $(cat "$TMP/ans"), want 413"
ok "oversized lists: 400 (4097 rules, a 1025-byte rule), 413 (80 KiB)"
grep -q 'tunnel.*created' "$TMP/server.log" &&
    fail "a tunnel was created from a bad body"

# catastrophic backtracking elsewhere, linear here
start_sc -F '(a+)+b,(x|x)*y,(.*a){20}'
host=$(printf 'a%.0s' $(seq 1 250)).test
start=$(date +%s%N)
c=$(BROWSE_TIMEOUT=10 browse -o /dev/null -w '%{http_code}' \
    "http://$host/" 2>/dev/null)
ms=$(( ($(date +%s%N) - start) / 1000000 ))
# (.*a){20} matches the URL: denied
[ "$c" = 403 ] || fail "a hostile expression on a long host: status $c"
[ "$ms" -lt 2000 ] || fail "a hostile expression took $ms ms"
ok "(a+)+b, (x|x)*y, (.*a){20} on a 250-byte host: answered in $ms ms"
c=$(BROWSE_TIMEOUT=10 browse -o "$TMP/body" -w '%{http_code}' \
    "$(app_url /text/still)" 2>/dev/null)
[ "$c" = 200 ] || fail "the tunnel after hostile rules: status $c"
ok "the tunnel serves on"
stop_sc
e2e_done
