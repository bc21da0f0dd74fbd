#!/usr/bin/env python3
"""Damaged captures: many broken copies of every shared capture, each read by
lyncaudit (-q -d DB). What must hold for every one of them:

- no crash: exit code 0, 1 or 2, never a signal; no sanitizer report on
  stderr (the sanitizer build aborts on one: ASAN_OPTIONS from scripts/test.sh);
- what cannot be read gives one line on stderr that names the file, exit 2;
  a capture that cannot be opened at all writes nothing (no database);
- the flows before the damage are kept: the run counts exactly the records
  in front of the damage, says which one in its message, and its flows are
  the flows of a clean copy cut at that record;
- the database is whole: integrity_check ok, every run closed (finished_at
  set, status 'complete' or 'error' to match the exit code), runs.flows and
  runs.violations equal to the rows stored.

Damage: editcap -E (random byte errors in packet data, several seeds), files
cut short at random offsets (also inside headers), a pcapng block with a bad
length (huge, tiny, unaligned, header and trailer disagreeing), a pcap
header claiming a huge snaplen, a record claiming caplen > snaplen or a
caplen past the end, random bytes flipped anywhere past the file header,
zero-length files, header-only files, a damaged file followed by a good one
(the next files are still read), and a damaged capture on standard input.

Under the sanitizer build (LYNCAUDIT_SANITIZED=1, set by CMake) fewer cuts
and seeds per capture. ROBUST_SEED changes the random offsets (default 1).
Usage: test_corrupt.py LYNCAUDIT PCAP_DIR SOURCE_DIR"""
import os
import random
import re
import shutil
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time

LA, PCAPS, SRC = (os.path.realpath(a) for a in sys.argv[1:4])
SANITIZED = os.environ.get("LYNCAUDIT_SANITIZED", "0") not in ("", "0", "OFF", "off")
SEED = int(os.environ.get("ROBUST_SEED", "1"))
rnd = random.Random(SEED)
TOPOLOGY = os.path.join(SRC, "samples", "topology.lua")
SANITIZER_RE = re.compile(r"Sanitizer|runtime error:|LeakSanitizer|AddressSanitizer")

passed = failed = runs = 0
T = tempfile.mkdtemp(prefix="lyncaudit-corrupt.")
KEEP = os.path.join(T, "failures")


def ok():
    global passed
    passed += 1


def bad(what, case):
    """Reports a failure with how to make the input again, and keeps it."""
    global failed
    failed += 1
    os.makedirs(KEEP, exist_ok=True)
    kept = os.path.join(KEEP, "%03d_%s" % (failed, os.path.basename(case["file"])))
    shutil.copy(case["file"], kept)
    print("FAIL: %s\n  case: %s\n  input kept as %s\n  reproduce: %s -q -d x.db %s" %
          (what, case["desc"], kept, LA, kept), file=sys.stderr)


# ---------------------------------------------------------------- file layout

def pcap_layout(data):
    """(header_len, [(record_offset, record_end)], endian) of a classic pcap."""
    magic = data[:4]
    e = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    recs, off = [], 24
    while off + 16 <= len(data):
        caplen = struct.unpack(e + "I", data[off + 8:off + 12])[0]
        if off + 16 + caplen > len(data):
            break
        recs.append((off, off + 16 + caplen))
        off += 16 + caplen
    return 24, recs, e


def pcapng_layout(data):
    """(offset where the first packet may start (after the first IDB),
    [(packet_block_offset, block_end)], endian, [all (type, off, len)])."""
    e, off, first_idb_end, recs, blocks = "<", 0, None, [], []
    while off + 12 <= len(data):
        btype = struct.unpack("<I", data[off:off + 4])[0]
        if btype == 0x0A0D0D0A:
            e = "<" if data[off + 8:off + 12] == b"\x4d\x3c\x2b\x1a" else ">"
        blen = struct.unpack(e + "I", data[off + 4:off + 8])[0]
        if blen < 12 or off + blen > len(data):
            break
        blocks.append((btype, off, blen))
        if btype == 1 and first_idb_end is None:
            first_idb_end = off + blen
        if btype in (2, 3, 6):
            recs.append((off, off + blen))
        off += blen
    return first_idb_end or 0, recs, e, blocks


