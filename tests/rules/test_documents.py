#!/usr/bin/env python3
"""The five articles' metadata in the rule set agree with the articles.

lua/dsl.lua's DOCUMENTS (read out with M.documents(), as the C side does)
must give, for each seed file, the title, ms.date (as YYYY-MM-DD) and
ms.assetid of its front matter (doc 004 has none: its first line is the
title and "Topic Last Modified: DATE" the date), and docs/rules.md's table of
the five documents must say the same. Without the seeds folder, only the
rule set against docs/rules.md is checked (and the test says so).

Usage: test_documents.py PROJECT_DIR   (env LUA, LYNCAUDIT_SEEDS)"""
import json
import os
import re
import subprocess
import sys

root = sys.argv[1]
lua = os.environ.get("LUA", "lua5.4")
seeds = os.environ.get("LYNCAUDIT_SEEDS", os.path.join(root, "..", "shared", "seeds"))
failed = 0


def check(ok, what):
    global failed
    print(("ok   " if ok else "FAIL ") + what)
    failed += 0 if ok else 1


script = (
    'local M = dofile(DSL_PATH) '
    'for _, d in ipairs(M.documents()) do '
    'print(string.format("%s\\t%s\\t%s\\t%s\\t%s", d.doc, d.title, d.date or "", d.asset_id or "", d.url or "")) end')
script = script.replace("DSL_PATH", json.dumps(os.path.join(root, "lua", "dsl.lua")))
out = subprocess.run([lua, "-e", script], capture_output=True, text=True)
check(out.returncode == 0, "lua/dsl.lua M.documents() runs: " + out.stderr.strip())
docs = {}
for line in out.stdout.splitlines():
    doc, title, date, asset, url = line.split("\t")
    docs[doc] = (title, date, asset, url)
check(len(docs) == 5, f"five documents in the rule set ({len(docs)})")


def front_matter(text):
    """title, ISO date, asset id of a seed file."""
    if text.startswith("---\n"):
        head = text.split("\n---\n", 1)[0]
        field = dict(re.findall(r"^([\w.]+):\s*(.*)$", head, re.M))
        m, d, y = (int(x) for x in field["ms.date"].split("/"))
        return field["title"].strip('"'), f"{y:04d}-{m:02d}-{d:02d}", field.get("ms.assetid", "")
    first = text.splitlines()[0].strip()
    date = re.search(r"Topic Last Modified:\s*(\d{4}-\d{2}-\d{2})", text)
    return first, date.group(1) if date else "", ""


if os.path.isdir(seeds):
    files = sorted(f for f in os.listdir(seeds) if f.endswith(".txt"))
    check(sorted(docs) == files, f"the rule set names exactly the seed files {files}")
    for f in files:
        with open(os.path.join(seeds, f), encoding="utf-8") as fh:
            want = front_matter(fh.read())
        got = docs.get(f, ("", "", "", ""))[:3]
        check(got == want, f"{f}: title, date, asset id {got} = the article's {want}")
        if re.search(r"https?://", open(os.path.join(seeds, f), encoding="utf-8").read().split("\n#", 1)[0]):
            check(docs[f][3] != "", f"{f}: its front matter gives an address: the rule set has it")
else:
    print(f"note: no seeds at {seeds}: the rule set is checked against docs/rules.md only")

# docs/rules.md: one table row per document, with the same title, date and asset id.
with open(os.path.join(root, "docs", "rules.md"), encoding="utf-8") as fh:
    md = fh.read()
for doc, (title, date, asset, _url) in sorted(docs.items()):
    row = [r for r in md.splitlines() if r.startswith(f"| `{doc}` |")]
    cells = [c.strip() for c in row[0].strip("|").split("|")] if row else []
    check(len(cells) == 5 and cells[1] == title and cells[2].startswith(date)
          and cells[3] == (asset or "none given"),
          f"docs/rules.md lists {doc}: {title}, {date}, {asset or 'no asset id'}")
print(json.dumps({"failed": failed}))
sys.exit(1 if failed else 0)
