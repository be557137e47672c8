# What bench/run.sh, wan.sh, nodelink.sh and create.sh share (bash;
# sourced).  They set $tmp (their directory) and BENCH_NAME (the prefix
# of die's message).

die() {
	echo "${BENCH_NAME:-bench}: $*" >&2
	for f in "$tmp"/*.log; do
		[ -f "$f" ] && { echo "--- $f"; tail -n 20 "$f"; }
	done
	exit 1
}

# wait_for SECONDS COMMAND...: every 0.1 s until COMMAND succeeds
wait_for() {
	local i=0 limit=$(( $1 * 10 ))
	shift
	until "$@" >/dev/null 2>&1; do
		i=$((i + 1))
		[ "$i" -le "$limit" ] || return 1
		sleep 0.1
	done
}

# wrk_rps LOG LUA ADDR: requests/s of wrk -t2 -c50 for $duration seconds
# with the script LUA through ADDR (its output appended to LOG)
wrk_rps() {
	local out
	out=$(wrk -t2 -c50 -d"${duration}s" -s "$2" "http://$3" 2>&1)
	echo "$out" >>"$1"
	awk '/^Requests\/sec:/ { printf "%.0f", $2 }' <<<"$out"
}

# bench_three ARRAY KEY VIA KEEP CLOSE LOG [curl args]: through the proxy
# VIA, wrk's requests/s with the script KEEP (connections kept alive)
# into ARRAY[rps.KEY] and with CLOSE (a new one a request) into
# ARRAY[new.KEY], and the MB/s of curl's 1 GiB download of $APP into
# ARRAY[dl.KEY], each when better than what is there; output to LOG
bench_three() {
	local -n into=$1
	local key=$2 via=$3 keep=$4 close=$5 log=$6 out
	shift 6
	out=$(wrk_rps "$log" "$keep" "$via")
	[ -n "$out" ] && [ "$out" -gt "${into[rps.$key]}" ] &&
	    into[rps.$key]=$out
	out=$(wrk_rps "$log" "$close" "$via")
	[ -n "$out" ] && [ "$out" -gt "${into[new.$key]}" ] &&
	    into[new.$key]=$out
	out=$(curl -sS -x "http://$via" "$@" -o /dev/null \
	    -w '%{speed_download}' "http://$APP/1g" 2>>"$log")
	out=$(awk -v b="$out" 'BEGIN { printf "%.0f", b / 1e6 }')
	[ "$out" -gt "${into[dl.$key]}" ] && into[dl.$key]=$out
}

# three_table A B RATIO TARGET ARRAY KEY_A KEY_B: bench_three's figures
# of KEY_A (column A) and KEY_B (column B), and their ratio against TARGET
three_table() {
	local -n from=$5
	local m name
	printf '%-44s %11s %11s | %s\n' "measure" "$1" "$2" "$3 (target)"
	for m in rps new dl; do
		case $m in
		rps) name="wrk 1 KiB, 50 conns kept alive, req/s" ;;
		new) name="wrk 1 KiB, 50 conns, a new one a request, req/s" ;;
		dl) name="download 1 GiB, 1 stream, MB/s" ;;
		esac
		ratio_row "$name" "${from[$m.$6]}" "${from[$m.$7]}" "$4"
	done
}

# ratio_row NAME A B TARGET: a table's row, A, B and B/A against TARGET
ratio_row() {
	local r
	r=$(awk -v a="$3" -v b="$2" 'BEGIN {
	    if (b > 0) printf "%.2f", a / b; else print "-" }')
	printf '%-44s %11s %11s | %s\n' "$1" "$2" "$3" \
	    "$r (>=$4: $(awk -v v="$r" -v t="$4" 'BEGIN { if (v !~ /^[0-9.]+$/) print "n/a"; else print (v >= t ? "met" : "NOT met") }'))"
}

# bench_build DIR [TARGET...]: the meson build directory DIR (relative
# to $top, or absolute) set up as a release build if it is not one yet
# and built (only TARGETs when given); B its absolute path
bench_build() {
	local dir=$1
	shift
	cd "$top" || exit 1
	[ -f "$dir/build.ninja" ] ||
	    meson setup "$dir" -Dbuildtype=release >/dev/null || exit 1
	ninja -C "$dir" -j2 "$@" >/dev/null || exit 1
	case $dir in /*) B=$dir ;; *) B=$top/$dir ;; esac
}

# nginx_conf CONNS LISTEN [SERVER...]: $tmp/nginx.conf, the files of
# $tmp/www on LISTEN (/upload reads a body and discards it: 204) and the
# extra server blocks given
nginx_conf() {
	local conns=$1 listen=$2
	shift 2
	cat >"$tmp/nginx.conf" <<EOT
daemon off;
worker_processes 1;
worker_rlimit_nofile 65536;
pid $tmp/nginx.pid;
error_log $tmp/nginx.log;
events { worker_connections $conns; }
http {
	access_log off;
	sendfile on;
	keepalive_requests 1000000;
	keepalive_timeout 600s;
	default_type application/octet-stream;
	client_body_temp_path $tmp/nginx;
	proxy_temp_path $tmp/nginx;
	fastcgi_temp_path $tmp/nginx;
	uwsgi_temp_path $tmp/nginx;
	scgi_temp_path $tmp/nginx;
	server {
		listen $listen backlog=4096;
		root $tmp/www;
		# "return" discards the body: nginx reads it all (4 KiB reads)
		location = /upload { client_max_body_size 0; return 204; }
	}
$(printf '%s\n' "$@")
}
EOT
}

# peer_conf TINY_ADDR TINY_PORT SSHD_ADDR SSHD_PORT: the peer's
# $tmp/tinyproxy.conf and $tmp/sshd_config, and its keys
peer_conf() {
	cat >"$tmp/tinyproxy.conf" <<EOT
User nobody
Group nogroup
Port $2
Listen $1
Allow $1
MaxClients 1000
Timeout 600
Syslog Off
LogFile "$tmp/tinyproxy.log"
LogLevel Critical
EOT
	touch "$tmp/tinyproxy.log"
	chmod 666 "$tmp/tinyproxy.log"
	mkdir -p /run/sshd
	if [ ! -f "$tmp/host_key" ]; then
		ssh-keygen -q -t ed25519 -N '' -f "$tmp/host_key" &&
		    ssh-keygen -q -t ed25519 -N '' -f "$tmp/user_key" &&
		    cp "$tmp/user_key.pub" "$tmp/authorized_keys" ||
		    die "ssh-keygen failed"
	fi
	cat >"$tmp/sshd_config" <<EOT
Port $4
ListenAddress $3
HostKey $tmp/host_key
PidFile $tmp/sshd.pid
UsePAM no
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
AuthorizedKeysFile $tmp/authorized_keys
StrictModes no
AllowTcpForwarding yes
Ciphers aes256-gcm@openssh.com
EOT
}

# the options of the peer's ssh -R
PEER_SSH_OPTS=(-F /dev/null -N -c aes256-gcm@openssh.com
    -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
    -o BatchMode=yes -o ExitOnForwardFailure=yes -o LogLevel=ERROR)

# the pids of processes and all their descendants
pids_tree() {
	local pid c
	for pid in "$@"; do
		echo "$pid"
		for c in $(cat /proc/"$pid"/task/*/children 2>/dev/null); do
			pids_tree "$c"
		done
	done
}
# CPU time in clock ticks of processes and all their descendants (the
# fields after "pid (comm) ": utime and stime are the 12th and 13th)
cpu_tree() {
	local t=0 p
	for p in $(pids_tree "$@"); do
		t=$((t + $(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null |
		    awk '{ print $12 + $13 } END { if (NR == 0) print 0 }')))
	done
	echo "$t"
}
hz=$(getconf CLK_TCK)

