#!/usr/bin/env python3
"""The project's own sample (real peers on loopback, samples/README.md) with
its topology: every flow gets exactly the verdict the README's flow table
says, each of the five violation kinds shows up, ICMP errors are counted with
the flow they quote. Usage: test_sample.py LYNCAUDIT SOURCE_DIR"""
import os
import sqlite3
import subprocess
import sys
import tempfile

la, src = sys.argv[1:3]
# (transport, src_ip, dst_ip, dst_port or None for "relay ports") -> (flows, verdict, violation kinds), per README
EXPECTED = [
    ("F1", "tcp", "127.20.10.10", "127.20.1.10", 5061, 1, "ok", ""),
    ("F2", "tcp", "127.20.10.11", "127.20.1.10", 5060, 1, "violation", "no_rule"),
    ("F3", "tcp", "127.20.10.11", "127.20.1.11", 5061, 1, "violation", "wrong_protocol"),
    ("F4", "tcp", "127.20.10.12", "127.20.1.10", 8057, 1, "ok", ""),
    ("F5", "tcp", "127.20.10.13", "127.20.1.10", 7443, 1, "violation", "no_rule"),
    ("F6", "tcp", "127.20.1.11", "127.20.4.10", 5070, 1, "ok", ""),
    ("F7", "tcp", "127.20.6.10", "127.20.2.1", 5061, 1, "ok", ""),
    ("F8", "tcp", "127.20.5.10", "127.20.4.10", 5068, 1, "ok", ""),
    ("F8m", "udp", "127.20.5.10", "127.20.4.10", 49200, 1, "ok", ""),
    ("F9", "udp", "127.20.4.10", "127.20.5.10", 5060, 1, "violation", "no_rule"),
    ("F10+F11", "udp", "127.20.20.1", "127.20.3.10", 3478, 5, "ok", ""),
    ("F10r+F12r", "udp", "127.20.3.10", "127.20.20.20", 3478, 3, "ok", ""),
    ("F12", "tcp", "127.20.20.12", "127.20.3.10", 443, 2, "ok", ""),
    ("F13", "tcp", "127.20.20.13", "127.20.3.9", 443, 1, "ok", ""),
    ("F14", "tcp", "127.20.30.10", "127.20.3.9", 5061, 1, "ok", ""),
    ("F15", "tcp", "127.20.20.14", "127.20.3.11", 443, 1, "ok", ""),
    ("F16", "udp", "127.20.20.15", "127.20.3.10", 55000, 1, "violation", "port_range"),
    ("F17", "tcp", "127.20.31.10", "127.20.3.9", 5269, 1, "ok", ""),
    ("F17b", "tcp", "127.20.3.9", "127.20.31.10", 5269, 1, "ok", ""),
    ("F18", "tcp", "127.20.7.10", "127.20.1.10", 4443, 1, "violation", "wrong_protocol"),
    ("F19", "tcp", "127.20.9.1", "127.20.2.1", 5061, 1, "violation", "nat"),
    ("F20", "udp", "127.20.10.14", "127.20.4.10", 500, 1, "violation", "ipsec"),
]
# Labels the dissectors and the audit give (what the README says is on the wire).
LABELS = {"F1": "sip_tls", "F2": "sip", "F3": "sip", "F4": "psom", "F6": "sip_tls", "F7": "sip_tls",
          "F8": "sip", "F8m": "rtp", "F13": "sip_tls", "F14": "sip_tls", "F15": "psom", "F17": "xmpp",
          "F18": "http", "F20": "ike"}

passed = failed = 0


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL:", what)


with tempfile.TemporaryDirectory() as tmp:
    db = os.path.join(tmp, "s.db")
    rc = subprocess.run([la, "-q", "-t", os.path.join(src, "samples", "topology.lua"), "-d", db,
                         os.path.join(src, "samples", "lync-sample.pcap")]).returncode
    check(rc == 1, f"exit code 1 (violations found), got {rc}")
    con = sqlite3.connect(db)
    rows = con.execute("""SELECT f.id, transport, src_ip, dst_ip, dst_port, app, verdict, icmp_errors,
                                 coalesce(group_concat(v.kind), '')
                          FROM flows f LEFT JOIN violations v ON v.flow_id = f.id
                          GROUP BY f.id""").fetchall()
    seen = set()
    for name, tr, s, d, port, count, verdict, kinds in EXPECTED:
        # F10+F11: four TURN clients .10 and the STUN client .11 share the prefix
        match = [r for r in rows if r[1] == tr and r[2].startswith(s) and r[3] == d and r[4] == port]
        check(len(match) == count, f"{name}: {count} flow(s) {tr} {s} -> {d}:{port}, found {len(match)}")
        for r in match:
            seen.add(r[0])
            check(r[6] == verdict, f"{name}: verdict {verdict}, got {r[6]} ({r[8]})")
            check(r[8] == kinds, f"{name}: violations '{kinds}', got '{r[8]}'")
            if name in LABELS:
                check(r[5] == LABELS[name], f"{name}: label {LABELS[name]}, got {r[5]}")
    extra = [r for r in rows if r[0] not in seen]
    check(not extra, f"flows the README does not list: {extra}")
    check(not [r for r in rows if r[1] in ("icmp", "icmp6")], "ICMP errors are not flows of their own")
    f20 = [r for r in rows if r[4] == 500]
    check(f20 and f20[0][7] == 1, "F20's ICMP port unreachable is counted with it")
    kinds = {k for (k,) in con.execute("SELECT DISTINCT kind FROM violations")}
    check(kinds == {"no_rule", "wrong_protocol", "port_range", "nat", "ipsec"}, f"all five kinds, got {kinds}")
    # A reference a person can look up: the article's title, date and asset
    # id (the run's documents row), the table, the row number and its text;
    # never the seed file's name.
    cited = con.execute(
        "SELECT v.reference, d.title || ' (' || d.ms_date || coalesce(', asset id ' || d.asset_id, '') || ') | '"
        " || r.doc_table || ' | row ' || r.doc_row || ': ' || r.row_text"
        " FROM violations v JOIN rules r ON r.run_id = v.run_id AND r.id = v.rule_id"
        " JOIN documents d ON d.run_id = v.run_id AND d.doc = r.doc"
        " WHERE v.kind IN ('wrong_protocol','port_range','ipsec')").fetchall()
    check(len(cited) == 4 and all(ref == want and ".txt" not in ref for ref, want in cited),
          f"violations from rules cite the article (title, date, asset id), table, row and text: {cited[:1]}")
    nat = con.execute("SELECT reference FROM violations WHERE kind = 'nat'").fetchone()[0]
    check(nat == "Determine external A/V firewall and port requirements for Lync Server 2013 (2015-03-09, "
          "asset id 3b849dc7-175d-40d1-820d-80e6ade6d332) | NAT Requirements for External User Access",
          f"the NAT finding cites doc 001's article by title, date and asset id: {nat}")
    docs = con.execute("SELECT count(*), count(asset_id) FROM documents").fetchone()
    check(docs == (5, 4), f"the run stores the five articles (four with an asset id): {docs}")
    unused = con.execute("SELECT count(*) FROM unused_rules").fetchone()[0]
    check(unused > 0, "unused_rules lists documented ports nobody used")
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