def is_pcapng(data):
    return data[:4] == b"\x0a\x0d\x0d\x0a"


def layout(data):
    """(where packets may start, [(packet record offset, end)], [every clean cut point])."""
    if is_pcapng(data):
        hdr, recs, _, blocks = pcapng_layout(data)
        return hdr, recs, sorted({off + blen for _, off, blen in blocks if off + blen >= hdr})
    hdr, recs, _ = pcap_layout(data)
    return hdr, recs, [hdr] + [end for _, end in recs]


# ------------------------------------------------------------------- running

def run(case, files=None, stdin_file=None, topology=False):
    """Runs lyncaudit on the case; returns (rc, stderr, db path)."""
    global runs
    runs += 1
    db = os.path.join(T, "run.db")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db + suffix):
            os.unlink(db + suffix)
    cmd = [LA, "-q", "-d", db]
    if topology:
        cmd += ["-t", TOPOLOGY]
    stdin = None
    if stdin_file:
        cmd.append("-")
        stdin = open(stdin_file, "rb")
    else:
        cmd += files or [case["file"]]
    try:
        res = subprocess.run(cmd, stdin=stdin, capture_output=True, timeout=120)
    except subprocess.TimeoutExpired:
        bad("hang: no exit within 120 s", case)
        return None, "", db
    finally:
        if stdin:
            stdin.close()
    err = res.stderr.decode("utf-8", "replace")
    rc = res.returncode
    if rc < 0 or rc > 3:  # 3: nothing audited (no topology, or none of its roles seen)
        bad("exit %d (a signal or an unknown code); stderr: %s" % (rc, err[-2000:]), case)
        return None, err, db
    if SANITIZER_RE.search(err):
        bad("sanitizer report: %s" % err[-3000:], case)
        return None, err, db
    ok()
    return rc, err, db


def q(db, sql):
    con = sqlite3.connect(db)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def check_db(case, db, rc):
    """The database invariants; returns the last run's row as a dict or None."""
    if not os.path.exists(db):
        bad("exit %d but no database" % rc, case)
        return None
    if q(db, "PRAGMA integrity_check") != [("ok",)]:
        bad("integrity_check failed", case)
        return None
    open_runs = q(db, "SELECT id, status FROM runs WHERE finished_at IS NULL")
    if open_runs:
        bad("a run left open (finished_at NULL): %s" % open_runs, case)
        return None
    mism = q(db, "SELECT r.id, r.flows, (SELECT count(*) FROM flows f WHERE f.run_id = r.id),"
                 " r.violations, (SELECT count(*) FROM violations v WHERE v.run_id = r.id) FROM runs r"
                 " WHERE r.flows <> (SELECT count(*) FROM flows f WHERE f.run_id = r.id)"
                 " OR r.violations <> (SELECT count(*) FROM violations v WHERE v.run_id = r.id)")
    if mism:
        bad("run counters do not match the rows (id, flows, rows, violations, rows): %s" % mism, case)
        return None
    cols = ["id", "status", "packets", "flows", "message", "undecodable"]
    row = q(db, "SELECT %s FROM runs ORDER BY id DESC LIMIT 1" % ", ".join(cols))
    if not row:
        bad("no run row", case)
        return None
    r = dict(zip(cols, row[0]))
    want = "error" if rc == 2 else "complete"
    if r["status"] != want:
        bad("exit %d but status '%s' (wanted '%s')" % (rc, r["status"], want), case)
        return None
    ok()
    return r


def flows_of(db):
    return sorted(q(db, "SELECT transport, src_ip, src_port, dst_ip, dst_port, packets_src2dst,"
                        " bytes_src2dst, packets_dst2src, bytes_dst2src, first_seen, last_seen, app,"
                        " end_reason, verdict FROM flows"))


def damaged_record(err):
    """The record a damage message names: "after record N", or 0 for
    "before the first record" (issue 20: never "after record 0")."""
    if re.search(r"unreadable before the first record", err):
        return 0
    m = re.search(r"unreadable after record (\d+)", err)
    if m and int(m.group(1)) == 0:
        return -1  # the old wording, refused
    return int(m.group(1)) if m else None


