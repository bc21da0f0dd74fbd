#!/usr/bin/env bash
# Live-capture throughput: tcpreplay replays a capture onto `lo` at fixed
# packet rates while `lyncaudit -i lo` captures it; per rate, packets sent,
# packets lyncaudit processed, and libpcap's received/dropped counters from
# the run row; then the highest rate sustained with no loss. See
# bench/README.md, "Live capture: bench/replay.sh".
#
#   sudo bench/replay.sh                       default capture and rates
#   sudo bench/replay.sh --rates "50000 100000" --seconds 3
#   sudo bench/replay.sh --capture /tmp/lyncaudit-bench/bench-200000-s1.0-*.pcap
#
# Options:
#   --capture FILE  Ethernet capture to replay, pcap (pcapng is converted with
#                   editcap) (default: the shared
#                   heplify/rtp_rtcp_sip_ipv4_udp.pcap: SIP, RTP, RTCP, a few TCP connections)
#   --rates "R..."  packets/s steps (default "10000 50000 100000 200000 400000");
#                   the word "top" replays as fast as tcpreplay can (--topspeed)
#   --seconds S     replay time per step (default 5): R x S packets, looping the capture
#   --buffer KIB    lyncaudit -B (kernel capture buffer; default libpcap's 2 MiB)
#   --immediate     lyncaudit --immediate
#   --snaplen N     lyncaudit -s N (default: whole packets)
#   --unique-ip     tcpreplay --unique-ip: new addresses on every loop (new flows)
#   --capture-threads N  lyncaudit --capture-threads N (a PACKET_FANOUT group);
#                   with N > 1 lyncaudit is not pinned (CAPTURE_CPU default "")
#   --keep          keep the work folder (databases, logs)
#   -h, --help
# Environment:
#   LYNCAUDIT     binary (default: Release build of this tree in $BENCH_DIR/build)
#   BENCH_DIR     work and build folder (default /tmp/lyncaudit-bench)
#   REPLAY_CPU    CPU for tcpreplay  (default 0 with 2+ CPUs and taskset; "" no pinning)
#   CAPTURE_CPU   CPU for lyncaudit  (default 1 with 2+ CPUs and taskset; "" no pinning)
#   SHARED_PCAPS  the shared captures (default <repo>/../shared/pcaps)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
BENCH_DIR=${BENCH_DIR:-/tmp/lyncaudit-bench}
SHARED_PCAPS=${SHARED_PCAPS:-$repo/../shared/pcaps}

capture="$SHARED_PCAPS/heplify/rtp_rtcp_sip_ipv4_udp.pcap"
rates="10000 50000 100000 200000 400000"
seconds=5
buffer=""
snaplen=""
immediate=""
unique=""
keep=0

die() { echo "replay: $*" >&2; exit 2; }
usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
    case $1 in
        --capture) capture=${2:?}; shift ;;
        --rates) rates=${2:?}; shift ;;
        --seconds) seconds=${2:?}; shift ;;
        --buffer) buffer=${2:?}; shift ;;
        --immediate) immediate=1 ;;
        --snaplen) snaplen=${2:?}; shift ;;
        --unique-ip) unique=1 ;;
        --capture-threads) cthreads=${2:?}; shift ;;
        --keep) keep=1 ;;
        -h|--help) usage; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
    shift
done
[[ $seconds =~ ^[0-9]+$ && $seconds -gt 0 ]] || die "--seconds takes a whole number > 0"
[ -z "$buffer" ] || [[ $buffer =~ ^[0-9]+$ ]] || die "--buffer takes KiB, a whole number"
[ -z "$snaplen" ] || [[ $snaplen =~ ^[0-9]+$ ]] || die "--snaplen takes bytes, a whole number"
for r in $rates; do [[ $r =~ ^[0-9]+$ || $r = top ]] || die "bad rate '$r' (packets/s or 'top')"; done
[ "$(id -u)" -eq 0 ] || die "run as root (tcpreplay and the capture on lo)"
need() { command -v "$1" >/dev/null 2>&1 || die "$1 not found: install $2 (scripts/install-deps.sh all, or apt-get install -y $2)"; }
need tcpreplay tcpreplay
need python3 python3
need sqlite3 sqlite3
[ -r "$capture" ] || die "cannot read $capture"

mkdir -p "$BENCH_DIR"
W=$(mktemp -d "$BENCH_DIR/replay.XXXXXX")
chmod 755 "$W"
LAPID=""
cleanup() {
    [ -n "$LAPID" ] && kill "$LAPID" 2>/dev/null && wait "$LAPID" 2>/dev/null
    if [ "$keep" = 1 ]; then echo "replay: work folder kept: $W" >&2; else rm -rf "$W"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -z "${LYNCAUDIT:-}" ]; then
    need cmake cmake
    echo "replay: building lyncaudit (Release) in $BENCH_DIR/build" >&2
    cmake -S "$repo" -B "$BENCH_DIR/build" -DCMAKE_BUILD_TYPE=Release >"$W/cmake.log" 2>&1 &&
        cmake --build "$BENCH_DIR/build" -j"$(nproc)" --target lyncaudit >>"$W/cmake.log" 2>&1 ||
        { tail -30 "$W/cmake.log" >&2; die "build failed"; }
    LYNCAUDIT="$BENCH_DIR/build/lyncaudit"
