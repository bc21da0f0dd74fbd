#!/usr/bin/env bash
# A run killed outright (issue 11): the row it leaves 'running' becomes
# 'killed' at the next open on this host, and only then.
#   1  a real SIGKILL: lyncaudit reading a FIFO (its run row written, the
#      writer holding the pipe open) is killed; its row keeps 'running' with
#      its pid and host until the next run opens the database, which marks
#      it 'killed' (finished_at still NULL, message naming the pid) and runs
#      itself to 'complete'
#   2  a run that is alive is not marked: a second run on the same database
#      while the first waits on its FIFO leaves the first 'running'; killed,
#      it is marked by the third
#   3  pid reuse: rows naming a live process (a sleep of this test) with
#      another start time are 'killed'; with that process's own identity
#      (boot id and start time, as lyncaudit writes it) 'running'; rows of
#      another host, or without a pid (written before schema 3), untouched
# Usage: test_killed.sh LYNCAUDIT PCAP_DIR
set -u
LA="$(realpath "$1")"
P="$(realpath "$2")"
T="$(mktemp -d)"
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do { kill -9 "$p" && wait "$p"; } 2>/dev/null; done
    rm -rf "$T"
}
trap cleanup EXIT
cd "$T" || exit 1
SIP="$P/nDPI/sip.pcap"
JAB="$P/nDPI/jabber.pcap"
passed=0
failed=0
ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*"; }
q() { sqlite3 -cmd ".timeout 20000" "$1" "$2"; }
HOST="$(hostname)"

# start_on_fifo DB NAME: lyncaudit reading a FIFO that a writer fills with a
# capture and keeps open; returns once the run row exists. PID in $la.
start_on_fifo() {
    mkfifo "$T/$2"
    python3 - "$JAB" "$T/$2" <<'PY' &
import sys, time
data = open(sys.argv[1], "rb").read()
with open(sys.argv[2], "wb") as f:
    f.write(data)
    f.flush()
    time.sleep(60)
PY
    PIDS+=($!)
    "$LA" -q -d "$1" "$T/$2" 2>"$T/$2.err" &
    la=$!
    PIDS+=("$la")
    for _ in $(seq 100); do
        [ "$(q "$1" "select count(*) from runs where pid = $la" 2>/dev/null)" = 1 ] && return 0
        sleep 0.1
    done
    bad "no run row for pid $la after 10 s: $(cat "$T/$2.err")"
    return 1
}

# 1. A real SIGKILL.
start_on_fifo k.db fifo1
kill -9 "$la"
wait "$la" 2>/dev/null
row="$(q k.db "select status, pid, host, finished_at is null from runs where id = 1")"
[ "$row" = "running|$la|$HOST|1" ] && ok || bad "killed run before the next open: '$row', wanted 'running|$la|$HOST|1'"
"$LA" -q -d k.db "$SIP"
rc=$?
[ "$rc" -eq 3 ] && ok || bad "the next run: exit $rc (wanted 3: no topology, nothing audited)"
row="$(q k.db "select status, finished_at is null, message like '%pid $la on $HOST%' from runs where id = 1")"
[ "$row" = "killed|1|1" ] && ok || bad "after the next open: '$row', wanted 'killed|1|1' (message: $(q k.db "select message from runs where id = 1"))"
[ "$(q k.db "select status from runs where id = 2")" = complete ] && ok || bad "the next run itself is not complete"
[ "$(q k.db "pragma integrity_check")" = ok ] && ok || bad "integrity_check after SIGKILL"

# 2. A live run is not marked; once killed, it is.
start_on_fifo a.db fifo2
first=$la
"$LA" -q -d a.db "$SIP"
[ "$(q a.db "select status from runs where pid = $first")" = running ] && ok ||
    bad "a run whose process is alive was marked: $(q a.db "select status, message from runs where pid = $first")"
kill -9 "$first"
wait "$first" 2>/dev/null
"$LA" -q -d a.db "$SIP"
[ "$(q a.db "select status from runs where pid = $first")" = killed ] && ok ||
    bad "a killed run not marked by the third run: $(q a.db "select status from runs where pid = $first")"
[ "$(q a.db "select group_concat(status) from runs order by id")" = "killed,complete,complete" ] && ok ||
    bad "statuses: $(q a.db "select group_concat(status) from runs order by id")"

# 3. Pid reuse, other hosts, rows without a pid.
sleep 60 &
other=$!
PIDS+=("$other")
# The sleeper's start on the wall clock, as lyncaudit reads it (its start in
# ticks since boot, placed through CLOCK_BOOTTIME).
start="$(python3 - "$other" <<'PY'
import os, sys, time
f = open(f"/proc/{sys.argv[1]}/stat").read()
ticks = int(f[f.rindex(")") + 2:].split()[19])
booted = time.clock_gettime(time.CLOCK_REALTIME) - time.clock_gettime(time.CLOCK_BOOTTIME)
print(f"{booted + ticks / os.sysconf('SC_CLK_TCK'):.2f}")
PY
)"
earlier="$(python3 -c "print(f'{$start - 30:.2f}')")"
"$LA" -q -d r.db "$SIP"
q r.db "insert into runs(started_at, version, sources, status, pid, host, process_start) values
  ('2026-01-01T00:00:00.000000Z', 'x', 'reused', 'running', $other, '$HOST', '$earlier'),
  ('2026-01-01T00:00:00.000000Z', 'x', 'other-boot', 'running', $other, '$HOST', '12.00'),
  ('2026-01-01T00:00:00.000000Z', 'x', 'alive', 'running', $other, '$HOST', '$start'),
  ('2026-01-01T00:00:00.000000Z', 'x', 'elsewhere', 'running', 1, 'another-host', 'x/1'),
  ('2026-01-01T00:00:00.000000Z', 'x', 'old', 'running', NULL, NULL, NULL)"
"$LA" -q -d r.db "$SIP"
got="$(q r.db "select group_concat(sources || '=' || status, ' ') from runs where version = 'x' order by id")"
want="reused=killed other-boot=killed alive=running elsewhere=running old=running"
[ "$got" = "$want" ] && ok || bad "pid reuse: '$got', wanted '$want'"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
