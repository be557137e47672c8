#!/bin/bash
# The CA that resigns TLS (issue 16).  At first start sc-server makes it
# in its state directory: ca.crt (0644) and ca.key (0600), CN "sc-server
# CA <host>", CA:TRUE.  Anyone gets the certificate without credentials
# (GET /rest/v1/public/ca.pem, which openssl x509 reads) and
# "sc-server ca show" prints the same with its SHA-256 fingerprint.  The
# CA process ("sc-server -W ca") signs a trial leaf when it comes up; the
# KGP worker asks it on a channel of their own (a unix socket pair, the
# parent not between them), again with a new CA process.
# Its key is in no other process: the KGP worker, which faces the
# browsers, has no descriptor or mapping of the key file, its memory and
# the REST worker's hold none of the key's bytes (while the CA process's
# do: the scan works), its root is the empty directory, and its sandbox
# (the same code, sandbox-probe server-kgp) cannot open the file.  A
# restart keeps the same CA; kill -9 of the CA process: a new one, which
# signs again.  An operator's CA (-c, -x) is served as given, and one
# that is no CA is refused at start.
. "$(dirname "$0")/lib.sh"
PROBE=${SANDBOX_PROBE:-$(dirname "$SC")/../tests/tools/sandbox-probe}
SANITIZER=
[ -x "$PROBE" ] && case $("$PROBE" -i 2>/dev/null) in
*sanitizer*) SANITIZER=1 ;;
esac

e2e_init
start_server
CRT=$TMP/state/ca.crt
CAKEY=$TMP/state/ca.key
CA_URL=http://$CLOUD_IP:$REST_PORT/rest/v1/public/ca.pem

# --- the files, the certificate --------------------------------------
[ -f "$CRT" ] && [ -f "$CAKEY" ] || fail "no ca.crt and ca.key in the state directory"
[ "$(stat -c %a "$CAKEY")" = 600 ] || fail "ca.key has mode $(stat -c %a "$CAKEY")"
[ "$(stat -c %a "$CRT")" = 644 ] || fail "ca.crt has mode $(stat -c %a "$CRT")"
grep -q "generated a new CA" "$TMP/server.log" || fail "no 'generated a new CA' line"
subj=$(openssl x509 -in "$CRT" -noout -subject -nameopt RFC2253)
case $subj in
"subject=CN=sc-server CA "*) ;;
*) fail "the CA's subject is '$subj'" ;;
esac
openssl x509 -in "$CRT" -noout -ext basicConstraints | grep -q "CA:TRUE" ||
    fail "the CA certificate is not CA:TRUE"
openssl x509 -in "$CRT" -noout -checkend $((3600 * 24 * 3000)) >/dev/null ||
    fail "the CA ends within 3000 days"
openssl ec -in "$CAKEY" -noout -text 2>/dev/null | grep -q "prime256v1" ||
    fail "the CA key is not EC P-256"
ok "first start: ca.key 0600, ca.crt 0644, $subj, CA:TRUE, EC P-256, ~10 years"

code=$(cloud curl -sS --max-time 5 -o "$TMP/got.pem" -w '%{http_code}' "$CA_URL")
[ "$code" = 200 ] || fail "GET $CA_URL without credentials: $code"
cmp -s "$TMP/got.pem" "$CRT" || fail "ca.pem is not ca.crt"
want_fp=$(openssl x509 -in "$CRT" -noout -fingerprint -sha256 | sed 's/.*=//')
got_fp=$(openssl x509 -in "$TMP/got.pem" -noout -fingerprint -sha256 | sed 's/.*=//') ||
    fail "openssl x509 cannot read ca.pem"
[ "$got_fp" = "$want_fp" ] || fail "ca.pem's fingerprint $got_fp, want $want_fp"
code=$(cloud curl -sS --max-time 5 -o /dev/null -w '%{http_code}' -X POST "$CA_URL")
[ "$code" = 405 ] || fail "POST $CA_URL: $code, want 405"
ok "GET /rest/v1/public/ca.pem without credentials: 200, ca.crt, openssl reads it"

"$SC_SERVER" -s "$TMP/state" ca show >"$TMP/show.out" 2>"$TMP/show.err" ||
    fail "sc-server ca show failed: $(cat "$TMP/show.err")"
sed -n '/-----BEGIN/,/-----END/p' "$TMP/show.out" | cmp -s - "$CRT" ||
    fail "sc-server ca show does not print ca.crt"
grep -qx "SHA256 Fingerprint=$want_fp" "$TMP/show.out" ||
    fail "sc-server ca show: no 'SHA256 Fingerprint=$want_fp' line: $(cat "$TMP/show.out")"
ok "sc-server ca show: the same certificate, SHA256 Fingerprint=${want_fp:0:11}..."

