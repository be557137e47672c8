#!/bin/bash
# 200 browsers at once, each on its own connection: every answer complete
# and right (status 200, sha256 of its own seed).
. "$(dirname "$0")/lib.sh"
e2e_up

count=200
size=100000
mkdir "$TMP/c"
"$PYTHON" "$E2E_DIR/app.py" sums $size 1 $count >"$TMP/want" ||
    fail "app.py sums failed"

# all the curls start together inside cloud
cloud bash -c 'seq 1 "$1" | xargs -P "$1" -I{} curl -sS --max-time 90 \
    -x "http://$2" -o "$3/c/{}" -w "%{http_code}\n" "$4{}" \
    >"$3/codes" 2>"$3/curl.err"' \
    _ "$count" "$ENTRY" "$TMP" "$(app_url "/bytes/$size?seed=")" ||
    fail "some of the $count concurrent requests failed: $(sort "$TMP/curl.err" | uniq -c | head -5)"

good=$(grep -c '^200$' "$TMP/codes")
[ "$good" = $count ] ||
    fail "$good of $count answered 200: $(sort "$TMP/codes" | uniq -c | tr '\n' ' ')"
bad=0
while read -r seed want; do
	got=$(sha256sum <"$TMP/c/$seed" | cut -d' ' -f1)
	[ "$got" = "$want" ] || bad=$((bad + 1))
done <"$TMP/want"
[ "$bad" = 0 ] || fail "$bad of $count bodies have the wrong digest"
ok "$count concurrent requests: all 200, all digests right"
e2e_done
