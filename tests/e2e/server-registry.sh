#!/bin/bash
# The tunnel registry (statedir/sc-server.db, and the tunnels.json of
# older versions that it imports) cannot be made unreadable
# by what the REST API accepts (issue 14, item 1), and an empty POST body
# creates no tunnel:
#  - an empty body is a 400 with a JSON message; {} still creates one;
#  - metadata nested 2,046 levels deep (the issue's attack) is a 400 that
#    names "metadata", 16 levels pass; metadata over 16 KiB is a 413;
#  - whatever was accepted (escapes, Unicode, reals, the deepest and the
#    largest metadata allowed, long domain lists) loads back after a
#    restart, from the database, each tunnel a JSON line of its own;
#  - one bad line of a tunnels.json to import costs its tunnel only: the
#    others are imported and the file is kept as tunnels.json.bad;
#  - a version 1 file (one JSON document) is still imported, and renamed
#    tunnels.json.migrated;
#    one that the old server wrote with metadata too deep to parse loses
#    only that tunnel;
#  - terminated tunnels are bounded: none that ended more than 24 hours
#    ago, at most 64 in the database.
. "$(dirname "$0")/lib.sh"
e2e_init
start_server

STATE=$TMP/state/tunnels.json
DB=$TMP/state/sc-server.db

# export: the database's tunnels as a version 2 tunnels.json, which the
# next start imports
export_registry() {
	{ echo '{"version":2}'; db_query "SELECT line FROM tunnels ORDER BY rowid"; } \
	    >"$STATE" || fail "cannot export the registry"
}

stop_server() {
	kill -TERM "$SERVER_PID"
	wait_for 10 not_running "$SERVER_PID" ||
	    fail "sc-server still runs 10 s after SIGTERM"
	wait "$SERVER_PID"
	local st=$?
	[ "$st" = 0 ] || fail "sc-server exited $st after SIGTERM"
}

# post FILE: POST the body in FILE; CODE gets the status, $TMP/ans the answer
post() {
	CODE=$(rest POST "/$SC_USER/tunnels" -H 'Content-Type: application/json' \
	    --data-binary @"$1" -o "$TMP/ans" -w '%{http_code}') ||
	    fail "POST with $(wc -c <"$1") bytes: no answer"
}

# message: the "message" of the last answer (it must be JSON)
message() {
	json_get "j['message']" <"$TMP/ans" ||
	    fail "the answer is not a JSON message: $(head -c 200 "$TMP/ans")"
}

# refused NAME CODE PATTERN: POST $TMP/NAME.json is answered CODE with
# a JSON message matching PATTERN, which MSG gets
refused() {
	post "$TMP/$1.json"
	[ "$CODE" = "$2" ] || fail "POST $1: status $CODE, want $2"
	MSG=$(message)
	case $MSG in
	$3) ;;
	*) fail "POST $1: the message '$MSG' does not match '$3'" ;;
	esac
}

ids() {
	rest GET "/$SC_USER/tunnels" | json_get "' '.join(sorted(j))"
}

# gen NAME PYTHON-EXPR: the JSON of the expression (o: the object) in
# $TMP/NAME.json
gen() {
	"$PYTHON" -c 'import json, sys
o = eval(sys.argv[1])
sys.stdout.write(o if isinstance(o, str) else
    json.dumps(o, separators=(",", ":")))' "$2" \
	    >"$TMP/$1.json" || fail "cannot make $1.json"
}

# 1. an empty body: 400 and a JSON message, no tunnel
: >"$TMP/empty.json"
refused empty 400 '*empty*'
[ -z "$(ids)" ] || fail "an empty POST body created a tunnel: $(ids)"
echo '{}' >"$TMP/obj.json"
post "$TMP/obj.json"
[ "$CODE" = 200 ] || fail "POST {}: status $CODE"
A=$(json_get "j['id']" <"$TMP/ans")
ok "empty POST body: 400 '$MSG', no tunnel; {} creates $A"

# 2. deep and large metadata: refused, naming the field
gen deep '"{\"metadata\": {\"a\": " + "[" * 2044 + "]" * 2044 + "}}"'
refused deep 400 '*metadata*nested*'
deepmsg=$MSG
gen deep17 '{"metadata": {"a": eval("[" * 16 + "]" * 16)}}'
refused deep17 400 '*metadata*nested*16*'
gen big '{"metadata": {"k": "m" * 20000}}'
refused big 413 '*metadata*16384*'
gen huge '{"domain_names": ["d%06d.example" % i for i in range(5000)]}'
post "$TMP/huge.json"
[ "$CODE" = 413 ] || fail "a body over 64 KiB: status $CODE, want 413"
[ "$(ids)" = "$A" ] || fail "a refused POST created a tunnel: $(ids)"
ok "metadata 2,046 deep: 400 '$deepmsg'; 17 deep: 400; 20,000 bytes:" \
    "413 '$MSG'; body > 64 KiB: 413"

