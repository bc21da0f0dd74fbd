#!/usr/bin/env python3
"""End-to-end test of lyncaudit on every shared capture, against two oracles.

For each capture in PCAPS/MANIFEST.tsv:
  1. lyncaudit -q -d TMP.db --idle-timeout 0 --workers 1 FILE  (fresh database;
     one classify worker: one nDPI detection module, as ndpiReader has, so
     nDPI's per-module caches (STUN, TLS certificates ...) see the flows in
     the same order; with more workers a verdict from a cache may differ,
     docs/usage.md, Threads)
  2. tshark oracle: `tshark -z conv,tcp -z conv,udp`. The set of TCP and UDP
     flows (unordered 5-tuple), the number of flows per 5-tuple, and each
     flow's packets and bytes per direction must agree.
     Idle expiry is switched off (--idle-timeout 0) so that lyncaudit, like
     tshark, does not cut a conversation because it went quiet; the TCP
     FIN/RST end stays on, and tshark also starts a new conversation when a
     SYN reuses a finished 5-tuple, so both sides speak of the same flows.
     tshark 4.0 prints bytes rounded ("15 kB"), so the exact byte counts come
     from the same tshark pass (-T fields frame.len per tcp.stream/udp.stream)
     and are checked against the rounded table before they are used.
  3. nDPI oracle: `ndpiReader -i FILE -v 2`. For every flow ndpiReader lists
     (TCP, UDP, ICMP, ESP ...) our flow with the same unordered 5-tuple (the
     first one when we split it) must carry the same nDPI protocol
     ("Master.App" as nDPI prints it) and the same confidence.
Every difference must be listed, with its reason, in expected_diffs.tsv
(beside this file); an unlisted difference, or a listed one that no longer
occurs or has changed value, fails the capture.

Directions: a flow is written "proto A B" with A the lower endpoint (IP
address, then port); `a2b` counts go from A to B, `b2a` from B to A.

Usage: test_oracles.py --lyncaudit BUILD/lyncaudit --pcaps DIR [--only NAME]...
Prints one line per capture (ours/oracle: TCP+UDP flows and packets, tshark
differences, share of ndpiReader's flows whose label we match) and ends with
"N passed, M failed" (captures); exits 1 if any capture failed.
"""

import argparse
import concurrent.futures
import csv
import ipaddress
import os
import re
import sqlite3
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
DIFFS_FILE = os.path.join(HERE, "expected_diffs.tsv")
DIFF_COLUMNS = ["capture", "oracle", "flow", "field", "ours", "theirs", "reason"]
TIMEOUT = 120

PROTO_NUM = {"tcp": 6, "udp": 17, "icmp": 1, "icmp6": 58, "icmpv6": 58,
             "esp": 50, "ah": 51, "sctp": 132, "gre": 47, "igmp": 2}
PROTO_NAME = {6: "tcp", 17: "udp", 1: "icmp", 58: "icmp6", 50: "esp",
              51: "ah", 132: "sctp", 47: "gre"}


# ---------------------------------------------------------------- flow keys

def proto_num(text):
    """Map a transport name (ours: tcp, ip-47; ndpiReader: TCP, ICMPV6, 50)."""
    t = text.strip().lower()
    if t in PROTO_NUM:
        return PROTO_NUM[t]
    if t.startswith("ip-"):
        t = t[3:]
    return int(t)


def endpoint(ip, port):
    """Normalised endpoint (ip text, port) and its sort key."""
    ip = ip.strip().strip("[]")
    try:
        a = ipaddress.ip_address(ip)
        return (str(a), int(port)), (a.version, int(a), int(port))
    except ValueError:
        return (ip, int(port)), (9, 0, ip, int(port))


def flow_key(proto, ip1, port1, ip2, port2):
    """Unordered 5-tuple: (proto, A, B) with A < B; returns (key, swapped)
    where swapped is True when (ip1, port1) is B."""
    e1, k1 = endpoint(ip1, port1)
    e2, k2 = endpoint(ip2, port2)
    if k1 <= k2:
        return (proto, e1, e2), False
    return (proto, e2, e1), True


def fmt_ep(ep):
    ip, port = ep
    return ("[%s]:%d" if ":" in ip else "%s:%d") % (ip, port)


def fmt_key(key):
    proto, a, b = key
    return "%s %s %s" % (PROTO_NAME.get(proto, "ip-%d" % proto), fmt_ep(a), fmt_ep(b))


