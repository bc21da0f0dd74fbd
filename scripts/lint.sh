#!/usr/bin/env bash
# Static checks on src/, run by scripts/test.sh: cppcheck (any finding
# fails; a deliberate one is suppressed in place with a comment saying why)
# and no function over 100 lines.
# Usage: scripts/lint.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
status=0

out="$(cppcheck --quiet --enable=warning,portability,performance,style --std=c11 -I src \
    --inline-suppr --suppress=missingIncludeSystem \
    --template='{file}:{line}: {severity}: {message} [{id}]' src 2>&1 | grep -E '^src/.*\[[A-Za-z0-9_]+\]$' || true)"
if [ -n "$out" ]; then
    echo "lint: cppcheck findings:"
    echo "$out"
    status=1
fi

python3 - <<'PY' || status=1
import glob, re, sys
MAX = 100
bad = []
for path in sorted(glob.glob("src/*.c") + glob.glob("src/dissect/*.c")):
    lines = open(path, encoding="utf-8").read().split("\n")
    i = 0
    while i < len(lines):
        # A function body starts with "{" alone at column 0 (the house style).
        if lines[i] == "{":
            j = i - 1
            while j > 0 and not re.match(r"^[A-Za-z_]", lines[j]):
                j -= 1
            start = j
            k = i + 1
            while k < len(lines) and lines[k] != "}":
                k += 1
            n = k - start + 1
            name = re.search(r"([A-Za-z_][A-Za-z0-9_]*)\s*\(", lines[start])
            if n > MAX:
                bad.append(f"{path}:{start + 1}: {name.group(1) if name else '?'} is {n} lines (at most {MAX})")
            i = k
        i += 1
for b in bad:
    print("lint:", b)
sys.exit(1 if bad else 0)
PY
[ "$status" -eq 0 ] && echo "lint: clean"
exit "$status"
