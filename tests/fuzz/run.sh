#!/usr/bin/env bash
# Builds one libFuzzer target per dissector with clang (ASan + UBSan), seeds
# them from the shared captures' payloads and runs each for SECONDS.
# Usage: tests/fuzz/run.sh [SECONDS] [PCAP_DIR] [WORK_DIR]
# Exit 77 when clang with libFuzzer is not available (CTest: skipped).
set -euo pipefail
secs="${1:-30}"
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
pcaps="${2:-$root/../shared/pcaps}"
work="${3:-${TMPDIR:-/tmp}/lyncaudit-fuzz}"
cc="${CLANG:-clang}"
if ! command -v "$cc" >/dev/null 2>&1; then
    echo "clang not found: fuzz targets skipped (scripts/install-deps.sh all installs it)"
    exit 77
fi
if ! echo 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n){(void)d;(void)n;return 0;}' |
        "$cc" -x c -fsanitize=fuzzer - -o "$work.probe" 2>/dev/null; then
    echo "clang cannot link libFuzzer (libclang-rt-dev missing): fuzz targets skipped"
    exit 77
fi
rm -f "$work.probe"
mkdir -p "$work/bin" "$work/seeds" "$work/corpus"
python3 "$here/seeds.py" "$pcaps" "$work/seeds" >/dev/null
status=0
for t in msturn rtp sip xmpp ike tls; do
    "$cc" -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
        -I"$root/src" "$here/fuzz_$t.c" "$root"/src/dissect/*.c -o "$work/bin/fuzz_$t"
    mkdir -p "$work/corpus/$t"
    log="$work/fuzz_$t.log"
    if "$work/bin/fuzz_$t" -max_total_time="$secs" -print_final_stats=1 -rss_limit_mb=1024 \
            "$work/corpus/$t" "$work/seeds/$t" >"$log" 2>&1; then
        execs="$(awk '/stat::number_of_executed_units/ {print $2}' "$log")"
        echo "fuzz_$t: ok, $execs runs in ${secs}s, corpus $(ls "$work/corpus/$t" | wc -l)"
    else
        echo "fuzz_$t: FAILED (log: $log)"
        grep -m5 -E "ERROR|SUMMARY|runtime error" "$log" || true
        status=1
    fi
done
exit $status
