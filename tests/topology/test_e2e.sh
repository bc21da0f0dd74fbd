#!/usr/bin/env bash
# End to end: a topology imported from XML (tests/topology/e2e.tbxml, the Web
# Conferencing Edge moved to TCP 444), real TLS peers on loopback (socat,
# one client connection to 444 and one to the documented 443), captured with
# tcpdump and audited: the flow to 444 is `ok` under the rule the topology
# moved (its id names the port), the flow to 443 a port_range violation whose
# message says the topology moved the service to 444.
# Usage: test_e2e.sh LYNCAUDIT   (needs root for tcpdump; exit 77 = skipped)
set -euo pipefail
BIN=$1
HERE=$(cd "$(dirname "$0")" && pwd)
for p in tcpdump socat openssl sqlite3; do
    command -v $p >/dev/null || { echo "skip: $p missing"; exit 77; }
done
[ "$(id -u)" -eq 0 ] || { echo "skip: tcpdump needs root"; exit 77; }
T=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

"$BIN" topology import "$HERE/e2e.tbxml" -o "$T/topology.lua"
grep -q 'role = "edge_webconf", transport = "tcp", default = 443, port = 444' "$T/topology.lua" \
    || fail "the import has no 444 override"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=webconf.e2e.test \
    -keyout "$T/key.pem" -out "$T/cert.pem" 2>/dev/null
WEB=127.22.3.11
CLIENT=127.22.20.10
tcpdump -i lo -s 0 -U --immediate-mode -w "$T/cap.pcap" "net 127.22.0.0/16" 2>"$T/tcpdump.err" &
PIDS+=($!)
for i in $(seq 50); do [ -s "$T/cap.pcap" ] || grep -q listening "$T/tcpdump.err" && break; sleep 0.1; done
for port in 444 443; do
    socat OPENSSL-LISTEN:$port,bind=$WEB,reuseaddr,cert="$T/cert.pem",key="$T/key.pem",verify=0 SYSTEM:"echo psom-$port" &
    PIDS+=($!)
done
sleep 0.5
for port in 444 443; do
    out=$(timeout 10 socat -T 5 - OPENSSL:$WEB:$port,bind=$CLIENT,verify=0,snihost=webconf.e2e.test </dev/null || true)
    [ "$out" = "psom-$port" ] || fail "no TLS answer on $port ($out)"
done
sleep 0.5
kill -INT "${PIDS[0]}"; wait "${PIDS[0]}" 2>/dev/null || true

"$BIN" -q -t "$T/topology.lua" -d "$T/audit.db" "$T/cap.pcap" || [ $? -eq 1 ]
q() { sqlite3 -separator ' ' "$T/audit.db" "$1"; }
moved=$(q "SELECT verdict, rule_id FROM flows WHERE dst_ip = '$WEB' AND dst_port = 444")
echo "444: $moved"
[ "$moved" = "ok edge-ext.webconf-psom-443-in@topology:444" ] || fail "the flow to 444 is not ok under the moved rule"
note=$(q "SELECT note FROM rules WHERE id = 'edge-ext.webconf-psom-443-in@topology:444'")
case "$note" in *"from the topology"*"instead of the documented 443"*) ;; *) fail "rule note: $note" ;; esac
ref=$(q "SELECT doc || ' row ' || doc_row FROM rules WHERE id = 'edge-ext.webconf-psom-443-in@topology:444'")
[ "$ref" = "002_0c217b23fef43165.txt row 8" ] || fail "the moved rule lost its document reference ($ref)"
old=$(q "SELECT f.verdict, v.kind, v.rule_id LIKE '%@documented:443' FROM flows f JOIN violations v ON v.flow_id = f.id WHERE f.dst_ip = '$WEB' AND f.dst_port = 443")
echo "443: $old"
[ "$old" = "violation port_range 1" ] \
    || fail "the flow to the documented 443 is not the topology's port_range violation"
msg=$(q "SELECT v.message FROM flows f JOIN violations v ON v.flow_id = f.id WHERE f.dst_ip = '$WEB' AND f.dst_port = 443")
echo "443 message: $msg"
case "$msg" in *"the topology moves this service of edge_webconf from the documented tcp 443 to 444"*) ;;
    *) fail "the violation does not say the topology moved the port" ;; esac
echo "ok: 444 allowed by the moved rule, 443 a violation that names the topology's port"
