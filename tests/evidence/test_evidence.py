#!/usr/bin/env python3
"""--evidence FILE (issue 13): the pcapng holds exactly the packets of the
violating flows, read back with tshark (evcheck.py says how).

  files LYNCAUDIT SRCDIR PCAPS
      the sample with its topology (two threads and one), and every shared
      capture with tests/evidence/wide.lua (a topology that puts every
      address in a role, so the captures give violations): every violating
      flow 'complete', the file exactly their packets, runs.evidence_*;
      three captures of three link types in one run: three interfaces.
  caps LYNCAUDIT SRCDIR PCAPS
      --evidence-flow-bytes: flows cut at the longest prefix that fits, the
      run's counts; --evidence-bytes: flows cut or missed, never a gap; a
      rule whose check counts packets: the verdict at the label differs from
      the one at the end ('missed', 'cleared'); bad option values; the file
      left alone by a run that fails before it starts; a write that fails.
  check DB EVIDENCE INPUT... [--slack-ms N] [--md5-only]
      holds an evidence file against run 1 of DB (the live test uses it).
Exit 0 all passed, 1 a check failed, 77 skipped (tshark missing).
"""
import glob
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import evcheck  # noqa: E402

passed = failed = 0


def ok(cond, what):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL:", what)
    return cond


def fail(what):
    ok(False, what)


def run(la, args, tmp, name):
    """lyncaudit ARGS with a database of its own; (exit code, stderr, db)."""
    db = os.path.join(tmp, name + ".db")
    p = subprocess.run([la, "-d", db, *args], capture_output=True, text=True)
    return p.returncode, p.stderr, db


def q(db, sql):
    con = sqlite3.connect(db)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def held(la, args, tmp, name, inputs, **kw):
    """One run with --evidence, held against its inputs; returns the db,
    the evidence file and the run's stderr."""
    ev = os.path.join(tmp, name + ".pcapng")
    rc, err, db = run(la, ["--evidence", ev, *args, *inputs], tmp, name)
    if not ok(rc in (0, 1, 3), f"{name}: exit {rc}: {err.strip()[:300]}"):  # 3: no flow between roles the rules judge
        return None, None, err
    before = failed
    nflows, npkts = evcheck.check(db, 1, ev, inputs, lambda m: fail(f"{name}: {m}"), **kw)
    nviol = q(db, "SELECT count(*) FROM flows WHERE verdict = 'violation'")[0][0]
    if failed == before:
        print(f"ok: {name}: {npkts} packets of {nflows} flows ({nviol} violating)")
    return db, ev, err


def files(la, src, pcaps, tmp):
    sample = [os.path.join(src, "samples", "lync-sample.pcap")]
    topo = ["-t", os.path.join(src, "samples", "topology.lua")]
    for name, extra in (("sample", []), ("sample-1thread", ["--single-thread"])):
        db, ev, err = held(la, topo + extra, tmp, name, sample)
        if not db:
            continue
        ev_rows = q(db, "SELECT evidence, count(*) FROM flows GROUP BY 1 ORDER BY 1")
        ok(ev_rows == [(None, 21), ("complete", 8)] and
           q(db, "SELECT count(*) FROM flows WHERE evidence = 'complete' AND verdict != 'violation'") == [(0,)],
           f"{name}: flows.evidence {ev_rows}, wanted the 21 flows that are no violation NULL, the 8 others complete")
        ok(q(db, "SELECT evidence FROM runs")[0][0] == ev, f"{name}: runs.evidence names the file")
        p = subprocess.run(["capinfos", "-M", ev], capture_output=True, text=True)
        ok("pcapng" in p.stdout and "lyncaudit" in p.stdout, f"{name}: capinfos: pcapng by lyncaudit: {p.stdout[:200]}")
    wide = ["-t", os.path.join(src, "tests", "evidence", "wide.lua")]
    total = 0
    for path in sorted(glob.glob(os.path.join(pcaps, "*", "*"))):
        if path.endswith((".tsv", ".md")):
            continue
        name = "shared-" + os.path.basename(os.path.dirname(path)) + "-" + os.path.basename(path)
        db, _, _ = held(la, wide, tmp, name, [path])
        if db:
            bad = q(db, "SELECT count(*) FROM flows WHERE (verdict = 'violation') != (evidence IS 'complete')")[0][0]
            ok(bad == 0, f"{name}: {bad} flows 'complete' and not violating or the other way (default caps, "
                         "rules without checks: the early verdict is the final one)")
            total += q(db, "SELECT count(*) FROM flows WHERE evidence = 'complete'")[0][0]
        for f in glob.glob(os.path.join(tmp, name + ".*")):
            os.unlink(f)
    ok(total > 300, f"the shared captures gave {total} violating flows in evidence files (wanted > 300)")
    # Three link types in one run (raw IP, NFLOG, Ethernet): one interface
    # each, every packet under its own.
    mixed = [os.path.join(pcaps, p) for p in ("nDPI/ocs.pcap", "arkime/nflog.pcap", "nDPI/sip.pcap")]
    db, ev, _ = held(la, wide, tmp, "mixed-links", mixed)
    if db:
        ifaces = {(r["iface"], r["encap"]) for r in evcheck.read_evidence(ev)}
        ok(len(ifaces) == 3, f"mixed-links: (interface, link type) pairs in the file {sorted(ifaces)}, wanted 3")


