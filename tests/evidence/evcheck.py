"""Reads an evidence pcapng and the captures a run read with tshark, and
holds the evidence against the run's flows in the database (issue 13).

The model is tshark's, not lyncaudit's: each input frame's flow key is the
innermost IP header tshark dissects outside ICMP (tunnels opened), its
transport and ports; a non-first IP fragment takes the ports of its first
fragment. A frame belongs to the run's flow with that key (either
direction) whose first_seen..last_seen holds its time. The model is checked
first: every violating flow must get exactly as many frames as the database
counts for it. Then the evidence must be, frame for frame (time and MD5 of
the bytes), the frames of the flows whose flows.evidence says they are in
it: all of a 'complete' or 'cleared' flow's, a strict prefix (the first
n, maybe none) of a 'cut' flow's, none of any other flow's; each flow's first frame in it
carries a comment naming the flow and every kind of its violations, no
other frame carries one, and each frame keeps its link type.
"""
import calendar
import collections
import sqlite3
import subprocess

IN_FIELDS = ["frame.number", "frame.time_epoch", "frame.md5_hash", "frame.encap_type", "frame.cap_len",
             "frame.protocols", "ip.src", "ip.dst", "ip.proto", "ip.id", "ip.flags.mf", "ip.frag_offset",
             "ipv6.src", "ipv6.dst", "ipv6.nxt", "ipv6.fraghdr.ident", "ipv6.fraghdr.offset",
             "ipv6.fraghdr.more", "tcp.srcport", "tcp.dstport", "udp.srcport", "udp.dstport",
             "sctp.srcport", "sctp.dstport"]
EV_FIELDS = ["frame.number", "frame.time_epoch", "frame.md5_hash", "frame.encap_type", "frame.interface_id",
             "frame.comment"]
TRANSPORTS = {"tcp": "tcp", "udp": "udp", "udplite": "udplite", "sctp": "sctp", "icmp": "icmp",
              "icmpv6": "icmp6", "igmp": "igmp", "gre": "gre", "esp": "esp", "ah": "ah"}
PORTED = {"tcp": "tcp", "udp": "udp", "udplite": "udp", "sctp": "sctp"}


def tshark(path, fields, extra=()):
    cmd = ["tshark", "-n", "-r", path, "-o", "frame.generate_md5_hash:TRUE", "-o", "ip.defragment:FALSE",
           "-o", "ipv6.defragment:FALSE", "-o", "tcp.desegment_tcp_streams:FALSE", *extra,
           "-T", "fields", "-E", "separator=\t", "-E", "occurrence=a", "-E", "aggregator=|"]
    for f in fields:
        cmd += ["-e", f]
    p = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if p.returncode != 0:
        raise RuntimeError(f"tshark -r {path}: exit {p.returncode}: {p.stderr.strip()[:300]}")
    rows = []
    for line in p.stdout.splitlines():
        cols = line.split("\t")
        cols += [""] * (len(fields) - len(cols))
        rows.append(dict(zip(fields, cols)))
    return rows


def epoch_us(text):
    sec, _, frac = text.partition(".")
    return int(sec) * 1000000 + int((frac + "000000")[:6])


def iso_us(text, unknown):
    """2026-11-21T23:52:13.634373Z -> microseconds since the epoch; the
    store writes 'invalid' for a time past year 9999 (unknown then)."""
    if text == "invalid":
        return unknown
    day, _, rest = text.rstrip("Z").partition("T")
    hms, _, frac = rest.partition(".")
    y, mo, d = (int(x) for x in day.split("-"))
    h, mi, s = (int(x) for x in hms.split(":"))
    return calendar.timegm((y, mo, d, h, mi, s)) * 1000000 + int((frac + "000000")[:6])


def nth(value, n):
    parts = value.split("|") if value else []
    return parts[n] if n < len(parts) else ""


def frame_key(row, frags):
    """(transport, (addr, port), (addr, port)) of the innermost IP header
    outside ICMP, or None for a frame with no IP; frags maps a fragmented
    datagram to its first fragment's transport and ports."""
    protos = row["frame.protocols"].split(":")
    ips, i4, i6, in_icmp, after = [], 0, 0, False, None
    for i, p in enumerate(protos):
        if p in ("icmp", "icmpv6") and ips:
            in_icmp = True
        if p in ("ip", "ipv6") and not in_icmp:
            idx = i4 if p == "ip" else i6
            ips.append((p, idx))
            after = i + 1
        if p == "ip":
            i4 += 1
        elif p == "ipv6":
            i6 += 1
    if not ips:
        return None
    ver, idx = ips[-1]
    src, dst = nth(row[ver + ".src"], idx), nth(row[ver + ".dst"], idx)
    nxt = next((p for p in protos[after:] if not p.startswith("ipv6.")), "data")
    if ver == "ip":
        frag = ("4", src, dst, nth(row["ip.id"], idx))
        first = nth(row["ip.frag_offset"], idx) in ("", "0")
        more = nth(row["ip.flags.mf"], idx) in ("1", "True")
        proto_num = nth(row["ip.proto"], idx)
    else:
        frag = ("6", src, dst, row["ipv6.fraghdr.ident"].split("|")[0])
        first = row["ipv6.fraghdr.offset"].split("|")[0] in ("", "0")
        more = row["ipv6.fraghdr.more"].split("|")[0] in ("1", "True")
        proto_num = nth(row["ipv6.nxt"], idx)
    if not first:
        t, sp, dp = frags.get(frag, ("?", 0, 0))
        return t, (src, sp), (dst, dp)
    transport = TRANSPORTS.get(nxt, f"ip-{proto_num}")
    sp = dp = 0
    if nxt in PORTED:
        outside = protos[:protos.index("icmp")] if "icmp" in protos[after:] else protos
        n = max(outside.count(nxt) - 1, 0)
        f = PORTED[nxt]
        sp, dp = int(nth(row[f + ".srcport"], n) or 0), int(nth(row[f + ".dstport"], n) or 0)
    if more:
        frags[frag] = (transport, sp, dp)
    return transport, (src, sp), (dst, dp)


