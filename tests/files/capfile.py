"""capfile.py - what the file tests share: a classic pcap reader, pcap and
pcapng writers (either byte order, any block the format has, for the cases
no Wireshark tool writes), and running lyncaudit into a database.

The packets written are real: frames read from the shared captures; only
their container (and, where a case says so, their times) is built here."""
import os
import sqlite3
import struct
import subprocess

LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101


def read_pcap(path):
    """A classic pcap's link type and records [(ts_us, data, wirelen)]."""
    data = open(path, "rb").read()
    magic = data[:4]
    e = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    nano = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    linktype = struct.unpack(e + "I", data[20:24])[0] & 0xFFFF
    recs, off = [], 24
    while off + 16 <= len(data):
        sec, frac, caplen, wirelen = struct.unpack(e + "IIII", data[off:off + 16])
        off += 16
        recs.append((sec * 1000000 + (frac // 1000 if nano else frac), data[off:off + caplen], wirelen))
        off += caplen
    return linktype, recs


def write_pcap(path, linktype, recs, snaplen=262144):
    """A little-endian microsecond pcap of [(ts_us, data, wirelen)]; the
    seconds are written as the format has them, unsigned 32 bits."""
    out = [struct.pack("<IHHiII", 0xA1B2C3D4, 2, 4, 0, 0, snaplen) + struct.pack("<I", linktype)]
    for ts, data, wirelen in recs:
        out.append(struct.pack("<IIII", ts // 1000000, ts % 1000000, len(data), wirelen) + data)
    with open(path, "wb") as f:
        f.write(b"".join(out))


def pad4(b):
    return b + b"\0" * (-len(b) % 4)


class Ng:
    """A pcapng being written: blocks appended in the byte order of the
    current section (`endian` '<' or '>')."""

    def __init__(self):
        self.out = bytearray()
        self.e = "<"

    def opt(self, code, value):
        return struct.pack(self.e + "HH", code, len(value)) + pad4(value)

    def end_opts(self):
        return struct.pack(self.e + "HH", 0, 0)

    def block(self, btype, body):
        body = pad4(body)
        n = 12 + len(body)
        self.out += struct.pack(self.e + "II", btype, n) + body + struct.pack(self.e + "I", n)
        return self

    def shb(self, endian="<", major=1, minor=0, options=b""):
        self.e = endian
        return self.block(0x0A0D0D0A, struct.pack(self.e + "IHHq", 0x1A2B3C4D, major, minor, -1) + options)

    def idb(self, linktype, snaplen=0, tsresol=None, tsoffset=None, options=b""):
        opts = options
        if tsresol is not None:
            opts += self.opt(9, bytes([tsresol]))
        if tsoffset is not None:
            opts += self.opt(14, struct.pack(self.e + "q", tsoffset))
        if opts:
            opts += self.end_opts()
        return self.block(1, struct.pack(self.e + "HHI", linktype, 0, snaplen) + opts)

    def epb(self, iface, units, data, wirelen=None, options=b""):
        body = struct.pack(self.e + "IIIII", iface, units >> 32, units & 0xFFFFFFFF, len(data),
                           len(data) if wirelen is None else wirelen) + pad4(data) + options
        return self.block(6, body)

    def pb(self, iface, units, data, wirelen=None):
        body = struct.pack(self.e + "HHIIII", iface, 0, units >> 32, units & 0xFFFFFFFF, len(data),
                           len(data) if wirelen is None else wirelen) + pad4(data)
        return self.block(2, body)

    def spb(self, data, wirelen=None):
        return self.block(3, struct.pack(self.e + "I", len(data) if wirelen is None else wirelen) + data)

    def save(self, path):
        with open(path, "wb") as f:
            f.write(bytes(self.out))
        return path


def units(ts_us, tsresol=None, tsoffset=0):
    """A time in microseconds in an interface's units (exact for the times
    the tests use: multiples of 1/8 s)."""
    res = 6 if tsresol is None else tsresol
    per_s = 2 ** (res & 0x7F) if res & 0x80 else 10 ** res
    v = (ts_us - tsoffset * 1000000) * per_s
    assert v % 1000000 == 0, "time %d not exact in resolution %#x" % (ts_us, res)
    return v // 1000000


def pcapng_interfaces(path):
    """[(section, linktype, snaplen, tsresol or None)] of a pcapng file."""
    data = open(path, "rb").read()
    out, off, e, section = [], 0, "<", -1
    while off + 12 <= len(data):
        if data[off:off + 4] == b"\x0a\x0d\x0d\x0a":
            e = "<" if data[off + 8:off + 12] == b"\x4d\x3c\x2b\x1a" else ">"
            section += 1
        btype, blen = struct.unpack(e + "II", data[off:off + 8])
        if btype == 1:
            lt, _, snap = struct.unpack(e + "HHI", data[off + 8:off + 16])
            res, o = None, off + 16
            while o + 4 <= off + blen - 4:
                code, olen = struct.unpack(e + "HH", data[o:o + 4])
                if code == 0:
                    break
                if code == 9:
                    res = data[o + 4]
                o += 4 + olen + (-olen % 4)
            out.append((section, lt, snap, res))
        off += blen
    return out


def run(la, args, db, stdin=None, cwd=None):
    """Runs lyncaudit -q -d DB ARGS; (exit code, stderr)."""
    res = subprocess.run([la, "-q", "-d", db] + list(args), stdin=stdin, capture_output=True, timeout=300,
                         cwd=cwd)
    return res.returncode, res.stderr.decode("utf-8", "replace")


FLOW_COLS = ("transport, src_ip, src_port, dst_ip, dst_port, packets_src2dst, bytes_src2dst, packets_dst2src,"
             " bytes_dst2src, first_seen, last_seen, app, end_reason, verdict")


def flows(db, run_id=None, cols=FLOW_COLS):
    """The flows of a run (the last one by default), sorted."""
    con = sqlite3.connect(db)
    try:
        if run_id is None:
            run_id = con.execute("SELECT max(id) FROM runs").fetchone()[0]
        return sorted(con.execute("SELECT %s FROM flows WHERE run_id = ?" % cols, (run_id,)).fetchall())
    finally:
        con.close()


def run_row(db, cols, run_id=None):
    con = sqlite3.connect(db)
    try:
        if run_id is None:
            run_id = con.execute("SELECT max(id) FROM runs").fetchone()[0]
        return con.execute("SELECT %s FROM runs WHERE id = ?" % cols, (run_id,)).fetchone()
    finally:
        con.close()


def fresh(path):
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.unlink(path + suffix)
    return path