fi
[ -x "$LYNCAUDIT" ] || die "no lyncaudit binary at $LYNCAUDIT"

# Pinning: tcpreplay and lyncaudit on different CPUs, so that the sender does
# not take the capturer's CPU (with one CPU, no pinning).
pin_replay=() pin_capture=()
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
    REPLAY_CPU=${REPLAY_CPU-0}
    if [ "${cthreads:-1}" -gt 1 ]; then CAPTURE_CPU=${CAPTURE_CPU-}; else CAPTURE_CPU=${CAPTURE_CPU-1}; fi
    [ -n "$REPLAY_CPU" ] && pin_replay=(taskset -c "$REPLAY_CPU")
    [ -n "$CAPTURE_CPU" ] && pin_capture=(taskset -c "$CAPTURE_CPU")
fi

# The replayed frames, made fit for lo: every frame's source MAC becomes
# 02:4c:59:4e:43:00 and its destination MAC 02:4c:59:4e:43:01 (locally
# administered, "LYNC"); nothing else changes.
# - The capture filter `ether src 02:4c:59:4e:43:00` then takes exactly the
#   replayed frames and none of the other loopback traffic (lo's own frames
#   have all-zero MACs; other tests and programs use loopback meanwhile).
# - A destination MAC that is not lo's makes the kernel take the frames as
#   meant for another host: its IP stack drops them (no RST or ICMP answers
#   that would add packets, nothing reaches programs listening on loopback).
# - The IP addresses are kept: rewritten to 127.x, the kernel would answer
#   the replayed TCP and UDP.
# Not tcprewrite: tcprewrite 4.4.3 --enet-smac/--enet-dmac gives IPv6
# multicast frames 33:33:... MACs of its own (both of them) and recomputes
# UDP checksums (18,526 frames of the 200,000-packet bench capture changed);
# frames that escape the marker look lost. The rewrite below keeps every
# byte after the MACs.
MARK_SRC=02:4c:59:4e:43:00
MARK_DST=02:4c:59:4e:43:01
src_capture=$capture
if [ "$(head -c 4 "$capture" | od -An -tx1 | tr -d ' ')" = 0a0d0d0a ]; then
    need editcap wireshark-common
    editcap -F pcap "$capture" "$W/converted.pcap" || die "cannot convert $capture to pcap"
    src_capture="$W/converted.pcap"
fi
cat >"$W/remac.py" <<'EOF'
import struct, sys
src, out = sys.argv[1], sys.argv[2]
smac, dmac = (bytes.fromhex(m.replace(":", "")) for m in sys.argv[3:5])
d = open(src, "rb").read()
e = {b"\xd4\xc3\xb2\xa1": "<", b"\x4d\x3c\xb2\xa1": "<", b"\xa1\xb2\xc3\xd4": ">", b"\xa1\xb2\x3c\x4d": ">"}.get(d[:4])
if not e:
    sys.exit("replay: %s: not a pcap file" % src)
if struct.unpack(e + "I", d[20:24])[0] & 0x0FFFFFF != 1:
    sys.exit("replay: %s: link type is not Ethernet: only Ethernet frames can be replayed onto lo" % src)
o = bytearray(d[:24])
off = 24
n = kept = 0
while off + 16 <= len(d):
    caplen = struct.unpack(e + "I", d[off + 8:off + 12])[0]
    rec, frame = d[off:off + 16], d[off + 16:off + 16 + caplen]
    off += 16 + caplen
    n += 1
    if len(frame) >= 14:  # a frame shorter than its MACs and type cannot be sent
        o += rec + dmac + smac + frame[12:]
        kept += 1
open(out, "wb").write(o)
print(n, kept)
EOF
read -r npkts nrep < <(python3 "$W/remac.py" "$src_capture" "$W/replay.pcap" "$MARK_SRC" "$MARK_DST") ||
    die "cannot prepare $capture"
[ "${nrep:-0}" -gt 0 ] || die "$capture: no frame to replay"

la_args=(-q -i lo --stats 1)
[ "${cthreads:-1}" -gt 1 ] && la_args+=(--capture-threads "$cthreads")
[ -n "$buffer" ] && la_args+=(-B "$buffer")
[ -n "$snaplen" ] && la_args+=(-s "$snaplen")
[ -n "$immediate" ] && la_args+=(--immediate)

