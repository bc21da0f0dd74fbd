#!/usr/bin/env python3
"""`lyncaudit report`, with a real browser as the test: the sample audit
(samples/lync-sample.pcap, samples/topology.lua) into a temporary database,
its report rendered by headless Chromium to a PNG (kept in OUTDIR) and to
its DOM, which must hold every violation of the database, an SVG node per
role seen, every section; hostile text in the database stays text.

Usage: test_report.py LYNCAUDIT SOURCE_DIR OUTDIR CASE
CASE: html (the browser test), missing (expected-but-missing on a capture
without UDP 3478, not on the full sample), since, formats (json, md), errors."""
import html.parser
import json
import re
import os
import shutil
import sqlite3
import struct
import subprocess
import sys
import tempfile
import zlib

la, src, outdir, case = sys.argv[1:5]
PCAP = os.path.join(src, "samples", "lync-sample.pcap")
TOPO = os.path.join(src, "samples", "topology.lua")
SECTIONS = ["run", "compliance", "deployment", "violations", "missing", "close"]
# The full-size screenshot's height: the sample's report is about 14,000 px
# tall at 1280 px wide (docs/report.md).
FULL_HEIGHT = 16000
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def audit(db, *extra, cwd=None):
    """The sample audit; with cwd=src, named as samples/README.md names it."""
    files = ["samples/topology.lua", "samples/lync-sample.pcap"] if cwd else [TOPO, PCAP]
    p = subprocess.run([la, "-q", "--rules", os.path.join(src, "rules"), "-d", db, "-t", files[0], files[1], *extra],
                       capture_output=True, text=True, cwd=cwd)
    if p.returncode not in (0, 1):
        sys.exit("audit failed: %s" % p.stderr)


def report(db, *args, expect=0, cwd=None):
    p = subprocess.run([la, "report", db, *args], capture_output=True, cwd=cwd)
    if p.returncode != expect:
        sys.exit("report %s: exit %d, expected %d: %s" % (args, p.returncode, expect, p.stderr.decode()))
    return p


def chromium(html_path, *mode, size="1280,4000", scale=None):
    """Headless Chromium on the file, nothing from the network."""
    prof = tempfile.mkdtemp(prefix="la-chromium-")
    try:
        cmd = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--user-data-dir=" + prof, "--window-size=" + size]
        if scale:
            cmd.append("--force-device-scale-factor=%s" % scale)
        p = subprocess.run(cmd + list(mode) + ["file://" + os.path.abspath(html_path)],
                           capture_output=True, text=True, timeout=120)
        if p.returncode != 0:
            sys.exit("chromium failed (%d): %s" % (p.returncode, p.stderr[-2000:]))
        return p.stdout
    finally:
        shutil.rmtree(prof, ignore_errors=True)


