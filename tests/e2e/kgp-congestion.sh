#!/bin/bash
# The congestion control of the KGP links is an option of each end
# (issue 20): sc --kgp-congestion and sc-server --kgp-congestion, BBR by
# default.  The KGP sockets on both sides use the one asked for (ss -ti
# names it); a name that is not one is refused at start with a clear
# error; one the kernel does not let the process use is said once in
# the log, and the link comes up with the system's default.
. "$(dirname "$0")/lib.sh"

# what ss says of the KGP connection in namespace $1 (cloud or office)
kgp_cc() {
	"$1" ss -tni state established "( sport = :$KGP_PORT or dport = :$KGP_PORT )" |
	    grep -oE '\b(reno|cubic|bbr|bbr2|vegas|westwood|htcp)\b' | head -n 1
}

avail=$(cat /proc/sys/net/ipv4/tcp_available_congestion_control)
case " $avail " in *" reno "*) ;; *) skip "no reno in: $avail" ;; esac

e2e_init
# names that are not names: refused before anything starts
for bad in 'no such' BBR "$(printf 'x%.0s' $(seq 1 16))" ''; do
	"$SC_SERVER" -s "$TMP/state" --kgp-congestion "$bad" -R 127.0.0.1:1 \
	    >"$TMP/bad.out" 2>&1 && fail "sc-server took --kgp-congestion '$bad'"
	grep -q "kgp-congestion.*not a congestion control's name" "$TMP/bad.out" ||
	    fail "sc-server said for '$bad': $(cat "$TMP/bad.out")"
	"$SC" -u "$SC_USER" -k x -x http://127.0.0.1:1/rest/v1 \
	    --kgp-congestion "$bad" >"$TMP/bad.out" 2>&1 &&
	    fail "sc took --kgp-congestion '$bad'"
	grep -q "kgp-congestion.*not a congestion control's name" "$TMP/bad.out" ||
	    fail "sc said for '$bad': $(cat "$TMP/bad.out")"
done
ok "a name that is not a congestion control's is refused by sc and sc-server"

# reno on both ends, asked for (the system's default here is $(cat /proc/sys/net/ipv4/tcp_congestion_control))
start_server --kgp-congestion reno
start_app
start_sc --kgp-congestion reno --tunnel-connections 1
browse_ok cc || fail "no answer through the tunnel"
[ "$(kgp_cc office)" = reno ] ||
    fail "sc's KGP socket uses '$(kgp_cc office)', not reno"
[ "$(kgp_cc cloud)" = reno ] ||
    fail "sc-server's KGP socket uses '$(kgp_cc cloud)', not reno"
ok "--kgp-congestion reno: the KGP sockets of both ends use reno"
stop_sc

# by default: bbr, where the kernel has it
case " $avail " in
*" bbr "*)
	start_sc --tunnel-connections 1
	browse_ok cc || fail "no answer through the tunnel"
	[ "$(kgp_cc office)" = bbr ] ||
	    fail "sc's KGP socket uses '$(kgp_cc office)' by default, not bbr"
	ok "by default sc's KGP socket uses bbr"
	stop_sc
	;;
esac

# one the kernel has not (or does not let kgpd use): a line, and the link
start_sc --kgp-congestion vegas --tunnel-connections 1
browse_ok cc || fail "no answer through the tunnel with vegas asked"
wait_for 5 grep -q 'KGP congestion control vegas not available' "$TMP/sc.log" ||
    fail "no log line for a congestion control that is not there"
[ "$(grep -c 'KGP congestion control vegas not available' "$TMP/sc.log")" = 1 ] ||
    fail "the line is said more than once"
ok "an unavailable congestion control: said once, and the tunnel works"