def ndpi_label(master, app):
    """nDPI's own spelling of a verdict (ndpi_protocol2name): Master.App,
    or the one name when the other is Unknown or both are the same."""
    master = master or "Unknown"
    app = app or "Unknown"
    if master != "Unknown" and master != app:
        return master if app == "Unknown" else "%s.%s" % (master, app)
    return app


# ---------------------------------------------------------------- lyncaudit

class Flow:
    """One flow from any source, in canonical direction (A -> B)."""
    __slots__ = ("key", "start", "p_ab", "b_ab", "p_ba", "b_ba",
                 "label", "confidence", "extra")

    def __init__(self, key, start, p_ab, b_ab, p_ba, b_ba,
                 label=None, confidence=None, extra=None):
        self.key, self.start = key, start
        self.p_ab, self.b_ab, self.p_ba, self.b_ba = p_ab, b_ab, p_ba, b_ba
        self.label, self.confidence, self.extra = label, confidence, extra


def run_lyncaudit(binary, pcap, tmpdir, extra_args):
    """Run lyncaudit into a fresh database; return (flows, error text)."""
    db = os.path.join(tmpdir, "run.db")
    cmd = [binary, "-q", "-d", db] + extra_args + [pcap]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        return None, "lyncaudit timed out after %d s" % TIMEOUT
    except OSError as e:
        return None, "cannot run lyncaudit: %s" % e
    # 3: nothing audited (these captures have no topology): the flows are
    # what is compared, as for 0 and 1
    if r.returncode not in (0, 1, 3):
        return None, "lyncaudit exit %d: %s" % (r.returncode, r.stderr.strip()[-500:])
    con = sqlite3.connect(db)
    try:
        rows = con.execute(
            "SELECT transport, src_ip, src_port, dst_ip, dst_port,"
            " packets_src2dst, bytes_src2dst, packets_dst2src, bytes_dst2src,"
            " ndpi_master, ndpi_app, ndpi_confidence, first_seen, app, end_reason"
            " FROM flows ORDER BY first_seen, id").fetchall()
    finally:
        con.close()
    flows = []
    for (tr, sip, sport, dip, dport, psd, bsd, pds, bds, master, app,
         conf, first, label, end) in rows:
        key, swapped = flow_key(proto_num(tr), sip, sport or 0, dip, dport or 0)
        if swapped:
            psd, bsd, pds, bds = pds, bds, psd, bsd
        flows.append(Flow(key, first, psd, bsd, pds, bds,
                          ndpi_label(master, app), conf or "Unknown",
                          {"app": label, "end_reason": end}))
    return flows, None


# ---------------------------------------------------------------- tshark

TSHARK_FIELDS = ["frame.len", "tcp.stream", "udp.stream", "ip.src", "ip.dst",
                 "ipv6.src", "ipv6.dst", "tcp.srcport", "tcp.dstport",
                 "udp.srcport", "udp.dstport", "icmp.type", "icmpv6.type"]
CONV_ROW = re.compile(
    r"^(\S+)\s+<->\s+(\S+)\s+"
    r"(\d+)\s+(\d+ \S+)\s+"      # <-  B -> A
    r"(\d+)\s+(\d+ \S+)\s+"      # ->  A -> B
    r"(\d+)\s+(\d+ \S+)\s+"      # total
    r"(-?[\d.]+)\s+(-?[\d.]+)\s*$")
SIZE_UNITS = {"bytes": 1, "kB": 1000, "MB": 1000 ** 2, "GB": 1000 ** 3,
              "TB": 1000 ** 4}


def split_ep(text):
    ip, port = text.rsplit(":", 1)
    return ip, int(port)


def size_agrees(shown, exact):
    """tshark 4.0 prints bytes with an SI prefix and no decimals ("15 kB")."""
    num, unit = shown.split()
    scale = SIZE_UNITS.get(unit)
    if scale is None:
        return False
    return abs(exact / scale - int(num)) <= 1 if scale > 1 else exact == int(num)


def last(field):
    return field.split(",")[-1] if field else ""


