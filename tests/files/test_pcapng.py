#!/usr/bin/env python3
"""pcapng as Wireshark's tools write it, and the cases no tool writes.

Real frames: nDPI/sip.pcap (Ethernet) and nDPI/ocs.pcap (raw IP), their
times set to t0 + k/8 s (exact in every resolution used) and written as a
classic pcap each: the reference, read by libpcap in one run of two files
(--idle-timeout 0: flows do not depend on how the two interleave). Each
pcapng below holds the same packets and must give exactly the reference's
flows (addresses, ports, packets and bytes per direction, first_seen,
last_seen, label, end reason, verdict):

  hand-built (no tool writes them): both link types in one section, little
  and big endian; if_tsresol 10^-6 (explicit), 10^-9, 10^-3, 2^-20, 2^-10;
  if_tsoffset; two sections of opposite byte orders whose interface numbers
  differ; obsolete packet blocks; name resolution, statistics, secrets,
  custom and unknown blocks and options between the packets; the same file
  on standard input (a pipe). A filter applies to each interface's link type
  (the reference's flows under the same filter).
  tool-made: mergecap of the two (different link types and snaplens: libpcap
  1.10 refuses it); editcap -F pcapng of each, concatenated (two sections);
  editcap --inject-secrets, --capture-comment and -a (a packet comment) on
  a shared pcapng; the shared nanosecond pcapng files against editcap's
  microsecond pcap copies of them.

Simple packet blocks (no time: they take the packet before's) and damage:
a packet of an interface its section lacks, a bad option length, a cut
inside a packet block (before the first record, and later), version 2.0, a
bad byte-order magic, a packet before any interface: exit 2, one line
naming the file and the record, the flows before it kept (the clean
prefix's), or nothing written when the file cannot be opened.
Usage: test_pcapng.py LYNCAUDIT PCAP_DIR WORKDIR"""
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import capfile as cf  # noqa: E402

LA, PCAPS, WORK = (os.path.realpath(a) for a in sys.argv[1:4])
T0 = 1600000000 * 1000000
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


def frames():
    """Ethernet and raw-IP records, re-timed to t0 + k/8 s."""
    lt_e, eth = cf.read_pcap(os.path.join(PCAPS, "nDPI/sip.pcap"))
    lt_r, raw = cf.read_pcap(os.path.join(PCAPS, "nDPI/ocs.pcap"))
    assert lt_e == cf.LINKTYPE_ETHERNET and lt_r == cf.LINKTYPE_RAW, (lt_e, lt_r)
    eth = [(T0 + k * 125000, d, n) for k, (_, d, n) in enumerate(eth)]
    raw = [(T0 + k * 125000, d, n) for k, (_, d, n) in enumerate(raw[:300])]
    return eth, raw


def merged(eth, raw):
    """(ts, iface, data, wirelen) of both, in time order (Ethernet first on a tie)."""
    return sorted([(t, 0, d, n) for t, d, n in eth] + [(t, 1, d, n) for t, d, n in raw],
                  key=lambda r: (r[0], r[1]))


def lyn(args, name, stdin=None):
    db = cf.fresh(w(re.sub(r"[^A-Za-z0-9._-]+", "_", name) + ".db"))
    rc, err = cf.run(LA, ["--idle-timeout", "0"] + list(args), db, stdin=stdin)
    return rc, err, db


def expect_same(name, path, want, args=(), stdin=None, packets=None):
    argv = ["-" if stdin is not None else path] + list(args)
    rc, err, db = lyn(argv, name, stdin=stdin)
    if rc not in (0, 1, 3):
        bad("%s: exit %d: %s" % (name, rc, err.strip()))
        return None
    got = cf.flows(db)
    if got != want:
        extra = sorted(set(got) - set(want))[:2]
        missing = sorted(set(want) - set(got))[:2]
        bad("%s: %d flows, %d wanted; not wanted %s; missing %s" % (name, len(got), len(want), extra, missing))
    else:
        ok()
    if packets is not None:
        n = cf.run_row(db, "packets")[0]
        if n != packets:
            bad("%s: runs.packets %d, wanted %d" % (name, n, packets))
        else:
            ok()
    return db


