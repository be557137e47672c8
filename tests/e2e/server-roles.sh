#!/bin/bash
# Organisations, teams and roles (issue 19): organisation acme with
# teams web and ops, its admin boss, web's team admin lead, members dev
# (web) and op (ops); gx, the admin of another organisation.
#  - sharing: boss's shared tunnel reaches acme, lead's the team web;
#    dev's POST with shared_tunnel is a 403 that says why, sc -s run by
#    dev prints it and exits 1, and a share-refused event is logged;
#  - the REST list and get return the caller's tunnels and those shared
#    with it, "owner" and "shared_with_me" saying which; another's
#    tunnel that is not shared with it is a 404;
#  - deleting: the owner or an admin of its organisation; a member that
#    sees a shared tunnel gets 403, another organisation's admin 404;
#  - an organisation admin adds, lists, changes (PATCH: team, role) and
#    deletes the organisation's accounts, lists and adds its teams
#    through the REST API; others may not;
#  - the entry proxy with -P asks the same question: boss's shared
#    tunnel (a real sc) takes the proxy credentials of op, not gx's.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/client-lib.sh"
e2e_init
start_server -P
start_app

cli() { "$SC_SERVER" -s "$TMP/state" "$@"; }
cli org add acme && cli org add globex && cli team add acme web &&
    cli team add acme ops || fail "org and team add"
declare -A K
K[boss]=$(cli user add boss --org acme --role admin) &&
K[lead]=$(cli user add lead --org acme --team web --role team-admin) &&
K[dev]=$(cli user add dev --org acme --team web) &&
K[op]=$(cli user add op --org acme --team ops) &&
K[gx]=$(cli user add gx --org globex --role admin) || fail "user add"

# as USER METHOD PATH [curl args]
as() {
	local u=$1 m=$2 p=$3
	shift 3
	cloud curl -sS --max-time 10 -u "$u:${K[$u]}" -X "$m" "$@" \
	    "$REST_URL/$u$p"
}

# expect_code USER METHOD PATH CODE BODY: the call (BODY - for none)
# answers CODE
expect_code() {
	local got
	if [ "$5" = - ]; then
		got=$(as "$1" "$2" "$3" -o "$TMP/c.json" -w '%{http_code}')
	else
		got=$(as "$1" "$2" "$3" -d "$5" -o "$TMP/c.json" -w '%{http_code}')
	fi
	[ "$got" = "$4" ] || fail "$1 $2 $3 $5: $got, want $4: $(cat "$TMP/c.json")"
}

# create USER SHARED: a tunnel's id (the accounts sign in within 3 s)
create() {
	as "$1" POST /tunnels -d "{\"tunnel_identifier\": \"$1\", \"shared_tunnel\": $2}" |
	    json_get "j['id']"
}
signs_in() {
	[ "$(as gx GET /tunnels -o /dev/null -w '%{http_code}')" = 200 ]
}
wait_for 3 signs_in || fail "the new accounts do not sign in within 3 s"
TB=$(create boss true) && TL=$(create lead true) && TD=$(create dev false) ||
    fail "POST"
[ -n "$TB" ] && [ -n "$TL" ] && [ -n "$TD" ] || fail "no tunnel ids"

# 1. a member may not share
code=$(as dev POST /tunnels -d '{"shared_tunnel": true}' -o "$TMP/ans" -w '%{http_code}')
[ "$code" = 403 ] || fail "dev's shared POST: status $code, want 403"
msg=$(json_get "j['message']" <"$TMP/ans")
case $msg in
*"dev is a member of organisation acme"*"may not share"*) ;;
*) fail "dev's shared POST: '$msg'" ;;
esac
SC_USER=dev KEY=${K[dev]} sc_v4 member -i shared-by-member -s
sc_exit member 30
[ "${SCSTATUS[member]}" = 1 ] || fail "sc -s by a member: exit ${SCSTATUS[member]}"
err=$(grep -m1 'Error: ' "$TMP/member.log")
case $err in
*403*"may not share"*) ;;
*) fail "sc -s by a member printed '$err'" ;;
esac
wait_for 3 sh -c "'$SC_SERVER' -s '$TMP/state' events | grep -Eq 'share-refused +dev +dev'" ||
    fail "no share-refused event: $(cli events)"