def canon(transport, a, b):
    return (transport,) + tuple(sorted([a, b]))


def read_inputs(paths):
    """Every frame of the captures, in the order read."""
    frames = []
    for path in paths:
        frags = {}
        for row in tshark(path, IN_FIELDS):
            key = frame_key(row, frags)
            frames.append({"t": epoch_us(row["frame.time_epoch"]), "md5": row["frame.md5_hash"],
                           "encap": row["frame.encap_type"], "caplen": int(row["frame.cap_len"] or 0),
                           "key": canon(key[0], key[1], key[2]) if key else None, "src": path})
    return frames


def read_evidence(path):
    rows = tshark(path, EV_FIELDS)
    return [{"t": epoch_us(r["frame.time_epoch"]), "md5": r["frame.md5_hash"], "encap": r["frame.encap_type"],
             "iface": r["frame.interface_id"], "comment": r["frame.comment"].replace("\\n", "\n")} for r in rows]


def db_flows(db, run):
    con = sqlite3.connect(db)
    flows = []
    for (fid, transport, sip, sport, dip, dport, first, last, pkts, verdict, evidence) in con.execute(
            "SELECT id, transport, src_ip, src_port, dst_ip, dst_port, first_seen, last_seen, "
            "packets_src2dst + packets_dst2src, verdict, evidence FROM flows WHERE run_id = ? ORDER BY id", (run,)):
        kinds = sorted({k for (k,) in con.execute("SELECT kind FROM violations WHERE flow_id = ?", (fid,))})
        flows.append({"id": fid, "key": canon(transport, (sip, sport), (dip, dport)), "first": iso_us(first, -2**63),
                      "last": iso_us(last, 2**63), "pkts": pkts, "verdict": verdict, "evidence": evidence, "kinds": kinds,
                      "name": f"{transport} {sip}:{sport} -> {dip}:{dport}", "frames": []})
    run_row = con.execute("SELECT evidence, evidence_flows, evidence_packets, evidence_cut FROM runs WHERE id = ?",
                          (run,)).fetchone()
    con.close()
    return flows, run_row


def assign(frames, flows, slack_us=0):
    """Each frame to the flow with its key whose time span holds it."""
    by_key = collections.defaultdict(list)
    for f in flows:
        by_key[f["key"]].append(f)
    for i, fr in enumerate(frames):
        for f in by_key.get(fr["key"], ()):
            if f["first"] - slack_us <= fr["t"] <= f["last"] + slack_us:
                f["frames"].append(i)
                break


def held_bytes(caplen):
    """What evidence.c holds for a frame: its header and its bytes padded to 8."""
    return 24 + (caplen + 7) // 8 * 8


