#!/usr/bin/env python3
"""Label accuracy: lyncaudit's app label against tshark's dissectors, per flow.

For every capture in the shared folder: run `lyncaudit -q -d DB --idle-timeout 0
FILE`, read `flows`; run tshark with the RTP/RTCP heuristics on and XMPP on
5269, and give each flow tshark's label: the first protocol of ours in each
frame's layer list (outermost: STUN carrying RTP is STUN), then per flow by
priority (sip, ike, esp, ah, xmpp, rtp, rtcp, msturn, stun, tls, dtls).
STUN frames with a Microsoft attribute (0x000F, 0x8008, 0x8050, 0x8054, 0x8055,
0x8070, 0x8095, ...) make `msturn`. Our sip_tls and psom are TLS to tshark.

Flows scored: those where tshark or lyncaudit says one of these protocols.
Prints agreement per protocol and overall; every disagreement must be listed
in accuracy_expected.tsv (file, transport, endpoints, lyncaudit, tshark,
verdict, reason), and every listed one must still occur: anything else fails.
The verdict says who is right: `tshark-blind` (tshark needs a decode-as rule
it was not given, lyncaudit right), `tshark-port` (tshark dissected by port
bytes that are not that protocol), `naming` (nDPI names the service carried
over the protocol tshark names), `lyncaudit-miss`. tshark is an oracle, not
the truth: the 98% target applies to the adjudicated accuracy (agreements
plus the disagreements where lyncaudit is right); raw agreement is printed
beside it. Usage: test_accuracy.py LYNCAUDIT PCAP_DIR EXPECTED_TSV
"""
import collections
import os
import sqlite3
import subprocess
import sys
import tempfile

RELEVANT = ["sip", "tls", "stun", "msturn", "rtp", "rtcp", "xmpp", "ike", "esp", "ah", "dtls"]
PRIORITY = ["sip", "ike", "esp", "ah", "xmpp", "rtp", "rtcp", "msturn", "stun", "tls", "dtls"]
TOKENS = {"sip": "sip", "stun": "stun", "classicstun": "stun", "rtp": "rtp", "srtp": "rtp",
          "rtcp": "rtcp", "srtcp": "rtcp", "xmpp": "xmpp", "tls": "tls", "ssl": "tls",
          "dtls": "dtls", "isakmp": "ike", "esp": "esp", "ah": "ah"}
MS_ATTRS = {0x000F, 0x8008, 0x8032, 0x8037, 0x8039, 0x8050, 0x8054, 0x8055, 0x8070, 0x8090,
            0x8095, 0x8006} | set(range(0x8056, 0x8069))
OURS_AS_TSHARK = {"sip_tls": "tls", "psom": "tls"}
TARGET = 98.0
VERDICTS = {"tshark-blind": True, "tshark-port": True, "naming": True, "lyncaudit-miss": False}
FIELDS = ["ip.src", "ip.dst", "ipv6.src", "ipv6.dst", "tcp.srcport", "tcp.dstport", "udp.srcport",
          "udp.dstport", "frame.protocols", "stun.att.type", "classicstun.att.type"]


def last(v):
    return v.split(",")[-1] if v else ""


def first(v):
    return v.split(",")[0] if v else ""


def tshark_flows(path):
    cmd = ["tshark", "-n", "-r", path, "-o", "rtp.heuristic_rtp:TRUE", "-o", "rtcp.heuristic_rtcp:TRUE",
           "-d", "tcp.port==5269,xmpp", "-T", "fields", "-E", "separator=\t", "-E", "occurrence=a",
           "-E", "aggregator=,"]
    for f in FIELDS:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False).stdout
    flows = collections.defaultdict(collections.Counter)
    for line in out.splitlines():
        c = dict(zip(FIELDS, line.split("\t") + [""] * len(FIELDS)))
        protos = c["frame.protocols"].split(":")
        if "icmp" in protos or "icmpv6" in protos:
            continue
        src, dst = last(c["ip.src"]) or last(c["ipv6.src"]), last(c["ip.dst"]) or last(c["ipv6.dst"])
        if "tcp" in protos:
            tr, sp, dp = "tcp", first(c["tcp.srcport"]), first(c["tcp.dstport"])
        elif "udp" in protos:
            tr, sp, dp = "udp", first(c["udp.srcport"]), first(c["udp.dstport"])
        elif "ah" in protos:  # AH before ESP: with both, AH is the outer header
            tr, sp, dp = "ah", "0", "0"
        elif "esp" in protos:
            tr, sp, dp = "esp", "0", "0"
        else:
            continue
        if not src or not sp:
            continue
        key = (tr, tuple(sorted([(src, int(sp)), (dst, int(dp))])))
        start = protos.index(tr) + 1 if tr in ("tcp", "udp") else protos.index(tr)
        top = None
        for p in protos[start:]:
            if p in TOKENS:
                top = TOKENS[p]
                break
        if top == "stun":
            attrs = (c["stun.att.type"] + "," + c["classicstun.att.type"]).split(",")
            if any(a and int(a, 16) in MS_ATTRS for a in attrs):
                top = "msturn"
        if top is None:
            rest = [p for p in protos[start:] if p not in ("data", "tcp.segments", "udpencap")]
            top = "other:" + rest[0] if rest else "none"
        flows[key][top] += 1
    return flows