# each KGP worker's log name: "kgp", or with SERVER_KGP_WORKERS "kgp0"...
KGPW='\[kgp[0-9]*\]'
NKGP=${SERVER_KGP_WORKERS:-1}
# signs: how many trial leaves the KGP workers logged
signs() {
	grep -c "$KGPW the CA signs: a leaf for sc-server.invalid" "$TMP/server.log"
}
wait_for 5 eval '[ "$(signs)" -ge "$NKGP" ]' ||
    fail "no trial leaf signed by the CA process for each of the $NKGP KGP workers: $(signs)"
ok "the CA process signs (a trial leaf)"

# holds_peer A B: does process A hold a unix socket whose peer process B
# holds (a channel of their own, not through the parent)?
holds_peer() {
	cloud ss -xpnH | "$PYTHON" -c '
import re, sys
a, b = sys.argv[1], sys.argv[2]
owners, peers = {}, []
for line in sys.stdin:
    f = line.split()
    if len(f) < 8:
        continue
    ino, peer = f[5], f[7]
    pids = set(re.findall(r"pid=([0-9]+)", line))
    owners.setdefault(ino, set()).update(pids)
    if a in pids:
        peers.append(peer)
print(1 if any(b in owners.get(p, ()) for p in peers) else 0)' "$1" "$2"
}

# --- the key is the CA process's alone --------------------------------
P=$SERVER_PID
K=$(server_worker kgp)
R=$(server_worker rest)
C=$(server_worker ca)
[ -n "$K" ] && [ -n "$R" ] && [ -n "$C" ] || fail "workers: kgp '$K' rest '$R' ca '$C'"
# the KGP worker asks the CA process for leaves on a channel of theirs
[ "$(holds_peer "$K" "$C")" = 1 ] ||
    fail "the KGP worker ($K) has no channel to the CA process ($C): $(cloud ss -xpnH | grep -E "pid=($K|$C)," | head -20)"
[ "$(holds_peer "$K" "$R")" = 0 ] || fail "the KGP worker has a channel to the REST worker"
ok "the KGP worker and the CA process: a channel of their own, the parent not between them"
for w in "$K" "$R" "$C"; do
	for f in /proc/"$w"/fd/*; do
		case $(readlink "$f") in
		*ca.key*|*ca.crt*|*/state*) fail "process $w has $(readlink "$f") open" ;;
		esac
	done
	if grep -q "ca\.key\|/state" "/proc/$w/maps"; then
		fail "process $w maps the key file: $(grep ca.key "/proc/$w/maps")"
	fi
done
# the key's private scalar, big-endian as openssl prints it
priv=$(openssl ec -in "$CAKEY" -noout -text 2>/dev/null |
    sed -n '/^priv:/,/^pub:/p' | grep -v '^p' | tr -d ' :\n')
