#!/usr/bin/env python3
"""SIP through real Linux tunnel devices, audited from the underlay.

Two network namespaces joined by a veth pair (the underlay); for each
tunnel kind the kernel can make (vxlan on 4789, vxlan on 8472 read with
--vxlan-port, gre, gretap, ip6gre, erspan v1 and v2, geneve) a device pair
and an overlay subnet; SIPp calls cross every overlay while tcpdump
captures the underlay. lyncaudit then reads the capture: every inner flow
must be one tshark's conv,udp shows, with tshark's packet counts per
direction, labelled sip, with the tunnel kind, the underlay endpoints and
the VNI / key the device used; no tunnel flow of its own; runs.tunnelled
counts the packets. Kinds the kernel lacks are named and skipped; the
test is skipped (77) when not root or without `ip netns`.
Usage: test_tunnels.py LYNCAUDIT WORKDIR
"""
import os
import shutil
import sqlite3
import subprocess
import sys
import time

NS1, NS2 = "lyt1", "lyt2"
# kind: (ip link add arguments for side 1 (local, remote filled), family, tunnel column, id)
KINDS = [
    ("vxlan", "type vxlan id 42 dstport 4789 local {l} remote {r}", 4, "vxlan", 42),
    ("vxlan8472", "type vxlan id 43 dstport 8472 local {l} remote {r}", 4, "vxlan", 43),
    ("geneve", "type geneve id 44 remote {r}", 4, "geneve", 44),
    ("gre", "type gre local {l} remote {r} key 45", 4, "gre", 45),
    ("gretap", "type gretap local {l} remote {r}", 4, "gre", None),
    ("ip6gre", "type ip6gre local {l6} remote {r6}", 6, "gre", None),
    ("erspan1", "type erspan seq key 46 erspan_ver 1 erspan 46 local {l} remote {r}", 4, "erspan2", 46),
    ("erspan2", "type erspan seq key 47 erspan_ver 2 erspan_dir ingress erspan_hwid 7 local {l} remote {r}", 4,
     "erspan3", 47),
]


def sh(cmd, check=True, **kw):
    return subprocess.run(cmd, shell=True, check=check, capture_output=True, text=True, **kw)


def ns(n, cmd, check=True):
    return sh(f"ip netns exec {n} {cmd}", check=check)


def setup():
    sh(f"ip netns add {NS1}; ip netns add {NS2}")
    sh(f"ip link add lyt-u1 netns {NS1} type veth peer name lyt-u2 netns {NS2}")
    for i, n in ((1, NS1), (2, NS2)):
        ns(n, f"ip link set lo up")
        ns(n, f"ip addr add 10.211.0.{i}/24 dev lyt-u{i}")
        ns(n, f"ip -6 addr add fd11::{i}/64 dev lyt-u{i} nodad")
        ns(n, f"ip link set lyt-u{i} up")
    made = []
    for k, (name, args, fam, col, tid) in enumerate(KINDS, start=1):
        ok = True
        for i, n in ((1, NS1), (2, NS2)):
            o = 3 - i
            a = args.format(l=f"10.211.0.{i}", r=f"10.211.0.{o}", l6=f"fd11::{i}", r6=f"fd11::{o}")
            res = ns(n, f"ip link add t{k} {a}", check=False)
            if res.returncode != 0:
                print(f"skip {name}: this kernel makes no such device ({res.stderr.strip()})")
                ok = False
                break
            ns(n, f"ip addr add 10.212.{k}.{i}/24 dev t{k}")
            ns(n, f"ip link set t{k} up")
        if ok:
            made.append((k, name, fam, col, tid))
    return made


def teardown():
    sh(f"ip netns del {NS1}", check=False)
    sh(f"ip netns del {NS2}", check=False)


def tshark_convs(cap, extra):
    out = sh(f"tshark -n -r {cap} {extra} -q -z conv,udp").stdout
    convs = {}
    for line in out.splitlines():
        f = line.split()
        if len(f) > 8 and "<->" in f and f[0].startswith("10.212."):
            a, b = f[0], f[2]
            # frames b->a (first), a->b
            convs[(a.rsplit(":", 1)[0], int(a.rsplit(":", 1)[1]), b.rsplit(":", 1)[0], int(b.rsplit(":", 1)[1]))] = (
                int(f[6]), int(f[3]))
    return convs


