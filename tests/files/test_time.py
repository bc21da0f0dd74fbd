#!/usr/bin/env python3
"""Capture time (issue 20, items 1 and 6), on real frames whose times the
test sets: heplify/sip_ipv4_tcp.pcap (three flows: SIP over TCP, RTP, RTCP).

- Times at and past 2^31 s: the capture moved to start 3 s before 2^31, and
  to end at 2^32 - 1 (2106), as a classic pcap (libpcap reads the seconds
  signed; lyncaudit must not) and as pcapng; and to the year 2200 in pcapng
  (64-bit units). Every flow's first_seen and last_seen are the clean
  capture's moved by exactly as much.
- One absurd record among the three flows (its time 2^31 + 12345 s, or 0):
  three flows, the clean capture's (packets, bytes, times, end reason),
  runs.time_outliers = 1; as written, and as editcap -F pcapng writes it.
- Time going backwards: the second record 5 s before the first; the flow's
  first_seen stays the first record's time.
- A classic pcap whose first record is refused: "before the first record"
  (never "after record 0"); its second: "after record 1".
Usage: test_time.py LYNCAUDIT PCAP_DIR WORKDIR"""
import datetime
import os
import re
import shutil
import struct
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import capfile as cf  # noqa: E402

LA, PCAPS, WORK = (os.path.realpath(a) for a in sys.argv[1:4])
CAPTURE = "heplify/sip_ipv4_tcp.pcap"
passed = failed = 0


def ok():
    global passed
    passed += 1


def bad(msg):
    global failed
    failed += 1
    print("FAIL: " + msg)


def w(name):
    return os.path.join(WORK, name)


def lyn(path, name, extra=()):
    db = cf.fresh(w(name + ".db"))
    rc, err = cf.run(LA, list(extra) + [path], db)
    return rc, err, db


def parse(ts):
    return datetime.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ")


def to_pcapng(recs, path):
    ng = cf.Ng().shb("<").idb(cf.LINKTYPE_ETHERNET, 0)
    for t, d, n in recs:
        ng.epb(0, t, d, n)
    return ng.save(path)


