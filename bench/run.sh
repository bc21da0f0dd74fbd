#!/usr/bin/env bash
# lyncaudit benchmark: packets/s and peak memory beside ndpiReader (nDPI 4.2's
# own reader) and a libpcap-only floor, on one large capture built from
# ../shared/pcaps. See bench/README.md.
#
#   bench/run.sh                     timing table (default: 4.7 M packets, 5 runs)
#   bench/run.sh --perf              where lyncaudit's time goes (perf record)
#   bench/run.sh --callgrind         the same with valgrind, on a small capture
#   bench/run.sh --workers-sweep     speed and CPU per stage for 0..N classify workers
#   bench/run.sh --media             the same tables on a media-heavy capture (an Edge's load)
#
# Options:
#   --packets N     size of the built capture (default 4700000)
#   --stagger S     seconds between copy starts in it (default 1.0)
#   --capture FILE  time on FILE instead (pcap or pcapng)
#   --runs N        timed runs per tool, after one warm-up (default 5)
#   --no-ndpi       skip ndpiReader        --no-floor   skip the libpcap floor
#   --perf          profile lyncaudit with perf instead of timing
#   --callgrind     profile with callgrind on a --packets 200000 capture
#   --workers-sweep lyncaudit alone with --single-thread and --workers 1..N
#                   (N: --max-workers, default the CPUs), alternating rounds:
#                   wall, and CPU per packet of each stage (reader, classify,
#                   store) from lyncaudit -v; then the ceiling on more cores
#   --max-workers N the sweep's largest worker count
#   --media         build and use the media-heavy capture: RTP/SRTP in long
#                   flows with SIP, SIP/TLS, STUN/TURN and HTTP (default
#                   3000000 packets, --stagger 0.25)
#   --top N         symbols listed by --perf/--callgrind (default 25)
#   -h, --help
# Environment:
#   BENCH_DIR   cache folder for captures, build, scratch (default /tmp/lyncaudit-bench)
#   LYNCAUDIT   lyncaudit binary to time (default: Release build of this tree
#               in $BENCH_DIR/build, rebuilt incrementally on each run)
#   BENCH_CPU   CPUs every run may use, for taskset -c (default: all of this
#               machine's, e.g. 0-1; lyncaudit runs two threads on two or more
#               CPUs, ndpiReader one for a file; BENCH_CPU=1 compares on one CPU)
#   SHARED_PCAPS  source captures (default <repo>/../shared/pcaps)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
BENCH_DIR=${BENCH_DIR:-/tmp/lyncaudit-bench}
SHARED_PCAPS=${SHARED_PCAPS:-$repo/../shared/pcaps}

packets=4700000
stagger=1.0
capture=""
runs=5
mode=time
do_ndpi=1
do_floor=1
top=25
packets_set=0
stagger_set=0
media=0
max_workers=$(nproc)
# The media-heavy mix (--media): the shared captures of RTP/SRTP media, SIP,
# SIP/TLS, STUN/TURN and Lync's HTTP/TLS.
MEDIA_SET=rtpproxy/alice_srtp.pcap,heplify/rtp_rtcp_sip_ipv4_udp.pcap,sipp/g711a.pcap,nDPI/rtp.pcapng,\
arkime/stun-ice-testcall.pcap,nDPI/stun_dtls_rtp.pcapng,arkime/turn.pcap,nDPI/ocs.pcap,sngrep/tlssaved.pcap,\
heplify/sip_ipv4_tcp.pcap,nDPI/sip.pcap,nDPI/skype-conference-call.pcap

die() { echo "bench: $*" >&2; exit 2; }
usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
    case $1 in
        --packets) packets=${2:?}; packets_set=1; shift ;;
        --stagger) stagger=${2:?}; stagger_set=1; shift ;;
        --workers-sweep) mode=sweep ;;
        --max-workers) max_workers=${2:?}; shift ;;
        --media) media=1 ;;
        --capture) capture=${2:?}; shift ;;
        --runs) runs=${2:?}; shift ;;
        --no-ndpi) do_ndpi=0 ;;
        --no-floor) do_floor=0 ;;
        --perf) mode=perf ;;
        --callgrind) mode=callgrind ;;
        --top) top=${2:?}; shift ;;
        -h|--help) usage; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
    shift
done
[ "$mode" = callgrind ] && [ $packets_set = 0 ] && packets=200000
if [ $media = 1 ]; then
    [ $packets_set = 0 ] && [ "$mode" != callgrind ] && packets=3000000
    [ $stagger_set = 0 ] && stagger=0.25