def main():
    lyncaudit, work = sys.argv[1], sys.argv[2]
    if os.geteuid() != 0:
        print("skipped: needs root (network namespaces)")
        return 77
    if not shutil.which("ip") or sh("ip netns list", check=False).returncode != 0:
        print("skipped: `ip netns` is not available")
        return 77
    for tool in ("sipp", "tcpdump", "tshark"):
        if not shutil.which(tool):
            print(f"skipped: {tool} is not installed")
            return 77
    os.makedirs(work, exist_ok=True)
    cap, db = os.path.join(work, "underlay.pcap"), os.path.join(work, "tunnels.db")
    for p in (cap, db):
        if os.path.exists(p):
            os.remove(p)
    teardown()
    failed = passed = 0
    procs = []
    try:
        made = setup()
        if not made:
            print("skipped: the kernel makes none of the tunnel devices")
            return 77
        dump = subprocess.Popen(["ip", "netns", "exec", NS1, "tcpdump", "-i", "lyt-u1", "-s", "0", "-U", "-w", cap],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(dump)
        time.sleep(1)
        for k, name, *_ in made:
            uas = subprocess.Popen(["ip", "netns", "exec", NS2, "sipp", "-sn", "uas", "-i", f"10.212.{k}.2", "-p", "5060",
                                    "-nostdin", "-timeout", "20"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            procs.append(uas)
        time.sleep(0.5)
        uacs = [subprocess.Popen(["ip", "netns", "exec", NS1, "sipp", "-sn", "uac", f"10.212.{k}.2:5060", "-i",
                                  f"10.212.{k}.1", "-p", "5070", "-m", "2", "-r", "10", "-d", "200", "-nostdin",
                                  "-timeout", "15"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                for k, *_ in made]
        for u in uacs:
            u.wait(timeout=30)
        time.sleep(1)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
        teardown()
    res = subprocess.run([lyncaudit, "-q", "--vxlan-port", "8472", "-d", db, cap], capture_output=True, text=True)
    if res.returncode not in (0, 1, 3):  # 3: no topology, nothing audited
        print(f"FAIL lyncaudit exit {res.returncode}: {res.stderr.strip()}")
        return 1
    theirs = tshark_convs(cap, "-d udp.port==8472,vxlan")
    con = sqlite3.connect(db)
    rows = con.execute("SELECT src_ip, src_port, dst_ip, dst_port, packets_src2dst, packets_dst2src, app, tunnel,"
                       " tunnel_src, tunnel_dst, tunnel_id FROM flows WHERE transport='udp'").fetchall()
    for k, name, fam, col, tid in made:
        net = f"10.212.{k}."
        mine = [r for r in rows if r[0].startswith(net)]
        want = {c: v for c, v in theirs.items() if c[0].startswith(net)}
        bad = []
        if not want:
            bad.append("tshark sees no inner UDP conversation")
        got = {}
        for r in mine:
            key, rkey = (r[0], r[1], r[2], r[3]), (r[2], r[3], r[0], r[1])
            got[key] = (r[4], r[5])
            exp = want.get(key) or (want.get(rkey)[::-1] if rkey in want else None)
            if exp is None:
                bad.append(f"flow {key} not in tshark")
            elif exp != (r[4], r[5]):
                bad.append(f"flow {key}: packets {r[4]}/{r[5]}, tshark {exp}")
            if r[6] != "sip":
                bad.append(f"flow {key}: label {r[6]}")
            under = ("10.211.0.1", "10.211.0.2") if fam == 4 else ("fd11::1", "fd11::2")
            if r[7] != col or sorted((r[8], r[9])) != sorted(under) or r[10] != tid:
                bad.append(f"flow {key}: tunnel {r[7:]} (want {col} {under} {tid})")
        for c in want:
            if c not in got and (c[2], c[3], c[0], c[1]) not in got:
                bad.append(f"tshark conversation {c} missing")
        if bad:
            failed += 1
            print(f"FAIL {name}: " + "; ".join(bad[:5]))
        else:
            passed += 1
            print(f"ok   {name}: {len(mine)} inner flow(s) as tshark, "
                  f"{sum(r[4] + r[5] for r in mine)} packets, sip, tunnel {col} id {tid}")
    outer = con.execute("SELECT count(*) FROM flows WHERE src_ip LIKE '10.211.%' AND transport IN ('gre','udp')"
                        " OR src_ip LIKE 'fd11:%'").fetchone()[0]
    tun = con.execute("SELECT tunnelled FROM runs").fetchone()[0]
    if outer:
        failed += 1
        print(f"FAIL {outer} tunnel flow(s) stored between the underlay endpoints")
    if tun <= 0:
        failed += 1
        print("FAIL runs.tunnelled is 0")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
