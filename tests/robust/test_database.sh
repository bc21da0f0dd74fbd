#!/usr/bin/env bash
# Database trouble. For each: one line on stderr naming the database, exit 2,
# and never a half-written run: every run row is closed (finished_at set:
# the process was not killed), its counters equal the rows stored, the file
# passes integrity_check, and what was there before is unchanged.
#   1  a read-only folder (run as nobody: the tests run as root)
#   2  a read-only database file (as nobody)
#   3  files that are not lyncaudit databases: text, random bytes, a SQLite
#      file cut short, a newer schema, another program's SQLite file whose
#      table names collide, a folder
#   4  a full disk: tmpfs of 64 to 576 KiB (full while the database is
#      created, while the run starts, at the first flows, or not at all),
#      8 MiB (full in the middle of the flows); without root, skipped
#   5  a file size limit (ulimit -f): the write fails, the process is not
#      killed by SIGXFSZ
#   6  a database locked by another writer for the whole run (BEGIN
#      IMMEDIATE held by python's sqlite3): lyncaudit waits its 5 s busy
#      timeout and gives up before writing anything
#   7  a writer that takes the lock in the middle of the run and keeps it
#      7 s (lyncaudit's flow write gives up after 5 s, the run is still
#      closed) or 15 s (longer than lyncaudit waits to close the run)
# Cases whose bug is known and not yet fixed are listed in known_bugs.txt:
# they are reported as KNOWN BUG and do not fail the test; once fixed they
# report FIXED and fail until the line is removed.
# Usage: test_database.sh LYNCAUDIT PCAP_DIR
set -u
LA="$(realpath "$1")"
P="$(realpath "$2")"
HERE="$(cd "$(dirname "$0")" && pwd)"
T="$(mktemp -d)"
chmod 755 "$T"
MOUNTS=()
cleanup() {
    for m in "${MOUNTS[@]}"; do umount "$m" 2>/dev/null; done
    rm -rf "$T"
}
trap cleanup EXIT
SIP="$P/nDPI/sip.pcap"
. "$HERE/known.sh"
q() { sqlite3 -cmd ".timeout 20000" "$1" "$2"; }
NOGROUP="$(getent group nogroup >/dev/null && echo nogroup || echo nobody)"
as_nobody() { setpriv --reuid=nobody --regid="$NOGROUP" --clear-groups "$@"; }
# nobody must reach the binary, its lua/ and rules/, and the capture.
AS_NOBODY=0
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null && id nobody >/dev/null 2>&1 &&
    as_nobody "$LA" -q -d /dev/null --version >/dev/null 2>&1 && as_nobody test -r "$SIP"; then
    AS_NOBODY=1
fi

