#!/bin/bash
# The config file of sc run (-c/--config-file): the credentials only in
# the file, a page through the tunnel, the warning for a file others may
# read (0644) and none for 0600, the precedence flag > environment > file,
# a bad file refused with its line, and the key from the file nowhere
# else (command lines, environments, output, log).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/client-lib.sh"
e2e_init
start_server
start_app

# write_conf FILE MODE TAG [lines...]: a config file for instance TAG
write_conf() {
	local f=$1 mode=$2 tag=$3
	shift 3
	(
		umask 077
		{
			echo "# sc run config, instance $tag"
			echo "rest-url: $REST_URL"
			echo "tunnel-name: '$TUNNEL_NAME-$tag'"
			echo "readyfile: $TMP/$tag.ready"
			echo "ctl-socket: $TMP/$tag.sock"
			printf '%s\n' "$@"
		} >"$f"
	)
	chmod "$mode" "$f"
}

# serves TAG WHAT: TAG's tunnel is named after it and serves a page
serves() {
	local tag=$1 what=$2 id name
	sc_ready "$tag"
	id=$(sc_id "$tag")
	name=$(tunnel_field "$id" tunnel_identifier)
	[ "$name" = "$TUNNEL_NAME-$tag" ] ||
	    fail "$what: tunnel_identifier '$name', want $TUNNEL_NAME-$tag"
	fetch_via "$(entry_of "$id")" "$tag" ||
	    fail "$what: no page through the tunnel"
}

# the key only in the file; the file readable by others
unset SAUCE_USERNAME SAUCE_USER SAUCE_ACCESS_KEY SAUCE_API_KEY \
    SAUCE_TUNNEL_NAME SAUCE_REGION SAUCE_CONFIG_FILE
F644=$TMP/sc-644.yaml
LOGF=$TMP/cf644-file.log
write_conf "$F644" 0644 cf644 "username: $SC_USER" "access-key: \"$KEY\"" \
    "log-level: trace" "log-file: $LOGF" "tunnel-connections: 2"
sc_bg cf644 run -c "$F644"
serves cf644 "sc run -c (0644, key only in the file)"
ok "sc run -c FILE: credentials, name, URL and files from the file; a page through the tunnel"

want="Warning: $F644 is readable by others and holds the access key: chmod 600 $F644"
grep -qF -- "$want" "$LOGF" || fail "no '$want' in the log file"
grep -qF -- "$want" "$TMP/cf644.log" ||
    fail "the warning is not on standard output as well"
ok "0644: '$want', and sc goes on"

# the key from the file: not in the command line or environment of any
# process in the office namespace (sc, its spawner, kgpd, proxyd)
pids=$(ip netns pids "$OFFICE")
n=0
for p in $pids; do
	tr '\0' '\n' <"/proc/$p/cmdline" >"$TMP/cmdline.$p" 2>/dev/null ||
	    continue
	tr '\0' '\n' <"/proc/$p/environ" >"$TMP/environ.$p" 2>/dev/null ||
	    continue
	grep -aqF -- "$KEY" "$TMP/cmdline.$p" &&
	    fail "the key from the file is in the command line of pid $p"
	grep -aqF -- "$KEY" "$TMP/environ.$p" &&
	    fail "the key from the file is in the environment of pid $p"
	n=$((n + 1))
done
for prog in kgpd proxyd; do
	grep -lq "$prog" "$TMP"/cmdline.* || fail "no $prog among the pids $pids"
done
ok "the key from the file: in the cmdline or environ of none of $n processes ($(echo $pids))"
sc_term cf644
[ "${SCSTATUS[cf644]}" = 0 ] ||
    fail "exit status ${SCSTATUS[cf644]} after SIGTERM"
grep -q 'REST POST' "$LOGF" || fail "log-level: trace from the file: no debug lines"
grep -aqF -- "$KEY" "$LOGF" && fail "the key is in the log file (log-level: trace)"
grep -aqF -- "$KEY" "$TMP/cf644.log" && fail "the key is in sc's output"
ok "log-level: trace from the file; the key in neither the log nor the output"