fi
[[ $packets =~ ^[0-9]+$ && $runs =~ ^[0-9]+$ && $top =~ ^[0-9]+$ ]] || die "--packets, --runs and --top take whole numbers"

mkdir -p "$BENCH_DIR"
scratch=$(mktemp -d "$BENCH_DIR/run.XXXXXX")
trap 'rm -rf "$scratch"' EXIT

need() { command -v "$1" >/dev/null 2>&1 || die "$1 not found: install $2 (apt-get install -y $2)"; }
need python3 python3
[ -x /usr/bin/time ] || die "/usr/bin/time not found: apt-get install -y time"

# --- the capture --------------------------------------------------------------
if [ -n "$capture" ]; then
    [ -r "$capture" ] || die "cannot read $capture"
    if [ -r "$capture.info" ]; then
        npkts=$(awk -F'\t' '$1=="packets"{print $2}' "$capture.info")
    else
        need capinfos wireshark-common
        npkts=$(capinfos -M -c -T -r "$capture" | awk -F'\t' 'NR==1{print $2}')
    fi
else
    [ -d "$SHARED_PCAPS" ] || die "no shared captures at $SHARED_PCAPS (set SHARED_PCAPS)"
    gen=$(cat "$here/mkcapture.py" | md5sum | cut -c1-8)
    only=()
    kind=bench
    if [ $media = 1 ]; then only=(--only "$MEDIA_SET"); kind=media; fi
    capture="$BENCH_DIR/$kind-$packets-s$stagger-$gen.pcap"
    if [ ! -s "$capture" ] || [ ! -s "$capture.info" ]; then
        echo "bench: building $capture (once; reused after)" >&2
        python3 "$here/mkcapture.py" --src "$SHARED_PCAPS" --out "$capture" \
            --packets "$packets" --stagger "$stagger" "${only[@]}" >&2
    fi
    npkts=$(awk -F'\t' '$1=="packets"{print $2}' "$capture.info")
fi
[ -n "$npkts" ] && [ "$npkts" -gt 0 ] || die "could not count the packets in $capture"

# --- the binary ---------------------------------------------------------------
if [ -z "${LYNCAUDIT:-}" ]; then
    [ -f "$repo/CMakeLists.txt" ] || die "no CMakeLists.txt in $repo yet (or set LYNCAUDIT=path)"
    need cmake cmake
    echo "bench: building lyncaudit (Release) in $BENCH_DIR/build" >&2
    cmake -S "$repo" -B "$BENCH_DIR/build" -DCMAKE_BUILD_TYPE=Release >"$scratch/cmake.log" 2>&1 &&
        cmake --build "$BENCH_DIR/build" -j"$(nproc)" --target lyncaudit ndpi_loop >>"$scratch/cmake.log" 2>&1 ||
        { tail -30 "$scratch/cmake.log" >&2; die "build failed"; }
    LYNCAUDIT="$BENCH_DIR/build/lyncaudit"
fi
NDPI_LOOP=${NDPI_LOOP:-$(dirname "$LYNCAUDIT")/ndpi_loop}
[ -x "$LYNCAUDIT" ] || die "no lyncaudit binary at $LYNCAUDIT"

# --- pinning ------------------------------------------------------------------
pin=()
if command -v taskset >/dev/null 2>&1; then
    cpu=${BENCH_CPU:-0-$(($(nproc) - 1))}
    if taskset -c "$cpu" true 2>/dev/null; then pin=(taskset -c "$cpu"); fi
fi

db="$scratch/bench.db"
fresh_db() { rm -f "$db" "$db-wal" "$db-shm" "$db-journal"; }

# run_lync [extra args...] -- runs lyncaudit once on the capture, quiet.
# Exit 0 (compliant) and 1 (violations) are both a finished run.
run_lync() {
    fresh_db
    local rc=0
    "$@" "$LYNCAUDIT" -q -d "$db" "$capture" >/dev/null 2>"$scratch/lync.err" || rc=$?
    if [ $rc -gt 1 ]; then
        tail -5 "$scratch/lync.err" >&2
        die "lyncaudit exited $rc"
    fi
}

