#!/usr/bin/env bash
# Live capture on loopback with real peers (issue 5).
#
# lyncaudit captures on `lo` while sipp, openssl and coturn talk to each other
# on the test's own 127.22.x.y addresses (other tests and programs use
# loopback at the same time: every capture filter is on 127.22.0.0/16 or a
# part of it). tcpdump captures the same traffic as the reference; lyncaudit
# reads that file afterwards and both runs must agree flow by flow.
#
#   1  SIGINT: run closed 'interrupted', every flow with the packet counts of
#      the reference, the expected verdicts, exit code as the verdicts imply
#   2  the database read with sqlite3 while the capture runs
#   3  SIGTERM mid-stream: integrity_check, run closed, nothing seen lost
#   4  --count / --duration bound a run; -D; -p -s 96 -B 4096 --immediate
#   5  SIGHUP reloads the topology; a broken one keeps the old
#   6  a second SIGINT exits at once (2), the database stays consistent
#   7  privilege drop to nobody; -Z nosuchuser; the rule sandbox after the drop
#   8  --max-flows 5: flows evicted
#   9  --evidence on the run of 1: the file is current during the capture (a
#      commit flushes it), and read back with tshark it holds exactly the
#      packets of the violating flows (tests/evidence/test_evidence.py check,
#      against tcpdump's file)
#  10  --capture-threads 2: a PACKET_FANOUT group, every flow whole on one
#      thread (both directions), counters summed, per-thread --stats
#
# Usage: test_live.sh LYNCAUDIT
# Exit: 0 all passed, 1 a check failed, 77 skipped (not root, or a tool missing).
set -u
[ $# -ge 1 ] || { echo "usage: $0 LYNCAUDIT" >&2; exit 2; }
LA="$(realpath "$1")"

if [ "$(id -u)" -ne 0 ]; then
    echo "SKIP: live capture on lo needs root"
    exit 77
fi
for t in tcpdump sipp openssl turnserver turnutils_uclient turnutils_peer sqlite3 python3 ss timeout; do
    command -v "$t" >/dev/null || { echo "SKIP: $t missing (scripts/install-deps.sh all)"; exit 77; }
done
NOBODY_UID="$(id -u nobody 2>/dev/null)" || { echo "SKIP: no user nobody"; exit 77; }

T0=$(date +%s)
W="$(mktemp -d /tmp/lyncaudit-live.XXXXXX)"
# lyncaudit drops to nobody: the topology it reloads on SIGHUP must be
# readable by nobody, so the folder is world-readable (not writable).
chmod 755 "$W"
PIDS=()

cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
    if [ "${KEEP:-0}" = 1 ]; then echo "work folder kept: $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pass=0
fail=0
ok() { pass=$((pass + 1)); echo "PASS: $*"; }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
check() { # description command... : passes when the command succeeds
    local what="$1"
    shift
    if "$@"; then ok "$what"; else bad "$what"; fi
}
eq() { # description got want
    if [ "$2" = "$3" ]; then ok "$1 ($2)"; else bad "$1: got '$2', wanted '$3'"; fi
}
q() { sqlite3 -batch -noheader "$1" "$2" 2>&1; }

# bg NAME CMD...: CMD in the background, output in $W/NAME.log, PID in $LAST.
bg() {
    local name=$1
    shift
    "$@" >"$W/$name.log" 2>&1 &
    LAST=$!
    PIDS+=("$LAST")
}
# stop PID...: end what this script started, by PID, and reap it.
stop() {
    local p
    for p in "$@"; do kill "$p" 2>/dev/null; done
    for p in "$@"; do wait "$p" 2>/dev/null; done
}
# wait_exit PID SECONDS: reaps PID if it exits in time; RC = its exit code,
# or 124 (and killed) when it did not.
wait_exit() {
    local p=$1 i
    for ((i = 0; i < $2 * 20; i++)); do
        kill -0 "$p" 2>/dev/null || break
        sleep 0.05
    done
    if kill -0 "$p" 2>/dev/null; then
        kill -9 "$p" 2>/dev/null
        wait "$p" 2>/dev/null
        RC=124
    else
        wait "$p"
        RC=$?
    fi
}
# wait_listen tcp|udp ADDR PORT
wait_listen() {
    local flag=t i
    [ "$1" = udp ] && flag=u
    for ((i = 0; i < 50; i++)); do
        [ -n "$(ss -Hln$flag "src $2:$3" 2>/dev/null)" ] && return 0
        sleep 0.1
    done
    echo "nothing listens on $1 $2:$3" >&2
    return 1
}
# wait_for SECONDS COMMAND...: until COMMAND succeeds (polled every 0.1 s).
wait_for() {
    local n=$(($1 * 10)) i
    shift
    for ((i = 0; i < n; i++)); do
        "$@" && return 0
        sleep 0.1
    done
    return 1
}
run_row_exists() { [ -s "$1" ] && [ "$(q "$1" "SELECT count(*) FROM runs WHERE status='running'" 2>/dev/null)" = 1 ]; }
# start_la NAME DB ARGS...: lyncaudit capturing in the background (output in
# $W/NAME.out and NAME.err); returns once its run row exists. PID in $LAPID.
start_la() {
    local name=$1 db=$2
    shift 2
    "$LA" -d "$db" "$@" >"$W/$name.out" 2>"$W/$name.err" &
    LAPID=$!
    PIDS+=("$LAPID")
    if ! wait_for 10 run_row_exists "$db"; then
        bad "$name: no run row within 10 s; stderr: $(head -c 300 "$W/$name.err")"
        return 1
    fi
}
integrity() { q "$1" "PRAGMA integrity_check"; }
# udp_send SRC DST DPORT COUNT [PAYLOAD_BYTES] [INTERVAL_S] [DISTINCT_SPORTS]
udp_send() {
    python3 - "$@" <<'EOF'
import socket, sys, time
src, dst, dport, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
size = int(sys.argv[5]) if len(sys.argv) > 5 else 100
gap = float(sys.argv[6]) if len(sys.argv) > 6 else 0.0
distinct = len(sys.argv) > 7 and sys.argv[7] == "1"
payload = b"x" * size
s = None
for i in range(count):
    if s is None or distinct:
        if s: s.close()
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((src, 0))
    s.sendto(payload, (dst, dport))
    if gap: time.sleep(gap)
EOF
}

TOPO="$W/topology.lua"
cat >"$TOPO" <<'EOF'
-- tests/live: every host is its own 127.22.x.y address.
return {
  name = "live-test",
  roles = {
    front_end       = { "127.22.1.10", "127.22.1.11", "127.22.50.10", "127.22.60.10" },
    edge_av         = { "127.22.3.10" },
    director        = { "127.22.6.10" },
    client_internal = { "127.22.10.0/24" },
    client_external = { "127.22.20.0/24" },
  },
  options = { sip_tcp_5060 = false, port_policy = "destination" },
}
EOF
chmod 644 "$TOPO"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj "/CN=sip.contoso.local" -keyout "$W/fe.key" -out "$W/fe.crt" 2>"$W/pki.log" ||
    { echo "FAIL: cannot make a certificate: $(cat "$W/pki.log")"; exit 1; }

LA_VERSION="$("$LA" --version 2>&1 | head -n 1)"
echo "# $LA_VERSION; work folder $W"

# ----------------------------------------------------------------------------
# 7 (part): -D lists lo; -Z nosuchuser fails before anything is written.
"$LA" -D >"$W/D.out" 2>"$W/D.err"
eq "-D exits 0" "$?" 0
check "-D lists lo" grep -qE '^[0-9]+\.lo( |$)' "$W/D.out"

timeout 10 "$LA" -q -i lo -d "$W/z.db" -Z nosuchuser 'net 127.22.99.0/24' >"$W/z.out" 2>"$W/z.err"
eq "-Z nosuchuser: exit 2" "$?" 2
check "-Z nosuchuser: message names the user ($(head -n 1 "$W/z.err"))" grep -q "nosuchuser.*no such user" "$W/z.err"
# docs/usage.md: bad arguments are found before the database is opened.
zr=$([ -s "$W/z.db" ] && q "$W/z.db" "SELECT count(*) FROM runs" || echo 0)
eq "-Z nosuchuser: no run written (a bad argument, found before the database)" "$zr" 0

# ----------------------------------------------------------------------------
# 1 + 7: real peers, SIGINT, compared with tcpdump's capture of the same traffic.
echo "# 1: real peers on lo, lyncaudit and tcpdump side by side"
DB1="$W/live.db"
bg tcpdump tcpdump -i lo -s 0 -U --immediate-mode -Z root -w "$W/ref.pcap" 'net 127.22.0.0/16'
TDPID=$LAST
wait_for 5 grep -q 'listening on' "$W/tcpdump.log" || bad "tcpdump did not start: $(cat "$W/tcpdump.log")"
EV1="$W/live-evidence.pcapng"
start_la main "$DB1" -q -i lo -t "$TOPO" --stats 1 --evidence "$EV1" 'net 127.22.0.0/16'
MAINPID=$LAPID
# root is dropped right after the run row is written
uid_is() { [ "$(awk '/^Uid:/ {print $2 "|" $3 "|" $4}' "/proc/$1/status" 2>/dev/null)" = "$2|$2|$2" ]; }
check "7: started as root, captures as nobody (real, effective and saved uid $NOBODY_UID)" wait_for 3 uid_is "$MAINPID" "$NOBODY_UID"
# ... with no capability left to gain back, and no_new_privs (issue 20, 5).
eq "7: capability bounding set empty" "$(awk '/^CapBnd:/ {print $2}' "/proc/$MAINPID/status")" 0000000000000000
eq "7: effective and permitted capabilities none" \
    "$(awk '/^CapEff:|^CapPrm:/ {printf "%s ", $2}' "/proc/$MAINPID/status")" "0000000000000000 0000000000000000 "
eq "7: no_new_privs set" "$(awk '/^NoNewPrivs:/ {print $2}' "/proc/$MAINPID/status")" 1

# F1: TLS client_internal -> front_end:5061 (openssl s_server / s_client).
bg tls-server openssl s_server -accept 127.22.1.10:5061 -cert "$W/fe.crt" -key "$W/fe.key" \
    -naccept 1 -rev -quiet -tls1_2
tls_srv=$LAST
wait_listen tcp 127.22.1.10 5061
{ printf 'OPTIONS sip:sip.contoso.local SIP/2.0\r\n\r\n'; sleep 0.3; } |
    timeout 10 openssl s_client -connect 127.22.1.10:5061 -bind 127.22.10.13:0 -servername sip.contoso.local \
        -quiet -no_ign_eof >"$W/tls-client.log" 2>&1 || bad "s_client failed: $(tail -n 3 "$W/tls-client.log")"
stop "$tls_srv"

# F2: cleartext SIP over TCP client_internal -> front_end:5060.
# F3: cleartext SIP over TCP client_internal -> front_end:5061 (TLS documented).
# F4: SIP over UDP client_internal -> front_end:5060.
# sip_call NAME t1|u1 CLIENT SERVER PORT: one call, sipp uac -> sipp uas.
# UAC_END: when the uac finished (its last packet); the uas is reaped after.
sip_call() {
    local uas
    bg "$1-uas" sipp -sn uas -t "$2" -i "$4" -p "$5" -m 1 -nostdin -max_socket 100
    uas=$LAST
    wait_listen "$([ "$2" = u1 ] && echo udp || echo tcp)" "$4" "$5"
    timeout 10 sipp -sn uac -t "$2" -i "$3" "$4:$5" -m 1 -nostdin -max_socket 100 >"$W/$1-uac.log" 2>&1 ||
        bad "$1: sipp uac failed"
    UAC_END=$(date +%s.%N)
    wait_exit "$uas" 5
}
sip_call sip-tcp-5060 t1 127.22.10.12 127.22.1.10 5060
sip_call sip-tcp-5061 t1 127.22.10.12 127.22.1.11 5061
sip_call sip-udp-5060 u1 127.22.10.11 127.22.1.10 5060

# F5: TURN over UDP client_external -> edge_av:3478, relayed to a peer on 3478.
bg turnserver turnserver -n --realm contoso.com --lt-cred-mech --user alice:lync2013 --no-tls --no-dtls \
    --no-cli --allow-loopback-peers --listening-ip 127.22.3.10 --relay-ip 127.22.3.10 --simple-log \
    --no-stdout-log --listening-port 3478 --min-port 50000 --max-port 50019 \
    --userdb "$W/turndb" --pidfile "$W/turn.pid" --log-file "$W/turnserver.txt"
turn=$LAST
bg turn-peer turnutils_peer -L 127.22.20.20 -p 3478
peer=$LAST
wait_listen udp 127.22.3.10 3478 && wait_listen udp 127.22.20.20 3478
timeout 20 turnutils_uclient -L 127.22.20.10 -u alice -w lync2013 -e 127.22.20.20 -r 3478 \
    -n 5 -m 1 -l 160 -c 127.22.3.10 >"$W/turn-client.log" 2>&1 || bad "turnutils_uclient failed"
stop "$turn" "$peer"
sleep 1.2 # a --stats line or more with everything in it
# 9: the evidence is flushed at each commit: cleartext SIP to the Front End
# (violations decided on their first packets) is in the file already.
if command -v tshark >/dev/null; then
    n_live=$(tshark -r "$EV1" -Y 'frame.comment contains "no_rule"' 2>/dev/null | wc -l)
    check "9: the evidence file holds commented violating flows during the capture ($n_live)" [ "$n_live" -ge 1 ]
fi

kill -INT "$MAINPID"
wait_exit "$MAINPID" 15
main_rc=$RC
sleep 0.3
stop "$TDPID"

st=$(q "$DB1" "SELECT status, finished_at IS NOT NULL, message FROM runs")
eq "1: run closed after SIGINT" "$st" "interrupted|1|stopped by signal"
viol=$(q "$DB1" "SELECT violations FROM runs")
want_rc=$([ "${viol:-0}" -gt 0 ] && echo 1 || echo 0)
eq "1: exit code as the verdicts imply ($viol violations)" "$main_rc" "$want_rc"
eq "1: violations found (cleartext SIP to the Front End)" "$want_rc" 1
nstats=$(grep -c 'received [0-9]*, dropped [0-9]* by the kernel' "$W/main.err")
check "1: --stats 1 printed status lines ($nstats)" [ "$nstats" -ge 3 ]
eq "1: pcap_dropped, pcap_ifdropped" "$(q "$DB1" "SELECT pcap_dropped, pcap_ifdropped FROM runs")" "0|0"
check "1: pcap_received >= packets ($(q "$DB1" "SELECT pcap_received, packets FROM runs"))" \
    [ "$(q "$DB1" "SELECT pcap_received >= packets AND packets > 0 FROM runs")" = 1 ]

# The reference: lyncaudit reads tcpdump's file (no idle timeout: one flow per
# connection or 5-tuple, as the live run that ended by SIGINT).
"$LA" -q -d "$W/ref.db" -t "$TOPO" --idle-timeout 0 "$W/ref.pcap" >/dev/null 2>"$W/ref.err"
ref_rc=$?
eq "1: reference run exit code = live run's" "$ref_rc" "$main_rc"
eq "1: packets live = packets in tcpdump's file" "$(q "$DB1" "SELECT packets, bytes FROM runs")" \
    "$(q "$W/ref.db" "SELECT packets, bytes FROM runs")"
eq "1: runs.packets = packets of the flows + ICMP errors + undecodable" "$(q "$DB1" "SELECT packets FROM runs")" \
    "$(q "$DB1" "SELECT sum(packets_src2dst + packets_dst2src) + (SELECT undecodable + icmp_errors FROM runs) FROM flows")"
COLS="transport, src_ip, src_port, dst_ip, dst_port, packets_src2dst, packets_dst2src, bytes_src2dst, bytes_dst2src, app, src_role, dst_role, verdict, coalesce(rule_id,'-')"
only_live=$(q "$DB1" "ATTACH '$W/ref.db' AS r; SELECT $COLS FROM main.flows EXCEPT SELECT $COLS FROM r.flows")
only_ref=$(q "$DB1" "ATTACH '$W/ref.db' AS r; SELECT $COLS FROM r.flows EXCEPT SELECT $COLS FROM main.flows")
nlive=$(q "$DB1" "SELECT count(*) FROM flows")
eq "1: flows live = flows in the reference" "$nlive" "$(q "$W/ref.db" "SELECT count(*) FROM flows")"
if [ -z "$only_live$only_ref" ] && [ "$nlive" -gt 0 ]; then
    ok "1: every flow identical to the reference: 5-tuple, packets and bytes per direction, label, roles, verdict, rule"
else
    bad "1: flows differ from the reference; only live: [$only_live] only reference: [$only_ref]"
fi
if command -v tshark >/dev/null; then
    # tshark's conversations of the same file: packets per direction.
    tshark -r "$W/ref.pcap" -q -z conv,tcp -z conv,udp 2>/dev/null |
        # A:port <-> B:port  frames(B->A) bytes "bytes"  frames(A->B) bytes "bytes" ...
        awk '$2 == "<->" { split($1, a, ":"); split($3, b, ":"); print a[1], a[2], b[1], b[2], $7, $4 }' |
        sort >"$W/tshark.conv"
    q "$DB1" "SELECT src_ip, src_port, dst_ip, dst_port, packets_src2dst, packets_dst2src FROM flows WHERE transport IN ('tcp','udp')" |
        tr '|' ' ' | while read -r a ap b bp n1 n2; do
            # tshark names the conversation in either order
            if grep -qx "$a $ap $b $bp $n1 $n2" "$W/tshark.conv" || grep -qx "$b $bp $a $ap $n2 $n1" "$W/tshark.conv"; then :; else
                echo "$a:$ap $b:$bp $n1 $n2"
            fi
        done >"$W/tshark.diff"
    eq "1: tshark -z conv: same conversations and packet counts ($(wc -l <"$W/tshark.conv") conversations)" \
        "$(wc -l <"$W/tshark.conv")/$(cat "$W/tshark.diff")" "$(q "$DB1" "SELECT count(*) FROM flows WHERE transport IN ('tcp','udp')")/"
fi

flow() { # WHERE -> "app|verdict|rule|kinds"
    q "$DB1" "SELECT app, verdict, coalesce(rule_id,'-'),
              (SELECT coalesce(group_concat(kind), '-') FROM violations v WHERE v.flow_id = f.id)
              FROM flows f WHERE $1"
}
eq "1: TLS client_internal -> front_end:5061 is ok" \
    "$(flow "dst_ip='127.22.1.10' AND dst_port=5061 AND src_ip='127.22.10.13'")" "sip_tls|ok|srv.fe.sip-tls-5061|-"
eq "1: cleartext SIP/TCP -> front_end:5060 is no_rule" \
    "$(flow "transport='tcp' AND dst_ip='127.22.1.10' AND dst_port=5060")" "sip|violation|-|no_rule"
eq "1: cleartext SIP/TCP -> front_end:5061 is wrong_protocol" \
    "$(flow "transport='tcp' AND dst_ip='127.22.1.11' AND dst_port=5061")" "sip|violation|-|wrong_protocol"
eq "1: SIP/UDP -> front_end:5060 is no_rule" \
    "$(flow "transport='udp' AND dst_ip='127.22.1.10' AND dst_port=5060")" "sip|violation|-|no_rule"
turn_flows=$(q "$DB1" "SELECT count(*), sum(verdict='ok'), group_concat(DISTINCT app) FROM flows
                       WHERE transport='udp' AND dst_ip='127.22.3.10' AND dst_port=3478 AND src_ip='127.22.20.10'")
check "1: TURN client_external -> edge_av:3478 flows all ok ($turn_flows)" \
    awk -F'|' -v s="$turn_flows" 'BEGIN { split(s, a, "|"); exit !(a[1] > 0 && a[1] == a[2] && a[3] == "stun") }'
relay=$(q "$DB1" "SELECT count(*), sum(verdict='ok') FROM flows
                  WHERE transport='udp' AND src_ip='127.22.3.10' AND dst_ip='127.22.20.20' AND dst_port=3478")
check "1: TURN relay edge_av -> peer:3478 flows all ok ($relay)" \
    awk -v s="$relay" 'BEGIN { split(s, a, "|"); exit !(a[1] > 0 && a[1] == a[2]) }'
# 9: the evidence file, read back with tshark against tcpdump's capture of
# the same traffic (the same bytes; times from two capture sockets).
if command -v tshark >/dev/null; then
    EVT="$(dirname "$0")/../evidence/test_evidence.py"
    python3 "$EVT" check "$DB1" "$EV1" "$W/ref.pcap" --md5-only --slack-ms 500 >"$W/evidence.log" 2>&1
    ev_rc=$?
    check "9: --evidence: $(tail -n 1 "$W/evidence.log")" [ "$ev_rc" -eq 0 ]
    grep FAIL "$W/evidence.log" | head -n 5
    eq "9: flows.evidence: every violating flow complete, no other" \
        "$(q "$DB1" "SELECT count(*) FROM flows WHERE (verdict = 'violation') != (evidence IS 'complete')")" 0
fi
# 7: the rules ran in their sandbox after the drop to nobody.
check "7: verdicts after the privilege drop ($(q "$DB1" "SELECT rules_loaded FROM runs") rules loaded)" \
    [ "$(q "$DB1" "SELECT count(DISTINCT verdict) FROM flows WHERE verdict IN ('ok','violation')")" = 2 ]

# ----------------------------------------------------------------------------
# 5 + 2 + 7: SIGHUP reload, reading the database during the capture, the
# privilege-drop message (a run without -q).
echo "# 5: SIGHUP reload, and readers during the capture"
TOPO5="$W/topology5.lua"
cp "$TOPO" "$TOPO5"
chmod 644 "$TOPO5"
DB5="$W/hup.db"
start_la hup "$DB5" -i lo -t "$TOPO5" --idle-timeout 1 'net 127.22.50.0/24 or net 127.22.11.0/24'
HUPPID=$LAPID
check "7: stderr says it captures as nobody ($(grep -m1 'as user' "$W/hup.err"))" \
    wait_for 3 grep -q "capturing as user nobody" "$W/hup.err"

flow_seen() { [ "$(q "$DB5" "SELECT count(*) FROM flows WHERE src_ip='$1'" 2>/dev/null)" = 1 ]; }
# call N: one SIP/UDP call from 127.22.11.N to 127.22.50.10:5060, then waits
# until the flow is in the database; SEEN = seconds from the call's end.
call() {
    local uas t1
    bg "hup$1-uas" sipp -sn uas -t u1 -i 127.22.50.10 -p 5060 -m 1 -nostdin -max_socket 100
    uas=$LAST
    wait_listen udp 127.22.50.10 5060
    timeout 10 sipp -sn uac -t u1 -i "127.22.11.$1" 127.22.50.10:5060 -m 1 -nostdin -max_socket 100 \
        >"$W/hup$1-uac.log" 2>&1 || bad "hup$1: sipp uac failed"
    UAC_END=$(date +%s.%N)
    wait_for 8 flow_seen "127.22.11.$1"
    t1=$(date +%s.%N)
    SEEN=$(awk -v a="$UAC_END" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
    wait_exit "$uas" 5
}
call 1
# 2: the idle timeout (1 s) ends the flow, the next commit (every 2 s) shows it.
check "2: a flow appears to a reader while the capture runs, ${SEEN} s after its last packet (idle 1 s + commit <= 2 s)" \
    awk -v s="$SEEN" 'BEGIN { exit !(s > 0.5 && s <= 4.0) }'
check "2: the run row is current while it runs ($(q "$DB5" "SELECT status, packets, flows FROM runs"))" \
    [ "$(q "$DB5" "SELECT status = 'running' AND packets > 0 AND flows = 1 FROM runs")" = 1 ]
eq "5: before the reload, 127.22.50.10 is front_end" "$(q "$DB5" "SELECT dst_role FROM flows WHERE src_ip='127.22.11.1'")" front_end

sed -i 's/"127.22.1.11", "127.22.50.10",/"127.22.1.11",/; s/director        = { "127.22.6.10" }/director        = { "127.22.6.10", "127.22.50.10" }/' "$TOPO5"
grep -q '"127.22.6.10", "127.22.50.10"' "$TOPO5" || bad "5: could not edit the topology"
kill -HUP "$HUPPID"
check "5: SIGHUP: stderr says reloaded" wait_for 5 grep -q "reloaded the topology" "$W/hup.err"
call 2
eq "5: after the reload, 127.22.50.10 is director" "$(q "$DB5" "SELECT dst_role FROM flows WHERE src_ip='127.22.11.2'")" director

printf 'return { roles = { front_end = { "127.22.50.10" }\n' >"$TOPO5" # broken: '}' expected
kill -HUP "$HUPPID"
check "5: broken topology on SIGHUP: stderr says so and keeps the old ($(grep -m1 'topology5.lua:' "$W/hup.err"))" \
    wait_for 5 grep -q "reload failed; keeping" "$W/hup.err"
check "5: the run goes on after a failed reload" kill -0 "$HUPPID"
call 3
eq "5: after the failed reload, still the reloaded topology (director)" \
    "$(q "$DB5" "SELECT dst_role FROM flows WHERE src_ip='127.22.11.3'")" director
kill -INT "$HUPPID"
wait_exit "$HUPPID" 10
eq "5: exit 1 (violations), status interrupted, 3 flows" "$RC|$(q "$DB5" "SELECT status, flows FROM runs")" "1|interrupted|3"
grep -q 'capturing on lo' "$W/hup.err" || bad "5: stderr lacks 'capturing on lo'"

# ----------------------------------------------------------------------------
# 3: SIGTERM while the traffic still flows.
echo "# 3: SIGTERM mid-stream"
DB3="$W/term.db"
start_la term "$DB3" -q -i lo -t "$TOPO" 'net 127.22.60.0/24 or net 127.22.12.0/24'
TERMPID=$LAPID
bg term-uas sipp -sn uas -t u1 -i 127.22.60.10 -p 5060 -nostdin -max_socket 1000
tuas=$LAST
bg term-tcp-uas sipp -sn uas -t t1 -i 127.22.60.10 -p 5062 -nostdin -max_socket 1000
ttuas=$LAST
wait_listen udp 127.22.60.10 5060 && wait_listen tcp 127.22.60.10 5062
# many calls, one socket per call (-t un / tn): new flows all the time, 10 s at most
bg term-uac timeout 10 sipp -sn uac -t un -i 127.22.12.10 127.22.60.10:5060 -r 40 -m 400 -nostdin -max_socket 1000
tuac=$LAST
bg term-tcp-uac timeout 10 sipp -sn uac -t tn -i 127.22.12.11 127.22.60.10:5062 -r 20 -m 200 -nostdin -max_socket 1000
ttuac=$LAST
bg term-udp timeout 10 python3 -c '
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.22.12.12", 0))
for i in range(2000):
    s.sendto(b"m" * 172, ("127.22.60.10", 57600)); time.sleep(0.004)'
tudp=$LAST
sleep 2.5
kill -0 "$tuac" 2>/dev/null && kill -0 "$tudp" 2>/dev/null && ok "3: traffic still flowing at SIGTERM" ||
    bad "3: the traffic ended before SIGTERM"
kill -TERM "$TERMPID"
wait_exit "$TERMPID" 15
term_rc=$RC
stop "$tuac" "$ttuac" "$tudp" "$tuas" "$ttuas"
tv=$(q "$DB3" "SELECT violations FROM runs")
eq "3: exit code after SIGTERM as the verdicts imply ($tv violations)" "$term_rc" "$([ "${tv:-0}" -gt 0 ] && echo 1 || echo 0)"
eq "3: integrity_check" "$(integrity "$DB3")" ok
eq "3: run closed" "$(q "$DB3" "SELECT status, finished_at IS NOT NULL FROM runs")" "interrupted|1"
eq "3: runs.flows = rows in flows" "$(q "$DB3" "SELECT flows FROM runs")" "$(q "$DB3" "SELECT count(*) FROM flows")"
# docs/schema.md: packets = the flows' packets + icmp_errors + undecodable
eq "3: runs.packets = packets of the flows + ICMP errors + undecodable" "$(q "$DB3" "SELECT packets FROM runs")" \
    "$(q "$DB3" "SELECT sum(packets_src2dst + packets_dst2src) + (SELECT undecodable + icmp_errors FROM runs) FROM flows")"
eq "3: runs.violations = rows in violations" "$(q "$DB3" "SELECT violations FROM runs")" "$(q "$DB3" "SELECT count(*) FROM violations")"
check "3: live flows written at the stop ($(q "$DB3" "SELECT count(*), sum(end_reason='end') FROM flows"))" \
    [ "$(q "$DB3" "SELECT sum(end_reason='end') > 0 AND count(*) > 20 FROM flows")" = 1 ]
eq "3: the media stream is one flow, ok (57600 media range)" \
    "$(q "$DB3" "SELECT count(*), min(verdict) FROM flows WHERE dst_port=57600")" "1|ok"

# ----------------------------------------------------------------------------
# 4: --count, --duration; -p -s 96 -B 4096 --immediate.
echo "# 4: bounded runs and capture options"
DB4="$W/count.db"
start_la count "$DB4" -i lo -p -s 96 -B 4096 --immediate --count 20 'udp and net 127.22.70.0/24'
CNTPID=$LAPID
udp_send 127.22.70.1 127.22.70.2 7000 100 200 0.01 # 1 s
wait_exit "$CNTPID" 8
eq "4: --count 20 ends the run by itself, exit 3 (no topology: nothing audited)" "$RC" 3
eq "4: -s 96 is warned about (issue 17)" \
    "$(grep -c '^lyncaudit: lo: snapshot length 96 is below 512 bytes: payloads are cut' "$W/count.err")" 1
eq "4: nothing audited is said in one line" "$(grep -cE '^lyncaudit: nothing audited: none of the [0-9]+ flows' "$W/count.err")" 1
# 200 bytes of payload: 14 + 20 + 8 + 200 = 242 bytes on the wire, more than -s 96
eq "4: --count 20 -s 96: status stopped, 20 packets, wire bytes 20 x 242" \
    "$(q "$DB4" "SELECT status, packets, bytes, finished_at IS NOT NULL FROM runs")" "stopped|20|4840|1"
eq "4: --count 20: the bound in the message" "$(q "$DB4" "SELECT message FROM runs")" \
    "--count 20 reached before the end of the input"
eq "4: -s 96: flow bytes are wire lengths" "$(q "$DB4" "SELECT sum(bytes_src2dst + bytes_dst2src), sum(packets_src2dst + packets_dst2src) FROM flows")" "4840|20"

DB4b="$W/duration.db"
t_start=$(date +%s.%N)
start_la duration "$DB4b" -q -i lo --duration 2 'net 127.22.71.0/24'
wait_exit "$LAPID" 8
t_end=$(date +%s.%N)
eq "4: --duration 2 ends the run by itself, exit 3 (no topology)" "$RC" 3
el=$(awk -v a="$t_start" -v b="$t_end" 'BEGIN { printf "%.1f", b - a }')
check "4: --duration 2 took ${el} s" awk -v e="$el" 'BEGIN { exit !(e >= 2.0 && e < 4.5) }'
eq "4: --duration: status stopped, the bound in the message" "$(q "$DB4b" "SELECT status, message FROM runs")" \
    "stopped|--duration 2 reached before the end of the input"

# Aggregates during a live capture (issue 17): a UDP flow from an internal
# client to a Front End ends by --idle-timeout 1; after the next 2 s commit,
# while the capture still runs, role_stats has its row and the rule that
# judged it (allowing it, or the one it broke) counts the match.
DBA="$W/aggregates.db"
start_la aggregates "$DBA" -q -i lo -t "$TOPO" --idle-timeout 1 'host 127.22.10.21'
AGGPID=$LAPID
udp_send 127.22.10.21 127.22.1.10 5060 3 40 0.01
sleep 4.5 # idle 1 s, then a commit (every 2 s) with the flow in it
eq "17: role_stats current during the capture" \
    "$(q "$DBA" "SELECT src_role, dst_role, transport, dst_port, flows FROM role_stats")" \
    "client_internal|front_end|udp|5060|1"
rule=$(q "$DBA" "SELECT coalesce(f.rule_id, v.rule_id, '') FROM flows f LEFT JOIN violations v ON v.flow_id = f.id")
check "17: the flow was judged by a rule ($rule)" [ -n "$rule" ]
eq "17: its match counted during the capture" "$(q "$DBA" "SELECT matched FROM rules WHERE id = '$rule'")" 1
check "17: still capturing" kill -0 "$AGGPID"
kill -INT "$AGGPID"
wait_exit "$AGGPID" 8
eq "17: after the end the counts are not doubled" \
    "$(q "$DBA" "SELECT (SELECT sum(flows) FROM role_stats) || '|' || (SELECT matched FROM rules WHERE id = '$rule')")" "1|1"

# Another writer holds the database for 8 s (issue 17): the live capture
# goes on, holds the flows that end meanwhile, and writes them once the lock
# is let go; with --backlog 2, of 5 such flows the 3 oldest are dropped and
# counted.
live_lock() { # name backlog
    local db="$W/$1.db"
    start_la "$1" "$db" -q -i lo -t "$TOPO" --idle-timeout 1 --backlog "$2" 'net 127.22.73.0/24'
    local la=$LAPID
    python3 - "$db" "$W/$1.locked" <<'PY' &
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
c.execute("BEGIN IMMEDIATE")
open(sys.argv[2], "w").close()
time.sleep(8)
c.execute("ROLLBACK")
PY
    local holder=$!
    wait_for 5 test -e "$W/$1.locked"
    for i in 1 2 3 4 5; do udp_send 127.22.73.$i 127.22.73.100 7200 2 30; sleep 0.6; done
    check "$1: still capturing under the lock" kill -0 "$la"
    wait "$holder"
    sleep 3 # the next commit writes what was held
    eq "$1: flows written after the lock" "$(q "$db" "SELECT count(*) FROM flows")" "$3"
    kill -INT "$la"
    wait_exit "$la" 8
    eq "$1: run closed, dropped flows counted" \
        "$(q "$db" "SELECT status, flows, flows_dropped FROM runs")" "interrupted|$3|$((5 - $3))"
}
live_lock lock-backlog 65536 5
live_lock lock-overflow 2 2
grep -q "3 flows dropped: the database stayed locked or unreachable longer than --backlog 2 lasted" "$W/lock-overflow.err" &&
    ok "lock-overflow: the drop is said on stderr" || bad "lock-overflow: stderr: $(head -c 300 "$W/lock-overflow.err")"

# SIGPIPE (issue 20, F): the --stats lines go to a pipe whose reader quits
# after 3 lines; the capture goes on, and a SIGINT closes it as usual.
DBP="$W/sigpipe.db"
( "$LA" -d "$DBP" -q -i lo --stats 1 'net 127.22.72.0/24' 2>&1 >/dev/null & echo $! >"$W/sigpipe.pid"; wait ) |
    head -3 >"$W/sigpipe.head" &
PIPEJOB=$!
wait_for 10 run_row_exists "$DBP" || bad "sigpipe: no run row"
PPID_LA=$(cat "$W/sigpipe.pid")
PIDS+=("$PPID_LA")
three_lines() { [ "$(wc -l <"$W/sigpipe.head")" -ge 3 ]; }
wait_for 8 three_lines || bad "sigpipe: head did not get 3 lines"
sleep 1.5 # more --stats lines, now into a closed pipe
udp_send 127.22.72.1 127.22.72.2 7100 20 50 0.01
check "sigpipe: lyncaudit still runs after its stderr reader quit" kill -0 "$PPID_LA"
kill -INT "$PPID_LA" 2>/dev/null
wait_exit "$PPID_LA" 8
wait "$PIPEJOB" 2>/dev/null
eq "sigpipe: the run closed as interrupted, flows written" \
    "$(q "$DBP" "SELECT status, finished_at IS NOT NULL, flows > 0 FROM runs")" "interrupted|1|1"

# ----------------------------------------------------------------------------
# 8: --max-flows 5 with many short UDP flows.
echo "# 8: --max-flows"
DB8="$W/maxflows.db"
start_la maxflows "$DB8" -q -i lo --max-flows 5 'udp and net 127.22.80.0/24'
MFPID=$LAPID
# 40 flows of 2 datagrams each (a new socket, so a new source port, per flow)
python3 -c '
import socket, time
for i in range(40):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.22.80.1", 0))
    for j in range(2):
        s.sendto(b"f" * 50, ("127.22.80.2", 9000))
    s.close(); time.sleep(0.005)'
sleep 0.5
kill -INT "$MFPID"
wait_exit "$MFPID" 10
eq "8: --max-flows run: exit 3 (no topology)" "$RC" 3
mf=$(q "$DB8" "SELECT flows, flows_evicted, (SELECT count(*) FROM flows WHERE end_reason='evicted'), (SELECT sum(packets_src2dst) FROM flows) FROM runs")
check "8: --max-flows 5: flows_evicted > 0 ($mf: flows|evicted|rows evicted|packets)" \
    awk -v s="$mf" 'BEGIN { split(s, a, "|"); exit !(a[1] == 40 && a[2] >= 35 && a[2] == a[3] && a[4] == 80) }'

# ----------------------------------------------------------------------------
# 6: a second SIGINT while the first one's clean end is still writing.
echo "# 6: second SIGINT"
DB6="$W/twice.db"
start_la twice "$DB6" -q -i lo -B 65536 --max-flows 0 'udp and net 127.22.90.0/24'
TWPID=$LAPID
# Many live flows (one per source port) make the clean end long enough to
# interrupt: every one is classified, audited and written.
python3 -c '
import socket
socks = []
for i in range(20000):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.22.90.1", 0))
    s.sendto(b"q" * 40, ("127.22.90.2", 9000)); s.close()'
sleep 1
kill -INT "$TWPID"
sleep 0.03 # the clean end of ~14,000 flows takes ~0.3 s here
kill -INT "$TWPID"
wait_exit "$TWPID" 10
eq "6: second SIGINT: exit 2$([ "$RC" = 0 ] && echo " (0: the clean end finished before the second signal came)")" "$RC" 2
check "6: stderr says so ($(tail -n 1 "$W/twice.err"))" grep -q "second signal: exiting at once" "$W/twice.err"
eq "6: integrity_check after the second SIGINT" "$(integrity "$DB6")" ok
eq "6: the run row is still there, not closed" "$(q "$DB6" "SELECT count(*), status, finished_at IS NULL FROM runs")" "1|running|1"

# ----------------------------------------------------------------------------
# 9: --capture-threads 2 (issue 15): two handles in one fanout group. 200 UDP
# exchanges, each from its own port, two requests and two answers: every
# flow must be read whole by one thread (the kernel's flow hash is the same
# both ways), so 200 rows of 2+2 packets, no half flows.
echo "# 9: --capture-threads"
eq "9: --capture-threads without -i is refused" \
    "$("$LA" -q -d "$W/no.db" --capture-threads 2 "$TOPO" 2>&1 >/dev/null; echo "rc=$?")" \
    "lyncaudit: --capture-threads is for a live capture (-i IFACE)
rc=2"
DB9="$W/fanout.db"
start_la fanout "$DB9" -q -i lo --capture-threads 2 --stats 1 'udp and net 127.22.85.0/24'
FOPID=$LAPID
python3 -c '
import socket
srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); srv.bind(("127.22.85.2", 9000))
keep = []
for i in range(200):
    c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); c.bind(("127.22.85.1", 0))
    for j in range(2):
        c.sendto(b"r" * 60, ("127.22.85.2", 9000))
        data, peer = srv.recvfrom(100)
        srv.sendto(b"a" * 60, peer)
        c.recvfrom(100)
    keep.append(c)  # kept open: a closed port could be handed out again (one flow of 8)
for c in keep: c.close()'
sleep 1.5
kill -INT "$FOPID"
wait_exit "$FOPID" 10
eq "9: fanout run: exit 3 (no topology)" "$RC" 3
eq "9: packets and flows summed over the threads, run closed" \
    "$(q "$DB9" "SELECT packets, flows, status, pcap_dropped FROM runs")" "800|200|interrupted|0"
eq "9: every flow whole on one thread (200 rows of 2+2 packets, 200 distinct ports)" \
    "$(q "$DB9" "SELECT count(*), count(DISTINCT src_port), min(packets_src2dst), max(packets_src2dst), min(packets_dst2src), max(packets_dst2src) FROM flows")" \
    "200|200|2|2|2|2"
check "9: libpcap's counters summed (pcap_received $(q "$DB9" "SELECT pcap_received FROM runs") >= 1600: lo shows each frame twice)" \
    [ "$(q "$DB9" "SELECT pcap_received >= 1600 FROM runs")" = 1 ]
last=$(grep "thread 1:" "$W/fanout.err" | tail -n 1)
check "9: --stats per thread, both threads read packets ($last)" \
    awk -v s="$last" 'BEGIN { n = split(s, a, "thread "); if (n < 3) exit 1;
        for (i = 2; i <= n; i++) { split(a[i], b, " "); if (b[2] + 0 <= 0) exit 1 } }'

echo "# $(($(date +%s) - T0)) s"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
