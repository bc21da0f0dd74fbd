#!/usr/bin/env python3
"""Do two lyncaudit binaries write the same database?

    tests/e2e/same_db.py OLD_BINARY NEW_BINARY [CAPTURE...]

Runs both binaries on every capture (default: every file under
../shared/pcaps, the project's sample with its topology, and the bench
capture when $BENCH_CAPTURE names one), once with --single-thread and once
with threads, each into a database of its own, then compares the two
databases table by table: every row of flows, violations, rules and
role_stats, and the runs row, byte for byte on the columns both schemas
have, after the volatile ones (times, paths). Exits 0 when every pair is
equal, 1 with the first differences printed.

A restructure that must not change results is checked with this against
the build from before it (issue 10).
"""
import os
import sqlite3
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
SHARED = os.environ.get("SHARED_PCAPS", os.path.join(SRC, "..", "shared", "pcaps"))

# Columns whose value depends on when or from where a run was made.
VOLATILE = {
    "runs": {"id", "started_at", "finished_at", "sources", "topology"},
}
# Order that makes two runs' rows comparable (ids are per database anyway).
TABLES = [
    ("runs", "id"),
    ("flows", "id"),
    ("violations", "id"),
    ("rules", "id"),
    ("role_stats", "src_role, dst_role, transport, dst_port, app"),
]


def captures():
    out = []
    for d, _, files in os.walk(SHARED):
        for f in files:
            if f.endswith((".pcap", ".pcapng", ".cap")):
                out.append((os.path.join(d, f), None))
    out.sort()
    out.append((os.path.join(SRC, "samples", "lync-sample.pcap"), os.path.join(SRC, "samples", "topology.lua")))
    bench = os.environ.get("BENCH_CAPTURE")
    if bench:
        out.append((bench, os.path.join(SRC, "samples", "topology.lua")))
    return out


def run(binary, capture, topology, db, threads):
    cmd = [binary, "-q", "-d", db]
    if topology:
        cmd += ["-t", topology]
    if not threads:
        cmd.append("--single-thread")
    cmd.append(capture)
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=os.path.dirname(db))
    return p.returncode, p.stderr.decode(errors="replace")


def dump(db):
    con = sqlite3.connect(db)
    out = {}
    for table, order in TABLES:
        cols = [r[1] for r in con.execute(f"PRAGMA table_info({table})")]
        out[table] = (cols, order)
    return con, out


def norm(cols, row):
    """rules.when_options lists options in the order Lua's pairs() gave them,
    which Lua 5.4 seeds per process: compare them as a set."""
    row = list(row)
    for i, c in enumerate(cols):
        if c == "when_options" and row[i]:
            row[i] = ",".join(sorted(row[i].split(",")))
    return tuple(row)


def compare(db_a, db_b, label):
    ca, ta = dump(db_a)
    cb, tb = dump(db_b)
    diffs = []
    for table, order in TABLES:
        common = [c for c in ta[table][0] if c in tb[table][0] and c not in VOLATILE.get(table, set())]
        q = f"SELECT {', '.join(common)} FROM {table} ORDER BY {order}"
        ra = [norm(common, r) for r in ca.execute(q)]
        rb = [norm(common, r) for r in cb.execute(q)]
        if ra != rb:
            diffs.append(f"{label}: {table}: {len(ra)} rows vs {len(rb)}")
            for x, y in zip(ra, rb):
                if x != y:
                    for c, u, v in zip(common, x, y):
                        if u != v:
                            diffs.append(f"    first difference: {c}: {u!r} vs {v!r}")
                    break
    ca.close()
    cb.close()
    return diffs


def main():
    if len(sys.argv) < 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    old, new = sys.argv[1], sys.argv[2]
    caps = [(c, None) for c in sys.argv[3:]] or captures()
    failures = []
    pairs = 0
    with tempfile.TemporaryDirectory() as tmp:
        for i, (cap, topo) in enumerate(caps):
            for threads in (False, True):
                label = f"{os.path.relpath(cap, SRC)} ({'threads' if threads else 'one thread'})"
                dbs = []
                for tag, binary in (("old", old), ("new", new)):
                    db = os.path.join(tmp, f"{i}-{int(threads)}-{tag}.db")
                    rc, err = run(binary, cap, topo, db, threads)
                    dbs.append((db, rc, err))
                (da, rca, ea), (dbn, rcb, eb) = dbs
                pairs += 1
                if rca != rcb:
                    failures.append(f"{label}: exit {rca} vs {rcb}\n  old: {ea.strip()}\n  new: {eb.strip()}")
                    continue
                if not os.path.exists(da) and not os.path.exists(dbn):
                    continue
                failures += compare(da, dbn, label)
    for f in failures:
        print(f)
    print(f"same_db: {pairs} capture runs compared, {len(failures)} differences")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