# ------------------------------------------------------------------------------
if [ "$mode" = perf ]; then
    need perf linux-perf
    "${pin[@]}" "$LYNCAUDIT" -q -d "$db" "$capture" >/dev/null 2>&1 || true   # warm the page cache
    echo "bench: perf record on $npkts packets ($capture)" >&2
    rc=0
    perf record -q -o "$scratch/perf.data" -F 1999 -- \
        "${pin[@]}" "$LYNCAUDIT" -q -d "$db" "$capture" >/dev/null 2>"$scratch/perf.err" || rc=$?
    fresh_db
    if [ ! -s "$scratch/perf.data" ] || [ $rc -gt 1 ]; then
        cat "$scratch/perf.err" >&2
        die "perf record failed here (kernel.perf_event_paranoid=$(cat /proc/sys/kernel/perf_event_paranoid 2>/dev/null)); try --callgrind"
    fi
    echo "== lyncaudit: share of samples by library"
    perf report -i "$scratch/perf.data" --stdio --no-children --sort dso -g none 2>/dev/null |
        grep -v '^#' | grep -v '^$' | head -12
    echo
    echo "== lyncaudit: top $top symbols (self time)"
    perf report -i "$scratch/perf.data" --stdio --no-children --sort symbol,dso -g none 2>/dev/null |
        grep -v '^#' | grep -v '^$' | sed 's/\( *-\)* *$//' | head -"$top"
    exit 0
fi

if [ "$mode" = callgrind ]; then
    need valgrind valgrind
    echo "bench: callgrind on $npkts packets ($capture); takes a while" >&2
    fresh_db
    rc=0
    valgrind --tool=callgrind --callgrind-out-file="$scratch/cg.out" \
        "$LYNCAUDIT" -q -d "$db" "$capture" >/dev/null 2>"$scratch/cg.err" || rc=$?
    [ $rc -le 1 ] || [ $rc -eq 3 ] || { tail -20 "$scratch/cg.err" >&2; die "callgrind run failed ($rc)"; }
    echo "== lyncaudit: top $top functions by instructions (self; callgrind)"
    callgrind_annotate --inclusive=no "$scratch/cg.out" 2>/dev/null |
        sed -n '/^Ir/,$p' | grep -v '^-' | grep -v '^$' | head -$((top + 2))
    exit 0
fi

# median FILE COLUMN
median() { awk -v c="$2" '{print $c}' "$1" | sort -g | awk '{v[NR]=$1} END{if(NR%2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'; }

if [ "$mode" = sweep ]; then
    [[ $max_workers =~ ^[0-9]+$ ]] && [ "$max_workers" -ge 1 ] || die "--max-workers takes a whole number >= 1"
    counts=(0 $(seq 1 "$max_workers"))
    "${pin[@]}" "$LYNCAUDIT" -q -d "$db" "$capture" >/dev/null 2>&1 || true   # warm the page cache
    echo "bench: workers sweep on $npkts packets ($capture), ${pin[*]:-unpinned}, $runs rounds of ${counts[*]}" >&2
    for ((i = 1; i <= runs; i++)); do
        for w in "${counts[@]}"; do
            fresh_db
            rc=0
            /usr/bin/time -f "%e %U %S %M" -o "$scratch/time" "${pin[@]}" "$LYNCAUDIT" -v --workers "$w" -d "$db" \
                "$capture" >/dev/null 2>"$scratch/lync.err" || rc=$?
            [ $rc -le 1 ] || [ $rc -eq 3 ] || { tail -5 "$scratch/lync.err" >&2; die "lyncaudit --workers $w exited $rc"; }
            # "lyncaudit: CPU s: reader R, classify C (N workers), store S; wall W"
            stages=$(sed -n 's/.*CPU s: reader \([0-9.]*\), classify \([0-9.]*\) .*store \([0-9.]*\);.*/\1 \2 \3/p' \
                "$scratch/lync.err")
            [ -n "$stages" ] || die "no CPU line from lyncaudit -v"
            echo "$(tail -1 "$scratch/time") $stages" >>"$scratch/sweep.$w"
        done
        printf 'bench: round %d/%d done (load average %s)\n' "$i" "$runs" "$(cut -d' ' -f1-3 /proc/loadavg)" >&2
    done
    echo
    echo "lyncaudit workers sweep: $npkts packets ($(basename "$capture")), median of $runs rounds, ${pin[*]:-unpinned}"
    echo "(workers 0 = --single-thread: classify's CPU is then counted in the reader's)"
    printf '%-8s %8s %9s %10s %11s %9s %9s %9s\n' workers "wall s" "M pkts/s" "peak MiB" "spread s" \
        "reader" classify store
    printf '%-8s %8s %9s %10s %11s %9s %9s %9s\n' "" "" "" "" "" "us/pkt" "us/pkt" "us/pkt"
    for w in "${counts[@]}"; do
        f="$scratch/sweep.$w"
        wl=$(median "$f" 1)
        lo=$(awk '{print $1}' "$f" | sort -g | head -1); hi=$(awk '{print $1}' "$f" | sort -g | tail -1)
        awk -v w="$w" -v wl="$wl" -v n="$npkts" -v m="$(median "$f" 4)" -v lo="$lo" -v hi="$hi" \
            -v r="$(median "$f" 5)" -v c="$(median "$f" 6)" -v s="$(median "$f" 7)" 'BEGIN{
            printf "%-8s %8.2f %9.3f %10.1f %5.2f..%-5.2f %9.3f %9.3f %9.3f\n", w, wl, n / wl / 1e6, m / 1024, lo, hi,
                r * 1e6 / n, c * 1e6 / n, s * 1e6 / n }'
    done
    # The ceiling: the reader thread does reading and the store for every
    # packet (serial); classify divides over the workers.
    f="$scratch/sweep.$max_workers"
    awk -v n="$npkts" -v r="$(median "$f" 5)" -v c="$(median "$f" 6)" -v s="$(median "$f" 7)" 'BEGIN{
        rs = (r + s) * 1e6 / n; cl = c * 1e6 / n;
        k = cl / rs; kk = int(k); if (kk < k) kk++;
        printf "ceiling: the reader thread (reader %.3f + store %.3f us/pkt, serial) limits at %.2f M pkts/s;\n", r * 1e6 / n, s * 1e6 / n, 1 / rs;
        printf "classify (%.3f us/pkt in all, divided over the workers) needs %d worker%s to keep up with it:\n", cl, kk, kk == 1 ? "" : "s";
        printf "on %d CPUs or more lyncaudit reaches about %.2f M pkts/s, and the reader and the store are the limit\n", kk + 1, 1 / rs }'
    exit 0
