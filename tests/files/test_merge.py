#!/usr/bin/env python3
"""Every shared capture merged with mergecap (chronological, pcapng: one
interface per input, Ethernet, raw IP, Linux SLL and SLL2, NFLOG, with
their own snaplens and time resolutions) against the same captures read one
by one (issue 11: libpcap 1.10 refuses such a merge).

Both with --idle-timeout 0 (as the oracle tests: a flow is its 5-tuple and
its TCP life, not a cut made by the clock, so the run-wide clock of the
merge cannot re-key flows) and the sample topology. What must hold:

- the merge is read to its end (exit 0 or 1, status complete), no packet
  is a time outlier (a chronological merge only goes forward);
- runs.packets, bytes, undecodable, icmp_errors and tunnelled are the sums
  of the captures' runs;
- a flow whose 5-tuple occurs in one capture only is that capture's flow,
  column for column (initiator, packets and bytes per direction,
  first_seen and last_seen to the microsecond, label, end reason, roles,
  verdict, rule);
- a 5-tuple that occurs in several captures (the shared set holds copies:
  sngrep/aaa.pcap contains nDPI/sip.pcap's SIP, arkime's ESP capture
  zeek's) carries, summed over its flows, the packets and bytes of all of
  them, direction by direction.
Usage: test_merge.py LYNCAUDIT PCAP_DIR SOURCE_DIR WORKDIR"""
import collections
import os
import shutil
import sqlite3
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import capfile as cf  # noqa: E402

LA, PCAPS, SRC, WORK = (os.path.realpath(a) for a in sys.argv[1:5])
TOPOLOGY = os.path.join(SRC, "samples", "topology.lua")
COLS = ("transport, src_ip, src_port, dst_ip, dst_port, packets_src2dst, bytes_src2dst, packets_dst2src,"
        " bytes_dst2src, first_seen, last_seen, app, app_detail, end_reason, src_role, dst_role, verdict, rule_id")
TOTALS = "packets, bytes, undecodable, icmp_errors, tunnelled"
passed = failed = 0


def ok():
    global passed
    passed += 1


def bad(msg):
    global failed
    failed += 1
    print("FAIL: " + msg)


def captures():
    with open(os.path.join(PCAPS, "MANIFEST.tsv"), encoding="utf-8") as f:
        next(f)
        names = [line.split("\t", 1)[0] for line in f]
    return [n for n in names if n and os.path.isfile(os.path.join(PCAPS, n))]


def key(flow):
    """The unordered 5-tuple of a flow row (COLS order)."""
    a, b = (flow[1], flow[2]), (flow[3], flow[4])
    return (flow[0],) + (a + b if a <= b else b + a)


def sums(flow):
    """Packets and bytes from the lower endpoint and back (COLS order)."""
    fwd, rev = (flow[5], flow[6]), (flow[7], flow[8])
    return fwd + rev if (flow[1], flow[2]) <= (flow[3], flow[4]) else rev + fwd


def main():
    if not shutil.which("mergecap"):
        print("mergecap not found (tshark's package: scripts/install-deps.sh all)")
        return 77
    os.makedirs(WORK, exist_ok=True)
    names = captures()
    paths = [os.path.join(PCAPS, n) for n in names]
    merged = os.path.join(WORK, "all.pcapng")
    subprocess.run(["mergecap", "-w", merged] + paths, check=True)
    ifs = cf.pcapng_interfaces(merged)
    kinds = {lt for _, lt, _, _ in ifs}
    print("%d captures merged: %d interfaces, link types %s, snaplens %s, if_tsresol %s" %
          (len(paths), len(ifs), sorted(kinds), sorted({s for _, _, s, _ in ifs}),
           sorted({r if r is not None else 6 for _, _, _, r in ifs})))
    if len(kinds) < 4 or len({r for _, _, _, r in ifs}) < 2:
        bad("the merge should mix link types and time resolutions: %s" % ifs)
    if shutil.which("tcpdump"):  # what libpcap makes of it (not asserted: a later libpcap may read it)
        res = subprocess.run(["tcpdump", "-nr", merged, "-w", os.devnull], capture_output=True, text=True)
        print("libpcap (tcpdump -r): %s" % (res.stderr.strip().splitlines() or ["read it"])[-1])
    args = ["--idle-timeout", "0", "-t", TOPOLOGY]
    one = cf.fresh(os.path.join(WORK, "one.db"))
    per_capture = {}
    for n, p in zip(names, paths):
        rc, err = cf.run(LA, args + [p], one)
        if rc not in (0, 1, 3):
            bad("%s alone: exit %d %s" % (n, rc, err.strip()))
        per_capture[n] = cf.flows(one, cols=COLS)
    mdb = cf.fresh(os.path.join(WORK, "merged.db"))
    rc, err = cf.run(LA, args + [merged], mdb)
    status, outliers = cf.run_row(mdb, "status, time_outliers")
    if rc not in (0, 1, 3) or status != "complete" or outliers != 0:
        bad("the merge: exit %d, status %s, time_outliers %s: %s" % (rc, status, outliers, err.strip()))
        return 1
    ok()
    con = sqlite3.connect(one)
    alone = con.execute("SELECT %s FROM runs" % ", ".join("sum(%s)" % c for c in TOTALS.split(", "))).fetchone()
    con.close()
    together = cf.run_row(mdb, TOTALS)
    if tuple(alone) != tuple(together):
        bad("runs (%s): captures alone %s, merged %s" % (TOTALS, alone, together))
    else:
        ok()
    got = cf.flows(mdb, cols=COLS)
    where = collections.defaultdict(set)
    for n, fl in per_capture.items():
        for f in fl:
            where[key(f)].add(n)
    got_by_key = collections.defaultdict(list)
    for f in got:
        got_by_key[key(f)].append(f)
    single = shared = 0
    for n, fl in per_capture.items():
        mine = [f for f in fl if len(where[key(f)]) == 1]
        theirs = sorted(g for f in {key(x) for x in mine} for g in got_by_key.get(f, []))
        single += len(mine)
        if sorted(mine) != theirs:
            diff = sorted(set(mine) ^ set(theirs))[:2]
            bad("%s: %d flows of its own alone, %d in the merge; first differences %s" %
                (n, len(mine), len(theirs), diff))
        else:
            ok()
    for k, owners in where.items():
        if len(owners) < 2:
            continue
        shared += 1
        want = [sum(x) for x in zip(*(sums(f) for n in owners for f in per_capture[n] if key(f) == k))]
        have = [sum(x) for x in zip(*(sums(f) for f in got_by_key.get(k, [])))]
        if want != have:
            bad("%s in %s: packets/bytes each way %s alone, %s merged" % (k, sorted(owners), want, have))
        else:
            ok()
    extra = [k for k in got_by_key if k not in where]
    if extra:
        bad("flows in the merge that no capture has alone: %s" % extra[:3])
    print("%d flows of one capture each, %d 5-tuples in several; %d passed, %d failed" %
          (single, shared, passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
