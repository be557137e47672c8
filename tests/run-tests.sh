#!/bin/bash
# Build and run every test: unit (cmocka), fuzz runners, man page lint,
# end-to-end in network namespaces (those need root).
#
#   tests/run-tests.sh [--install] [--suite NAME ...] [BUILDDIR [meson setup options]]
#
# --install   apt-get the packages of tests/packages.txt first (Debian 12, root)
# --suite     run only these meson test suites (unit, fuzz, man, e2e;
#             stress, which the default run leaves out)
# BUILDDIR    default: build
# Warnings are errors (-Dwerror=true): the tree builds clean on Debian 12
# with gcc and clang; WERROR=false relaxes that on other compilers.
# It prints a closing line "N passed, N failed, N skipped" and exits
# non-zero if the build or any test failed.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
install=0
suites=()
while [ $# -gt 0 ]; do
	case $1 in
	--install) install=1; shift ;;
	--suite) suites+=(--suite "$2"); shift 2 ;;
	-h|--help) sed -n '2,15p' "$0"; exit 0 ;;
	*) break ;;
	esac
done
builddir=${1:-build}
[ $# -gt 0 ] && shift

if [ "$install" = 1 ]; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update || exit 1
	# shellcheck disable=SC2046
	apt-get install -y --no-install-recommends \
	    $(sed 's/#.*//' "$top/tests/packages.txt") || exit 1
	# started as root, sc runs as _sc (see sc(8), SECURITY CONSIDERATIONS)
	if ! getent passwd _sc >/dev/null; then
		useradd -r -d /var/empty -s /usr/sbin/nologin _sc || exit 1
	fi
fi

cd "$top" || exit 1
if [ -f "$builddir/build.ninja" ]; then
	meson setup --reconfigure "$builddir" -Dwerror="${WERROR:-true}" "$@" \
	    >/dev/null || exit 1
else
	meson setup "$builddir" -Dwerror="${WERROR:-true}" "$@" || exit 1
fi
ninja -C "$builddir" || { echo "0 passed, 1 failed (build)"; exit 1; }

start=$(date +%s)
meson test -C "$builddir" --print-errorlogs "${suites[@]}"
status=$?
end=$(date +%s)

"${PYTHON:-python3}" - "$builddir/meson-logs/testlog.json" "$((end - start))" <<'PY'
import json, sys
counts = {"passed": 0, "failed": 0, "skipped": 0}
slow = []
for line in open(sys.argv[1]):
    t = json.loads(line)
    r = t.get("result")
    if r in ("OK", "EXPECTEDFAIL"):
        counts["passed"] += 1
    elif r == "SKIP":
        counts["skipped"] += 1
    else:
        counts["failed"] += 1
        print("failed: %s (%s)" % (t.get("name"), r))
print("tests took %s s" % sys.argv[2])
print("%d passed, %d failed, %d skipped" % (counts["passed"], counts["failed"], counts["skipped"]))
PY
exit $status