def caps(la, src, pcaps, tmp):
    sample = [os.path.join(src, "samples", "lync-sample.pcap")]
    topo = ["-t", os.path.join(src, "samples", "topology.lua")]
    # The per-flow cap, on one thread (a flow's label is decided at the
    # packet that decides it): cut where the prefix stops fitting.
    for name, args, by_flow in (("flowcap", ["--evidence-flow-bytes", "2K"], True),
                                ("totalcap", ["--evidence-bytes", "8K"], False)):
        db, _, err = held(la, topo + ["--single-thread", *args], tmp, name, sample,
                          flow_cap=2048 if by_flow else None)
        if not db:
            continue
        rows = dict(q(db, "SELECT evidence, count(*) FROM flows WHERE verdict = 'violation' GROUP BY 1"))
        ok(rows.get("cut", 0) >= 2 and rows.get("complete", 0) >= 2 and sum(rows.values()) == 8,
           f"{name}: violating flows by flows.evidence {rows}: wanted some cut, some complete")
        cut = q(db, "SELECT evidence_cut FROM runs")[0][0]
        ok(cut > 0, f"{name}: runs.evidence_cut {cut}")
        want = (f"{rows.get('cut', 0)} flows cut by --evidence-flow-bytes, 0 by" if by_flow else
                f"0 flows cut by --evidence-flow-bytes, {rows.get('cut', 0)} by --evidence-bytes")
        ok(f"{cut} packets left out ({want}" in err, f"{name}: the run says what the cap cut: {err.strip()[-300:]!r}")
    verdict_changes(la, src, tmp, sample, topo)
    bad_values(la, tmp, sample, topo)
    write_fails(la, src, pcaps, tmp)


def verdict_changes(la, src, tmp, sample, topo):
    """A rule whose check counts packets: F2 is allowed while it has at most
    4 packets (its label is decided at its 4th: let go, then a violation at
    its end: 'missed'); F3 is allowed from its 5th packet on (a violation
    when its label is decided: written, then allowed at its end: 'cleared')."""
    rules = os.path.join(tmp, "rules")
    shutil.copytree(os.path.join(src, "rules"), rules)
    with open(os.path.join(rules, "zz_evidence.lua"), "w") as f:
        f.write('cite { doc = "003_90a6bcb524c2ccb8.txt", table = "T" }\n'
                'rule { id = "zz.short", ref = row(1, "t"), from = "client_internal", to = "front_end",\n'
                '  transport = "tcp", dports = 5060, check = function(flow) return flow.packets <= 4 end }\n'
                'rule { id = "zz.long", ref = row(1, "t"), from = "client_internal", to = "front_end",\n'
                '  transport = "tcp", dports = 5061, check = function(flow) return flow.packets > 4 end }\n')
    db, ev, _ = held(la, topo + ["--single-thread", "--rules", rules], tmp, "verdicts", sample)
    if not db:
        return
    got = dict(q(db, "SELECT dst_port || '/' || verdict, evidence FROM flows WHERE src_ip = '127.20.10.11'"))
    ok(got == {"5060/violation": "missed", "5061/ok": "cleared"},
       f"verdicts: F2 and F3 by flows.evidence {got}, wanted 5060 violation missed, 5061 ok cleared")
    c = [r["comment"] for r in evcheck.read_evidence(ev) if "127.20.10.11:" in r["comment"].split("\n")[0]]
    ok(len(c) == 1 and "wrong_protocol" in c[0] and "label was decided" in c[0],
       f"verdicts: F3's comment is the verdict when its label was decided: {c}")
    # The verdict when a label is decided counts no rule match: the rules'
    # counts are those of a run without --evidence (zz.short would count F2).
    rc, _, plain = run(la, topo + ["-q", "--single-thread", "--rules", rules, *sample], tmp, "verdicts-plain")
    sql = "SELECT id, matched FROM rules ORDER BY id"
    ok(rc == 1 and q(db, sql) == q(plain, sql), "verdicts: the rules' match counts are a run's without --evidence")
    ok(dict(q(db, sql))["zz.short"] == 0, "verdicts: zz.short matched nothing (F2 only early)")


