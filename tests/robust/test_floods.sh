#!/usr/bin/env bash
# Floods: a capture of COUNT TCP SYNs from random sources (every SYN its own
# flow) and one of COUNT one-packet UDP flows, read with --max-flows 10000.
# What must hold:
#   - peak RSS (ru_maxrss, what GNU time's %M shows) stays within 64 MiB of lyncaudit's own
#     baseline on a small capture: the live-flow cap bounds memory;
#   - every flow is still written: runs.flows = rows = COUNT, and exactly
#     COUNT - 10000 of them were evicted (runs.flows_evicted = rows with
#     end_reason 'evicted'), the run closed as complete;
#   - --json says the live flows never passed the cap;
#   - the SYN flood read with --max-flows 0 (no cap) needs more memory (+64
#     MiB at least: nothing else bounds it): the cap is what keeps memory
#     down.
# COUNT is 1,000,000; with LYNCAUDIT_SANITIZED=1 (the sanitizer build, set by
# CMake) it is 100,000 and the memory bounds are printed, not asserted
# (ASan's shadow memory and quarantine dwarf the program's own).
# Usage: test_floods.sh LYNCAUDIT [COUNT]
set -u
LA="$(realpath "$1")"
HERE="$(cd "$(dirname "$0")" && pwd)"
SANITIZED=0
case "${LYNCAUDIT_SANITIZED:-0}" in "" | 0 | OFF | off) ;; *) SANITIZED=1 ;; esac
COUNT="${2:-$([ "$SANITIZED" = 1 ] && echo 100000 || echo 1000000)}"
CAP=10000
BOUND_KIB=$((64 * 1024))
T="$(mktemp -d)"
trap 'rm -rf "$T"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok: $*"; }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
check() { # description command...
    local what="$1"
    shift
    if "$@"; then ok "$what"; else bad "$what"; fi
}
q() { sqlite3 "$1" "$2"; }
# peak RSS in KiB of: lyncaudit ARGS... (the kernel's ru_maxrss, as GNU
# time's %M); exit code in $T/rc, stdout in $T/out
peak_of() {
    python3 "$HERE/maxrss.py" "$T/rss" "$LA" "$@" >"$T/out" 2>"$T/err"
    echo $? >"$T/rc"
    tail -n 1 "$T/rss"
}

echo "floods of $COUNT packets, --max-flows $CAP ($([ "$SANITIZED" = 1 ] && echo "sanitizer build: counts scaled down, memory not asserted" || echo "normal build"))"
base=$(peak_of -q -d "$T/base.db" "$HERE/../../samples/lync-sample.pcap")
echo "baseline: a small capture peaks at $base KiB"

