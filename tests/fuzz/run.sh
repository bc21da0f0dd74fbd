#!/usr/bin/env bash
# Builds libFuzzer targets with clang (ASan + UBSan), seeds them and runs
# each for SECONDS: one per dissector (seeded from the shared captures'
# payloads by seeds.py), decode (every link type; frames of the shared
# captures), topology and rules (the Lua loaders; samples/topology.lua,
# rules/*.lua and a Lua dictionary) -- the last three seeded by
# tests/robust/fuzz/seeds.py -- and the pcapng reader (the shared pcapng
# captures and a mergecap merge of two of them with different link types as
# seeds). A run longer than 10 s on one input counts as a hang (libFuzzer
# -timeout) for the Lua targets.
# Usage: tests/fuzz/run.sh [SECONDS] [PCAP_DIR] [WORK_DIR] [TARGET...]
#   TARGET: msturn rtp sip xmpp ike tls decode topology rules import pcapng (default: all)
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
dissectors=(msturn rtp sip xmpp ike tls)
targets=("${@:4}")
[ ${#targets[@]} -gt 0 ] || targets=("${dissectors[@]}" decode topology rules import pcapng)
want_dissector_seeds=0
want_loader_seeds=0
for t in "${targets[@]}"; do
    case "$t" in
    msturn | rtp | sip | xmpp | ike | tls) want_dissector_seeds=1 ;;
    decode | topology | rules) want_loader_seeds=1 ;;
    import) mkdir -p "$work/seeds/import" && cp "$root"/tests/topology/*.xml "$root"/tests/topology/*.tbxml "$work/seeds/import/" ;;
    pcapng)
        # pcapng by its magic number, whatever the name says; small ones (the
        # reader's paths, not the packets, are what is fuzzed)
        mkdir -p "$work/seeds/pcapng"
        find "$pcaps" -type f -size -80k -name '*.pcap*' | while read -r f; do
            [ "$(head -c 4 "$f" | od -An -tx1 | tr -d ' ')" = 0a0d0d0a ] && cp "$f" "$work/seeds/pcapng/$(basename "$f")"
        done
        ! command -v mergecap >/dev/null || mergecap -w "$work/seeds/pcapng/merged.pcapng" \
            "$pcaps/nDPI/rtcp_multiple_pkts_in_the_same_datagram.pcap" "$pcaps/nDPI/esp.pcapng" \
            "$pcaps/arkime/nflog.pcap" ;;
    *) echo "unknown fuzz target '$t'" >&2; exit 2 ;;
    esac
done
[ "$want_dissector_seeds" = 0 ] || python3 "$here/seeds.py" "$pcaps" "$work/seeds" >/dev/null
[ "$want_loader_seeds" = 0 ] || python3 "$root/tests/robust/fuzz/seeds.py" "$pcaps" "$root" "$work/seeds" >/dev/null
[ "$want_loader_seeds" = 0 ] || python3 "$root/tests/tunnels/test_frames.py" --seeds "$work/seeds/decode"
flags=(-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -I"$root/src")
# audit.c and what it calls: the label vocabulary and the TLS role policy are classify's
audit_srcs=("$root"/src/{audit,topology,luabox,classify,flow,suggest,digest}.c "$root"/src/dissect/*.c)
status=0
for t in "${targets[@]}"; do
    extra=()
    case "$t" in
    decode)
        "$cc" "${flags[@]}" "$here/fuzz_decode.c" "$root/src/decode.c" -o "$work/bin/fuzz_decode" ;;
    pcapng)
        "$cc" "${flags[@]}" "$here/fuzz_pcapng.c" "$root/src/pcapng.c" -o "$work/bin/fuzz_pcapng" ;;
    topology | rules)
        # shellcheck disable=SC2046 # pkg-config's words are separate flags
        "$cc" "${flags[@]}" -DLYNCAUDIT_SOURCE_DIR="\"$root\"" "$here/fuzz_$t.c" "${audit_srcs[@]}" \
            $(pkg-config --cflags --libs libndpi lua5.4 jansson libgcrypt) -o "$work/bin/fuzz_$t"
        extra=(-timeout=10 -dict="$root/tests/robust/fuzz/lua.dict") ;;
    import)
        # shellcheck disable=SC2046 # pkg-config's words are separate flags
        "$cc" "${flags[@]}" -DLYNCAUDIT_SOURCE_DIR="\"$root\"" "$here/fuzz_import.c" "$root/src/topo_import.c" \
            "${audit_srcs[@]}" $(pkg-config --cflags --libs libndpi lua5.4 libxml-2.0 jansson libgcrypt) -o "$work/bin/fuzz_import"
        extra=(-timeout=10) ;;
    *)
        "$cc" "${flags[@]}" "$here/fuzz_$t.c" "$root"/src/dissect/*.c $(pkg-config --cflags --libs jansson) -o "$work/bin/fuzz_$t" ;;
    esac
    mkdir -p "$work/corpus/$t"
    log="$work/fuzz_$t.log"
    if (cd "$work" && "$work/bin/fuzz_$t" -max_total_time="$secs" -print_final_stats=1 -rss_limit_mb=1024 \
            "${extra[@]}" "$work/corpus/$t" "$work/seeds/$t") >"$log" 2>&1; then
        execs="$(awk '/stat::number_of_executed_units/ {print $2}' "$log")"
        cov="$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -1)"
        echo "fuzz_$t: ok, $execs runs in ${secs}s, $cov, corpus $(ls "$work/corpus/$t" | wc -l)"
    else
        echo "fuzz_$t: FAILED (log: $log)"
        grep -m5 -E "ERROR|SUMMARY|runtime error|Test unit written" "$log" || true
        status=1
    fi
done
exit $status
