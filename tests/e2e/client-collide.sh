#!/bin/bash
# Colliding tunnels: a second sc with the same tunnel name removes the
# first one's tunnel, and the first sc says so and exits non-zero.  With
# --no-remove-colliding-tunnels, or --tunnel-pool, both run and serve.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/client-lib.sh"
e2e_init
start_server
start_app

name=$TUNNEL_NAME

# 1. the second one removes the first
sc_v4 first -i "$name"
sc_ready first
id1=$(sc_id first)
[ -n "$id1" ] || fail "first: no Tunnel ID line"
fetch_via "$(entry_of "$id1")" first || fail "first tunnel does not serve"
ok "first sc up, tunnel $id1 serves"

sc_v4 second -i "$name"
sc_ready second
id2=$(sc_id second)
[ -n "$id2" ] && [ "$id2" != "$id1" ] || fail "second: tunnel id '$id2'"
grep -q "Removing colliding tunnel $id1" "$TMP/second.log" ||
    fail "second sc does not say it removes $id1"
ok "second sc removed colliding tunnel $id1 and came up as $id2"

sc_exit first 20
st=${SCSTATUS[first]}
[ "$st" != timeout ] || fail "first sc still runs 20 s after its tunnel was removed"
[ "$st" != 0 ] || fail "first sc exited 0 after its tunnel was removed"
grep -Eiq '^(.* )?Error: .*(terminated|removed|deleted)' "$TMP/first.log" ||
    fail "first sc: no Error: line saying the tunnel was terminated"
ok "first sc exited $st: '$(grep -Eim1 'Error: ' "$TMP/first.log" | sed 's/^.*Error/Error/')'"

s1=$(tunnel_field "$id1" status)
s2=$(tunnel_field "$id2" status)
[ "$s1" = terminated ] || fail "first tunnel is '$s1', want terminated"
[ "$s2" = running ] || fail "second tunnel is '$s2', want running"
list=$(rest GET "/$SC_USER/tunnels")
case $list in *"$id1"*) fail "first tunnel still listed: $list" ;; esac
fetch_via "$(entry_of "$id2")" second || fail "second tunnel does not serve"
ok "REST: $id1 terminated, $id2 running and serving"

sc_term second
[ "${SCSTATUS[second]}" = 0 ] ||
    fail "second sc: exit status ${SCSTATUS[second]} after SIGTERM"
ok "second sc: SIGTERM, exit 0"

# 2. and 3. both stay up
both_up() {
	local what=$1 a b ida idb
	shift
	a=$what-a
	b=$what-b
	sc_v4 "$a" -i "$name-$what" "$@"
	sc_ready "$a"
	sc_v4 "$b" -i "$name-$what" "$@"
	sc_ready "$b"
	ida=$(sc_id "$a")
	idb=$(sc_id "$b")
	[ -n "$ida" ] && [ -n "$idb" ] && [ "$ida" != "$idb" ] ||
	    fail "$what: tunnel ids '$ida' '$idb'"
	grep -q 'Removing colliding' "$TMP/$b.log" &&
	    fail "$what: the second sc removed a colliding tunnel"
	sleep 1
	not_running "${SCPID[$a]}" && fail "$what: the first sc exited"
	[ "$(tunnel_field "$ida" status)" = running ] ||
	    fail "$what: $ida is not running"
	[ "$(tunnel_field "$idb" status)" = running ] ||
	    fail "$what: $idb is not running"
	fetch_via "$(entry_of "$ida")" "$a" || fail "$what: $ida does not serve"
	fetch_via "$(entry_of "$idb")" "$b" || fail "$what: $idb does not serve"
	ok "$what: both tunnels of name '$name-$what' run and serve"
	sc_term "$a"
	sc_term "$b"
	[ "${SCSTATUS[$a]}" = 0 ] && [ "${SCSTATUS[$b]}" = 0 ] ||
	    fail "$what: exit status ${SCSTATUS[$a]} ${SCSTATUS[$b]} after SIGTERM"
	ok "$what: both exit 0 on SIGTERM"
}

both_up noremove --no-remove-colliding-tunnels
both_up pool --tunnel-pool

# the version 5 spelling of the pool
sc_bg v5a run -u "$SC_USER" -k "$KEY" --rest-url "$REST_URL" \
    -i "$name-v5" -t -f "$TMP/v5a.ready" --ctl-socket "$TMP/v5a.sock"
sc_ready v5a
sc_bg v5b run -u "$SC_USER" -k "$KEY" --rest-url "$REST_URL" \
    -i "$name-v5" -t -f "$TMP/v5b.ready" --ctl-socket "$TMP/v5b.sock"
sc_ready v5b
sleep 1
not_running "${SCPID[v5a]}" && fail "sc run -t: the first sc exited"
[ "$(tunnel_field "$(sc_id v5a)" status)" = running ] ||
    fail "sc run -t: the first tunnel is not running"
ok "sc run -t: both tunnels run"
sc_term v5a
sc_term v5b
e2e_done
