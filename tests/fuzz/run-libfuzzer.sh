#!/bin/sh
# run-libfuzzer.sh TARGET CORPUS WORKDIR [libFuzzer flags...]
# A short libFuzzer run on the seed corpus.  New inputs go to WORKDIR,
# never into the source tree; a crash leaves its input there too.
set -eu
target=$1
corpus=$2
work=$3
shift 3
rm -rf "$work"
mkdir -p "$work/new"
exec "$target" -runs=20000 -max_total_time=20 -timeout=10 \
    -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
    -artifact_prefix="$work/" "$@" "$work/new" "$corpus"
