#!/usr/bin/env python3
"""Hand-built tunnel frames, for what no Linux device here makes: GRE with
checksum, key and sequence, ERSPAN types I, II and III (with the platform
subheader, and frame type IP), Geneve with options, VXLAN with QinQ inside,
and one nesting past the depth limit. Writes them as a pcap with a
MANIFEST.tsv, holds decode against tshark with tests/unit/test_decode.py
(innermost addresses and ports per packet), then checks the tunnel kind,
id and VLAN ids decode_dump reports. Then, with LYNCAUDIT, one SIP exchange
on VLAN 10 and the same addresses and ports on VLAN 20 inside VXLAN: one
flow by default (vlan 10, vlan_inner NULL), two with --vlan-flows.
Usage: test_frames.py DECODE_DUMP TEST_DECODE WORKDIR [LYNCAUDIT]
With --seeds DIR: writes the frames as fuzz_decode seeds (Ethernet), and a
VXLAN frame on port 8472 with that --vxlan-port, instead."""
import os
import sqlite3
import struct
import subprocess
import sys


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ip4(src, dst, proto, payload):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 1, 0, 64, proto, 0,
                    bytes(map(int, src.split("."))), bytes(map(int, dst.split("."))))
    h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
    return h + payload


def udp(sport, dport, payload):
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


def eth(payload, etype=0x0800, tags=()):
    h = b"\x02\0\0\0\0\x01" + b"\x02\0\0\0\0\x02"
    for tpid, vid in tags:
        h += struct.pack("!HH", tpid, vid)
    return h + struct.pack("!H", etype) + payload


SIP = b"OPTIONS sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 10.9.0.1:5060\r\nContent-Length: 0\r\n\r\n"
INNER = ip4("10.9.0.1", "10.9.0.2", 17, udp(5060, 5060, SIP))


def outer(proto, payload):
    return eth(ip4("192.0.2.1", "192.0.2.2", proto, payload))


def gre(ptype, payload, c=False, k=None, s=None):
    flags = (0x8000 if c else 0) | (0x2000 if k is not None else 0) | (0x1000 if s is not None else 0)
    h = struct.pack("!HH", flags, ptype)
    if c:
        h += b"\0\0\0\0"
    if k is not None:
        h += struct.pack("!I", k)
    if s is not None:
        h += struct.pack("!I", s)
    if c:
        h = h[:4] + struct.pack("!H", csum(h + payload)) + h[6:]
    return h + payload


def erspan2(session, vlan, frame):
    return struct.pack("!HHI", (1 << 12) | vlan, session, 5) + frame


def erspan3(session, vlan, frame, ft=0, sub=False):
    w = (0 << 16) | (ft << 10) | (1 if sub else 0)
    h = struct.pack("!HHII", (2 << 12) | vlan, session, 123456, w)
    if sub:
        h += struct.pack("!II", (1 << 26), 0)
    return h + frame