def hand_built(eth, raw, want, nrec):
    """One section, both link types, in every resolution and byte order."""
    both = merged(eth, raw)
    variants = [("le-us", "<", None, 0), ("be-us", ">", None, 0), ("le-us-explicit", "<", 6, 0),
                ("le-ns", "<", 9, 0), ("be-ms", ">", 3, 0), ("le-2^-20", "<", 0x80 | 20, 0),
                ("be-2^-10", ">", 0x80 | 10, 0), ("le-ns-offset", "<", 9, 1600000000),
                ("be-us-offset", ">", None, 1590000000)]
    for name, endian, res, offset in variants:
        ng = cf.Ng().shb(endian)
        ng.idb(cf.LINKTYPE_ETHERNET, 65535, res, offset or None)
        ng.idb(cf.LINKTYPE_RAW, 262144, res, offset or None)
        for t, i, d, n in both:
            ng.epb(i, cf.units(t, res, offset), d, n)
        expect_same(name, ng.save(w(name + ".pcapng")), want, packets=nrec)
    # Two sections, opposite byte orders; the second numbers its interfaces
    # the other way round. Section 1 has the first half of the Ethernet
    # frames, section 2 the rest and every raw frame.
    half = len(eth) // 2
    ng = cf.Ng().shb("<").idb(cf.LINKTYPE_ETHERNET, 0)
    for t, d, n in eth[:half]:
        ng.epb(0, cf.units(t), d, n)
    ng.shb(">").idb(cf.LINKTYPE_RAW, 0, 9).idb(cf.LINKTYPE_ETHERNET, 0, 3)
    for t, i, d, n in merged(eth[half:], raw):
        ng.epb(1 - i, cf.units(t, 9 if i else 3), d, n)
    expect_same("two-sections", ng.save(w("two-sections.pcapng")), want, packets=nrec)
    # Obsolete packet blocks, and blocks and options lyncaudit must step over.
    ng = cf.Ng().shb("<", options=cf.Ng().opt(4, b"lyncaudit test") + cf.Ng().end_opts())
    ng.idb(cf.LINKTYPE_ETHERNET, 0, options=ng.opt(2, b"eth0") + ng.opt(3, b"a description") + ng.opt(2988, b"??"))
    ng.block(4, b"\x01\x00\x08\x00\x0a\x00\x00\x01host\x00\x00\x00\x00\x00\x00\x00\x00")  # name resolution
    ng.idb(cf.LINKTYPE_RAW, 0)
    for k, (t, i, d, n) in enumerate(both):
        if i == 0 and k % 2:
            ng.pb(i, cf.units(t), d, n)
        else:
            comment = ng.opt(1, b"a packet comment") + ng.opt(2, b"\x01\x00\x00\x00") + ng.end_opts()
            ng.epb(i, cf.units(t), d, n, options=comment if k % 3 == 0 else b"")
        if k % 50 == 7:
            ng.block(5, b"\0" * 12 + ng.opt(2, b"\0" * 8) + ng.end_opts())  # interface statistics
            ng.block(0x0000000A, b"TLSK" + b"\0\0\0\x08" + b"secrets!")   # decryption secrets
            ng.block(0x00000BAD, b"\0\0\x7f\xfe" + b"custom data")         # custom block
            ng.block(0x12345678, b"a block type nobody defined")
    expect_same("pb-and-unknown-blocks", ng.save(w("pb-unknown.pcapng")), want, packets=nrec)
    with open(w("le-ns.pcapng"), "rb") as f:
        pipe = subprocess.Popen(["cat"], stdin=f, stdout=subprocess.PIPE)
        expect_same("le-ns on standard input (a pipe)", None, want, stdin=pipe.stdout, packets=nrec)
        pipe.stdout.close()
        pipe.wait()


def filters(eth, raw):
    """The filter per interface's link type: as on the two classic files."""
    for flt in (["udp", "port", "5060"], ["tcp", "port", "80"], ["ether", "multicast", "or", "udp"]):
        rc, err, db = lyn([w("eth.pcap"), w("raw.pcap")] + flt, "ref-filter")
        if rc not in (0, 1, 3):
            # an Ethernet-only filter does not compile for raw IP: then no
            # raw-IP packet passes it, and the reference is the Ethernet file
            rc, err, db = lyn([w("eth.pcap")] + flt, "ref-filter")
        want = cf.flows(db)
        if not want:
            bad("filter %s: the reference has no flow" % " ".join(flt))
            continue
        expect_same("le-ns with filter %s" % " ".join(flt), w("le-ns.pcapng"), want, args=flt)


