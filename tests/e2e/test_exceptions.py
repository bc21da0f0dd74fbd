#!/usr/bin/env python3
"""Site exceptions on the project's sample (docs/rules.md, "Site exceptions").

Runs samples/lync-sample.pcap with samples/topology.lua three ways:
1. no exceptions: the eight findings of samples/README.md, exit 1;
2. an exceptions file that accepts the cleartext SIP trunk (by roles), the
   client's SIP on 5060 (by addresses) and, with an expiry before the capture,
   the client's 7443: those two flows are 'excepted' (rule_id the exception,
   no violation rows), the third keeps its no_rule finding and gains an
   expired_exception one; every other verdict is unchanged; the report lists
   the excepted flows in their own section;
3. an exceptions file that accepts every finding's path: every flow the rules
   refused is 'excepted', no violation is left and the exit code is 0.
Usage: test_exceptions.py LYNCAUDIT PROJECT_DIR"""
import json
import os
import sqlite3
import subprocess
import sys
import tempfile

la, root = sys.argv[1], sys.argv[2]
cap = os.path.join(root, "samples", "lync-sample.pcap")
topo = os.path.join(root, "samples", "topology.lua")
failed = passed = 0


def check(ok, what):
    global failed, passed
    if ok:
        passed += 1
    else:
        failed += 1
        print("FAIL: " + what)


def run(tmp, name, exceptions):
    db = os.path.join(tmp, name + ".db")
    args = [la, "-q", "-d", db, "-t", topo, cap]
    if exceptions is not None:
        path = os.path.join(tmp, name + ".lua")
        with open(path, "w") as f:
            f.write(exceptions)
        args[1:1] = ["--exceptions", path]
    p = subprocess.run(args, capture_output=True, text=True)
    return p.returncode, sqlite3.connect(db), p.stderr


def verdicts(con):
    return {(r[0], r[1], r[2], r[3]): (r[4], r[5]) for r in con.execute(
        "SELECT src_ip, src_port, dst_ip, dst_port, verdict, rule_id FROM flows")}


SOME = '''
exception { change = "CHG-1001", reason = "SIP trunk in cleartext until the gateway is replaced",
  from = "mediation", to = "pstn_gateway", transport = "udp", dports = 5060, apps = { "sip" } }
exception { change = "CHG-1002", id = "CHG-1002/pilot", reason = "pilot client on 5060",
  from = "127.20.10.11", to = "127.20.1.0/24", transport = "tcp", dports = { 5060 } }
exception { change = "CHG-0999", reason = "legacy port for a pilot", expires = "2026-11-20",
  from = "client_internal", to = "front_end", transport = "tcp", dports = "7443-7443" }
-- covers nothing the rules refuse: the allowed flows stay ok
exception { change = "CHG-1003", reason = "never used", from = "any", to = "any", transport = "udp", dports = 3478 }
'''

ALL = '''
local paths = {
  { "mediation", "pstn_gateway", "udp", 5060 }, { "client_external", "edge_av", "udp", 55000 },
  { "client_internal", "mediation", "udp", 500 }, { "client_internal", "front_end", "tcp", "5060-5061" },
  { "client_internal", "front_end", "tcp", 7443 }, { "reverse_proxy", "front_end", "tcp", 4443 },
  { "any", "edge_internal", "tcp", 5061 },
}
for i, p in ipairs(paths) do
  exception { change = "CHG-2000", id = "all-" .. i, reason = "accepted at the audit of 2026-11",
    from = p[1], to = p[2], transport = p[3], dports = p[4] }
end
'''

