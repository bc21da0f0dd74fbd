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
# shellcheck disable=SC2046 # pkg-config's words are separate flags
clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -I"$root/src" \
    $(pkg-config --cflags libndpi lua5.4) -DLYNCAUDIT_SOURCE_DIR="\"$root\"" \
    "$here/fuzz_pipeline.c" "$root"/src/{decode,flow,classify,audit,topology,luabox}.c "$root"/src/dissect/*.c \
    "$ndpi_a" $(pkg-config --libs lua5.4) -lgcrypt -lm -o "$work/fuzz_pipeline"
cd "$work"
exec ./fuzz_pipeline -max_total_time="$secs" -print_final_stats=1 -rss_limit_mb=2048 -timeout=10 \
    corpus "$work/seeds/pipeline"
