#!/usr/bin/env bash
# Two lyncaudit binaries on one capture, in alternating rounds: median wall
# time, CPU time (user + system) and peak RSS of each, and B's ratio to A.
# For before/after figures of a change (build both trees in Release first).
#
#   bench/ab.sh A_BINARY B_BINARY CAPTURE [ROUNDS] [-- extra lyncaudit args]
#
# Each run is `lyncaudit -q -d SCRATCH.db CAPTURE [extra]` with a fresh
# database; exit 0 and 1 are finished runs. Rounds default to 5; one warm-up
# run of each first (page cache). Prints one table; the machine is noisy, so
# read the medians and the ratio, not one round.
set -euo pipefail
[ $# -ge 3 ] || { sed -n '2,11p' "$0"; exit 2; }
A=$1 B=$2 CAP=$3
shift 3
ROUNDS=5
if [ $# -gt 0 ] && [ "$1" != "--" ]; then ROUNDS=$1; shift; fi
[ $# -gt 0 ] && [ "$1" = "--" ] && shift
for x in "$A" "$B"; do [ -x "$x" ] || { echo "ab: $x: not an executable" >&2; exit 2; }; done
[ -r "$CAP" ] || { echo "ab: $CAP: cannot read" >&2; exit 2; }
command -v /usr/bin/time >/dev/null || { echo "ab: needs /usr/bin/time (apt-get install time)" >&2; exit 2; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

# one BIN LOG: a run, "wall cpu maxrss_kib" appended to LOG
one() {
    rm -f "$T"/ab.db*
    local rc=0
    /usr/bin/time -f "%e %U %S %M" -o "$T/time" "$1" -q -d "$T/ab.db" "$CAP" "${@:3}" >/dev/null 2>"$T/err" || rc=$?
    [ $rc -le 1 ] || { tail -3 "$T/err" >&2; echo "ab: $1 exited $rc" >&2; exit 2; }
    awk '{ printf "%s %.2f %s\n", $1, $2 + $3, $4 }' "$T/time" >>"$2"
}
one "$A" /dev/null "$@"
one "$B" /dev/null "$@"
for i in $(seq "$ROUNDS"); do
    one "$A" "$T/a" "$@"
    one "$B" "$T/b" "$@"
    echo "ab: round $i/$ROUNDS" >&2
done
med() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
pkts=$(sqlite3 "$T/ab.db" "SELECT packets FROM runs" 2>/dev/null || echo "?")
printf "%s packets (%s), median of %d alternating rounds\n" "$pkts" "$(basename "$CAP")" "$ROUNDS"
printf "%-4s %10s %10s %12s  %s\n" "" "wall s" "CPU s" "peak RSS MiB" "binary"
for s in a b; do
    bin=$A; [ $s = b ] && bin=$B
    printf "%-4s %10.2f %10.2f %12.1f  %s\n" "$s" "$(cut -d' ' -f1 "$T/$s" | med)" "$(cut -d' ' -f2 "$T/$s" | med)" \
        "$(cut -d' ' -f3 "$T/$s" | med | awk '{ print $1 / 1024 }')" "$bin"
done
for k in 1 2 3; do
    name=$(echo "wall CPU RSS" | cut -d' ' -f$k)
    ra=$(cut -d' ' -f$k "$T/a" | med)
    rb=$(cut -d' ' -f$k "$T/b" | med)
    awk -v n="$name" -v a="$ra" -v b="$rb" 'BEGIN { printf "b/a %s: %.3f\n", n, (a > 0 ? b / a : 0) }'
done
