#!/usr/bin/env bash
# Build lyncaudit and audit the project's own sample capture.
# The database (lyncaudit.db) is written in the folder you run this from.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/install-deps.sh" build
cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$root/build" -j"$(nproc)" >/dev/null
rc=0
"$root/build/lyncaudit" -d "${LYNCAUDIT_DB:-lyncaudit.db}" -t "$root/samples/topology.lua" \
    "$root/samples/lync-sample.pcap" || rc=$?
# 0: compliant, 1: violations found (the sample has some on purpose), 2: trouble,
# 3: nothing audited (not with the sample's topology).
[ "$rc" -le 1 ] || exit "$rc"
echo "query it: sqlite3 ${LYNCAUDIT_DB:-lyncaudit.db} 'SELECT kind, message, reference FROM violation_report'"