run_row() { [ -s "$1" ] && [ "$(sqlite3 "$1" "SELECT count(*) FROM runs WHERE status='running'" 2>/dev/null)" = 1 ]; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }

echo "replay: $(basename "$capture"): $npkts frames ($nrep replayed), looped onto lo, ${seconds} s a step" >&2
echo "replay: $("$LYNCAUDIT" --version | head -n 1); tcpreplay $(tcpreplay --version 2>&1 | awk 'NR==1 {print $3}'); $(nproc) CPUs ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo))" >&2
echo "replay: lyncaudit ${pin_capture[*]:-(not pinned)} ${la_args[*]} 'ether src $MARK_SRC'; tcpreplay ${pin_replay[*]:-(not pinned)}" >&2

echo "replay: load average $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine takes CPU from both programs)" >&2
printf '%-7s %9s %9s %9s %9s %9s %7s %8s %7s %7s %6s\n' rate sent "sent pps" lyncaudit "pcap recv" "pcap drop" "if drop" lost "CPU s" "us/pkt" flows
best="" failed="" also=""
hz=$(getconf CLK_TCK)
for rate in $rates; do
    db="$W/run-$rate.db"
    rm -f "$db" "$db-wal" "$db-shm"
    "${pin_capture[@]}" "$LYNCAUDIT" -d "$db" "${la_args[@]}" "ether src $MARK_SRC" >"$W/la-$rate.out" 2>"$W/la-$rate.err" &
    LAPID=$!
    for ((i = 0; i < 100; i++)); do run_row "$db" && break; sleep 0.1; done
    run_row "$db" || { cat "$W/la-$rate.err" >&2; die "lyncaudit did not start"; }
    sleep 0.5
    if [ "$rate" = top ]; then
        want=$((300000 * seconds)) # about what tcpreplay reaches on lo at full speed
        speed=(--topspeed)
    else
        want=$((rate * seconds))
        speed=(--pps "$rate")
    fi
    loops=$(((want + nrep - 1) / nrep))
    extra=()
    [ -n "$unique" ] && extra+=(--unique-ip)
    c0=$(cpu_ticks "$LAPID")
    "${pin_replay[@]}" tcpreplay -K --no-flow-stats -i lo "${speed[@]}" --loop "$loops" --limit "$want" \
        "${extra[@]}" "$W/replay.pcap" >"$W/tcpreplay-$rate.log" 2>&1 ||
        { tail -5 "$W/tcpreplay-$rate.log" >&2; die "tcpreplay failed at $rate pps"; }
    # Let lyncaudit drain its ring before it is stopped: until the run row
    # (committed every 2 s) has every frame sent, or has not moved for 3 s.
    sent=$(awk '/^Actual:/ {print $2}' "$W/tcpreplay-$rate.log")
    prev=-1 still=0
    for ((i = 0; i < 60 && still < 12; i++)); do
        sleep 0.25
        n=$(sqlite3 "$db" "SELECT packets FROM runs" 2>/dev/null || echo 0)
        [ "$n" -ge "$sent" ] && break
        if [ "$n" = "$prev" ]; then still=$((still + 1)); else still=0; fi
        prev=$n
    done
    c1=$(cpu_ticks "$LAPID")
    kill -INT "$LAPID"
    wait "$LAPID" || true
    LAPID=""
    spps=$(awk '/^Rated:/ {for (i = 1; i <= NF; i++) if ($i == "pps") print int($(i-1))}' "$W/tcpreplay-$rate.log")
    IFS='|' read -r got recv drop ifdrop flows < <(sqlite3 "$db" \
        "SELECT packets, pcap_received, pcap_dropped, pcap_ifdropped, flows FROM runs")
    lost=$((sent - got))
    cpu=$(awk -v a="$c0" -v b="$c1" -v hz="$hz" 'BEGIN { printf "%.2f", (b - a) / hz }')
    upp=$(awk -v c="$cpu" -v n="$got" 'BEGIN { printf "%.2f", n ? 1e6 * c / n : 0 }')
    printf '%-7s %9s %9s %9s %9s %9s %7s %8s %7s %7s %6s\n' "$rate" "$sent" "$spps" "$got" "$recv" "$drop" "$ifdrop" "$lost" "$cpu" "$upp" "$flows"
    # Sustained: every step up to it without loss; the first loss ends the range.
    if [ "$lost" -eq 0 ] && [ "$drop" -eq 0 ] && [ "$ifdrop" -eq 0 ]; then
        if [ -z "$failed" ]; then best="$spps pps (step $rate)"; else also="$also $spps"; fi
    else
        failed=1
    fi
done
echo "highest rate sustained with no loss: ${best:-none of the steps}${also:+ (after a step with loss, steps at$also pps had none: the load of the machine varies, run again)}"
echo "(pcap recv and pcap drop count every frame twice on lo: once going out, once coming in; libpcap discards the outgoing copy)"
