#!/usr/bin/env python3
"""MS-TURN call identity in the database: flows.msturn_* columns and the
`calls` view (docs/schema.md).

Writes a capture of hand-built MS-TURN Allocate requests and their error
responses on UDP 3478 ([MS-TURN] framing: no RFC 5389 cookie, MAGIC-COOKIE
first, unpadded attributes), as a Lync client sends them with the
[MS-TURNBWM] SIP Call Identifier 0x8062, SIP Dialog Identifier 0x8061 and
Location Profile 0x8068: two relay flows of one call, one of another, one
without them. Runs lyncaudit on it and checks the stored columns and the view.
Usage: test_calls.py LYNCAUDIT. Last line "N passed, M failed".
"""
import os
import sqlite3
import struct
import subprocess
import sys
import tempfile

passed = failed = 0


def ok(cond, what):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL: " + what)


def attr(t, v):
    return struct.pack("!HH", t, len(v)) + v


def msturn(mtype, txid, attrs):
    body = attr(0x000F, struct.pack("!I", 0x72C64BC6)) + attr(0x8008, struct.pack("!I", 6)) + b"".join(attrs)
    return struct.pack("!HH", mtype, len(body)) + txid + body


def frame(src, dst, sport, dport, payload):
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, bytes(src), bytes(dst)) + udp
    return b"\x00\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb\x08\x00" + ip


def write_pcap(path, frames):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i, fr in enumerate(frames):
            f.write(struct.pack("<IIII", 1700000000 + i, 0, len(fr), len(fr)) + fr)


def main():
    lyncaudit = sys.argv[1]
    client, relay = [10, 0, 0, 5], [198, 51, 100, 7]
    flows = [  # client port, call id, dialog id, location profile
        (50001, b"9f2c4e@contoso.com", b"9f2c4e;from-tag=a1;to-tag=b2", bytes([1, 2, 2, 0])),
        (50002, b"9f2c4e@contoso.com", b"9f2c4e;from-tag=a1;to-tag=b2", bytes([1, 2, 2, 0])),
        (50003, b"77aa01@contoso.com", b"77aa01;from-tag=c3", bytes([2, 2, 0, 0])),
        (50004, None, None, None),
    ]
    frames = []
    for n, (port, call, dialog, loc) in enumerate(flows):
        txid = bytes([n + 1]) * 16
        extra = [] if call is None else [attr(0x8062, call), attr(0x8061, dialog), attr(0x8068, loc)]
        frames.append(frame(client, relay, port, 3478, msturn(0x0003, txid, extra)))
        frames.append(frame(relay, client, 3478, port, msturn(0x0113, txid, [])))
    with tempfile.TemporaryDirectory() as tmp:
        cap, db = os.path.join(tmp, "calls.pcap"), os.path.join(tmp, "calls.db")
        write_pcap(cap, frames)
        p = subprocess.run([lyncaudit, "-q", "-d", db, cap], capture_output=True, text=True)
        ok(p.returncode == 3, "lyncaudit exits 3 (no topology: nothing audited): " + p.stderr.strip())
        con = sqlite3.connect(db)
        rows = con.execute("SELECT src_port, app, msturn_call_id, msturn_dialog_id, msturn_self_location,"
                           " msturn_peer_location, msturn_federation FROM flows ORDER BY src_port").fetchall()
        ok(len(rows) == 4, "four flows: %r" % (rows,))
        ok(all(r[1] == "msturn" for r in rows), "every flow is msturn")
        ok(rows[0][2:] == ("9f2c4e@contoso.com", "9f2c4e;from-tag=a1;to-tag=b2", "intranet", "internet",
                           "public_cloud"), "first flow's call identity: %r" % (rows[0],))
        ok(rows[2][4:] == ("intranet", "intranet", "none"), "third flow's location profile: %r" % (rows[2],))
        ok(rows[3][2:] == (None,) * 5, "a flow without the attributes has none: %r" % (rows[3],))
        calls = con.execute("SELECT call_id, flows, dialog_ids, federation FROM calls ORDER BY call_id").fetchall()
        ok(calls == [("77aa01@contoso.com", 1, "77aa01;from-tag=c3", "none"),
                     ("9f2c4e@contoso.com", 2, "9f2c4e;from-tag=a1;to-tag=b2", "public_cloud")],
           "calls view groups flows by call id: %r" % (calls,))
        con.close()
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
