#!/usr/bin/env bash
# The event stream from capture files (issue 14): --eve, --eve-rotate,
# SIGHUP, --syslog, and what happens when the writer or the database fails.
#
#   1  the sample with its topology: every line is one JSON object (jq),
#      with Suricata's common fields; flow events equal the flows table,
#      alert events the violations table, run events the runs row, twice
#      (a second run appended to the same file and database)
#   2  shared captures without a topology, several files as one run
#   3  timestamps: RFC 3339 with microseconds and the zone's offset (two
#      zones with half-hour offsets), the same instants as the database's
#   4  --eve-rotate 4K: new files between whole lines only, none past the
#      size (but for a single line), together the same events
#   5  SIGHUP opens the file again by its name (logrotate's way) while a
#      pipe is read (the read goes on), and the stats events of --stats 1
#   6  a writer that cannot write: /dev/full, a closed pipe, a full disk
#      (tmpfs, root only): one message, the file cut back to its last whole
#      line, the database complete, the exit code the same
#   7  a database that fills up part way (tmpfs, root only): the batch that
#      is rolled back gives no events; the stream equals what the database kept
#   8  --syslog to a listener of the test's own (LYNCAUDIT_SYSLOG_SOCKET):
#      RFC 5424 headers, facility, severity, the alerts' JSON as in the EVE file;
#      no listener: counted, said, the run goes on
#   9  usage errors, before anything is written; --eve -: stdout is the stream
# Usage: test_eve.sh LYNCAUDIT PCAP_DIR SOURCE_DIR
# Exit: 0 passed, 1 a check failed, 77 skipped (jq or sqlite3 missing).
set -u
LA="$(realpath "$1")"
P="$(realpath "$2")"
SRC="$(realpath "$3")"
HERE="$(cd "$(dirname "$0")" && pwd)"
for t in jq sqlite3 python3; do
    command -v "$t" >/dev/null || { echo "SKIP: $t missing (scripts/install-deps.sh all)"; exit 77; }
done
T="$(mktemp -d /tmp/lyncaudit-eve.XXXXXX)"
chmod 755 "$T"
PIDS=()
MOUNTS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
    for p in "${MOUNTS[@]}"; do umount "$p" 2>/dev/null; done
    rm -rf "$T"
}
trap cleanup EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "PASS: $*"; }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
eq() { if [ "$2" = "$3" ]; then ok "$1 ($2)"; else bad "$1: got '$2', wanted '$3'"; fi; }
q() { sqlite3 "$1" "$2"; }
. "$HERE/lib.sh"
export TZ=UTC
SAMPLE="$SRC/samples/lync-sample.pcap"
TOPO="$SRC/samples/topology.lua"
TS_RE='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}[+-][0-9]{2}:[0-9]{2}$'

# agree WHAT EVE DB RUN: flows, alerts and the run's events against the database.
agree() {
    same "$1: flow events = flows rows" "$(eve_flows "$2" "$4")" "$(db_flows "$3" "$4")"
    local ea da
    ea="$(eve_alerts "$2" "$4")"
    da="$(db_alerts "$3" "$4")"
    if [ -n "$da" ] || [ -n "$ea" ]; then same "$1: alert events = violations rows" "$ea" "$da"; fi
    eq "$1: run events = the runs row" "$(eve_runs "$2" "$4" | sort -r | tr '\n' ';')" "$(db_run "$3" "$4" | tr '\n' ';')"
}

# ----------------------------------------------------------------------------
echo "# 1: the sample, twice into the same file and database"
"$LA" -q -t "$TOPO" -d "$T/s.db" --eve "$T/s.json" "$SAMPLE" 2>"$T/err"
eq "1: exit code 1 (the sample has violations)" "$?" 1
"$LA" -q -t "$TOPO" -d "$T/s.db" --eve "$T/s.json" "$SAMPLE" 2>>"$T/err"
eq "1: second run, exit code 1" "$?" 1
eq "1: nothing on stderr" "$(cat "$T/err")" ""
eq "1: jq reads every line as one object" "$(eve_lines "$T/s.json" | wc -l)" "$(wc -l <"$T/s.json")"
eq "1: every event: timestamp (RFC 3339), event_type, lync.run_id" \
    "$(jq -r --arg re "$TS_RE" 'select((.timestamp | test($re)) and (.event_type | IN("run", "flow", "alert", "stats"))
        and (.lync.run_id | type) == "number") | 1' "$T/s.json" | wc -l)" "$(wc -l <"$T/s.json")"