# run DB ARGS...: lyncaudit -q -d DB ARGS; rc in $rc, stderr in $T/err
run() {
    local db="$1"
    shift
    "$LA" -q -d "$db" "$@" >"$T/out" 2>"$T/err"
    rc=$?
}
# The exit code is 2, stderr is one line naming the database (and matching
# $2 if given), besides the notices of a wait for another writer's lock.
expect_trouble() { # db_name [regex]
    if [ "$rc" -ne 2 ]; then
        bad "exit $rc, wanted 2 (a signal is 128+N); stderr: $(head -c 300 "$T/err")"
    else ok; fi
    local lines
    lines=$(grep -v "locked by another writer; waiting up to" "$T/err" | grep -c .)
    if [ "$lines" -ne 1 ]; then
        bad "wanted one line on stderr, got $lines: $(head -c 600 "$T/err")"
    else ok; fi
    if ! grep -q "^lyncaudit: .*$1" "$T/err"; then
        bad "stderr does not name the database $1: $(head -c 300 "$T/err")"
    else ok; fi
    if [ -n "${2:-}" ] && ! grep -qiE "$2" "$T/err"; then
        bad "stderr does not say /$2/: $(head -c 300 "$T/err")"
    elif [ -n "${2:-}" ]; then ok; fi
}
# The database invariants (when the file is a database at all).
expect_whole() { # db
    local db="$1"
    [ -s "$db" ] || return 0
    # a database the disk was too small to hold the schema of: nothing to check but that
    [ "$(q "$db" "select count(*) from sqlite_master where name = 'runs'" 2>/dev/null)" = 1 ] || return 0
    local ic
    ic="$(q "$db" "pragma integrity_check" 2>&1)"
    if [ "$ic" != ok ]; then bad "integrity_check: $ic"; else ok; fi
    local open
    open="$(q "$db" "select id || ':' || status from runs where finished_at is null" 2>&1)"
    if [ -n "$open" ]; then
        bad "a run left open (finished_at NULL, the process was not killed): $open"
    else ok; fi
    local mism
    mism="$(q "$db" "select r.id || ': runs.flows ' || r.flows || ', rows ' || (select count(*) from flows f where f.run_id = r.id)
                     || ', runs.violations ' || r.violations || ', rows ' || (select count(*) from violations v where v.run_id = r.id)
                     from runs r where r.flows <> (select count(*) from flows f where f.run_id = r.id)
                     or r.violations <> (select count(*) from violations v where v.run_id = r.id)" 2>&1)"
    if [ -n "$mism" ]; then bad "run counters do not match the rows stored: $mism"; else ok; fi
}
snapshot() { q "$1" "select id, status, finished_at, packets, flows, violations from runs order by id; select count(*) from flows; select count(*) from violations"; }

echo "lyncaudit $LA, running as uid $(id -u)"

# 1 read-only folder
begin readonly-folder
mkdir -p "$T/ro" && chmod 555 "$T/ro"
if [ "$AS_NOBODY" = 1 ]; then
    as_nobody "$LA" -q -d "$T/ro/x.db" "$SIP" >"$T/out" 2>"$T/err"
    rc=$?
elif [ "$(id -u)" -ne 0 ]; then
    run "$T/ro/x.db" "$SIP"
else
    echo "SKIP: read-only folder: user nobody cannot run $LA or read $SIP"
    rc=skip
fi
if [ "$rc" != skip ]; then
    expect_trouble "$T/ro/x.db" "cannot open|read-only|readonly|permission"
    [ ! -e "$T/ro/x.db" ] && ok || bad "a database appeared in the read-only folder"
fi
end_case

# 2 read-only database file
begin readonly-file
run "$T/rofile.db" "$SIP"
before="$(snapshot "$T/rofile.db")"
chmod 444 "$T/rofile.db"
if [ "$AS_NOBODY" = 1 ]; then
    as_nobody "$LA" -q -d "$T/rofile.db" "$SIP" >"$T/out" 2>"$T/err"
    rc=$?
    expect_trouble "$T/rofile.db" "read-?only|permission|cannot"
    [ "$(snapshot "$T/rofile.db")" = "$before" ] && ok || bad "the read-only database changed"
fi
chmod 644 "$T/rofile.db"
end_case

# 3 not a lyncaudit database
begin not-sqlite
printf 'not a database, just text that is long enough to fill a page header....\n%.0s' {1..20} >"$T/text.db"
run "$T/text.db" "$SIP"
expect_trouble "$T/text.db" "not a database"
head -c 8192 /dev/urandom >"$T/random.db"
cp "$T/random.db" "$T/random.orig"
run "$T/random.db" "$SIP"
expect_trouble "$T/random.db" "not a database|malformed|cannot"
cmp -s "$T/random.db" "$T/random.orig" && ok || bad "lyncaudit wrote into a file that is not a database"
end_case

begin sqlite-cut-short
run "$T/big.db" "$P/nDPI/1kxun.pcap" "$P/nDPI/skype__old2020.pcap"
sqlite3 "$T/big.db" "pragma wal_checkpoint(truncate)" >/dev/null
size=$(stat -c %s "$T/big.db")
head -c $((size / 2)) "$T/big.db" >"$T/half.db"
rm -f "$T"/big.db*
run "$T/half.db" "$SIP"
expect_trouble "$T/half.db" "malformed|corrupt|cannot"
end_case

