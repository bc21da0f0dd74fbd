#!/usr/bin/env python3
"""Runs every ```sql block of docs/schema.md against a database that
lyncaudit filled from a real capture with a topology, so the documented
queries keep working. Each must run without error; the ones about flows must
return rows. Usage: test_queries.py LYNCAUDIT SOURCE_DIR PCAP_DIR"""
import os
import re
import sqlite3
import subprocess
import sys
import tempfile

la, src, pcaps = sys.argv[1:4]
blocks = re.findall(r"```sql\n(.*?)```", open(os.path.join(src, "docs", "schema.md")).read(), re.S)
passed = failed = 0
with tempfile.TemporaryDirectory() as tmp:
    db = os.path.join(tmp, "q.db")
    topo = os.path.join(src, "samples", "topology.lua")
    rc = subprocess.run([la, "-q", "-t", topo, "-d", db, os.path.join(src, "samples", "lync-sample.pcap"),
                         os.path.join(pcaps, "nDPI/teams.pcap")]).returncode
    if rc not in (0, 1):
        print(f"lyncaudit exit {rc}")
        sys.exit(1)
    con = sqlite3.connect(db)
    for sql in blocks:
        try:
            rows = con.execute(sql).fetchall()
        except sqlite3.Error as e:
            failed += 1
            print(f"FAIL: {e}: {sql.strip()}")
            continue
        must_have_rows = "FROM flows" in sql or "violation" in sql.lower() or "FROM runs" in sql
        if must_have_rows and not rows:
            failed += 1
            print(f"FAIL: no rows: {sql.strip()}")
        else:
            passed += 1
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed or not blocks else 0)
