#!/usr/bin/env bash
# Regression inputs: what the fuzzers and the hostile-input tests found, one
# file each under regress/ (topology/*.lua: given with -t; rules/*.lua: added
# to a copy of the shipped rules; captures/*: read as captures). Each must
# end within 5 s without a signal; a topology or rule file with exit 2, one
# line on stderr that names it, and no database written; a capture with exit
# 0, 1 or 2 and a closed run. Ids for known_bugs.txt: regress-<kind>-<name>.
# Usage: test_regress.sh LYNCAUDIT SOURCE_DIR PCAP_DIR
set -u
LA="$(realpath "$1")"
SRC="$(realpath "$2")"
P="$(realpath "$3")"
HERE="$(cd "$(dirname "$0")" && pwd)"
T="$(mktemp -d)"
trap 'rm -rf "$T"' EXIT
SIP="$P/nDPI/sip.pcap"
. "$HERE/known.sh"
run_la() {
    rm -f "$T"/run.db*
    timeout -s KILL 5 "$LA" -q -d "$T/run.db" "$@" >"$T/out" 2>"$T/err"
    rc=$?
}
expect_refused() { # file named in the message
    if [ "$rc" -eq 137 ]; then bad "still running after 5 s (killed)"; return; fi
    if [ "$rc" -ne 2 ]; then bad "exit $rc, wanted 2 (128+N is signal N): $(head -c 300 "$T/err")"; else ok; fi
    # Lua shortens a long file name to its last 60 characters ("...th/to/file.lua").
    if [ "$(grep -c . "$T/err")" -eq 1 ] && grep -q "^lyncaudit: .*$(basename "$1")" "$T/err"; then ok
    else bad "wanted one line 'lyncaudit: $1...' on stderr: $(head -c 300 "$T/err")"; fi
    if [ -e "$T/run.db" ]; then bad "a database was written"; else ok; fi
}

mkdir -p "$T/rules"
cp "$SRC"/rules/*.lua "$T/rules/"
for f in "$HERE"/regress/topology/*.lua; do
    [ -e "$f" ] || continue
    case_id="regress-topology-$(basename "$f" .lua)"
    case_failed=0
    run_la -t "$f" "$SIP"
    expect_refused "$f"
    end_case
done
for f in "$HERE"/regress/rules/*.lua; do
    [ -e "$f" ] || continue
    case_id="regress-rules-$(basename "$f" .lua)"
    case_failed=0
    cp "$f" "$T/rules/zz_regress.lua"
    run_la --rules "$T/rules" "$SIP"
    expect_refused "$T/rules/zz_regress.lua"
    rm -f "$T/rules/zz_regress.lua"
    end_case
done
for f in "$HERE"/regress/captures/*; do
    [ -e "$f" ] || continue
    case_id="regress-captures-$(basename "$f")"
    case_failed=0
    run_la "$f"
    if [ "$rc" -gt 2 ]; then bad "exit $rc (128+N is signal N): $(head -c 300 "$T/err")"; else ok; fi
    if [ -s "$T/run.db" ]; then
        [ "$(sqlite3 "$T/run.db" "select count(*) from runs where finished_at is null")" = 0 ] && ok || bad "run left open"
        [ "$(sqlite3 "$T/run.db" "pragma integrity_check")" = ok ] && ok || bad "integrity_check"
    fi
    end_case
done
echo "$known known bugs (tests/robust/known_bugs.txt)"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