def one_line_naming(case, err, name):
    lines = [l for l in err.splitlines() if l.strip()]
    if len(lines) != 1 or not lines[0].startswith("lyncaudit: ") or name not in lines[0]:
        bad("wanted one line 'lyncaudit: %s...' on stderr, got: %r" % (name, err[-1000:]), case)
        return False
    ok()
    return True


def expect_unopenable(case):
    """A capture that cannot be opened: exit 2, one line naming it, no database."""
    rc, err, db = run(case)
    if rc is None:
        return
    if rc != 2:
        bad("exit %d for an unreadable capture, wanted 2" % rc, case)
        return
    if one_line_naming(case, err, case["file"]):
        if "cannot read capture" not in err and "is not supported" not in err:
            bad("message does not say the capture cannot be read: %r" % err, case)
        else:
            ok()
    if os.path.exists(db):
        bad("a capture that cannot be opened created the database", case)
    else:
        ok()


def expect_damaged_at(case, k, clean_prefix=None, topology=False, files=None, stdin_file=None,
                      total_packets=None):
    """The file is damaged after record k: exit 2 naming the file and record
    k, run closed as error with k packets (total_packets when several files),
    and the same flows as the clean prefix (when given)."""
    rc, err, db = run(case, files=files, stdin_file=stdin_file, topology=topology)
    if rc is None:
        return
    if rc != 2:
        bad("exit %d for a capture damaged after record %d, wanted 2; stderr %r" % (rc, k, err[-500:]), case)
        return
    name = "-" if stdin_file else case["file"]
    if one_line_naming(case, err, name):
        if damaged_record(err) != k:
            bad("message should name the last good record %d: %r" % (k, err.strip()), case)
        else:
            ok()
    r = check_db(case, db, rc)
    if r is None:
        return
    want = total_packets if total_packets is not None else k
    if r["packets"] != want:
        bad("run counted %d packets, wanted the %d before the damage" % (r["packets"], want), case)
    else:
        ok()
    if not r["message"] or name not in r["message"]:
        bad("runs.message should name the file: %r" % r["message"], case)
    else:
        ok()
    if clean_prefix is not None:
        got = flows_of(db)
        rc2, err2, db2 = run(dict(case, desc=case["desc"] + " (clean prefix)", file=clean_prefix),
                             topology=topology)
        if rc2 is None:
            return
        if rc2 not in (0, 1, 3):
            bad("the clean prefix itself fails: exit %d %r" % (rc2, err2), case)
            return
        want_flows = flows_of(db2)
        if got != want_flows:
            bad("flows differ from the clean prefix's: %d stored, %d wanted; first difference %s" %
                (len(got), len(want_flows), next(((a, b) for a, b in zip(got, want_flows) if a != b),
                                                 (got[len(want_flows):] or want_flows[len(got):])[:1])), case)
        else:
            ok()


def expect_readable(case, packets=None, topology=False):
    """Damage inside the packets only: the run completes with every record."""
    rc, err, db = run(case, topology=topology)
    if rc is None:
        return
    if rc == 2:
        bad("exit 2 for a capture whose structure is intact: %r" % err[-500:], case)
        return
    r = check_db(case, db, rc)
    if r and packets is not None:
        if r["packets"] != packets:
            bad("run counted %d packets, wanted %d" % (r["packets"], packets), case)
        else:
            ok()


def expect_any(case, topology=False):
    """Anything may be wrong: no crash, a closed run when it ran, and an
    exit 2 message naming the file and the record count it stopped at."""
    rc, err, db = run(case, topology=topology)
    if rc is None:
        return
    if rc == 2:
        if not one_line_naming(case, err, case["file"]):
            return
        if not os.path.exists(db):
            if "cannot read capture" not in err and "not supported" not in err:
                bad("exit 2, no database, message %r" % err, case)
            return
    r = check_db(case, db, rc)
    if r and rc == 2:
        k = damaged_record(err)
        if k is not None and k != r["packets"]:
            bad("message says record %s, the run counted %d packets" % (k, r["packets"]), case)
        else:
            ok()


# --------------------------------------------------------------------- cases

