#!/usr/bin/env bash
# Peer-supplied text cannot forge app_detail keys (issue 20 J, issue 18).
# A real TLS handshake on loopback (openssl s_client to s_server on
# 127.31.0.1:5061, captured with tcpdump) whose ClientHello SNI holds quotes
# and `; sni=evil; subject=forged`, and whose certificate subject holds
# `; sni=evil2`, `=`, `,` and quotes. The run's flow must have:
#   1  app_detail valid JSON, json_extract($.sni) the SNI byte for byte
#   2  $.subject the certificate's subject text whole
#   3  one key `sni`, one `subject`, and no key the peer made up
#   4  EVE's lync.app_detail an object with the same sni
#   5  the Markdown report's readable detail with the SNI quoted as one
#      value; the JSON report's app_detail the object
# Usage: [KEEP=1] test_hostile_sni.sh LYNCAUDIT   (KEEP: leave the scratch folder)
# Exit: 0 passed, 1 a check failed, 77 skipped (not root, or a tool missing).
set -u
LA="$(realpath "$1")"
if [ "$(id -u)" != 0 ]; then
    echo "SKIP: needs root for tcpdump on lo"
    exit 77
fi
for t in tcpdump openssl sqlite3 python3 timeout; do
    command -v "$t" >/dev/null || { echo "SKIP: $t missing (scripts/install-deps.sh all)"; exit 77; }
done
T="$(mktemp -d)"
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do { kill "$p" && wait "$p"; } 2>/dev/null; done
    if [ -n "${KEEP:-}" ]; then echo "kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
cd "$T" || exit 1
passed=0
failed=0
check() { # check NAME GOT WANT
    if [ "$2" == "$3" ]; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL: $1: got [$2] want [$3]"; fi
}

SNI='x.example"; sni=evil; subject=forged'
SUBJECT='CN=srv; sni=evil2, O=a=b, "q"'
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout k.pem -out c.pem -days 2 \
    -subj '/CN=srv; sni=evil2/O=a=b, "q"' 2>req.err || { cat req.err; exit 1; }

tcpdump -i lo -s 0 -U -w tls.pcap 'host 127.31.0.1 and tcp port 5061' 2>tcpdump.err &
PIDS+=($!)
for _ in $(seq 50); do grep -q "listening on" tcpdump.err && break; sleep 0.1; done
timeout 20 openssl s_server -accept 127.31.0.1:5061 -cert c.pem -key k.pem -naccept 1 -quiet </dev/null >srv.out 2>&1 &
PIDS+=($!)
for _ in $(seq 50); do grep -q ":13BD " /proc/net/tcp 2>/dev/null && break; sleep 0.1; done
echo | timeout 10 openssl s_client -connect 127.31.0.1:5061 -servername "$SNI" -tls1_2 >cli.out 2>&1
sleep 1
kill "${PIDS[0]}" 2>/dev/null
wait "${PIDS[0]}" 2>/dev/null

cat >topo.lua <<'EOF'
return { name = "hostile-sni", roles = { pstn_gateway = { "127.0.0.1" }, edge_webconf = { "127.31.0.1" } } }
EOF
"$LA" -q -d a.db -t topo.lua --eve eve.json tls.pcap
rc=$?
[ $rc -le 1 ] || { echo "FAIL: lyncaudit exited $rc"; exit 1; }
q() { sqlite3 a.db "$1"; }
W="dst_port = 5061 AND dst_ip = '127.31.0.1'"
check "1: one TLS flow with JSON app_detail" "$(q "SELECT count(*), json_valid(app_detail) FROM flows WHERE $W")" "1|1"
check "1: \$.sni is the SNI byte for byte" "$(q "SELECT json_extract(app_detail, '\$.sni') FROM flows WHERE $W")" "$SNI"
check "2: \$.subject is the certificate's subject" \
    "$(q "SELECT json_extract(app_detail, '\$.subject') LIKE '%' || '$(printf %s "$SUBJECT" | sed "s/'/''/g")' || '%' FROM flows WHERE $W")" "1"
keys="$(q "SELECT group_concat(j.key, ',') FROM flows, json_each(flows.app_detail) j WHERE $W")"
check "3: sni once" "$(tr , '\n' <<<"$keys" | grep -cx sni)" "1"
check "3: subject once" "$(tr , '\n' <<<"$keys" | grep -cx subject)" "1"
check "3: no key outside the documented ones ($keys)" \
    "$(tr , '\n' <<<"$keys" | grep -cvxE 'port|tls_records|sni|subject|issuer|alpn|san|ndpi')" "0"
check "4: EVE lync.app_detail is an object with the SNI" "$(python3 - "$SNI" <<'EOF'
import json, sys
for line in open("eve.json"):
    e = json.loads(line)
    d = e.get("lync", {}).get("app_detail")
    if e.get("event_type") == "flow" and e.get("dest_port") == 5061:
        print(isinstance(d, dict) and d.get("sni") == sys.argv[1])
EOF
)" "True"
"$LA" report a.db --format md -o r.md 2>report.err || echo "report: $(cat report.err)"
# Markdown writes the JSON string's backslash as \\ (it renders as one).
check "5: the report quotes the SNI as one value" \
    "$(grep -cF '; sni="x.example\\"; sni=evil; subject=forged"; subject="CN=srv; sni=evil2' r.md)" "1"

"$LA" report a.db --format json -o r.json 2>report.err || echo "report: $(cat report.err)"
check "5: the JSON report carries app_detail as an object" "$(python3 - "$SNI" <<'EOF'
import json, sys
r = json.load(open("r.json"))
d = [f["app_detail"] for g in r["violation_groups"] for f in g["flows"] if f["dst_port"] == 5061]
print(len(d) == 1 and isinstance(d[0], dict) and d[0].get("sni") == sys.argv[1])
EOF
)" "True"

echo "hostile_sni: $passed passed, $failed failed"
[ $failed -eq 0 ]