class Dom(html.parser.HTMLParser):
    """The elements of the dumped DOM: (tag, attributes, text inside)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.elems, self.stack = [], []

    def handle_starttag(self, tag, attrs):
        for o in self.stack:  # cells apart: "#12 127.20.10.14:500 ..."
            o[2].append(" ")
        e = [tag, dict(attrs), []]
        self.elems.append(e)
        if tag not in ("meta", "br", "link", "img", "input", "hr"):
            self.stack.append(e)

    def handle_startendtag(self, tag, attrs):
        self.elems.append([tag, dict(attrs), []])

    def handle_endtag(self, tag):
        while self.stack:
            e = self.stack.pop()
            if e[0] == tag:
                break

    def handle_data(self, data):
        for e in self.stack:
            e[2].append(data)

    def find(self, tag=None, **attrs):
        out = []
        for t, a, text in self.elems:
            if (tag is None or t == tag) and all(
                    (v in a.get(k.rstrip("_"), "").split()) if k == "class_" else a.get(k) == v
                    for k, v in attrs.items()):
                out.append((t, a, "".join(text)))
        return out


def png_rows(path, first):
    """(width, height, rows first..last) of an 8-bit RGB(A) PNG as Chromium
    writes it, each row its pixel bytes. Unfiltering starts at the last row
    at or before `first` that needs no row above it (filter None or Sub), so
    the bottom of a tall screenshot costs little."""
    data, pos, idat, head = open(path, "rb").read(), 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if kind == b"IHDR":
            head = struct.unpack(">IIBBBBB", data[pos + 8:pos + 8 + 13])
        elif kind == b"IDAT":
            idat += data[pos + 8:pos + 8 + n]
        pos += 12 + n
    w, h, depth, ctype, _, _, interlace = head
    if depth != 8 or ctype not in (2, 6) or interlace:
        sys.exit("%s: not an 8-bit RGB(A) non-interlaced PNG" % path)
    bpp = 3 if ctype == 2 else 4
    raw, stride = zlib.decompress(idat), w * bpp + 1
    start = max(0, min(first, h - 1))
    while start > 0 and raw[start * stride] not in (0, 1):
        start -= 1
    prev, out = bytearray(w * bpp), []
    for y in range(start, h):
        f, line = raw[y * stride], bytearray(raw[y * stride + 1:(y + 1) * stride])
        if f == 2 and not any(line):
            line = bytearray(prev)
        elif f:
            for i in range(len(line)):
                a = line[i - bpp] if i >= bpp else 0
                b, c = prev[i], (prev[i - bpp] if i >= bpp else 0)
                if f == 1:
                    p = a
                elif f == 2:
                    p = b
                elif f == 3:
                    p = (a + b) // 2
                else:
                    e = a + b - c
                    pa, pb, pc = abs(e - a), abs(e - b), abs(e - c)
                    p = a if pa <= pb and pa <= pc else b if pb <= pc else c
                line[i] = (line[i] + p) & 255
        prev = line
        if y >= first:
            out.append(bytes(line))
    return w, h, out


def dom_of(html_path):
    d = Dom()
    d.feed(chromium(html_path, "--dump-dom"))
    return d


def db_violations(db, run):
    c = sqlite3.connect(db)
    rows = c.execute("SELECT v.flow_id, f.src_ip, f.dst_ip, v.rule_id, v.kind FROM violations v"
                     " JOIN flows f ON f.id = v.flow_id WHERE v.run_id = ?", (run,)).fetchall()
    roles = {r for (r,) in c.execute("SELECT src_role FROM flows WHERE run_id = ? UNION"
                                     " SELECT dst_role FROM flows WHERE run_id = ?", (run, run))}
    c.close()
    return rows, roles


def case_html(tmp):
    db = os.path.join(tmp, "a.db")
    audit(db)
    # Hostile text where peers put theirs: a violating flow's app_detail.
    c = sqlite3.connect(db)
    hostile = b"<script>document.title='pwned'</script><img src=x onerror=alert(1)> \"q\" 'a' &amp; \xff\xfe \x01"
    fid = c.execute("SELECT flow_id FROM violations WHERE kind = 'wrong_protocol' ORDER BY flow_id LIMIT 1").fetchone()[0]
    c.execute("UPDATE flows SET app_detail = CAST(? AS TEXT) WHERE id = ?", (hostile, fid))
    c.commit()
    c.close()
    out = os.path.join(tmp, "report.html")
    report(db, "-o", out)
    raw = open(out, "rb").read()
    check(b"<script" not in raw, "no <script in the written HTML")
    for bad in (b"src=\"http", b"href=\"http", b"@import", b"url(http"):
        check(bad not in raw, "nothing loaded from the network (%s)" % bad.decode())
    dom = dom_of(out)
    check(not dom.find("script"), "no script element in the DOM")
    check(not dom.find("img"), "no img element in the DOM (hostile text stays text)")
    title = dom.find("title")
    check(title and "pwned" not in title[0][2], "the hostile script did not run")
    for s in SECTIONS:
        check(dom.find("section", id=s), "section %s is in the page" % s)
    viol, roles = db_violations(db, 1)
    check(len(viol) == 8, "the sample has 8 violations (%d)" % len(viol))
    groups = {a["id"]: text for t, a, text in dom.find("article", class_="vgroup")}
    for flow_id, sip, dip, rule, kind in viol:
        row = dom.find("tr", id="flow-%d" % flow_id)
        check(len(row) == 1, "violation flow %d has its row" % flow_id)
        if row:
            check(sip in row[0][2] and dip in row[0][2], "flow %d row shows %s and %s" % (flow_id, sip, dip))
        grp = [t for t in groups.values() if re.search(r"#%d\b" % flow_id, t)]
        check(len(grp) == 1 and kind in grp[0] and (rule is None or rule in grp[0]),
              "flow %d is in a group naming %s and rule %s" % (flow_id, kind, rule))
    # Each flow row: first and last seen, packets, bytes, label, how the label
    # was reached; each group: the document row its rule cites, cell by cell.
    c = sqlite3.connect(db)
    for flow_id, first, last, pk, by, app, master, rule_id in c.execute(
            "SELECT f.id, f.first_seen, f.last_seen, f.packets_src2dst + f.packets_dst2src,"
            " f.bytes_src2dst + f.bytes_dst2src, f.app, f.ndpi_master, v.rule_id FROM violations v"
            " JOIN flows f ON f.id = v.flow_id WHERE v.run_id = 1"):
        row = dom.find("tr", id="flow-%d" % flow_id)
        text = row[0][2] if row else ""
        check(first in text and last in text and "{:,}".format(pk) in text and "{:,}".format(by) in text
              and app in text and ("nDPI %s/" % master) in text,
              "flow %d row: first/last seen, packets, bytes, label, how reached" % flow_id)
        if rule_id:
            rt = c.execute("SELECT row_text FROM rules WHERE run_id = 1 AND id = ?", (rule_id,)).fetchone()[0]
            grp = [t for t in groups.values() if re.search(r"#%d\b" % flow_id, t)]
            check(grp and all(cell.strip() in grp[0] for cell in rt.split(" | ")),
                  "flow %d's group cites the row of %s" % (flow_id, rule_id))
    c.close()
    hostile_row = dom.find("tr", id="flow-%d" % fid)
    check(hostile_row and "<script>document.title='pwned'</script>" in hostile_row[0][2]
          and "\ufffd" in hostile_row[0][2] and "\\x01" in hostile_row[0][2],
          "hostile app_detail shown as text, invalid UTF-8 as U+FFFD, control byte as \\x01")
    nodes = {a.get("data-role") for t, a, text in dom.find("g", class_="node")}
    check(nodes == roles, "one SVG node per role seen: %s vs %s" % (sorted(nodes), sorted(roles)))
    check(len(dom.find("g", class_="node")) == len(roles), "no role drawn twice")
    # Three columns: internal network, perimeter (Edge), outside.
    xs = {}
    for t, a, text in dom.find("g", class_="node"):
        m = re.search(r'<g class="node" data-role="%s"><rect x="([0-9.]+)"' % re.escape(a["data-role"]), raw.decode())
        xs[a["data-role"]] = float(m.group(1)) if m else None
    cols = {"internal": {"front_end", "director", "mediation", "pstn_gateway", "client_internal", "any"},
            "perimeter": {"edge_internal", "edge_access", "edge_webconf", "edge_av", "reverse_proxy"},
            "outside": {"client_external", "federation_partner", "xmpp_partner"}}
    check(set().union(*cols.values()) == set(xs) and None not in xs.values(), "the sample's roles: %s" % sorted(xs))
    band = {k: {xs[r] for r in v if r in xs} for k, v in cols.items()}
    check(all(len(b) == 1 for b in band.values())
          and max(band["internal"]) < min(band["perimeter"]) <= max(band["perimeter"]) < min(band["outside"]),
          "internal, Edge and outside roles in three columns, left to right: %s" % band)
    c = sqlite3.connect(db)
    pairs = c.execute("SELECT count(DISTINCT src_role || '>' || dst_role) FROM flows WHERE run_id = 1").fetchone()[0]
    c.close()
    check(len(dom.find("g", class_="edge")) == pairs, "one SVG edge per role pair (%d)" % pairs)
    red = [a for t, a, x in dom.find("g", class_="edge") if a.get("data-verdict") == "violation"]
    check(len(red) == 6, "six violating role pairs drawn red (%d)" % len(red))
    check(dom.find("table", id="compliance-table"), "the compliance table")
    check(dom.find("table", id="close-table"), "ports you can close")
    # The screenshots, kept in the build folder: the top at full size, and
    # the whole page at half scale.
    png = os.path.join(outdir, "report-sample.png")
    plain = os.path.join(tmp, "plain.db")
    audit(plain, cwd=src)
    report("plain.db", "-o", "sample.html", cwd=tmp)
    chromium(os.path.join(tmp, "sample.html"), "--screenshot=" + png)
    data = open(png, "rb").read()
    check(data[:8] == b"\x89PNG\r\n\x1a\n" and int.from_bytes(data[16:20], "big") == 1280,
          "a 1280 px wide PNG at %s" % png)
    # The page ends inside the whole-page one: its last rows are the page's
    # background, the whole width (a longer page has a scroll bar there).
    full = os.path.join(outdir, "report-sample-full.png")
    chromium(os.path.join(tmp, "sample.html"), "--screenshot=" + full, size="1280,%d" % FULL_HEIGHT, scale="0.5")
    w, h, rows = png_rows(full, FULL_HEIGHT // 2 - 20)
    bg = bytes.fromhex("f5f7fa") + (b"\xff" if rows and len(rows[0]) == 4 * w else b"")
    check(h == FULL_HEIGHT // 2 and rows and all(r == bg * w for r in rows),
          "the report of the sample ends within %d px at 1280 px wide (every section in %s)" % (FULL_HEIGHT, full))
    # The small one for docs/report-sample.png (the same command, a smaller scale).
    chromium(os.path.join(tmp, "sample.html"), "--screenshot=" + os.path.join(outdir, "report-sample-small.png"),
             size="1280,2900", scale="0.6")


def missing_ids(db, run):
    d = json.loads(report(db, "--run", str(run), "--format", "json").stdout)
    return {m["id"]: m for m in d["expected_missing"]}


def case_missing(tmp):
    db = os.path.join(tmp, "m.db")
    audit(db, "not udp port 3478")
    audit(db)
    cut, full = missing_ids(db, 1), missing_ids(db, 2)
    check("av-udp-3478" in cut, "without UDP 3478 the finding is there")
    if "av-udp-3478" in cut:
        m = cut["av-udp-3478"]
        check(m["fallback_flows"] == 2 and "TCP 443" in m["meaning"] and "fall back" in m["meaning"],
              "it says media fell back to TCP 443 (2 flows)")
        check(m["rule_id"] == "av-edge.dst.udp3478-in" and m["doc"].startswith("001_") and m["row_text"],
              "it cites the A/V Edge document row")
    check("av-udp-3478" not in full, "the full sample has no such finding")
    check(set(full) < set(cut), "the cut capture adds findings, removes none")
    # Captures made by leaving a peer out: the Director (the only server
    # role that opens SIP to the Edge internal interface in the sample) and
    # the external client that signs in on the Access Edge's 443.
    audit(db, "not host 127.20.6.10")
    audit(db, "not host 127.20.20.13")
    no_dir, no_client = missing_ids(db, 3), missing_ids(db, 4)
    check("edge-int-sip-5061" in no_dir and "edge-int-sip-5061" not in full
          and no_dir["edge-int-sip-5061"]["rule_id"] == "edge-int.sip-mtls-5061-in"
          and no_dir["edge-int-sip-5061"]["doc"].startswith("002_"),
          "without the Director: no SIP to the Edge internal interface, citing doc 002's row")
    check("ext-client-443" in no_client and "ext-client-443" not in full
          and no_client["ext-client-443"]["rule_id"] == "client.ext.sip-tls-443",
          "without the signing-in client: no external client sign-in on the Access Edge")
    check(set(no_dir) - set(full) == {"edge-int-sip-5061"} and set(no_client) - set(full) == {"ext-client-443"},
          "each cut adds its one finding")
    # A declared service that never appeared (issue 17, run_roles): without
    # the Mediation Server (and so the PSTN gateway, whose only peer it is)
    # its documented paths are expected but missing, each saying the role
    # was declared but never seen; a run of the roles of the flows alone
    # would list neither.
    audit(db, "not host 127.20.4.10")
    no_med = missing_ids(db, 5)
    for mid, rule in (("med-gateway", "srv.med.gateway-sip-5068"), ("med-fe-5070", "srv.med.sip-5070")):
        m = no_med.get(mid)
        check(m and mid not in full and m["rule_id"] == rule and m["doc"].startswith("003_") and m["row_text"]
              and m["meaning"].startswith("The topology declares mediation (127.20.4.10)")
              and "no flow of the run had an end there" in m["meaning"],
              "without the Mediation Server: %s, declared but never seen, citing doc 003 (%r)" % (mid, m))
    check("pstn_gateway (127.20.5.10)" in no_med.get("med-gateway", {}).get("meaning", ""),
          "the PSTN gateway named as declared but never seen too")
    check(set(no_med) - set(full) == {"med-gateway", "med-fe-5070"}, "the Mediation cut adds those two only: %r"
          % sorted(set(no_med) - set(full)))
    out = os.path.join(tmp, "m.html")
    report(db, "--run", "1", "-o", out)
    dom = dom_of(out)
    f = dom.find("article", id="missing-av-udp-3478")
    check(f and "fall back" in f[0][2] and "UDP 3478" in f[0][2], "the browser shows the finding")


def case_since(tmp):
    db = os.path.join(tmp, "s.db")
    audit(db, "not udp port 3478")
    audit(db)
    d = json.loads(report(db, "--since", "1", "--format", "json").stdout)
    check(d["run"]["id"] == 2 and d["since"]["run"] == 1, "run 2 since run 1")
    new = {(p["src_role"], p["dst_role"], p["transport"], p["dst_port"]) for p in d["since"]["paths"]
           if p["change"] == "new"}
    check(("client_external", "edge_av", "udp", 3478) in new and ("edge_av", "client_external", "udp", 3478) in new,
          "UDP 3478 both ways is new")
    back = json.loads(report(db, "--run", "1", "--since", "2", "--format", "json").stdout)
    gone = {(p["src_role"], p["dst_role"], p["transport"], p["dst_port"]) for p in back["since"]["paths"]
            if p["change"] == "gone"}
    check(new == gone, "new one way is gone the other way")
    res = {(v["kind"], v["transport"]) for v in d["since"]["violations"] if v["change"] == "resolved"}
    nw = {(v["kind"], v["transport"]) for v in back["since"]["violations"] if v["change"] == "new"}
    check(res == nw and ("no_rule", "icmp") in res,
          "the ICMP error flow (its UDP flow cut by the filter) is resolved in run 2: %s" % res)
    same = json.loads(report(db, "--run", "2", "--since", "2", "--format", "json", expect=2).stdout or b"null")
    check(same is None, "--since the run itself is refused")
    out = os.path.join(tmp, "s.html")
    report(db, "--since", "1", "-o", out)
    dom = dom_of(out)
    check(dom.find("section", id="since") and dom.find("table", id="diff-paths") and dom.find("table", id="diff-violations"),
          "the browser shows what changed")


def case_formats(tmp):
    db = os.path.join(tmp, "f.db")
    audit(db)
    d = json.loads(report(db, "--format", "json").stdout)
    c = sqlite3.connect(db)
    nviol = c.execute("SELECT count(*) FROM violations WHERE run_id = 1").fetchone()[0]
    flows = sorted(f["flow_id"] for g in d["violation_groups"] for f in g["flows"])
    check(flows == sorted(r[0] for r in c.execute("SELECT flow_id FROM violations WHERE run_id = 1")),
          "json: every violation's flow in the groups (%d)" % nviol)
    check(d["run"]["packets"] == c.execute("SELECT packets FROM runs WHERE id = 1").fetchone()[0], "json: packets")
    check({r["role"] for r in d["roles"]} == db_violations(db, 1)[1], "json: the roles seen")
    check(sum(p["flows"] for p in d["paths"]) == c.execute("SELECT count(*) FROM flows").fetchone()[0],
          "json: paths add up to the flows")
    check(d["since"] is None, "json: no since without --since")
    docs = [x for x in d["compliance"] if x["level"] == "document"]
    check(len(docs) == 5 and all(x["doc_rows"] >= x["exercised"] >= x["violated"] for x in docs),
          "json: five documents, rows >= exercised >= violated")
    tables = [x for x in d["compliance"] if x["level"] == "table"]
    for doc in docs:
        mine = [x for x in tables if x["doc"] == doc["doc"]]
        keys = ("doc_rows", "applicable", "exercised", "violated")
        check(mine and all(sum(x[k] for x in mine) == doc[k] for k in keys),
              "json: %s's tables add up to its line" % doc["doc"])
    unused = {r: (m, k, a) for r, m, k, a in c.execute(
        "SELECT id, matched, kind, active FROM rules WHERE run_id = 1")}
    close = [x["rule_id"] for x in d["ports_to_close"]]
    check(close and all(unused[r] == (0, "allow", 1) for r in close) and len(set(close)) == len(close),
          "json: ports to close are active allow rules that matched nothing (%d)" % len(close))
    pairs = [(x["from_roles"], x["to_roles"]) for x in d["ports_to_close"]]
    check(pairs == sorted(pairs), "json: ports to close by role pair")
    c.close()
    md = report(db, "--format", "md").stdout.decode()
    for h in ("## The run", "## Compliance by document and table", "## The deployment as seen", "## Violations",
              "## Expected but missing", "## Ports you can close"):
        check(("\n" + h + "\n") in md, "md: %s" % h)
    for flow_id, sip, dip, rule, kind in db_violations(db, 1)[0]:
        check(("| %d | %s:" % (flow_id, sip)) in md, "md: flow %d" % flow_id)
    # -o picks the format from the extension.
    out = os.path.join(tmp, "r.json")
    report(db, "-o", out)
    check(json.load(open(out)) == d, "-o r.json writes the same JSON")
    out = os.path.join(tmp, "r.md")
    report(db, "-o", out)
    check(open(out).read() == md, "-o r.md writes the same Markdown")


def case_errors(tmp):
    db = os.path.join(tmp, "e.db")
    audit(db)
    notdb = os.path.join(tmp, "x.db")
    open(notdb, "w").write("not a database\n" * 100)
    for args, what in (([os.path.join(tmp, "none.db")], "No such file"), ([db, "--run", "9"], "no run 9"),
                       ([db, "--since", "9"], "no run 9"), ([db, "--format", "pdf"], "html, json or md"),
                       ([db, "--run", "x"], "not a run number"), ([notdb], "not a lyncaudit database"),
                       ([], "no database"), ([db, "-o", os.path.join(tmp, "nodir", "r.html")], "No such file")):
        p = subprocess.run([la, "report", *args], capture_output=True, text=True)
        lines = p.stderr.strip().split("\n")
        check(p.returncode == 2 and len(lines) == 1 and what in lines[0] and lines[0].startswith("lyncaudit: report: "),
              "report %s: exit 2 and one line with %r (%d, %r)" % (args, what, p.returncode, p.stderr))
    check(not os.path.exists(os.path.join(tmp, "nodir")), "nothing half-written")
    check(not [f for f in os.listdir(tmp) if ".tmp-" in f], "no temporary file left")
    p = subprocess.run([la, "report", "--help"], capture_output=True, text=True)
    check(p.returncode == 0 and "--since RUN" in p.stdout, "report --help")
    p = subprocess.run([la, "--help"], capture_output=True, text=True)
    check("lyncaudit report DB" in p.stdout, "lyncaudit --help mentions the subcommand")


with tempfile.TemporaryDirectory(prefix="la-report-") as tmp:
    {"html": case_html, "missing": case_missing, "since": case_since, "formats": case_formats,
     "errors": case_errors}[case](tmp)
if failures:
    sys.exit("%d check(s) failed" % len(failures))
print("ok:", case)