begin newer-schema
sqlite3 "$T/newer.db" "pragma user_version=99; create table x(a)"
run "$T/newer.db" "$SIP"
expect_trouble "$T/newer.db" "newer"
[ "$(q "$T/newer.db" "select count(*) from sqlite_master")" = 1 ] && ok || bad "the newer database was changed"
end_case

begin foreign-sqlite
sqlite3 "$T/foreign.db" "create table flows(a, b); insert into flows values(1, 2)"
before="$(q "$T/foreign.db" ".schema")|$(q "$T/foreign.db" "pragma user_version")"
run "$T/foreign.db" "$SIP"
expect_trouble "$T/foreign.db"
[ "$(q "$T/foreign.db" ".schema")|$(q "$T/foreign.db" "pragma user_version")" = "$before" ] && ok ||
    bad "another program's database was changed: $(q "$T/foreign.db" ".tables")"
end_case

begin folder
mkdir "$T/dir.db"
run "$T/dir.db" "$SIP"
expect_trouble "$T/dir.db" "cannot open"
end_case

# An empty name makes SQLite open a private temporary database: the run
# would "complete" and its flows vanish.
begin empty-path
(cd "$T" && "$LA" -q -d "" "$SIP") >"$T/out" 2>"$T/err"
rc=$?
if [ "$rc" -ne 2 ]; then bad "-d '': exit $rc, wanted 2 (the flows would be written nowhere)"; else ok; fi
if grep -q "^lyncaudit: " "$T/err"; then ok; else bad "-d '': no message"; fi
end_case

# 4 full disk
if [ "$(id -u)" -eq 0 ] && mkdir -p "$T/full" && mount -t tmpfs -o size=256k tmpfs "$T/full" 2>/dev/null; then
    MOUNTS+=("$T/full")
    umount "$T/full"
    # Small disks, from too small for the schema to just large enough: the
    # disk fills while the database is created, while the run starts, at the
    # first flows, or never. Whatever the moment: exit 2 naming the
    # database, or a complete run; never a run left open. lyncaudit holds
    # 256 KiB beside the database and gives it back when a write fails, so
    # a run that started can always be closed.
    begin full-disk-at-start
    nfull=0
    nclosed=0
    for kib in 64 128 192 256 320 384 416 448 480 512 576; do
        mount -t tmpfs -o size=${kib}k tmpfs "$T/full"
        run "$T/full/x.db" "$P/nDPI/1kxun.pcap"
        if [ "$rc" -ne 3 ]; then # 3: the run went through (no topology: nothing audited)
            nfull=$((nfull + 1))
            expect_trouble "$T/full/x.db" "full"
        fi
        open="$(q "$T/full/x.db" "select count(*) from runs where finished_at is null" 2>/dev/null)"
        closed="$(q "$T/full/x.db" "select count(*) from runs where status = 'error' and finished_at is not null" 2>/dev/null)"
        [ "${closed:-0}" = 0 ] || nclosed=$((nclosed + 1))
        [ "${open:-0}" = 0 ] && ok || bad "a ${kib} KiB disk: a run left open (exit $rc, $(head -c 200 "$T/err"))"
        expect_whole "$T/full/x.db"
        umount "$T/full"
    done
    [ "$nfull" -ge 1 ] && ok || bad "no disk size from 64 to 576 KiB was too small: the case tests nothing"
    [ "$nclosed" -ge 1 ] && ok || bad "no disk size filled after the run had started: the reserve is not tested"
    end_case

    begin full-disk-mid-run
    mount -t tmpfs -o size=8m tmpfs "$T/full"
    python3 "$HERE/mkflood.py" udp 50000 "$T/udp50k.pcap"
    run "$T/full/x.db" "$T/udp50k.pcap"
    expect_trouble "$T/full/x.db" "full"
    expect_whole "$T/full/x.db"
    st="$(q "$T/full/x.db" "select status from runs")"
    [ "$st" = error ] && ok || bad "run status '$st', wanted error"
    [ "$(q "$T/full/x.db" "select message like '%full%' from runs")" = 1 ] && ok || bad "runs.message should say the disk is full"
    end_case
    umount "$T/full"
    MOUNTS=()