def write(name, data):
    path = os.path.join(T, name)
    with open(path, "wb") as f:
        f.write(data)
    return path


def captures():
    out = []
    with open(os.path.join(PCAPS, "MANIFEST.tsv"), encoding="utf-8") as f:
        next(f)
        for line in f:
            name = line.split("\t", 1)[0]
            if name and os.path.isfile(os.path.join(PCAPS, name)):
                out.append(name)
    return out


def editcap(args, src, dst):
    res = subprocess.run(["editcap"] + args + [src, dst], capture_output=True)
    return res.returncode == 0 and os.path.exists(dst)


def cut_cases(name, data, ncuts, topo):
    hdr, recs, clean_ends = layout(data)
    base = name.replace("/", "_")
    offsets = set()
    # Inside the file header, right after it, inside the first record, and
    # random places (some exactly at a record boundary). A light run takes
    # one of the first three (in turn) and one random place.
    fixed = [rnd.randrange(1, hdr) if hdr > 1 else 1, hdr]
    if recs:
        fixed.append(rnd.randrange(recs[0][0] + 1, recs[0][1]))
    if ncuts <= 1:
        fixed = [fixed[rnd.randrange(len(fixed))]]
    offsets.update(fixed)
    while len(offsets) < ncuts + len(fixed) and len(data) > hdr + 2:
        if recs and rnd.random() < 0.2:
            offsets.add(recs[rnd.randrange(len(recs))][1])
        else:
            offsets.add(rnd.randrange(hdr + 1, len(data)))
    for i, off in enumerate(sorted(offsets)):
        path = write("%s.cut%d" % (base, i), data[:off])
        case = {"file": path, "desc": "%s cut at byte %d of %d" % (name, off, len(data))}
        if off < hdr:
            expect_unopenable(case)
            continue
        k = sum(1 for _, end in recs if end <= off)
        if off in clean_ends:
            expect_readable(case, packets=k, topology=topo)
        else:
            # Bytes past the last whole block that are not a whole block: damage.
            last_end = max(end for end in clean_ends if end <= off)
            prefix = write("%s.cut%d.clean" % (base, i), data[:last_end])
            expect_damaged_at(case, k, clean_prefix=prefix if k > 0 else None, topology=topo)


def pcapng_block_cases(name, data, variant_index, nvariants, topo):
    """A packet block in the middle gets a bad length."""
    base = name.replace("/", "_")
    ng = data
    if not is_pcapng(data):
        conv = os.path.join(T, base + ".pcapng")
        if not editcap(["-F", "pcapng"], os.path.join(PCAPS, name), conv):
            return
        ng = open(conv, "rb").read()
    _, recs, e, _ = pcapng_layout(ng)
    if not recs:
        return
    k = len(recs) // 2
    off, end = recs[k]
    blen = end - off
    variants = [
        ("huge", lambda b: b[:off + 4] + struct.pack(e + "I", 0xFFFFFFF0) + b[off + 8:]),
        ("tiny", lambda b: b[:off + 4] + struct.pack(e + "I", 8) + b[off + 8:]),
        ("unaligned", lambda b: b[:off + 4] + struct.pack(e + "I", blen + 1) + b[off + 8:]),
        ("trailer", lambda b: b[:end - 4] + struct.pack(e + "I", blen + 4) + b[end:]),
        ("zero", lambda b: b[:off + 4] + struct.pack(e + "I", 0) + b[off + 8:]),
        ("past-end", lambda b: b[:off + 4] + struct.pack(e + "I", len(b) - off + 64) + b[off + 8:]),
    ]
    for j in (variant_index, variant_index + 3)[:nvariants]:
        vname, fn = variants[j % len(variants)]
        path = write("%s.block-%s.pcapng" % (base, vname), fn(ng))
        case = {"file": path, "desc": "%s as pcapng, packet block %d (offset %d, length %d) given a %s length"
                                      % (name, k, off, blen, vname)}
        clean = write("%s.block-%s.clean.pcapng" % (base, vname), ng[:off])
        expect_damaged_at(case, k, clean_prefix=clean if k else None, topology=topo)


