#!/usr/bin/env bash
# PostgreSQL as the central database (issue 16), against a real server this
# test starts itself (pgserver.sh: initdb in a temporary folder, the server as
# an unprivileged user on a private Unix socket, stopped by its PID at the
# end, even on failure).
#
#   1  four lyncaudit processes write the same database at once, from four
#      captures (four sensors); each run equals, row for row, a SQLite run
#      of the same capture (pgcompare.py)
#   2  a newer schema is refused (exit 2, nothing written)
#   3  export of the sample's SQLite database equals a direct run; a second
#      export changes nothing; a run exported while 'running' is replaced
#   4  the report of a PostgreSQL run equals the report of the SQLite run;
#      report --sensor; the views per sensor and across sensors
#   5  the PostgreSQL queries of docs/schema.md run
#   6  live on loopback: the server stopped and started during the capture;
#      the sensor keeps capturing, reconnects, and the run holds every flow
#      of the traffic (as lyncaudit reads tcpdump's capture of it)
#   7  live: the backlog overflows while the server is away: what was
#      dropped is said on stderr and in runs.flows_dropped / runs.message
#
# Usage: test_postgres.sh LYNCAUDIT SOURCE_DIR PCAP_DIR
# Exit: 0 passed, 1 a check failed, 77 skipped (PostgreSQL not installed).
set -u
[ $# -ge 3 ] || { echo "usage: $0 LYNCAUDIT SOURCE_DIR PCAP_DIR" >&2; exit 2; }
LA="$(realpath "$1")"
SRC="$(realpath "$2")"
PCAPS="$(realpath "$3")"
HERE="$SRC/tests/postgres"
. "$HERE/pgserver.sh"

[ -n "$PG_BIN" ] && [ -x "$PG_BIN/initdb" ] ||
    { echo "SKIP: PostgreSQL is not installed (apt-get install postgresql; scripts/install-deps.sh all)"; exit 77; }
command -v python3 >/dev/null || { echo "SKIP: python3 missing"; exit 77; }

W="$(mktemp -d /tmp/lyncaudit-pg.XXXXXX)"
chmod 755 "$W" # the server's user reaches its folder inside
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
    pg_kill
    if [ "${KEEP:-0}" = 1 ]; then echo "work folder kept: $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pass=0
fail=0
ok() { pass=$((pass + 1)); echo "PASS: $*"; }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
check() { local what="$1"; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }
eq() { if [ "$2" = "$3" ]; then ok "$1 ($2)"; else bad "$1: got '$2', wanted '$3'"; fi; }
sq() { sqlite3 -batch -noheader "$1" "$2" 2>&1; }
same() { python3 "$HERE/pgcompare.py" "$PG_BIN/psql" "$PGURL" "$@"; }

T0=$(date +%s)
pg_start "$W/pg" || { echo "FAIL: the PostgreSQL server did not start"; exit 1; }
echo "# server: $PG_BIN, pid $PGSERVER_PID, $PGURL"
TOPO="$SRC/samples/topology.lua"
SAMPLE="$SRC/samples/lync-sample.pcap"

# ---------------------------------------------------------------------------
echo "# 1: four sensors at once"
CAPS=("$PCAPS/nDPI/1kxun.pcap" "$PCAPS/nDPI/teams.pcap" "$PCAPS/nDPI/skype__old2020.pcap" "$SAMPLE")
for i in 0 1 2 3; do
    "$LA" -q -t "$TOPO" --sensor "sensor$i" -d "$PGURL" "${CAPS[$i]}" >"$W/w$i.out" 2>"$W/w$i.err" &
    PIDS+=($!)
done
WANT=(3 3 3 1) # the nDPI captures hold none of the sample topology's addresses: nothing audited
for i in 0 1 2 3; do
    wait "${PIDS[$i]}"
    rc=$?
    [ $rc -eq "${WANT[$i]}" ] || bad "writer $i exited $rc, wanted ${WANT[$i]}: $(head -n 3 "$W/w$i.err")"
done
PIDS=()
for i in 0 1 2 3; do
    "$LA" -q -t "$TOPO" --sensor "sensor$i" -d "$W/s$i.db" "${CAPS[$i]}" 2>"$W/s$i.err"
    id=$(psqlq "SELECT id FROM runs WHERE sensor = 'sensor$i'")
    check "1: sensor$i (${CAPS[$i]##*/}): PostgreSQL run $id equals its SQLite run" same "$id" "$W/s$i.db" 1
done
eq "1: four runs, complete" "$(psqlq "SELECT count(*) FROM runs WHERE status = 'complete'")" 4
eq "1: flow ids unique across the sensors, every flow's run is one of the four" \
    "$(psqlq "SELECT count(DISTINCT id) = count(*) AND bool_and(run_id IN (SELECT id FROM runs)) FROM flows")" t
eq "1: the schema version is kept in a table" "$(psqlq "SELECT version FROM lyncaudit_schema")" 5

# ---------------------------------------------------------------------------
echo "# 2: a newer schema is refused"
psqlq "UPDATE lyncaudit_schema SET version = 99"
"$LA" -q -d "$PGURL" "$SAMPLE" >"$W/new.out" 2>"$W/new.err"
eq "2: exit 2" "$?" 2
check "2: the message says why ($(head -n 1 "$W/new.err"))" grep -q "schema version 99 is newer than this lyncaudit's (5)" "$W/new.err"
eq "2: nothing written" "$(psqlq "SELECT count(*) FROM runs")" 4
psqlq "UPDATE lyncaudit_schema SET version = 5"

# ---------------------------------------------------------------------------
echo "# 3: export"
"$LA" -q -t "$TOPO" --sensor branch -d "$W/branch.db" "$SAMPLE"
"$LA" export "$W/branch.db" "$PGURL" >"$W/exp1.out" 2>&1
eq "3: export exit 0" "$?" 0
exp_id=$(psqlq "SELECT id FROM runs WHERE sensor = 'branch'")
check "3: the exported run ($exp_id) equals the SQLite run" same "$exp_id" "$W/branch.db" 1
check "3: the exported run equals a direct run of the sample (sensor3)" same "$exp_id" "$W/s3.db" 1
eq "3: the same uuid" "$(psqlq "SELECT uuid FROM runs WHERE id = $exp_id")" "$(sq "$W/branch.db" "SELECT uuid FROM runs")"
nflows=$(psqlq "SELECT count(*) FROM flows")
"$LA" export "$W/branch.db" "$PGURL" >"$W/exp2.out" 2>&1
eq "3: export again: exit 0" "$?" 0
check "3: export again: said already there ($(cat "$W/exp2.out"))" grep -q "already there as run $exp_id" "$W/exp2.out"
eq "3: export again: no new run, no new flow" "$(psqlq "SELECT count(*), (SELECT count(*) FROM flows) FROM runs")" \
    "5|$nflows"
sqlite3 "$W/branch.db" "UPDATE runs SET status = 'interrupted'" # a run that was exported before it ended
"$LA" export "$W/branch.db" "$PGURL" >"$W/exp3.out" 2>&1
check "3: a run that changed since is replaced ($(cat "$W/exp3.out"))" grep -q "replaced: now run" "$W/exp3.out"
eq "3: still one copy of it" "$(psqlq "SELECT count(*), min(status) FROM runs WHERE sensor = 'branch'")" "1|interrupted"
"$LA" export "$W/nosuch.db" "$PGURL" >/dev/null 2>"$W/exp4.err"
eq "3: a missing SQLite file: exit 2" "$?" 2

# ---------------------------------------------------------------------------
echo "# 4: report and views"
"$LA" report "$PGURL" --sensor sensor3 -o "$W/pg.json" 2>"$W/rep.err"
eq "4: report of a PostgreSQL run: exit 0" "$?" 0
"$LA" report "$W/s3.db" -o "$W/sq.json"
check "4: the same report as the SQLite run's (ids aside)" python3 - "$W/pg.json" "$W/sq.json" <<'EOF'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
def strip(o):
    if isinstance(o, dict):
        return {k: strip(v) for k, v in o.items() if k not in ("id", "flow_id", "flow_ids", "run", "database", "started_at", "finished_at")}
    if isinstance(o, list):
        return [strip(v) for v in o]
    return o
for k in a:
    if strip(a.get(k)) != strip(b.get(k)):
        print("differs:", k, json.dumps(strip(a.get(k)))[:400], json.dumps(strip(b.get(k)))[:400], file=sys.stderr)
sys.exit(0 if strip(a) == strip(b) and a["run"]["sensor"] == "sensor3" else 1)
EOF
"$LA" report "$PGURL" --sensor nosuch >/dev/null 2>"$W/rep2.err"
eq "4: report --sensor nosuch: exit 2" "$?" 2
check "4: ... saying so ($(cat "$W/rep2.err"))" grep -q "no run of sensor 'nosuch'" "$W/rep2.err"
eq "4: role_matrix per sensor equals SQLite's" \
    "$(psqlq "SELECT string_agg(src_role || '>' || dst_role || '=' || flows, ',' ORDER BY src_role COLLATE \"C\", dst_role COLLATE \"C\") FROM role_matrix WHERE sensor = 'sensor3'")" \
    "$(sq "$W/s3.db" "SELECT group_concat(x, ',') FROM (SELECT src_role || '>' || dst_role || '=' || flows AS x FROM role_matrix ORDER BY src_role, dst_role)")"
eq "4: violation_report across sensors: sensor3 and branch" \
    "$(psqlq "SELECT string_agg(sensor || ':' || n, ',' ORDER BY sensor) FROM (SELECT sensor, count(*) AS n FROM violation_report GROUP BY sensor) v")" \
    "branch:8,sensor3:8"
eq "4: the sensors view" "$(psqlq "SELECT count(*), sum(runs) FROM sensors")" "5|5"

# ---------------------------------------------------------------------------
echo "# 5: the PostgreSQL queries of docs/schema.md"
python3 - "$SRC/docs/schema.md" "$PG_BIN/psql" "$PGURL" <<'EOF' >"$W/docq.out" 2>&1
import re, subprocess, sys
blocks = re.findall(r"```pgsql\n(.*?)```", open(sys.argv[1]).read(), re.S)
bad = 0
for sql in blocks:
    p = subprocess.run([sys.argv[2], "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", sys.argv[3], "-c", sql],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if p.returncode or not p.stdout.strip():
        bad += 1
        print("FAIL:", p.stderr.strip() or "no rows", "::", sql.strip().splitlines()[0])
print(f"{len(blocks) - bad} of {len(blocks)} ran with rows")
sys.exit(1 if bad or not blocks else 0)
EOF
check "5: every query ran and returned rows ($(tail -n 1 "$W/docq.out"))" test $? -eq 0
grep FAIL "$W/docq.out"

# ---------------------------------------------------------------------------
if [ "$(id -u)" -ne 0 ] || ! command -v tcpdump >/dev/null; then
    echo "# 6, 7: skipped (live capture on lo needs root and tcpdump)"
else
    # wait_for SECONDS CMD...: polls CMD every 0.1 s.
    wait_for() {
        local n=$(($1 * 10)); shift
        while [ $n -gt 0 ]; do "$@" && return 0; sleep 0.1; n=$((n - 1)); done
        return 1
    }
    # live NAME ARGS...: lyncaudit capturing on lo in the background (PID in LAPID).
    # (3 s without a packet ends a flow: the UDP ones end during the test, and
    # a slow moment of the machine does not split a TCP one)
    live() {
        local name=$1; shift
        "$LA" -i lo -d "$PGURL" -t "$TOPO" --idle-timeout 3 "$@" 'net 127.24.0.0/16' >"$W/$name.out" 2>"$W/$name.err" &
        LAPID=$!
        PIDS+=($LAPID)
        wait_for 10 grep -q "capturing on lo" "$W/$name.err"
    }
    # finish PID: SIGINT, and its exit code in RC (124: it did not end).
    finish() {
        kill -INT "$1"
        local n=300
        while kill -0 "$1" 2>/dev/null && [ $n -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
        if kill -0 "$1" 2>/dev/null; then kill -KILL "$1"; RC=124; else wait "$1"; RC=$?; fi
    }
    echo "# 6: the server stopped and started during a live capture"
    tcpdump -i lo -s 0 -B 65536 -U --immediate-mode -Z root -w "$W/ref.pcap" 'net 127.24.0.0/16' >"$W/tcpdump.log" 2>&1 &
    TDPID=$!
    PIDS+=($TDPID)
    wait_for 5 grep -qs 'listening on' "$W/tcpdump.log" || bad "tcpdump did not start"
    live outage --sensor live
    python3 "$HERE/traffic.py" 1 10 || bad "traffic 1 failed"
    sleep 4 # phase 1's UDP flows end and are committed
    pg_stop
    check "6: the sensor says the server went away" wait_for 8 grep -q "connection to the server lost" "$W/outage.err"
    python3 "$HERE/traffic.py" 2 10 || bad "traffic 2 failed"
    sleep 3.5 # phase 2's UDP flows end (3 s idle) while the server is away
    pg_up
    python3 "$HERE/traffic.py" 3 10 || bad "traffic 3 failed"
    wait_for 12 grep -q "reconnected after" "$W/outage.err"
    check "6: ... and that it reconnected ($(grep -o "reconnected.*" "$W/outage.err"))" grep -q "reconnected after" "$W/outage.err"
    sleep 1
    finish "$LAPID"
    check "6: exit 0, 1 or 3 (got $RC)" test "$RC" -le 1 -o "$RC" -eq 3 # 3: 127.24/16 in no role
    kill -INT "$TDPID"; wait "$TDPID" 2>/dev/null
    check "6: tcpdump, the reference, lost nothing ($(grep "dropped by kernel" "$W/tcpdump.log"))" grep -q "^0 packets dropped by kernel" "$W/tcpdump.log"
    eq "6: the run closed" "$(psqlq "SELECT status, message, flows_dropped FROM runs WHERE sensor = 'live'")" \
        "interrupted|stopped by signal|0"
    "$LA" -q -d "$W/ref.db" -t "$TOPO" --idle-timeout 3 "$W/ref.pcap"
    live_id=$(psqlq "SELECT id FROM runs WHERE sensor = 'live'")
    check "6: every flow of the traffic, with its packets and bytes (tcpdump's capture read into SQLite)" \
        same "$live_id" "$W/ref.db" 1 --flows-only
    eq "6: 60 flows (20 per phase)" "$(psqlq "SELECT count(*) FROM flows WHERE run_id = $live_id")" 60

    echo "# 7: the backlog overflows while the server is away"
    live overflow --sensor overflow --backlog 4
    sleep 2.5 # the run's first commit
    pg_stop
    wait_for 8 grep -q "connection to the server lost" "$W/overflow.err" || bad "7: the loss was not seen"
    python3 "$HERE/traffic.py" 4 10 || bad "traffic 4 failed"
    check "7: the backlog's overflow is said" wait_for 10 grep -q "backlog full (4 flows)" "$W/overflow.err"
    pg_up
    check "7: reconnected" wait_for 12 grep -q "reconnected after" "$W/overflow.err"
    finish "$LAPID"
    r=$(psqlq "SELECT status, flows_dropped > 0, flows + flows_dropped, message FROM runs WHERE sensor = 'overflow'")
    check "7: run closed, the dropped flows counted, written + dropped = 20 ($r)" \
        test "${r%%|*}|$(echo "$r" | cut -d'|' -f2,3)" = "interrupted|t|20"
    check "7: the message says how many were dropped" grep -q "flows dropped while the database was locked or unreachable" <<<"$r"
    check "7: and stderr too" grep -q "flows dropped: the database stayed locked or unreachable" "$W/overflow.err"
fi

# ---------------------------------------------------------------------------
echo "# 8: schema 4 to 5"
# A schema 4 database (no provenance columns or tables) is upgraded to 5.
psqlq "DROP TABLE run_sources, documents, exceptions; ALTER TABLE runs DROP COLUMN label, DROP COLUMN topology_sha256,
       DROP COLUMN rules_sha256, DROP COLUMN rules_version; UPDATE lyncaudit_schema SET version = 4"
"$LA" -q -d "$PGURL" --label pg-upgrade "$SAMPLE" >"$W/up.out" 2>"$W/up.err"
eq "8: schema 4 upgraded: version 5, the run's label, inputs and articles" \
    "$(psqlq "SELECT (SELECT version FROM lyncaudit_schema) || ':' || label || ':' || (SELECT count(*) FROM run_sources s
              WHERE s.run_id = r.id) || ':' || (SELECT count(*) FROM documents d WHERE d.run_id = r.id) FROM runs r
              WHERE label IS NOT NULL")" "5:pg-upgrade:1:5"
psqlq "DELETE FROM violations WHERE run_id = (SELECT id FROM runs WHERE label = 'pg-upgrade');
       DELETE FROM flows WHERE run_id = (SELECT id FROM runs WHERE label = 'pg-upgrade');
       DELETE FROM rules WHERE run_id = (SELECT id FROM runs WHERE label = 'pg-upgrade');
       DELETE FROM role_stats WHERE run_id = (SELECT id FROM runs WHERE label = 'pg-upgrade');
       DELETE FROM run_sources WHERE run_id = (SELECT id FROM runs WHERE label = 'pg-upgrade');
       DELETE FROM documents WHERE run_id = (SELECT id FROM runs WHERE label = 'pg-upgrade');
       DELETE FROM runs WHERE label = 'pg-upgrade'"

echo "$pass passed, $fail failed ($(($(date +%s) - T0)) s)"
[ $fail -eq 0 ]