# 3. what is accepted loads back, whatever it holds
gen t1 '{"tunnel_identifier": "quo\"te\\back", "metadata": {"u": "\u00e9\u2028\ud83d\ude00", "c": "\u0001\n\t", "r": [0.1] * 500, "n": None, "b": True}}'
gen t2 '{"metadata": {"a": eval("[" * 15 + "]" * 15)}, "vm_version": "v" * 64}'
gen t3 '{"metadata": {"k": "m" * (16384 - 8)}, "domain_names": ["*.d%05d.example" % i for i in range(2400)], "direct_domains": ["x"], "no_ssl_bump_domains": ["y"] * 100, "shared_tunnel": True, "tunnel_pool": True}'
gen t4 '{"metadata": {"\u0000": 1}}'
want="$A"
for t in t1 t2 t3; do
	post "$TMP/$t.json"
	[ "$CODE" = 200 ] || fail "POST $t: status $CODE: $(head -c 300 "$TMP/ans")"
	want="$want $(json_get "j['id']" <"$TMP/ans")"
done
refused t4 400 '*invalid JSON*'
want=$(echo "$want" | tr ' ' '\n' | sort | tr '\n' ' ' | sed 's/ $//')
[ "$(ids)" = "$want" ] || fail "tunnels '$(ids)', want '$want'"
rest GET "/$SC_USER/tunnels?full=true" | "$PYTHON" -c 'import json, sys
a = json.load(sys.stdin)
json.dump(sorted(a, key=lambda t: t["id"]), open(sys.argv[1], "w"))' "$TMP/before.json"
stop_server
n=$(db_query "SELECT count(*) FROM tunnels")
[ "$n" = 4 ] || fail "the database has $n tunnels, want 4"
"$PYTHON" -c 'import json, sqlite3, sys
for (l,) in sqlite3.connect(sys.argv[1]).execute("SELECT line FROM tunnels"):
	json.loads(l)' "$DB" || fail "a line of the registry does not parse alone"
run_server
grep -q "4 tunnels restored from $DB" "$TMP/server.log" ||
    fail "no '4 tunnels restored' line after the restart"
rest GET "/$SC_USER/tunnels?full=true" | "$PYTHON" -c 'import json, sys
a = sorted(json.load(sys.stdin), key=lambda t: t["id"])
b = json.load(open(sys.argv[1]))
keep = ("id", "tunnel_identifier", "metadata", "domain_names",
    "direct_domains", "no_ssl_bump_domains", "shared_tunnel", "tunnel_pool",
    "vm_version", "status", "creation_time")
for x, y in zip(a, b):
	for k in keep:
		assert x[k] == y[k], (x["id"], k)
assert len(a) == len(b) == 4' "$TMP/before.json" ||
    fail "the tunnels after the restart differ from those before"
ok "4 tunnels with escapes, Unicode, reals, 15 levels, 16 KiB of metadata:" \
    "restored alike from $n lines"

# 4. one bad line of a file to import costs that tunnel only
stop_server
export_registry
B=$(sed -n 3p "$STATE" | json_get "j['id']")
"$PYTHON" -c 'import sys
p, b = sys.argv[1], sys.argv[2]
s = open(p).read().replace("\"%s\"" % b, "garbage{", 1)
open(p, "w").write(s)' "$STATE" "$B"
run_server
grep -q "tunnels.json: line 3 left out" "$TMP/server.log" ||
    fail "no warning for line 3"
[ -f "$STATE.bad" ] || fail "the file with a bad line was not kept as $STATE.bad"
[ ! -f "$STATE" ] || fail "$STATE is still there"
want=$(echo "$want" | tr ' ' '\n' | grep -v "$B" | tr '\n' ' ' | sed 's/ $//')
[ "$(ids)" = "$want" ] || fail "after a bad line 3: tunnels '$(ids)', want '$want'"
ok "a bad line 3: tunnel $B left out with a warning, the other 3 restored," \
    "the file kept as tunnels.json.bad"