eq "1: flow and alert events: Suricata's tuple and flow counters" \
    "$(jq -r 'select(.event_type == "flow" or .event_type == "alert") |
        select(all(.flow_id, .src_ip, .src_port, .dest_ip, .dest_port, .proto, .app_proto,
                   .flow.pkts_toserver, .flow.bytes_toclient, .flow.start, .flow.end; . != null)) | 1' "$T/s.json" | wc -l)" \
    "$(jq -r 'select(.event_type == "flow" or .event_type == "alert") | 1' "$T/s.json" | wc -l)"
eq "1: events per type (flows and alerts of two runs, 4 run events)" \
    "$(jq -r .event_type "$T/s.json" | sort | uniq -c | awk '{printf "%s %s;", $2, $1}')" \
    "alert $(q "$T/s.db" "SELECT count(*) FROM violations");flow $(q "$T/s.db" "SELECT count(*) FROM flows");run 4;"
agree "1: run 1" "$T/s.json" "$T/s.db" 1
agree "1: run 2" "$T/s.json" "$T/s.db" 2
eq "1: each flow event's alerted = it has violations" \
    "$(jq -r 'select(.event_type == "flow") | [.flow_id, .flow.alerted] | @tsv' "$T/s.json" | sort)" \
    "$(q "$T/s.db" "SELECT id, CASE WHEN verdict = 'violation' THEN 'true' ELSE 'false' END FROM flows" | tr '|' '\t' | sort)"
eq "1: versions in the run start event = lyncaudit -V's" \
    "$(jq -r 'select(.event_type == "run" and .run.event == "start") | "lyncaudit \(.run.versions.lyncaudit) (nDPI \(.run.versions.ndpi)"' "$T/s.json" | head -n 1)" \
    "$("$LA" -V | head -n 1 | cut -d, -f1)"

# ----------------------------------------------------------------------------
echo "# 2: shared captures, several files as one run, no topology"
"$LA" -q -d "$T/m.db" --eve "$T/m.json" "$P/nDPI/1kxun.pcap" "$P/nDPI/teams.pcap" "$P/nDPI/skype-conference-call.pcap" \
    "$P/nDPI/ipsec_isakmp_esp.pcap" 2>"$T/err"
eq "2: exit 3 (no topology: nothing audited)" "$?" 3
agree "2: four captures" "$T/m.json" "$T/m.db" 1
eq "2: no alerts without a topology" "$(jq -r 'select(.event_type == "alert") | 1' "$T/m.json" | wc -l)" 0

# ----------------------------------------------------------------------------
echo "# 3: timestamps in other zones"
for zone in LKT-5:30 NST3:30; do
    rm -f "$T/tz.json" "$T/tz.db"
    TZ=$zone "$LA" -q -t "$TOPO" -d "$T/tz.db" --eve "$T/tz.json" "$SAMPLE" 2>/dev/null
    want=$([ "$zone" = LKT-5:30 ] && echo "+05:30" || echo "-03:30")
    eq "3: TZ=$zone: every timestamp ends $want" \
        "$(jq -r '.timestamp, (.flow.start // empty), (.flow.end // empty)' "$T/tz.json" | grep -Ec -- "\\.[0-9]{6}\\$want\$")" \
        "$(jq -r '.timestamp, (.flow.start // empty), (.flow.end // empty)' "$T/tz.json" | wc -l)"
    # the same instants as flows.first_seen/last_seen (UTC)
    diffs=$(python3 - "$T/tz.json" "$T/tz.db" <<'PY'
import datetime, json, sqlite3, sys
db = sqlite3.connect(sys.argv[2])
rows = {i: (a, b) for i, a, b in db.execute("SELECT id, first_seen, last_seen FROM flows")}
def t(s):
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))
bad = 0
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e["event_type"] != "flow":
        continue
    first, last = rows[e["flow_id"]]
    if t(e["flow"]["start"]) != t(first) or t(e["flow"]["end"]) != t(last) or t(e["timestamp"]) != t(last):
        bad += 1