def pcap_header_cases(name, data, index, light, topo):
    """Classic pcap only: a huge snaplen in the file header, a record whose
    caplen is past the snaplen / past the file, random bytes flipped."""
    if is_pcapng(data):
        return
    base = name.replace("/", "_")
    hdr, recs, e = pcap_layout(data)
    if not recs:
        return
    snaps = (0xFFFFFFFF, 0x7FFFFFFF, 0)
    for snap in snaps[index % 3:index % 3 + 1] if light else snaps:
        path = write("%s.snap%x.pcap" % (base, snap), data[:16] + struct.pack(e + "I", snap) + data[20:])
        case = {"file": path, "desc": "%s with snaplen 0x%x in the file header" % (name, snap)}
        expect_any(case, topology=topo)
    k = len(recs) // 2
    off, end = recs[k]
    snaplen = struct.unpack(e + "I", data[16:20])[0]
    # Past libpcap's largest snaplen (262144): refused at that record. Past
    # the file's snaplen only, or past the end of the file: libpcap reads
    # what it can and may take the next records' bytes as this one's, so
    # anything may follow (but no crash, and a closed run).
    caplens = (0xFFFFFFFF, 262145, max(snaplen, 65535) + 1, len(data))
    for caplen in caplens[index % 4:index % 4 + 1] if light else caplens:
        b = data[:off + 8] + struct.pack(e + "I", caplen) + data[off + 12:]
        path = write("%s.rec%d.caplen%d.pcap" % (base, k, caplen), b)
        case = {"file": path, "desc": "%s record %d (offset %d) claiming caplen %d (snaplen %d)" %
                                      (name, k, off, caplen, snaplen)}
        clean = write("%s.rec%d.clean.pcap" % (base, k), data[:off])
        if caplen > 262144:
            expect_damaged_at(case, k, clean_prefix=clean, topology=topo)
        else:
            expect_any(case, topology=topo)
    if light:
        return
    # wirelen < caplen: readable (libpcap takes caplen)
    b = data[:off + 12] + struct.pack(e + "I", 0) + data[off + 16:]
    path = write("%s.rec%d.len0.pcap" % (base, k), b)
    expect_readable({"file": path, "desc": "%s record %d with wire length 0" % (name, k)}, packets=len(recs),
                    topology=topo)


def flip_cases(name, data, n, topo):
    base = name.replace("/", "_")
    hdr = layout(data)[0]
    for i in range(n):
        b = bytearray(data)
        where = []
        for _ in range(rnd.randint(1, 12)):
            p = rnd.randrange(hdr, len(b)) if len(b) > hdr else 0
            b[p] = rnd.randrange(256)
            where.append(p)
        path = write("%s.flip%d" % (base, i), bytes(b))
        expect_any({"file": path, "desc": "%s with bytes set at offsets %s" % (name, sorted(where))},
                   topology=topo)


def editcap_cases(name, runs, topo):
    base = name.replace("/", "_")
    src = os.path.join(PCAPS, name)
    total = len(layout(open(src, "rb").read())[1])
    for s, prob in runs:
        if True:
            dst = os.path.join(T, "%s.E%s.s%d" % (base, prob, s))
            # editcap keeps the format with -F of the input's kind
            fmt = "pcapng" if is_pcapng(open(src, "rb").read(4)) else "pcap"
            if not editcap(["-F", fmt, "-E", prob, "--seed", str(s)], src, dst):
                continue
            expect_readable({"file": dst, "desc": "editcap -F %s -E %s --seed %d %s" % (fmt, prob, s, name)},
                            packets=total, topology=topo)