ok "a member's shared tunnel: 403 '$msg'; sc -s exits 1: '${err#*Error: }'; an event"

# 2. who sees what: ids, and full objects with owner and shared_with_me
ids() {
	as "$1" GET /tunnels | json_get "' '.join(sorted(j))"
}
want() {
	printf '%s\n' "$@" | sort | tr '\n' ' ' | sed 's/ $//'
}
[ "$(ids boss)" = "$(want "$TB")" ] || fail "boss sees $(ids boss)"
[ "$(ids lead)" = "$(want "$TB" "$TL")" ] || fail "lead sees $(ids lead)"
[ "$(ids dev)" = "$(want "$TB" "$TL" "$TD")" ] || fail "dev sees $(ids dev)"
[ "$(ids op)" = "$(want "$TB")" ] || fail "op sees $(ids op)"
[ -z "$(ids gx)" ] || fail "gx of globex sees $(ids gx)"
as dev GET '/tunnels?full=true' | json_get \
    "sorted((t['tunnel_identifier'], t['owner'], t['shared_with_me']) for t in j)" \
    >"$TMP/full"
[ "$(cat "$TMP/full")" = '[["boss", "boss", true], ["dev", "dev", false], ["lead", "lead", true]]' ] ||
    fail "dev's full list: $(cat "$TMP/full")"
[ "$(as op GET "/tunnels/$TB" | json_get "[j['owner'], j['shared_with_me']]")" = '["boss", true]' ] ||
    fail "op's GET of boss's tunnel"
[ "$(as op GET "/tunnels/$TL" -o /dev/null -w '%{http_code}')" = 404 ] ||
    fail "op (team ops) gets lead's web tunnel"
[ "$(as gx GET "/tunnels/$TB" -o /dev/null -w '%{http_code}')" = 404 ] ||
    fail "gx (globex) gets boss's tunnel"
[ "$(as lead GET "/tunnels/$TD" -o /dev/null -w '%{http_code}')" = 404 ] ||
    fail "lead gets dev's tunnel that is not shared"
ok "boss's shared tunnel reaches acme, lead's the team web, dev's none;" \
    "owner and shared_with_me say which; not shared: 404"

# 3. who may delete
del() {
	as "$1" DELETE "/tunnels/$2" -o /dev/null -w '%{http_code}'
}
[ "$(del dev "$TB")" = 403 ] || fail "dev deletes boss's tunnel"
[ "$(del op "$TL")" = 404 ] || fail "op deletes lead's tunnel"
[ "$(del gx "$TB")" = 404 ] || fail "gx deletes boss's tunnel"
[ "$(del lead "$TD")" = 404 ] || fail "lead deletes dev's tunnel"
[ "$(as boss GET "/tunnels/$TD" -o /dev/null -w '%{http_code}')" = 404 ] ||
    fail "boss sees dev's tunnel that is not shared"
[ "$(del boss "$TD")" = 200 ] || fail "boss (admin of acme) cannot delete dev's tunnel"
[ "$(as dev GET "/tunnels/$TD" | json_get "j['status']")" = terminated ] ||
    fail "dev's tunnel is not terminated"
[ "$(del lead "$TL")" = 200 ] || fail "lead cannot delete its own tunnel"
wait_for 3 sh -c "'$SC_SERVER' -s '$TMP/state' events | grep -Eq 'tunnel-deleted +boss +dev +$TD'" ||
    fail "no event of boss deleting dev's tunnel: $(cli events)"
for u in dev op gx; do
	[ "$(as "$u" GET /events | json_get "len([e for e in j['events'] if e['subject'] == '$TD'])")" = \
	    "$([ "$u" = dev ] && echo 2 || echo 0)" ] || fail "$u's events of $TD"
done
[ "$(as boss GET /events | json_get "sorted(set(e['account'] for e in j['events']))")" = '["boss", "dev", "lead"]' ] ||
    fail "boss's events: $(as boss GET /events)"
