#!/bin/bash
# A state directory that another user could change is refused at start,
# as sshd's StrictModes refuses such a ~/.ssh: it holds the KGP key, the
# accounts and the tunnels' secrets.  Refused, with exit 1 and a message
# that says why: writable by others, by its group, owned by another
# user, below a directory others may write to without the sticky bit;
# for the server and for the user commands alike.  Accepted: 0700 below
# a sticky directory (as /tmp), and 0755 (with a warning).
. "$(dirname "$0")/lib.sh"
e2e_init
NUID=$(id -u nobody) || skip "no user nobody"

# refused DIR WANT: sc-server and "user add" on DIR exit 1 saying WANT
refused() {
	local dir=$1 want=$2 st
	timeout 10 "$SC_SERVER" -s "$dir" user add carol \
	    >"$TMP/out" 2>"$TMP/err"
	st=$?
	[ "$st" = 1 ] || fail "user add on $dir: exit $st, want 1"
	grep -q "$want" "$TMP/err" ||
	    fail "user add on $dir says '$(cat "$TMP/err")', want '$want'"
	[ ! -e "$dir/accounts" ] || fail "user add wrote $dir/accounts"
	timeout 10 ip netns exec "$CLOUD" "$SC_SERVER" -d -s "$dir" \
	    -R "$CLOUD_IP:$REST_PORT" -K "$CLOUD_IP:$KGP_PORT" \
	    >"$TMP/out" 2>"$TMP/err"
	st=$?
	[ "$st" = 1 ] || fail "sc-server on $dir: exit $st, want 1"
	grep -q "$want" "$TMP/err" ||
	    fail "sc-server on $dir says '$(cat "$TMP/err")', want '$want'"
	MSG=$(head -n 1 "$TMP/err")
}

# accepted DIR: sc-server on DIR serves; WARN gets its warnings
accepted() {
	local dir=$1 p
	ip netns exec "$CLOUD" "$SC_SERVER" -d -s "$dir" \
	    -R "$CLOUD_IP:$REST_PORT" -K "$CLOUD_IP:$KGP_PORT" \
	    >"$TMP/acc.log" 2>&1 &
	p=$!
	PIDS+=("$p")
	wait_for 10 cloud curl -sS --max-time 1 -o /dev/null \
	    "http://$CLOUD_IP:$REST_PORT/rest/v1/" ||
	    fail "sc-server on $dir does not serve: $(cat "$TMP/acc.log")"
	kill -TERM "$p"
	wait_for 10 not_running "$p" || fail "sc-server on $dir runs on"
	wait "$p"
}

mkdir -m 0777 "$TMP/open" && chmod 0777 "$TMP/open" || fail "mkdir"
refused "$TMP/open" "is writable by others (mode 0777): chmod go-w"
ok "a state directory of mode 0777: exit 1, '$MSG'"

mkdir -m 0770 "$TMP/group" && chmod 0770 "$TMP/group" || fail "mkdir"
refused "$TMP/group" "is writable by its group (mode 0770)"
ok "mode 0770: exit 1, '$MSG'"

mkdir -m 0700 "$TMP/theirs" && chown nobody "$TMP/theirs" || fail "mkdir"
refused "$TMP/theirs" "belongs to uid $NUID, not to uid 0"
ok "owned by nobody: exit 1, '$MSG'"

mkdir -m 0777 "$TMP/pub" && chmod 0777 "$TMP/pub" &&
    mkdir -m 0700 "$TMP/pub/state" || fail "mkdir"
refused "$TMP/pub/state" "above the state directory, is writable by others"
ok "below a world-writable directory: exit 1, '$MSG'"

mkdir -m 1777 "$TMP/sticky" && chmod 1777 "$TMP/sticky" || fail "mkdir"
accepted "$TMP/sticky/state"
[ "$(stat -c %a "$TMP/sticky/state")" = 700 ] ||
    fail "the state directory was not created 0700"
ok "below a sticky directory: created 0700, served"

mkdir -m 0755 "$TMP/readable" && chmod 0755 "$TMP/readable" || fail "mkdir"
accepted "$TMP/readable"
grep -q "state directory $TMP/readable is accessible by others" \
    "$TMP/acc.log" || fail "no warning for a state directory of mode 0755"
ok "mode 0755: served, with a warning"
e2e_done
