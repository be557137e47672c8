#!/bin/bash
# The access key and the tunnel's KGP secret stay secret: not in sc's
# output nor its log file at the highest verbosity, not in the command
# line or environment of kgpd and proxyd, not in sc's own command line,
# nor in the environment of sc, its spawner and its cleaner once read.
# The secret is read from the create answer by a recording HTTP proxy
# that sc's REST calls go through (libcurl honours http_proxy).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/client-lib.sh"
e2e_init
start_server
start_app

cat >"$TMP/recproxy.py" <<'EOF'
# A forward proxy for plain HTTP that records every answer body.
import http.client, http.server, sys, urllib.parse
rec = open(sys.argv[2], "ab", buffering=0)
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def fwd(self):
        u = urllib.parse.urlsplit(self.path)
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else None
        hdrs = {k: v for k, v in self.headers.items()
                if k.lower() not in ("proxy-connection", "connection")}
        c = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=20)
        path = u.path + ("?" + u.query if u.query else "")
        c.request(self.command, path, body, hdrs)
        r = c.getresponse()
        data = r.read()
        rec.write(data + b"\n")
        self.send_response(r.status)
        for k, v in r.getheaders():
            if k.lower() not in ("content-length", "connection",
                                 "transfer-encoding"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    do_GET = do_POST = do_DELETE = do_PUT = fwd
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
EOF
ip netns exec "$OFFICE" "$PYTHON" "$TMP/recproxy.py" 3128 "$TMP/answers" \
    >"$TMP/recproxy.log" 2>&1 &
PIDS+=("$!")
wait_for 10 office bash -c 'exec 3<>/dev/tcp/127.0.0.1/3128' ||
    fail "the recording proxy does not start"

LOGF=$TMP/secret-file.log
export http_proxy=http://127.0.0.1:3128
sc_v4 sec -i "$TUNNEL_NAME" -v -v -l "$LOGF"
unset http_proxy
sc_ready sec
id=$(sc_id sec)
secret=$(grep -ao '"kgp_secret": *"[0-9a-f]*"' "$TMP/answers" |
    sed 's/.*"\([0-9a-f]*\)"$/\1/' | head -n 1)
[ ${#secret} -ge 32 ] || fail "no kgp_secret in the recorded answers"
ok "sc's REST calls went through the recording proxy; the KGP secret is known"

# traffic and the highest verbosity, to give the log every chance
"$SC_CTL" -s "$TMP/sec.sock" verbose 3 >/dev/null || fail "sc-ctl verbose 3"
entry=$(entry_of "$id")
for i in 1 2 3; do
	fetch_via "$entry" "s$i" || fail "GET $i through the tunnel"
done

BASIC=$(printf '%s:%s' "$SC_USER" "$KEY" | base64 -w 0)
# (a file of the secret itself would match: search with fixed strings)
no_secrets_in() {
	local what=$1 file=$2
	grep -aqF -- "$KEY" "$file" && fail "the access key is in $what"
	grep -aqF -- "$secret" "$file" && fail "the KGP secret is in $what"
	# the REST calls' Authorization header
	grep -aqF -- "$BASIC" "$file" &&
	    fail "the Basic credentials (base64) are in $what"
	return 0
}

kpid=$("$SC_CTL" -s "$TMP/sec.sock" status | sed -n 's/^pid-kgpd: //p')
ppid=$("$SC_CTL" -s "$TMP/sec.sock" status | sed -n 's/^pid-proxyd: //p')
[ -n "$kpid" ] && [ "$kpid" != 0 ] && [ -n "$ppid" ] && [ "$ppid" != 0 ] ||
    fail "sc-ctl status gives no helper pids ('$kpid', '$ppid')"
# (with a log file, the spawner once logged into its socket: wrong pids)
[ "$(cat "/proc/$kpid/comm" 2>/dev/null)" = kgpd ] &&
    [ "$(cat "/proc/$ppid/comm" 2>/dev/null)" = proxyd ] ||
    fail "sc-ctl status names pids that are not kgpd and proxyd" \
    "('$kpid', '$ppid')"
for p in "$kpid" "$ppid"; do
	tr '\0' '\n' <"/proc/$p/cmdline" >"$TMP/cmdline.$p"
	tr '\0' '\n' <"/proc/$p/environ" >"$TMP/environ.$p"
	no_secrets_in "/proc/$p/cmdline" "$TMP/cmdline.$p"
	no_secrets_in "/proc/$p/environ" "$TMP/environ.$p"
	grep -q 'SAUCE' "$TMP/environ.$p" &&
	    fail "a SAUCE_* variable in the environment of pid $p"
done
ok "kgpd ($kpid) and proxyd ($ppid): neither secret in cmdline or environ"
tr '\0' ' ' <"/proc/${SCPID[sec]}/cmdline" >"$TMP/cmdline.sc"
no_secrets_in "sc's /proc cmdline" "$TMP/cmdline.sc"
ok "sc's own command line no longer shows the key: $(cut -c1-60 "$TMP/cmdline.sc")..."

sc_term sec
[ "${SCSTATUS[sec]}" = 0 ] || fail "exit status ${SCSTATUS[sec]} after SIGTERM"
grep -q '\[kgpd\]' "$LOGF" || fail "no [kgpd] lines in the log file"
grep -q 'REST POST body' "$LOGF" || fail "no -v -v lines in the log file"
no_secrets_in "the log file" "$LOGF"
no_secrets_in "sc's standard output" "$TMP/sec.log"
ok "-v -v and verbose 3: neither secret in the log file or the output"

# the key in the environment: the helpers still do not get it
export SAUCE_USERNAME=$SC_USER SAUCE_ACCESS_KEY=$KEY
sc_bg envsec run --tunnel-name "$TUNNEL_NAME-env" --rest-url "$REST_URL" \
    -v -v -f "$TMP/envsec.ready" --ctl-socket "$TMP/envsec.sock"
unset SAUCE_USERNAME SAUCE_ACCESS_KEY
sc_ready envsec
kpid=$("$SC_CTL" -s "$TMP/envsec.sock" status | sed -n 's/^pid-kgpd: //p')
ppid=$("$SC_CTL" -s "$TMP/envsec.sock" status | sed -n 's/^pid-proxyd: //p')
for p in "$kpid" "$ppid"; do
	tr '\0' '\n' <"/proc/$p/environ" >"$TMP/environ.$p"
	grep -aqF -- "$KEY" "$TMP/environ.$p" &&
	    fail "SAUCE_ACCESS_KEY reached the environment of pid $p"
done
# sc itself, its spawner and the spawner's cleaner scrubbed it once read
scpid=${SCPID[envsec]}
spawner=$(ps -o pid=,comm= --ppid "$scpid" | awk '$2 != "kgpd" {print $1}' |
    grep -vxE "$kpid|$ppid")
[ -n "$spawner" ] || fail "no spawner of sc $scpid"
cleaner=$(ps -o pid= --ppid "$spawner" | tr -d ' ')
for p in "$scpid" "$spawner" $cleaner; do
	tr '\0' '\n' <"/proc/$p/environ" >"$TMP/environ.$p"
	grep -q '^SAUCE_USERNAME=' "$TMP/environ.$p" ||
	    fail "pid $p: /proc/$p/environ is not sc's environment"
	grep -aqF -- "$KEY" "$TMP/environ.$p" &&
	    fail "the access key is in /proc/$p/environ"
	grep -aq '^SAUCE_ACCESS_KEY=.' "$TMP/environ.$p" &&
	    fail "SAUCE_ACCESS_KEY has a value in /proc/$p/environ"
done
[ -n "$cleaner" ] || fail "no cleaner under the spawner $spawner"
ok "sc ($scpid), its spawner ($spawner) and cleaner ($cleaner): the key" \
    "is out of /proc/PID/environ"
sc_term envsec
grep -aqF -- "$KEY" "$TMP/envsec.log" && fail "the key is in sc run's output"
ok "key in SAUCE_ACCESS_KEY: not passed to the helpers, not in the output"

grep -aqF -- "$KEY" "$TMP/server.log" && fail "sc-server logs the access key"
grep -aqF -- "$secret" "$TMP/server.log" && fail "sc-server logs the KGP secret"
ok "sc-server's log (-v) holds neither secret"
e2e_done