def geneve(vni, payload, opts=b"", ptype=0x6558):
    return struct.pack("!BBHI", len(opts) // 4, 0, ptype, vni << 8) + opts + payload


def vxlan(vni, frame):
    return struct.pack("!BBHI", 0x08, 0, 0, vni << 8) + frame


def nest(inner):
    """inner in VXLAN in GRE in VXLAN in GRE."""
    v2 = ip4("192.0.2.7", "192.0.2.8", 17, udp(1, 4789, vxlan(2, eth(inner))))
    g2 = ip4("192.0.2.5", "192.0.2.6", 47, gre(0x0800, v2))
    v1 = ip4("192.0.2.3", "192.0.2.4", 17, udp(1, 4789, vxlan(1, eth(g2))))
    return outer(47, gre(0x0800, v1))


# (frame, expected (tunnel, id, vlan0, vlan1)) -- None: no packet decoded
OPT = struct.pack("!HBB", 0x0102, 0x80, 1) + b"\xaa\xbb\xcc\xdd"
FRAMES = [
    (outer(47, gre(0x0800, INNER, c=True, k=7, s=99)), ("gre", 7, 0, 0)),
    (outer(47, gre(0x6558, eth(INNER, tags=((0x8100, 30),)), s=1)), ("gre", -1, 30, 0)),
    (outer(47, gre(0x88BE, eth(INNER))), ("erspan1", -1, 0, 0)),
    (outer(47, gre(0x88BE, erspan2(101, 12, eth(INNER)), s=5)), ("erspan2", 101, 12, 0)),
    (outer(47, gre(0x88BE, erspan2(102, 12, eth(INNER, tags=((0x8100, 40),))), s=6)), ("erspan2", 102, 40, 0)),
    (outer(47, gre(0x22EB, erspan3(103, 13, eth(INNER)), s=7)), ("erspan3", 103, 13, 0)),
    (outer(47, gre(0x22EB, erspan3(104, 14, eth(INNER), sub=True), s=8)), ("erspan3", 104, 14, 0)),
    (outer(17, udp(40000, 6081, geneve(500, eth(INNER), OPT))), ("geneve", 500, 0, 0)),
    (outer(17, udp(40000, 6081, geneve(501, INNER, OPT, 0x0800))), ("geneve", 501, 0, 0)),
    (outer(17, udp(40001, 4789, vxlan(600, eth(INNER, 0x0800, ((0x88A8, 100), (0x8100, 200)))))), ("vxlan", 600, 100, 200)),
    # VXLAN in GRE in VXLAN in GRE in IPv4 (4 tunnels: the limit) carries the flow; one more is refused.
    (nest(INNER), ("gre", -1, 0, 0)),
    (nest(ip4("192.0.2.9", "192.0.2.10", 4, INNER)), "tunnels nested too deep"),
    # UDP 4789 that is no VXLAN header stays a UDP flow.
    (outer(17, udp(40002, 4789, b"\x00not vxlan at all")), ("-", -1, 0, 0)),
]


def seeds(d):
    os.makedirs(d, exist_ok=True)
    custom = outer(17, udp(40003, 8472, vxlan(700, eth(INNER))))
    items = [b"\x00" + fr for fr, _ in FRAMES] + [b"\x80" + struct.pack("!H", 8472) + custom]
    for i, data in enumerate(items):
        with open(os.path.join(d, f"tunnel-{i:02d}"), "wb") as f:
            f.write(data)
    return 0


def write_pcap(path, frames):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i, fr in enumerate(frames):
            f.write(struct.pack("<IIII", 1700000000 + i, 0, len(fr), len(fr)) + fr)


def vlan_flows(lyncaudit, work):
    """Flows keyed by VLAN only with --vlan-flows. True when right."""
    back = ip4("10.9.0.2", "10.9.0.1", 17, udp(5060, 5060, b"SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n"))
    frames = [eth(INNER, tags=((0x8100, 10),)), eth(back, tags=((0x8100, 10),)),
              outer(17, udp(40000, 4789, vxlan(9, eth(INNER, tags=((0x8100, 20),))))),
              outer(17, udp(40000, 4789, vxlan(9, eth(back, tags=((0x8100, 20),)))))]
    cap = os.path.join(work, "vlans.pcap")
    write_pcap(cap, frames)
    ok = True
    for opt, want in (([], [(10, None, 2, 2, None)]), (["--vlan-flows"], [(10, None, 1, 1, None), (20, None, 1, 1, "vxlan")])):
        db = os.path.join(work, f"vlans{len(opt)}.db")
        if os.path.exists(db):
            os.remove(db)
        subprocess.run([lyncaudit, "-q", "-d", db, *opt, cap], check=False)
        rows = sqlite3.connect(db).execute("SELECT vlan, vlan_inner, packets_src2dst, packets_dst2src, tunnel"
                                           " FROM flows ORDER BY vlan").fetchall()
        if rows != want:
            ok = False
            print(f"FAIL vlan flows {opt}: {rows}, want {want}")
        else:
            print(f"ok   vlan flows {opt or 'default'}: {rows}")
    return ok


def main():
    if sys.argv[1] == "--seeds":
        return seeds(sys.argv[2])
    dump, test_decode, work = sys.argv[1:4]
    os.makedirs(work, exist_ok=True)
    write_pcap(os.path.join(work, "tunnels.pcap"), [fr for fr, _ in FRAMES])
    with open(os.path.join(work, "MANIFEST.tsv"), "w") as f:
        f.write("file\n" + "tunnels.pcap\n")
    failed = subprocess.run([sys.executable, test_decode, dump, work]).returncode != 0
    out = subprocess.run([dump, os.path.join(work, "tunnels.pcap")], capture_output=True, text=True).stdout
    for line, (_, want) in zip(out.splitlines(), FRAMES):
        c = line.split("\t")
        got = c[1] if c[1] != "ok" else (c[10], int(c[11]), int(c[14]), int(c[15]))
        if got != want:
            failed = True
            print(f"FAIL #{c[0]}: {got}, want {want}")
        else:
            print(f"ok   #{c[0]}: {want}")
    if len(sys.argv) > 4 and not vlan_flows(sys.argv[4], work):
        failed = True
    print(f"{0 if failed else 1} passed, {1 if failed else 0} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
