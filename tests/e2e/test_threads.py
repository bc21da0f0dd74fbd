#!/usr/bin/env python3
"""Threads change nothing: the same capture read with the pipeline's threads
(the default on two CPUs or more) and with --single-thread gives the same
database, row for row and in the same order: flows, labels, details, roles,
verdicts, violations, rule match counts, role statistics and the run's
counters. Runs over every shared capture, one at a time and all in one run
(so the queues fill and the reader waits), with tight flow caps and timeouts
(evictions, expiry), and the project's sample with its topology (audit and
violations). Usage: test_threads.py LYNCAUDIT SOURCE_DIR PCAP_DIR"""
import os
import sqlite3
import subprocess
import sys
import tempfile

la, src, pcaps = sys.argv[1:4]

if len(os.sched_getaffinity(0)) < 2:
    print("SKIP: one CPU here: lyncaudit runs on one thread whatever it is asked")
    sys.exit(77)

QUERIES = [
    "SELECT id, first_seen, last_seen, transport, ip_version, src_ip, src_port, dst_ip, dst_port,"
    " packets_src2dst, bytes_src2dst, packets_dst2src, bytes_dst2src, app, app_detail, ndpi_master,"
    " ndpi_app, ndpi_confidence, end_reason, src_role, dst_role, verdict, rule_id, icmp_errors"
    " FROM flows ORDER BY id",
    "SELECT * FROM violations ORDER BY id",
    "SELECT id, kind, matched FROM rules ORDER BY run_id, id",
    "SELECT * FROM role_stats ORDER BY 1, 2, 3",
    "SELECT packets, bytes, undecodable, flows, flows_evicted, violations, icmp_errors, status FROM runs",
]

passed = failed = 0


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL:", what)


def run(tmp, name, args, single):
    db = os.path.join(tmp, f"{name}-{'1' if single else 'n'}.db")
    cmd = [la, "-v", "-d", db] + (["--single-thread"] if single else []) + args
    p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    con = sqlite3.connect(db)
    rows = [con.execute(q).fetchall() for q in QUERIES]
    con.close()
    return p.returncode, p.stderr, rows


def compare(tmp, name, args):
    rc1, err1, one = run(tmp, name, args, True)
    rcn, errn, many = run(tmp, name, args, False)
    check(rc1 == rcn, f"{name}: exit codes {rc1} (one thread) and {rcn} (threads)")
    check("2 threads" in errn and "1 thread" in err1,
          f"{name}: -v says how many threads ({errn.strip().splitlines()[:2]}, {err1.strip().splitlines()[:2]})")
    for q, a, b in zip(QUERIES, one, many):
        if a != b:
            diff = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
            check(False, f"{name}: {q[:40]}...: {len(a)} rows vs {len(b)}, first difference at row {diff}: "
                         f"{a[diff] if diff < len(a) else None} vs {b[diff] if diff < len(b) else None}")
        else:
            check(True, "")
    return one


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
    allrows = compare(tmp, "all", captures * 3)
    check(len(allrows[0]) > 800, f"the all-in-one run has flows ({len(allrows[0])})")
    # Tight caps: evictions and expiry all along the run.
    capped = compare(tmp, "capped", ["--max-flows", "40", "--idle-timeout", "2"] + captures)
    check(capped[4][0][4] > 0, f"the capped run evicted flows ({capped[4][0][4]})")
    # The sample with its topology: audit, violations, rule counts.
    topo = os.path.join(src, "samples", "topology.lua")
    sample = compare(tmp, "sample", ["-t", topo, os.path.join(src, "samples", "lync-sample.pcap")])
    check(len(sample[1]) > 0, f"the sample run has violations ({len(sample[1])})")

print(f"{passed} passed, {failed} failed ({len(captures)} captures, {flows} flows one by one)")
sys.exit(1 if failed else 0)
