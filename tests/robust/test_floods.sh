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
#   - TCP payload nDPI buffers (issue 20 A) is bounded in bytes: one 65,000-
#     byte TLS segment per flow is not fed to nDPI (16 KiB a flow at most),
#     and 12,000-byte segments over thousands of flows stay within
#     --dpi-memory (nDPI gives up the oldest): peak RSS within the bound
#     docs/usage.md gives (--dpi-memory + 1.5 KiB a live flow + 4 MiB a
#     worker), where nothing bounded them before (130 and 48 MiB).
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
    check "$kind: exit 3 with --max-flows $CAP (no topology; got $rc: $(head -c 300 "$T/err"))" [ "$rc" -eq 3 ]
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
    check "$kind: exit 3 with --max-flows 0 (no topology; got $rc)" [ "$rc" -eq 3 ]
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

# nDPI's buffered payload (issue 20 A): TLS records that never complete.
# The documented bound over the baseline: --dpi-memory, 1.5 KiB per live
# flow, 4 MiB of queues per worker (two here), and 8 MiB of slack for the
# allocator and SQLite's cache.
DPI_MIB=16
TLS_FLOWS=$([ "$SANITIZED" = 1 ] && echo 400 || echo 2000)
for spec in "65000 $TLS_FLOWS" "12000 $((TLS_FLOWS * 2))"; do
    read -r size flows <<<"$spec"
    python3 "$HERE/mkflood.py" "tls:$size" "$flows" "$T/tls.pcap" || { bad "tls:$size: could not write the capture"; continue; }
    rm -f "$T"/tls.db*
    peak=$(peak_of -v -q -d "$T/tls.db" --workers 2 --dpi-memory "$DPI_MIB" --max-flows "$CAP" "$T/tls.pcap")
    rc=$(cat "$T/rc")
    check "tls:$size: exit 3 (no topology; got $rc: $(head -c 300 "$T/err"))" [ "$rc" -eq 3 ]
    check "tls:$size: every flow written" [ "$(q "$T/tls.db" "select count(*) from flows")" = "$flows" ]
    bound=$(((DPI_MIB + 2 * 4 + 8) * 1024 + flows * 3 / 2))
    echo "tls:$size: $flows flows, peak RSS $peak KiB ($((peak - base)) KiB over the baseline, bound $bound KiB)"
    if [ "$SANITIZED" = 0 ]; then
        check "tls:$size: peak RSS within the documented bound ($((peak - base)) <= $bound KiB over the baseline)" \
            [ $((peak - base)) -le "$bound" ]
    fi
    rm -f "$T/tls.pcap" "$T"/tls.db*
done

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
