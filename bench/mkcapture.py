#!/usr/bin/env python3
"""Build a large benchmark capture from the shared captures (stdlib only).

    mkcapture.py --src ../shared/pcaps --out /tmp/lyncaudit-bench/x.pcap \
                 [--packets 4700000] [--stagger 1.0] [--only A.pcap,B.pcap]

Reads every Ethernet capture under --src (pcap or pcapng, any byte order,
micro- or nanosecond stamps; other link types are skipped) and writes one
classic pcap (microseconds, Ethernet, snaplen 262144) holding enough copies of
the whole set to reach --packets:

- One copy replays every source file at once, each from the copy's start,
  keeping the file's own packet order and gaps; gaps longer than an hour (the
  nDPI test files splice captures years apart) are cut to one hour, longer
  than any idle timeout, so flow boundaries stay where they were, and a
  packet stamped before its predecessor gets its predecessor's time, so the
  output is in strict time order.
- Copy k starts k * --stagger seconds after copy 0, and the copies are merged
  in time order, so many copies are live at once, as on a busy link.
- Copy k rewrites every unicast IPv4 and IPv6 address (outer header only) by
  XOR-ing its last 16 bits with k, so each copy's flows are distinct 5-tuples
  and both directions of a flow still meet. The IPv4 header checksum and the
  TCP/UDP/ICMPv6 checksums are updated incrementally (RFC 1624), so the
  output validates as well as the input did. Multicast, broadcast and
  0.0.0.0/:: are left alone. Payloads (SDP, SIP headers) are not rewritten.

--only takes a comma-separated list of captures (paths relative to --src):
only those make a copy (bench/run.sh --media: an Edge's media-heavy load).

Prints a summary (sources, copies, packets) and writes FILE.info beside the
output with the packet count, so callers need not count again.
"""
import argparse
import hashlib
import heapq
import os
import struct
import sys

GAP_CAP_US = 3600 * 1000000
BASE_SEC = 1700000000          # 2023-11-14T22:13:20Z, start of copy 0
FILE_SKEW_US = 1000            # file i of a copy starts i ms after the copy
OUT_SNAPLEN = 262144
LINKTYPE_ETHERNET = 1


