#!/bin/bash
# Credentials from the environment with the version 5 command line, and
# the precedence flag > environment: a wrong value in the environment is
# overridden by a right flag, and a wrong flag is not rescued by a right
# environment.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/client-lib.sh"
e2e_init
start_server
start_app

run_ok() {
	local tag=$1 what=$2 id name
	sc_ready "$tag"
	id=$(sc_id "$tag")
	name=$(tunnel_field "$id" tunnel_identifier)
	[ "$name" = "$TUNNEL_NAME-$tag" ] ||
	    fail "$what: tunnel_identifier '$name', want $TUNNEL_NAME-$tag"
	fetch_via "$(entry_of "$id")" "$tag" || fail "$what: the tunnel does not serve"
	sc_term "$tag"
	[ "${SCSTATUS[$tag]}" = 0 ] ||
	    fail "$what: exit status ${SCSTATUS[$tag]} after SIGTERM"
	ok "$what"
}

# try_fail TAG WHAT ARGS...: sc must say Not authorized and exit non-zero
try_fail() {
	local tag=$1 what=$2 status=0
	shift 2
	office timeout 30 "$SC" "$@" --ctl-socket "$TMP/$tag.sock" \
	    >"$TMP/$tag.log" 2>&1 || status=$?
	[ "$status" != 124 ] || fail "$what: sc still runs after 30 s"
	[ "$status" != 0 ] || fail "$what: exit status 0"
	grep -q 'Error: .*Not authorized' "$TMP/$tag.log" ||
	    fail "$what: no 'Error: ... Not authorized' line"
	ok "$what: Not authorized, exit $status"
}

# sc run, everything from the environment but the URL and the name
export SAUCE_USERNAME=$SC_USER SAUCE_ACCESS_KEY=$KEY
sc_bg envrun run --tunnel-name "$TUNNEL_NAME-envrun" --rest-url "$REST_URL" \
    -f "$TMP/envrun.ready" --ctl-socket "$TMP/envrun.sock"
run_ok envrun "sc run: SAUCE_USERNAME/SAUCE_ACCESS_KEY with --tunnel-name/--rest-url"

# the other spellings of the variables
unset SAUCE_USERNAME SAUCE_ACCESS_KEY
export SAUCE_USER=$SC_USER SAUCE_API_KEY=$KEY
sc_bg altenv run --tunnel-name "$TUNNEL_NAME-altenv" --rest-url "$REST_URL" \
    -f "$TMP/altenv.ready" --ctl-socket "$TMP/altenv.sock"
run_ok altenv "sc run: SAUCE_USER/SAUCE_API_KEY"
unset SAUCE_USER SAUCE_API_KEY

# a wrong key and user in the environment, the right ones as flags
export SAUCE_USERNAME=mallory SAUCE_ACCESS_KEY=wrong-key
sc_bg v5flags run -u "$SC_USER" -k "$KEY" --tunnel-name "$TUNNEL_NAME-v5flags" \
    --rest-url "$REST_URL" -f "$TMP/v5flags.ready" --ctl-socket "$TMP/v5flags.sock"
run_ok v5flags "sc run: -u/-k beat a wrong SAUCE_USERNAME/SAUCE_ACCESS_KEY"
sc_bg v5long run --username "$SC_USER" --access-key "$KEY" \
    --tunnel-name "$TUNNEL_NAME-v5long" --rest-url "$REST_URL" \
    -f "$TMP/v5long.ready" --ctl-socket "$TMP/v5long.sock"
run_ok v5long "sc run: --username/--access-key beat the environment"
sc_bg v4flags -u "$SC_USER" -k "$KEY" -i "$TUNNEL_NAME-v4flags" -x "$REST_URL" \
    -f "$TMP/v4flags.ready" --ctl-socket "$TMP/v4flags.sock"
run_ok v4flags "version 4: -u/-k beat a wrong SAUCE_USERNAME/SAUCE_ACCESS_KEY"

# the right key in the environment, a wrong one as a flag: the flag wins
export SAUCE_USERNAME=$SC_USER SAUCE_ACCESS_KEY=$KEY
try_fail v5wrong "sc run: a wrong -k beats a right SAUCE_ACCESS_KEY" \
    run -k wrong-key --tunnel-name "$TUNNEL_NAME-v5wrong" --rest-url "$REST_URL"
try_fail v4wrong "version 4: a wrong -k beats a right SAUCE_ACCESS_KEY" \
    -k wrong-key -i "$TUNNEL_NAME-v4wrong" -x "$REST_URL"
unset SAUCE_USERNAME SAUCE_ACCESS_KEY

# no key at all: a clear error, not an attempt
status=0
office timeout 30 "$SC" run -u "$SC_USER" --tunnel-name "$TUNNEL_NAME-nokey" \
    --rest-url "$REST_URL" --ctl-socket "$TMP/nokey.sock" \
    >"$TMP/nokey.log" 2>&1 || status=$?
[ "$status" != 0 ] && [ "$status" != 124 ] || fail "no key: exit status $status"
grep -Eiq 'Error: .*(key|SAUCE_ACCESS_KEY)' "$TMP/nokey.log" ||
    fail "no key: no Error: line about the key: $(cat "$TMP/nokey.log")"
ok "no key: '$(grep -m1 'Error: ' "$TMP/nokey.log")', exit $status"

list=$(rest GET "/$SC_USER/tunnels")
[ "$list" = "[]" ] || fail "tunnels left running: $list"
ok "no tunnel left running"
e2e_done