ok "delete: dev of boss's 403, op and gx 404; boss deletes dev's (an" \
    "event says who); events: dev its own, boss acme's"

# 4. the organisation's accounts through the REST API, for its admin
code=$(as boss POST /accounts -d '{"name": "newbie", "team": "web"}' \
    -o "$TMP/new.json" -w '%{http_code}')
[ "$code" = 200 ] || fail "boss adds newbie: $code $(cat "$TMP/new.json")"
K[newbie]=$(json_get "j['access_key']" <"$TMP/new.json")
[ "$(json_get "[j['name'], j['team'], j['role']]" <"$TMP/new.json")" = \
    '["newbie", "web", "member"]' ] || fail "the new account: $(cat "$TMP/new.json")"
[ "$(as newbie GET /tunnels -o /dev/null -w '%{http_code}')" = 200 ] ||
    fail "newbie cannot sign in at once"
[ "$(as newbie GET /tunnels | json_get "' '.join(sorted(j))")" = "$(want "$TB")" ] ||
    fail "newbie does not see boss's shared tunnel"
cli user list | grep -Eq '^newbie +acme +web +member ' || fail "newbie not in user list"
as boss GET /accounts | json_get "' '.join(a['name'] for a in j['accounts'])" >"$TMP/acc"
[ "$(cat "$TMP/acc")" = "boss dev lead newbie op" ] || fail "boss lists $(cat "$TMP/acc")"
for c in "dev POST /accounts 403 {\"name\":\"x1\"}" \
    "lead GET /accounts 403 -" \
    "boss POST /accounts 409 {\"name\":\"gx\"}" \
    "boss POST /accounts 400 {\"name\":\"<b>\"}" \
    "boss POST /accounts 400 {\"name\":\"x2\",\"team\":\"nope\"}" \
    "boss POST /accounts 400 {\"name\":\"x3\",\"role\":\"boss\"}" \
    "boss DELETE /accounts/gx 404 -" \
    "gx DELETE /accounts/dev 404 -" \
    "boss DELETE /accounts/boss 409 -"; do
	expect_code $c
done
ok "REST accounts: boss adds newbie (its key answered once, it signs in" \
    "at once), lists acme's; a member, a team admin, another" \
    "organisation's account, a bad name, team or role refused"

# 4b. the organisation's teams, and an account's team and role (PATCH)
teams() {
	as boss GET /teams | json_get "[[t['name'], t['accounts']] for t in j['teams']]"
}
[ "$(teams)" = '[["ops", 1], ["web", 3]]' ] || fail "boss's teams: $(teams)"
code=$(as boss POST /teams -d '{"name": "qa"}' -o "$TMP/t.json" -w '%{http_code}')
[ "$code" = 200 ] || fail "boss adds team qa: $code $(cat "$TMP/t.json")"
[ "$(teams)" = '[["ops", 1], ["qa", 0], ["web", 3]]' ] || fail "teams after qa: $(teams)"
cli team list acme | grep -Eq '^acme +qa ' || fail "qa not in team list: $(cli team list)"
[ "$(as newbie POST /tunnels -d '{"shared_tunnel": true}' -o /dev/null -w '%{http_code}')" = 403 ] ||
    fail "newbie, a member, shares"
code=$(as boss PATCH /accounts/newbie -d '{"team": "qa", "role": "team-admin"}' \
    -o "$TMP/p.json" -w '%{http_code}')
[ "$code" = 200 ] || fail "boss changes newbie: $code $(cat "$TMP/p.json")"
[ "$(json_get "[j['name'], j['org'], j['team'], j['role']]" <"$TMP/p.json")" = \
    '["newbie", "acme", "qa", "team-admin"]' ] || fail "PATCH answered $(cat "$TMP/p.json")"
cli user list | grep -Eq '^newbie +acme +qa +team-admin ' ||
    fail "newbie not changed in the database: $(cli user list)"
