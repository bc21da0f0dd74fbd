#!/usr/bin/env python3
"""Holds decode_packet against tshark on every packet of every shared capture.

For each packet: IP version, addresses (the innermost tunnel header, as
tshark's last ip.src), the transport protocol and TCP/UDP ports must be what
tshark dissects. IP reassembly is off in tshark so that both sides see each
fragment on its own. Packets tshark finds no IP in must be ones decode
rejects too. Usage: test_decode.py DECODE_DUMP PCAP_DIR
"""
import os
import subprocess
import sys

FIELDS = ["frame.number", "ip.src", "ip.dst", "ip.proto", "ipv6.src", "ipv6.dst",
          "tcp.srcport", "tcp.dstport", "udp.srcport", "udp.dstport", "icmp.type",
          "frame.protocols"]


def tshark_rows(path):
    cmd = ["tshark", "-n", "-r", path, "-o", "ip.defragment:FALSE", "-o", "ipv6.defragment:FALSE",
           "-T", "fields", "-E", "separator=\t", "-E", "occurrence=a", "-E", "aggregator=,"]
    for f in FIELDS:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False).stdout
    rows = {}
    for line in out.splitlines():
        cols = line.split("\t")
        cols += [""] * (len(FIELDS) - len(cols))
        rows[int(cols[0])] = dict(zip(FIELDS, cols))
    return rows


def expected(row):
    """The innermost IP header tshark saw, skipping ICMP-quoted headers."""
    protos = row["frame.protocols"].split(":")
    v4s, v6s = row["ip.src"].split(",") if row["ip.src"] else [], row["ipv6.src"].split(",") if row["ipv6.src"] else []
    v4d, v6d = row["ip.dst"].split(",") if row["ip.dst"] else [], row["ipv6.dst"].split(",") if row["ipv6.dst"] else []
    # Walk the layer list: every ip/ipv6 layer not inside icmp is a header we decode.
    ips = []
    i4 = i6 = 0
    in_icmp = False
    for p in protos:
        if p in ("icmp", "icmpv6"):
            in_icmp = True
        if p == "ip":
            if not in_icmp and i4 < len(v4s):
                ips.append((4, v4s[i4], v4d[i4]))
            i4 += 1
        elif p == "ipv6":
            if not in_icmp and i6 < len(v6s):
                ips.append((6, v6s[i6], v6d[i6]))
            i6 += 1
    if not ips:
        return None
    ver, src, dst = ips[-1]
    # The innermost transport header outside ICMP (UDP tunnels carry several).
    outside = protos[:protos.index("icmp")] if "icmp" in protos else protos
    outside = outside[:outside.index("icmpv6")] if "icmpv6" in outside else outside
    nth = lambda v, n: v.split(",")[n] if v and len(v.split(",")) > n else ""
    ports = None
    last = [p for p in outside if p in ("tcp", "udp")]
    if last:
        n = last.count(last[-1]) - 1
        t = last[-1]
        ports = (nth(row[t + ".srcport"], n), nth(row[t + ".dstport"], n))
    elif "tcp" in protos and not in_icmp_before(protos, "tcp"):
        ports = (nth(row["tcp.srcport"], 0), nth(row["tcp.dstport"], 0))
    return ver, src, dst, ports


def in_icmp_before(protos, name):
    for p in protos:
        if p in ("icmp", "icmpv6"):
            return True
        if p == name:
            return False
    return False


def main():
    dump, pcap_dir = sys.argv[1], sys.argv[2]
    manifest = os.path.join(pcap_dir, "MANIFEST.tsv")
    files = [l.split("\t")[0] for l in open(manifest).read().splitlines()[1:] if l.strip()]
    passed = failed = 0
    for name in files:
        path = os.path.join(pcap_dir, name)
        ours = {}
        out = subprocess.run([dump, path], capture_output=True, text=True, check=False)
        if out.returncode != 0:
            print(f"FAIL {name}: decode_dump exit {out.returncode}: {out.stderr.strip()}")
            failed += 1
            continue
        for line in out.stdout.splitlines():
            c = line.split("\t")
            ours[int(c[0])] = c[1:]
        theirs = tshark_rows(path)
        bad = []
        for num, row in theirs.items():
            exp = expected(row)
            got = ours.get(num)
            if got is None:
                bad.append(f"#{num}: not read by us")
                continue
            if exp is None:
                if got[0] == "ok":
                    bad.append(f"#{num}: tshark sees no IP, we decoded {got}")
                continue
            ver, src, dst, ports = exp
            if got[0] != "ok":
                # A header cut short by the snaplen: tshark shows what it can.
                if got[0] == "truncated":
                    continue
                # Past decode's 4 nested tunnels (5 IP headers): refused by design.
                if got[0] == "tunnels nested too deep" and row["frame.protocols"].split(":").count("ip") + \
                        row["frame.protocols"].split(":").count("ipv6") > 5:
                    continue
                bad.append(f"#{num}: tshark {exp}, we said {got[0]}")
                continue
            gver, gsrc, gdst, gproto, gsport, gdport, gfrag = got[1], got[2], got[3], got[4], got[5], got[6], got[7]
            if (int(gver), gsrc, gdst) != (ver, src, dst):
                bad.append(f"#{num}: addresses tshark {ver} {src}->{dst}, ours {gver} {gsrc}->{gdst}")
            if ports is not None and gfrag == "0" and (gsport, gdport) != ports:
                bad.append(f"#{num}: ports tshark {ports}, ours {(gsport, gdport)}")
        extra = set(ours) - set(theirs)
        if extra:
            bad.append(f"{len(extra)} packets we read that tshark did not")
        if bad:
            failed += 1
            print(f"FAIL {name}: {len(bad)} packet(s) differ")
            for b in bad[:10]:
                print("   ", b)
        else:
            passed += 1
            print(f"ok   {name}: {len(theirs)} packets agree")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
