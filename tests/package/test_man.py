#!/usr/bin/env python3
"""The man pages against the --help they document (issue 14).

For each page (lyncaudit.1 / `lyncaudit --help`, lyncaudit-topology.1 /
`lyncaudit topology --help`, lyncaudit-report.1 / `lyncaudit report --help`):

  1. the page formats without a warning (man --warnings, groff -man -ww -z);
  2. the options named anywhere in --help and anywhere in the formatted page
     are the same set: an option added to --help and not to the page (or
     dropped from --help and left in the page) fails, naming it;
  3. every option --help defines (a line that starts with it) has an entry
     of its own in the page (a tagged paragraph), not just a mention;
  4. the page names the topology search path and the exit codes --help gives.

Usage: test_man.py LYNCAUDIT MANDIR
"""
import os
import re
import shutil
import subprocess
import sys

# An option: a dash or two and a letter, not inside a word (tcpdump-style,
# 5062-5087 and lyncaudit-topology(1) are not options).
OPTION = re.compile(r"(?<![\w-])--?[A-Za-z][A-Za-z0-9-]*")

PAGES = [("lyncaudit.1", []), ("lyncaudit-topology.1", ["topology"]), ("lyncaudit-report.1", ["report"]),
         ("lyncaudit-export.1", ["export"])]

failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL: " + msg)


def run(cmd, env=None):
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    return p.returncode, p.stdout, p.stderr


def options(text):
    return set(OPTION.findall(text))


def defined_options(help_text):
    """Options on the lines that define them ('  -d, --database FILE  ...')."""
    found = set()
    for line in help_text.splitlines():
        if re.match(r"\s+-", line):
            head = re.split(r"\s{2,}", line.strip())[0]
            found |= options(head)
    return found


def rendered(page):
    env = dict(os.environ, LC_ALL="C", MANWIDTH="1000", MAN_KEEP_FORMATTING="0")
    rc, out, err = run(["man", "--nh", "--nj", "-l", page], env)
    if rc != 0:
        fail(f"{page}: man -l exited {rc}: {err.strip()}")
    # col -b's work: no overstrike left from a terminal-less man, but be sure.
    return re.sub(r".\x08", "", out)


def tags(page_text_source):
    """The tags of the tagged paragraphs (.TP: the line after it), formatted
    roughly: escapes for the minus sign and fonts removed."""
    lines = page_text_source.splitlines()
    out = []
    for i, line in enumerate(lines[:-1]):
        if line.startswith(".TP"):
            t = lines[i + 1]
            t = t.replace("\\-", "-")
            t = re.sub(r"\\f[BIRP]", "", t)
            t = re.sub(r"^\.(B|I|BI|BR|IR|RB)\s+", "", t)
            out.append(t.replace('"', ""))
    return out


def check_warnings(path):
    env = dict(os.environ, LC_ALL="C.UTF-8", MANWIDTH="80")
    rc, out, err = run(["man", "--warnings", "-l", path], env)
    if rc != 0 or err.strip():
        fail(f"{os.path.basename(path)}: man --warnings: rc {rc}: {err.strip()}")
    rc, out, err = run(["groff", "-man", "-ww", "-z", path])
    if rc != 0 or err.strip():
        fail(f"{os.path.basename(path)}: groff -man -ww -z: rc {rc}: {err.strip()}")


def check_page(la, mandir, name, sub):
    path = os.path.join(mandir, name)
    if not os.path.isfile(path):
        fail(f"{name}: not found in {mandir}")
        return
    check_warnings(path)
    rc, help_text, err = run([la] + sub + ["--help"])
    if rc != 0 or not help_text:
        fail(f"{' '.join(['lyncaudit'] + sub)} --help: exit {rc}, {len(help_text)} bytes")
        return
    text = rendered(path)
    in_help, in_page = options(help_text), options(text)
    for o in sorted(in_help - in_page):
        fail(f"{name}: '{o}' is in `lyncaudit {' '.join(sub + ['--help'])}` but not in the page")
    for o in sorted(in_page - in_help):
        fail(f"{name}: '{o}' is in the page but not in `lyncaudit {' '.join(sub + ['--help'])}`")
    tagged = set()
    for t in tags(open(path).read()):
        tagged |= options(t)
    for o in sorted(defined_options(help_text) - tagged):
        fail(f"{name}: '{o}' is defined in --help but has no entry (.TP) of its own in the page")
    # Exit codes: each code --help lists is an entry of EXIT STATUS.
    codes = set(re.findall(r"^\s+([0-9])\s{2,}", help_text, re.M))
    codes |= set(re.findall(r"\b([0-9]) (?:done|the report was written|trouble)", help_text))
    section = re.search(r"^EXIT STATUS\n(.*?)(?=^\S)", text, re.M | re.S)
    listed = set(re.findall(r"^\s+([0-9])\s", section.group(1), re.M)) if section else set()
    if not codes:
        fail(f"{name}: no exit codes found in --help (the test's reading of it is out of date)")
    for c in sorted(codes - listed):
        fail(f"{name}: exit code {c} of --help is not in EXIT STATUS")
    print(f"{name}: {len(in_help)} options in --help, {len(in_page)} in the page, "
          f"{len(tagged)} with an entry; exit codes {sorted(listed)}")
    return text


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    la, mandir = sys.argv[1], sys.argv[2]
    for tool in ("man", "groff"):
        if not shutil.which(tool):
            print(f"SKIP: {tool} missing (scripts/install-deps.sh all: man-db, groff-base)")
            return 77
    texts = {}
    for name, sub in PAGES:
        texts[name] = check_page(la, mandir, name, sub)
    main_text = texts.get("lyncaudit.1") or ""
    # The search path, in its order, with the compiled-in system folder.
    rc, help_text, _ = run([la, "--help"])
    m = re.search(r"else (\S+/topology\.lua)", help_text)
    if not m:
        fail("`lyncaudit --help` no longer names the system topology (-t's default)")
    else:
        want = m.group(1)
        order = re.search(r"The search order: the -t file, then\s+\./topology\.lua,\s+then this file", main_text)
        if want not in main_text or not order:
            fail(f"lyncaudit.1: the search path (-t, ./topology.lua, {want}) is not in FILES")
    if failures:
        print(f"{len(failures)} failure(s)")
        return 1
    print("all man page checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