def moved(recs, clean):
    """The capture moved in time: flows the clean ones, times moved alike."""
    first = recs[0][0]
    for name, start_s, kinds in (("2^31-3s", 2 ** 31 - 3, "pcap pcapng"),
                                 ("2106", 2 ** 32 - 1 - (recs[-1][0] - first) // 1000000 - 1, "pcap pcapng"),
                                 ("2200", 7258118400, "pcapng")):
        delta = start_s * 1000000 - first
        shifted = [(t + delta, d, n) for t, d, n in recs]
        for kind in kinds.split():
            path = w("moved-%s.%s" % (name, kind))
            if kind == "pcap":
                cf.write_pcap(path, cf.LINKTYPE_ETHERNET, shifted)
            else:
                to_pcapng(shifted, path)
            rc, err, db = lyn(path, "moved-%s-%s" % (name, kind))
            got = cf.flows(db, cols="src_port, dst_port, packets_src2dst, packets_dst2src, first_seen, last_seen")
            want = [(a, b, c, d) for a, b, c, d, _, _ in clean]
            if rc not in (0, 1, 3) or [g[:4] for g in got] != want:
                bad("%s as %s: exit %d %s; flows %s, wanted %s" % (name, kind, rc, err.strip(), got, clean))
                continue
            step = datetime.timedelta(microseconds=delta)
            wrong = [(g, c) for g, c in zip(got, clean)
                     if "invalid" in g[4:] or parse(g[4]) - parse(c[4]) != step or parse(g[5]) - parse(c[5]) != step]
            if wrong:
                bad("%s as %s: times not moved by %s: %s" % (name, kind, step, wrong[:2]))
            else:
                ok()


def spike(recs, clean_all):
    """One absurd record: three flows, the clean ones, one outlier."""
    k = len(recs) // 2
    for label, ts in (("2^31+12345s", (2 ** 31 + 12345) * 1000000), ("0", 0)):
        bent = list(recs)
        bent[k] = (ts, recs[k][1], recs[k][2])
        path = w("spike-%s.pcap" % label)
        cf.write_pcap(path, cf.LINKTYPE_ETHERNET, bent)
        ng = w("spike-%s.pcapng" % label)
        subprocess.run(["editcap", "-F", "pcapng", path, ng], check=True)
        for p in (path, ng):
            rc, err, db = lyn(p, os.path.basename(p))
            got = cf.flows(db)
            outliers = cf.run_row(db, "time_outliers")[0]
            if rc not in (0, 1, 3) or got != clean_all or outliers != 1:
                bad("record %d at time %s in %s: exit %d, %d flows (wanted the clean %d), time_outliers %s: %s"
                    % (k, label, os.path.basename(p), rc, len(got), len(clean_all), outliers,
                       sorted(set(got) ^ set(clean_all))[:3]))
            else:
                ok()


def backwards(recs, clean_db):
    """The second record 5 s before the first: first_seen stays the first's."""
    bent = list(recs)
    bent[1] = (recs[0][0] - 5000000, recs[1][1], recs[1][2])
    path = w("backwards.pcap")
    cf.write_pcap(path, cf.LINKTYPE_ETHERNET, bent)
    rc, err, db = lyn(path, "backwards")
    cols = "src_port, dst_port, first_seen"
    if rc not in (0, 1, 3) or cf.flows(db, cols=cols) != cf.flows(clean_db, cols=cols):
        bad("time going backwards changed first_seen: %s, wanted %s" %
            (cf.flows(db, cols=cols), cf.flows(clean_db, cols=cols)))
    else:
        ok()


def first_record(recs):
    """libpcap refuses a record: where the message says it is."""
    for k, where in ((0, "before the first record"), (1, "after record 1")):
        path = w("refused-%d.pcap" % k)
        cf.write_pcap(path, cf.LINKTYPE_ETHERNET, recs[:3])
        data = bytearray(open(path, "rb").read())
        off = 24 + sum(16 + len(d) for _, d, _ in recs[:k])
        data[off + 8:off + 12] = struct.pack("<I", 0xFFFFFFFF)
        open(path, "wb").write(bytes(data))
        rc, err, db = lyn(path, "refused-%d" % k)
        lines = [line for line in err.splitlines() if line.strip()]
        if rc != 2 or len(lines) != 1 or ("%s: unreadable %s: " % (path, where)) not in lines[0] or \
                re.search("after record 0", err):
            bad("record %d refused: wanted '%s: unreadable %s: ...', got %d %r" % (k, path, where, rc, err))
        elif cf.run_row(db, "status, packets") != ("error", k):
            bad("record %d refused: run %s" % (k, cf.run_row(db, "status, packets")))
        else:
            ok()


def main():
    if not shutil.which("editcap"):
        print("editcap not found (tshark's package: scripts/install-deps.sh all)")
        return 77
    os.makedirs(WORK, exist_ok=True)
    lt, recs = cf.read_pcap(os.path.join(PCAPS, CAPTURE))
    assert lt == cf.LINKTYPE_ETHERNET
    clean = w("clean.pcap")
    cf.write_pcap(clean, lt, recs)
    rc, err, clean_db = lyn(clean, "clean")
    clean_all = cf.flows(clean_db)
    if rc not in (0, 1, 3) or len(clean_all) != 3:
        bad("%s should give three flows: exit %d, %s" % (CAPTURE, rc, clean_all))
        return 1
    moved(recs, cf.flows(clean_db, cols="src_port, dst_port, packets_src2dst, packets_dst2src, first_seen,"
                                         " last_seen"))
    spike(recs, clean_all)
    backwards(recs, clean_db)
    first_record(recs)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
