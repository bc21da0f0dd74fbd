#!/usr/bin/env bash
# Builds and runs fuzz_pipeline (decode -> flow -> classify -> audit on
# packet sequences) with clang, ASan and UBSan, for SECONDS. Exploration, not
# part of CTest: it needs nDPI's static library and takes a while to start.
# Usage: tests/robust/fuzz/run_pipeline.sh [SECONDS] [PCAP_DIR] [WORK_DIR]
set -euo pipefail
secs="${1:-60}"
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
pcaps="${2:-$root/../shared/pcaps}"
work="${3:-${TMPDIR:-/tmp}/lyncaudit-fuzz-pipeline}"
mkdir -p "$work/corpus"
python3 "$here/seeds.py" "$pcaps" "$root" "$work/seeds" >/dev/null
ndpi_a="$(pkg-config --variable=libdir libndpi)/libndpi.a"
# Every stage but main.c: the harness calls ingest, classify and audit, which
# pull in the rest.
srcs=()
for f in "$root"/src/*.c "$root"/src/dissect/*.c; do
    [ "$(basename "$f")" = main.c ] || srcs+=("$f")
done
# shellcheck disable=SC2046 # pkg-config's words are separate flags
clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -I"$root/src" \
    $(pkg-config --cflags libndpi lua5.4 libxml-2.0 sqlite3 libpcap) -DLYNCAUDIT_SOURCE_DIR="\"$root\"" \
    -DLYNCAUDIT_DATA_DIR="\"$root\"" -DLYNCAUDIT_VERSION="\"fuzz\"" \
    "$here/fuzz_pipeline.c" "${srcs[@]}" "$ndpi_a" $(pkg-config --libs lua5.4 libxml-2.0 sqlite3 libpcap) \
    -lgcrypt -lm -lpthread -o "$work/fuzz_pipeline"
cd "$work"
exec ./fuzz_pipeline -max_total_time="$secs" -print_final_stats=1 -rss_limit_mb=2048 -timeout=10 \
    corpus "$work/seeds/pipeline"