fi

# --- timing -------------------------------------------------------------------
tools=(lyncaudit lyncaudit-1t)
if [ -x "$NDPI_LOOP" ]; then tools+=(ndpi-loop)
else echo "bench: no $NDPI_LOOP (bench/ndpi_loop.c); skipping the bare nDPI loop" >&2; fi
if [ $do_ndpi = 1 ]; then
    if command -v ndpiReader >/dev/null 2>&1; then tools+=(ndpiReader)
    else echo "bench: ndpiReader not found (apt-get install -y libndpi-bin); skipping it" >&2; do_ndpi=0; fi
fi
if [ $do_floor = 1 ]; then
    if command -v tcpdump >/dev/null 2>&1; then tools+=(libpcap)
    else echo "bench: tcpdump not found; skipping the libpcap floor" >&2; do_floor=0; fi
fi

# one_run TOOL OUTFILE: one timed run, "%e %U %S %M" appended to OUTFILE
one_run() {
    local tool=$1 out=$2 t="$scratch/time"
    case $tool in
        lyncaudit)
            run_lync /usr/bin/time -f "%e %U %S %M" -o "$t" "${pin[@]}" ;;
        lyncaudit-1t)
            fresh_db
            local rc=0
            /usr/bin/time -f "%e %U %S %M" -o "$t" "${pin[@]}" "$LYNCAUDIT" -q --single-thread -d "$db" "$capture" \
                >/dev/null 2>"$scratch/lync.err" || rc=$?
            [ $rc -le 1 ] || [ $rc -eq 3 ] || { tail -5 "$scratch/lync.err" >&2; die "lyncaudit --single-thread exited $rc"; } ;;
        ndpi-loop)
            /usr/bin/time -f "%e %U %S %M" -o "$t" "${pin[@]}" "$NDPI_LOOP" "$capture" >/dev/null 2>&1 ||
                die "ndpi_loop failed" ;;
        ndpiReader)
            /usr/bin/time -f "%e %U %S %M" -o "$t" "${pin[@]}" \
                ndpiReader -q -i "$capture" >/dev/null 2>&1 || die "ndpiReader failed" ;;
        libpcap)
            /usr/bin/time -f "%e %U %S %M" -o "$t" "${pin[@]}" \
                tcpdump -r "$capture" -w /dev/null >/dev/null 2>&1 || die "tcpdump -r failed" ;;
    esac
    tail -1 "$t" >>"$out"
}

echo "bench: $npkts packets, $(du -h "$capture" | cut -f1) ($capture)" >&2
echo "bench: ${pin[*]:-unpinned}; 1 warm-up + $runs runs each, alternating: ${tools[*]}" >&2

# Warm-up: fills the page cache. lyncaudit's and ndpiReader's own summaries
# are taken from a non-quiet run of each here (not timed).
fresh_db
"${pin[@]}" "$LYNCAUDIT" -d "$db" "$capture" >"$scratch/lync.summary" 2>&1 || true
fresh_db
if [ $do_ndpi = 1 ]; then
    "${pin[@]}" ndpiReader -i "$capture" >"$scratch/ndpi.summary" 2>&1 || true
