#!/bin/bash
# sc run config-file: a YAML template of every key of sc run, all
# commented out; each of its keys is one the config parser knows; the
# template fed back unchanged, with the credentials and the REST URL
# added, starts a tunnel that serves a page.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/client-lib.sh"
e2e_init
start_server
start_app

TPL=$TMP/template.yaml
"$SC" run config-file >"$TPL" 2>"$TMP/tpl.err" ||
    fail "sc run config-file: exit $?, $(cat "$TMP/tpl.err")"
[ ! -s "$TMP/tpl.err" ] || fail "sc run config-file wrote on stderr: $(cat "$TMP/tpl.err")"
bad=$(grep -v -e '^#' -e '^$' "$TPL" | head -n 3)
[ -z "$bad" ] || fail "lines of the template that are not comments: $bad"
keys=$(sed -n 's/^#\([a-z][a-z0-9-]*\):.*/\1/p' "$TPL")
n=$(echo "$keys" | wc -l)
[ "$n" -ge 40 ] || fail "only $n keys in the template"
for k in username access-key tunnel-name rest-url region tunnel-pool \
    deny-domains dns-round-robin api-address log-stats log-level \
    tunnel-connections proxy-sauce metadata proxy; do
	echo "$keys" | grep -qx -- "$k" || fail "no key '$k' in the template"
done
for k in config-file help version log-http http-tls-keylog-file; do
	! echo "$keys" | grep -qx -- "$k" || fail "key '$k' in the template"
done
grep -q '^# --username, -u; also the key user$' "$TPL" ||
    fail "no '# --username, -u; also the key user' comment"
ok "sc run config-file: $n keys, all commented out, each under its flags"

# every key, uncommented alone, is a key the parser knows
cd "$TMP" || fail "cd $TMP"
for k in $keys; do
	sed "s/^#$k:/$k:/" "$TPL" >"$TMP/one.yaml"
	chmod 600 "$TMP/one.yaml"
	timeout 10 "$SC" run -c "$TMP/one.yaml" >"$TMP/one.out" 2>&1
	! grep -qi 'unknown key\|line [0-9]*: .*not a list\|takes one value' "$TMP/one.out" ||
	    fail "key '$k' refused: $(cat "$TMP/one.out")"
done
ok "each of the $n keys uncommented alone: none refused as unknown or of the wrong kind"

# the template as it is, with what a tunnel needs added
{
	cat "$TPL"
	echo "username: $SC_USER"
	echo "access-key: $KEY"
	echo "rest-url: $REST_URL"
	echo "tunnel-name: $TUNNEL_NAME"
	echo "readyfile: $TMP/tpl.ready"
	echo "ctl-socket: $TMP/tpl.sock"
} >"$TMP/sc.yaml"
chmod 600 "$TMP/sc.yaml"
sc_bg tpl run -c "$TMP/sc.yaml"
sc_ready tpl
id=$(sc_id tpl)
fetch_via "$(entry_of "$id")" tpl || fail "no page through the tunnel"
! grep -q 'Warning' "$TMP/tpl.log" ||
    fail "warnings for the template: $(grep Warning "$TMP/tpl.log")"
ok "the template fed back with the credentials added: tunnel up, a page through it"
sc_term tpl
[ "${SCSTATUS[tpl]}" = 0 ] || fail "sc exit ${SCSTATUS[tpl]}"
e2e_done
