#!/bin/sh
# The container's entry point (etc/container/Containerfile).
#
#	sc-entrypoint run|legacy [flags]	sc, version 5 or 4 command line
#	sc-entrypoint sc-server [flags]		the server, in the foreground
#	sc-entrypoint COMMAND ...		anything else, as it is
#
# SAUCE_ACCESS_KEY_FILE names a file holding the access key (a mounted
# secret): read into SAUCE_ACCESS_KEY, which sc wipes from its
# environment once read.  Logs go to standard output as JSON lines
# unless SC_LOG_FORMAT says text.
set -eu

if [ -n "${SAUCE_ACCESS_KEY_FILE:-}" ]; then
	if [ ! -r "$SAUCE_ACCESS_KEY_FILE" ]; then
		echo "sc-entrypoint: cannot read $SAUCE_ACCESS_KEY_FILE" >&2
		exit 1
	fi
	SAUCE_ACCESS_KEY=$(tr -d '\r\n' <"$SAUCE_ACCESS_KEY_FILE")
	export SAUCE_ACCESS_KEY
	unset SAUCE_ACCESS_KEY_FILE
fi
fmt=${SC_LOG_FORMAT:-json}

case "${1:-run}" in
run)
	shift
	exec sc run --log-format "$fmt" --log-file - \
	    --readyfile "${SC_READYFILE:-/tmp/sc.ready}" \
	    --ctl-socket /tmp/sc.sock "$@"
	;;
legacy)
	shift
	exec sc legacy --log-format "$fmt" -l - \
	    -f "${SC_READYFILE:-/tmp/sc.ready}" --ctl-socket /tmp/sc.sock "$@"
	;;
sc-server)
	shift
	exec sc-server -d -s /var/lib/sc-server --log-format "$fmt" -l - \
	    -R 0.0.0.0:4400 -K 0.0.0.0:4443 -m 0.0.0.0:9400 "$@"
	;;
*)
	exec "$@"
	;;
esac