else
    echo "SKIP: full disk (needs root to mount a tmpfs)"
fi

# 5 file size limit
begin file-size-limit
[ -f "$T/udp50k.pcap" ] || python3 "$HERE/mkflood.py" udp 50000 "$T/udp50k.pcap"
(
    ulimit -f 2048
    exec "$LA" -q -d "$T/fsize.db" "$T/udp50k.pcap"
) >"$T/out" 2>"$T/err"
rc=$?
expect_trouble "$T/fsize.db" "too large|full|cannot"
expect_whole "$T/fsize.db"
end_case

# 6 locked for the whole run. lyncaudit waits for the lock (--lock-wait,
# 30 s by default), says so once, and writes when it gets it; with a shorter
# --lock-wait it gives up, one line naming the database, nothing changed.
hold_lock() { # db seconds: another writer holds BEGIN IMMEDIATE, in the background
    rm -f "$T/lock.ready"
    python3 - "$1" "$T/lock.ready" "$2" <<'PY' &
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("BEGIN IMMEDIATE")
open(sys.argv[2], "w").close()
time.sleep(float(sys.argv[3]))
c.execute("ROLLBACK")
PY
    holder=$!
    for _ in $(seq 100); do [ -e "$T/lock.ready" ] && break; sleep 0.05; done
}
begin locked-waits
run "$T/locked.db" "$SIP"
hold_lock "$T/locked.db" 5
t0=$(date +%s.%N)
run "$T/locked.db" "$SIP"
t1=$(date +%s.%N)
wait "$holder"
[ "$rc" -eq 3 ] && ok || bad "a 5 s lock: exit $rc, wanted 3 (waited; no topology): $(head -c 300 "$T/err")"
grep -q "locked.db: locked by another writer; waiting up to 30 s" "$T/err" && ok || bad "the wait is not said: $(head -c 300 "$T/err")"
waited=$(python3 -c "print(round($t1 - $t0, 1))")
python3 -c "import sys; sys.exit(not 4.0 <= $waited <= 9.0)" && ok || bad "finished after $waited s, wanted right after the 5 s lock"
[ "$(q "$T/locked.db" "select count(*) from runs where status = 'complete'")" = 2 ] && ok || bad "the run after the lock is not complete"
expect_whole "$T/locked.db"
end_case

begin locked-gives-up
before="$(snapshot "$T/locked.db")"
hold_lock "$T/locked.db" 9
t0=$(date +%s.%N)
run "$T/locked.db" --lock-wait 3 "$SIP"
t1=$(date +%s.%N)
wait "$holder"
expect_trouble "$T/locked.db" "locked|busy"
waited=$(python3 -c "print(round($t1 - $t0, 1))")
python3 -c "import sys; sys.exit(not 2.5 <= $waited <= 6.0)" && ok || bad "gave up after $waited s, wanted its --lock-wait 3"
[ "$(snapshot "$T/locked.db")" = "$before" ] && ok || bad "the locked database changed"
expect_whole "$T/locked.db"
end_case