[ "$(teams)" = '[["ops", 1], ["qa", 1], ["web", 2]]' ] || fail "teams after PATCH: $(teams)"
TN=$(create newbie true)
[ -n "$TN" ] || fail "newbie, now team admin of qa, cannot share"
[ "$(ids op)" = "$(want "$TB")" ] || fail "op sees qa's shared tunnel: $(ids op)"
code=$(as boss PATCH /accounts/newbie -d '{"role": "member"}' -o "$TMP/p.json" -w '%{http_code}')
[ "$code" = 200 ] && [ "$(json_get "[j['team'], j['role']]" <"$TMP/p.json")" = '["qa", "member"]' ] ||
    fail "PATCH of the role alone: $code $(cat "$TMP/p.json")"
for c in "boss POST /teams 409 {\"name\":\"qa\"}" \
    "boss POST /teams 400 {\"name\":\"<b>x</b>\"}" \
    "boss POST /teams 400 {\"name\":7}" \
    "dev POST /teams 403 {\"name\":\"devs\"}" \
    "lead GET /teams 403 -" \
    "gx GET /teams 200 -" \
    "boss PATCH /accounts/newbie 400 {\"team\":\"nope\"}" \
    "boss PATCH /accounts/newbie 400 {\"role\":\"boss\"}" \
    "boss PATCH /accounts/newbie 400 {\"team\":\"\",\"role\":\"team-admin\"}" \
    "boss PATCH /accounts/newbie 400 [1]" \
    "boss PATCH /accounts/gx 404 {\"role\":\"member\"}" \
    "boss PATCH /accounts/boss 409 {\"role\":\"member\"}" \
    "dev PATCH /accounts/newbie 403 {\"role\":\"admin\"}" \
    "lead PATCH /accounts/dev 403 {\"team\":\"\"}"; do
	expect_code $c
done
[ "$(as gx GET /teams | json_get "j['teams']")" = '[]' ] || fail "gx sees teams of acme"
# a name with + and @ in the path, %-encoded
expect_code boss POST /accounts 200 '{"name": "a+b@c"}'
expect_code boss PATCH /accounts/a%2Bb%40c 200 '{"team": "web"}'
cli user list | grep -Eq '^a\+b@c +acme +web +member ' ||
    fail "a+b@c not moved to web: $(cli user list)"
expect_code boss DELETE /accounts/a%2Bb%40c 200 -
cli user list | grep -q '^a+b@c ' && fail "a+b@c not deleted"
cli user list | grep -Eq '^newbie +acme +qa +member ' ||
    fail "a refused PATCH changed newbie: $(cli user list)"
ok "REST teams: boss lists acme's (with their accounts) and adds qa;" \
    "PATCH moves newbie to qa as team admin (it shares then), then back to" \
    "member; a taken or bad name, a team not there, a team admin with no" \
    "team, another organisation's account, boss's own role, a member or" \
    "team admin asking: refused; a+b@c changed and deleted by its" \
    "%-encoded name"
[ "$(as boss DELETE /accounts/newbie -o /dev/null -w '%{http_code}')" = 200 ] ||
    fail "boss cannot delete newbie"
[ "$(as newbie GET /tunnels -o /dev/null -w '%{http_code}')" = 401 ] ||
    fail "newbie still signs in after its deletion"
ok "REST accounts: boss deletes newbie, which no longer signs in"

# 5. -P: the entry proxy of boss's shared tunnel, with sc behind it
SC_USER=boss KEY=${K[boss]} sc_v4 boss -i boss-shared -s
sc_ready boss
entry=$(as boss GET "/tunnels/$(sc_id boss)" | json_get "j['entry_proxy']")
[ -n "$entry" ] || fail "no entry proxy for boss's tunnel"
via() {
	cloud curl -sS --max-time 20 -x "http://$entry" -o "$TMP/via" \
	    -w '%{http_code}' --proxy-user "$1:${K[$1]}" "$(app_url /text/p)"
}
[ "$(via op)" = 200 ] && [ "$(cat "$TMP/via")" = "response p" ] ||
    fail "op through boss's shared tunnel: $(via op)"
[ "$(via gx)" = 407 ] || fail "gx through boss's shared tunnel: $(via gx)"
ok "-P: op (acme) through boss's shared tunnel 200, gx (globex) 407"
e2e_done