for kind in syn udp; do
    pcap="$T/$kind.pcap"
    python3 "$HERE/mkflood.py" "$kind" "$COUNT" "$pcap" || { bad "$kind: could not write the capture"; continue; }
    db="$T/$kind.db"
    capped=$(peak_of --json -q -d "$db" --max-flows "$CAP" "$pcap")
    rc=$(cat "$T/rc")
    check "$kind: exit 0 with --max-flows $CAP (got $rc: $(head -c 300 "$T/err"))" [ "$rc" -eq 0 ]
    read -r packets flows evicted status closed <<<"$(q "$db" "select packets, flows, flows_evicted, status, finished_at is not null from runs" | tr '|' ' ')"
    rows=$(q "$db" "select count(*) from flows")
    erows=$(q "$db" "select count(*) from flows where end_reason='evicted'")
    check "$kind: every packet read (runs.packets $packets = $COUNT)" [ "$packets" = "$COUNT" ]
    check "$kind: every flow written (runs.flows $flows = rows $rows = $COUNT)" [ "$flows" = "$rows" ] && [ "$rows" = "$COUNT" ]
    check "$kind: the cap evicted all but the last $CAP flows (runs.flows_evicted $evicted = $((COUNT - CAP)))" \
        [ "$evicted" = $((COUNT - CAP)) ]
    check "$kind: runs.flows_evicted ($evicted) = rows ended 'evicted' ($erows)" [ "$evicted" = "$erows" ]
    check "$kind: run closed as complete ($status, closed $closed)" [ "$status" = complete ] && [ "$closed" = 1 ]
    peak_live=$(grep -o '"peak_live_flows":[0-9]*' "$T/out" | cut -d: -f2)
    check "$kind: live flows never passed the cap (peak $peak_live <= $CAP)" [ "${peak_live:-999999999}" -le "$CAP" ]
    echo "$kind: peak RSS $capped KiB with --max-flows $CAP ($((capped - base)) KiB over the baseline)"
    if [ "$SANITIZED" = 0 ]; then
        check "$kind: peak RSS within $((BOUND_KIB / 1024)) MiB of the baseline ($(((capped - base) / 1024)) MiB over)" \
            [ $((capped - base)) -lt "$BOUND_KIB" ]
    fi

    # The same without a cap: memory grows with the live flows (the SYN
    # flood only: nothing else bounds it, and each run takes a while).
    if [ "$kind" != syn ]; then
        rm -f "$pcap" "$db"*
        continue
    fi
    rm -f "$T"/uncapped.db*
    uncapped=$(peak_of -q -d "$T/uncapped.db" --max-flows 0 "$pcap")
    rc=$(cat "$T/rc")
    check "$kind: exit 0 with --max-flows 0 (got $rc)" [ "$rc" -eq 0 ]
    check "$kind: no eviction without a cap" [ "$(q "$T/uncapped.db" "select flows_evicted from runs")" = 0 ]
    echo "$kind: peak RSS $uncapped KiB with --max-flows 0 (no cap): $(((uncapped - capped) / 1024)) MiB more than capped"
    if [ "$SANITIZED" = 0 ]; then
        check "$kind: without the cap memory grows (+$(((uncapped - capped) / 1024)) MiB, wanted > 64)" \
            [ $((uncapped - capped)) -gt "$BOUND_KIB" ]
    fi
    rm -f "$pcap" "$db"* "$T"/uncapped.db*
done

# role_stats under a flood spread over ports and roles (issue 20, B): each
# source /8 is a role of its own, every flow goes to a random port, so the
# (roles, port, label) rows run to hundreds of thousands; the sums in memory
# are bounded (flushed at 65,536 keys and at each commit), and the table
# still adds up to every flow.
python3 "$HERE/mkflood.py" ports "$COUNT" "$T/ports.pcap" || bad "ports: could not write the capture"
cat >"$T/ports-topology.lua" <<'LUA'
return { name = "flood", roles = {
  front_end = { "10.99.0.1" }, client_internal = { "11.0.0.0/8", "45.0.0.0/8" },
  client_external = { "77.0.0.0/8", "100.0.0.0/8" }, federation_partner = { "131.0.0.0/8", "172.0.0.0/8" },
  pstn_gateway = { "185.0.0.0/8" }, reverse_proxy = { "198.0.0.0/8" }, director = { "203.0.0.0/8" } } }
LUA
ports=$(peak_of -q -d "$T/ports.db" -t "$T/ports-topology.lua" --max-flows "$CAP" "$T/ports.pcap")
rc=$(cat "$T/rc")
check "ports: exit 0 or 1 (got $rc: $(head -c 300 "$T/err"))" [ "$rc" -le 1 ]
check "ports: role_stats adds up to every flow" \
    [ "$(q "$T/ports.db" "select sum(flows) from role_stats")" = "$COUNT" ]
rows=$(q "$T/ports.db" "select count(*) from role_stats")
echo "ports: $rows role_stats rows, peak RSS $ports KiB ($((ports - base)) KiB over the baseline)"
check "ports: the flood made more rows than are summed in memory at once ($rows > 65536)" [ "$rows" -gt 65536 ]
if [ "$SANITIZED" = 0 ]; then
    check "ports: peak RSS within $((BOUND_KIB / 1024)) MiB of the baseline ($(((ports - base) / 1024)) MiB over)" \
        [ $((ports - base)) -lt "$BOUND_KIB" ]
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