# 7 locked in the middle of the run: the capture comes through a FIFO, the
# other writer takes the lock once the run row is there, then the FIFO ends.
mid_lock() { # hold_seconds [lyncaudit options]
    rm -f "$T"/mid.db* "$T/fifo"
    mkfifo "$T/fifo"
    python3 "$HERE/mkflood.py" udp 20 "$T/small.pcap"
    python3 - "$T/small.pcap" "$T/fifo" "$T/mid.db" "$1" <<'PY' &
import sqlite3, sys, time
pcap, fifo, db, hold = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
w = open(fifo, "wb")
w.write(open(pcap, "rb").read())
w.flush()
for _ in range(400):   # the run row is committed: lyncaudit waits for more packets
    try:
        c = sqlite3.connect(db, isolation_level=None, timeout=0.1)
        if c.execute("select count(*) from runs").fetchone()[0] == 1:
            break
        c.close()
    except sqlite3.Error:
        pass
    time.sleep(0.05)
c.execute("BEGIN IMMEDIATE")
w.close()              # end of input: lyncaudit writes its flows now
time.sleep(hold)
c.execute("ROLLBACK")
PY
    holder=$!
    local hold=$1
    shift
    run "$T/mid.db" "$@" "$T/fifo"
    wait "$holder"
    expect_whole "$T/mid.db"
}
begin locked-mid-run-7s
mid_lock 7
[ "$rc" -eq 3 ] && ok || bad "a 7 s lock mid-run: exit $rc, wanted 3 (waited; no topology): $(head -c 300 "$T/err")"
[ "$(q "$T/mid.db" "select status || ':' || flows from runs")" = complete:20 ] && ok || bad "run after a 7 s lock: '$(q "$T/mid.db" "select status, flows from runs")', wanted complete with its 20 flows"
end_case
begin locked-mid-run-15s-gives-up
mid_lock 15 --lock-wait 5
expect_trouble "$T/mid.db" "locked|busy"
[ "$(q "$T/mid.db" "select status from runs")" = error ] && ok || bad "run status '$(q "$T/mid.db" "select status from runs")', wanted error"
end_case

# 8 a slow input (tcpdump -w - | lyncaudit -): commits by time, not only by
# batch size (issue 20, C). Packets trickle through a FIFO for 8 s, flows end
# on the way (--idle-timeout 1, capture time 1 s apart); after 5 s a reader
# sees flows and another writer gets the lock within 1 s.
begin slow-pipe-commits
rm -f "$T/slow.fifo" "$T"/slow.db*
mkfifo "$T/slow.fifo"
python3 "$HERE/mkflood.py" udp 80 "$T/slow.pcap"
python3 - "$T/slow.pcap" "$T/slow.fifo" <<'PY' &
import struct, sys, time
data = open(sys.argv[1], "rb").read()
with open(sys.argv[2], "wb") as w:
    w.write(data[:24])
    off, i = 24, 0
    while off < len(data):
        sec, usec, incl, orig = struct.unpack("<IIII", data[off:off + 16])
        rec = struct.pack("<IIII", 1700000000 + i, 0, incl, orig) + data[off + 16:off + 16 + incl]
        w.write(rec)
        w.flush()
        off += 16 + incl
        i += 1
        time.sleep(0.1)
PY
writer=$!
"$LA" -q -d "$T/slow.db" --idle-timeout 1 "$T/slow.fifo" >"$T/out" 2>"$T/err" &
la=$!
sleep 5
mid_flows="$(q "$T/slow.db" "select count(*) from flows" 2>/dev/null)"
python3 - "$T/slow.db" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=1)
c.execute("BEGIN IMMEDIATE")
c.execute("ROLLBACK")
PY
got_lock=$?
wait "$writer"
wait "$la"
rc=$?
[ "$rc" -eq 3 ] && ok || bad "slow pipe run: exit $rc (wanted 3, no topology): $(cat "$T/err")"
[ "${mid_flows:-0}" -gt 0 ] && ok || bad "after 5 s of a slow pipe a reader saw ${mid_flows:-no} flows: nothing committed"
[ "$got_lock" -eq 0 ] && ok || bad "after 5 s of a slow pipe another writer could not get the lock in 1 s"
[ "$(q "$T/slow.db" "select status || ':' || flows from runs")" = "complete:80" ] && ok || bad "slow pipe run: $(q "$T/slow.db" "select status, flows from runs")"
end_case

echo "$known known bugs (tests/robust/known_bugs.txt)"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
