#!/bin/sh
# CTest entry for the end-to-end oracle test (test_oracles.py).
# Usage: run_oracles.sh BUILD_DIR PCAP_DIR [test_oracles.py options...]
# Exit 77 (CTest SKIP_RETURN_CODE) only when tshark or ndpiReader is missing;
# any other problem, a missing binary or capture folder included, is a failure.
set -u
if [ $# -lt 2 ]; then
    echo "usage: $0 BUILD_DIR PCAP_DIR [options]" >&2
    exit 2
fi
build=$1
pcaps=$2
shift 2
for tool in tshark ndpiReader; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "SKIP: $tool is not installed (scripts/install-deps.sh all)" >&2
        exit 77
    fi
done
here=$(cd "$(dirname "$0")" && pwd)
exec python3 "$here/test_oracles.py" --lyncaudit "$build/lyncaudit" --pcaps "$pcaps" "$@"
