#!/usr/bin/env python3
"""Writes a flood capture (classic pcap, Ethernet) with python3's stdlib only.

Usage: mkflood.py syn|udp COUNT OUT.pcap [SEED]

syn: COUNT TCP SYNs from random IPv4 sources and ports to 10.99.0.1:5061,
     each its own flow (a SYN flood from spoofed addresses).
udp: COUNT one-packet UDP flows (random sources and ports to 10.99.0.1:3478,
     a 20-byte STUN binding request header as payload).
ports: as udp, but each to a random destination port (1-65535): every
     (source role, port) pair is a role_stats row of its own.
Packets are 1 ms apart in capture time, so 1,000,000 of them span 1000 s:
the idle timeouts alone (TCP 300 s, UDP 120 s) would still keep 300,000 and
120,000 flows live. Sources never repeat within a file (the packet counter
is the address's low 24 bits), so every packet is a new flow."""
import random
import struct
import sys


def main():
    kind, count, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    rnd = random.Random(int(sys.argv[4]) if len(sys.argv) > 4 else 7)
    eth = bytes.fromhex("020000000001" "020000000002" "0800")
    dst = bytes([10, 99, 0, 1])
    proto = 6 if kind == "syn" else 17
    payload = b"" if kind == "syn" else struct.pack("!HHI", 1, 0, 0x2112A442) + bytes(12)
    l4len = 20 if kind == "syn" else 8 + len(payload)
    iplen = 20 + l4len
    frame_len = 14 + iplen
    ts0 = 1700000000
    fixed = struct.pack("!BBHHHBBH4s4s", 0x45, 0, iplen, 0, 0, 64, proto, 0, b"\0\0\0\0", dst)
    base = sum(struct.unpack("!10H", fixed))
    with open(out, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        buf = []
        for i in range(count):
            # A unique source per packet: the counter in the low 24 bits,
            # scrambled by a random first octet (never 10 or 0/127/224+).
            a = rnd.choice((11, 45, 77, 100, 131, 172, 185, 198, 203))
            src = bytes([a, (i >> 16) & 0xFF, (i >> 8) & 0xFF, i & 0xFF])
            sport = rnd.randint(1024, 65535)
            # The header checksum by parts: the fixed words once, then the
            # id and the source address of this packet.
            c = base + (i & 0xFFFF) + (src[0] << 8 | src[1]) + (src[2] << 8 | src[3])
            c = (c & 0xFFFF) + (c >> 16)
            c = (c & 0xFFFF) + (c >> 16)
            ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, iplen, i & 0xFFFF, 0, 64, proto, ~c & 0xFFFF, src, dst)
            if kind == "syn":
                l4 = struct.pack("!HHIIBBHHH", sport, 5061, rnd.getrandbits(32), 0, 5 << 4, 0x02, 64240, 0, 0)
            else:
                dport = 3478 if kind == "udp" else rnd.randint(1, 65535)
                l4 = struct.pack("!HHHH", sport, dport, l4len, 0) + payload
            ts = ts0 * 1000000 + i * 1000
            buf.append(struct.pack("<IIII", ts // 1000000, ts % 1000000, frame_len, frame_len) + eth + ip + l4)
            if len(buf) >= 65536:
                f.write(b"".join(buf))
                buf = []
        f.write(b"".join(buf))


if __name__ == "__main__":
    main()
