#!/usr/bin/env python3
"""Topology import and check on documents written for these tests.

Covers: a Topology Builder document with a three-address Edge behind NAT, a
Director pool, moved ports and a 0.0.0.0 machine (with and without --hosts);
a published topology with a one-address Edge and a 0.0.0.0 Standard Edition
server; each bad input (malformed XML, unknown schema version, an address in
two roles, a port outside 1-65535, a bad ports section) with its file:line,
exit 2 and nothing written. Every import must load at once (`topology
check`, which loads it with the rules as a run does).
Usage: test_import.py LYNCAUDIT
"""
import json
import os
import subprocess
import sys
import tempfile

BIN = os.path.abspath(sys.argv[1])
HERE = os.path.dirname(os.path.abspath(__file__))
failures = []


def run(*args):
    p = subprocess.run([BIN, "topology", *args], cwd=HERE, capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def expect(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def check_json(path, *extra):
    rc, out, err = run("check", path, "--json", *extra)
    expect(rc == 0, f"check {path} {' '.join(extra)} loads (rc {rc}: {err.strip()})")
    return json.loads(out) if rc == 0 else {}


def roles_of(j):
    out = {}
    for p in j.get("prefixes", []):
        out.setdefault(p["role"], []).append(p["prefix"])
    return out


tmp = tempfile.mkdtemp()
hosts = os.path.join(tmp, "hosts")
with open(hosts, "w") as f:
    f.write("# test names\n10.9.7.21  wac1.tailspin.test wac1\n10.7.1.5 se1.fabrikam.test\n")

# Topology Builder document, three-address Edge, NAT, Director, moved ports, 0.0.0.0 without --hosts.
out_lua = os.path.join(tmp, "three.lua")
rc, out, err = run("import", "three-edge.tbxml", "-o", out_lua)
expect(rc == 0, "import three-edge.tbxml")
warn = [l for l in err.splitlines() if l.strip()]
expect(len(warn) == 1 and "three-edge.tbxml:68:" in warn[0] and "wac1.tailspin.test" in warn[0],
       f"one warning line naming wac1.tailspin.test at line 68 ({warn})")
text = open(out_lua).read()
expect("-- Service Registrar IsDirector=true, Cluster dirpool.tailspin.test, Machine dir1.tailspin.test" in text,
       "entries are commented with service, cluster and machine")
expect("-- SIP domains: tailspin.test (default), tailspin-toys.test\n" in text and '  name = "tailspin.test",' in text,
       "the SIP domains as a comment, the default one as the name")
j = check_json(out_lua)
r = roles_of(j)
expect(r.get("front_end") == ["10.9.1.11", "10.9.1.12"], f"front_end {r.get('front_end')}")
expect(r.get("director") == ["10.9.6.11"], f"director from IsDirector=true {r.get('director')}")
expect(r.get("edge_internal") == ["10.9.2.1"], "edge_internal")
expect((r.get("edge_access"), r.get("edge_webconf"), r.get("edge_av")) == (["172.31.3.9"], ["172.31.3.11"], ["172.31.3.10"]),
       "three external addresses: access, webconf, av by the ports' InterfaceNumber")
expect(r.get("mediation") == ["10.9.4.11", "10.9.4.12"] and r.get("pstn_gateway") == ["10.9.5.1"]
       and r.get("persistent_chat") == ["10.9.8.11"], "mediation (Primary and Pstn), gateway, persistent chat")
expect("office_web_apps" not in r, "the 0.0.0.0 Office Web Apps machine is left out without --hosts")
nat = {n["public"]: n["translated"] for n in j.get("nat", [])}
expect(nat == {"198.51.100.9": "172.31.3.9", "198.51.100.11": "172.31.3.11", "198.51.100.10": "172.31.3.10"},
       f"NAT from ConfiguredIPAddress {nat}")
ports = {(p["role"], p["transport"], p["default"], p["port"]) for p in j.get("ports", [])}
expect(ports == {("edge_webconf", "tcp", "443", "444"), ("edge_av", "tcp", "50000-59999", "40000-49999"),
                 ("edge_av", "udp", "50000-59999", "40000-49999")}, f"port overrides {ports}")
moved = {m["id"] for m in j.get("moved_rules", [])}
expect("edge-ext.webconf-psom-443-in@topology:444" in moved
       and "edge-ext.av-rtp-udp-in-no-ocs2007@topology:40000-49999" in moved, "the rules move with the ports")
expect(j.get("options", {}).get("xmpp_federation", {}).get("value") is True
       and j["options"]["collocated_mediation"]["value"] is False, "options from the services")

# The same with --hosts: the 0.0.0.0 machine gets its address, no warning.
rc, out, err = run("import", "three-edge.tbxml", "--hosts", hosts)
expect(rc == 0 and err.strip() == "" and '"10.9.7.21",  -- Service WacService' in out,
       "--hosts resolves wac1.tailspin.test, no warning")

# Published topology: one-address Edge, 0.0.0.0 Standard Edition server, moved SIP port.
rc, out, err = run("import", "one-edge.xml")
expect(rc == 0 and "one-edge.xml:19:" in err and "se1.fabrikam.test" in err and "front_end = {" not in out,
       "published form: the 0.0.0.0 server is left out with a warning")
j = check_json("one-edge.xml", "--hosts", hosts)  # check reads XML too
r = roles_of(j)
expect(j.get("imported_from") == "one-edge.xml", "check on an XML document imports it first")
expect(r.get("front_end") == ["10.7.1.5"] and r.get("edge_access") == ["203.0.113.5"]
       and "edge_webconf" not in r and "edge_av" not in r, f"one external address is the Access Edge {r}")
ports = {(p["role"], p["default"], p["port"]) for p in j.get("ports", [])}
expect(("front_end", "5061", "5099") in ports, f"the Registrar's moved SIP port {ports}")
moved = {m["id"]: m for m in j.get("moved_rules", [])}
fe = [m for i, m in moved.items() if i.endswith("@topology:5099")]
expect(fe and all(m["dports"] == "5099" and m["to"] == "front_end" for m in fe),
       f"rules to front_end 5061 now name 5099 ({sorted(moved)[:4]})")

# --resolve (getaddrinfo: localhost), a load balancer VIP, a branch-site Registrar (SBA).
j = check_json("vip-resolve.xml", "--resolve")
r = roles_of(j)
expect("127.0.0.1" in r.get("front_end", []) and r.get("sba") == ["10.5.9.1"]
       and r.get("fe_load_balancer") == ["10.5.1.100"] and r.get("exchange_um") == ["10.5.3.11"]
       and j.get("options", {}).get("load_balancing", {}).get("value") == "hlb",
       f"--resolve, LoadBalancer VIP, SBA in a branch site, Exchange UM {r}")
rc, out, err = run("import", "vip-resolve.xml")
expect(rc == 0 and "vip-resolve.xml:15:" in err and "localhost" in err, "without --resolve: the warning names localhost")

# The command line.
for args, want in [((), 2), (("--help",), 0), (("frobnicate",), 2), (("import",), 2),
                   (("import", "three-edge.tbxml", "--bogus"), 2), (("discover",), 2),
                   (("import", "three-edge.tbxml", "--hosts", "/nonexistent"), 2)]:
    rc, out, err = run(*args)
    expect(rc == want and (want == 0 or err.startswith("lyncaudit: ") or err.startswith("Usage:")),
           f"topology {' '.join(args)}: exit {want} ({rc})")

# Bad input: one line with file:line, exit 2, nothing written (an existing -o file is kept).
keep = os.path.join(tmp, "keep.lua")
for doc, line, words in [("bad-malformed.xml", 6, "malformed XML"),
                         ("bad-version.xml", 3, "unknown schema version"),
                         ("bad-duplicate.xml", 14, "is in two roles"),
                         ("bad-port.xml", 17, "outside 1-65535")]:
    with open(keep, "w") as f:
        f.write("-- kept\n")
    rc, out, err = run("import", doc, "-o", keep)
    lines = err.strip().splitlines()
    expect(rc == 2 and len(lines) == 1 and lines[0].startswith(f"lyncaudit: {doc}:{line}: ") and words in lines[0]
           and open(keep).read() == "-- kept\n" and not [n for n in os.listdir(tmp) if ".tmp." in n],
           f"{doc}: exit 2, '{doc}:{line}: ... {words}', -o untouched ({lines})")
    rc, out, err = run("check", doc)
    expect(rc == 2 and err.startswith(f"lyncaudit: {doc}:{line}: "), f"check {doc}: exit 2 with file:line")
rc, out, err = run("check", "bad-ports.lua")
expect(rc == 2 and err.strip() == "lyncaudit: bad-ports.lua:8: port 70000 outside 1-65535 in ports[2].port",
       f"a ports section with a port outside 1-65535 ({err.strip()})")

# docs/topology.md's example document gives the output printed there, and
# `topology check` of that output the listing printed there.
docs = open(os.path.join(HERE, "../../docs/topology.md")).read()
xml = docs.split("An example document (`example.tbxml`):\n\n```xml\n", 1)[1].split("```", 1)[0]
lua = docs.split("on stderr):\n\n```lua\n", 1)[1].split("```", 1)[0]
with open(os.path.join(tmp, "example.tbxml"), "w") as f:
    f.write(xml)
p = subprocess.run([BIN, "topology", "import", "example.tbxml"], cwd=tmp, capture_output=True, text=True, timeout=60)
expect(p.returncode == 0 and p.stdout == lua and "example.tbxml:15: fe02.contoso.com" in p.stderr,
       "docs/topology.md: the example's import output is the one printed")
listing = docs.split("$ lyncaudit topology check example.lua\n", 1)[1].split("```", 1)[0]
with open(os.path.join(tmp, "example.lua"), "w") as f:
    f.write(p.stdout)
c = subprocess.run([BIN, "topology", "check", "example.lua"], cwd=tmp, capture_output=True, text=True, timeout=60)
expect(c.returncode == 0 and c.stdout == listing,
       "docs/topology.md: `topology check example.lua` prints the listing shown there"
       + ("" if c.stdout == listing else f" (got:\n{c.stdout})"))

print(f"{len(failures)} failure(s)")
sys.exit(1 if failures else 0)