def run_tshark(pcap):
    """TCP/UDP conversations as tshark sees them; returns (flows, error)."""
    cmd = ["tshark", "-n", "-r", pcap, "-T", "fields", "-E", "separator=/t",
           "-E", "occurrence=a"]
    for f in TSHARK_FIELDS:
        cmd += ["-e", f]
    cmd += ["-z", "conv,tcp", "-z", "conv,udp"]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        return None, "tshark timed out"
    except OSError as e:
        return None, "cannot run tshark: %s" % e
    if r.returncode != 0 and "Conversations" not in r.stdout:
        return None, "tshark exit %d: %s" % (r.returncode, r.stderr.strip()[-300:])

    # Per-frame fields: exact byte counts per (transport, stream, direction).
    # (proto, stream id) -> {"first": n, "eps": {A, B}, "by_src": {(ip, port): [pkts, bytes]}}
    streams = {}
    lines = r.stdout.split("\n")
    i = 0
    for n, line in enumerate(lines):
        if line.startswith("====="):
            i = n
            break
        cols = line.split("\t")
        if len(cols) < len(TSHARK_FIELDS):
            continue
        flen, tstream, ustream, ip4s, ip4d, ip6s, ip6d, tsp, tdp, usp, udp, it, i6t = cols[:13]
        if it or i6t:
            # A TCP/UDP header quoted in an ICMP error: the conversation
            # tables do not count it (the packet is an ICMP flow).
            continue
        for proto, stream, sport, dport in ((6, tstream, tsp, tdp), (17, ustream, usp, udp)):
            if not stream:
                continue
            sid = int(last(stream))
            # The innermost IP header carries the transport header.
            src, dst = (last(ip6s), last(ip6d)) if ip6s else (last(ip4s), last(ip4d))
            sep = endpoint(src, last(sport))[0]
            dep = endpoint(dst, last(dport))[0]
            ent = streams.setdefault((proto, sid), {"first": n, "eps": frozenset((sep, dep)),
                                                     "by_src": {}})
            c = ent["by_src"].setdefault(sep, [0, 0])
            c[0] += 1
            c[1] += int(flen)
    else:
        i = len(lines)

    # Conversation tables.
    rows = []
    proto = None
    for line in lines[i:]:
        if line.startswith("TCP Conversations"):
            proto = 6
        elif line.startswith("UDP Conversations"):
            proto = 17
        m = CONV_ROW.match(line)
        if m and proto:
            rows.append((proto, m))

    # Attach each table row to its stream: same proto and endpoints, and
    # within those, streams and rows both in order of their first packet.
    by_key_streams = {}
    for (proto, sid), ent in sorted(streams.items(), key=lambda kv: kv[1]["first"]):
        by_key_streams.setdefault((proto, ent["eps"]), []).append(ent)
    by_key_rows = {}
    for proto, m in rows:
        a = endpoint(*split_ep(m.group(1)))[0]
        b = endpoint(*split_ep(m.group(2)))[0]
        by_key_rows.setdefault((proto, a, b), []).append(m)

    flows = []
    errors = []
    used = set()
    for (proto, a, b), ms in by_key_rows.items():
        ms.sort(key=lambda m: float(m.group(9)))
        cands = by_key_streams.get((proto, frozenset((a, b))), [])
        for m in ms:
            ba_p, ab_p = int(m.group(3)), int(m.group(5))
            ent = None
            for c in cands:
                if id(c) in used:
                    continue
                if (c["by_src"].get(a, [0, 0])[0] == ab_p
                        and c["by_src"].get(b, [0, 0])[0] == ba_p):
                    ent = c
                    break
            if ent is None:
                errors.append("tshark table row %s <-> %s (%d/%d frames) has no "
                              "matching stream in the field output"
                              % (m.group(1), m.group(2), ab_p, ba_p))
                continue
            used.add(id(ent))
            ab_b = ent["by_src"].get(a, [0, 0])[1]
            ba_b = ent["by_src"].get(b, [0, 0])[1]
            if not (size_agrees(m.group(6), ab_b) and size_agrees(m.group(4), ba_b)):
                errors.append("tshark bytes for %s <-> %s: table %s/%s, frames sum %d/%d"
                              % (m.group(1), m.group(2), m.group(6), m.group(4), ab_b, ba_b))
            key, swapped = flow_key(proto, a[0], a[1], b[0], b[1])
            if swapped:
                flows.append(Flow(key, float(m.group(9)), ba_p, ba_b, ab_p, ab_b))
            else:
                flows.append(Flow(key, float(m.group(9)), ab_p, ab_b, ba_p, ba_b))
    for ent in streams.values():
        if id(ent) not in used:
            errors.append("tshark stream %s has no row in the conversation tables"
                          % sorted(fmt_ep(e) for e in ent["eps"]))
    if errors:
        return None, "; ".join(errors)
    return flows, None


# ---------------------------------------------------------------- ndpiReader