fi
[ $do_floor = 1 ] && one_run libpcap "$scratch/warm"

for ((i = 1; i <= runs; i++)); do
    for tool in "${tools[@]}"; do
        one_run "$tool" "$scratch/times.$tool"
    done
    printf 'bench: round %d/%d done (load average %s)\n' "$i" "$runs" "$(cut -d' ' -f1-3 /proc/loadavg)" >&2
done

# What lyncaudit stored in its last run (sanity: it saw every packet).
stored=""
if command -v sqlite3 >/dev/null 2>&1 && [ -f "$db" ]; then
    stored=$(sqlite3 "$db" "SELECT packets || ' packets, ' || flows || ' flows' FROM runs ORDER BY id DESC LIMIT 1" 2>/dev/null || true)
fi

echo
echo "lyncaudit bench: $npkts packets ($(basename "$capture")), median of $runs runs, ${pin[*]:-unpinned}"
printf '%-11s %8s %8s %8s %10s %10s\n' tool "wall s" "user s" "sys s" "M pkts/s" "peak MiB"
for tool in "${tools[@]}"; do
    f="$scratch/times.$tool"
    [ -s "$f" ] || continue
    w=$(median "$f" 1); u=$(median "$f" 2); s=$(median "$f" 3); m=$(median "$f" 4)
    printf '%-11s %8.2f %8.2f %8.2f %10.3f %10.1f\n' "$tool" "$w" "$u" "$s" \
        "$(awk -v n="$npkts" -v w="$w" 'BEGIN{print (w > 0 ? n / w / 1e6 : 0)}')" \
        "$(awk -v m="$m" 'BEGIN{print m / 1024}')"
    v=${tool//-/_}
    eval "wall_$v=$w; rss_$v=$m; cpu_$v=$(awk -v u="$u" -v s="$s" 'BEGIN{print u + s}')"
done
if [ $do_ndpi = 1 ]; then
    # Ratios use per-run medians; the spread (min..max of the per-round
    # ratio) shows how noisy the machine was.
    spread=$(paste -d' ' "$scratch/times.lyncaudit" "$scratch/times.ndpiReader" |
        awk '{r = $5 / $1; if (NR == 1 || r < lo) lo = r; if (NR == 1 || r > hi) hi = r} END{printf "%.2f..%.2f", lo, hi}')
    awk -v wl="$wall_lyncaudit" -v wn="$wall_ndpiReader" -v ml="$rss_lyncaudit" -v mn="$rss_ndpiReader" -v sp="$spread" 'BEGIN{
        printf "lyncaudit / ndpiReader: speed %.2fx (per round %s; target >= 5x, every round >= 4x), peak memory %.3f of it (target <= 0.12)\n",
            wn / wl, sp, ml / mn }'
    awk -v w1="$wall_lyncaudit_1t" -v wn="$wall_ndpiReader" -v cl="$cpu_lyncaudit" -v cn="$cpu_ndpiReader" 'BEGIN{
        printf "on one thread (--single-thread): speed %.2fx; CPU time per packet (all threads): %.2f of ndpiReader'"'"'s (target <= 0.25)\n",
            wn / w1, cl / cn }'
    if [ -n "${wall_ndpi_loop:-}" ]; then
        awk -v wp="$wall_ndpi_loop" -v wn="$wall_ndpiReader" -v wl="$wall_lyncaudit_1t" 'BEGIN{
            printf "bare nDPI loop (same reading, decode, flow table and nDPI feeding; nothing else): %.2fx ndpiReader, the ceiling of one thread; lyncaudit --single-thread takes %.2fx its time\n",
                wn / wp, wl / wp }'
    fi
fi
[ $do_floor = 1 ] && awk -v wl="$wall_lyncaudit" -v wp="$wall_libpcap" 'BEGIN{
    printf "libpcap floor (tcpdump -r FILE -w /dev/null): lyncaudit takes %.2fx its time (media-heavy capture: target <= 2x)\n", wl / wp }'
[ -n "$stored" ] && echo "lyncaudit's last run stored: $stored"
echo
echo "lyncaudit's own summary (warm-up run, not quiet):"
grep -v '^\s*$' "$scratch/lync.summary" | tail -15 | sed 's/^/  /'
if [ $do_ndpi = 1 ]; then
    echo "ndpiReader's own figures (warm-up run):"
    grep -E 'Setup Time|Packet Processing Time|nDPI throughput|Unique flows|Peak Memory' "$scratch/ndpi.summary" |
        sed 's/^[[:space:]]*/  /'
fi