def read_pcap(data):
    """Yield (linktype, ts_us, origlen, bytes) from a classic pcap."""
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    else:
        raise ValueError("not pcap")
    nano = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    linktype = struct.unpack_from(e + "I", data, 20)[0] & 0x0FFFFFFF
    off = 24
    hdr = struct.Struct(e + "IIII")
    while off + 16 <= len(data):
        sec, frac, caplen, origlen = hdr.unpack_from(data, off)
        off += 16
        pkt = data[off:off + caplen]
        off += caplen
        if len(pkt) < caplen:
            break  # truncated file
        ts = sec * 1000000 + (frac // 1000 if nano else frac)
        yield linktype, ts, origlen, pkt


def read_pcapng(data):
    """Yield (linktype, ts_us, origlen, bytes) from a pcapng (EPB, PB, SPB)."""
    off = 0
    e = "<"
    ifaces = []  # (linktype, ticks_per_sec, offset_sec)
    last_ts = 0
    while off + 12 <= len(data):
        btype = struct.unpack_from(e + "I", data, off)[0]
        if btype == 0x0A0D0D0A:  # section header: byte order may change
            bom = data[off + 8:off + 12]
            e = "<" if bom == b"\x4d\x3c\x2b\x1a" else ">"
            ifaces = []
        blen = struct.unpack_from(e + "I", data, off + 4)[0]
        if blen < 12 or off + blen > len(data):
            break
        body = data[off + 8:off + blen - 4]
        if btype == 1:  # interface description
            linktype = struct.unpack_from(e + "H", body, 0)[0]
            tps, tsoff = 1000000, 0
            o = 8
            while o + 4 <= len(body):
                code, olen = struct.unpack_from(e + "HH", body, o)
                val = body[o + 4:o + 4 + olen]
                if code == 0:
                    break
                if code == 9 and olen >= 1:  # if_tsresol
                    r = val[0]
                    tps = 2 ** (r & 0x7F) if r & 0x80 else 10 ** r
                elif code == 14 and olen == 8:  # if_tsoffset
                    tsoff = struct.unpack_from(e + "q", val, 0)[0]
                o += 4 + ((olen + 3) & ~3)
            ifaces.append((linktype, tps, tsoff))
        elif btype in (6, 2):  # enhanced packet / obsolete packet
            if btype == 6:
                ifid, hi, lo, caplen, origlen = struct.unpack_from(e + "IIIII", body, 0)
            else:
                ifid, _drops, hi, lo, caplen, origlen = struct.unpack_from(e + "HHIIII", body, 0)
            if ifid < len(ifaces):
                lt, tps, tsoff = ifaces[ifid]
                ticks = (hi << 32) | lo
                last_ts = tsoff * 1000000 + ticks * 1000000 // tps
                yield lt, last_ts, origlen, bytes(body[20:20 + caplen])
        elif btype == 3 and ifaces:  # simple packet: no timestamp
            origlen = struct.unpack_from(e + "I", body, 0)[0]
            lt = ifaces[0][0]
            yield lt, last_ts, origlen, bytes(body[4:4 + min(origlen, len(body) - 4)])
        off += blen


def read_capture(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] == b"\x0a\x0d\x0d\x0a":
        return list(read_pcapng(data))
    return list(read_pcap(data))


def v4_rewritable(a):
    return a[0] < 224 and a != b"\0\0\0\0"


def v6_rewritable(a):
    return a[0] != 0xFF and a != bytes(16)


def plan(pkt):
    """Return (words, csums) for one Ethernet frame.

    words: offsets of the 16-bit address words XOR-ed per copy, csums:
    (offset, is_udp) of the checksums covering them. Both empty for frames
    left untouched (ARP, STP, multicast-only, truncated...)."""
    n = len(pkt)
    off = 12
    if n < 14:
        return (), ()
    etype = (pkt[12] << 8) | pkt[13]
    off = 14
    while etype in (0x8100, 0x88A8, 0x9100) and off + 4 <= n:
        etype = (pkt[off + 2] << 8) | pkt[off + 3]
        off += 4
    words, csums = [], []
    if etype == 0x0800 and off + 20 <= n and pkt[off] >> 4 == 4:
        ihl = (pkt[off] & 0x0F) * 4
        if ihl < 20 or off + ihl > n:
            return (), ()
        if v4_rewritable(pkt[off + 12:off + 16]):
            words.append(off + 14)
        if v4_rewritable(pkt[off + 16:off + 20]):
            words.append(off + 18)
        if not words:
            return (), ()
        csums.append((off + 10, False))
        frag_off = ((pkt[off + 6] & 0x1F) << 8) | pkt[off + 7]
        proto = pkt[off + 9]
        l4 = off + ihl
        if frag_off == 0:
            if proto == 6 and l4 + 18 <= n:
                csums.append((l4 + 16, False))
            elif proto == 17 and l4 + 8 <= n:
                csums.append((l4 + 6, True))
        return tuple(words), tuple(csums)
    if etype == 0x86DD and off + 40 <= n and pkt[off] >> 4 == 6:
        if v6_rewritable(pkt[off + 8:off + 24]):
            words.append(off + 22)
        if v6_rewritable(pkt[off + 24:off + 40]):
            words.append(off + 38)
        if not words:
            return (), ()
        nh = pkt[off + 6]
        l4 = off + 40
        first = True
        while nh in (0, 43, 60, 44) and l4 + 8 <= n:
            if nh == 44:
                first = first and (((pkt[l4 + 2] << 8) | pkt[l4 + 3]) & 0xFFF8) == 0
                nh, l4 = pkt[l4], l4 + 8
            else:
                nh, l4 = pkt[l4], l4 + (pkt[l4 + 1] + 1) * 8
        if first:
            if nh == 6 and l4 + 18 <= n:
                csums.append((l4 + 16, False))
            elif nh == 17 and l4 + 8 <= n:
                csums.append((l4 + 6, True))
            elif nh == 58 and l4 + 4 <= n:
                csums.append((l4 + 2, False))
        return tuple(words), tuple(csums)
    return (), ()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--src", required=True, help="folder of captures (searched recursively)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--packets", type=int, default=4700000, help="at least this many packets (whole copies)")
    ap.add_argument("--stagger", type=float, default=1.0, help="seconds between copy starts")
    ap.add_argument("--only", default="", help="comma-separated captures (relative to --src) to use, not all")
    args = ap.parse_args()
    only = {x for x in args.only.split(",") if x}

    paths = []
    for root, _dirs, files in os.walk(args.src):
        for name in files:
            if name.endswith((".pcap", ".pcapng", ".cap")):
                paths.append(os.path.join(root, name))
    paths.sort()
    if only:
        paths = [p for p in paths if os.path.relpath(p, args.src) in only]
        missing = only - {os.path.relpath(p, args.src) for p in paths}
        if missing:
            sys.exit("mkcapture: not under %s: %s" % (args.src, ", ".join(sorted(missing))))

    sources, skipped = [], []
    for p in paths:
        try:
            pkts = read_capture(p)
        except (ValueError, struct.error) as exc:
            skipped.append((p, str(exc)))
            continue
        kinds = {lt for lt, _, _, _ in pkts}
        if not pkts or kinds != {LINKTYPE_ETHERNET}:
            skipped.append((p, "link types %s" % sorted(kinds)))
            continue
        sources.append((os.path.relpath(p, args.src), pkts))
    if not sources:
        sys.exit("mkcapture: no Ethernet capture under %s" % args.src)

    # One copy: (rel_us, seq) per packet of every file, merged in time order
    # (each file keeps its own order), gaps capped.
    recs = []  # (caplen, origlen, data, words, csums, orig_word_values)
    streams = []
    for fi, (_name, pkts) in enumerate(sources):
        stream = []
        rel = fi * FILE_SKEW_US
        prev = None
        for _lt, ts, origlen, data in pkts:
            if prev is not None:
                rel += min(max(ts - prev, 0), GAP_CAP_US)
            prev = ts
            data = data[:OUT_SNAPLEN]
            words, csums = plan(data)
            vals = tuple((data[o] << 8) | data[o + 1] for o in words)
            stream.append((rel, len(recs)))
            recs.append((len(data), max(origlen, len(data)), data, words, csums, vals))
        streams.append(stream)
    seq = list(heapq.merge(*streams))
    per_copy = len(seq)
    copies = max(1, -(-args.packets // per_copy))
    if copies > 65535:
        sys.exit("mkcapture: more than 65535 copies needed; the address rewrite has 16 bits")
    stagger_us = int(round(args.stagger * 1000000))
    base_us = BASE_SEC * 1000000

    def copy_stream(k):
        shift = base_us + k * stagger_us
        for rel, idx in seq:
            yield rel + shift, k, idx

    tmp = args.out + ".part"
    rec_hdr = struct.Struct("<IIII")
    written = 0
    with open(tmp, "wb", buffering=1 << 20) as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, OUT_SNAPLEN, LINKTYPE_ETHERNET))
        w = out.write
        pack = rec_hdr.pack
        for ts, k, idx in heapq.merge(*(copy_stream(k) for k in range(copies))):
            caplen, origlen, data, words, csums, vals = recs[idx]
            w(pack(ts // 1000000, ts % 1000000, caplen, origlen))
            if not words or k == 0:
                w(data)
                continue
            b = bytearray(data)
            delta = 0
            for o, v in zip(words, vals):
                nv = v ^ k
                b[o] = nv >> 8
                b[o + 1] = nv & 0xFF
                delta += (~v & 0xFFFF) + nv
            for o, is_udp in csums:
                c = (b[o] << 8) | b[o + 1]
                if is_udp and c == 0:
                    continue  # UDP without checksum
                s = (~c & 0xFFFF) + delta
                while s >> 16:
                    s = (s & 0xFFFF) + (s >> 16)
                c = ~s & 0xFFFF
                if is_udp and c == 0:
                    c = 0xFFFF
                b[o] = c >> 8
                b[o + 1] = c & 0xFF
            w(b)
            written += 1
    total = copies * per_copy
    os.replace(tmp, args.out)

    with open(args.out + ".info", "w") as info:
        info.write("packets\t%d\ncopies\t%d\nper_copy\t%d\nstagger_s\t%g\nsources\t%d\n"
                   % (total, copies, per_copy, args.stagger, len(sources)))
        for name, pkts in sources:
            info.write("source\t%s\t%d\n" % (name, len(pkts)))
        for p, why in skipped:
            info.write("skipped\t%s\t%s\n" % (os.path.relpath(p, args.src), why))
    print("mkcapture: %d Ethernet sources (%d packets a copy, %d skipped), %d copies, "
          "%d packets, %d rewritten -> %s"
          % (len(sources), per_copy, len(skipped), copies, total, written, args.out))


if __name__ == "__main__":
    main()
