#!/usr/bin/env bash
# lyncaudit into PostgreSQL beside lyncaudit into SQLite (issue 16): wall time
# of the same capture into a local PostgreSQL server and into a SQLite file.
# See bench/README.md, "PostgreSQL".
#
#   bench/pg.sh                 the bench capture (bench/run.sh builds it), 3 runs each
#   bench/pg.sh --runs N        N timed runs of each, alternating, after one warm-up
#   bench/pg.sh --capture FILE  another capture
# Environment: BENCH_DIR (default /tmp/lyncaudit-bench), LYNCAUDIT (default:
# the Release build bench/run.sh makes in $BENCH_DIR/build), BENCH_CPU (taskset).
# The server is private (tests/postgres/pgserver.sh: initdb in $BENCH_DIR, a
# Unix socket only), with fsync on, and stopped by its PID at the end.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
BENCH_DIR=${BENCH_DIR:-/tmp/lyncaudit-bench}
runs=3
capture=""
die() { echo "bench/pg: $*" >&2; exit 2; }
while [ $# -gt 0 ]; do
    case $1 in
        --runs) runs=${2:?}; shift ;;
        --capture) capture=${2:?}; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
    shift
done
[[ $runs =~ ^[0-9]+$ ]] && [ "$runs" -gt 0 ] || die "--runs takes a whole number"
if [ -z "$capture" ]; then
    capture=$(ls -t "$BENCH_DIR"/bench-4700000-s1.0-*.pcap 2>/dev/null | head -n 1 || true) # run.sh's default
    [ -n "$capture" ] || die "no bench capture in $BENCH_DIR: run bench/run.sh once (it builds it), or --capture FILE"
fi
[ -r "$capture" ] || die "cannot read $capture"
if [ -z "${LYNCAUDIT:-}" ]; then
    cmake -S "$repo" -B "$BENCH_DIR/build" -DCMAKE_BUILD_TYPE=Release >/dev/null &&
        cmake --build "$BENCH_DIR/build" -j"$(nproc)" --target lyncaudit >/dev/null || die "build failed"
    LYNCAUDIT="$BENCH_DIR/build/lyncaudit"
fi
[ -x /usr/bin/time ] || die "/usr/bin/time not found: apt-get install -y time"
pin=()
if command -v taskset >/dev/null 2>&1 && taskset -c "${BENCH_CPU:-0-$(($(nproc) - 1))}" true 2>/dev/null; then
    pin=(taskset -c "${BENCH_CPU:-0-$(($(nproc) - 1))}")
fi

scratch=$(mktemp -d "$BENCH_DIR/pg.XXXXXX")
chmod 755 "$scratch"
. "$repo/tests/postgres/pgserver.sh"
trap 'pg_kill; rm -rf "$scratch"' EXIT
PG_FSYNC=on pg_start "$scratch/pg" || die "the PostgreSQL server did not start (apt-get install postgresql)"

db="$scratch/bench.db"
# one BACKEND OUTFILE: one timed run into an empty database
one() {
    local target=$db
    if [ "$1" = postgresql ]; then
        psqlq "TRUNCATE violations, flows, rules, role_stats, runs" 2>/dev/null || true
        psqlq "CHECKPOINT" >/dev/null
        target=$PGURL
    else
        rm -f "$db" "$db-wal" "$db-shm"
    fi
    local rc=0
    /usr/bin/time -f "%e %U %S %M" -o "$scratch/t" "${pin[@]}" "$LYNCAUDIT" -q -d "$target" "$capture" \
        >/dev/null 2>"$scratch/err" || rc=$?
    [ $rc -le 1 ] || [ $rc -eq 3 ] || { cat "$scratch/err" >&2; die "lyncaudit into $1 exited $rc"; }
    tail -n 1 "$scratch/t" >>"$2"
}
echo "bench/pg: $(basename "$capture"), 1 warm-up + $runs runs each, alternating, ${pin[*]:-unpinned}" >&2
one sqlite /dev/null
for ((i = 1; i <= runs; i++)); do
    one sqlite "$scratch/times.sqlite"
    one postgresql "$scratch/times.postgresql"
    echo "bench/pg: round $i/$runs done" >&2
done
stored=$(psqlq "SELECT packets || ' packets, ' || flows || ' flows' FROM runs")
median() { awk -v c="$2" '{print $c}' "$1" | sort -g | awk '{v[NR]=$1} END{if(NR%2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'; }
echo
echo "lyncaudit into SQLite and into PostgreSQL: $(basename "$capture") ($stored), median of $runs runs"
printf '%-11s %8s %8s %8s %10s\n' database "wall s" "user s" "sys s" "peak MiB"
for b in sqlite postgresql; do
    f="$scratch/times.$b"
    printf '%-11s %8.2f %8.2f %8.2f %10.1f\n' "$b" "$(median "$f" 1)" "$(median "$f" 2)" "$(median "$f" 3)" \
        "$(awk -v m="$(median "$f" 4)" 'BEGIN{print m / 1024}')"
done
awk -v a="$(median "$scratch/times.sqlite" 1)" -v b="$(median "$scratch/times.postgresql" 1)" \
    'BEGIN{printf "PostgreSQL / SQLite wall time: %.2fx (target <= 1.3x); the server'"'"'s own CPU time is not in user/sys\n", b / a}'