def primary(counter):
    for p in PRIORITY:
        if counter.get(p):
            return p
    others = [(n, p) for p, n in counter.items() if p != "none"]
    return max(others)[1] if others else "none"


def our_flows(lyncaudit, path):
    with tempfile.TemporaryDirectory() as tmp:
        db = os.path.join(tmp, "a.db")
        r = subprocess.run([lyncaudit, "-q", "-d", db, "--idle-timeout", "0", path],
                           capture_output=True, text=True, check=False)
        if r.returncode not in (0, 1, 3) or not os.path.exists(db):  # 3: no topology, nothing audited
            raise SystemExit(f"lyncaudit failed on {path}: {r.stderr.strip()}")
        con = sqlite3.connect(db)
        rows = con.execute("SELECT transport, src_ip, src_port, dst_ip, dst_port, app, "
                           "coalesce(app_detail, '') FROM flows").fetchall()
        con.close()
    return rows


def main():
    lyncaudit, pcaps, expected_path = sys.argv[1:4]
    expected = {}
    with open(expected_path) as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip() or line.startswith("#"):
                continue
            cols = line.rstrip("\n").split("\t")
            if len(cols) != 7 or cols[5] not in VERDICTS or not cols[6].strip():
                print(f"{expected_path}:{n}: want 7 tab-separated columns: ..., verdict "
                      f"({', '.join(VERDICTS)}), reason")
                return 1
            expected[tuple(cols[:5])] = cols[5]
    files = sorted(os.path.relpath(os.path.join(d, f), pcaps) for d, _, fs in os.walk(pcaps)
                   for f in fs if f.endswith((".pcap", ".pcapng")))
    union = collections.Counter()
    agree = collections.Counter()
    seen = set()
    units = {}  # a disagreement counts once per protocol it adds to the total
    unlisted = []
    for rel in files:
        path = os.path.join(pcaps, rel)
        tf = tshark_flows(path)
        for tr, sip_, sport, dip, dport, app, detail in our_flows(lyncaudit, path):
            if tr not in ("tcp", "udp", "esp", "ah"):
                continue
            key = (tr, tuple(sorted([(sip_, sport), (dip, dport)])))
            ts = primary(tf.get(key, collections.Counter()))
            ours = OURS_AS_TSHARK.get(app, app)
            if ts not in RELEVANT and ours not in RELEVANT:
                continue
            ends = "%s:%s-%s:%s" % (key[1][0] + key[1][1])
            counted = {ts, ours} & set(RELEVANT)
            for p in counted:
                union[p] += 1
            if ts == ours:
                agree[ts] += 1
                continue
            k = (rel, tr, ends, app, ts)
            seen.add(k)
            units[k] = len(counted)
            if k not in expected:
                unlisted.append((k, detail))
    print("%-8s %7s %7s %8s" % ("protocol", "flows", "agree", "percent"))
    for p in RELEVANT:
        if union[p]:
            print("%-8s %7d %7d %7.1f%%" % (p, union[p], agree[p], 100.0 * agree[p] / union[p]))
    total, ok = sum(union.values()), sum(agree.values())
    raw = 100.0 * ok / total if total else 100.0
    right = ok + sum(units[k] for k in seen if VERDICTS.get(expected.get(k), False))
    pct = 100.0 * right / total if total else 100.0
    print("%-8s %7d %7d %7.1f%%  raw agreement with tshark" % ("all", total, ok, raw))
    verdicts = collections.Counter(expected[k] for k in seen if k in expected)
    print("listed disagreements: " + ", ".join("%s %d" % kv for kv in sorted(verdicts.items())))
    print("adjudicated accuracy: %d/%d = %.1f%% (target %.0f%%)" % (right, total, pct, TARGET))
    print("\ndisagreements listed in %s: %d" % (os.path.basename(expected_path), len(seen & set(expected))))
    failed = 0
    for k, detail in unlisted:
        print("UNLISTED: %s\t%s\t%s\t%s\t%s\t(detail: %s)" % (k + (detail,)))
        failed += 1
    for k in sorted(set(expected) - seen):
        print("STALE (no longer disagrees, drop it): %s" % "\t".join(k))
        failed += 1
    if pct < TARGET:
        print("agreement %.1f%% is below the target %.0f%%" % (pct, TARGET))
        failed += 1
    print("%d passed, %d failed" % (len(seen & set(expected)) + ok, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