def tool_made(want, nrec):
    """mergecap, editcap: files as Wireshark users make them."""
    m = w("mergecap.pcapng")
    subprocess.run(["mergecap", "-w", m, w("eth.pcap"), w("raw.pcap")], check=True)
    ifs = cf.pcapng_interfaces(m)
    if len({(lt, snap) for _, lt, snap, _ in ifs}) < 2:
        bad("mergecap wrote interfaces that do not differ: %s" % ifs)
    else:
        ok()
    expect_same("mergecap (link types 1 and 101, snaplens 65535 and 262144)", m, want, packets=nrec)
    for x in ("eth", "raw"):
        subprocess.run(["editcap", "-F", "pcapng", w(x + ".pcap"), w(x + ".pcapng")], check=True)
    with open(w("cat.pcapng"), "wb") as f:
        f.write(open(w("eth.pcapng"), "rb").read() + open(w("raw.pcapng"), "rb").read())
    if len({s for s, _, _, _ in cf.pcapng_interfaces(w("cat.pcapng"))}) != 2:
        bad("cat of two pcapng files should have two sections")
    rc, err, db = lyn([w("eth.pcap"), w("raw.pcap")], "ref-seq")
    # the same files one after another: the same flows as the reference
    expect_same("editcap -F pcapng, concatenated (two sections)", w("cat.pcapng"), cf.flows(db), packets=nrec)
    # Secrets, comments: blocks and options of their own.
    src = os.path.join(PCAPS, "nDPI/tls_port_80.pcapng")
    with open(w("keys.txt"), "w") as f:
        f.write("CLIENT_RANDOM " + "ab" * 32 + " " + "cd" * 48 + "\n")
    dst = w("secrets.pcapng")
    subprocess.run(["editcap", "--inject-secrets", "tls," + w("keys.txt"), "--capture-comment", "audited",
                    "-a", "3:a packet comment", src, dst], check=True, capture_output=True)
    if b"KSLT" not in open(dst, "rb").read():  # secrets type "TLSK", little endian
        bad("editcap wrote no decryption secrets block")
    rc, err, db = lyn([src], "ref-secrets")
    expect_same("editcap --inject-secrets --capture-comment -a", dst, cf.flows(db))
    # Nanosecond files (if_tsresol 9, as the shared ones are) against
    # editcap's microsecond pcap copies, read by libpcap.
    for name in ("nDPI/stun_dtls_rtp.pcapng", "scapy/ikev2_nat_t.pcapng"):
        p = os.path.join(PCAPS, name)
        if 9 not in [r for _, _, _, r in cf.pcapng_interfaces(p)]:
            bad("%s is no longer a nanosecond pcapng" % name)
            continue
        us = w(os.path.basename(name) + ".us.pcap")
        subprocess.run(["editcap", "-F", "pcap", p, us], check=True)
        rc, err, db = lyn([us], "ref-us")
        expect_same("%s (if_tsresol 9) vs its microsecond pcap" % name, p, cf.flows(db))


def simple_packets(eth):
    """Simple packet blocks: no time (the packet before's), interface 0."""
    ng = cf.Ng().shb("<").idb(cf.LINKTYPE_ETHERNET, 0)
    t_first = eth[0][0]
    ng.epb(0, cf.units(t_first), eth[0][1], eth[0][2])
    for _, d, n in eth[1:]:
        ng.spb(d, n)
    rc, err, db = lyn([ng.save(w("spb.pcapng"))], "spb")
    rc2, err2, db2 = lyn([w("eth.pcap")], "ref-eth")
    got = [f[:9] for f in cf.flows(db)]
    want = [f[:9] for f in cf.flows(db2)]
    if rc not in (0, 1, 3) or got != want:
        bad("simple packet blocks: exit %d %s; flows %s, wanted %s" % (rc, err.strip(), got[:2], want[:2]))
    else:
        ok()
    stamp = cf.flows(db, cols="DISTINCT first_seen || ' ' || last_seen")
    if len(stamp) != 1 or len(set(stamp[0][0].split())) != 1:
        bad("simple packet blocks should all take the first packet's time: %s" % stamp)
    else:
        ok()