NDPI_ROW = re.compile(
    r"^\s*\d+\s+(\S+) (\[[^\]]+\]|[^\s\[]+):(\d+) (?:<->|->) "
    r"(\[[^\]]+\]|[^\s\[]+):(\d+) (?:\[(?!proto:)[^\]]*\])*"
    r"\[proto: [0-9.]+/([^\]]+)\].*?"
    r"\[Confidence: ([^\]]+)\].*?\[(\d+) pkts/(\d+) bytes (?:<->|->) (\d+) pkts/(\d+) bytes\]")


def run_ndpireader(pcap):
    """Flows as ndpiReader -v 2 lists them; returns (flows, error)."""
    try:
        r = subprocess.run(["ndpiReader", "-i", pcap, "-v", "2"],
                           capture_output=True, text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        return None, "ndpiReader timed out"
    except OSError as e:
        return None, "cannot run ndpiReader: %s" % e
    if r.returncode != 0:
        return None, "ndpiReader exit %d: %s" % (r.returncode, r.stderr.strip()[-300:])
    flows = []
    for line in r.stdout.split("\n"):
        if "[proto:" not in line:
            continue
        m = NDPI_ROW.match(line)
        if not m:
            return None, "cannot parse ndpiReader line: %s" % line[:200]
        proto = proto_num(m.group(1))
        key, swapped = flow_key(proto, m.group(2), m.group(3), m.group(4), m.group(5))
        p1, b1, p2, b2 = (int(m.group(x)) for x in range(8, 12))
        if swapped:
            p1, b1, p2, b2 = p2, b2, p1, b1
        flows.append(Flow(key, None, p1, b1, p2, b2, m.group(6), m.group(7)))
    return flows, None


# ---------------------------------------------------------------- compare

def group(flows):
    out = {}
    for f in flows:
        out.setdefault(f.key, []).append(f)
    return out


def compare_tshark(ours, theirs):
    """Differences between our TCP/UDP flows and tshark's conversations:
    list of (flow, field, ours, theirs)."""
    diffs = []
    og = group(f for f in ours if f.key[0] in (6, 17))
    tg = group(theirs)
    for key in sorted(set(og) | set(tg), key=fmt_key):
        o, t = og.get(key, []), tg.get(key, [])
        sel = fmt_key(key)
        if not o or not t:
            diffs.append((sel, "presence", "present" if o else "absent",
                          "present" if t else "absent"))
            continue
        if len(o) != len(t):
            diffs.append((sel, "flows", str(len(o)), str(len(t))))
            pairs = [(sel, Flow(key, None, *[sum(getattr(f, a) for f in o) for a in
                                            ("p_ab", "b_ab", "p_ba", "b_ba")]),
                      Flow(key, None, *[sum(getattr(f, a) for f in t) for a in
                                       ("p_ab", "b_ab", "p_ba", "b_ba")]))]
            field_prefix = "sum_"
        else:
            pairs = [(sel if len(o) == 1 else "%s #%d" % (sel, n + 1), fo, ft)
                     for n, (fo, ft) in enumerate(zip(o, t))]
            field_prefix = ""
        for s, fo, ft in pairs:
            for attr, name in (("p_ab", "packets_a2b"), ("b_ab", "bytes_a2b"),
                               ("p_ba", "packets_b2a"), ("b_ba", "bytes_b2a")):
                if getattr(fo, attr) != getattr(ft, attr):
                    diffs.append((s, field_prefix + name, str(getattr(fo, attr)),
                                  str(getattr(ft, attr))))
    return diffs


def ndpi_patch_ipv6(text):
    """ndpiReader's ndpi_patchIPv6Address(): every ":0:" becomes "::", even
    in an address inet_ntop already shortened, which can print an invalid
    address ("2600:1900:4160:5999:0:19::" -> "2600:1900:4160:5999::19::")."""
    out, i = [], 0
    while i < len(text):
        if text[i:i + 3] == ":0:":
            out.append("::")
            i += 3
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def unpatch_ndpi_keys(ours, theirs):
    """Map the addresses ndpiReader mangled back to ours (see ndpi_patch_ipv6)."""
    back = {}
    for f in ours:
        for ip, _ in f.key[1:]:
            if ":" in ip and ndpi_patch_ipv6(ip) != ip:
                back[ndpi_patch_ipv6(ip)] = ip
    for f in theirs:
        (ip1, p1), (ip2, p2) = f.key[1:]
        if ip1 in back or ip2 in back:
            f.key, _ = flow_key(f.key[0], back.get(ip1, ip1), p1, back.get(ip2, ip2), p2)


def compare_ndpi(ours, theirs):
    """Differences between our nDPI verdicts and ndpiReader's, and the number
    of ndpiReader flows whose label we match. ndpiReader keeps one flow per
    5-tuple (and VLAN) for the whole file; where we split a 5-tuple (TCP port
    reuse, see the tshark check), its verdict is compared with our first."""
    unpatch_ndpi_keys(ours, theirs)
    diffs = []
    og = group(ours)
    tg = group(theirs)
    agree = 0
    for key in sorted(set(og) | set(tg), key=fmt_key):
        o, t = og.get(key, []), tg.get(key, [])
        sel = fmt_key(key)
        if not o or not t:
            diffs.append((sel, "presence", "present" if o else "absent",
                          "present" if t else "absent"))
            continue
        if len(t) > 1:
            diffs.append((sel, "flows", str(len(o)), str(len(t))))
        for n, ft in enumerate(t):
            fo = o[min(n, len(o) - 1)] if len(t) > 1 else o[0]
            s = sel if len(t) == 1 else "%s #%d" % (sel, n + 1)
            if fo.label == ft.label:
                agree += 1
            else:
                diffs.append((s, "ndpi_proto", fo.label, ft.label))
            if fo.confidence != ft.confidence:
                diffs.append((s, "ndpi_confidence", fo.confidence, ft.confidence))
    return diffs, agree


# ---------------------------------------------------------------- expected diffs

def load_expected(path):
    """expected_diffs.tsv -> {(capture, oracle, flow, field): row}."""
    out = {}
    if not os.path.exists(path):
        return out
    with open(path, newline="") as fh:
        rows = csv.reader((l for l in fh if l.strip() and not l.startswith("#")),
                          delimiter="\t", quoting=csv.QUOTE_NONE)
        for n, row in enumerate(rows):
            if row == DIFF_COLUMNS:
                continue
            if len(row) != len(DIFF_COLUMNS):
                sys.exit("%s: row %d has %d columns, want %d: %r"
                         % (path, n + 1, len(row), len(DIFF_COLUMNS), row))
            d = dict(zip(DIFF_COLUMNS, row))
            if not d["reason"].strip():
                sys.exit("%s: row %d gives no reason" % (path, n + 1))
            if d["oracle"] not in ("tshark", "ndpi"):
                sys.exit("%s: row %d: oracle must be tshark or ndpi" % (path, n + 1))
            k = (d["capture"], d["oracle"], d["flow"], d["field"])
            if k in out:
                sys.exit("%s: duplicate entry %r" % (path, k))
            out[k] = d
    return out


def check(capture, oracle, diffs, expected, problems, seen):
    """Sort diffs into listed (ok) and unlisted (problem); returns listed count."""
    listed = 0
    for flow, field, o, t in diffs:
        k = (capture, oracle, flow, field)
        seen.add(k)
        e = expected.get(k)
        if e is None:
            problems.append("UNLISTED %s\t%s\t%s\t%s\t%s\t%s"
                            % (capture, oracle, flow, field, o, t))
        elif (e["ours"], e["theirs"]) != (o, t):
            problems.append("CHANGED  %s %s %s %s: listed ours=%s theirs=%s, now ours=%s theirs=%s"
                            % (capture, oracle, flow, field, e["ours"], e["theirs"], o, t))
        else:
            listed += 1
    return listed


# ---------------------------------------------------------------- main

def run_capture(name, args, lync_extra, expected):
    pcap = os.path.join(args.pcaps, name)
    problems = []
    seen = set()
    with tempfile.TemporaryDirectory(prefix="lyncaudit-e2e-") as tmp:
        with concurrent.futures.ThreadPoolExecutor(3) as ex:
            fo = ex.submit(run_lyncaudit, args.lyncaudit, pcap, tmp, lync_extra)
            ft = ex.submit(run_tshark, pcap)
            fn = ex.submit(run_ndpireader, pcap)
            ours, err_o = fo.result()
            tsh, err_t = ft.result()
            ndp, err_n = fn.result()
    for err in (err_o, err_t, err_n):
        if err:
            problems.append("ERROR " + err)
    info = {"name": name}
    if ours is not None and tsh is not None:
        d = compare_tshark(ours, tsh)
        info["t_listed"] = check(name, "tshark", d, expected, problems, seen)
        info["t_diffs"] = len(d)
        tu = [f for f in ours if f.key[0] in (6, 17)]
        info["flows"] = (len(tu), len(tsh))
        info["packets"] = (sum(f.p_ab + f.p_ba for f in tu),
                           sum(f.p_ab + f.p_ba for f in tsh))
        info["bytes"] = (sum(f.b_ab + f.b_ba for f in tu),
                         sum(f.b_ab + f.b_ba for f in tsh))
        info["all_flows"] = len(ours)
    if ours is not None and ndp is not None:
        d, agree = compare_ndpi(ours, ndp)
        info["n_listed"] = check(name, "ndpi", d, expected, problems, seen)
        info["n_diffs"] = len(d)
        info["ndpi"] = (agree, len(ndp))
    for k, e in expected.items():
        if e["capture"] == name and k not in seen and (
                (e["oracle"] == "tshark" and "t_diffs" in info)
                or (e["oracle"] == "ndpi" and "n_diffs" in info)):
            problems.append("STALE    %s %s %s %s: listed (ours=%s theirs=%s) but no longer differs"
                            % (name, e["oracle"], e["flow"], e["field"], e["ours"], e["theirs"]))
    info["problems"] = problems
    return info


def fmt_line(info):
    ok = not info["problems"]
    parts = ["PASS" if ok else "FAIL", "%-50s" % info["name"]]
    if "flows" in info:
        parts.append("tcp/udp flows %4d/%-4d" % info["flows"])
        parts.append("pkts %5d/%-5d" % info["packets"])
        parts.append("tshark diffs %d (listed %d)" % (info["t_diffs"], info["t_listed"]))
    if "ndpi" in info:
        a, n = info["ndpi"]
        parts.append("ndpi %d/%d agree %5.1f%% (diffs %d, listed %d)"
                     % (a, n, 100.0 * a / n if n else 100.0,
                        info["n_diffs"], info["n_listed"]))
    return "  ".join(parts)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lyncaudit", required=True, help="path to the lyncaudit binary")
    ap.add_argument("--pcaps", required=True, help="the shared capture folder (with MANIFEST.tsv)")
    ap.add_argument("--only", action="append", default=[],
                    help="run only this capture (MANIFEST name, e.g. nDPI/sip.pcap, or a substring); repeatable")
    ap.add_argument("-j", "--jobs", type=int, default=max(2, os.cpu_count() or 2),
                    help="captures run in parallel")
    ap.add_argument("--lyncaudit-arg", action="append", default=None,
                    help="pass this option to lyncaudit instead of the default "
                    "'--idle-timeout 0' (repeatable; for investigations)")
    ap.add_argument("-v", "--verbose", action="store_true",
                    help="also print the listed (expected) differences with their reasons")
    args = ap.parse_args()

    with open(os.path.join(args.pcaps, "MANIFEST.tsv"), newline="") as fh:
        names = [row["file"] for row in csv.DictReader(fh, delimiter="\t")]
    if args.only:
        picked = set()
        for o in args.only:
            exact = [n for n in names if o in (n, os.path.basename(n))]
            picked.update(exact or [n for n in names if o in n])
        names = [n for n in names if n in picked]
        if not names:
            sys.exit("no capture in MANIFEST.tsv matches %s" % args.only)
    expected = load_expected(DIFFS_FILE)
    unknown = {e["capture"] for e in expected.values()} - set(names)
    if unknown and not args.only:
        sys.exit("expected_diffs.tsv names captures not in MANIFEST.tsv: %s"
                 % ", ".join(sorted(unknown)))

    if not os.access(args.lyncaudit, os.X_OK):
        sys.exit("%s: no such executable (build lyncaudit first)" % args.lyncaudit)
    # Idle expiry off so that flows are conversations as tshark means them
    # (TCP flows still end at FIN/FIN or RST, as tshark's do at port reuse).
    lync_extra = ["--idle-timeout", "0", "--workers", "1"]
    if args.lyncaudit_arg is not None:
        lync_extra = args.lyncaudit_arg

    passed = failed = 0
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as ex:
        futs = [ex.submit(run_capture, n, args, lync_extra, expected) for n in names]
        for fut in futs:
            info = fut.result()
            print(fmt_line(info), flush=True)
            for p in info["problems"]:
                print("    " + p)
            if args.verbose:
                for e in expected.values():
                    if e["capture"] == info["name"]:
                        print("    listed: %s %s %s ours=%s theirs=%s -- %s"
                              % (e["oracle"], e["flow"], e["field"], e["ours"],
                                 e["theirs"], e["reason"]))
            if info["problems"]:
                failed += 1
            else:
                passed += 1
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