print(bad, len(rows))
PY
)
    eq "3: TZ=$zone: flow.start, flow.end, timestamp = first_seen, last_seen, last_seen (bad, flows)" "$diffs" "0 29"
done

# ----------------------------------------------------------------------------
echo "# 4: --eve-rotate 4K"
mkdir "$T/rot"
"$LA" -q -d "$T/rot.db" --eve "$T/rot/eve.json" --eve-rotate 4K "$P/nDPI/1kxun.pcap" 2>"$T/err"
eq "4: exit 3 (no topology), nothing on stderr" "$?|$(cat "$T/err")" "3|"
nfiles=$(ls "$T/rot" | wc -l)
[ "$nfiles" -ge 10 ] && ok "4: $nfiles files" || bad "4: only $nfiles files for $(stat -c %s "$T/rot/eve.json") bytes"
eq "4: the rotated ones are named eve.json.YYYYMMDD-HHMMSS[.N]" \
    "$(ls "$T/rot" | grep -vcE '^eve\.json(\.[0-9]{8}-[0-9]{6}(\.[0-9]+)?)?$')" 0
over=0
for f in "$T"/rot/*; do
    [ "$(stat -c %s "$f")" -le 4096 ] || [ "$(wc -l <"$f")" -eq 1 ] || over=$((over + 1))
    [ -z "$(tail -c 1 "$f" | tr -d '\n')" ] || over=$((over + 1))
done
eq "4: no file past 4096 bytes (but for one line), every file ends with a whole line" "$over" 0
cat "$T"/rot/* >"$T/rot.all"
eq "4: jq reads every line of every file" "$(eve_lines "$T/rot.all" | wc -l)" "$(wc -l <"$T/rot.all")"
agree "4: all the files together" "$T/rot.all" "$T/rot.db" 1

# ----------------------------------------------------------------------------
echo "# 5: SIGHUP opens the file again; --stats 1 gives stats events"
# The capture comes through a FIFO, its first half over 2.5 s (stats events,
# a commit), then the writer waits; the file is renamed and SIGHUP sent (a
# reload and a reopen at the next packet), then the second half comes.
mkfifo "$T/hup.fifo"
python3 - "$P/nDPI/1kxun.pcap" "$T/hup.fifo" "$T/hup.go" <<'PY' &
import os, struct, sys, time
data = open(sys.argv[1], "rb").read()
recs, off = [], 24
while off + 16 <= len(data):
    n = struct.unpack_from("<I", data, off + 8)[0]
    recs.append(data[off:off + 16 + n])
    off += 16 + n
half = len(recs) // 2
with open(sys.argv[2], "wb") as f:
    f.write(data[:24])
    for i, r in enumerate(recs[:half]):
        f.write(r)
        f.flush()
        time.sleep(2.5 / half)
    for _ in range(200):            # until the test says go (20 s at most)
        if os.path.exists(sys.argv[3]):
            break
        time.sleep(0.1)
    for r in recs[half:]:
        f.write(r)
        f.flush()
        time.sleep(0.5 / len(recs))
PY
writer=$!
PIDS+=("$writer")
"$LA" -q -t "$TOPO" -d "$T/hup.db" --eve "$T/hup.json" --stats 1 --idle-timeout 1 "$T/hup.fifo" >"$T/hup.out" 2>"$T/hup.err" &
la=$!
PIDS+=("$la")
for _ in $(seq 100); do [ "$(grep -c '"event_type":"stats"' "$T/hup.json" 2>/dev/null)" -ge 2 ] && break; sleep 0.1; done
sleep 0.5 # the 2 s commit
mv "$T/hup.json" "$T/hup.json.1"
kill -HUP "$la"
touch "$T/hup.go"
wait "$writer"
wait "$la"
rc=$?
eq "5: exit 3 (1kxun holds none of the sample topology's addresses), stderr: stats lines and the reload" \
    "$rc|$(grep -vc -e 'flows written' -e 'reloaded the topology' "$T/hup.err")" "3|0"
[ -e "$T/hup.json" ] && ok "5: SIGHUP made a new hup.json" || bad "5: no new hup.json after SIGHUP"
eq "5: the old file has the run's start, the new one its end" \
    "$(jq -r 'select(.event_type == "run") | .run.event' "$T/hup.json.1")|$(jq -r 'select(.event_type == "run") | .run.event' "$T/hup.json")" \
    "start|end"
n1=$(jq -r 'select(.event_type == "flow") | 1' "$T/hup.json.1" | wc -l)
n2=$(jq -r 'select(.event_type == "flow") | 1' "$T/hup.json" | wc -l)
[ "$n1" -gt 0 ] && [ "$n2" -gt 0 ] && ok "5: flows in both files ($n1 before the SIGHUP, $n2 after)" ||
    bad "5: flows before the SIGHUP $n1, after $n2"
cat "$T/hup.json.1" "$T/hup.json" >"$T/hup.all"
agree "5: both files together" "$T/hup.all" "$T/hup.db" 1
nstats=$(jq -r 'select(.event_type == "stats") | 1' "$T/hup.all" | wc -l)
[ "$nstats" -ge 2 ] && ok "5: --stats 1: $nstats stats events" || bad "5: --stats 1: $nstats stats events"
eq "5: stats events as many as --stats lines" "$nstats" "$(grep -c 'flows written' "$T/hup.err")"
eq "5: stats: uptime, capture, decoder; packets growing, at most the run's" \
    "$(jq -sr --argjson p "$(q "$T/hup.db" "SELECT packets FROM runs")" '[.[] | select(.event_type == "stats")] |
        [all(.[]; (.stats.uptime | type) == "number" and .stats.decoder.pkts == .lync.packets and
                  .stats.decoder.pkts <= $p and (.stats.capture.kernel_packets | type) == "number" and
                  (.lync.live_flows | type) == "number"),
         (map(.stats.decoder.pkts) | . == sort), (map(.stats.uptime) | . == sort)] | map(tostring) | join(" ")' \
        "$T/hup.all")" "true true true"

# ----------------------------------------------------------------------------
echo "# 6: a writer that cannot write"
"$LA" -q -t "$TOPO" -d "$T/ref.db" "$SAMPLE" 2>/dev/null
ref_rc=$?
REF="$(db_flows "$T/ref.db" 1 | cut -f2-)"
# /dev/full: the run's first event already fails
"$LA" -q -t "$TOPO" -d "$T/full.db" --eve /dev/full "$SAMPLE" 2>"$T/err"
eq "6: /dev/full: exit code as without --eve" "$?" "$ref_rc"
eq "6: /dev/full: one line on stderr" "$(cat "$T/err")" \
    "lyncaudit: --eve /dev/full: cannot write: No space left on device; no more events in this run (the database is complete)"
eq "6: /dev/full: the database complete, the same flows" "$(q "$T/full.db" "SELECT status FROM runs")|$(db_flows "$T/full.db" 1 | cut -f2-)" "complete|$REF"
eq "6: /dev/full: runs.message says it" "$(q "$T/full.db" "SELECT message FROM runs")" \
    "--eve /dev/full: cannot write: No space left on device; no more events in this run (the database is complete)"
# a closed pipe: head takes one line
"$LA" -q -t "$TOPO" -d "$T/pipe.db" --eve - "$P/nDPI/1kxun.pcap" 2>"$T/err" | head -n 1 >"$T/pipe.out"
eq "6: closed pipe: exit 3 as without --eve (nothing audited)" "${PIPESTATUS[0]}" 3
eq "6: closed pipe: the line head took is the run start" "$(jq -r '.run.event' "$T/pipe.out")" start
eq "6: closed pipe: one message" "$(grep -c . "$T/err")|$(grep -c 'cannot write: Broken pipe' "$T/err")" "1|1"
eq "6: closed pipe: the database complete" "$(q "$T/pipe.db" "SELECT status, flows = (SELECT count(*) FROM flows), flows > 100 FROM runs")" "complete|1|1"
# a full disk under the EVE file (tmpfs of 16 KiB, root only): the file is
# cut back to its last whole line
if [ "$(id -u)" -eq 0 ] && mkdir -p "$T/small" && mount -t tmpfs -o size=16k tmpfs "$T/small" 2>/dev/null; then
    MOUNTS+=("$T/small")
    "$LA" -q -d "$T/small.db" --eve "$T/small/eve.json" "$P/nDPI/1kxun.pcap" 2>"$T/err"
    eq "6: full disk: exit 3 (no topology)" "$?" 3
    eq "6: full disk: one message" "$(grep -c 'cannot write: No space left on device; no more events' "$T/err")|$(grep -c . "$T/err")" "1|1"
    eq "6: full disk: the file ends with a whole line, every line one object" \
        "$(tail -c 1 "$T/small/eve.json" | od -An -c | tr -d ' ')|$(eve_lines "$T/small/eve.json" | wc -l)" \
        "\\n|$(wc -l <"$T/small/eve.json")"
    [ "$(wc -l <"$T/small/eve.json")" -ge 5 ] && ok "6: full disk: $(wc -l <"$T/small/eve.json") whole lines kept" ||
        bad "6: full disk: $(stat -c %s "$T/small/eve.json") bytes, $(wc -l <"$T/small/eve.json") lines"
    eq "6: full disk: the database complete" "$(q "$T/small.db" "SELECT status, flows = (SELECT count(*) FROM flows) FROM runs")" "complete|1"
    umount "$T/small" && MOUNTS=()
else
    echo "SKIP: 6 full disk needs root to mount a tmpfs"
fi

# ----------------------------------------------------------------------------
echo "# 7: the database fills up part way"
if [ "$(id -u)" -eq 0 ] && mkdir -p "$T/tmpfs" && mount -t tmpfs -o size=8m tmpfs "$T/tmpfs" 2>/dev/null; then
    MOUNTS+=("$T/tmpfs")
    python3 "$HERE/../robust/mkflood.py" udp 50000 "$T/udp50k.pcap"
    "$LA" -q -d "$T/tmpfs/x.db" --eve "$T/full.json" "$T/udp50k.pcap" 2>"$T/err"
    eq "7: exit 2, the database full" "$?|$(grep -c 'full' "$T/err")" "2|1"
    cp "$T/tmpfs/x.db" "$T/x.db" 2>/dev/null
    kept=$(q "$T/tmpfs/x.db" "SELECT count(*) FROM flows")
    check_kept=$([ "$kept" -gt 0 ] && [ "$kept" -lt 50000 ] && echo yes || echo no)
    eq "7: some batches kept, not all ($kept of 50000 flows)" "$check_kept" yes
    same "7: flow events = the flows the database kept" "$(eve_flows "$T/full.json" 1)" "$(db_flows "$T/tmpfs/x.db" 1)"
    eq "7: the run's end event says error, as the row" "$(eve_runs "$T/full.json" 1 | grep '^end' | cut -d'|' -f2)" \
        "$(q "$T/tmpfs/x.db" "SELECT status FROM runs")"
    umount "$T/tmpfs" && MOUNTS=()
else
    echo "SKIP: 7 needs root to mount a tmpfs"
fi

# ----------------------------------------------------------------------------
echo "# 8: --syslog"
python3 "$HERE/syslog_listen.py" "$T/log.sock" "$T/log.out" 30 &
lis=$!
PIDS+=("$lis")
for _ in $(seq 50); do [ -S "$T/log.sock" ] && break; sleep 0.1; done
LYNCAUDIT_SYSLOG_SOCKET="$T/log.sock" "$LA" -q -t "$TOPO" -d "$T/sl.db" --eve "$T/sl.json" --syslog \
    --syslog-facility local3 "$SAMPLE" 2>"$T/err"
eq "8: exit 1, nothing on stderr" "$?|$(cat "$T/err")" "1|"
nv=$(q "$T/sl.db" "SELECT count(*) FROM violations")
for _ in $(seq 50); do [ "$(wc -l <"$T/log.out")" -ge "$nv" ] && break; sleep 0.1; done
kill "$lis"
wait "$lis" 2>/dev/null
eq "8: one datagram per violation" "$(wc -l <"$T/log.out")" "$nv"
HOST_RE='[!-~]+'
eq "8: RFC 5424 header: <PRI>1 TIMESTAMP HOST lyncaudit PID alert - MSG" \
    "$(grep -cE "^<[0-9]+>1 ${TS_RE:1:-1} $HOST_RE lyncaudit [0-9]+ alert - \\{" "$T/log.out")" "$nv"
# PRI = facility local3 (19) * 8 + severity (high 3, medium 4, low 5)
pri=$(sed -E 's/^<([0-9]+)>1 [^ ]+ [^ ]+ lyncaudit [0-9]+ alert - (.*)$/\1\t\2/' "$T/log.out" |
    while IFS=$'\t' read -r p msg; do
        printf '%s\t%s\n' "$p" "$(jq -r '.lync.severity' <<<"$msg")"
    done | awk -F'\t' '{ want = 152 + ($2 == "high" ? 3 : $2 == "medium" ? 4 : 5); if ($1 != want) print }')
eq "8: PRI = local3 * 8 + the violation's severity" "$pri" ""
sed -E 's/^<[0-9]+>1 [^ ]+ [^ ]+ lyncaudit [0-9]+ alert - //' "$T/log.out" >"$T/log.json"
same "8: the messages are the EVE file's alert events, as they are" \
    "$(sort "$T/log.json")" "$(jq -c 'select(.event_type == "alert")' "$T/sl.json" | sort)"
same "8: the syslog alerts = the violations rows" "$(eve_alerts "$T/log.json" 1)" "$(db_alerts "$T/sl.db" 1)"
# nobody listens
LYNCAUDIT_SYSLOG_SOCKET="$T/nobody.sock" "$LA" -q -t "$TOPO" -d "$T/sl2.db" --syslog "$SAMPLE" 2>"$T/err"
eq "8: no listener: exit 1 as without --syslog" "$?" 1
eq "8: no listener: said once, then the count" "$(cat "$T/err")" \
    "lyncaudit: --syslog: cannot connect to $T/nobody.sock: No such file or directory; alerts not sent are counted
lyncaudit: --syslog: $nv alerts could not be sent to $T/nobody.sock"
eq "8: no listener: the database complete, the message in the run" \
    "$(q "$T/sl2.db" "SELECT status, violations, message LIKE '--syslog: cannot connect%' FROM runs")" "complete|$nv|1"

# ----------------------------------------------------------------------------
echo "# 9: usage errors; --eve -"
usage() { # WHAT REGEX ARGS...
    local what=$1 re=$2
    shift 2
    "$LA" -q -d "$T/u.db" "$@" >/dev/null 2>"$T/err"
    eq "9: $what: exit 2, one line" "$?|$(grep -c . "$T/err")" "2|1"
    grep -qE -e "$re" "$T/err" && ok "9: $what: says $re" || bad "9: $what: stderr '$(cat "$T/err")' lacks /$re/"
}
usage "--eve-rotate without --eve" "eve-rotate wants --eve FILE" --eve-rotate 1M "$SAMPLE"
usage "--eve-rotate with --eve -" "eve-rotate wants --eve FILE" --eve - --eve-rotate 1M "$SAMPLE"
usage "--eve-rotate 10X" "eve-rotate wants a size.*not '10X'" --eve "$T/u.json" --eve-rotate 10X "$SAMPLE"
usage "--eve - with --json" "both write to stdout" --eve - --json "$SAMPLE"
usage "--syslog-facility kern" "syslog-facility wants daemon.*not 'kern'" --syslog --syslog-facility kern "$SAMPLE"
usage "--syslog-facility without --syslog" "syslog-facility wants --syslog" --syslog-facility local0 "$SAMPLE"
usage "--eve in a missing folder" "--eve $T/no/such/e.json: cannot open: No such file" --eve "$T/no/such/e.json" "$SAMPLE"
[ ! -e "$T/u.db" ] && ok "9: usage errors write no database" || bad "9: a usage error created the database"
"$LA" -t "$TOPO" -d "$T/o.db" --eve - "$SAMPLE" >"$T/o.json" 2>"$T/err"
eq "9: --eve -: stdout is only the stream" "$(eve_lines "$T/o.json" | wc -l)" "$(wc -l <"$T/o.json")"
agree "9: --eve -" "$T/o.json" "$T/o.db" 1
grep -q "top applications" "$T/err" && ok "9: --eve -: the summary on stderr" || bad "9: --eve -: no summary on stderr"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