def damage(eth, raw):
    """Damage: one line naming the file and record; the flows before kept."""
    both = merged(eth, raw)
    k = 57

    def build(name, at, hook, endian="<"):
        ng = cf.Ng().shb(endian).idb(cf.LINKTYPE_ETHERNET, 0).idb(cf.LINKTYPE_RAW, 0)
        for j, (t, i, d, n) in enumerate(both):
            if j == at:
                hook(ng)
                break
            ng.epb(i, cf.units(t), d, n)
        return ng.save(w(name + ".pcapng"))

    def second_section_bad_option(ng):
        ng.shb(">")
        ng.block(1, b"\0\x01\0\0\0\0\0\0" + ng.opt(9, b"\x06\x06"))

    cases = [
        ("iface5", k, lambda ng: ng.epb(5, 0, b"\0" * 60), "a packet of interface 5, but its section describes 2"),
        ("badopt", k, second_section_bad_option, "interface option 9 of 2 bytes"),
        ("badresol", k, lambda ng: ng.idb(cf.LINKTYPE_RAW, 0, tsresol=20), "if_tsresol 10^-20"),
        ("cut-first", 0, lambda ng: ng.out.extend(b"\x06\0\0\0\x80\0\0\0\0\0"), "truncated inside a block"),
        ("cut-later", k, lambda ng: ng.out.extend(b"\x06\0\0\0\x80\0\0\0\0\0"), "truncated inside a block"),
        ("cut-header", k, lambda ng: ng.out.extend(b"\x06\0\0"), "truncated inside a block header"),
        ("trailer", k, lambda ng: ng.out.extend(b"\x06\0\0\0\x0c\0\0\0\x10\0\0\0"), "but 16 at its end"),
    ]
    for name, at, hook, why in cases:
        path = build(name, at, hook)
        prefix = build(name + "-clean", at, lambda ng: None)
        rc, err, db = lyn([path], name)
        lines = [line for line in err.splitlines() if line.strip()]
        where = "before the first record" if at == 0 else "after record %d" % at
        if rc != 2 or len(lines) != 1 or not re.search(re.escape("%s: unreadable %s: " % (path, where)) + ".*" +
                                                       re.escape(why), lines[0]):
            bad("%s: wanted exit 2 and '%s: unreadable %s: ...%s', got %d %r" % (name, path, where, why, rc, err))
            continue
        ok()
        status, packets = cf.run_row(db, "status, packets")
        if status != "error" or packets != at:
            bad("%s: run %s with %d packets, wanted error with %d" % (name, status, packets, at))
        rc2, err2, db2 = lyn([prefix], name + "-clean")
        if cf.flows(db) != cf.flows(db2):
            bad("%s: the flows before the damage differ from the clean prefix's" % name)
        else:
            ok()
    unopenable = [
        ("version2", cf.Ng().shb("<", major=2).idb(1, 0), "pcapng version 2.0 is not supported"),
        ("badbom", None, "bad byte-order magic"),
        ("packet-first", cf.Ng().shb("<").epb(0, 0, eth[0][1]), "a packet before any interface description"),
        ("no-interface", cf.Ng().shb("<").block(5, b"\0" * 12), "no interface description block"),
    ]
    for name, ng, why in unopenable:
        path = w(name + ".pcapng")
        if ng is None:
            good = cf.Ng().shb("<").idb(1, 0).out
            good[8:12] = b"\x1a\x2b\x3c\x4e"
            open(path, "wb").write(bytes(good))
        else:
            ng.save(path)
        db = cf.fresh(w(name + ".db"))
        rc, err = cf.run(LA, [path], db)
        if rc != 2 or ("%s: cannot read capture: " % path) not in err or why not in err or os.path.exists(db):
            bad("%s: wanted exit 2, '%s: cannot read capture: ...%s' and no database; got %d %r" %
                (name, path, why, rc, err))
        else:
            ok()


def main():
    for tool in ("mergecap", "editcap"):
        if not shutil.which(tool):
            print("%s not found (tshark's package: scripts/install-deps.sh all)" % tool)
            return 77
    os.makedirs(WORK, exist_ok=True)
    eth, raw = frames()
    cf.write_pcap(w("eth.pcap"), cf.LINKTYPE_ETHERNET, eth, snaplen=65535)
    cf.write_pcap(w("raw.pcap"), cf.LINKTYPE_RAW, raw)
    rc, err, db = lyn([w("eth.pcap"), w("raw.pcap")], "ref")
    if rc not in (0, 1, 3):
        bad("reference run: exit %d %s" % (rc, err))
        return 1
    want = cf.flows(db)
    nrec = len(eth) + len(raw)
    print("reference: %d flows from %d Ethernet and %d raw-IP frames" % (len(want), len(eth), len(raw)))
    hand_built(eth, raw, want, nrec)
    filters(eth, raw)
    tool_made(want, nrec)
    simple_packets(eth)
    damage(eth, raw)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