def bad_values(la, tmp, sample, topo):
    for args, want in ((["--evidence-bytes", "0"], "--evidence-bytes wants a size"),
                       (["--evidence-flow-bytes", "12Q"], "--evidence-flow-bytes wants a size"),
                       (["--evidence", ""], "wants a file name"),
                       (["--evidence", "-"], "wants a file name"),
                       (["--evidence", sample[0]], "is an input or the database"),
                       (["--evidence", tmp], "is a directory"),
                       (["--evidence", "/nonexistent/dir/e.pcapng"], "cannot write the evidence there")):
        rc, err, db = run(la, topo + ["-q", *args, *sample], tmp, "bad")
        ok(rc == 2 and want in err, f"{args}: exit {rc} (wanted 2), stderr {err.strip()[:200]!r} (wanted {want!r})")
        ok(not os.path.exists(db) or q(db, "SELECT count(*) FROM runs")[0][0] == 0,
           f"{args}: nothing written to the database")
        if os.path.exists(db):
            os.unlink(db)
    # An existing file is left as it was by a run that fails before it starts.
    keep = os.path.join(tmp, "keep.pcapng")
    with open(keep, "w") as f:
        f.write("old")
    rc, err, _ = run(la, ["-q", "-t", os.path.join(tmp, "no-such-topology.lua"), "--evidence", keep, *sample], tmp,
                     "keep")
    ok(rc == 2 and open(keep).read() == "old", f"a run that fails to start keeps the old file (exit {rc})")
    ok(not glob.glob(keep + ".*"), f"no temporary file left: {glob.glob(keep + '.*')}")


def write_fails(la, src, pcaps, tmp):
    """The file's reader goes away mid-run (a FIFO read by `head -c`): the
    audit goes on, the run ends 'error' with the reason, exit 2, every flow
    stored, the violating flows' evidence 'cut' or 'complete'."""
    fifo = os.path.join(tmp, "ev.fifo")
    os.mkfifo(fifo)
    reader = subprocess.Popen(["head", "-c", "200000", fifo], stdout=subprocess.DEVNULL)
    cap = [os.path.join(pcaps, "nDPI", "1kxun.pcap")]
    wide = ["-t", os.path.join(src, "tests", "evidence", "wide.lua"), "--single-thread"]
    rc, err, db = run(la, wide + ["--evidence", fifo, *cap], tmp, "broken")
    reader.wait(timeout=30)
    _, _, plain = run(la, wide + ["-q", *cap], tmp, "broken-plain")
    st = q(db, "SELECT status, message, flows, evidence_cut FROM runs")[0]
    ok(rc == 2 and st[0] == "error" and "cannot write the evidence: Broken pipe" in (st[1] or ""),
       f"a failed write: exit {rc}, run {st[:2]} (wanted 2, error, the reason)")
    ok(err.count("the audit goes on without it") == 1, f"a failed write is said once: {err.strip()[:300]!r}")
    ok(st[2] == q(plain, "SELECT flows FROM runs")[0][0], f"a failed write: {st[2]} flows stored, as without it")
    rows = dict(q(db, "SELECT evidence, count(*) FROM flows WHERE verdict = 'violation' GROUP BY 1"))
    ok(set(rows) <= {"cut", "complete"} and rows.get("cut", 0) > 0 and st[3] > 0,
       f"a failed write: violating flows {rows}, runs.evidence_cut {st[3]}: the flows after it are cut")
    rc, err, db = run(la, ["-q", "-t", os.path.join(src, "samples", "topology.lua"), "--evidence", "/dev/full",
                           os.path.join(src, "samples", "lync-sample.pcap")], tmp, "full")
    st = q(db, "SELECT status, message, flows FROM runs")
    ok(rc == 2 and st == [("error", "/dev/full: cannot write the evidence: No space left on device", 0)]
       and err.count("No space left") == 1, f"--evidence /dev/full: exit {rc}, runs {st}, stderr {err.strip()!r}")


def main():
    if not shutil.which("tshark") or not shutil.which("capinfos"):
        print("SKIP: tshark or capinfos missing")
        return 77
    mode = sys.argv[1] if len(sys.argv) > 1 else ""
    if mode == "check":
        args = sys.argv[2:]
        slack = match_time = None
        if "--slack-ms" in args:
            i = args.index("--slack-ms")
            slack = int(args[i + 1]) * 1000
            del args[i:i + 2]
        match_time = "--md5-only" not in args
        args = [a for a in args if a != "--md5-only"]
        n = evcheck.check(args[0], 1, args[1], args[2:], fail, slack_us=slack or 0, match_time=match_time)
        print(f"evidence: {n[1]} packets of {n[0]} flows held against the run: {failed} findings")
        return 1 if failed else 0
    if mode not in ("files", "caps") or len(sys.argv) != 5:
        print(__doc__)
        return 2
    la, src, pcaps = sys.argv[2:5]
    with tempfile.TemporaryDirectory() as tmp:
        (files if mode == "files" else caps)(la, src, pcaps, tmp)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