def check(db, run, evidence, inputs, fail, slack_us=0, match_time=True, flow_cap=None):
    """Holds the evidence file against the run; fail(msg) for each finding.
    Returns (flows in the file, frames in the file)."""
    frames = read_inputs(inputs)
    flows, run_row = db_flows(db, run)
    assign(frames, flows, slack_us)
    ev = read_evidence(evidence)
    # The model: every violating flow gets the packets the database counts.
    for f in flows:
        if f["verdict"] == "violation" and len(f["frames"]) != f["pkts"]:
            fail(f"model: {f['name']}: {len(f['frames'])} frames in the inputs, {f['pkts']} in the database")
    # What the file must hold: per flow, by flows.evidence.
    want = []  # (flow, frame index) in input order
    for f in flows:
        e = f["evidence"]
        if f["verdict"] == "violation" and e not in ("complete", "cut", "missed"):
            fail(f"{f['name']}: a violation with flows.evidence {e!r}")
        if f["verdict"] != "violation" and e not in (None, "cleared"):
            fail(f"{f['name']}: verdict {f['verdict']} with flows.evidence {e!r}")
        if e in ("complete", "cleared"):
            want += [(f, i) for i in f["frames"]]
    pool = collections.defaultdict(list)
    for f in flows:
        for i in f["frames"]:
            pool[frames[i]["md5"]].append((f, i))
    # Each evidence frame is an input frame of some flow, taken once: the
    # same bytes at the same time. libpcap reads a pcap's 32-bit seconds as
    # signed (tshark as unsigned), so a time past 2038 may differ.
    got = collections.defaultdict(list)  # flow id -> (evidence index, frame index)
    for j, x in enumerate(ev):
        cands = pool.get(x["md5"], [])
        same = [c for c in cands if not match_time or frames[c[1]]["t"] == x["t"]]
        if not same:
            same = [c for c in cands if frames[c[1]]["t"] >= 2**31 * 1000000]
        if not same:
            fail(f"evidence frame {j + 1} (t={x['t']}, md5 {x['md5']}) is no packet of any flow of the run")
            continue
        f, i = same[0]
        cands.remove(same[0])
        got[f["id"]].append((j, i))
        if x["encap"] != frames[i]["encap"]:
            fail(f"evidence frame {j + 1}: link type {x['encap']}, the input's is {frames[i]['encap']}")
    byid = {f["id"]: f for f in flows}
    wanted_ids = collections.Counter(f["id"] for f, _ in want)
    cut_total = 0
    for fid, pairs in got.items():
        f = byid[fid]
        idx = [i for _, i in pairs]
        if f["evidence"] in ("complete", "cleared"):
            if sorted(idx) != f["frames"]:
                fail(f"{f['name']} ({f['evidence']}): {len(idx)} of its {len(f['frames'])} frames in the file")
        elif f["evidence"] == "cut":
            if sorted(idx) != f["frames"][:len(idx)] or len(idx) >= len(f["frames"]):
                fail(f"{f['name']} (cut): the file's {len(idx)} frames are not a strict prefix of its frames")
            if f["verdict"] != "violation":
                fail(f"{f['name']}: 'cut' but verdict {f['verdict']}")
        else:
            fail(f"{f['name']}: {len(idx)} frames in the file, flows.evidence {f['evidence']!r}")
        if idx != sorted(idx):
            fail(f"{f['name']}: its frames are out of order in the file")
        check_comments(f, pairs, ev, fail)
    for fid, n in wanted_ids.items():
        if fid not in got:
            fail(f"{byid[fid]['name']} ({byid[fid]['evidence']}): none of its {n} frames in the file")
    for f in flows:
        if f["evidence"] == "cut":
            cut_total += len(f["frames"]) - len(got.get(f["id"], ()))
        if flow_cap and f["evidence"] in ("cut", "complete") and f["id"] in got:
            check_flow_cap(f, got[f["id"]], frames, flow_cap, fail)
    iface = {}
    for x in ev:
        if iface.setdefault(x["encap"], x["iface"]) != x["iface"]:
            fail(f"link type {x['encap']} in two interfaces ({iface[x['encap']]}, {x['iface']})")
    if len(set(iface.values())) != len(iface):
        fail(f"interfaces and link types are not one to one: {iface}")
    nflows = len(got)
    if run_row[1:] != (nflows, len(ev), cut_total):
        fail(f"runs.evidence_flows/_packets/_cut {run_row[1:]}, the file and flows say {(nflows, len(ev), cut_total)}")
    return nflows, len(ev)


def check_comments(f, pairs, ev, fail):
    """The flow's first frame in the file names it and its violations; no other frame has a comment."""
    first_j = min(pairs, key=lambda p: p[1])[0]
    for j, _ in pairs:
        c = ev[j]["comment"]
        if j != first_j:
            if c:
                fail(f"{f['name']}: frame {j + 1} has a comment but is not the flow's first")
            continue
        head = c.split("\n")[0]
        if not c.startswith("lyncaudit: violation in the flow "):
            fail(f"{f['name']}: its first frame in the file has no lyncaudit comment: {c[:120]!r}")
            continue
        t, a, b = f["key"]
        tuple_text = head[len("lyncaudit: violation in the flow "):].split(" (")[0]
        proto, ends = tuple_text.split(" ", 1)
        sides = sorted(tuple(e.rsplit(":", 1)) for e in ends.split(" -> "))
        sides = [(h.strip("[]"), int(p)) for h, p in sides]
        if proto != t or sorted(sides) != sorted([a, b]):
            fail(f"{f['name']}: its comment names another flow: {head!r}")
        for k in f["kinds"] if f["evidence"] != "cleared" else ():
            if f"\n{k} (" not in c:
                fail(f"{f['name']}: its comment does not name its violation {k}: {c[:200]!r}")


def check_flow_cap(f, pairs, frames, cap, fail):
    """A flow cut by the per-flow cap holds the longest prefix that fits it."""
    n = len(pairs)
    sizes = [held_bytes(frames[i]["caplen"]) for i in f["frames"]]
    fits = 0
    while fits < len(sizes) and sum(sizes[:fits + 1]) <= cap:
        fits += 1
    if f["evidence"] == "cut" and n != fits:
        fail(f"{f['name']} (cut): {n} frames in the file, {fits} fit in --evidence-flow-bytes {cap}")
    if f["evidence"] == "complete" and n > fits and n != len(sizes):
        fail(f"{f['name']} (complete): {n} of {len(sizes)} frames")