[ ${#priv} -ge 60 ] || fail "cannot read the CA's private scalar ('$priv')"
# memscan PID: does its memory hold the scalar (either byte order)?
memscan() {
	"$PYTHON" - "$1" "$priv" <<'EOF'
import re, sys
pid, hexkey = sys.argv[1], sys.argv[2]
key = bytes.fromhex(hexkey.rjust(64, '0'))[-32:]
needles = [key, key[::-1]]
found = 0
with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb", 0) as mem:
    for line in maps:
        m = re.match(r"([0-9a-f]+)-([0-9a-f]+) (\S+)", line)
        lo, hi, perm = int(m.group(1), 16), int(m.group(2), 16), m.group(3)
        # (a sanitizer's shadow is terabytes of nothing: not the heap)
        if perm[0] != "r" or "[vvar" in line or "[vsyscall" in line or \
                hi - lo > 1 << 30:
            continue
        try:
            mem.seek(lo)
            data = mem.read(hi - lo)
        except OSError:
            continue
        if any(n in data for n in needles):
            found = 1
print(found)
EOF
}
[ "$(memscan "$C")" = 1 ] || fail "the CA key's bytes are not in the CA process: the scan cannot see"
[ "$(memscan "$K")" = 0 ] || fail "the CA key's bytes are in the KGP worker's memory"
[ "$(memscan "$R")" = 0 ] || fail "the CA key's bytes are in the REST worker's memory"
ok "the CA key: in the CA process's memory, in neither worker's; no worker has the file open or mapped"
if [ -z "$SANITIZER" ]; then
	[ "$(readlink "/proc/$K/root")" = /var/empty ] ||
	    fail "the KGP worker's root is $(readlink "/proc/$K/root")"
	[ -x "$PROBE" ] || fail "$PROBE is not built"
	"$PROBE" none open "$CAKEY" >/dev/null 2>&1 ||
	    fail "sandbox-probe cannot open $CAKEY without a sandbox"
	"$PROBE" server-kgp open "$CAKEY" >"$TMP/probe.out" 2>&1
	rc=$?
	[ "$rc" = 159 ] || [ "$rc" = 1 ] ||
	    fail "the KGP worker's sandbox opened $CAKEY (exit $rc: $(cat "$TMP/probe.out"))"
	ok "the KGP worker: root /var/empty, and its sandbox cannot open ca.key (exit $rc)"
fi

# --- kill -9 of the CA process: a new one ------------------------------
n=$(signs)
kill -KILL "$C"
wait_for 5 grep -q "ca worker $C was killed by signal 9" "$TMP/server.log" ||
    fail "the parent did not log the CA process's death"
wait_for 10 eval '[ "$(signs)" -ge $((n + NKGP)) ]' ||
    fail "no trial leaf from a new CA process for each KGP worker: $(signs), was $n"
C2=$(server_worker ca)
[ -n "$C2" ] && [ "$C2" != "$C" ] || fail "no new CA process"
[ "$(memscan "$C2")" = 1 ] || fail "the new CA process has no key"
wait_for 5 eval '[ "$(holds_peer "$K" "$C2")" = 1 ]' ||
    fail "the KGP worker has no channel to the new CA process"
ok "kill -9 of the CA process ($C): a new one ($C2) with the key, signing, a channel to the KGP worker"

# --- a restart keeps the CA --------------------------------------------
kill -TERM "$SERVER_PID"
wait_for 20 not_running "$SERVER_PID" || fail "sc-server runs 20 s after SIGTERM"
run_server
cloud curl -sS --max-time 5 -o "$TMP/got2.pem" "$CA_URL" || fail "no ca.pem after the restart"
cmp -s "$TMP/got2.pem" "$TMP/got.pem" || fail "the CA changed with the restart"
[ "$(grep -c "generated a new CA" "$TMP/server.log")" = 1 ] ||
    fail "a new CA was generated at the restart"
ok "a restart: the same CA"
kill -TERM "$SERVER_PID"
wait_for 20 not_running "$SERVER_PID" || fail "sc-server runs 20 s after SIGTERM"

# --- the operator's CA --------------------------------------------------
openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=Operator CA" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -keyout "$TMP/op.key" -out "$TMP/op.crt" >/dev/null 2>&1 ||
    fail "openssl could not make the operator's CA"
n=$(signs)
run_server -c "$TMP/op.crt" -x "$TMP/op.key"
cloud curl -sS --max-time 5 -o "$TMP/got3.pem" "$CA_URL" || fail "no ca.pem with -c"
cmp -s "$TMP/got3.pem" "$TMP/op.crt" || fail "ca.pem is not the operator's CA"
wait_for 5 eval '[ "$(signs)" -ge $((n + NKGP)) ]' ||
    fail "the operator's CA (RSA) does not sign"
"$SC_SERVER" -s "$TMP/state" -c "$TMP/op.crt" -x "$TMP/op.key" ca show |
    sed -n '/-----BEGIN/,/-----END/p' | cmp -s - "$TMP/op.crt" ||
    fail "sc-server -c -x ca show does not print the operator's CA"
ok "-c/-x: the operator's CA (RSA) is served, shown and signs"
kill -TERM "$SERVER_PID"
wait_for 20 not_running "$SERVER_PID" || fail "sc-server runs 20 s after SIGTERM"

# a leaf the operator's CA signed, CA:FALSE
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -subj "/CN=leaf" -keyout "$TMP/leaf.key" -out "$TMP/leaf.csr" \
    >/dev/null 2>&1 &&
    printf 'basicConstraints=critical,CA:FALSE\n' >"$TMP/leaf.ext" &&
    openssl x509 -req -in "$TMP/leaf.csr" -CA "$TMP/op.crt" \
    -CAkey "$TMP/op.key" -days 2 -extfile "$TMP/leaf.ext" \
    -out "$TMP/leaf.crt" >/dev/null 2>&1 || fail "openssl could not make a leaf"
out=$(timeout 10 "$SC_SERVER" -d -s "$TMP/state" -R 127.0.0.1:0 -K 127.0.0.1:0 \
    -c "$TMP/leaf.crt" -x "$TMP/leaf.key" 2>&1)
rc=$?
[ "$rc" = 1 ] || fail "sc-server with a leaf as its CA exited $rc: $out"
case $out in
*"not a CA certificate"*) ;;
*) fail "no 'not a CA certificate' in: $out" ;;
esac
out=$(timeout 10 "$SC_SERVER" -d -s "$TMP/state" -R 127.0.0.1:0 -K 127.0.0.1:0 \
    -c "$TMP/op.crt" -x "$TMP/leaf.key" 2>&1)
rc=$?
[ "$rc" = 1 ] && case $out in *"not the certificate's"*) true ;; *) false ;; esac ||
    fail "sc-server with a CA and another key: exit $rc: $out"
ok "a leaf as the CA, or a key that is not the CA's: exit 1, saying why"
e2e_done