# 5. version 1, with terminated tunnels old and new
stop_server
"$PYTHON" -c 'import json, sys, time
now = int(time.time())
def tun(i, status, ended):
	t = {"id": "%032x" % (0xc0de0000 + i), "owner": "alice",
	    "status": status, "tunnel_identifier": "v1-%d" % i,
	    "creation_time": now - 3 * 86400, "launch_time": now - 3 * 86400,
	    "last_connected": None, "shutdown_time": ended,
	    "domain_names": [], "metadata": {"hostname": "h"}}
	if status == "running":
		t["kgp_secret"] = "ab" * 32
		t["entry_port"] = None
	return t
a = [tun(0, "running", None)]
a += [tun(i, "terminated", now - 2 * 86400) for i in range(1, 6)]
a += [tun(i, "terminated", now - 3600 + i) for i in range(10, 110)]
json.dump({"version": 1, "tunnels": a}, open(sys.argv[1], "w"), indent=1)' "$STATE"
rm -f "$STATE.bad"
run_server
grep -q 'restored from .* (version 1), 1 running' "$TMP/server.log" ||
    fail "no line saying the version 1 file was read"
[ ! -f "$STATE.bad" ] || fail "a good version 1 file was set aside"
[ -f "$STATE.migrated" ] && [ ! -f "$STATE" ] ||
    fail "the imported file was not renamed $STATE.migrated"
grep -q "the tunnels of $STATE are in $DB, the file kept as $STATE.migrated" \
    "$TMP/server.log" || fail "no line saying $STATE was imported"
v1id() {
	printf '%032x' $((0xc0de0000 + $1))
}
[ "$(ids)" = "$(v1id 0)" ] ||
    fail "after the version 1 file: tunnels '$(ids)'"
code=$(rest GET "/$SC_USER/tunnels/$(v1id 1)" -o /dev/null -w '%{http_code}')
[ "$code" = 404 ] || fail "a tunnel that ended 2 days ago: GET $code, want 404"
st=$(rest GET "/$SC_USER/tunnels/$(v1id 109)" |
    json_get "j['status']")
[ "$st" = terminated ] || fail "a tunnel that ended an hour ago: '$st'"
stop_server
nterm=$(db_query "SELECT count(*) FROM tunnels WHERE status = 'terminated'")
nrun=$(db_query "SELECT count(*) FROM tunnels WHERE status = 'running'")
[ "$nterm" = 64 ] && [ "$nrun" = 1 ] ||
    fail "the database keeps $nterm terminated and $nrun running tunnels, want 64, 1"
[ -z "$(db_query "SELECT id FROM tunnels WHERE id = '$(v1id 10)'")" ] ||
    fail "the database keeps the earliest ended of 100 terminated tunnels"
[ -n "$(db_query "SELECT id FROM tunnels WHERE id = '$(v1id 109)'")" ] ||
    fail "the database lost the last ended terminated tunnel"
ok "version 1 imported, the file kept as tunnels.json.migrated;" \
    "terminated: 2 days old forgotten (404), the 64 latest of 100 kept"

# 6. the issue's file: a version 1 registry that the old server wrote
# with one tunnel's metadata 2,046 levels deep, which does not parse as a
# whole; the upgrade loses the other tunnels nonetheless
"$PYTHON" -c 'import json, sys
def tun(i, meta):
	t = {"id": "%032x" % (0xd0d0 + i), "owner": "alice",
	    "status": "running", "tunnel_identifier": "deep-%d" % i,
	    "kgp_secret": "cd" * 32, "entry_port": None, "metadata": {}}
	return json.dumps(t, indent=1).replace("\"metadata\": {}", meta)
deep = "\"metadata\": {\"a\": " + "[" * 2046 + "]" * 2046 + "}"
body = ",\n".join([tun(1, "\"metadata\": {}"), tun(2, deep),
    tun(3, "\"metadata\": {\"b\": [1]}")])
open(sys.argv[1], "w").write("{\n \"version\": 1,\n \"tunnels\": [\n" + body +
    "\n ]\n}\n")' "$STATE"
rm -f "$STATE.bad"
run_server
grep -q 'tunnels.json is corrupt (.*): reading its tunnels one by one' \
    "$TMP/server.log" || fail "no line saying the file is read tunnel by tunnel"
grep -q 'tunnels.json: tunnel #2 left out' "$TMP/server.log" ||
    fail "no warning for the deep tunnel #2"
want="$(printf '%032x' $((0xd0d0 + 1))) $(printf '%032x' $((0xd0d0 + 3)))"
[ "$(ids)" = "$want" ] || fail "from the deep version 1 file: '$(ids)', want '$want'"
[ -f "$STATE.bad" ] || fail "the deep version 1 file was not kept aside"
ok "a version 1 file 2,046 levels deep: tunnels #1 and #3 restored," \
    "#2 left out, the file kept as tunnels.json.bad"
e2e_done
