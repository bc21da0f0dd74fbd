#!/usr/bin/env python3
"""Threads change no Lync label and no verdict: the same capture read on one
thread (--single-thread) and with 1, 2 and 4 classify workers (--workers N)
gives the same database, row for row and in the same order: flows, Lync
labels, roles, verdicts, violations, rule match counts, role statistics and
the run's counters. nDPI's own columns (ndpi_master, ndpi_app,
ndpi_confidence), the app_detail that quotes them and a label that is
nDPI's (not lyncaudit's own) may differ with the number of workers, since
nDPI keeps caches per detection module (docs/usage.md, Threads): those
differences are counted and printed, not failed. Runs over every shared
capture one at a time (one thread and two workers), and all in one run (so
the queues and the ring fill and the reader waits), with tight flow caps and
timeouts (evictions, expiry), and the project's sample with its topology
(audit and violations) at every worker count.
Usage: test_threads.py LYNCAUDIT SOURCE_DIR PCAP_DIR"""
import os
import sqlite3
import subprocess
import sys
import tempfile

la, src, pcaps = sys.argv[1:4]

if len(os.sched_getaffinity(0)) < 2:
    print("SKIP: one CPU here: lyncaudit runs on one thread whatever it is asked")
    sys.exit(77)

# lyncaudit's own labels (classify.c's label_names, "unknown" aside): these
# must not depend on the workers.
LYNC = {"sip", "sip_tls", "psom", "msturn", "stun", "rtp", "rtcp", "xmpp", "ike", "esp", "ah", "tls"}
FLOW_COLS = ["id", "first_seen", "last_seen", "transport", "ip_version", "src_ip", "src_port", "dst_ip",
             "dst_port", "packets_src2dst", "bytes_src2dst", "packets_dst2src", "bytes_dst2src", "end_reason",
             "src_role", "dst_role", "verdict", "rule_id", "icmp_errors", "app"]
NDPI_COLS = ["ndpi_master", "ndpi_app", "ndpi_confidence", "app_detail"]
QUERIES = [
    f"SELECT {', '.join(FLOW_COLS + NDPI_COLS)} FROM flows ORDER BY id",
    "SELECT * FROM violations ORDER BY id",
    "SELECT id, kind, matched FROM rules ORDER BY run_id, id",
    "SELECT * FROM role_stats ORDER BY 1, 2, 3",
    "SELECT packets, bytes, undecodable, flows, flows_evicted, violations, icmp_errors, status FROM runs",
]
APP = FLOW_COLS.index("app")
N_FLOW = len(FLOW_COLS)

passed = failed = 0
ndpi_diffs = {}


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL:", what)


def run(tmp, name, args, workers):
    db = os.path.join(tmp, f"{name}-{workers}.db")
    cmd = [la, "-v", "-d", db] + (["--single-thread"] if workers == 0 else ["--workers", str(workers)]) + args
    p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    con = sqlite3.connect(db)
    rows = [con.execute(q).fetchall() for q in QUERIES]
    con.close()
    return p.returncode, p.stderr, rows


def flow_part(row):
    """The columns that must agree: all but nDPI's, and the label when it is lyncaudit's own."""
    r = list(row[:N_FLOW])
    if r[APP] not in LYNC:
        r[APP] = "(nDPI's)"
    return tuple(r)


def same_rows(name, what, a, b):
    if a == b:
        check(True, "")
        return
    diff = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    check(False, f"{name}: {what}: {len(a)} rows vs {len(b)}, first difference at row {diff}: "
                 f"{a[diff] if diff < len(a) else None} vs {b[diff] if diff < len(b) else None}")


def compare(tmp, name, args, counts=(0, 2)):
    """Runs at each worker count in `counts`; every run against the first."""
    base = None
    for w in counts:
        rc, err, rows = run(tmp, name, args, w)
        want = f"{w + 1} threads" if w else "1 thread"
        check(f"lyncaudit: {want}" in err, f"{name}: -v says {want} ({err.strip().splitlines()[-3:]})")
        if base is None:
            base = (rc, rows)
            continue
        check(rc == base[0], f"{name}: exit codes {base[0]} (one thread) and {rc} ({w} workers)")
        one, many = base[1], rows
        same_rows(name, f"flows, one thread vs {w} workers", [flow_part(r) for r in one[0]],
                  [flow_part(r) for r in many[0]])
        n = sum(1 for x, y in zip(one[0], many[0]) if x != y)
        ndpi_diffs[(name, w)] = n
        for i, (q, a, b) in enumerate(zip(QUERIES[1:], one[1:], many[1:])):
            if i == 2:  # role_stats: keyed by the label too; nDPI's labels may move between keys
                a = [r for r in a if r[5] in LYNC]
                b = [r for r in b if r[5] in LYNC]
            same_rows(name, f"{q[:40]}... ({w} workers)", a, b)
    return base[1]


captures = []
for d, _, files in sorted(os.walk(pcaps)):
    for f in sorted(files):
        if f.endswith((".pcap", ".pcapng", ".cap")):
            captures.append(os.path.join(d, f))
check(len(captures) >= 40, f"the shared captures are there ({len(captures)})")

with tempfile.TemporaryDirectory() as tmp:
    flows = 0
    for i, c in enumerate(captures):
        rows = compare(tmp, f"c{i}", [c])
        flows += len(rows[0])
    # All of them in one run, three times over: several files in a row, about
    # 50,000 packets, ten times what the queues hold (the reader waits).
    allrows = compare(tmp, "all", captures * 3, (0, 1, 2, 4))
    check(len(allrows[0]) > 800, f"the all-in-one run has flows ({len(allrows[0])})")
    # Tight caps: evictions and expiry all along the run.
    capped = compare(tmp, "capped", ["--max-flows", "40", "--idle-timeout", "2"] + captures, (0, 1, 2, 4))
    check(capped[4][0][4] > 0, f"the capped run evicted flows ({capped[4][0][4]})")
    # The sample with its topology: audit, violations, rule counts.
    topo = os.path.join(src, "samples", "topology.lua")
    sample = compare(tmp, "sample", ["-t", topo, os.path.join(src, "samples", "lync-sample.pcap")], (0, 1, 2, 4))
    check(len(sample[1]) > 0, f"the sample run has violations ({len(sample[1])})")

moved = {k: v for k, v in ndpi_diffs.items() if v}
print(f"flows whose nDPI columns or app_detail differ from one thread's (allowed): {moved or 'none'}")
print(f"{passed} passed, {failed} failed ({len(captures)} captures, {flows} flows one by one)")
sys.exit(1 if failed else 0)