with tempfile.TemporaryDirectory() as tmp:
    rc0, base, _ = run(tmp, "base", None)
    check(rc0 == 1 and base.execute("SELECT count(*) FROM violations").fetchone()[0] == 8,
          f"no exceptions: exit 1 and eight findings (exit {rc0})")
    rc1, some, err = run(tmp, "some", SOME)
    check(rc1 == 1, f"some exceptions: still violations, exit 1 (exit {rc1}: {err})")
    exc = some.execute("SELECT dst_port, rule_id FROM flows WHERE verdict = 'excepted' ORDER BY dst_port, rule_id")
    exc = exc.fetchall()
    check(exc == [(5060, "CHG-1001"), (5060, "CHG-1002/pilot")], f"two flows excepted by their exception: {exc}")
    check(some.execute("SELECT count(*) FROM violations v JOIN flows f ON f.id = v.flow_id"
                       " WHERE f.verdict = 'excepted'").fetchone()[0] == 0, "excepted flows have no violation rows")
    exp = some.execute("SELECT f.dst_port, group_concat(v.kind, ',') FROM violations v JOIN flows f ON f.id = v.flow_id"
                       " WHERE f.dst_port = 7443 GROUP BY f.id").fetchall()
    check(exp == [(7443, "no_rule,expired_exception")], f"the expired exception is a finding beside no_rule: {exp}")
    ref = some.execute("SELECT rule_id, severity, reference FROM violations WHERE kind = 'expired_exception'").fetchone()
    check(ref and ref[0] == "CHG-0999" and ref[1] == "medium" and "legacy port for a pilot" in ref[2]
          and "some.lua:6" in ref[2], f"expired_exception names the exception, its reason and line: {ref}")
    check(some.execute("SELECT violations FROM runs").fetchone()[0] == 7, "runs.violations: 8 - 2 + 1")
    b, s = verdicts(base), verdicts(some)
    changed = {k for k in b if b[k] != s[k]}
    check(len(changed) == 2 and all(s[k][0] == "excepted" for k in changed),
          "every other flow keeps its verdict and rule (an exception never touches an ok flow)")
    rows = some.execute("SELECT id, change_ref, reason, from_spec, to_spec, transport, dports, apps, expires, source"
                        " FROM exceptions ORDER BY source").fetchall()
    check(len(rows) == 4 and rows[1] == ("CHG-1002/pilot", "CHG-1002", "pilot client on 5060", "127.20.10.11",
                                         "127.20.1.0/24", "tcp", "5060", None, None, os.path.join(tmp, "some.lua") + ":4"),
          f"the exceptions table: {rows[:2]}")
    rep = subprocess.run([la, "report", os.path.join(tmp, "some.db"), "--format", "json"], capture_output=True,
                         text=True)
    ex = json.loads(rep.stdout).get("excepted", []) if rep.returncode == 0 else []
    check(sorted((e["exception_id"], e["change_ref"], e["flows"]) for e in ex)
          == [("CHG-1001", "CHG-1001", 1), ("CHG-1002/pilot", "CHG-1002", 1)],
          f"lyncaudit report lists the excepted flows with their change: {ex}")
    md = subprocess.run([la, "report", os.path.join(tmp, "some.db"), "--format", "md"], capture_output=True,
                        text=True).stdout
    check("## Accepted deviations (site exceptions)" in md and "SIP trunk in cleartext" in md,
          "the Markdown report has the section with the reason")
    # The expiry day itself still holds (the flow began on 2026-11-21, UTC).
    _, day, _ = run(tmp, "day", SOME.replace('"2026-11-20"', '"2026-11-21"'))
    check(day.execute("SELECT verdict || ':' || rule_id FROM flows WHERE dst_port = 7443").fetchone()
          == ("excepted:CHG-0999",), "an exception holds through its expiry day")
    rc2, every, err = run(tmp, "all", ALL)
    n_exc = every.execute("SELECT count(*) FROM flows WHERE verdict = 'excepted'").fetchone()[0]
    n_viol_flows = base.execute("SELECT count(DISTINCT flow_id) FROM violations").fetchone()[0]
    check(rc2 == 0 and every.execute("SELECT count(*) FROM violations").fetchone()[0] == 0
          and n_exc == n_viol_flows, f"every finding accepted: exit 0, {n_exc} of {n_viol_flows} flows excepted ({err})")
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
