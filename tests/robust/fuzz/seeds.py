#!/usr/bin/env python3
"""Seed corpora for the fuzz targets fuzz_decode, fuzz_topology and fuzz_rules
(tests/fuzz/run.sh calls this; the dissector targets use tests/fuzz/seeds.py).

decode:   frames of the shared captures, one file per distinct frame (at most
          40 per capture), each prefixed with the byte that makes
          fuzz_decode pick the capture's link type; read with the stdlib
          (pcap and pcapng), no tshark needed.
pipeline: the first frames of each capture as one input (fuzz_pipeline's
          record format: link index, time step, length, frame).
topology: samples/topology.lua, the topologies of docs/topology.md and the
          project's tests, and small hand-written ones.
rules:    every rules/*.lua file and small hand-written ones.

Usage: seeds.py PCAP_DIR SOURCE_DIR OUT_DIR"""
import glob
import hashlib
import os
import re
import struct
import sys

# fuzz_decode's LINKS table: index -> DLT. Capture link types (LINKTYPE_*)
# map to the index of the DLT libpcap gives for them.
LINKTYPE_TO_INDEX = {1: 0, 113: 1, 276: 2, 101: 3, 228: 4, 229: 5, 0: 6, 108: 7, 239: 8}


def pcap_frames(data):
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    else:
        return
    nano = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    linktype = struct.unpack(e + "I", data[20:24])[0] & 0x0FFFFFFF
    off = 24
    while off + 16 <= len(data):
        caplen = struct.unpack(e + "I", data[off + 8:off + 12])[0]
        if off + 16 + caplen > len(data):
            return
        sec, frac = struct.unpack(e + "II", data[off:off + 8])
        yield linktype, data[off + 16:off + 16 + caplen], sec + frac / (1e9 if nano else 1e6)
        off += 16 + caplen


def pcapng_frames(data):
    off, e, links = 0, "<", []
    while off + 12 <= len(data):
        btype = struct.unpack(e + "I", data[off:off + 4])[0]
        if btype == 0x0A0D0D0A:
            e = "<" if data[off + 8:off + 12] == b"\x4d\x3c\x2b\x1a" else ">"
            links = []
        blen = struct.unpack(e + "I", data[off + 4:off + 8])[0]
        if blen < 12 or off + blen > len(data):
            return
        body = data[off + 8:off + blen - 4]
        if btype == 1 and len(body) >= 2:
            links.append(struct.unpack(e + "H", body[:2])[0])
        elif btype == 6 and len(body) >= 20:
            ifid, hi, lo, caplen = struct.unpack(e + "IIII", body[:16])
            if ifid < len(links):   # microseconds unless if_tsresol says otherwise: close enough
                yield links[ifid], body[20:20 + caplen], ((hi << 32) | lo) / 1e6
        elif btype == 3 and len(body) >= 4 and links:
            yield links[0], body[4:], 0.0
        off += blen


def write(d, data, limit=None):
    os.makedirs(d, exist_ok=True)
    if limit is not None and len(os.listdir(d)) >= limit:
        return
    with open(os.path.join(d, hashlib.sha1(data).hexdigest()[:16]), "wb") as f:
        f.write(data)


TOPOLOGIES = [
    'return { name = "t", roles = { front_end = { "10.0.1.10", "10.0.1.11" }, edge_av = "10.45.16.10",\n'
    '  client_internal = { "10.1.0.0/16", "2001:db8:10::/48" } },\n'
    '  nat = { ["131.107.155.30"] = "10.45.16.10" }, nat_devices = { "10.45.16.1" },\n'
    '  capture_point = "outside",\n'
    '  options = { ocs2007_federation = true, load_balancing = "hlb", client_media_ports = { 50000, 50039 } } }\n',
    'return { roles = { director = { "::1", "fe80::/10" }, edge_internal = "192.0.2.1/32" },\n'
    '  options = { port_policy = "source_and_destination", any_means_any = true, sip_tcp_5060 = true } }\n',
    'return {}\n',
    'return { roles = { fornt_end = { "10.0.0.1" } } }\n',
    'local n = 0\nwhile true do n = n + 1 end\n',
]

RULES = [
    'cite { doc = "003_90a6bcb524c2ccb8.txt", table = "T" }\n'
    'rule { id = "f.a", ref = row(1, "t"), from = any_or { "front_end" }, to = "edge_internal",\n'
    '  transport = { "tcp", "udp" }, dports = { 443, "5060-5070", "client_media_ports" }, sports = "any",\n'
    '  apps = labels.sip_tls, severity = "high", when = { xmpp_federation = false }, note = "n",\n'
    '  check = function(flow) return flow.dst_port ~= 5061, "no" end }\n',
    'cite { doc = "001_5c850280d6352e6d.txt", table = "U" }\n'
    'rule { id = "f.b", ref = row(2, "u"), from = "any", to = sets.audio_servers, transport = "udp",\n'
    '  dports = range(50000, 59999), kind = "port_range" }\n'
    'rule { id = "f.c", ref = row(3, "v"), from = "client_internal", to = "front_end", transport = "esp",\n'
    '  dports = "any", kind = "ipsec_exempt" }\n',
    'rule { id = "x" }\n',
]


def main():
    pcaps, src, out = sys.argv[1], sys.argv[2], sys.argv[3]
    counts = {}
    for path in sorted(glob.glob(os.path.join(pcaps, "**", "*"), recursive=True)):
        if not os.path.isfile(path) or path.endswith((".tsv", ".md")):
            continue
        data = open(path, "rb").read()
        frames = pcapng_frames(data) if data[:4] == b"\x0a\x0d\x0d\x0a" else pcap_frames(data)
        seen = set()
        records, last_ts = [], None
        for linktype, frame, ts in frames:
            idx = LINKTYPE_TO_INDEX.get(linktype)
            if idx is not None and len(records) < 48 and sum(map(len, records)) < 16000:
                step = 0 if last_ts is None else max(0, min(255, int((ts - last_ts) * 16)))
                last_ts = ts
                records.append(bytes([idx, step]) + struct.pack(">H", len(frame)) + frame)
            idx = LINKTYPE_TO_INDEX.get(linktype)
            if idx is None or len(seen) >= 40:
                continue
            h = hashlib.sha1(frame).digest()
            if h not in seen:
                seen.add(h)
                write(os.path.join(out, "decode"), bytes([idx]) + frame)
        counts[path] = len(seen)
        if records:
            write(os.path.join(out, "pipeline"), b"".join(records))
            if len(records) > 8:   # a short one too: small inputs mutate faster
                write(os.path.join(out, "pipeline"), b"".join(records[:8]))
    topo = [open(os.path.join(src, "samples", "topology.lua"), "rb").read()]
    for md in ("docs/topology.md",):
        text = open(os.path.join(src, md), encoding="utf-8").read()
        topo += [m.encode() for m in re.findall(r"```lua\n(return \{.*?)```", text, re.S)]
    topo += [t.encode() for t in TOPOLOGIES]
    for t in topo:
        write(os.path.join(out, "topology"), t)
    for r in sorted(glob.glob(os.path.join(src, "rules", "*.lua"))):
        write(os.path.join(out, "rules"), open(r, "rb").read())
    for r in RULES:
        write(os.path.join(out, "rules"), r.encode())
    for t in ("decode", "topology", "rules", "pipeline"):
        print(f"{t}: {len(os.listdir(os.path.join(out, t)))} seeds")


if __name__ == "__main__":
    main()
