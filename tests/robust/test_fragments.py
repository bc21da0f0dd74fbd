#!/usr/bin/env python3
"""IP fragments out of order and a forged first fragment (issue 20 K).

No shared capture has them, so the test writes the bytes: a SIP datagram
from an internal client to the sample's Front End (UDP 5060), cut into
three IPv4 fragments, and the same for IPv6 (a fragment header).

- In order, and with the last fragment first (out of order): one flow of
  three packets on port 5060, no flow without ports beside it, no
  violation of a flow on port 0.
- A second first fragment with the same id and other ports (a duplicate
  or forged first): the later fragments still join the first one's flow.
- A fragment whose first never comes: a flow without ports, its packet
  counted (runs.packets = the flows' packets).
Usage: test_fragments.py LYNCAUDIT SOURCE_DIR
"""
import os
import sqlite3
import struct
import subprocess
import sys
import tempfile

LA, SRC = sys.argv[1], sys.argv[2]
TOPO = os.path.join(SRC, "samples", "topology.lua")
CLIENT4, FE4 = bytes([127, 20, 10, 5]), bytes([127, 20, 1, 10])
FAILS = []


def check(what, got, want):
    if got != want:
        FAILS.append(f"{what}: got {got!r}, wanted {want!r}")


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def sip_udp(sport, dport):
    body = b"v=0\r\n" + b"a=x-padding:" + b"p" * 2400 + b"\r\n"
    msg = (b"INVITE sip:bob@contoso.com SIP/2.0\r\nVia: SIP/2.0/UDP 127.20.10.5:%d\r\n"
           b"From: <sip:alice@contoso.com>;tag=1\r\nTo: <sip:bob@contoso.com>\r\nCall-ID: frag-%d\r\n"
           b"CSeq: 1 INVITE\r\nContent-Type: application/sdp\r\nContent-Length: %d\r\n\r\n"
           % (sport, sport, len(body))) + body
    return struct.pack("!HHHH", sport, dport, 8 + len(msg), 0) + msg


def v4_fragments(ident, payload, size=1200):
    """IPv4 fragments of one UDP datagram (offsets in 8-byte units)."""
    out = []
    for off in range(0, len(payload), size):
        chunk = payload[off:off + size]
        more = 0x2000 if off + size < len(payload) else 0
        hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(chunk), ident, more | (off // 8), 64, 17, 0,
                          CLIENT4, FE4)
        hdr = hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]
        out.append(hdr + chunk)
    return out


def v6_fragments(ident, payload, size=1200):
    src = bytes.fromhex("fd00002000000010") + bytes(7) + b"\x05"
    dst = bytes.fromhex("fd00002000000001") + bytes(7) + b"\x0a"
    out = []
    for off in range(0, len(payload), size):
        chunk = payload[off:off + size]
        more = 1 if off + size < len(payload) else 0
        fh = struct.pack("!BBHI", 17, 0, off | more, ident)
        ip6 = struct.pack("!IHBB16s16s", 6 << 28, len(fh) + len(chunk), 44, 64, src, dst)
        out.append(ip6 + fh + chunk)
    return out


def write_pcap(path, packets):
    """Raw IP link type (101), one packet per millisecond."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 101))
        for i, p in enumerate(packets):
            f.write(struct.pack("<IIII", 1700000000, 1000 * i, len(p), len(p)) + p)


def run(tmp, name, packets, topo=TOPO):
    pcap = os.path.join(tmp, name + ".pcap")
    db = os.path.join(tmp, name + ".db")
    write_pcap(pcap, packets)
    args = [LA, "-q", "-d", db] + (["-t", topo] if topo else []) + [pcap]
    r = subprocess.run(args, capture_output=True, text=True, timeout=60)
    if r.returncode not in (0, 1):
        FAILS.append(f"{name}: exit {r.returncode}: {r.stderr.strip()}")
        return None
    return sqlite3.connect(db)


def flows(con):
    return con.execute("SELECT src_port, dst_port, packets_src2dst + packets_dst2src FROM flows "
                       "ORDER BY src_port, dst_port").fetchall()


def main():
    with tempfile.TemporaryDirectory() as tmp:
        v6topo = os.path.join(tmp, "v6.lua")
        with open(v6topo, "w") as f:
            f.write('return { name = "v6", roles = { front_end = { "fd00:20:0:1::a/128" },\n'
                    ' client_internal = { "fd00:20:0:10::/64" } } }\n')
        cases = [
            ("v4", v4_fragments, TOPO),
            ("v6", v6_fragments, v6topo),
        ]
        for ver, cut, topo in cases:
            frags = cut(0x1234, sip_udp(5060, 5060))
            check(f"{ver}: the datagram is cut in three", len(frags), 3)
            for order, pkts in (("in order", frags), ("last first", [frags[2], frags[0], frags[1]]),
                                ("middle and last first", [frags[1], frags[2], frags[0]])):
                con = run(tmp, f"{ver}-{order.replace(' ', '_')}", pkts, topo)
                if not con:
                    continue
                check(f"{ver} {order}: one flow of three packets on 5060", flows(con), [(5060, 5060, 3)])
                check(f"{ver} {order}: no violation on port 0",
                      con.execute("SELECT count(*) FROM violations v JOIN flows f ON f.id = v.flow_id "
                                  "WHERE f.dst_port = 0").fetchone()[0], 0)
                check(f"{ver} {order}: runs.packets", con.execute("SELECT packets FROM runs").fetchone()[0], 3)

            forged = cut(0x1234, sip_udp(5070, 5070))[0]
            con = run(tmp, f"{ver}-forged-first", [frags[0], forged, frags[1], frags[2]], topo)
            if con:
                check(f"{ver}: a second first fragment does not re-point the rest", flows(con),
                      [(5060, 5060, 3), (5070, 5070, 1)])

            con = run(tmp, f"{ver}-orphan", [frags[1], cut(0x99, sip_udp(5062, 5060))[0]], topo)
            if con:
                check(f"{ver}: a fragment whose first never comes is a flow without ports", flows(con),
                      [(0, 0, 1), (5062, 5060, 1)])
                check(f"{ver}: orphan counted in runs.packets",
                      con.execute("SELECT packets FROM runs").fetchone()[0], 2)
    for f in FAILS:
        print("FAIL:", f)
    print(f"{len(FAILS)} failed")
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