# 0600: no warning; --config-file, and a flag next to the file
F600=$TMP/sc-600.yaml
write_conf "$F600" 0600 cf600 "username: $SC_USER" "access-key: $KEY"
sc_bg cf600 run --config-file "$F600" --log-file "$TMP/cf600-file.log"
serves cf600 "sc run --config-file (0600)"
sc_term cf600
[ "${SCSTATUS[cf600]}" = 0 ] ||
    fail "exit status ${SCSTATUS[cf600]} after SIGTERM"
grep -q 'Warning:' "$TMP/cf600-file.log" "$TMP/cf600.log" &&
    fail "a warning for a 0600 file: $(grep -h 'Warning:' "$TMP"/cf600*.log)"
ok "0600: no warning"

# precedence: a wrong key in the file, the right one in the environment;
# a wrong user in the environment, the right one as a flag
FBAD=$TMP/sc-prec.yaml
write_conf "$FBAD" 0600 prec "username: mallory" "access-key: wrong-key"
export SAUCE_USERNAME=mallory SAUCE_ACCESS_KEY=$KEY
sc_bg prec run -c "$FBAD" -u "$SC_USER"
unset SAUCE_USERNAME SAUCE_ACCESS_KEY
serves prec "precedence"
sc_term prec
ok "precedence: -u beats SAUCE_USERNAME, SAUCE_ACCESS_KEY beats the file's key"

# SAUCE_CONFIG_FILE
export SAUCE_CONFIG_FILE=$TMP/sc-env.yaml
write_conf "$SAUCE_CONFIG_FILE" 0600 envcf "username: $SC_USER" \
    "access-key: $KEY"
sc_bg envcf run
unset SAUCE_CONFIG_FILE
serves envcf "SAUCE_CONFIG_FILE"
sc_term envcf
ok "SAUCE_CONFIG_FILE names the file"

# the right key in the file, a wrong one as a flag: refused
try_bad() {
	local tag=$1 what=$2 pattern=$3 status=0
	shift 3
	office timeout 30 "$SC" "$@" >"$TMP/$tag.log" 2>&1 || status=$?
	[ "$status" != 124 ] || fail "$what: sc still runs after 30 s"
	[ "$status" != 0 ] || fail "$what: exit status 0"
	grep -q -- "$pattern" "$TMP/$tag.log" ||
	    fail "$what: no '$pattern' in: $(cat "$TMP/$tag.log")"
	ok "$what: '$(grep -m1 'Error' "$TMP/$tag.log")', exit $status"
}
try_bad flagwins "a wrong -k beats the file's right key" \
    'Error: .*Not authorized' run -c "$F600" -k wrong-key \
    --ctl-socket "$TMP/flagwins.sock"

# bad files: a clear error with the file and the line, nothing started
FERR=$TMP/sc-err.yaml
write_conf "$FERR" 0600 err "username: $SC_USER" "access-key: $KEY" \
    "tunnel-domainz: [a.example]"
try_bad badkey "an unknown key" \
    "Error: config file $FERR, line 8: unknown key 'tunnel-domainz'" \
    run -c "$FERR"
write_conf "$FERR" 0600 err "username: $SC_USER" "access-key: $KEY" \
    "tunnel-connections: [1, 2]"
try_bad badtype "a list for a single value" \
    "line 8: 'tunnel-connections' takes one value, not a list" run -c "$FERR"
printf 'username: [%s\n' "$SC_USER" >"$FERR"
try_bad badyaml "broken YAML" "Error: config file $FERR, line 2: not valid YAML" \
    run -c "$FERR" -k "$KEY"
try_bad nofile "a missing file" "Error: config file $TMP/nonexistent.yaml: " \
    run -c "$TMP/nonexistent.yaml" -u "$SC_USER" -k "$KEY"
for t in badkey badtype badyaml nofile; do
	grep -aqF -- "$KEY" "$TMP/$t.log" && fail "$t: the key is in the error"
done

list=$(rest GET "/$SC_USER/tunnels")
[ "$list" = "[]" ] || fail "tunnels left running: $list"
ok "no tunnel left running"
e2e_done