def whole_file_cases():
    sip = open(os.path.join(PCAPS, "nDPI/sip.pcap"), "rb").read()
    ng = open(os.path.join(PCAPS, "nDPI/rtp.pcapng"), "rb").read()
    first_idb_end, recs, _, _ = pcapng_layout(ng)
    expect_unopenable({"file": write("zero.pcap", b""), "desc": "a zero-length file"})
    expect_unopenable({"file": write("garbage.pcap", bytes(rnd.randrange(256) for _ in range(4096))),
                       "desc": "4 KiB of random bytes"})
    expect_unopenable({"file": write("shb-only.pcapng", ng[:struct.unpack("<I", ng[4:8])[0]]),
                       "desc": "a pcapng section header block and nothing else"})
    _, _, e, blocks = pcapng_layout(ng)
    idb = next(off for btype, off, _ in blocks if btype == 1)
    expect_unopenable({"file": write("idb-huge.pcapng", ng[:idb + 4] + struct.pack(e + "I", 0xFFFFFFF0) + ng[idb + 8:]),
                       "desc": "rtp.pcapng with an interface description block of length 0xfffffff0"})
    expect_unopenable({"file": write("shb-huge.pcapng", ng[:4] + struct.pack(e + "I", 0xFFFFFFF0) + ng[8:]),
                       "desc": "rtp.pcapng with a section header block of length 0xfffffff0"})
    expect_unopenable({"file": write("badmagic.pcap", b"\xd4\xc3\xb2\xa2" + sip[4:]),
                       "desc": "sip.pcap with a wrong magic number"})
    expect_unopenable({"file": write("badlink.pcap", sip[:20] + struct.pack("<I", 147) + sip[24:]),
                       "desc": "sip.pcap with link type 147 (not supported)"})
    # Header only: a readable capture with no packets.
    expect_readable({"file": write("hdr-only.pcap", sip[:24]), "desc": "pcap file header only"}, packets=0)
    expect_readable({"file": write("hdr-only.pcapng", ng[:first_idb_end]), "desc": "pcapng SHB + IDB only"},
                    packets=0)
    # A damaged file followed by a good one: the good one is still read.
    hdr, srecs, _ = pcap_layout(sip)
    k = 40
    cut = write("sip.cut-then-good.pcap", sip[:srecs[k][0] + 30])
    good = os.path.join(PCAPS, "nDPI/jabber.pcap")
    njab = len(layout(open(good, "rb").read())[1])
    expect_damaged_at({"file": cut, "desc": "sip.pcap cut inside record %d, then jabber.pcap" % k}, k,
                      files=[cut, good], total_packets=k + njab)
    # Standard input.
    expect_damaged_at({"file": cut, "desc": "sip.pcap cut inside record %d on standard input" % k}, k,
                      stdin_file=cut)


def main():
    if not shutil.which("editcap"):
        print("editcap not found (tshark's package: scripts/install-deps.sh all)")
        return 77
    names = captures()
    print("lyncaudit %s; %d captures; %s build; ROBUST_SEED=%d" %
          (LA, len(names), "sanitizer" if SANITIZED else "normal", SEED))
    t0 = time.time()
    whole_file_cases()
    for i, name in enumerate(names):
        data = open(os.path.join(PCAPS, name), "rb").read()
        topo = i % 2 == 1
        # Light: one case of each kind (in turn), for the sanitizer build and
        # the captures larger than 400 KB (they take most of the time).
        # Every third capture gets every case (two of the kinds that have
        # variants), the others one case of each kind in turn; so do the
        # captures larger than 400 KB (they take most of the time) and, in the
        # sanitizer build, every capture (flips then on every other one).
        light = SANITIZED or len(data) > 400000 or i % 3 != 0
        before = failed
        if light:
            editcap_cases(name, [(1 + i % 5, "0.2" if i % 3 == 2 else "0.02")], topo)
        else:
            editcap_cases(name, [(1, "0.02"), (2, "0.02"), (3, "0.2")], topo)
        cut_cases(name, data, 1 if light else 2, topo)
        pcapng_block_cases(name, data, i, 1 if light else 2, topo)
        pcap_header_cases(name, data, i, light, topo)
        if not SANITIZED or i % 2 == 0:
            flip_cases(name, data, 1 if light else 2, topo)
        if failed > before:
            print("%s: %d failures" % (name, failed - before), file=sys.stderr)
        if os.environ.get("ROBUST_VERBOSE"):
            print("%-50s %5d runs so far, %6.1f s" % (name, runs, time.time() - t0))
    if failed == 0:
        shutil.rmtree(T, ignore_errors=True)
    else:
        print("inputs of the failures kept in %s" % KEEP, file=sys.stderr)
        shutil.rmtree(T, ignore_errors=True) if os.environ.get("ROBUST_CLEAN") else None
    print("%d lyncaudit runs on %d captures' damaged copies" % (runs, len(names)))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