# bench_cleanup: on exit, the processes of $pids stopped, bench_pg's
# PostgreSQL too, $tmp removed
bench_cleanup() {
	local p
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null
	done
	wait 2>/dev/null
	[ -z "${PG_DIR:-}" ] || runuser -u postgres -- "$PG_BIN/pg_ctl" \
	    -D "$PG_DIR/data" -m immediate stop >/dev/null 2>&1
	rm -rf "$tmp"
}

# bench_pg: a PostgreSQL server of the bench's own in $tmp/pg (initdb,
# pg_ctl as the user postgres, a unix socket only); sets PG_DIR (for the
# cleanup), PG_PASS, DB (sc-server's --db) and sql() (psql -c)
bench_pg() {
	chmod 755 "$tmp"
	PG_DIR=$tmp/pg
	mkdir -m 0700 "$PG_DIR" && chown postgres: "$PG_DIR" ||
	    die "cannot make $PG_DIR"
	PG_PASS=$(openssl rand -hex 12)
	printf '%s\n' "$PG_PASS" >"$PG_DIR/pw" && chown postgres: "$PG_DIR/pw"
	runuser -u postgres -- "$PG_BIN/initdb" -D "$PG_DIR/data" -U sc \
	    --pwfile="$PG_DIR/pw" -A scram-sha-256 -E UTF8 \
	    >"$tmp/initdb.log" 2>&1 || die "initdb failed"
	runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_DIR/data" \
	    -l "$PG_DIR/postgres.log" -w -t 30 \
	    -o "-k $PG_DIR -c listen_addresses=''" start >/dev/null ||
	    die "PostgreSQL did not start"
	DB="postgresql://sc:$PG_PASS@/postgres?host=$PG_DIR"
}

sql() {
	PGPASSWORD=$PG_PASS psql -X -q -v ON_ERROR_STOP=1 -At \
	    "postgresql://sc@/postgres?host=$PG_DIR" -c "$1"
}
